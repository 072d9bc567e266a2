package deployment

import (
	"strings"
	"testing"

	"github.com/kubesim/kubesim/model/api"
)

func template(image string, labels map[string]string) *api.PodTemplateSpec {
	return &api.PodTemplateSpec{Labels: labels, Spec: api.PodSpec{
		Containers:    []api.Container{{Name: "nginx", Image: image, Ports: []api.ContainerPort{{ContainerPort: 80}}}},
		NodeSelector:  map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"},
		RestartPolicy: api.RestartAlways,
	}}
}

func TestComputeHash(t *testing.T) {
	base := ComputeHash(template("nginx:1.27", map[string]string{"app": "nginx", "tier": "web"}))
	for _, ch := range base {
		if !strings.ContainsRune(hashAlphabet, ch) {
			t.Fatalf("hash %q has %q outside the alphabet", base, ch)
		}
	}
	cases := []struct {
		name string
		t    *api.PodTemplateSpec
		same bool
	}{
		{"identical template", template("nginx:1.27", map[string]string{"app": "nginx", "tier": "web"}), true},
		{"labels built in another order", template("nginx:1.27", map[string]string{"tier": "web", "app": "nginx"}), true},
		{"other image", template("nginx:1.28", map[string]string{"app": "nginx", "tier": "web"}), false},
		{"other label value", template("nginx:1.27", map[string]string{"app": "nginx", "tier": "db"}), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := 0; i < 20; i++ { // map iteration order varies between calls
				if got := ComputeHash(c.t); (got == base) != c.same {
					t.Fatalf("hash %q vs base %q: same=%v, want %v", got, base, got == base, c.same)
				}
			}
		})
	}
}

func TestEqualIgnoreHash(t *testing.T) {
	a := template("nginx:1.27", map[string]string{"app": "nginx"})
	b := template("nginx:1.27", map[string]string{"app": "nginx", api.LabelPodTemplateHash: "abc"})
	if !equalIgnoreHash(a, b) {
		t.Fatal("templates differing only in pod-template-hash must be equal")
	}
	b.Annotations = map[string]string{} // empty and nil maps encode alike
	if !equalIgnoreHash(a, b) {
		t.Fatal("nil and empty annotations must be equal")
	}
	c := template("nginx:1.28", map[string]string{"app": "nginx"})
	if equalIgnoreHash(a, c) {
		t.Fatal("different images must differ")
	}
	for _, labels := range []map[string]string{{"app": "web"}, {"app": "nginx", "tier": "x"}, {}, {api.LabelPodTemplateHash: "abc"}} {
		if equalIgnoreHash(a, template("nginx:1.27", labels)) || equalIgnoreHash(template("nginx:1.27", labels), a) {
			t.Fatalf("labels %v must differ from %v", labels, a.Labels)
		}
	}
	if !equalIgnoreHash(template("nginx:1.27", nil), template("nginx:1.27", map[string]string{api.LabelPodTemplateHash: "abc"})) {
		t.Fatal("no labels and only the hash label must be equal")
	}
	if _, ok := b.Labels[api.LabelPodTemplateHash]; !ok {
		t.Fatal("equalIgnoreHash must not modify its arguments")
	}
}
