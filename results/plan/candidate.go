package plan

import (
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// NodeNames returns the names the scenario gives to count nodes of a pool called
// name: name itself for one node, otherwise name-1 … name-count.
func NodeNames(name string, count int) []string {
	if count == 1 {
		return []string{name}
	}
	out := make([]string, count)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", name, i+1)
	}
	return out
}

// Candidate returns the scenario document scenarioYAML with its cluster.nodes
// replaced by one pool of count nodes of type t (zones round-robin) and its
// cluster.nodeGroups and clusterAutoscaler removed (a plan sizes a fixed cluster).
// With withFailure, the plan's failure is appended to the scenario's faults. The
// result is YAML for scenario.Parse, which validates it.
func (p *Plan) Candidate(scenarioYAML []byte, t NodeType, count int, withFailure bool) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(scenarioYAML, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the scenario is not a YAML mapping")
	}
	top := doc.Content[0]
	cl := mapGet(top, "cluster")
	if cl == nil {
		cl = &yaml.Node{Kind: yaml.MappingNode}
		mapSet(top, "cluster", cl)
	}
	if cl.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("cluster: not a mapping")
	}
	pool := &yaml.Node{Kind: yaml.MappingNode}
	mapSet(pool, "name", str(t.Name))
	mapSet(pool, "count", intNode(int64(count)))
	mapSet(pool, "cpu", str(t.CPU))
	mapSet(pool, "memory", str(t.Memory))
	if t.Pods != nil {
		mapSet(pool, "pods", intNode(*t.Pods))
	}
	if t.GPUs > 0 {
		// Passed on as the pool's gpus field; a scenario schema without GPUs on
		// node pools rejects it with a clear error.
		mapSet(pool, "gpus", intNode(t.GPUs))
	}
	if t.Zone != "" {
		mapSet(pool, "zone", str(t.Zone))
	}
	if len(t.Zones) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, z := range t.Zones {
			seq.Content = append(seq.Content, str(z))
		}
		mapSet(pool, "zones", seq)
	}
	if len(t.Labels) > 0 {
		lm := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range sortedKeys(t.Labels) {
			mapSet(lm, k, str(t.Labels[k]))
		}
		mapSet(pool, "labels", lm)
	}
	mapSet(cl, "nodes", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{pool}})
	mapDel(cl, "nodeGroups")
	mapDel(cl, "clusterAutoscaler")
	if withFailure && p.SLOs.Failure != nil {
		f := p.SLOs.Failure
		fault := &yaml.Node{Kind: yaml.MappingNode}
		mapSet(fault, "name", str("plan-"+f.Name))
		mapSet(fault, "kind", str(f.Kind))
		mapSet(fault, "at", str(f.At))
		target := &yaml.Node{Kind: yaml.MappingNode}
		switch f.Kind {
		case "zone-outage":
			zone := f.Zone
			if zone == "" {
				zone = t.Zone
				if len(t.Zones) > 0 {
					zone = t.Zones[0]
				}
			}
			mapSet(target, "zone", str(zone))
		default:
			names := NodeNames(t.Name, count)
			seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for i := 0; i < f.Nodes && i < len(names); i++ {
				seq.Content = append(seq.Content, str(names[i]))
			}
			mapSet(target, "nodes", seq)
		}
		mapSet(fault, "target", target)
		faults := mapGet(top, "faults")
		if faults == nil || faults.Kind != yaml.SequenceNode {
			faults = &yaml.Node{Kind: yaml.SequenceNode}
			mapSet(top, "faults", faults)
		}
		faults.Content = append(faults.Content, fault)
	}
	return yaml.Marshal(&doc)
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func intNode(v int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
}

func mapGet(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func mapSet(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, str(key), v)
}

func mapDel(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}
