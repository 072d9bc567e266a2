package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/kubesim/kubesim/results/narrate"
)

// Record is one line of a trace.jsonl file.
type Record struct {
	Time      float64 `json:"time_s"`
	Step      int     `json:"step"`
	Component string  `json:"component"`
	Action    string  `json:"action"`
	Object    string  `json:"object"`
	Detail    string  `json:"detail"`
}

// ReadTrace parses JSON Lines trace records; name is used in errors (with the line).
func ReadTrace(name string, r io.Reader) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return nil, fmt.Errorf("%s:%d: not a trace record: %v", name, line, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return out, nil
}

// Message is an arrow between two lanes (From == To: an event on one lane).
type Message struct {
	Time     float64
	Step     int
	From, To string // lanes
	Kind     string // request, commit, watch, response, call, event
	Label    string
	Record   int // index of the record in the flow that produced it
}

// Flow is the part of a trace the teaching view shows, and the messages derived
// from it.
type Flow struct {
	Records  []Record
	Messages []Message
	// StepFirst and StepEnd are each step's first and last record time in the flow
	// (0 when the step does not occur; see HasStep).
	StepFirst, StepEnd [8]float64
	HasStep            [8]bool
}

// maxFlowRecords bounds the teaching view of long runs.
const maxFlowRecords = 400

// BuildFlow selects the Nginx flow from a trace (the step records up to the end of
// step 7's first burst, plus the first client request) and derives the messages: a
// component's request → the API server → the etcd commit → the response to the
// writer or a watch delivery to the next component; kubelet → Docker calls; client
// → kube-proxy → pod.
func BuildFlow(all []Record) *Flow {
	var recs []Record
	for _, r := range all {
		if r.Step >= 1 && r.Step <= 7 {
			recs = append(recs, r)
		}
	}
	end := -1.0
	for _, r := range recs {
		if r.Step == 7 && (end < 0 || r.Time <= end+1) {
			end = r.Time
		}
	}
	f := &Flow{}
	clientDone := false
	for _, r := range recs {
		if len(f.Records) >= maxFlowRecords {
			break
		}
		if end >= 0 && r.Time > end {
			if !clientDone && strings.HasPrefix(r.Component, "client") {
				f.Records = append(f.Records, r)
				clientDone = true
			}
			continue
		}
		f.Records = append(f.Records, r)
	}
	for _, r := range f.Records {
		if !f.HasStep[r.Step] {
			f.HasStep[r.Step] = true
			f.StepFirst[r.Step] = r.Time
		}
		f.StepEnd[r.Step] = r.Time
	}
	f.Messages = deriveMessages(f.Records)
	return f
}

type commitInfo struct {
	idx    int
	writer string // lane of the request's sender
	comp   string // full component of the sender
}

// triggers: the kind of object a controller watched before creating or updating an
// object of another kind.
var triggers = map[string]string{
	"replicaset":    "deployment",
	"pod":           "replicaset",
	"endpointslice": "pod",
	"service":       "endpointslice",
}

func kindOf(object string) string {
	k, _, _ := strings.Cut(object, "/")
	return k
}

func deriveMessages(recs []Record) []Message {
	var msgs []Message
	pending := map[string][]string{} // object → senders of requests not yet committed (FIFO)
	lastCommit := map[string]commitInfo{}
	lastCommitOfKind := map[string]commitInfo{}
	delivered := map[string]bool{} // "commit index|component"
	for i, r := range recs {
		lane := narrate.LaneOf(r.Component)
		add := func(from, to, kind, label string) {
			msgs = append(msgs, Message{Time: r.Time, Step: r.Step, From: from, To: to, Kind: kind, Label: label, Record: i})
		}
		switch {
		case lane == "apiserver" && strings.HasPrefix(r.Detail, "request from "):
			sender := strings.TrimPrefix(r.Detail, "request from ")
			pending[r.Object] = append(pending[r.Object], sender)
			from := narrate.LaneOf(sender)
			if from == "" {
				from = "user"
			}
			add(from, "apiserver", "request", strings.ToUpper(verb(r.Action))+" "+r.Object)
		case lane == "etcd" && r.Action == "commit":
			ci := commitInfo{idx: i}
			if q := pending[r.Object]; len(q) > 0 {
				ci.comp = q[0]
				ci.writer = narrate.LaneOf(q[0])
				pending[r.Object] = q[1:]
			}
			lastCommit[r.Object] = ci
			lastCommitOfKind[kindOf(r.Object)] = ci
			add("apiserver", "etcd", "commit", etcdLabel(r.Detail, r.Object))
		case lane == "etcd" || lane == "apiserver" || lane == "":
			add(lane, lane, "event", r.Action+" "+r.Object)
		case lane == "docker":
			switch r.Action {
			case "pull", "create", "start":
				if !strings.HasPrefix(r.Detail, "pulled") {
					add("kubelet", "docker", "call", r.Action+" "+shortObject(r.Object))
					continue
				}
			}
			add("docker", "docker", "event", r.Action+" "+shortObject(r.Object))
		case lane == "user" && strings.HasPrefix(r.Component, "client"):
			add("user", "kube-proxy", "call", "request "+r.Object)
			add("kube-proxy", "docker", "call", "→ pod")
		default:
			// A controller, the scheduler, a kubelet or kube-proxy acting: if an etcd
			// commit of this object (or of the kind it reacts to) has not yet reached
			// this component, it reached it now — as the response to its own write or
			// through its watch.
			ci, ok := lastCommit[r.Object]
			if !ok || (ci.writer == lane && ci.comp != r.Component && !sameBase(ci.comp, r.Component)) {
				if t, tok := triggers[kindOf(r.Object)]; tok && (strings.HasPrefix(r.Action, "create") || !ok) {
					ci, ok = lastCommitOfKind[t]
				}
			}
			if lane == "kube-proxy" {
				ci, ok = lastCommitOfKind["endpointslice"]
			}
			if ok && lane != "user" {
				key := strconv.Itoa(ci.idx) + "|" + r.Component
				if !delivered[key] {
					delivered[key] = true
					obj := recs[ci.idx].Object
					if ci.writer == lane && (ci.comp == r.Component || sameBase(ci.comp, r.Component)) {
						add("apiserver", lane, "response", "OK "+obj)
					} else {
						add("apiserver", lane, "watch", "watch: "+obj)
					}
				}
			}
			add(lane, lane, "event", r.Action+" "+shortObject(r.Object))
		}
	}
	return msgs
}

func sameBase(a, b string) bool {
	x, _, _ := strings.Cut(a, "/")
	y, _, _ := strings.Cut(b, "/")
	return x == y && x != "controller-manager"
}

func verb(action string) string {
	switch action {
	case "create":
		return "post"
	case "update", "status":
		return "put"
	case "bind":
		return "post binding"
	}
	return action
}

func etcdLabel(detail, object string) string {
	if strings.HasPrefix(detail, "put ") || strings.HasPrefix(detail, "delete ") {
		return detail
	}
	return "commit " + object
}

func shortObject(o string) string {
	if len(o) > 48 {
		return o[:47] + "…"
	}
	return o
}

// EtcdKey is one key stored in etcd and the revision of its last write.
type EtcdKey struct {
	Key      string
	Revision int64
}

// EtcdKeysAt reconstructs the keys stored in etcd at time t from the trace's etcd
// commit records ("put KEY at revision N", "delete KEY at revision N"), sorted by
// key.
func EtcdKeysAt(recs []Record, t float64) []EtcdKey {
	keys := map[string]int64{}
	for _, r := range recs {
		if r.Time > t {
			break
		}
		if narrate.LaneOf(r.Component) != "etcd" || r.Action != "commit" && r.Action != "delete" {
			continue
		}
		fields := strings.Fields(r.Detail)
		if len(fields) < 2 {
			continue
		}
		var rev int64
		if i := indexOf(fields, "revision"); i >= 0 && i+1 < len(fields) {
			rev, _ = strconv.ParseInt(strings.TrimRight(fields[i+1], ".,;)"), 10, 64)
		}
		switch fields[0] {
		case "put", "create", "update":
			keys[fields[1]] = rev
		case "delete":
			delete(keys, fields[1])
		}
	}
	out := make([]EtcdKey, 0, len(keys))
	for k, v := range keys {
		out = append(out, EtcdKey{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

// WriteMermaid writes the flow as a Mermaid sequence diagram: one participant per
// lane, one arrow per message, a note at the start of each step.
func WriteMermaid(w io.Writer, recs []Record, lang narrate.Lang) error {
	f := BuildFlow(recs)
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	used := map[string]bool{}
	for _, m := range f.Messages {
		used[m.From], used[m.To] = true, true
	}
	for _, l := range narrate.Lanes {
		if used[l] {
			fmt.Fprintf(&b, "    participant %s as %s\n", mermaidID(l), mermaidText(narrate.LaneName(lang, l)))
		}
	}
	first, last := "", ""
	for _, l := range narrate.Lanes {
		if used[l] {
			if first == "" {
				first = l
			}
			last = l
		}
	}
	step := 0
	for _, m := range f.Messages {
		if m.Kind == "event" {
			continue
		}
		if m.Step != step && m.Step > step {
			step = m.Step
			if s, ok := narrate.StepOf(lang, step); ok {
				fmt.Fprintf(&b, "    Note over %s,%s: %s (t=%s)\n", mermaidID(first), mermaidID(last), mermaidText(narrate.StepHeading(lang, s)), fmtTime(f.StepFirst[step]))
			}
		}
		arrow := "->>"
		if m.Kind == "response" || m.Kind == "watch" {
			arrow = "-->>"
		}
		fmt.Fprintf(&b, "    %s%s%s: %s %s\n", mermaidID(m.From), arrow, mermaidID(m.To), fmtTime(m.Time), mermaidText(m.Label))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mermaidID(lane string) string { return strings.ReplaceAll(lane, "-", "_") }

func mermaidText(s string) string {
	r := strings.NewReplacer(";", ",", "#", "", "\n", " ", "\r", " ", "<", "‹", ">", "›")
	return r.Replace(s)
}

func fmtTime(t float64) string {
	return strconv.FormatFloat(t, 'f', 3, 64) + "s"
}
