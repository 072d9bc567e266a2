package manifest

import (
	"errors"
	"strings"
	"testing"

	"github.com/kubesim/kubesim/model/api"
)

const pdbDoc = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
  namespace: shop
spec:
  maxUnavailable: 25%
  selector:
    matchLabels: {app: web}
    matchExpressions:
      - {key: tier, operator: In, values: [front]}
  unhealthyPodEvictionPolicy: AlwaysAllow
`

func TestPodDisruptionBudget(t *testing.T) {
	s, err := Parse("pdb.yaml", []byte(pdbDoc))
	if err != nil {
		t.Fatal(err)
	}
	b, ok := s.Objects[0].Obj.(*api.PodDisruptionBudget)
	if !ok {
		t.Fatalf("object %T", s.Objects[0].Obj)
	}
	if b.Namespace != "shop" || b.Spec.MinAvailable != nil || *b.Spec.MaxUnavailable != (api.IntOrPercent{IsPercent: true, Value: 25}) ||
		b.Spec.Selector.MatchLabels["app"] != "web" || len(b.Spec.Selector.MatchExpressions) != 1 {
		t.Fatalf("budget %+v", b.Spec)
	}
	if len(s.Warnings) != 1 || s.Warnings[0].Field != "spec.unhealthyPodEvictionPolicy" {
		t.Fatalf("warnings %v: want one for spec.unhealthyPodEvictionPolicy", s.Warnings)
	}
	min := strings.Replace(pdbDoc, "maxUnavailable: 25%", "minAvailable: 2", 1)
	if s, err = Parse("pdb.yaml", []byte(min)); err != nil || *s.Objects[0].Obj.(*api.PodDisruptionBudget).Spec.MinAvailable != (api.IntOrPercent{Value: 2}) {
		t.Fatalf("minAvailable 2: %v", err)
	}
	for _, tc := range []struct {
		name, old, new, field, msg string
		line                       int
	}{
		{"both", "  maxUnavailable: 25%\n", "  maxUnavailable: 25%\n  minAvailable: 1\n", "spec.maxUnavailable", "cannot be both set", 7},
		{"neither", "  maxUnavailable: 25%\n", "", "spec", "one of minAvailable and maxUnavailable is required", 6},
		{"over 100%", "25%", "150%", "spec.maxUnavailable", "greater than 100%", 7},
		{"bad percent", "25%", "1/4", "spec.maxUnavailable", "not a count or a percentage", 7},
		{"no selector", "  selector:\n    matchLabels: {app: web}\n    matchExpressions:\n      - {key: tier, operator: In, values: [front]}\n", "", "spec.selector", "required", 6},
		{"bad operator", "operator: In", "operator: Near", "spec.selector.matchExpressions[0].operator", "unknown operator", 11},
		{"unknown field", "  maxUnavailable: 25%\n", "  maxUnavailable: 25%\n  maxDisruption: 1\n", "spec.maxDisruption", "unknown field", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("pdb.yaml", []byte(strings.Replace(pdbDoc, tc.old, tc.new, 1)))
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T %v", err, err)
			}
			if me.Field != tc.field || !strings.Contains(me.Msg, tc.msg) || me.Line != tc.line {
				t.Errorf("line %d field %q msg %q; want line %d field %q containing %q", me.Line, me.Field, me.Msg, tc.line, tc.field, tc.msg)
			}
		})
	}
}
