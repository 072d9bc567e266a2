package proxy

import (
	"cmp"
	"slices"
	"strings"

	"github.com/kubesim/kubesim/sim"
)

// Dataplane is a real data path that kube-proxy programs, in real-run mode: the
// real proxy of model/proxy/real implements it. The Proxy calls Program on the
// engine goroutine at the end of each sync, at the instant the modeled rules take
// effect, once for every Service whose rules changed, with the whole Service (every
// port, in Service order). Program must not block for long (no network round
// trips): it swaps tables and opens or closes local listeners. A nil Dataplane (the
// default) means simulation only.
type Dataplane interface {
	Program(rules ServiceRules)
}

// ServiceRules is the programmed state of one Service, as the Dataplane receives it.
type ServiceRules struct {
	Namespace, Name string
	// ClusterIP is the Service's virtual IP ("" when the Service is gone or headless).
	ClusterIP string
	// Ports are the programmed service ports; empty means the Service has no rules
	// any more (deleted or headless): the data path stops serving it.
	Ports []PortRules
	// ClientIPAffinity is sessionAffinity: ClientIP.
	ClientIPAffinity bool
	// Mode and Scheduler are the proxy's configuration (how to choose a backend).
	Mode      Mode
	Scheduler Scheduler
	// ChangedAt is when the proxy's watch delivered the first change this sync
	// programmed; At is now, the end of the sync (the proxy's decision).
	ChangedAt, At sim.Time
}

// PortRules is one programmed service port.
type PortRules struct {
	Name, Protocol string
	Port           int32
	// Endpoints are the backends "podIP:port" in rule order (slice-name order, then
	// slice order), possibly with duplicates (see the package comment). The slice is
	// the receiver's.
	Endpoints []Endpoint
	// Fallback is set when no endpoint is ready and serving+terminating ones are used.
	Fallback bool
}

// Endpoint is one backend of a service port.
type Endpoint struct {
	IP   string
	Port int32
}

// SetDataplane makes the proxy program d at the end of every sync that changes a
// Service's rules (and once for every programmed Service at once when set after
// Start). In real-run mode give it to the kube-proxy of one node: the real proxy
// then serves what that node's rules say.
func (p *Proxy) SetDataplane(d Dataplane) {
	p.dataplane = d
	if d == nil {
		return
	}
	keys := make([]svcKey, 0, len(p.tables))
	for k := range p.tables {
		keys = append(keys, k)
	}
	sortKeys(keys)
	for _, k := range keys {
		p.programDataplane(k, p.tables[k], p.eng.Now())
	}
}

// programDataplane hands Service k's table t (nil: no rules) to the dataplane.
func (p *Proxy) programDataplane(k svcKey, t *svcTable, since sim.Time) {
	r := ServiceRules{Namespace: k.ns, Name: k.name, Mode: p.cfg.Mode, Scheduler: p.scheduler(), ChangedAt: since, At: p.eng.Now()}
	if t != nil {
		r.ClusterIP, r.ClientIPAffinity = t.clusterIP, t.affinity
		r.Ports = make([]PortRules, 0, len(t.ports))
		for _, pt := range t.ports {
			pr := PortRules{Name: pt.name, Protocol: pt.protocol, Port: pt.port, Fallback: pt.fallback}
			pr.Endpoints = make([]Endpoint, 0, pt.n())
			for _, list := range pt.groups {
				for i := range list {
					pr.Endpoints = append(pr.Endpoints, Endpoint{IP: list[i].ip, Port: list[i].port})
				}
			}
			r.Ports = append(r.Ports, pr)
		}
	}
	p.dataplane.Program(r)
}

func sortKeys(keys []svcKey) {
	slices.SortFunc(keys, func(a, b svcKey) int { return cmp.Or(strings.Compare(a.ns, b.ns), strings.Compare(a.name, b.name)) })
}

// SourceHashBucket returns the bucket of clientIP in IPVS sh's 256-bucket table
// (see SchedulerSH); server = bucket mod n. Exported for the real proxy.
func SourceHashBucket(clientIP string) int { return shBucket(clientIP) }
