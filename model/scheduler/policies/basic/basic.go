// Package basic holds the classic raw placement policies: random, round-robin,
// first-fit, best-fit, worst-fit, power-of-two-choices and dot-product (Tetris
// alignment). Every policy considers only nodes where policies.Fits holds (cpu,
// memory, pods, extended resources, GPUs per GPU, required node affinity/allowed GPU
// models) and breaks ties by the nodes' order (the scheduler's sampling order),
// except random and power-of-two-choices, which draw from ctx.Rand.
package basic

import (
	"fmt"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/policies"
)

// Policy names.
const (
	Random     = "random"
	RoundRobin = "round-robin"
	FirstFit   = "first-fit"
	BestFit    = "best-fit"
	WorstFit   = "worst-fit"
	PowerOfTwo = "power-of-two-choices"
	DotProduct = "dot-product"
)

// Names lists the policies of this package.
func Names() []string {
	return []string{Random, RoundRobin, FirstFit, BestFit, WorstFit, PowerOfTwo, DotProduct}
}

// New builds the policy of that name (args are unused: nil).
func New(name string) (policies.Policy, error) {
	switch name {
	case Random:
		return &random{}, nil
	case RoundRobin:
		return &roundRobin{}, nil
	case FirstFit:
		return firstFit{}, nil
	case BestFit:
		return &byScore{name: BestFit, score: func(p *framework.PodInfo, ni *framework.NodeInfo) float64 {
			return policies.Utilization(ni, &p.Requests) // fullest node after placement
		}, why: "best fit: the node left fullest (mean cpu/memory requested fraction %.3f)"}, nil
	case WorstFit:
		return &byScore{name: WorstFit, score: func(p *framework.PodInfo, ni *framework.NodeInfo) float64 {
			return -policies.Utilization(ni, &p.Requests) // emptiest node after placement
		}, why: "worst fit: the node left emptiest (score %.3f = -mean requested fraction)"}, nil
	case PowerOfTwo:
		return &powerOfTwo{}, nil
	case DotProduct:
		return &byScore{name: DotProduct, score: alignment, why: "dot product of the pod's demand and the node's free resources, both normalized by capacity: %.4f"}, nil
	}
	return nil, fmt.Errorf("unknown policy %q", name)
}

// random picks a fitting node uniformly (reservoir sampling, one pass).
type random struct{}

func (*random) Name() string { return Random }

func (r *random) Schedule(ctx *policies.Context, pod *framework.PodInfo, nodes []*framework.NodeInfo) (api.NodeName, string) {
	var chosen *framework.NodeInfo
	k := 0
	for _, ni := range nodes {
		if !policies.Fits(pod, ni) {
			continue
		}
		k++
		if ctx.Rand.IntN(k) == 0 {
			chosen = ni
		}
	}
	if chosen == nil {
		return "", policies.NoFitReason(len(nodes))
	}
	return chosen.Name, fmt.Sprintf("random: uniform among %d fitting nodes", k)
}

// roundRobin starts where the previous pod's search stopped and takes the first
// fitting node.
type roundRobin struct{ next int }

func (*roundRobin) Name() string { return RoundRobin }

func (r *roundRobin) Schedule(_ *policies.Context, pod *framework.PodInfo, nodes []*framework.NodeInfo) (api.NodeName, string) {
	n := len(nodes)
	for i := 0; i < n; i++ {
		j := (r.next + i) % n
		if policies.Fits(pod, nodes[j]) {
			r.next = (j + 1) % n
			return nodes[j].Name, fmt.Sprintf("round-robin: first fitting node from position %d", j)
		}
	}
	return "", policies.NoFitReason(n)
}

// firstFit takes the first fitting node in the nodes' order.
type firstFit struct{}

func (firstFit) Name() string { return FirstFit }

func (firstFit) Schedule(_ *policies.Context, pod *framework.PodInfo, nodes []*framework.NodeInfo) (api.NodeName, string) {
	for i, ni := range nodes {
		if policies.Fits(pod, ni) {
			return ni.Name, fmt.Sprintf("first fit: node %d in order", i)
		}
	}
	return "", policies.NoFitReason(len(nodes))
}

// byScore picks the fitting node with the highest score (first on ties).
type byScore struct {
	name  string
	score func(*framework.PodInfo, *framework.NodeInfo) float64
	why   string
}

func (b *byScore) Name() string { return b.name }

func (b *byScore) Schedule(_ *policies.Context, pod *framework.PodInfo, nodes []*framework.NodeInfo) (api.NodeName, string) {
	var best *framework.NodeInfo
	var bestScore float64
	for _, ni := range nodes {
		if !policies.Fits(pod, ni) {
			continue
		}
		if s := b.score(pod, ni); best == nil || s > bestScore {
			best, bestScore = ni, s
		}
	}
	if best == nil {
		return "", policies.NoFitReason(len(nodes))
	}
	return best.Name, fmt.Sprintf(b.why, bestScore)
}

// alignment is the Tetris score (Grandl et al., SIGCOMM 2014): the dot product of
// the pod's demand vector and the node's free vector over cpu, memory and GPU, each
// dimension divided by the node's capacity so that dimensions weigh alike.
func alignment(pod *framework.PodInfo, ni *framework.NodeInfo) float64 {
	var s float64
	dim := func(demand, capacity, used int64) {
		if capacity <= 0 {
			return
		}
		c := float64(capacity)
		s += float64(demand) / c * float64(max(capacity-used, 0)) / c
	}
	dim(pod.Requests.MilliCPU, ni.Allocatable.MilliCPU, ni.Requested.MilliCPU)
	dim(pod.Requests.Memory, ni.Allocatable.Memory, ni.Requested.Memory)
	if g := policies.NumGPUs(ni); g > 0 {
		var sc policies.GPUScratch
		st := sc.GPUState(ni, "")
		dim(policies.GPURequest(pod), g*policies.MilliPerGPU, g*policies.MilliPerGPU-st.TotalFree())
	}
	return s
}

// powerOfTwo draws two distinct fitting nodes uniformly and takes the one with the
// lower mean cpu/memory requested fraction (Mitzenmacher's power of two choices;
// the first drawn on ties). With a single fitting node it takes it.
type powerOfTwo struct{ fit []*framework.NodeInfo }

func (*powerOfTwo) Name() string { return PowerOfTwo }

func (p *powerOfTwo) Schedule(ctx *policies.Context, pod *framework.PodInfo, nodes []*framework.NodeInfo) (api.NodeName, string) {
	fit := p.fit[:0]
	for _, ni := range nodes {
		if policies.Fits(pod, ni) {
			fit = append(fit, ni)
		}
	}
	p.fit = fit[:0]
	switch len(fit) {
	case 0:
		return "", policies.NoFitReason(len(nodes))
	case 1:
		return fit[0].Name, "power of two choices: the only fitting node"
	}
	i := ctx.Rand.IntN(len(fit))
	j := ctx.Rand.IntN(len(fit) - 1)
	if j >= i {
		j++
	}
	a, b := fit[i], fit[j]
	ua, ub := policies.Utilization(a, &api.Resources{}), policies.Utilization(b, &api.Resources{})
	if ub < ua {
		a, ua, b, ub = b, ub, a, ua
	}
	return a.Name, fmt.Sprintf("power of two choices: %s (load %.3f) over %s (load %.3f)", a.Name, ua, b.Name, ub)
}
