package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportAndTeachingCLI(t *testing.T) {
	dir := t.TempDir()
	if r := kubesim(t, dir, "run", "nginx", "--out", "run", "--trace-format", "mermaid", "--trace-out", "flow.mmd"); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	mmd, err := os.ReadFile(filepath.Join(dir, "flow.mmd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sequenceDiagram", "participant etcd", "Note over", "Step 7", "->>etcd: ", "-->>kubelet: "} {
		if !strings.Contains(string(mmd), want) {
			t.Errorf("flow.mmd lacks %q", want)
		}
	}
	var pages [2][]byte
	for i := range pages {
		if r := kubesim(t, dir, "report", "run", "-o", "r.html", "--plots", "plots"); r.code != 0 {
			t.Fatalf("report: exit %d: %s", r.code, r.stderr)
		}
		pages[i], _ = os.ReadFile(filepath.Join(dir, "r.html"))
	}
	if string(pages[0]) != string(pages[1]) || len(pages[0]) == 0 {
		t.Errorf("two reports of the same run differ (or are empty)")
	}
	for _, f := range []string{"latency-cdf.svg", "latency-cdf.png", "node-heatmap.svg", "replicas.png", "pending-pods.svg"} {
		if _, err := os.Stat(filepath.Join(dir, "plots", f)); err != nil {
			t.Errorf("--plots: %v", err)
		}
	}
	if strings.Contains(string(pages[0]), "http://") && strings.Contains(string(pages[0]), "src=\"http") {
		t.Errorf("the report loads a network resource")
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report", "nowhere", "-o", "x.html"}, 2, "nowhere: no such directory"},
		{[]string{"report", ".", "-o", "x.html"}, 2, "found none of summary.json"},
		{[]string{"report", "run", "-o", "x.html", "--lang", "fr"}, 2, "unknown language"},
		{[]string{"run", "nginx", "--trace-format", "svg", "--trace-out", "t"}, 2, "--trace-format"},
		{[]string{"explain", "nginx", "--lang", "xx"}, 2, "unknown language"},
	}
	for _, c := range cases {
		r := kubesim(t, dir, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, r.code, r.stderr, c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.html")); err == nil {
		t.Errorf("a failed report left x.html behind")
	}
	// explain: --no-pause and EOF on stdin both print every step.
	for _, args := range [][]string{{"explain", "nginx", "--no-pause"}, {"explain", "nginx", "--lang", "zh"}} {
		r := kubesim(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		for s := 1; s <= 7; s++ {
			want := "Step " + string(rune('0'+s)) + ":"
			if args[len(args)-1] == "zh" {
				want = "第 " + string(rune('0'+s)) + " 步"
			}
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v: output lacks %q", args, want)
			}
		}
		if !strings.Contains(r.stdout, "/registry/pods/default/") {
			t.Errorf("%v: no etcd keys shown", args)
		}
	}
}
