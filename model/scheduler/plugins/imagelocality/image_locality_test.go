package imagelocality

import (
	"slices"
	"testing"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/framework/fwtest"
)

func imageNode(name string, images ...api.ContainerImage) *api.Node {
	n := fwtest.Node(name, 1000, 1000)
	n.Status.Images = images
	return n
}

func img(sizeMB int64, names ...string) api.ContainerImage {
	return api.ContainerImage{Names: names, SizeBytes: sizeMB * mb}
}

func podWith(images []string, init ...string) *api.Pod {
	p := &api.Pod{}
	for _, im := range images {
		p.Spec.Containers = append(p.Spec.Containers, api.Container{Image: im})
	}
	for _, im := range init {
		p.Spec.InitContainers = append(p.Spec.InitContainers, api.Container{Image: im})
	}
	return p
}

// Cases and expected scores from upstream image_locality_test.go
// (TestImageLocalityPriority, the per-container maximum threshold).
func TestImageLocalityUpstreamCases(t *testing.T) {
	node403002000 := func(n string) *api.Node {
		return imageNode(n, img(40, "gcr.io/40:latest", "gcr.io/40:v1", "gcr.io/40:v1"), img(300, "gcr.io/300:latest", "gcr.io/300:v1"), img(2000, "gcr.io/2000:latest"))
	}
	node25010 := func(n string) *api.Node {
		return imageNode(n, img(250, "gcr.io/250:latest"), img(10, "gcr.io/10:latest", "gcr.io/10:v1"))
	}
	node60040900 := func(n string) *api.Node {
		return imageNode(n, img(600, "gcr.io/600:latest"), img(40, "gcr.io/40:latest"), img(900, "gcr.io/900:latest"))
	}
	node300600900 := func(n string) *api.Node {
		return imageNode(n, img(300, "gcr.io/300:latest"), img(600, "gcr.io/600:latest"), img(900, "gcr.io/900:latest"))
	}
	node400030 := func(n string) *api.Node {
		return imageNode(n, img(4000, "gcr.io/4000:latest"), img(30, "gcr.io/30:latest"))
	}
	node203040 := func(n string) *api.Node {
		return imageNode(n, img(20, "gcr.io/20:latest"), img(30, "gcr.io/30:latest"), img(40, "gcr.io/40:latest"))
	}
	empty := func(n string) *api.Node { return imageNode(n) }
	tests := []struct {
		name  string
		pod   *api.Pod
		nodes []*api.Node
		want  []int64
	}{
		{"two images spread on two nodes, prefer the larger image one", podWith([]string{"gcr.io/40", "gcr.io/250"}),
			[]*api.Node{node403002000("node1"), node25010("node2")}, []int64{0, 5}},
		{"two images on one node, prefer this node", podWith([]string{"gcr.io/40", "gcr.io/300"}),
			[]*api.Node{node403002000("node1"), node25010("node2")}, []int64{7, 0}},
		{"if exceed limit, use limit", podWith([]string{"gcr.io/10", "gcr.io/4000"}),
			[]*api.Node{node400030("node1"), node25010("node2")}, []int64{100, 0}},
		{"if exceed limit, use limit (with node which has no images present)", podWith([]string{"gcr.io/10", "gcr.io/4000"}),
			[]*api.Node{node400030("node1"), node25010("node2"), empty("node3")}, []int64{66, 0, 0}},
		{"pod with multiple large images, node2 is preferred", podWith([]string{"gcr.io/300", "gcr.io/600", "gcr.io/900"}),
			[]*api.Node{node60040900("node1"), node300600900("node2"), empty("node3")}, []int64{32, 36, 0}},
		{"pod with multiple small images", podWith([]string{"gcr.io/30", "gcr.io/40"}),
			[]*api.Node{node203040("node1"), node400030("node2")}, []int64{1, 0}},
		{"include InitContainers: two images spread on two nodes, prefer the larger image one", podWith([]string{"gcr.io/30"}, "gcr.io/300"),
			[]*api.Node{node403002000("node1"), node203040("node2")}, []int64{6, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nis := fwtest.NodeInfos(tc.nodes, nil)
			pl, err := New(nil, &fwtest.Handle{NodeList: nis})
			if err != nil {
				t.Fatal(err)
			}
			scores, _, st := fwtest.Scores(pl.(framework.ScorePlugin), tc.pod, nis)
			if !st.IsSuccess() {
				t.Fatal(st)
			}
			if got := fwtest.Values(scores); !slices.Equal(got, tc.want) {
				t.Errorf("scores = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCalculatePriority(t *testing.T) {
	tests := []struct {
		name          string
		sum           int64
		numContainers int
		want          int64
	}{
		{"below the minimum", 10 * mb, 1, 0},
		{"in range", 500 * mb, 1, 100 * (500*mb - minThreshold) / (maxContainerThreshold - minThreshold)},
		{"above the maximum", 2000 * mb, 1, 100},
		{"two containers raise the maximum", 500 * mb, 2, 100 * (500*mb - minThreshold) / (2*maxContainerThreshold - minThreshold)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := calculatePriority(tc.sum, tc.numContainers); got != tc.want {
				t.Errorf("calculatePriority(%d, %d) = %d, want %d", tc.sum, tc.numContainers, got, tc.want)
			}
		})
	}
}
