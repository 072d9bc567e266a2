// Package workload turns workloads into API objects created over virtual time:
// Kubernetes manifests, synthetic generators and trace replay.
//
// This file reads the Alibaba GPU cluster trace v2023 (alibaba/clusterdata,
// cluster-trace-gpu-v2023/csv; Weng et al., "Beware of Fragmentation: Scheduling
// GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC 2023):
// a node list (sn,cpu_milli,memory_mib,gpu,model) and a pod list
// (name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,
// creation_time,deletion_time,scheduled_time). Rows are kept in a compact form;
// API objects are built one at a time when the replayer creates them.
package workload

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/kubesim/kubesim/model/api"
)

// MiB is one mebibyte in bytes.
const MiB = 1 << 20

// NodeSpec is a node to register: its name, capacity and labels. The lead maps it
// onto a kubelet configuration (Capacity, Labels); Node builds the object directly
// for tests and tools without kubelets.
type NodeSpec struct {
	Name     string
	Capacity api.Resources
	Labels   map[string]string
}

// Node returns a Ready Node with allocatable = capacity (pods 110 when unset).
func (s *NodeSpec) Node() *api.Node {
	c := s.Capacity.Clone()
	if c.Pods == 0 {
		c.Pods = 110
	}
	labels := map[string]string{api.LabelHostname: s.Name}
	for k, v := range s.Labels {
		labels[k] = v
	}
	return &api.Node{
		ObjectMeta: api.ObjectMeta{Name: s.Name, Labels: labels},
		Status: api.NodeStatus{Capacity: c, Allocatable: c.Clone(),
			Conditions: []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue}}},
	}
}

// AlibabaNodeHeader is the node list's header.
var AlibabaNodeHeader = []string{"sn", "cpu_milli", "memory_mib", "gpu", "model"}

// AlibabaPodHeader is the pod list's header.
var AlibabaPodHeader = []string{"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec", "qos", "pod_phase",
	"creation_time", "deletion_time", "scheduled_time"}

// LoadAlibabaNodes reads a node list. Each node gets capacity cpu_milli, memory_mib
// MiB, gpu whole GPUs (api.ResourceGPU) and gpu×1000 GPU thousandths
// (api.ResourceGPUMilli, so that NodeResourcesFit admits sharing pods on the
// aggregate; which GPU a share lands on is the GPU-aware policies' concern), and
// the label api.LabelGPUModel=model when model is set. CPU-only nodes get no GPU
// resources. Errors name the line and the column.
func LoadAlibabaNodes(r io.Reader) ([]NodeSpec, error) {
	cr, err := newCSV(r, AlibabaNodeHeader)
	if err != nil {
		return nil, fmt.Errorf("alibaba node list: %w", err)
	}
	var out []NodeSpec
	seen := map[string]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("alibaba node list: %w", err)
		}
		p := rowParser{rec: rec, line: line, header: AlibabaNodeHeader}
		s := NodeSpec{Name: rec[0]}
		if s.Name == "" {
			return nil, fmt.Errorf("alibaba node list: line %d: sn: empty", line)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("alibaba node list: line %d: sn: duplicate node %q", line, s.Name)
		}
		seen[s.Name] = true
		s.Capacity.MilliCPU = p.int(1, 1)
		s.Capacity.Memory = p.int(2, 1) * MiB
		gpus := p.int(3, 0)
		if p.err != nil {
			return nil, fmt.Errorf("alibaba node list: %w", p.err)
		}
		if gpus > 0 {
			s.Capacity.Scalar = map[api.ResourceName]int64{api.ResourceGPU: gpus, api.ResourceGPUMilli: gpus * 1000}
		}
		if m := strings.TrimSpace(rec[4]); m != "" {
			s.Labels = map[string]string{api.LabelGPUModel: m}
		}
		out = append(out, s)
	}
}

// AlibabaPod is one row of the pod list, compact (about 100 bytes plus the name).
// Times are whole seconds from the trace's start; ScheduledTime is -1 when the
// pod was never scheduled.
type AlibabaPod struct {
	Name           string
	MilliCPU       int64
	MemoryMiB      int64
	NumGPU         int32
	GPUMilli       int32
	GPUSpec        string // allowed models, '|'-separated; "" = any
	QoS            string // LS, BE, Burstable, Guaranteed
	Phase          string // final observed phase (informational; not replayed)
	CreationTime   int64
	DeletionTime   int64
	ScheduledTime  int64
	gpuModelsSplit []string
}

// QoS classes of the trace.
const (
	QoSLS         = "LS"
	QoSBE         = "BE"
	QoSBurstable  = "Burstable"
	QoSGuaranteed = "Guaranteed"
)

// RunSeconds is how long the pod's process runs in the trace: deletion_time −
// scheduled_time, or deletion_time − creation_time for a pod the trace never
// scheduled (the replay cannot know when it would have started, and the time it
// would have held resources is unknown; the simulated pod, if it is scheduled,
// runs for the whole time the trace kept it). At least 0.
func (p *AlibabaPod) RunSeconds() int64 {
	start := p.ScheduledTime
	if start < 0 {
		start = p.CreationTime
	}
	return max(p.DeletionTime-start, 0)
}

// Requests returns the pod's container requests: cpu, memory, and
//   - num_gpu > 1, or num_gpu 1 with gpu_milli 1000 (or 0): num_gpu whole GPUs (api.ResourceGPU);
//   - num_gpu 1 with gpu_milli 1..999: a share of one GPU (api.ResourceGPUMilli = gpu_milli);
//   - num_gpu 0: no GPU.
func (p *AlibabaPod) Requests() api.Resources {
	r := api.Resources{MilliCPU: p.MilliCPU, Memory: p.MemoryMiB * MiB}
	switch {
	case p.NumGPU == 1 && p.GPUMilli > 0 && p.GPUMilli < 1000:
		r.Scalar = map[api.ResourceName]int64{api.ResourceGPUMilli: int64(p.GPUMilli)}
	case p.NumGPU >= 1:
		r.Scalar = map[api.ResourceName]int64{api.ResourceGPU: int64(p.NumGPU)}
	}
	return r
}

// GPUModels returns the allowed GPU models (nil = any).
func (p *AlibabaPod) GPUModels() []string {
	if p.GPUSpec == "" {
		return nil
	}
	if p.gpuModelsSplit == nil {
		for _, m := range strings.Split(p.GPUSpec, "|") {
			if m = strings.TrimSpace(m); m != "" {
				p.gpuModelsSplit = append(p.gpuModelsSplit, m)
			}
		}
	}
	return p.gpuModelsSplit
}

// LoadAlibabaPods reads a pod list into compact rows, in file order (the
// replayer orders them by creation time, stably). Errors name the line and column.
func LoadAlibabaPods(r io.Reader) ([]AlibabaPod, error) {
	cr, err := newCSV(r, AlibabaPodHeader)
	if err != nil {
		return nil, fmt.Errorf("alibaba pod list: %w", err)
	}
	var out []AlibabaPod
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("alibaba pod list: %w", err)
		}
		p, err := parseAlibabaPod(rec, line)
		if err != nil {
			return nil, fmt.Errorf("alibaba pod list: %w", err)
		}
		out = append(out, p)
	}
}

func parseAlibabaPod(rec []string, line int) (AlibabaPod, error) {
	rp := rowParser{rec: rec, line: line, header: AlibabaPodHeader}
	p := AlibabaPod{Name: rec[0], GPUSpec: strings.TrimSpace(rec[5]), QoS: rec[6], Phase: rec[7]}
	if p.Name == "" {
		return p, fmt.Errorf("line %d: name: empty", line)
	}
	p.MilliCPU = rp.int(1, 0)
	p.MemoryMiB = rp.int(2, 0)
	p.NumGPU = int32(rp.int(3, 0))
	p.GPUMilli = int32(rp.int(4, 0))
	p.CreationTime = rp.int(8, 0)
	p.DeletionTime = rp.int(9, 0)
	p.ScheduledTime = -1
	if strings.TrimSpace(rec[10]) != "" {
		p.ScheduledTime = rp.int(10, 0)
	}
	if rp.err != nil {
		return p, rp.err
	}
	switch {
	case p.GPUMilli > 1000:
		return p, fmt.Errorf("line %d: gpu_milli: must be at most 1000, got %d", line, p.GPUMilli)
	case p.NumGPU > 1 && p.GPUMilli != 0 && p.GPUMilli != 1000:
		return p, fmt.Errorf("line %d: gpu_milli: a share (%d) is only allowed with num_gpu 1, got num_gpu %d", line, p.GPUMilli, p.NumGPU)
	case p.DeletionTime < p.CreationTime:
		return p, fmt.Errorf("line %d: deletion_time: %d is before creation_time %d", line, p.DeletionTime, p.CreationTime)
	case p.ScheduledTime >= 0 && p.ScheduledTime < p.CreationTime:
		return p, fmt.Errorf("line %d: scheduled_time: %d is before creation_time %d", line, p.ScheduledTime, p.CreationTime)
	}
	switch p.QoS {
	case QoSLS, QoSBE, QoSBurstable, QoSGuaranteed:
	default:
		return p, fmt.Errorf("line %d: qos: unknown class %q (known: LS, BE, Burstable, Guaranteed)", line, p.QoS)
	}
	return p, nil
}

func newCSV(r io.Reader, header []string) (*csv.Reader, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(header)
	cr.ReuseRecord = true
	h, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("line 1: empty file, want header %s", strings.Join(header, ","))
		}
		return nil, err
	}
	for i := range header {
		if strings.TrimSpace(strings.TrimPrefix(h[i], "\ufeff")) != header[i] {
			return nil, fmt.Errorf("line 1: header column %d is %q, want %q (header %s)", i+1, h[i], header[i], strings.Join(header, ","))
		}
	}
	return cr, nil
}

// rowParser parses integer columns, keeping the first error.
type rowParser struct {
	rec    []string
	line   int
	header []string
	err    error
}

func (p *rowParser) int(col int, minimum int64) int64 {
	if p.err != nil {
		return 0
	}
	s := strings.TrimSpace(p.rec[col])
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		p.err = fmt.Errorf("line %d: %s: not an integer: %q", p.line, p.header[col], s)
		return 0
	}
	if v < minimum {
		p.err = fmt.Errorf("line %d: %s: must be at least %d, got %d", p.line, p.header[col], minimum, v)
		return 0
	}
	return v
}
