package scenario

import (
	"errors"
	"strings"
	"testing"

	"github.com/kubesim/kubesim/model/api"
)

const withPDB = minimal + `  podDisruptionBudgets:
    - name: web
      minAvailable: 1
      selector: {app: web}
`

func TestPodDisruptionBudgets(t *testing.T) {
	s, err := Parse("ok.yaml", []byte(withPDB))
	if err != nil {
		t.Fatal(err)
	}
	b := s.Workload.PDBs[0]
	if b.Namespace != api.NamespaceDefault || b.MinAvailable != "1" || b.Selector["app"] != "web" {
		t.Fatalf("budget %+v", b)
	}
	for _, tc := range []struct {
		name     string
		edit     func(string) string
		line     int
		field    string
		contains string
	}{
		{"both", func(s string) string {
			return strings.Replace(s, "minAvailable: 1\n", "minAvailable: 1\n      maxUnavailable: 1\n", 1)
		},
			20, "workload.podDisruptionBudgets[0].maxUnavailable", "cannot be both set"},
		{"neither", func(s string) string { return strings.Replace(s, "      minAvailable: 1\n", "", 1) },
			18, "workload.podDisruptionBudgets[0]", "one of minAvailable and maxUnavailable is required"},
		{"bad value", func(s string) string { return strings.Replace(s, "minAvailable: 1", "minAvailable: half", 1) },
			19, "workload.podDisruptionBudgets[0].minAvailable", "is not a count or a percentage"},
		{"over 100%", func(s string) string { return strings.Replace(s, "minAvailable: 1", "maxUnavailable: 120%", 1) },
			19, "workload.podDisruptionBudgets[0].maxUnavailable", "greater than 100%"},
		{"no selector", func(s string) string { return strings.Replace(s, "      selector: {app: web}\n", "", 1) },
			18, "workload.podDisruptionBudgets[0].selector", "required"},
		{"no name", func(s string) string {
			return strings.Replace(s, "    - name: web\n      minAvailable", "    - minAvailable", 1)
		},
			18, "workload.podDisruptionBudgets[0].name", "required"},
		{"twice", func(s string) string {
			return s + "    - name: web\n      maxUnavailable: 10%\n      selector: {}\n"
		}, 21, "workload.podDisruptionBudgets[1].name", "defined twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.edit(withPDB)))
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *scenario.Error", err, err)
			}
			if se.Line != tc.line || !strings.HasPrefix(se.Field, tc.field) || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("got line %d field %q: %v; want line %d field %q containing %q", se.Line, se.Field, err, tc.line, tc.field, tc.contains)
			}
		})
	}
}
