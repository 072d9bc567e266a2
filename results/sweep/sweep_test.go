package sweep

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want string // segments rendered, or "error"
	}{
		{"cluster.nodes[0].count", "cluster nodes [0] count"},
		{"cluster.proxy.mode", "cluster proxy mode"},
		{"seed", "seed"},
		{"a[1][2].b", "a [1] [2] b"},
		{"", "error"},
		{".a", "error"},
		{"a.", "error"},
		{"a..b", "error"},
		{"a[x]", "error"},
		{"a[-1]", "error"},
		{"a[0", "error"},
		{"a[0]b", "error"},
		{"a[0].", "error"},
		{"a b", "error"},
		{"[0]", "error"},
	}
	for _, tt := range tests {
		segs, err := ParsePath(tt.in)
		got := "error"
		if err == nil {
			var parts []string
			for _, s := range segs {
				if s.Key != "" {
					parts = append(parts, s.Key)
				} else {
					parts = append(parts, "["+itoa(s.Index)+"]")
				}
			}
			got = strings.Join(parts, " ")
		}
		if got != tt.want {
			t.Errorf("ParsePath(%q) = %q, want %q (err %v)", tt.in, got, tt.want, err)
		}
	}
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+i))) }

const base = `name: x
cluster:
  nodes:
    - name: n
      count: 3
duration: 90s
`

func TestApplySetsAndCreates(t *testing.T) {
	tests := []struct {
		path, value string
		want        string // substring of the result, or "error: ..." substring of the error
	}{
		{"cluster.nodes[0].count", "7", "count: 7"},
		{"cluster.proxy.mode", "ipvs", "  proxy:\n    mode: ipvs\n"},
		{"duration", "5m", "duration: 5m"},
		{"cluster.nodes[0].labels", "{a: b}", "a: b"},
		{"cluster.nodes[1].count", "1", "error: cluster.nodes has 1 items"},
		{"duration.x", "1", "error: duration is not a mapping"},
		{"cluster[0]", "1", "error: cluster is not a list"},
	}
	for _, tt := range tests {
		var v yaml.Node
		if err := yaml.Unmarshal([]byte(tt.value), &v); err != nil {
			t.Fatal(err)
		}
		out, err := Apply([]byte(base), []Param{{Path: tt.path, Values: []*yaml.Node{v.Content[0]}}}, []int{0})
		if want, isErr := strings.CutPrefix(tt.want, "error: "); isErr {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s=%s: err %v, want %q", tt.path, tt.value, err, want)
			}
			continue
		}
		if err != nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("%s=%s: got %q (err %v), want it to contain %q", tt.path, tt.value, out, err, tt.want)
		}
	}
	// The same inputs give the same bytes, and the base is not changed.
	p := []Param{{Path: "cluster.nodes[0].count", Values: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!int", Value: "5"}}}}
	a, _ := Apply([]byte(base), p, []int{0})
	b, _ := Apply([]byte(base), p, []int{0})
	if string(a) != string(b) || !strings.Contains(string(a), "count: 5") {
		t.Errorf("Apply not deterministic or wrong: %q vs %q", a, b)
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		name, src, want string // want: "ok" or a substring of the error
	}{
		{"minimal", "scenario: nginx\nseeds: 3\n", "ok"},
		{"full", "scenario: nginx\ngrid:\n  cluster.nodes[0].count: [3, 5]\nseeds: [1, 9]\npolicies: [default]\nkeys: [pods_ready]\n", "ok"},
		{"unknown field", "scenario: nginx\nseeds: 3\nseed: 4\n", "f.yaml:3: seed: unknown field"},
		{"no scenario", "seeds: 3\n", "scenario: missing"},
		{"no seeds", "scenario: nginx\n", "seeds: missing"},
		{"zero seeds", "scenario: nginx\nseeds: 0\n", "f.yaml:2: seeds: want a count"},
		{"string seeds", "scenario: nginx\nseeds: ten\n", "f.yaml:2: seeds"},
		{"dup seed", "scenario: nginx\nseeds: [1, 1]\n", "seed 1 given twice"},
		{"empty axis", "scenario: nginx\nseeds: 1\ngrid:\n  seed: []\n", "f.yaml:4: grid.seed: want a non-empty list"},
		{"scalar axis", "scenario: nginx\nseeds: 1\ngrid:\n  seed: 3\n", "f.yaml:4: grid.seed: want a non-empty list"},
		{"bad path", "scenario: nginx\nseeds: 1\ngrid:\n  a..b: [1]\n", "f.yaml:4: grid.a..b: malformed field path"},
		{"dup key", "scenario: nginx\nseeds: 1\nseeds: 2\n", "f.yaml:3: seeds: given twice"},
		{"two docs", "scenario: nginx\nseeds: 1\n---\nx: 1\n", "one YAML document"},
		{"not yaml", "scenario: [\n", "f.yaml"},
		{"empty", "", "empty"},
	}
	for _, tt := range tests {
		s, err := Parse("f.yaml", []byte(tt.src))
		if tt.want == "ok" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			} else if s.Scenario != "nginx" || len(s.Seeds) == 0 || len(s.Policies) == 0 || len(s.Keys) == 0 {
				t.Errorf("%s: incomplete spec %+v", tt.name, s)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.want)
		}
	}
	s, _ := Parse("f.yaml", []byte("scenario: nginx\nseeds: 3\n"))
	if len(s.Seeds) != 3 || s.Seeds[0] != 1 || s.Seeds[2] != 3 || s.Policies[0] != "" {
		t.Errorf("seeds: 3 gave %v, policies %q", s.Seeds, s.Policies)
	}
}

func TestGridOrderHashesAndShards(t *testing.T) {
	s, err := Parse("f.yaml", []byte("scenario: nginx\ngrid:\n  a: [1, 2]\n  b: [x, y, z]\nseeds: [4, 5]\npolicies: [p, q]\n"))
	if err != nil {
		t.Fatal(err)
	}
	pts := Points(s.Params)
	if len(pts) != 6 {
		t.Fatalf("%d points, want 6", len(pts))
	}
	var order []string
	scen := make([][]byte, len(pts))
	for i, p := range pts {
		order = append(order, itoa(p.Choice[0])+itoa(p.Choice[1]))
		scen[i] = []byte("scenario " + order[i])
	}
	if strings.Join(order, ",") != "00,01,02,10,11,12" {
		t.Errorf("point order %v: the first parameter must vary slowest", order)
	}
	runs := Runs(s, pts, scen, "v1")
	if len(runs) != 24 {
		t.Fatalf("%d runs, want 24", len(runs))
	}
	if r := runs[0]; r.Values[0] != "1" || r.Values[1] != "x" || r.Policy != "p" || r.Seed != 4 {
		t.Errorf("first run %+v", r)
	}
	if r := runs[3]; r.Policy != "q" || r.Seed != 5 || r.Point != 0 {
		t.Errorf("run 3 %+v: seeds vary fastest, then policies", r)
	}
	seen := map[string]bool{}
	for i, r := range runs {
		if r.Index != i || seen[r.Hash] || len(r.Hash) != 64 {
			t.Errorf("run %d: index %d hash %q (duplicate %v)", i, r.Index, r.Hash, seen[r.Hash])
		}
		seen[r.Hash] = true
	}
	// The hash covers every part of the spec.
	h := Hash([]byte("a"), 1, "p", "v1")
	for _, other := range []string{Hash([]byte("b"), 1, "p", "v1"), Hash([]byte("a"), 2, "p", "v1"), Hash([]byte("a"), 1, "q", "v1"), Hash([]byte("a"), 1, "p", "v2")} {
		if other == h {
			t.Error("hash ignores part of the run spec")
		}
	}
	if Hash([]byte("a"), 1, "p", "v1") != h {
		t.Error("hash not deterministic")
	}
	// Shards partition the runs.
	for _, n := range []int{1, 2, 5, 30} {
		count := map[int]int{}
		for i := 0; i < n; i++ {
			for _, r := range Shard(runs, i, n) {
				if r.Index%n != i {
					t.Errorf("shard %d/%d holds run %d", i, n, r.Index)
				}
				count[r.Index]++
			}
		}
		for i := range runs {
			if count[i] != 1 {
				t.Errorf("n=%d: run %d is in %d shards", n, i, count[i])
			}
		}
	}
	for _, bad := range []string{"2/2", "-1/2", "0/0", "1", "a/b", "1/2/3"} {
		if _, _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
	if i, n, err := ParseShard("3/8"); err != nil || i != 3 || n != 8 {
		t.Errorf("ParseShard(3/8) = %d %d %v", i, n, err)
	}
}

func TestEmitJob(t *testing.T) {
	b, err := EmitJob(JobOptions{Name: "kubesim-grid", Image: "kubesim:test", Shards: 3, PVC: "res", Storage: "2Gi", SweepFile: "grid.yaml",
		Files: map[string]string{"grid.yaml": "scenario: s.yaml\nseeds: 2\n", "s.yaml": "name: s\n"}})
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	kinds := map[string]map[string]any{}
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			break
		}
		kinds[doc["kind"].(string)] = doc
	}
	job := kinds["Job"]
	if job == nil || kinds["ConfigMap"] == nil || kinds["PersistentVolumeClaim"] == nil {
		t.Fatalf("want a ConfigMap, a PersistentVolumeClaim and a Job; got %v\n%s", kinds, b)
	}
	if job["apiVersion"] != "batch/v1" {
		t.Errorf("apiVersion %v", job["apiVersion"])
	}
	spec := job["spec"].(map[string]any)
	if spec["completionMode"] != "Indexed" || spec["completions"] != 3 || spec["parallelism"] != 3 {
		t.Errorf("job spec %v", spec)
	}
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	c := pod["containers"].([]any)[0].(map[string]any)
	args := strings.Join(toStrings(c["args"]), " ")
	if args != "sweep /sweep/grid.yaml --shard $(JOB_COMPLETION_INDEX)/3 --out /results" {
		t.Errorf("args %q", args)
	}
	vols := pod["volumes"].([]any)
	if vols[1].(map[string]any)["persistentVolumeClaim"].(map[string]any)["claimName"] != "res" ||
		vols[0].(map[string]any)["configMap"].(map[string]any)["name"] != "kubesim-grid-sweep" {
		t.Errorf("volumes %v", vols)
	}
	if data := kinds["ConfigMap"]["data"].(map[string]any); data["s.yaml"] != "name: s\n" || data["grid.yaml"] == nil {
		t.Errorf("configmap data %v", data)
	}
	for _, bad := range []JobOptions{{Name: "Bad_Name", Image: "i", Shards: 1, PVC: "p"}, {Name: "ok", Image: "i", Shards: 0, PVC: "p"},
		{Name: "ok", Image: "i", Shards: 1, PVC: "p", Files: map[string]string{"a/b": ""}}} {
		if _, err := EmitJob(bad); err == nil {
			t.Errorf("EmitJob(%+v) accepted", bad)
		}
	}
	if n := JobName("dir/My Grid.yaml"); n != "kubesim-my-grid" {
		t.Errorf("JobName = %q", n)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
