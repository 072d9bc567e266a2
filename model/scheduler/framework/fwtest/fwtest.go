// Package fwtest has small builders for plug-in tests: nodes, pods, NodeInfos with
// their pods and image states aggregated the way the scheduler's cache does, and a
// fake framework.Handle. Test support only; model code must not import it.
package fwtest

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/sim"
)

// Node returns a node with the given allocatable cpu (milli), memory (bytes) and pod
// limit (110 when pods is 0).
func Node(name string, milliCPU, memory int64) *api.Node {
	return &api.Node{
		ObjectMeta: api.ObjectMeta{Name: name, Labels: map[string]string{api.LabelHostname: name}},
		Status:     api.NodeStatus{Allocatable: api.Resources{MilliCPU: milliCPU, Memory: memory, Pods: 110}},
	}
}

// WithScalar adds an extended resource to a node's allocatable.
func WithScalar(n *api.Node, name api.ResourceName, v int64) *api.Node {
	if n.Status.Allocatable.Scalar == nil {
		n.Status.Allocatable.Scalar = map[api.ResourceName]int64{}
	}
	n.Status.Allocatable.Scalar[name] = v
	return n
}

// Pod returns a pod with one container per request (no container when none given).
func Pod(name string, requests ...api.Resources) *api.Pod {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: api.NamespaceDefault, UID: api.UID("uid-" + name)}}
	for i, r := range requests {
		p.Spec.Containers = append(p.Spec.Containers, api.Container{Name: "c" + string(rune('0'+i)), Image: "img", Requests: r})
	}
	return p
}

// OnNode returns p bound to node.
func OnNode(p *api.Pod, node string) *api.Pod {
	p.Spec.NodeName = api.NodeName(node)
	return p
}

// NodeInfos builds one NodeInfo per node, with the pods whose spec.nodeName names it
// and the image states of every node's status.images (names as reported, shared
// counts across nodes), in node order.
func NodeInfos(nodes []*api.Node, pods []*api.Pod) []*framework.NodeInfo {
	images := map[string]*framework.ImageState{}
	out := make([]*framework.NodeInfo, len(nodes))
	byName := map[api.NodeName]*framework.NodeInfo{}
	for i, n := range nodes {
		ni := framework.NewNodeInfo(api.NodeName(n.Name))
		ni.SetNode(n)
		for _, im := range n.Status.Images {
			for _, name := range im.Names {
				if ni.ImageStates == nil {
					ni.ImageStates = map[string]*framework.ImageState{}
				}
				if _, dup := ni.ImageStates[name]; dup {
					continue
				}
				st := images[name]
				if st == nil {
					st = &framework.ImageState{Size: im.SizeBytes}
					images[name] = st
				}
				st.NumNodes++
				ni.ImageStates[name] = st
			}
		}
		out[i] = ni
		byName[ni.Name] = ni
	}
	for _, p := range pods {
		if ni := byName[p.Spec.NodeName]; ni != nil {
			ni.AddPod(framework.NewPodInfo(p))
		}
	}
	return out
}

// Handle is a fake framework.Handle over a fixed node list.
type Handle struct {
	NodeList []*framework.NodeInfo
	Time     sim.Time
	API      *apiserver.Client
}

var _ framework.Handle = (*Handle)(nil)

// Nodes implements framework.Handle.
func (h *Handle) Nodes() []*framework.NodeInfo { return h.NodeList }

// NodeInfo implements framework.Handle.
func (h *Handle) NodeInfo(name api.NodeName) *framework.NodeInfo {
	for _, ni := range h.NodeList {
		if ni.Name == name {
			return ni
		}
	}
	return nil
}

// Client implements framework.Handle.
func (h *Handle) Client() *apiserver.Client { return h.API }

// Now implements framework.Handle.
func (h *Handle) Now() sim.Time { return h.Time }

// Scores runs PreScore (when implemented; a Skip is reported as skipped=true), then
// Score on every node and NormalizeScore, the way the scheduler does.
func Scores(pl framework.ScorePlugin, pod *api.Pod, nodes []*framework.NodeInfo) (scores []framework.NodeScore, skipped bool, err *framework.Status) {
	state := framework.NewCycleState()
	pi := framework.NewPodInfo(pod)
	if ps, ok := pl.(framework.PreScorePlugin); ok {
		st := ps.PreScore(state, pi, nodes)
		if st.IsSkip() {
			return nil, true, nil
		}
		if !st.IsSuccess() {
			return nil, false, st
		}
	}
	for _, ni := range nodes {
		s, st := pl.Score(state, pi, ni)
		if !st.IsSuccess() {
			return nil, false, st
		}
		scores = append(scores, framework.NodeScore{Name: ni.Name, Score: s})
	}
	if ext := pl.ScoreExtensions(); ext != nil {
		if st := ext.NormalizeScore(state, pi, scores); !st.IsSuccess() {
			return nil, false, st
		}
	}
	return scores, false, nil
}

// Values returns the scores alone, in order.
func Values(scores []framework.NodeScore) []int64 {
	out := make([]int64, len(scores))
	for i, s := range scores {
		out[i] = s.Score
	}
	return out
}
