package scenario

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubesim/kubesim/model/dist"
)

// Duration is a time.Duration written as in Go ("1s", "500ms", "2m30s").
type Duration time.Duration

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineErr(n, "expected a duration such as 1s or 500ms")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		if n.Value == "0" {
			*d = 0
			return nil
		}
		return lineErr(n, "%q is not a duration (write it like 1s, 500ms or 2m30s)", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration in Go syntax.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Quantity is a Kubernetes resource quantity ("100m", "128Mi", "4"), parsed by
// k8s.io/apimachinery exactly as Kubernetes parses it.
type Quantity struct {
	Text string
	Q    resource.Quantity
	Set  bool
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (q *Quantity) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineErr(n, "expected a quantity such as 100m, 4 or 128Mi")
	}
	v, err := resource.ParseQuantity(n.Value)
	if err != nil {
		return lineErr(n, "%q is not a valid quantity (examples: 100m, 0.5, 4, 128Mi, 1Gi)", n.Value)
	}
	*q = Quantity{Text: n.Value, Q: v, Set: true}
	return nil
}

// MarshalYAML writes the quantity as it was written.
func (q Quantity) MarshalYAML() (any, error) { return q.Text, nil }

// Milli returns the quantity in thousandths (millicores for CPU).
func (q Quantity) Milli() int64 { return q.Q.MilliValue() }

// Value returns the quantity rounded up to an integer (bytes for memory).
func (q Quantity) Value() int64 { return q.Q.Value() }

// Negative reports whether the quantity is below zero.
func (q Quantity) Negative() bool { return q.Set && q.Q.Sign() < 0 }

// Dist is a latency distribution: a plain duration ("2ms", a constant) or a mapping
// {dist: lognormal, median: 2ms, sigma: 0.3}. See model/dist for the kinds.
type Dist struct {
	Spec dist.Spec
	Line int
}

type distYAML struct {
	Dist   string   `yaml:"dist"`
	Value  Duration `yaml:"value"`
	Min    Duration `yaml:"min"`
	Max    Duration `yaml:"max"`
	Mean   Duration `yaml:"mean"`
	Median Duration `yaml:"median"`
	StdDev Duration `yaml:"stddev"`
	Sigma  float64  `yaml:"sigma"`
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Dist) UnmarshalYAML(n *yaml.Node) error {
	d.Line = n.Line
	if n.Kind == yaml.ScalarNode {
		var v Duration
		if err := v.UnmarshalYAML(n); err != nil {
			return err
		}
		d.Spec = dist.Const(v.D())
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return lineErr(n, "expected a duration or a mapping such as {dist: lognormal, median: 2ms, sigma: 0.3}")
	}
	var y distYAML
	if err := decodeStrict(n, &y); err != nil {
		return err
	}
	if y.Dist == "" {
		return lineErr(n, "distribution needs a 'dist' key (const, uniform, exponential, lognormal, normal)")
	}
	d.Spec = dist.Spec{Kind: y.Dist, Value: y.Value.D(), Min: y.Min.D(), Max: y.Max.D(), Mean: y.Mean.D(),
		Median: y.Median.D(), StdDev: y.StdDev.D(), Sigma: y.Sigma}
	return nil
}

// MarshalYAML writes the distribution as a mapping.
func (d Dist) MarshalYAML() (any, error) { return d.Spec.String(), nil }

// decodeStrict decodes a node into v rejecting unknown fields.
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		// Line numbers inside the re-encoded node are relative to it.
		return lineErr(n, "%s", strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\n ", ""), "yaml: "))
	}
	return nil
}

// lineError is an error tied to a line of the YAML input.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func lineErr(n *yaml.Node, format string, a ...any) error {
	return &lineError{line: n.Line, msg: fmt.Sprintf(format, a...)}
}
