//go:build kubescheduler

package kubescheduler

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPinnedVersion: the policy's name and Version follow go.mod's pin of
// k8s.io/kubernetes, and every k8s.io staging module is replaced by the matching
// v0.MINOR.PATCH release (docs/kube-scheduler.md, "Upgrading").
func TestPinnedVersion(t *testing.T) {
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod := string(b)
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/kubernetes (v\S+)`).FindStringSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod does not require k8s.io/kubernetes")
	}
	if m[1] != Version {
		t.Errorf("go.mod pins k8s.io/kubernetes %s, the package says Version %s", m[1], Version)
	}
	if !strings.HasPrefix(Version, Minor+".") || PolicyName != "kube-scheduler-"+Minor {
		t.Errorf("Minor %s, Version %s, PolicyName %s disagree", Minor, Version, PolicyName)
	}
	staging := "v0" + strings.TrimPrefix(Version, "v1")
	reps := regexp.MustCompile(`(?m)^\s*(k8s\.io/[a-z-]+) => (k8s\.io/[a-z-]+) (v\S+)`).FindAllStringSubmatch(mod, -1)
	if len(reps) < 31 {
		t.Errorf("go.mod replaces %d k8s.io staging modules, want the 31 k8s.io/kubernetes %s requires at v0.0.0", len(reps), Version)
	}
	for _, r := range reps {
		if r[1] != r[2] || r[3] != staging {
			t.Errorf("replace %s => %s %s: want %s => %s %s", r[1], r[2], r[3], r[1], r[1], staging)
		}
	}
}
