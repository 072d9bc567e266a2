// Package apiserver models kube-apiserver: the only door to etcd. Every component
// talks to the cluster through a Client from this package, by requests (create, get,
// list, update, delete, bind) and watches, exactly as Kubernetes components do
// through client-go. Components never call each other.
//
// Request path (mutations): the client's token bucket (QPS/burst, as client-go's
// default rate limiter) → network and admission latency → an in-flight seat
// (max-requests-inflight 400 for reads, max-mutating-requests-inflight 200 for
// writes; requests beyond the caps wait in a FIFO queue, as API Priority and Fairness
// queues them) → defaulting and validation → an etcd commit → response latency.
//
// Watches are served from the watch cache: one etcd watch per kind, fanned out to the
// client watches whose selectors match. Watches on pods by spec.nodeName and on
// nodes/leases by metadata.name are indexed by that value, so a pod event costs
// O(watchers that can match), not O(nodes).
//
// Ownership: an object passed to Create or Update belongs to the apiserver from then
// on; objects delivered by watches, gets and lists are shared, immutable snapshots
// that must be DeepCopy'd before modification.
package apiserver

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	"github.com/kubesim/kubesim/sim"
)

// Config is the apiserver's configuration.
type Config struct {
	// RequestLatency is the one-way network plus handler latency of a request; it is
	// drawn once on the way in and once on the way out.
	RequestLatency dist.Spec
	// WatchLatency is the delay from an etcd commit to delivery at watchers (etcd
	// watch plus watch-cache dispatch; reference §6.1: "roughly 10 ms").
	WatchLatency dist.Spec
	// MaxRequestsInflight and MaxMutatingRequestsInflight cap concurrent reads and
	// writes (reference §6.2: 400 and 200).
	MaxRequestsInflight         int
	MaxMutatingRequestsInflight int
	// CompactionInterval is how often the apiserver compacts etcd (reference §6.1: 5 min).
	CompactionInterval time.Duration
	// DefaultNotReadyTolerationSeconds and DefaultUnreachableTolerationSeconds are
	// the DefaultTolerationSeconds admission plugin's flags (reference §3.3: 300).
	DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds int64
	// DialTimeout is how long a request of a client partitioned from the apiserver
	// takes to fail: the dial timeout of client-go's transport (30 s,
	// staging/src/k8s.io/client-go/transport/cache.go). 0 means the default.
	DialTimeout time.Duration
}

// DefaultConfig returns the reference defaults.
func DefaultConfig() Config {
	return Config{
		RequestLatency:                      dist.LogNormal(500*time.Microsecond, 0.4),
		WatchLatency:                        dist.LogNormal(8*time.Millisecond, 0.3),
		MaxRequestsInflight:                 400,
		MaxMutatingRequestsInflight:         200,
		CompactionInterval:                  5 * time.Minute,
		DefaultNotReadyTolerationSeconds:    api.DefaultTolerationSeconds,
		DefaultUnreachableTolerationSeconds: api.DefaultTolerationSeconds,
		DialTimeout:                         30 * time.Second,
	}
}

// Validate checks the configuration.
func (c *Config) Validate(reg *dist.Registry) error {
	if err := reg.Validate(c.RequestLatency); err != nil {
		return fmt.Errorf("requestLatency: %w", err)
	}
	if err := reg.Validate(c.WatchLatency); err != nil {
		return fmt.Errorf("watchLatency: %w", err)
	}
	if c.MaxRequestsInflight < 1 || c.MaxMutatingRequestsInflight < 1 {
		return fmt.Errorf("maxRequestsInflight and maxMutatingRequestsInflight must be at least 1")
	}
	if c.CompactionInterval < 0 {
		return fmt.Errorf("compactionInterval must not be negative")
	}
	if c.DefaultNotReadyTolerationSeconds < 0 || c.DefaultUnreachableTolerationSeconds < 0 {
		return fmt.Errorf("default toleration seconds must not be negative")
	}
	if c.DialTimeout < 0 {
		return fmt.Errorf("dialTimeout must not be negative")
	}
	return nil
}

// Reason classifies an API error, as metav1.StatusReason does.
type Reason string

// Reasons.
const (
	ReasonNotFound           Reason = "NotFound"
	ReasonAlreadyExists      Reason = "AlreadyExists"
	ReasonConflict           Reason = "Conflict"
	ReasonInvalid            Reason = "Invalid"
	ReasonServiceUnavailable Reason = "ServiceUnavailable"
	ReasonGone               Reason = "Gone"
)

// Error is an API error.
type Error struct {
	Reason  Reason
	Message string
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Message }

// ReasonOf returns the reason of an API error, or "" for other errors and nil.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// ErrConnection is the error of requests that never reach the apiserver or whose
// answer never comes back (a network partition). Compare with errors.Is.
var ErrConnection = errors.New("connection to the apiserver failed")

// IsConnectionError reports whether err is a connection error (ErrConnection).
func IsConnectionError(err error) bool { return errors.Is(err, ErrConnection) }

// IsNotFound, IsConflict and IsAlreadyExists classify errors.
func IsNotFound(err error) bool      { return ReasonOf(err) == ReasonNotFound }
func IsConflict(err error) bool      { return ReasonOf(err) == ReasonConflict }
func IsAlreadyExists(err error) bool { return ReasonOf(err) == ReasonAlreadyExists }

func errorf(r Reason, format string, a ...any) error {
	return &Error{Reason: r, Message: fmt.Sprintf(format, a...)}
}

// Server is the modeled kube-apiserver.
type Server struct {
	eng      *sim.Engine
	store    etcd.Backend
	cfg      Config
	tel      sim.Telemetry
	reqLat   dist.Sampler
	watchLat dist.Sampler

	watches      [api.NumKinds]*watchIndex
	lastDispatch [api.NumKinds]sim.Time

	inflight    [2]int // [0] reads, [1] mutations
	queue       [2][]func()
	queueHead   [2]int
	uidSeq      uint64
	ipSeq       int
	available   bool
	requests    uint64
	lastCompact int64

	// Failures (faults.go): clients cut from the apiserver by name, and the watches
	// that missed events and must re-establish themselves when they can.
	partitioned map[string]bool
	broken      []*Watch
	defaultPCs  map[string]*api.PriorityClass // globalDefault PriorityClasses by name
}

// New creates the apiserver over store (the modeled *etcd.Store, or a real
// etcd behind etcd.Backend in real-run mode) and starts its watch cache and compaction.
func New(eng *sim.Engine, store etcd.Backend, cfg Config, reg *dist.Registry, tel sim.Telemetry) (*Server, error) {
	if err := cfg.Validate(reg); err != nil {
		return nil, err
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultConfig().DialTimeout
	}
	if tel == nil {
		tel = sim.Discard
	}
	s := &Server{
		eng: eng, store: store, cfg: cfg, tel: tel, available: true, partitioned: map[string]bool{},
		reqLat:   reg.MustNew(cfg.RequestLatency, eng.Source("apiserver/request")),
		watchLat: reg.MustNew(cfg.WatchLatency, eng.Source("apiserver/watch")),
	}
	for k := api.KindNode; int(k) < api.NumKinds; k++ {
		s.watches[k] = newWatchIndex()
		kind := k
		if _, err := store.Watch(api.KindPrefix(kind), 0, func(ev etcd.Event) { s.onEtcdEvent(kind, ev) }); err != nil {
			return nil, err
		}
	}
	if cfg.CompactionInterval > 0 {
		s.scheduleCompaction()
	}
	return s, nil
}

// Store returns the etcd store behind the server.
func (s *Server) Store() etcd.Backend { return s.store }

// Requests returns the number of requests served.
func (s *Server) Requests() uint64 { return s.requests }

// SetAvailable takes the apiserver down (false: every request fails with
// ServiceUnavailable and watches receive nothing) or back up. Watches that missed
// events while it was down re-establish themselves when it comes back, as client-go's
// reflector does: they relist and deliver the difference (see Watch).
func (s *Server) SetAvailable(ok bool) {
	was := s.available
	s.available = ok
	if ok && !was {
		s.reconnect()
	}
}

// Available reports whether the apiserver serves requests.
func (s *Server) Available() bool { return s.available }

// scheduleCompaction compacts every interval to the revision seen one interval
// earlier, as kube-apiserver's compactor does (reference §6.1).
func (s *Server) scheduleCompaction() {
	s.eng.After(s.cfg.CompactionInterval, func() {
		if s.lastCompact > s.store.CompactRevision() {
			_ = s.store.Compact(s.lastCompact)
		}
		s.lastCompact = s.store.Revision()
		s.scheduleCompaction()
	})
}

// Client returns a client for a component. qps <= 0 means no client-side limit.
// The name appears in trace records ("scheduler", "kubelet/node-1").
func (s *Server) Client(name string, qps float64, burst int) *Client {
	return &Client{srv: s, name: name, limiter: &tokenBucket{qps: qps, burst: float64(burst), tokens: float64(burst)}}
}

// admit queues fn for an in-flight seat of the given class (0 read, 1 mutation).
func (s *Server) admit(class int, fn func()) {
	limit := s.cfg.MaxRequestsInflight
	if class == 1 {
		limit = s.cfg.MaxMutatingRequestsInflight
	}
	if s.inflight[class] < limit {
		s.inflight[class]++
		fn()
		return
	}
	s.queue[class] = append(s.queue[class], fn)
}

// release frees a seat and starts the next queued request of the class.
func (s *Server) release(class int) {
	s.inflight[class]--
	q := s.queue[class]
	if h := s.queueHead[class]; h < len(q) {
		fn := q[h]
		q[h] = nil
		s.queueHead[class]++
		if s.queueHead[class] == len(q) {
			s.queue[class] = q[:0]
			s.queueHead[class] = 0
		}
		s.inflight[class]++
		fn()
	}
}

// Inflight returns the reads and mutations in flight and queued.
func (s *Server) Inflight() (reads, writes, queued int) {
	return s.inflight[0], s.inflight[1], len(s.queue[0]) - s.queueHead[0] + len(s.queue[1]) - s.queueHead[1]
}

func (s *Server) newUID() api.UID {
	s.uidSeq++
	return api.UID("uid-" + strconv.FormatUint(s.uidSeq, 10))
}

// prepareCreate sets server-owned metadata and applies defaults and validation.
func (s *Server) prepareCreate(obj api.Object) error {
	m := obj.Meta()
	if m.Name == "" {
		return errorf(ReasonInvalid, "%s: metadata.name is required", obj.Kind())
	}
	if obj.Kind().Namespaced() && m.Namespace == "" {
		m.Namespace = api.NamespaceDefault
	}
	if !obj.Kind().Namespaced() {
		m.Namespace = ""
	}
	m.UID = s.newUID()
	m.CreationTimestamp = s.eng.Now()
	m.DeletionTimestamp = nil
	m.Generation = 1
	m.ResourceVersion = 0
	switch o := obj.(type) {
	case *api.Pod:
		api.DefaultPodSpec(&o.Spec)
		api.AddDefaultTolerations(&o.Spec, s.cfg.DefaultNotReadyTolerationSeconds, s.cfg.DefaultUnreachableTolerationSeconds)
		if err := s.admitPriority(o); err != nil {
			return err
		}
		if err := api.ValidatePodSpec(&o.Spec); err != nil {
			return errorf(ReasonInvalid, "%s: %v", api.Ref(o), err)
		}
		if o.Status.Phase == "" {
			o.Status.Phase = api.PodPending
		}
	case *api.Deployment:
		api.DefaultDeploymentSpec(&o.Spec)
		if err := api.ValidateDeploymentSpec(&o.Spec); err != nil {
			return errorf(ReasonInvalid, "%s: %v", api.Ref(o), err)
		}
	case *api.ReplicaSet:
		api.DefaultPodSpec(&o.Spec.Template.Spec)
		if o.Spec.Replicas < 0 {
			return errorf(ReasonInvalid, "%s: spec.replicas must not be negative", api.Ref(o))
		}
	case *api.StatefulSet:
		api.DefaultPodSpec(&o.Spec.Template.Spec)
		if o.Spec.Replicas < 0 {
			return errorf(ReasonInvalid, "%s: spec.replicas must not be negative", api.Ref(o))
		}
		if o.Spec.PodManagementPolicy == "" {
			o.Spec.PodManagementPolicy = "OrderedReady"
		}
	case *api.HorizontalPodAutoscaler:
		if o.Spec.MinReplicas == 0 {
			o.Spec.MinReplicas = 1 // autoscaling/v2 default
		}
		if o.Spec.MaxReplicas < o.Spec.MinReplicas {
			return errorf(ReasonInvalid, "%s: spec.maxReplicas must be at least minReplicas", api.Ref(o))
		}
	case *api.Job:
		api.DefaultPodSpec(&o.Spec.Template.Spec)
		if o.Spec.Completions == 0 {
			o.Spec.Completions = 1
		}
		if o.Spec.Parallelism == 0 {
			o.Spec.Parallelism = 1
		}
		if o.Spec.BackoffLimit == nil {
			b := api.DefaultJobBackoffLimit // pkg/apis/batch/v1/defaults.go
			o.Spec.BackoffLimit = &b
		} else if *o.Spec.BackoffLimit < 0 {
			return errorf(ReasonInvalid, "%s: spec.backoffLimit must not be negative", api.Ref(o))
		}
		if o.Spec.Template.Spec.RestartPolicy == api.RestartAlways {
			o.Spec.Template.Spec.RestartPolicy = api.RestartNever // a Job's pods may not restart Always
		}
		if o.Spec.Completions < 0 || o.Spec.Parallelism < 0 {
			return errorf(ReasonInvalid, "%s: completions and parallelism must not be negative", api.Ref(o))
		}
	case *api.PodDisruptionBudget:
		if err := api.ValidatePodDisruptionBudgetSpec(&o.Spec); err != nil {
			return errorf(ReasonInvalid, "%s: %v", api.Ref(o), err)
		}
	case *api.PriorityClass:
		if o.PreemptionPolicy == "" {
			o.PreemptionPolicy = "PreemptLowerPriority"
		}
	case *api.StorageClass:
		if o.VolumeBindingMode == "" {
			o.VolumeBindingMode = api.VolumeBindingImmediate // pkg/apis/storage/v1/defaults.go
		}
		if o.ReclaimPolicy == "" {
			o.ReclaimPolicy = "Delete"
		}
	case *api.PersistentVolumeClaim:
		if o.Phase == "" {
			o.Phase = api.VolumePending
		}
	case *api.PersistentVolume:
		if o.Phase == "" {
			o.Phase = api.VolumePending
		}
	case *api.Service:
		api.DefaultServiceSpec(&o.Spec)
		if err := api.ValidateServiceSpec(&o.Spec); err != nil {
			return errorf(ReasonInvalid, "%s: %v", api.Ref(o), err)
		}
		if o.Spec.ClusterIP == "" {
			s.ipSeq++
			o.Spec.ClusterIP = fmt.Sprintf("10.96.%d.%d", s.ipSeq/250, s.ipSeq%250+1)
		}
	}
	return nil
}

// prepareUpdate carries server-owned metadata over from the current object and bumps
// the generation when the spec changed.
func prepareUpdate(obj, cur api.Object) error {
	m, c := obj.Meta(), cur.Meta()
	m.UID = c.UID
	m.CreationTimestamp = c.CreationTimestamp
	m.Generation = c.Generation
	if m.DeletionTimestamp == nil {
		m.DeletionTimestamp = c.DeletionTimestamp
	}
	switch o := obj.(type) {
	case *api.Deployment:
		if !reflect.DeepEqual(o.Spec, cur.(*api.Deployment).Spec) {
			m.Generation++
		}
		if err := api.ValidateDeploymentSpec(&o.Spec); err != nil {
			return errorf(ReasonInvalid, "%s: %v", api.Ref(o), err)
		}
	case *api.ReplicaSet:
		if !reflect.DeepEqual(o.Spec, cur.(*api.ReplicaSet).Spec) {
			m.Generation++
		}
		if o.Spec.Replicas < 0 {
			return errorf(ReasonInvalid, "%s: spec.replicas must not be negative", api.Ref(o))
		}
	case *api.StatefulSet:
		if !reflect.DeepEqual(o.Spec, cur.(*api.StatefulSet).Spec) {
			m.Generation++
		}
		if o.Spec.Replicas < 0 {
			return errorf(ReasonInvalid, "%s: spec.replicas must not be negative", api.Ref(o))
		}
	case *api.PodDisruptionBudget:
		if !reflect.DeepEqual(o.Spec, cur.(*api.PodDisruptionBudget).Spec) {
			m.Generation++
		}
		if err := api.ValidatePodDisruptionBudgetSpec(&o.Spec); err != nil {
			return errorf(ReasonInvalid, "%s: %v", api.Ref(o), err)
		}
	case *api.Pod:
		cp := cur.(*api.Pod)
		if cp.Spec.NodeName != "" && o.Spec.NodeName != cp.Spec.NodeName {
			return errorf(ReasonInvalid, "%s: spec.nodeName is immutable once set", api.Ref(o))
		}
	}
	return nil
}

// copyStatus returns a copy of cur carrying obj's status (the /status subresource).
func copyStatus(obj, cur api.Object) api.Object {
	// Stored objects are immutable snapshots, so the new version shares everything
	// but its status with the current one (a shallow copy), and takes obj's status,
	// which belongs to the apiserver since the call. A status write costs no deep
	// copy of the spec and metadata.
	switch c := cur.(type) {
	case *api.Pod:
		n := *c
		n.Status = obj.(*api.Pod).Status
		return &n
	case *api.Node:
		n := *c
		n.Status = obj.(*api.Node).Status
		return &n
	case *api.Deployment:
		n := *c
		n.Status = obj.(*api.Deployment).Status
		return &n
	case *api.ReplicaSet:
		n := *c
		n.Status = obj.(*api.ReplicaSet).Status
		return &n
	case *api.StatefulSet:
		n := *c
		n.Status = obj.(*api.StatefulSet).Status
		return &n
	case *api.Job:
		n := *c
		n.Status = obj.(*api.Job).Status
		return &n
	case *api.HorizontalPodAutoscaler:
		n := *c
		n.Status = obj.(*api.HorizontalPodAutoscaler).Status
		return &n
	case *api.PodDisruptionBudget:
		n := *c
		n.Status = obj.(*api.PodDisruptionBudget).Status
		return &n
	case *api.PersistentVolume:
		n := *c
		n.Phase = obj.(*api.PersistentVolume).Phase
		return &n
	case *api.PersistentVolumeClaim:
		n := *c
		n.Phase = obj.(*api.PersistentVolumeClaim).Phase
		return &n
	}
	return obj
}

// onEtcdEvent feeds the watch cache: it stamps the stored object with its revision
// and schedules the fan-out to client watches after the watch latency, keeping the
// per-kind delivery order equal to the revision order.
func (s *Server) onEtcdEvent(kind api.Kind, ev etcd.Event) {
	var obj, old api.Object
	if ev.Type == etcd.Put {
		obj = ev.KV.Value.(api.Object)
		obj.Meta().ResourceVersion = ev.KV.ModRevision
	}
	if ev.PrevKV != nil {
		old = ev.PrevKV.Value.(api.Object)
	}
	if kind == api.KindPriorityClass {
		if old != nil {
			delete(s.defaultPCs, old.Meta().Name)
		}
		if pc, ok := obj.(*api.PriorityClass); ok && pc.GlobalDefault {
			if s.defaultPCs == nil {
				s.defaultPCs = map[string]*api.PriorityClass{}
			}
			s.defaultPCs[pc.Name] = pc
		}
	}
	at := max(s.eng.Now().Add(s.watchLat.Sample()), s.lastDispatch[kind])
	s.lastDispatch[kind] = at
	d := &dispatch{srv: s, kind: kind, obj: obj, old: old, rev: ev.KV.ModRevision, key: watchKey(kind, ev.KV.Key, pick(obj, old))}
	s.eng.Schedule(at, d, 0, 0, nil)
}

type dispatch struct {
	srv      *Server
	kind     api.Kind
	obj, old api.Object
	rev      int64
	key      string // the object's namespace/name, as informers key it
}

// watchKey returns the namespace/name key informers use for an object (key), taken
// from its etcd key instead of built anew: "/registry/<resource>/<ns>/<name>"
// ends with "<ns>/<name>", and "/registry/<resource>/<name>" of an object without
// a namespace with "/<name>".
// It is checked against the object's namespace and name (no allocation), and
// built from them should a key ever not have that form.
func watchKey(kind api.Kind, etcdKey string, o api.Object) string {
	m := o.Meta()
	p := len("/registry/") + len(kind.Resource()) + 1
	if m.Namespace == "" {
		p--
	}
	if i := p + len(m.Namespace); p >= 0 && i < len(etcdKey) && etcdKey[p:i] == m.Namespace &&
		etcdKey[i] == '/' && etcdKey[i+1:] == m.Name {
		return etcdKey[p:]
	}
	return key(o)
}

func pick(obj, old api.Object) api.Object {
	if obj != nil {
		return obj
	}
	return old
}

// Handle delivers the change; watches that cannot receive it (the apiserver is down
// or their client partitioned) note that they missed it (Watch.deliver).
func (d *dispatch) Handle(*sim.Event) {
	d.srv.watches[d.kind].dispatch(d.obj, d.old, d.rev, d.key)
}

// tokenBucket is client-go's token-bucket rate limiter in virtual time: it
// reserves the next token and says when the request may go.
type tokenBucket struct {
	qps, burst, tokens float64
	last               sim.Time
}

func (b *tokenBucket) reserve(now sim.Time) sim.Time {
	if b.qps <= 0 {
		return now
	}
	if now > b.last {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.qps)
		b.last = now
	}
	b.tokens--
	if b.tokens >= 0 {
		return now
	}
	wait := time.Duration(-b.tokens / b.qps * 1e9)
	return now.Add(wait)
}

// admitPriority is the Priority admission plugin (plugin/pkg/admission/priority):
// a pod naming a PriorityClass gets its value (an unknown class is an error); a pod
// naming none gets the globalDefault class's value, or 0.
func (s *Server) admitPriority(p *api.Pod) error {
	name := p.Spec.PriorityClassName
	if name == "" {
		if pc := s.globalDefault(); pc != nil {
			p.Spec.PriorityClassName, p.Spec.Priority = pc.Name, pc.Value
			if p.Spec.PreemptionPolicy == "" {
				p.Spec.PreemptionPolicy = pc.PreemptionPolicy
			}
		}
		return nil
	}
	kv, ok := s.store.Get(api.Key(api.KindPriorityClass, "", name))
	if !ok {
		return errorf(ReasonInvalid, "%s: no PriorityClass with name %s was found", api.Ref(p), name)
	}
	pc := kv.Value.(*api.PriorityClass)
	p.Spec.Priority = pc.Value
	if p.Spec.PreemptionPolicy == "" {
		p.Spec.PreemptionPolicy = pc.PreemptionPolicy
	}
	return nil
}

// globalDefault returns the globalDefault PriorityClass (the first by name), kept
// from the watch cache so a pod admission does not scan the store.
func (s *Server) globalDefault() *api.PriorityClass {
	var best *api.PriorityClass
	for _, pc := range s.defaultPCs {
		if best == nil || pc.Name < best.Name {
			best = pc
		}
	}
	return best
}
