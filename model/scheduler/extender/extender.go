// Package extender is a client of the Kubernetes scheduler extender HTTP protocol
// (k8s.io/kube-scheduler/extender/v1; reference §2.5; upstream
// pkg/scheduler/extender.go HTTPExtender) that runs an extender as a kubesim raw
// policy (policies.Policy), so that an extender written for a real cluster — in any
// language — places kubesim's pods.
//
// THIS PACKAGE IS AN I/O ADAPTER: it is the one place under model/scheduler that
// talks to the outside world, imported only by cmd/ and model/cluster, never by the
// model's components. The HTTP round trip itself is injected (Config.Transport, a
// POST of a JSON body that returns the response body) so that the package compiles
// under the layering rule "the model imports no net/http"; cmd/ supplies the
// net/http implementation (see HTTPTransport in extender_e2e_test.go). The calls are synchronous inside the scheduling cycle: the
// virtual clock does not advance while waiting, and the run stays deterministic if
// the extender's answers are (a real extender's latency is not modelled; the cycle
// costs its usual virtual time).
//
// Per scheduling attempt the policy (1) keeps the nodes where the pod fits
// (policies.Fits: resources, GPUs, allowed GPU models — the part the in-process
// filters play upstream), (2) POSTs ExtenderArgs to urlPrefix/filterVerb and keeps
// the nodes the extender returns, (3) POSTs to urlPrefix/prioritizeVerb and adds
// score·weight·(MaxNodeScore/MaxExtenderPriority) per host (upstream
// prioritizeNodes), and (4) takes the highest total, ties broken uniformly with the
// policy's random stream. Without a prioritize verb every remaining node ties.
// Failures and timeouts (httpTimeout, default 5 s as upstream
// DefaultExtenderTimeout) are errors (the attempt is a SchedulerError) unless the
// extender is ignorable, in which case the failing call is skipped.
//
// Wire format: the JSON of the upstream Go types, whose fields carry no json tags
// (keys "Pod", "Nodes", "NodeNames", "FailedNodes", "Host", "Score", …). Pods and
// nodes are encoded as core/v1 objects (metadata, spec/status with quantities as
// strings). kubesim adds three node annotations a real cluster does not have, so an
// extender without its own informer can see node load: kubesim.io/pod-count,
// kubesim.io/requested-cpu (millicores) and kubesim.io/requested-memory (bytes).
//
// Simplifications: bindVerb and preemptVerb are not called (kubesim's DefaultBinder
// binds; Bind is provided for callers that want to notify an extender);
// managedResources is not modelled (every pod goes to the extender); HTTPS is not
// supported.
package extender

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/scheduler/framework"
	"github.com/kubesim/kubesim/model/scheduler/policies"
)

// MaxExtenderPriority is the highest score an extender may give (upstream
// extenderv1.MaxExtenderPriority).
const MaxExtenderPriority int64 = 10

// DefaultTimeout is upstream's DefaultExtenderTimeout.
const DefaultTimeout = 5 * time.Second

// Config is one extender (upstream KubeSchedulerConfiguration extenders[]).
type Config struct {
	// Name is the policy name (default "extender").
	Name             string
	URLPrefix        string
	FilterVerb       string
	PrioritizeVerb   string
	BindVerb         string
	Weight           int64
	NodeCacheCapable bool
	Ignorable        bool
	// HTTPTimeout bounds each call (0: DefaultTimeout).
	HTTPTimeout time.Duration
	// Transport performs one call: POST body (JSON) to url within timeout and return
	// the body of a 200 response, or an error (non-200 status, timeout, network).
	// Required.
	Transport Transport
}

// Transport is the HTTP POST the client uses (see Config.Transport).
type Transport func(url string, body []byte, timeout time.Duration) ([]byte, error)

// Args is ExtenderArgs.
type Args struct {
	Pod       *Pod
	Nodes     *NodeList `json:",omitempty"`
	NodeNames *[]string `json:",omitempty"`
}

// FilterResult is ExtenderFilterResult.
type FilterResult struct {
	Nodes                      *NodeList         `json:",omitempty"`
	NodeNames                  *[]string         `json:",omitempty"`
	FailedNodes                map[string]string `json:",omitempty"`
	FailedAndUnresolvableNodes map[string]string `json:",omitempty"`
	Error                      string            `json:",omitempty"`
}

// HostPriority is one host's score (0..MaxExtenderPriority).
type HostPriority struct {
	Host  string
	Score int64
}

// BindingArgs is ExtenderBindingArgs.
type BindingArgs struct {
	PodName      string
	PodNamespace string
	PodUID       string
	Node         string
}

// BindingResult is ExtenderBindingResult.
type BindingResult struct {
	Error string `json:",omitempty"`
}

// ObjectMeta, Pod, Node and NodeList are the parts of core/v1 objects kubesim sends.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	UID         string            `json:"uid,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Container is a v1.Container (name, image, resources.requests).
type Container struct {
	Name      string `json:"name"`
	Image     string `json:"image,omitempty"`
	Resources struct {
		Requests map[string]string `json:"requests,omitempty"`
	} `json:"resources"`
}

// Pod is a v1.Pod.
type Pod struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     struct {
		SchedulerName string      `json:"schedulerName,omitempty"`
		Priority      *int32      `json:"priority,omitempty"`
		Containers    []Container `json:"containers"`
	} `json:"spec"`
}

// Node is a v1.Node.
type Node struct {
	Metadata ObjectMeta `json:"metadata"`
	Status   struct {
		Capacity    map[string]string `json:"capacity,omitempty"`
		Allocatable map[string]string `json:"allocatable,omitempty"`
	} `json:"status"`
}

// NodeList is a v1.NodeList.
type NodeList struct {
	Items []Node `json:"items"`
}

// Extender is the client; it implements policies.Policy and policies.Failer.
type Extender struct {
	cfg    Config
	err    error
	fit    []*framework.NodeInfo
	totals map[string]int64
}

// New validates cfg and returns the extender client.
func New(cfg Config) (*Extender, error) {
	if cfg.URLPrefix == "" {
		return nil, errors.New("extender: urlPrefix is required")
	}
	if cfg.Transport == nil {
		return nil, errors.New("extender: a Transport is required")
	}
	if cfg.Weight < 0 {
		return nil, fmt.Errorf("extender: weight must not be negative, got %d", cfg.Weight)
	}
	if cfg.Weight == 0 {
		cfg.Weight = 1
	}
	if cfg.Name == "" {
		cfg.Name = "extender"
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = DefaultTimeout
	}
	return &Extender{cfg: cfg, totals: map[string]int64{}}, nil
}

// Name implements policies.Policy.
func (e *Extender) Name() string { return e.cfg.Name }

// Err implements policies.Failer: the error of the last Schedule, if any.
func (e *Extender) Err() error { return e.err }

func (e *Extender) send(verb string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	url := e.cfg.URLPrefix + "/" + verb
	data, err := e.cfg.Transport(url, body, e.cfg.HTTPTimeout)
	if err != nil {
		return fmt.Errorf("extender %s: %w", url, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("extender %s: decoding the answer: %w", url, err)
	}
	return nil
}

// Schedule implements policies.Policy.
func (e *Extender) Schedule(ctx *policies.Context, pod *framework.PodInfo, nodes []*framework.NodeInfo) (api.NodeName, string) {
	e.err = nil
	fit := e.fit[:0]
	for _, ni := range nodes {
		if policies.Fits(pod, ni) {
			fit = append(fit, ni)
		}
	}
	e.fit = fit[:0]
	if len(fit) == 0 {
		return "", policies.NoFitReason(len(nodes))
	}
	args := e.args(pod, fit)
	if e.cfg.FilterVerb != "" {
		var res FilterResult
		err := e.send(e.cfg.FilterVerb, args, &res)
		if err == nil && res.Error != "" {
			err = fmt.Errorf("extender filter: %s", res.Error)
		}
		switch {
		case err != nil && !e.cfg.Ignorable:
			e.err = err
			return "", err.Error()
		case err == nil:
			keep := map[string]bool{}
			if res.NodeNames != nil {
				for _, n := range *res.NodeNames {
					keep[n] = true
				}
			} else if res.Nodes != nil {
				for i := range res.Nodes.Items {
					keep[res.Nodes.Items[i].Metadata.Name] = true
				}
			}
			out := fit[:0]
			for _, ni := range fit {
				if keep[string(ni.Name)] {
					out = append(out, ni)
				}
			}
			fit = out
			if len(fit) == 0 {
				return "", fmt.Sprintf("0/%d nodes are available: %d rejected by the extender's filter%s", len(nodes), len(res.FailedNodes)+len(res.FailedAndUnresolvableNodes), failedSummary(res))
			}
			args = e.args(pod, fit)
		}
	}
	clear(e.totals)
	if e.cfg.PrioritizeVerb != "" {
		var list []HostPriority
		err := e.send(e.cfg.PrioritizeVerb, args, &list)
		if err != nil && !e.cfg.Ignorable {
			e.err = err
			return "", err.Error()
		}
		if err == nil {
			for _, hp := range list {
				e.totals[hp.Host] += hp.Score * e.cfg.Weight * (framework.MaxNodeScore / MaxExtenderPriority)
			}
		}
	}
	best, ties := 0, 1
	for i := 1; i < len(fit); i++ {
		a, b := e.totals[string(fit[i].Name)], e.totals[string(fit[best].Name)]
		switch {
		case a > b:
			best, ties = i, 1
		case a == b:
			ties++
			if ctx.Rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return fit[best].Name, fmt.Sprintf("extender %s: %d node(s) after its filter, best total %d (score·weight·%d), %d tied",
		e.cfg.URLPrefix, len(fit), e.totals[string(fit[best].Name)], framework.MaxNodeScore/MaxExtenderPriority, ties)
}

func failedSummary(res FilterResult) string {
	m := map[string]string{}
	for k, v := range res.FailedNodes {
		m[k] = v
	}
	for k, v := range res.FailedAndUnresolvableNodes {
		m[k] = v
	}
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fmt.Sprintf(" (%s: %s)", keys[0], m[keys[0]])
}

// Bind calls the bind verb (for callers that want the extender to know of a
// binding; kubesim's scheduler binds through its own DefaultBinder).
func (e *Extender) Bind(pod *api.Pod, node api.NodeName) error {
	if e.cfg.BindVerb == "" {
		return errors.New("extender: no bindVerb configured")
	}
	var res BindingResult
	if err := e.send(e.cfg.BindVerb, BindingArgs{PodName: pod.Name, PodNamespace: pod.Namespace, PodUID: string(pod.UID), Node: string(node)}, &res); err != nil {
		return err
	}
	if res.Error != "" {
		return errors.New(res.Error)
	}
	return nil
}

func (e *Extender) args(pod *framework.PodInfo, nodes []*framework.NodeInfo) *Args {
	a := &Args{Pod: encodePod(pod.Pod)}
	if e.cfg.NodeCacheCapable {
		names := make([]string, len(nodes))
		for i, ni := range nodes {
			names[i] = string(ni.Name)
		}
		a.NodeNames = &names
		return a
	}
	list := &NodeList{Items: make([]Node, len(nodes))}
	for i, ni := range nodes {
		list.Items[i] = encodeNode(ni)
	}
	a.Nodes = list
	return a
}

func quantities(r *api.Resources) map[string]string {
	m := map[string]string{}
	if r.MilliCPU != 0 {
		m["cpu"] = strconv.FormatInt(r.MilliCPU, 10) + "m"
	}
	if r.Memory != 0 {
		m["memory"] = strconv.FormatInt(r.Memory, 10)
	}
	if r.EphemeralStorage != 0 {
		m["ephemeral-storage"] = strconv.FormatInt(r.EphemeralStorage, 10)
	}
	if r.Pods != 0 {
		m["pods"] = strconv.FormatInt(r.Pods, 10)
	}
	for k, v := range r.Scalar {
		m[string(k)] = strconv.FormatInt(v, 10)
	}
	return m
}

func encodePod(p *api.Pod) *Pod {
	out := &Pod{Metadata: ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: string(p.UID), Labels: p.Labels, Annotations: p.Annotations}}
	out.Spec.SchedulerName = p.Spec.SchedulerName
	prio := p.Spec.Priority
	out.Spec.Priority = &prio
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		var oc Container
		oc.Name, oc.Image = c.Name, c.Image
		oc.Resources.Requests = quantities(&c.Requests)
		out.Spec.Containers = append(out.Spec.Containers, oc)
	}
	return out
}

func encodeNode(ni *framework.NodeInfo) Node {
	n := ni.Node()
	var out Node
	out.Metadata = ObjectMeta{Name: n.Name, Labels: n.Labels, Annotations: map[string]string{
		"kubesim.io/pod-count":        strconv.Itoa(len(ni.Pods)),
		"kubesim.io/requested-cpu":    strconv.FormatInt(ni.Requested.MilliCPU, 10),
		"kubesim.io/requested-memory": strconv.FormatInt(ni.Requested.Memory, 10),
	}}
	out.Status.Capacity = quantities(&n.Status.Capacity)
	out.Status.Allocatable = quantities(&ni.Allocatable)
	return out
}
