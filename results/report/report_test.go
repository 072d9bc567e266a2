package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kubesim/kubesim/results/narrate"
)

func TestEtcdKeysAt(t *testing.T) {
	recs := []Record{
		{Time: 1, Component: "etcd", Action: "commit", Detail: "put /registry/pods/default/a at revision 2"},
		{Time: 2, Component: "etcd", Action: "commit", Detail: "put /registry/minions/n1 at revision 3"},
		{Time: 3, Component: "etcd", Action: "commit", Detail: "delete /registry/pods/default/a at revision 4"},
		{Time: 4, Component: "etcd", Action: "commit", Detail: "put /registry/minions/n1 at revision 5"},
	}
	cases := []struct {
		t    float64
		want string
	}{
		{0.5, ""},
		{2, "/registry/minions/n1@3 /registry/pods/default/a@2"},
		{3, "/registry/minions/n1@3"},
		{9, "/registry/minions/n1@5"},
	}
	for _, c := range cases {
		var got []string
		for _, k := range EtcdKeysAt(recs, c.t) {
			got = append(got, k.Key+"@"+strconv.FormatInt(k.Revision, 10))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("t=%v: got %q, want %q", c.t, strings.Join(got, " "), c.want)
		}
	}
}

func TestFlowMessagesAndMermaid(t *testing.T) {
	recs := []Record{
		{Time: 1, Step: 2, Component: "kubectl", Action: "apply", Object: "deployment/default/nginx"},
		{Time: 1.1, Step: 2, Component: "apiserver", Action: "create", Object: "deployment/default/nginx", Detail: "request from kubectl"},
		{Time: 1.2, Step: 2, Component: "etcd", Action: "commit", Object: "deployment/default/nginx", Detail: "put /registry/deployments/default/nginx at revision 8"},
		{Time: 1.3, Step: 2, Component: "controller-manager/deployment", Action: "create-replicaset", Object: "replicaset/default/nginx-1", Detail: "x; y #1"},
		{Time: 1.4, Step: 7, Component: "controller-manager/deployment", Action: "status", Object: "deployment/default/nginx"},
	}
	f := BuildFlow(recs)
	var kinds []string
	for _, m := range f.Messages {
		kinds = append(kinds, m.From+">"+m.To+":"+m.Kind)
	}
	got := strings.Join(kinds, " ")
	want := "user>user:event user>apiserver:request apiserver>etcd:commit apiserver>controller-manager:watch controller-manager>controller-manager:event controller-manager>controller-manager:event"
	if got != want {
		t.Errorf("messages\n got %s\nwant %s", got, want)
	}
	var b bytes.Buffer
	if err := WriteMermaid(&b, recs, narrate.ZH); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, w := range []string{"sequenceDiagram", "participant apiserver as API Server", "Note over user,controller_manager: 第 2 步", "apiserver-->>controller_manager: "} {
		if !strings.Contains(out, w) {
			t.Errorf("mermaid lacks %q:\n%s", w, out)
		}
	}
}

func TestDetectAndLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Detect(dir); err == nil || !strings.Contains(err.Error(), "found none") {
		t.Errorf("empty dir: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "compare.csv"), []byte("metric,policy,n,mean,ci95_low,ci95_high,best\nm,default,3,1,0.5,1.5,true\nm,most-allocated,3,2,1,3,false\n"), 0o644)
	in, err := Load(dir)
	if err != nil || in.Kind != KindCompare || len(in.Stats) != 2 || !in.Stats[0].Best {
		t.Fatalf("compare.csv: %+v %v", in, err)
	}
	if cs := CompareCharts(in); len(cs) != 1 {
		t.Errorf("%d compare charts, want 1", len(cs))
	}
	os.WriteFile(filepath.Join(dir, "plan.json"), []byte("{\n \"candidates\": [\n  {\"nodes\": 2, \"cost_per_hour\": 1.5, \"pass\": false},\n  {\"nodes\": 3, \"cost_per_hour\": 2.25, \"pass\": true}\n ],\n \"chosen\": {\"nodes\": 3}\n}\n"), 0o644)
	in, err = Load(dir)
	if err != nil || in.Kind != KindPlan {
		t.Fatalf("plan: %v", err)
	}
	if cs := PlanCharts(in); len(cs) != 1 {
		t.Errorf("%d plan charts, want 1", len(cs))
	}
	page, err := Render(in, PlanCharts(in), Options{})
	if err != nil || !bytes.Contains(page, []byte("cost_per_hour")) || !bytes.Contains(page, []byte("<svg")) {
		t.Errorf("plan page: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "plan.json"), []byte("{\n \"candidates\": [\n  {\"nodes\": 2,,}\n ]\n}\n"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "plan.json:3") {
		t.Errorf("bad plan.json: %v, want the line", err)
	}
}
