// Package manager models the kube-controller-manager process: one apiserver client
// (QPS 20, burst 30; reference §3 and §6.3, pkg/controller/apis/config/v1alpha1/
// defaults.go), one shared informer factory, and the controllers of the Nginx flow
// (Deployment, ReplicaSet, EndpointSlice) started together on them.
//
// Leader election is not modelled: the process is always the leader.
package manager

import (
	"fmt"

	"github.com/kubesim/kubesim/model/apiserver"
	"github.com/kubesim/kubesim/model/controller/deployment"
	"github.com/kubesim/kubesim/model/controller/endpointslice"
	"github.com/kubesim/kubesim/model/controller/hpa"
	"github.com/kubesim/kubesim/model/controller/job"
	"github.com/kubesim/kubesim/model/controller/manager/informers"
	"github.com/kubesim/kubesim/model/controller/nodelifecycle"
	"github.com/kubesim/kubesim/model/controller/podgc"
	"github.com/kubesim/kubesim/model/controller/replicaset"
	"github.com/kubesim/kubesim/model/controller/statefulset"
	"github.com/kubesim/kubesim/model/controller/tainteviction"
	"github.com/kubesim/kubesim/model/controller/volume"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/sim"
)

// ClientName is the name of the process's apiserver client in trace records.
const ClientName = "controller-manager"

// Config configures the controller manager.
type Config struct {
	Deployment    deployment.Config
	ReplicaSet    replicaset.Config
	EndpointSlice endpointslice.Config
	HPA           hpa.Config
	NodeLifecycle nodelifecycle.Config
	TaintEviction tainteviction.Config
	PodGC         podgc.Config
	Volume        volume.Config
	StatefulSet   statefulset.Config
	Job           job.Config
	// QPS and Burst are the client-side rate limit shared by every controller
	// (reference §6.3: 20 and 30). QPS 0 means no limit.
	QPS   float64
	Burst int
}

// DefaultConfig returns the reference defaults.
func DefaultConfig() Config {
	return Config{
		Deployment:    deployment.DefaultConfig(),
		ReplicaSet:    replicaset.DefaultConfig(),
		EndpointSlice: endpointslice.DefaultConfig(),
		HPA:           hpa.DefaultConfig(),
		NodeLifecycle: nodelifecycle.DefaultConfig(),
		TaintEviction: tainteviction.DefaultConfig(),
		PodGC:         podgc.DefaultConfig(),
		Volume:        volume.DefaultConfig(),
		StatefulSet:   statefulset.DefaultConfig(),
		Job:           job.DefaultConfig(),
		QPS:           20,
		Burst:         30,
	}
}

// Validate checks the configuration; errors name the field.
func (c *Config) Validate(reg *dist.Registry) error {
	if c.QPS < 0 {
		return fmt.Errorf("qps must not be negative, got %g", c.QPS)
	}
	if c.QPS > 0 && c.Burst < 1 {
		return fmt.Errorf("burst must be at least 1 when qps is set, got %d", c.Burst)
	}
	if err := c.Deployment.Validate(reg); err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	if err := c.ReplicaSet.Validate(reg); err != nil {
		return fmt.Errorf("replicaSet: %w", err)
	}
	if err := c.EndpointSlice.Validate(reg); err != nil {
		return fmt.Errorf("endpointSlice: %w", err)
	}
	if err := c.HPA.Validate(); err != nil {
		return fmt.Errorf("hpa: %w", err)
	}
	if err := c.NodeLifecycle.Validate(reg); err != nil {
		return fmt.Errorf("nodeLifecycle: %w", err)
	}
	if err := c.TaintEviction.Validate(reg); err != nil {
		return fmt.Errorf("taintEviction: %w", err)
	}
	if err := c.PodGC.Validate(reg); err != nil {
		return fmt.Errorf("podGC: %w", err)
	}
	if err := c.Volume.Validate(reg); err != nil {
		return fmt.Errorf("volume: %w", err)
	}
	if err := c.StatefulSet.Validate(reg); err != nil {
		return fmt.Errorf("statefulSet: %w", err)
	}
	if err := c.Job.Validate(reg); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	return nil
}

// Manager is the controller-manager process.
type Manager struct {
	client  *apiserver.Client
	factory *informers.Factory
	deploy  *deployment.Controller
	rs      *replicaset.Controller
	eps     *endpointslice.Controller
	hpa     *hpa.Controller
	extra   []Controller
	started bool
}

// Controller is a controller the manager runs on its shared informers.
type Controller interface {
	UseInformers(*informers.Factory)
	Start()
}

// New builds the process and its controllers; nothing runs until Start.
func New(eng *sim.Engine, srv *apiserver.Server, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Manager, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, fmt.Errorf("controller manager: %w", err)
	}
	m := &Manager{client: srv.Client(ClientName, cfg.QPS, cfg.Burst)}
	m.factory = informers.NewFactory(m.client)
	var err error
	if m.deploy, err = deployment.New(eng, m.client, cfg.Deployment, reg, tel); err != nil {
		return nil, err
	}
	if m.rs, err = replicaset.New(eng, m.client, cfg.ReplicaSet, reg, tel); err != nil {
		return nil, err
	}
	if m.eps, err = endpointslice.New(eng, m.client, cfg.EndpointSlice, reg, tel); err != nil {
		return nil, err
	}
	if m.hpa, err = hpa.New(eng, m.client, cfg.HPA, tel); err != nil {
		return nil, err
	}
	m.deploy.UseInformers(m.factory)
	m.rs.UseInformers(m.factory)
	m.eps.UseInformers(m.factory)
	m.hpa.UseInformers(m.factory)
	// The controllers of self-healing (node lifecycle, taint eviction, pod GC) and of
	// storage (PV binding and provisioning, StatefulSets).
	nl, err := nodelifecycle.New(eng, m.client, cfg.NodeLifecycle, reg, tel)
	if err != nil {
		return nil, err
	}
	te, err := tainteviction.New(eng, m.client, cfg.TaintEviction, reg, tel)
	if err != nil {
		return nil, err
	}
	gc, err := podgc.New(eng, m.client, cfg.PodGC, reg, tel)
	if err != nil {
		return nil, err
	}
	vc, err := volume.New(eng, m.client, cfg.Volume, reg, tel)
	if err != nil {
		return nil, err
	}
	ss, err := statefulset.New(eng, m.client, cfg.StatefulSet, reg, tel)
	if err != nil {
		return nil, err
	}
	jc, err := job.New(eng, m.client, cfg.Job, reg, tel)
	if err != nil {
		return nil, err
	}
	for _, c := range []Controller{nl, te, gc, vc, ss, jc} {
		m.Add(c)
	}
	return m, nil
}

// Add registers another controller of the process (node lifecycle, pod GC, volume,
// StatefulSet, ...) built on the process's client; it shares the informers. Call
// before Start.
func (m *Manager) Add(c Controller) {
	c.UseInformers(m.factory)
	m.extra = append(m.extra, c)
}

// Start starts the shared informers and the controllers. Each controller's work
// queue runs once the informers it reads have synced.
func (m *Manager) Start() {
	if m.started {
		return
	}
	m.started = true
	m.deploy.Start()
	m.rs.Start()
	m.eps.Start()
	m.hpa.Start()
	for _, c := range m.extra {
		c.Start()
	}
}

// Client returns the process's apiserver client.
func (m *Manager) Client() *apiserver.Client { return m.client }

// Deployment returns the Deployment controller.
func (m *Manager) Deployment() *deployment.Controller { return m.deploy }

// ReplicaSet returns the ReplicaSet controller.
func (m *Manager) ReplicaSet() *replicaset.Controller { return m.rs }

// EndpointSlice returns the EndpointSlice controller.
func (m *Manager) EndpointSlice() *endpointslice.Controller { return m.eps }
