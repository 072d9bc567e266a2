package scheduler

import (
	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/sim"
)

// Decision explains one scheduling attempt: which nodes were examined, why each
// rejected node failed, and how each scored node ranked per plug-in. It is built
// only when Config.OnDecision is set, and handed over when the cycle ends; the
// receiver owns it.
type Decision struct {
	// Time is when the cycle started; End when it finished (its virtual cost).
	Time, End sim.Time
	Pod       string // "pod/<ns>/<name>"
	PodUID    api.UID
	Attempt   int
	// Profile is the schedulerName of the profile that ran the cycle.
	Profile string
	// NumAllNodes is the number of nodes known; Examined how many the filter phase
	// looked at (sampling stops once enough feasible nodes are found); Feasible how
	// many passed every filter.
	NumAllNodes, Examined, Feasible int
	// NumNodesToFind is the sampling target of reference §2.3.
	NumNodesToFind int
	// StartIndex is the rotation index the filter phase started from.
	StartIndex int
	// SkippedFilters are the plug-ins whose PreFilter returned Skip.
	SkippedFilters []string
	// Filter has one verdict per examined node, in examination order.
	Filter []NodeVerdict
	// ScorePlugins are the score plug-ins in profile order, with their weights and
	// whether PreScore skipped them for this pod; Scores[i].Plugin[j] is plug-in j's
	// normalized score of node i (before weighting).
	ScorePlugins []ScorePluginInfo
	Scores       []NodeScores
	// Selected is the chosen node ("" on failure); Ties how many nodes shared the top
	// total (the choice among them is uniform, reference §2.5).
	Selected api.NodeName
	Ties     int
	// Outcome is "scheduled", "unschedulable", "error" or "abandoned" (the pod was
	// deleted or bound elsewhere during the cycle); Message the failure message.
	Outcome string
	Message string
}

// NodeVerdict is one node's filter outcome.
type NodeVerdict struct {
	Node api.NodeName
	// Plugin is the first plug-in that rejected the node ("" when feasible).
	Plugin  string
	Code    framework.Code
	Reasons []string
}

// ScorePluginInfo describes one score plug-in in a Decision.
type ScorePluginInfo struct {
	Name    string
	Weight  int64
	Skipped bool
}

// NodeScores is one scored node.
type NodeScores struct {
	Node api.NodeName
	// Plugin[j] is score plug-in j's normalized score (0 when it was skipped);
	// Raw[j] its score before NormalizeScore.
	Plugin []int64
	Raw    []int64
	// Total is Σ Plugin[j]·weight[j].
	Total int64
}
