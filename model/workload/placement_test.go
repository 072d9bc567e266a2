package workload

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/sim"
)

var updateTraceDigest = flag.Bool("update-trace-digest", false, "rewrite testdata/alibaba-full.placements.sha256")

// TestAlibabaTracePlacementsDigest replays the whole Alibaba GPU v2023 trace as
// BenchmarkReplayAlibabaTrace does and compares the SHA-256 of every binding (pod,
// node, virtual time; sorted) with testdata/alibaba-full.placements.sha256, so
// performance work on the scheduler (NodeResourcesFit's extended resources, GPU
// shares, image and topology lookups) provably keeps the placements of a real,
// heterogeneous workload. Only the digest is committed: the trace itself may not
// be. Skipped when the trace files are absent or with -short.
func TestAlibabaTracePlacementsDigest(t *testing.T) {
	if testing.Short() {
		t.Skip("whole-trace replay: skipped with -short")
	}
	nf, err := os.Open(filepath.Join(traceDir, "alibaba-gpu-v2023-openb_node_list_all_node.csv"))
	if err != nil {
		t.Skipf("trace not present (set KUBESIM_TRACES): %v", err)
	}
	nodes, err := LoadAlibabaNodes(nf)
	nf.Close()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := os.Open(filepath.Join(traceDir, "alibaba-gpu-v2023-openb_pod_list_default.csv"))
	if err != nil {
		t.Skipf("trace not present (set KUBESIM_TRACES): %v", err)
	}
	pods, err := LoadAlibabaPods(pf)
	pf.Close()
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, 1, true)
	s.addKubelets(t, nodes, time.Hour)
	opts := DefaultReplayOptions()
	opts.TimeScale = 1000
	opts.Start = 10 * time.Second
	rp, err := NewReplay(s.eng, s.srv.Client("replay", 0, 0), pods, opts, s.tel)
	if err != nil {
		t.Fatal(err)
	}
	rp.Start()
	s.eng.RunUntil(rp.LastArrival() + sim.Time(24*time.Hour/1000) + sim.Time(time.Hour))
	var lines []string
	for _, r := range s.tel.records {
		if r.Component != "scheduler" || r.Action != "bound" {
			continue
		}
		node, _, ok := strings.Cut(strings.TrimPrefix(r.Detail, "binding to "), " accepted")
		if !ok {
			t.Fatalf("unexpected bound record %q", r.Detail)
		}
		lines = append(lines, fmt.Sprintf("%s %s %d", r.Object, node, r.Time))
	}
	if len(lines) == 0 {
		t.Fatal("no binding recorded")
	}
	sort.Strings(lines)
	got := fmt.Sprintf("%x %d\n", sha256.Sum256([]byte(strings.Join(lines, "\n"))), len(lines))
	golden := filepath.Join("testdata", "alibaba-full.placements.sha256")
	if *updateTraceDigest {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-trace-digest to create it)", err)
	}
	if string(want) != got {
		t.Fatalf("placements of the whole trace changed: digest and bindings %q, want %q", strings.TrimSpace(got), strings.TrimSpace(string(want)))
	}
}
