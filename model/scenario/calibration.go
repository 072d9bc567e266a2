package scenario

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/kubesim/kubesim/model/dist"
)

// CalibrationProfile is a profile written by `kubesim calibrate`: latencies of the
// model fitted to real runs, and the images the real runs found already present.
type CalibrationProfile struct {
	File          string
	Sources       []string
	ImagesPresent []string
	// Latencies by profile key (runtime.create, runtime.start,
	// runtime.pullOverhead, etcd.commit, readiness, proxy.sync).
	Latencies map[string]CalibratedLatency
	// RuntimeParallelism, when positive, is the engine parallelism the runtime
	// latencies were fitted with (they are the work of one operation): it sets
	// cluster.runtime.parallelism.
	RuntimeParallelism float64
}

// CalibratedLatency is one fitted distribution, with its number of samples and
// Kolmogorov–Smirnov statistic (kept for people; they do not change the model).
type CalibratedLatency struct {
	Spec dist.Spec
	N    int
	KS   float64
	Line int
}

type calProfileYAML struct {
	Kind          string               `yaml:"kind"`
	Sources       []string             `yaml:"sources"`
	ImagesPresent []string             `yaml:"imagesPresent"`
	Latencies     map[string]yaml.Node `yaml:"latencies"`
	Runtime       *struct {
		Parallelism float64 `yaml:"parallelism"`
	} `yaml:"runtime"`
}

type calLatencyYAML struct {
	Dist   string   `yaml:"dist"`
	Median Duration `yaml:"median"`
	Sigma  float64  `yaml:"sigma"`
	N      int      `yaml:"n"`
	KS     float64  `yaml:"ks"`
}

// CalibrationKeys are the profile's latency keys and the scenario field each sets.
var CalibrationKeys = map[string]string{
	"runtime.create":       "cluster.runtime.create",
	"runtime.start":        "cluster.runtime.start",
	"runtime.pullOverhead": "cluster.runtime.pullOverhead",
	"etcd.commit":          "cluster.etcd.fsync (and cluster.etcd.rtt = 0)",
	"readiness":            "images[].serve.readyAfter (every serving image)",
	"proxy.sync":           "cluster.proxy.syncLatency",
}

// ParseCalibration decodes a calibration profile strictly; errors name the file
// and the line.
func ParseCalibration(file string, data []byte) (*CalibrationProfile, error) {
	var y calProfileYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil {
		return nil, convertYAMLErr(file, err, nil)
	}
	if y.Kind != "calibration" {
		return nil, &Error{File: file, Field: "kind", Msg: fmt.Sprintf("%q: a calibration profile has kind: calibration (write one with kubesim calibrate)", y.Kind)}
	}
	p := &CalibrationProfile{File: file, Sources: y.Sources, ImagesPresent: y.ImagesPresent, Latencies: map[string]CalibratedLatency{}}
	if y.Runtime != nil {
		if !(y.Runtime.Parallelism >= 1 && y.Runtime.Parallelism <= 1e6) {
			return nil, &Error{File: file, Field: "runtime.parallelism", Msg: fmt.Sprintf("%g: must be 1 to 1e6", y.Runtime.Parallelism)}
		}
		p.RuntimeParallelism = y.Runtime.Parallelism
	}
	keys := make([]string, 0, len(CalibrationKeys))
	for k := range CalibrationKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for k, n := range y.Latencies {
		n := n
		if _, ok := CalibrationKeys[k]; !ok {
			return nil, &Error{File: file, Line: n.Line, Field: "latencies." + k, Msg: "unknown latency (known: " + strings.Join(keys, ", ") + ")"}
		}
		var l calLatencyYAML
		if err := decodeStrict(&n, &l); err != nil {
			return nil, convertYAMLErr(file, err, nil)
		}
		if l.Dist != dist.KindLogNormal {
			return nil, &Error{File: file, Line: n.Line, Field: "latencies." + k + ".dist", Msg: fmt.Sprintf("%q: calibration fits are lognormal", l.Dist)}
		}
		spec := dist.LogNormal(l.Median.D(), l.Sigma)
		if err := dist.NewRegistry().Validate(spec); err != nil {
			return nil, &Error{File: file, Line: n.Line, Field: "latencies." + k, Msg: err.Error()}
		}
		p.Latencies[k] = CalibratedLatency{Spec: spec, N: l.N, KS: l.KS, Line: n.Line}
	}
	return p, nil
}

// ApplyCalibration sets the scenario's latency settings from the profile: each
// fitted latency replaces the corresponding setting (see CalibrationKeys), and
// every node pool gets the profile's present images. It returns what it changed,
// for people.
func (sc *Scenario) ApplyCalibration(p *CalibrationProfile) []string {
	var changed []string
	set := func(key string, apply func(d *Dist)) {
		if l, ok := p.Latencies[key]; ok {
			apply(&Dist{Spec: l.Spec, Line: l.Line})
			changed = append(changed, fmt.Sprintf("%s = %s", CalibrationKeys[key], l.Spec))
		}
	}
	rt := &sc.Cluster.Runtime
	set("runtime.create", func(d *Dist) { rt.Create = d })
	set("runtime.start", func(d *Dist) { rt.Start = d })
	set("runtime.pullOverhead", func(d *Dist) { rt.PullOverhead = d })
	if v := p.RuntimeParallelism; v > 0 {
		rt.Parallelism = &v
		changed = append(changed, fmt.Sprintf("cluster.runtime.parallelism = %g", v))
	}
	set("etcd.commit", func(d *Dist) {
		members := 3 // etcd.DefaultConfig
		if m := sc.Cluster.Etcd.Members; m != nil {
			members = *m
		}
		f := *d
		f.Spec.Median = fsyncMedianForCommit(d.Spec.Median, d.Spec.Sigma, members)
		sc.Cluster.Etcd.Fsync = &f
		sc.Cluster.Etcd.RTT = &Dist{Spec: dist.Const(0), Line: d.Line}
	})
	set("readiness", func(d *Dist) {
		for i := range sc.Images {
			if sc.Images[i].Serve != nil {
				dd := *d
				sc.Images[i].Serve.ReadyAfter = &dd
			}
		}
	})
	set("proxy.sync", func(d *Dist) { sc.Cluster.Proxy.SyncLatency = d })
	if len(p.ImagesPresent) > 0 {
		for i := range sc.Cluster.Nodes {
			pool := &sc.Cluster.Nodes[i]
			for _, im := range p.ImagesPresent {
				if !containsString(pool.Images, im) {
					pool.Images = append(pool.Images, im)
				}
			}
		}
		changed = append(changed, "cluster.nodes[].images += "+strings.Join(p.ImagesPresent, ", "))
	}
	return changed
}

func containsString(v []string, s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}

// fsyncMedianForCommit returns the median of a log-normal fsync (sigma as given)
// for which the modeled commit of a cluster of members has the measured median m.
// The model's commit is the leader's fsync in parallel with the fastest quorum of
// followers (model/etcd CommitLatency; the round trip is 0 here): with iid draws
// of CDF F, P(commit <= t) = F(t) * P(at least need of the n-1 followers <= t),
// need = members/2. The median solves F(t) = p with p * P(Bin(n-1, p) >= need)
// = 1/2, so fsync's median is m * exp(-sigma * z_p). One member: p = 1/2, m.
func fsyncMedianForCommit(m time.Duration, sigma float64, members int) time.Duration {
	need := members / 2
	if need == 0 || sigma == 0 {
		return m
	}
	n := members - 1
	g := func(p float64) float64 {
		atLeast := 0.0
		for k := need; k <= n; k++ {
			atLeast += binom(n, k) * math.Pow(p, float64(k)) * math.Pow(1-p, float64(n-k))
		}
		return p*atLeast - 0.5
	}
	lo, hi := 0.5, 1.0
	for i := 0; i < 60; i++ {
		mid := (lo + hi) / 2
		if g(mid) < 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	z := distuv.UnitNormal.Quantile((lo + hi) / 2)
	return time.Duration(float64(m) * math.Exp(-sigma*z))
}

func binom(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}
