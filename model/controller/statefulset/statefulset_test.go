package statefulset

import (
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/dist"
)

func TestOrdinalOf(t *testing.T) {
	for _, tc := range []struct {
		set, name string
		want      int
	}{
		{"web", "web-0", 0},
		{"web", "web-12", 12},
		{"web", "web-x", -1},
		{"web", "webby-1", -1},
		{"web", "web--1", -1},
		{"web-1", "web-1-3", 3},
	} {
		if got := ordinalOf(tc.set, tc.name); got != tc.want {
			t.Errorf("ordinalOf(%q, %q) = %d, want %d", tc.set, tc.name, got, tc.want)
		}
	}
}

func TestNewPodIdentityAndStorage(t *testing.T) {
	set := &api.StatefulSet{
		ObjectMeta: api.ObjectMeta{Name: "db", Namespace: "prod", UID: "u1"},
		Spec: api.StatefulSetSpec{
			ServiceName: "db-headless",
			Template: api.PodTemplateSpec{Labels: map[string]string{"app": "db"}, Spec: api.PodSpec{
				Containers: []api.Container{{Name: "c", Image: "img"}},
				Volumes:    []api.Volume{{Name: "data", ClaimName: "ignored"}, {Name: "other", ClaimName: "shared"}},
			}},
			VolumeClaimTemplates: []api.PersistentVolumeClaim{{ObjectMeta: api.ObjectMeta{Name: "data"}}, {ObjectMeta: api.ObjectMeta{Name: "logs"}}},
		},
	}
	p := newPod(set, 2)
	if p.Name != "db-2" || p.Spec.Hostname != "db-2" || p.Spec.Subdomain != "db-headless" {
		t.Fatalf("identity: name %q hostname %q subdomain %q", p.Name, p.Spec.Hostname, p.Spec.Subdomain)
	}
	if p.Labels[LabelPodName] != "db-2" || p.Labels[LabelPodIndex] != "2" || p.Labels["app"] != "db" {
		t.Errorf("labels %v", p.Labels)
	}
	want := []api.Volume{{Name: "data", ClaimName: "data-db-2"}, {Name: "other", ClaimName: "shared"}, {Name: "logs", ClaimName: "logs-db-2"}}
	if len(p.Spec.Volumes) != len(want) {
		t.Fatalf("volumes %+v", p.Spec.Volumes)
	}
	for i := range want {
		if p.Spec.Volumes[i] != want[i] {
			t.Errorf("volume %d = %+v, want %+v", i, p.Spec.Volumes[i], want[i])
		}
	}
	if ref := p.ControllerRef(); ref == nil || ref.UID != "u1" || ref.Kind != api.KindStatefulSet {
		t.Errorf("owner %+v", ref)
	}
	if set.Spec.Template.Spec.Volumes[0].ClaimName != "ignored" {
		t.Error("template modified")
	}
	if ClaimName("data", "db", 7) != "data-db-7" {
		t.Error(ClaimName("data", "db", 7))
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(dist.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	c.SyncLatency = dist.Spec{Kind: "nope"}
	if err := c.Validate(dist.NewRegistry()); err == nil {
		t.Fatal("bad syncLatency accepted")
	}
}
