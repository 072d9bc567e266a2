// Package scenario defines kubesim's scenario file: a YAML document describing the
// cluster (control plane settings and node pools), the images, the workload
// (Deployments, Services, client traffic) and the run (seed, duration).
//
// Decoding is strict: an unknown field, a malformed value or an invalid one is an
// *Error that names the file, the line and the field. Component settings are
// optional overrides: an absent field keeps the component's documented default.
package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kubesim/kubesim/model/yamlpos"
)

// Scenario is one scenario file.
type Scenario struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Seed        uint64   `yaml:"seed"`
	Duration    Duration `yaml:"duration"`
	Cluster     Cluster  `yaml:"cluster"`
	Images      []Image  `yaml:"images"`
	Workload    Workload `yaml:"workload"`
	Faults      []Fault  `yaml:"faults"`
	// Trace replays a recorded workload (and, for formats that carry them, its
	// nodes) instead of, or besides, the workload above.
	Trace   *Trace   `yaml:"trace"`
	Actions []Action `yaml:"actions"`
	// Manifests are Kubernetes manifest files or directories (of .yaml, .yml and
	// .json files) whose objects are applied at a time (0 unless given); their
	// Nodes join the cluster. Paths are relative to the scenario file. See
	// docs/workloads.md.
	Manifests []ManifestRef `yaml:"manifests"`
	// Expect lists outcomes the run must show; `kubesim run` checks them and exits
	// 1 when one fails (the built-in scenarios' assertions).
	Expect []Expectation `yaml:"expect"`
	// Calibration names a calibration profile written by `kubesim calibrate`
	// (resolved relative to the scenario file); its fitted latencies replace the
	// model's defaults and the scenario's own settings (see ApplyCalibration).
	Calibration string `yaml:"calibration"`

	file  string
	lines map[string]int // field path -> line
}

// Cluster describes the control plane and the nodes.
type Cluster struct {
	Etcd              Etcd              `yaml:"etcd"`
	APIServer         APIServer         `yaml:"apiserver"`
	Scheduler         Scheduler         `yaml:"scheduler"`
	ControllerManager ControllerManager `yaml:"controllerManager"`
	Kubelet           Kubelet           `yaml:"kubelet"`
	Runtime           Runtime           `yaml:"runtime"`
	Proxy             Proxy             `yaml:"proxy"`
	Nodes             []NodePool        `yaml:"nodes"`
	NodeLifecycle     NodeLifecycle     `yaml:"nodeLifecycle"`
	// NodeGroups are the cluster autoscaler's groups; nodes it adds come from them.
	NodeGroups []NodeGroup `yaml:"nodeGroups"`
	// ClusterAutoscaler overrides the cluster autoscaler's defaults (it runs only
	// when nodeGroups are given).
	ClusterAutoscaler ClusterAutoscaler `yaml:"clusterAutoscaler"`
	// DNS enables the CoreDNS model (clients of traffic with a host resolve it).
	DNS *DNS `yaml:"dns"`
}

// NodeLifecycle overrides the node lifecycle controller's defaults.
type NodeLifecycle struct {
	MonitorPeriod             *Duration `yaml:"monitorPeriod"`
	GracePeriod               *Duration `yaml:"gracePeriod"`
	StartupGracePeriod        *Duration `yaml:"startupGracePeriod"`
	EvictionRate              *float64  `yaml:"evictionRate"`
	SecondaryEvictionRate     *float64  `yaml:"secondaryEvictionRate"`
	UnhealthyZoneThreshold    *float64  `yaml:"unhealthyZoneThreshold"`
	LargeClusterSizeThreshold *int      `yaml:"largeClusterSizeThreshold"`
}

// NodeGroup is a cluster-autoscaler node group: an instance type with bounds and a cost.
type NodeGroup struct {
	Name           string            `yaml:"name"`
	Min            int               `yaml:"min"`
	Max            int               `yaml:"max"`
	CPU            Quantity          `yaml:"cpu"`
	Memory         Quantity          `yaml:"memory"`
	Pods           *int64            `yaml:"pods"`
	CostPerHour    float64           `yaml:"costPerHour"`
	Zone           string            `yaml:"zone"`
	Labels         map[string]string `yaml:"labels"`
	ProvisionDelay *Dist             `yaml:"provisionDelay"`
}

// ClusterAutoscaler overrides the cluster autoscaler's defaults.
type ClusterAutoscaler struct {
	ScanInterval                  *Duration `yaml:"scanInterval"`
	ScaleDownDelayAfterAdd        *Duration `yaml:"scaleDownDelayAfterAdd"`
	ScaleDownUnneededTime         *Duration `yaml:"scaleDownUnneededTime"`
	ScaleDownUtilizationThreshold *float64  `yaml:"scaleDownUtilizationThreshold"`
	Expander                      string    `yaml:"expander"`
}

// DNS configures the CoreDNS model.
type DNS struct {
	TTL          *Duration `yaml:"ttl"`
	QueryLatency *Dist     `yaml:"queryLatency"`
}

// Etcd overrides the etcd model's defaults.
type Etcd struct {
	Members *int  `yaml:"members"`
	Fsync   *Dist `yaml:"fsync"`
	RTT     *Dist `yaml:"rtt"`
}

// APIServer overrides the apiserver model's defaults.
type APIServer struct {
	RequestLatency              *Dist     `yaml:"requestLatency"`
	WatchLatency                *Dist     `yaml:"watchLatency"`
	MaxRequestsInflight         *int      `yaml:"maxRequestsInflight"`
	MaxMutatingRequestsInflight *int      `yaml:"maxMutatingRequestsInflight"`
	CompactionInterval          *Duration `yaml:"compactionInterval"`
	// DefaultTolerationSeconds sets both flags of the DefaultTolerationSeconds
	// admission plugin (not-ready and unreachable; default 300).
	DefaultTolerationSeconds *int64 `yaml:"defaultTolerationSeconds"`
}

// Scheduler overrides the scheduler model's defaults.
type Scheduler struct {
	PercentageOfNodesToScore *int32    `yaml:"percentageOfNodesToScore"`
	PodInitialBackoff        *Duration `yaml:"podInitialBackoff"`
	PodMaxBackoff            *Duration `yaml:"podMaxBackoff"`
	CycleLatency             *Dist     `yaml:"cycleLatency"`
	PerNodeLatency           *Duration `yaml:"perNodeLatency"`
	QPS                      *float64  `yaml:"qps"`
	Burst                    *int      `yaml:"burst"`
}

// ControllerManager overrides the controller-manager model's defaults.
type ControllerManager struct {
	QPS                  *float64 `yaml:"qps"`
	Burst                *int     `yaml:"burst"`
	SyncLatency          *Dist    `yaml:"syncLatency"`
	MaxEndpointsPerSlice *int     `yaml:"maxEndpointsPerSlice"`
}

// Kubelet overrides the kubelet model's defaults (for every node).
type Kubelet struct {
	MaxPods                   *int64    `yaml:"maxPods"`
	NodeStatusUpdateFrequency *Duration `yaml:"nodeStatusUpdateFrequency"`
	NodeStatusReportFrequency *Duration `yaml:"nodeStatusReportFrequency"`
	NodeLeaseDurationSeconds  *int32    `yaml:"nodeLeaseDurationSeconds"`
	SyncLatency               *Dist     `yaml:"syncLatency"`
	QPS                       *float64  `yaml:"qps"`
	Burst                     *int      `yaml:"burst"`
	// CrashLoopBackOffInitial and CrashLoopBackOffMax are the container restart
	// back-off (10 s doubling to 300 s).
	CrashLoopBackOffInitial *Duration `yaml:"crashLoopBackOffInitial"`
	CrashLoopBackOffMax     *Duration `yaml:"crashLoopBackOffMax"`
}

// Runtime overrides the modeled container runtime (Docker) defaults.
type Runtime struct {
	PullBandwidth       *Quantity `yaml:"pullBandwidth"` // bytes per second
	PullOverhead        *Dist     `yaml:"pullOverhead"`
	Create              *Dist     `yaml:"create"`
	Start               *Dist     `yaml:"start"`
	Stop                *Dist     `yaml:"stop"`
	SerializeImagePulls *bool     `yaml:"serializeImagePulls"`
	// Parallelism > 0 makes creates and starts share the engine's daemon
	// (processor sharing): create and start are then the work of one operation.
	Parallelism *float64 `yaml:"parallelism"`
	// SharedEngine makes every node's runtime share one daemon, as in real-run
	// mode (one Docker engine carries every modeled node). It matters only with
	// Parallelism > 0.
	SharedEngine *bool `yaml:"sharedEngine"`
}

// Proxy overrides the kube-proxy model's defaults.
type Proxy struct {
	Mode          *string   `yaml:"mode"`
	Scheduler     *string   `yaml:"scheduler"` // ipvs: rr, lc, sh
	SyncLatency   *Dist     `yaml:"syncLatency"`
	MinSyncPeriod *Duration `yaml:"minSyncPeriod"`
	SyncPeriod    *Duration `yaml:"syncPeriod"`
}

// NodePool is a group of identical nodes. With count 1 the node is called Name;
// otherwise Name-1 … Name-count.
type NodePool struct {
	Name             string            `yaml:"name"`
	Count            *int              `yaml:"count"`
	CPU              Quantity          `yaml:"cpu"`
	Memory           Quantity          `yaml:"memory"`
	EphemeralStorage Quantity          `yaml:"ephemeralStorage"`
	Pods             *int64            `yaml:"pods"`
	Zone             string            `yaml:"zone"`
	Zones            []string          `yaml:"zones"` // spread round-robin
	Labels           map[string]string `yaml:"labels"`
	Taints           []Taint           `yaml:"taints"`
	Images           []string          `yaml:"images"` // already on the node
	StartAt          Duration          `yaml:"startAt"`
	// GPUs per node (nvidia.com/gpu) and their model (label kubesim.io/gpu-model).
	GPUs     int    `yaml:"gpus"`
	GPUModel string `yaml:"gpuModel"`
}

// Taint is a node taint.
type Taint struct {
	Key    string `yaml:"key"`
	Value  string `yaml:"value"`
	Effect string `yaml:"effect"`
}

// Image is a catalogue entry: its size and how a container of it serves requests.
type Image struct {
	Name  string   `yaml:"name"`
	Size  Quantity `yaml:"size"`
	Serve *Serve   `yaml:"serve"`
	// Crash makes every container of the image exit by itself (a crashing version).
	Crash *ImageCrash `yaml:"crash"`
	// NeverReady makes the image a bad version whose process runs but never serves,
	// so its readiness (and liveness) probes never succeed.
	NeverReady bool `yaml:"neverReady"`
	// Unavailable makes pulls of the image fail (the registry does not have it).
	Unavailable bool `yaml:"unavailable"`
}

// ImageCrash is when a container of a crashing image exits, and with what code.
type ImageCrash struct {
	After *Dist `yaml:"after"`
	Code  int   `yaml:"code"`
}

// Serve is the serving behaviour of a container process (nginx: worker processes).
type Serve struct {
	Port        int32 `yaml:"port"`
	Workers     int   `yaml:"workers"`
	QueueLimit  int   `yaml:"queueLimit"`
	ServiceTime *Dist `yaml:"serviceTime"`
	ReadyAfter  *Dist `yaml:"readyAfter"`
}

// Workload is what the users submit.
type Workload struct {
	Deployments  []Deployment   `yaml:"deployments"`
	StatefulSets []StatefulSet  `yaml:"statefulSets"`
	Services     []Service      `yaml:"services"`
	Traffic      []Traffic      `yaml:"traffic"`
	HPAs         []HPA          `yaml:"horizontalPodAutoscalers"`
	Storage      []StorageClass `yaml:"storageClasses"`
	// Synthetic are generators of pods (or Jobs) with random arrivals, sizes and
	// run times (synthetic.go; docs/workloads.md).
	Synthetic []Synthetic `yaml:"synthetic"`
	// PDBs are policy/v1 PodDisruptionBudgets (docs/workloads.md).
	PDBs []PodDisruptionBudget `yaml:"podDisruptionBudgets"`
}

// StatefulSet is an apps/v1 StatefulSet, written compactly like Deployment.
type StatefulSet struct {
	Name                 string            `yaml:"name"`
	Namespace            string            `yaml:"namespace"`
	At                   Duration          `yaml:"at"`
	Replicas             *int32            `yaml:"replicas"`
	Labels               map[string]string `yaml:"labels"`
	ServiceName          string            `yaml:"serviceName"`
	PodManagementPolicy  string            `yaml:"podManagementPolicy"`
	SchedulerName        string            `yaml:"schedulerName"` // the scheduler profile of its pods ("" = default-scheduler)
	Containers           []Container       `yaml:"containers"`
	VolumeClaimTemplates []ClaimTemplate   `yaml:"volumeClaimTemplates"`
}

// ClaimTemplate is a StatefulSet volume claim template.
type ClaimTemplate struct {
	Name         string   `yaml:"name"`
	Size         Quantity `yaml:"size"`
	StorageClass string   `yaml:"storageClass"`
	AccessMode   string   `yaml:"accessMode"` // ReadWriteOnce (default)
	MountPath    string   `yaml:"mountPath"`
}

// StorageClass is a storage.k8s.io/v1 StorageClass with its modeled provisioner.
type StorageClass struct {
	Name             string   `yaml:"name"`
	Provisioner      string   `yaml:"provisioner"`
	BindingMode      string   `yaml:"bindingMode"` // Immediate (default), WaitForFirstConsumer
	Zones            []string `yaml:"zones"`
	ProvisionLatency *Dist    `yaml:"provisionLatency"`
	AttachLatency    *Dist    `yaml:"attachLatency"`
	MountLatency     *Dist    `yaml:"mountLatency"`
}

// HPA is an autoscaling/v2 HorizontalPodAutoscaler on CPU utilization.
type HPA struct {
	Name           string       `yaml:"name"`
	Namespace      string       `yaml:"namespace"`
	At             Duration     `yaml:"at"`
	Deployment     string       `yaml:"deployment"`
	MinReplicas    int32        `yaml:"minReplicas"`
	MaxReplicas    int32        `yaml:"maxReplicas"`
	CPUUtilization int32        `yaml:"cpuUtilization"` // target average utilization, percent of requests
	Behavior       *HPABehavior `yaml:"behavior"`
}

// PodDisruptionBudget is a policy/v1 PodDisruptionBudget, written compactly:
// exactly one of minAvailable and maxUnavailable, each a count ("2") or a
// percentage ("50%"), and a matchLabels selector ({} selects every pod of the
// namespace).
type PodDisruptionBudget struct {
	Name           string            `yaml:"name"`
	Namespace      string            `yaml:"namespace"`
	At             Duration          `yaml:"at"`
	MinAvailable   string            `yaml:"minAvailable"`
	MaxUnavailable string            `yaml:"maxUnavailable"`
	Selector       map[string]string `yaml:"selector"`
}

// HPABehavior sets scale-up and scale-down rules (absent = the defaults).
type HPABehavior struct {
	ScaleUp   *HPARules `yaml:"scaleUp"`
	ScaleDown *HPARules `yaml:"scaleDown"`
}

// HPARules is one direction's rules.
type HPARules struct {
	StabilizationWindowSeconds *int32      `yaml:"stabilizationWindowSeconds"`
	SelectPolicy               string      `yaml:"selectPolicy"`
	Policies                   []HPAPolicy `yaml:"policies"`
}

// HPAPolicy is a scaling policy.
type HPAPolicy struct {
	Type          string `yaml:"type"` // Pods or Percent
	Value         int32  `yaml:"value"`
	PeriodSeconds int32  `yaml:"periodSeconds"`
}

// Fault is a failure injected into the run: at a time, periodically, or as a seeded
// random process, against targets chosen by name, label, zone or a random k of n.
type Fault struct {
	Name     string            `yaml:"name"`
	Kind     string            `yaml:"kind"`
	At       Duration          `yaml:"at"`
	Every    Duration          `yaml:"every"`    // repeat period (0 = once)
	Count    int               `yaml:"count"`    // repetitions (0 = once, or unbounded with every/mtbf until the run ends)
	Duration *Duration         `yaml:"duration"` // time to repair (absent = never repaired)
	MTBF     *Dist             `yaml:"mtbf"`     // random process: time between failures
	MTTR     *Dist             `yaml:"mttr"`     // random process: time to repair
	Target   FaultTarget       `yaml:"target"`
	Params   map[string]string `yaml:"params"`
}

// FaultTarget selects what a fault hits.
type FaultTarget struct {
	Nodes     []string          `yaml:"nodes"`
	Labels    map[string]string `yaml:"labels"`
	Zone      string            `yaml:"zone"`
	RandomK   int               `yaml:"randomK"`
	Pods      map[string]string `yaml:"pods"` // pod label selector, for container faults
	Container string            `yaml:"container"`
	Image     string            `yaml:"image"`
}

// Action is something a user does at a time (kubectl): scale a Deployment, set its
// image, roll it back, or delete a pod.
type Action struct {
	At         Duration `yaml:"at"`
	Kind       string   `yaml:"kind"` // scale, set-image, rollback, delete-pod
	Deployment string   `yaml:"deployment"`
	Namespace  string   `yaml:"namespace"`
	Replicas   *int32   `yaml:"replicas"`
	Container  string   `yaml:"container"`
	Image      string   `yaml:"image"`
	ToRevision int64    `yaml:"toRevision"` // rollback: 0 = the previous revision
	Pod        string   `yaml:"pod"`
}

// Expectation is an outcome the run must show: a summary key compared with a value.
type Expectation struct {
	Key   string   `yaml:"key"`
	Min   *float64 `yaml:"min"`
	Max   *float64 `yaml:"max"`
	Equal *float64 `yaml:"equal"`
	Why   string   `yaml:"why"`
}

// Deployment is an apps/v1 Deployment, written compactly: Labels are both the pod
// template's labels and the selector.
type Deployment struct {
	Name            string            `yaml:"name"`
	Namespace       string            `yaml:"namespace"`
	At              Duration          `yaml:"at"`
	Replicas        *int32            `yaml:"replicas"`
	Labels          map[string]string `yaml:"labels"`
	Strategy        string            `yaml:"strategy"`
	MaxSurge        string            `yaml:"maxSurge"`
	MaxUnavailable  string            `yaml:"maxUnavailable"`
	MinReadySeconds int32             `yaml:"minReadySeconds"`
	SchedulerName   string            `yaml:"schedulerName"`
	Priority        int32             `yaml:"priority"`
	NodeSelector    map[string]string `yaml:"nodeSelector"`
	Tolerations     []Toleration      `yaml:"tolerations"`
	Containers      []Container       `yaml:"containers"`
}

// Toleration is a pod toleration.
type Toleration struct {
	Key               string `yaml:"key"`
	Operator          string `yaml:"operator"`
	Value             string `yaml:"value"`
	Effect            string `yaml:"effect"`
	TolerationSeconds *int64 `yaml:"tolerationSeconds"`
}

// Container is one container of a pod template.
type Container struct {
	Name            string    `yaml:"name"`
	Image           string    `yaml:"image"`
	ImagePullPolicy string    `yaml:"imagePullPolicy"`
	Requests        Resources `yaml:"requests"`
	Limits          Resources `yaml:"limits"`
	Ports           []Port    `yaml:"ports"`
	ReadinessProbe  *Probe    `yaml:"readinessProbe"`
}

// Resources is a resource list.
type Resources struct {
	CPU              Quantity `yaml:"cpu"`
	Memory           Quantity `yaml:"memory"`
	EphemeralStorage Quantity `yaml:"ephemeral-storage"`
}

// Port is a container port.
type Port struct {
	Name          string `yaml:"name"`
	ContainerPort int32  `yaml:"containerPort"`
	HostPort      int32  `yaml:"hostPort"`
	Protocol      string `yaml:"protocol"`
}

// Probe is a readiness probe (its handler is modeled: success once the container
// serves on its port).
type Probe struct {
	InitialDelaySeconds int32 `yaml:"initialDelaySeconds"`
	PeriodSeconds       int32 `yaml:"periodSeconds"`
	TimeoutSeconds      int32 `yaml:"timeoutSeconds"`
	SuccessThreshold    int32 `yaml:"successThreshold"`
	FailureThreshold    int32 `yaml:"failureThreshold"`
}

// Service is a v1 Service.
type Service struct {
	Name                     string            `yaml:"name"`
	Namespace                string            `yaml:"namespace"`
	At                       Duration          `yaml:"at"`
	Selector                 map[string]string `yaml:"selector"`
	Ports                    []ServicePort     `yaml:"ports"`
	SessionAffinity          string            `yaml:"sessionAffinity"`
	PublishNotReadyAddresses bool              `yaml:"publishNotReadyAddresses"`
}

// ServicePort is a Service port.
type ServicePort struct {
	Name       string `yaml:"name"`
	Port       int32  `yaml:"port"`
	TargetPort int32  `yaml:"targetPort"`
}

// Traffic is a stream of client requests to a Service.
type Traffic struct {
	Name     string   `yaml:"name"`
	Service  string   `yaml:"service"` // "name" or "namespace/name"
	Port     int32    `yaml:"port"`
	Rate     float64  `yaml:"rate"` // requests per second (Poisson)
	Start    Duration `yaml:"start"`
	Duration Duration `yaml:"duration"`
	From     []string `yaml:"from"` // client nodes; empty = every node
	// Host, when set, is the name clients resolve through cluster DNS before each
	// connection (for example nginx.default.svc.cluster.local); needs cluster.dns.
	Host string `yaml:"host"`
	// PerBackendMetrics records request latency and rate per pod address.
	PerBackendMetrics bool      `yaml:"perBackendMetrics"`
	NetworkLatency    *Dist     `yaml:"networkLatency"`
	Timeout           *Duration `yaml:"timeout"`
}

// Trace names a trace to replay. Paths are relative to the scenario file.
type Trace struct {
	// Format: alibaba-gpu-v2023 (a node list and a pod list, see the trace's README).
	Format string `yaml:"format"`
	Nodes  string `yaml:"nodes"` // node list: its nodes replace cluster.nodes
	Pods   string `yaml:"pods"`
	// TimeScale divides every trace time and duration (1 = real time).
	TimeScale float64 `yaml:"timeScale"`
	// Limit replays only the first N pods (0 = all).
	Limit int `yaml:"limit"`
	// SchedulerName is the scheduler profile of the trace's pods ("" =
	// default-scheduler).
	SchedulerName string `yaml:"schedulerName"`
}

// ManifestRef names manifests to apply: a path ("app.yaml", "k8s/") or a mapping
// {path: app.yaml, at: 5m}.
type ManifestRef struct {
	Path string   `yaml:"path"`
	At   Duration `yaml:"at"`
	Line int      `yaml:"-"`
}

// UnmarshalYAML accepts a plain path or a mapping.
func (m *ManifestRef) UnmarshalYAML(n *yaml.Node) error {
	m.Line = n.Line
	if n.Kind == yaml.ScalarNode {
		m.Path = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return lineErr(n, "expected a path or a mapping such as {path: app.yaml, at: 5m}")
	}
	type plain ManifestRef
	var p plain
	if err := decodeStrict(n, &p); err != nil {
		return err
	}
	*m = ManifestRef(p)
	m.Line = n.Line
	return nil
}

// Error is a problem in a scenario file.
type Error struct {
	File  string
	Line  int    // 0 when unknown
	Field string // dotted path such as workload.deployments[0].replicas
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

var yamlLineRe = regexp.MustCompile(`line (\d+): (.*)`)

// Parse decodes and validates a scenario. file names the source in errors.
func Parse(file string, data []byte) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, convertYAMLErr(file, err, nil)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &Error{File: file, Msg: "the file is empty: a scenario needs at least cluster.nodes"}
	}
	lines := map[string]int{}
	yamlpos.IndexLines(root.Content[0], "", lines)
	var sc Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil {
		return nil, convertYAMLErr(file, err, lines)
	}
	// A second document is a mistake (a scenario is one document).
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: file, Line: extra.Line, Msg: "a scenario file holds one YAML document; found a second one"}
	}
	sc.file = file
	sc.lines = lines
	if err := sc.validate(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// convertYAMLErr turns yaml's errors into *Error with a line and, where known, the field.
func convertYAMLErr(file string, err error, lines map[string]int) error {
	var le *lineError
	if errors.As(err, &le) {
		return &Error{File: file, Line: le.line, Field: fieldAtLine(lines, le.line), Msg: le.msg}
	}
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		text := m[2]
		if f := regexp.MustCompile(`field (\S+) not found in type (\S+)`).FindStringSubmatch(text); f != nil {
			text = fmt.Sprintf("unknown field %q (not a field of %s)", f[1], strings.TrimPrefix(f[2], "scenario."))
		}
		return &Error{File: file, Line: line, Field: fieldAtLine(lines, line), Msg: text}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// fieldAtLine returns the deepest field path that starts on line.
func fieldAtLine(lines map[string]int, line int) string {
	best := ""
	for p, l := range lines {
		if l == line && (len(p) > len(best) || (len(p) == len(best) && p < best)) {
			best = p
		}
	}
	return best
}

// File returns the name the scenario was parsed from.
func (s *Scenario) File() string { return s.file }

// errAt builds an error for a field path, with the line of the closest known
// enclosing path.
func (s *Scenario) errAt(path string, format string, a ...any) error {
	line := 0
	for p := path; p != ""; {
		if l, ok := s.lines[p]; ok {
			line = l
			break
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return &Error{File: s.file, Line: line, Field: path, Msg: fmt.Sprintf(format, a...)}
}

// NodeNames returns the names of every node of the scenario, in pool order.
func (s *Scenario) NodeNames() []string {
	var out []string
	for _, p := range s.Cluster.Nodes {
		out = append(out, p.NodeNames()...)
	}
	return out
}

// NodeNames returns the pool's node names.
func (p *NodePool) NodeNames() []string {
	n := p.count()
	if n == 1 {
		return []string{p.Name}
	}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", p.Name, i+1)
	}
	return out
}

func (p *NodePool) count() int {
	if p.Count == nil {
		return 1
	}
	return *p.Count
}

// ZoneOf returns the zone of the pool's i-th node.
func (p *NodePool) ZoneOf(i int) string {
	if len(p.Zones) > 0 {
		return p.Zones[i%len(p.Zones)]
	}
	return p.Zone
}

// Keys returns the sorted keys of a string map (deterministic iteration).
func Keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
