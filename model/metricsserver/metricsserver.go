// Package metricsserver models metrics-server (kubernetes-sigs/metrics-server): every
// metricResolution it scrapes each node's container usage (the kubelet's
// /metrics/resource endpoint, backed by cAdvisor) and publishes one PodMetrics per
// pod (metrics.k8s.io/v1beta1), which the Horizontal Pod Autoscaler reads.
//
// As metrics-server does (FAQ.md "How CPU usage is calculated?"), CPU is a rate over
// the cumulative CPU counter between two scrapes, and the time between them is the
// PodMetrics window; memory is the working set at the instant of the scrape. For a
// container first seen, the previous point is its start with a counter of zero, as
// metrics-server's storage does for containers that started after the last scrape
// (pkg/storage/pod.go), so a new pod gets metrics at its first scrape.
//
// Simplifications: the real Metrics API is an aggregated API served from
// metrics-server's memory, not stored in etcd; kubesim writes PodMetrics objects
// through the apiserver Client so that components meet only there (one write per pod
// per resolution). Scrapes of all nodes happen at the same instant and take no time;
// node metrics (NodeMetrics) are not produced.
package metricsserver

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/sim"
)

// Component is the trace component name.
const Component = "metrics-server"

// ContainerStats is one running container's usage as a node reports it. Its fields
// match runtime.ContainerStats one for one, so the lead can convert with a plain
// type conversion.
type ContainerStats struct {
	ID                 string
	PodUID             api.UID
	PodName, Namespace string
	Name               string
	// StartedAt is when the container started.
	StartedAt sim.Time
	// CPUUsageSeconds is the cumulative CPU time in core-seconds.
	CPUUsageSeconds float64
	// MemoryWorkingSet is the working set now, in bytes.
	MemoryWorkingSet int64
}

// StatsSource is one node's stats endpoint: the usage of the node's running
// containers now. model/cluster implements it from the node's runtime
// (runtime.Modeled.Stats). The order of the slice does not matter.
type StatsSource interface {
	ContainerStats() []ContainerStats
}

// Config configures metrics-server.
type Config struct {
	// MetricResolution is the scrape interval (--metric-resolution; the deployment
	// manifests of metrics-server set 15s, manifests/base/deployment.yaml, and the
	// FAQ advises no less than 15 s, the kubelet's cAdvisor housekeeping).
	MetricResolution time.Duration
}

// DefaultConfig returns the defaults of metrics-server's manifests.
func DefaultConfig() Config { return Config{MetricResolution: 15 * time.Second} }

// Validate checks the configuration; messages name the field.
func (c *Config) Validate() error {
	if c.MetricResolution <= 0 {
		return fmt.Errorf("metricResolution: must be positive, got %v", c.MetricResolution)
	}
	return nil
}

type node struct {
	name string
	src  StatsSource
}

type point struct {
	t   sim.Time
	cpu float64
}

// Server is the metrics-server component.
type Server struct {
	eng    *sim.Engine
	client *apiserver.Client
	cfg    Config
	tel    sim.Telemetry
	nodes  []node // sorted by name
	// prev is the last CPU point of each container id.
	prev map[string]point
	// published is the set of PodMetrics keys (ns/name) written and not deleted.
	published map[string]bool
	started   bool
	scrapes   int
}

// New returns a metrics-server writing through client.
func New(eng *sim.Engine, client *apiserver.Client, cfg Config, tel sim.Telemetry) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("metrics-server: %w", err)
	}
	if tel == nil {
		tel = sim.Discard
	}
	return &Server{eng: eng, client: client, cfg: cfg, tel: tel, prev: map[string]point{}, published: map[string]bool{}}, nil
}

// AddNode starts scraping a node (O(nodes), for registration). Adding a name twice
// replaces its source.
func (s *Server) AddNode(name string, src StatsSource) {
	i, found := slices.BinarySearchFunc(s.nodes, name, func(n node, k string) int { return strings.Compare(n.name, k) })
	if found {
		s.nodes[i].src = src
		return
	}
	s.nodes = slices.Insert(s.nodes, i, node{name: name, src: src})
}

// RemoveNode stops scraping a node; its pods' metrics are deleted at the next scrape.
func (s *Server) RemoveNode(name string) {
	i, found := slices.BinarySearchFunc(s.nodes, name, func(n node, k string) int { return strings.Compare(n.name, k) })
	if found {
		s.nodes = slices.Delete(s.nodes, i, i+1)
	}
}

// Start schedules the first scrape one resolution from now, then one every
// resolution.
func (s *Server) Start() {
	if s.started {
		return
	}
	s.started = true
	s.eng.After(s.cfg.MetricResolution, s.tick)
}

// Scrapes returns the number of scrape rounds done.
func (s *Server) Scrapes() int { return s.scrapes }

func (s *Server) tick() {
	s.Scrape()
	s.eng.After(s.cfg.MetricResolution, s.tick)
}

type podAgg struct {
	ns, name string
	uid      api.UID
	cpu      float64 // cores
	mem      int64
	window   time.Duration
}

// Scrape runs one scrape round now: it reads every node, computes each pod's usage
// and writes the PodMetrics (create or update), and deletes those of pods no longer
// reported. O(containers).
func (s *Server) Scrape() {
	now := s.eng.Now()
	s.scrapes++
	seen := make(map[string]bool, len(s.prev))
	var pods []*podAgg
	byKey := map[string]*podAgg{}
	for _, n := range s.nodes {
		for _, c := range n.src.ContainerStats() {
			p, ok := s.prev[c.ID]
			if !ok {
				p = point{t: c.StartedAt}
			}
			seen[c.ID] = true
			s.prev[c.ID] = point{t: now, cpu: c.CPUUsageSeconds}
			key := c.Namespace + "/" + c.PodName
			a := byKey[key]
			if a == nil {
				a = &podAgg{ns: c.Namespace, name: c.PodName, uid: c.PodUID}
				byKey[key] = a
				pods = append(pods, a)
			}
			if dt := now.Sub(p.t); dt > 0 {
				a.cpu += (c.CPUUsageSeconds - p.cpu) / dt.Seconds()
				a.window = max(a.window, dt)
			}
			a.mem += c.MemoryWorkingSet
		}
	}
	for id := range s.prev {
		if !seen[id] {
			delete(s.prev, id)
		}
	}
	slices.SortFunc(pods, func(a, b *podAgg) int {
		if c := strings.Compare(a.ns, b.ns); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	for _, a := range pods {
		s.publish(a, now)
	}
	var gone []string
	for k := range s.published {
		if byKey[k] == nil {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for _, k := range gone {
		delete(s.published, k)
		ns, name, _ := strings.Cut(k, "/")
		s.client.Delete(api.KindPodMetrics, ns, name, apiserver.DeleteOptions{}, nil)
	}
	s.tel.Trace(sim.Record{Time: now, Component: Component, Action: "scrape", Object: "metrics.k8s.io/podmetrics",
		Detail: fmt.Sprintf("scraped %d nodes' /metrics/resource: %d pods' usage published (CPU as the rate of the cumulative counter since the last scrape, memory as the working set now); %d pods' metrics removed",
			len(s.nodes), len(pods), len(gone))})
}

func (s *Server) publish(a *podAgg, now sim.Time) {
	key := a.ns + "/" + a.name
	pm := &api.PodMetrics{
		ObjectMeta: api.ObjectMeta{Name: a.name, Namespace: a.ns},
		Timestamp:  now,
		Window:     sim.Time(a.window),
		Usage:      api.Resources{MilliCPU: int64(a.cpu*1000 + 0.5), Memory: a.mem},
	}
	if s.published[key] {
		s.client.Update(pm.DeepCopyObject(), func(_ api.Object, err error) {
			if apiserver.IsNotFound(err) {
				s.client.Create(pm.DeepCopyObject(), nil)
			}
		})
		return
	}
	s.published[key] = true
	s.client.Create(pm.DeepCopyObject(), func(_ api.Object, err error) {
		if apiserver.IsAlreadyExists(err) {
			s.client.Update(pm, nil)
		}
	})
}
