package scheduler

import (
	"encoding/json"
)

// DecisionJSON renders a Decision as one JSON line (no trailing newline) for
// scheduling.jsonl (issue 3, part 5). Keys: pod, attempt, time_s, end_s, profile,
// node (the chosen node, "" on failure), outcome, message, ties, num_all_nodes,
// examined, feasible, score_plugins ([{name, weight, skipped}] in profile order)
// and nodes: one entry per examined node in examination order, {name, filter:
// {plugin, status, reasons}, scores: {plugin: {raw, normalized, weighted}}, total}.
// A feasible node has filter {plugin: "", status: "Success"}; scores and total are
// present only when the cycle scored (upstream skips scoring when exactly one node
// is feasible). Plug-ins skipped by PreScore are absent from scores.
func DecisionJSON(d Decision) []byte {
	type filterJSON struct {
		Plugin  string   `json:"plugin"`
		Status  string   `json:"status"`
		Reasons []string `json:"reasons"`
	}
	type scoreJSON struct {
		Raw        int64 `json:"raw"`
		Normalized int64 `json:"normalized"`
		Weighted   int64 `json:"weighted"`
	}
	type nodeJSON struct {
		Name   string               `json:"name"`
		Filter filterJSON           `json:"filter"`
		Scores map[string]scoreJSON `json:"scores,omitempty"`
		Total  *int64               `json:"total,omitempty"`
	}
	type pluginJSON struct {
		Name    string `json:"name"`
		Weight  int64  `json:"weight"`
		Skipped bool   `json:"skipped"`
	}
	type decisionJSON struct {
		Pod          string       `json:"pod"`
		Attempt      int          `json:"attempt"`
		TimeS        float64      `json:"time_s"`
		EndS         float64      `json:"end_s"`
		Profile      string       `json:"profile"`
		Node         string       `json:"node"`
		Outcome      string       `json:"outcome"`
		Message      string       `json:"message,omitempty"`
		Ties         int          `json:"ties"`
		NumAllNodes  int          `json:"num_all_nodes"`
		Examined     int          `json:"examined"`
		Feasible     int          `json:"feasible"`
		ScorePlugins []pluginJSON `json:"score_plugins"`
		Nodes        []nodeJSON   `json:"nodes"`
	}
	out := decisionJSON{
		Pod: d.Pod, Attempt: d.Attempt, TimeS: d.Time.Seconds(), EndS: d.End.Seconds(), Profile: d.Profile,
		Node: string(d.Selected), Outcome: d.Outcome, Message: d.Message, Ties: d.Ties,
		NumAllNodes: d.NumAllNodes, Examined: d.Examined, Feasible: d.Feasible,
		ScorePlugins: []pluginJSON{}, Nodes: []nodeJSON{},
	}
	for _, p := range d.ScorePlugins {
		out.ScorePlugins = append(out.ScorePlugins, pluginJSON{p.Name, p.Weight, p.Skipped})
	}
	scored := make(map[string]int, len(d.Scores))
	for i, s := range d.Scores {
		scored[string(s.Node)] = i
	}
	for _, v := range d.Filter {
		n := nodeJSON{Name: string(v.Node), Filter: filterJSON{Plugin: v.Plugin, Status: v.Code.String(), Reasons: v.Reasons}}
		if n.Filter.Reasons == nil {
			n.Filter.Reasons = []string{}
		}
		if i, ok := scored[string(v.Node)]; ok {
			s := d.Scores[i]
			n.Scores = map[string]scoreJSON{}
			for j, p := range d.ScorePlugins {
				if p.Skipped || j >= len(s.Plugin) {
					continue
				}
				raw := int64(0)
				if j < len(s.Raw) {
					raw = s.Raw[j]
				}
				n.Scores[p.Name] = scoreJSON{Raw: raw, Normalized: s.Plugin[j], Weighted: s.Plugin[j] * p.Weight}
			}
			t := s.Total
			n.Total = &t
		}
		out.Nodes = append(out.Nodes, n)
	}
	b, err := json.Marshal(out)
	if err != nil { // cannot happen: plain types only
		panic(err)
	}
	return b
}
