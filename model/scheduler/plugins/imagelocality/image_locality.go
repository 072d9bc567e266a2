// Package imagelocality holds ImageLocality, the score plug-in that favours nodes
// already holding the pod's images (reference §2.6.3;
// pkg/scheduler/framework/plugins/imagelocality/image_locality.go).
//
// For every container and init container whose (normalized) image is on the node,
// the plug-in adds int(size · nodesWithImage/totalNodes) — the spread factor damps
// "node heating" on the few nodes that have a rare image. The sum is clamped to
// [23 MiB, 1000 MiB · numContainers] and mapped linearly onto 0..100. No
// NormalizeScore.
package imagelocality

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
)

// Name is the plug-in's registered name.
const Name = "ImageLocality"

// Thresholds (image_locality.go): 90 % of Docker Hub images fall in this range.
const (
	mb                    int64 = 1024 * 1024
	minThreshold          int64 = 23 * mb
	maxContainerThreshold int64 = 1000 * mb
)

const preScoreStateKey framework.StateKey = "PreScore" + Name

// ImageLocality scores nodes by the images they already hold.
type ImageLocality struct {
	h framework.Handle
}

var (
	_ framework.PreScorePlugin = (*ImageLocality)(nil)
	_ framework.ScorePlugin    = (*ImageLocality)(nil)
)

// New builds the plug-in; it takes no arguments.
func New(_ any, h framework.Handle) (framework.Plugin, error) { return &ImageLocality{h: h}, nil }

// Name implements framework.Plugin.
func (*ImageLocality) Name() string { return Name }

type preScoreState struct {
	images        []string // normalized names of init and regular containers
	numContainers int
	totalNodes    int
}

func newState(pod *api.Pod, totalNodes int) *preScoreState {
	s := &preScoreState{numContainers: len(pod.Spec.InitContainers) + len(pod.Spec.Containers), totalNodes: totalNodes}
	s.images = make([]string, 0, s.numContainers)
	for i := range pod.Spec.InitContainers {
		s.images = append(s.images, api.NormalizeImage(pod.Spec.InitContainers[i].Image))
	}
	for i := range pod.Spec.Containers {
		s.images = append(s.images, api.NormalizeImage(pod.Spec.Containers[i].Image))
	}
	return s
}

// PreScore implements framework.PreScorePlugin. Upstream ImageLocality has no
// PreScore; kubesim adds one to normalize the image names once per cycle instead of
// once per node. It never returns Skip, so the scores are the upstream ones.
func (pl *ImageLocality) PreScore(state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	state.Write(preScoreStateKey, newState(pod.Pod, len(pl.h.Nodes())))
	return nil
}

// Score implements framework.ScorePlugin.
func (pl *ImageLocality) Score(state *framework.CycleState, pod *framework.PodInfo, node *framework.NodeInfo) (int64, *framework.Status) {
	var s *preScoreState
	if d, err := state.Read(preScoreStateKey); err == nil {
		s = d.(*preScoreState)
	} else {
		s = newState(pod.Pod, len(pl.h.Nodes()))
	}
	return calculatePriority(sumImageScores(node, s.images, s.totalNodes), s.numContainers), nil
}

// sumImageScores adds the spread-scaled size of every image present on the node.
func sumImageScores(node *framework.NodeInfo, images []string, totalNodes int) int64 {
	if totalNodes == 0 { // a node without images sums 0 below
		return 0
	}
	var sum int64
	for _, name := range images {
		if st, ok := node.ImageState(name); ok {
			spread := float64(st.NumNodes) / float64(totalNodes)
			sum += int64(float64(st.Size) * spread)
		}
	}
	return sum
}

// calculatePriority clamps the sum and maps it onto 0..MaxNodeScore.
func calculatePriority(sum int64, numContainers int) int64 {
	maxThreshold := maxContainerThreshold * int64(numContainers)
	if sum < minThreshold {
		sum = minThreshold
	} else if sum > maxThreshold {
		sum = maxThreshold
	}
	if maxThreshold <= minThreshold {
		return 0
	}
	return framework.MaxNodeScore * (sum - minThreshold) / (maxThreshold - minThreshold)
}

// ScoreExtensions implements framework.ScorePlugin (no normalization).
func (*ImageLocality) ScoreExtensions() framework.ScoreExtensions { return nil }
