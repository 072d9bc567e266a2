//go:build kubescheduler

package kubescheduler

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	resourceslicetracker "k8s.io/dynamic-resource-allocation/resourceslice/tracker"
	"k8s.io/klog/v2"
	configv1 "k8s.io/kube-scheduler/config/v1"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/features"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/scheme"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/validation"
	internalcache "k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	frameworkplugins "k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/dynamicresources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodevolumelimits"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	"k8s.io/kubernetes/pkg/scheduler/metrics"
	"k8s.io/kubernetes/pkg/scheduler/util/assumecache"
)

// Process-wide set-up of the upstream scheduler packages (feature gates and
// metrics are global in k8s.io/kubernetes; reference upstream-scheduler.md §3, §7.8).
//
//   - SchedulerAsyncPreemption off: DefaultPreemption deletes its victims before
//     PostFilter returns (synchronously), so kubesim turns the deletes into
//     apiserver requests at the virtual instant of the decision.
//   - OpportunisticBatching off: its node hints expire on the wall clock; it is a
//     Scheduler-level feature this adapter does not run.
var setupOnce sync.Once
var setupErr error

func setup() error {
	setupOnce.Do(func() {
		setupErr = feature.DefaultMutableFeatureGate.SetFromMap(map[string]bool{
			string(features.SchedulerAsyncPreemption): false,
			string(features.OpportunisticBatching):    false,
		})
		metrics.Register()
		klog.SetLogger(klog.Background().V(100)) // silence: nothing below V(100) is printed
	})
	return setupErr
}

// DefaultConfig returns kube-scheduler's defaulted KubeSchedulerConfiguration
// (what the binary runs without --config), in the internal version.
func DefaultConfig() (*config.KubeSchedulerConfiguration, error) {
	var versioned configv1.KubeSchedulerConfiguration
	scheme.Scheme.Default(&versioned)
	cfg := &config.KubeSchedulerConfiguration{}
	if err := scheme.Scheme.Convert(&versioned, cfg, nil); err != nil {
		return nil, fmt.Errorf("kube-scheduler defaults: %w", err)
	}
	return cfg, nil
}

// DecodeConfig decodes and validates a KubeSchedulerConfiguration (YAML or JSON,
// kubescheduler.config.k8s.io/v1) with kube-scheduler's own codec (strict: unknown
// fields are errors) and validator, then checks what kubesim cannot run (refusals,
// see Refuse). name labels errors (a file name).
func DecodeConfig(name string, data []byte) (*config.KubeSchedulerConfiguration, error) {
	obj, gvk, err := scheme.Codecs.UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: decoding KubeSchedulerConfiguration with kube-scheduler %s's codec: %w", name, Version, err)
	}
	cfg, ok := obj.(*config.KubeSchedulerConfiguration)
	if !ok {
		return nil, fmt.Errorf("%s: expected a KubeSchedulerConfiguration, got %v", name, gvk)
	}
	if errs := validation.ValidateKubeSchedulerConfiguration(cfg); errs != nil {
		return nil, fmt.Errorf("%s: invalid KubeSchedulerConfiguration: %w", name, errs)
	}
	if err := Refuse(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// Refuse reports what a configuration asks for that cannot run on kubesim's
// virtual clock: Permit plug-ins (their waits are wall-clock timers), a changed
// VolumeBinding bindTimeoutSeconds (PreBind polls the apiserver on the wall clock;
// kubesim binds volumes with its own PV controller and never runs PreBind), changed
// DynamicResources timeouts (filterTimeout, bindingTimeout: wall-clock deadlines),
// extenders (HTTP calls) and more than one profile (kubesim runs one profile per
// scheduler). The defaults of the same settings are accepted: they never act,
// because kubesim has no ResourceClaims and the policy runs neither Permit nor
// PreBind.
func Refuse(cfg *config.KubeSchedulerConfiguration) error {
	if len(cfg.Profiles) != 1 {
		return fmt.Errorf("the configuration has %d profiles; the %s policy runs exactly one (kubesim runs one profile per scheduler)", len(cfg.Profiles), PolicyName)
	}
	if len(cfg.Extenders) > 0 {
		return fmt.Errorf("extenders are not supported by the %s policy (they are HTTP calls on the wall clock); use kubesim's own scheduler with --extender", PolicyName)
	}
	p := &cfg.Profiles[0]
	if p.Plugins != nil {
		var permit []string
		for _, e := range p.Plugins.Permit.Enabled {
			permit = append(permit, e.Name)
		}
		for _, e := range p.Plugins.MultiPoint.Enabled {
			if e.Name == "GangScheduling" {
				permit = append(permit, e.Name)
			}
		}
		if len(permit) > 0 {
			return fmt.Errorf("profile %q enables Permit plug-ins %v: Permit waits are wall-clock timers that cannot run on kubesim's virtual clock (refused)", p.SchedulerName, permit)
		}
	}
	def, err := DefaultConfig()
	if err != nil {
		return err
	}
	defArgs := map[string]any{}
	for _, pc := range def.Profiles[0].PluginConfig {
		defArgs[pc.Name] = pc.Args
	}
	for _, pc := range p.PluginConfig {
		switch a := pc.Args.(type) {
		case *config.VolumeBindingArgs:
			if d, ok := defArgs[pc.Name].(*config.VolumeBindingArgs); ok && a.BindTimeoutSeconds != d.BindTimeoutSeconds {
				return fmt.Errorf("profile %q: VolumeBinding bindTimeoutSeconds %d: PreBind polling on the wall clock cannot run on kubesim's virtual clock (refused; kubesim binds volumes with its own PV controller)", p.SchedulerName, a.BindTimeoutSeconds)
			}
		case *config.DynamicResourcesArgs:
			if d, ok := defArgs[pc.Name].(*config.DynamicResourcesArgs); ok && !reflect.DeepEqual(a, d) {
				return fmt.Errorf("profile %q: DynamicResources arguments (filterTimeout, bindingTimeout) are wall-clock deadlines that cannot run on kubesim's virtual clock (refused; kubesim models no ResourceClaims)", p.SchedulerName)
			}
		}
	}
	return nil
}

// upstream is the real framework with its cache, snapshot and informer stores,
// fed by the mirror (mirror.go). All calls happen on the engine goroutine.
type upstream struct {
	ctx    context.Context
	cancel context.CancelFunc
	logger klog.Logger

	cfg        *config.KubeSchedulerConfiguration
	profile    *config.KubeSchedulerProfile
	fw         framework.Framework
	cache      internalcache.Cache
	snap       *internalcache.Snapshot
	client     *fake.Clientset
	factory    informers.SharedInformerFactory
	percentage *int32
	weights    map[string]int64
	scoreOrder []string

	// deleted collects the pods DefaultPreemption deleted through the fake
	// clientset during one PostFilter call ("namespace/name").
	deleted []types.NamespacedName

	nominator fwk.PodNominator
	// extra, when set, is one more filter run after upstream's on feasible nodes
	// (the policy's single-GPU share check).
	extra func(pod *v1.Pod, node string) *fwk.Status
}

type noopActivator struct{}

func (noopActivator) Activate(klog.Logger, map[string]*v1.Pod) {}

type noopNominator struct{}

func (noopNominator) AddNominatedPod(klog.Logger, fwk.PodInfo, *fwk.NominatingInfo) {}
func (noopNominator) DeleteNominatedPodIfExists(*v1.Pod)                            {}
func (noopNominator) UpdateNominatedPod(klog.Logger, *v1.Pod, fwk.PodInfo)          {}
func (noopNominator) NominatedPodsForNode(string) []fwk.PodInfo                     { return nil }

// newUpstream builds the framework for cfg's single profile (nil: defaults) with
// parallelism 1, the in-tree registry, the scheduler's backend cache and snapshot,
// and a fake clientset whose informers are never started (their stores are written
// directly by the mirror).
func newUpstream(cfg *config.KubeSchedulerConfiguration, nominator fwk.PodNominator) (*upstream, error) {
	if err := setup(); err != nil {
		return nil, fmt.Errorf("kube-scheduler %s feature gates: %w", Version, err)
	}
	if cfg == nil {
		var err error
		if cfg, err = DefaultConfig(); err != nil {
			return nil, err
		}
	}
	if err := Refuse(cfg); err != nil {
		return nil, err
	}
	if nominator == nil {
		nominator = noopNominator{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	u := &upstream{ctx: ctx, cancel: cancel, logger: klog.FromContext(ctx), cfg: cfg, profile: &cfg.Profiles[0], nominator: nominator}
	u.client = fake.NewClientset()
	u.client.PrependReactor("patch", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, &v1.Pod{}, nil // condition and nomination patches: kubesim writes its own
	})
	u.client.PrependReactor("delete", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		d := a.(clienttesting.DeleteAction)
		u.deleted = append(u.deleted, types.NamespacedName{Namespace: d.GetNamespace(), Name: d.GetName()})
		return true, nil, nil
	})
	u.factory = informers.NewSharedInformerFactory(u.client, 0)
	claimInf := u.factory.Resource().V1().ResourceClaims().Informer()
	claimCache := assumecache.NewAssumeCache(u.logger, claimInf, "ResourceClaim", "", nil)
	tracker, err := resourceslicetracker.StartTracker(ctx, resourceslicetracker.Options{
		EnableDeviceTaintRules:   feature.DefaultFeatureGate.Enabled(features.DRADeviceTaintRules),
		EnableConsumableCapacity: feature.DefaultFeatureGate.Enabled(features.DRAConsumableCapacity),
		SliceInformer:            u.factory.Resource().V1().ResourceSlices(),
		TaintInformer:            u.factory.Resource().V1().DeviceTaintRules(),
		KubeClient:               u.client,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("kube-scheduler DRA tracker: %w", err)
	}
	dra := dynamicresources.NewDRAManager(ctx, claimCache, tracker, u.factory)
	u.snap = internalcache.NewEmptySnapshot()
	u.cache = internalcache.New(ctx, nil, false, false)
	u.fw, err = frameworkruntime.NewFramework(ctx, frameworkplugins.NewInTreeRegistry(), u.profile,
		frameworkruntime.WithComponentConfigVersion(configv1.SchemeGroupVersion.Version),
		frameworkruntime.WithClientSet(u.client),
		frameworkruntime.WithInformerFactory(u.factory),
		frameworkruntime.WithSharedDRAManager(dra),
		frameworkruntime.WithSharedCSIManager(nodevolumelimits.NewCSIManager(u.factory.Storage().V1().CSINodes().Lister())),
		frameworkruntime.WithSnapshotSharedLister(u.snap),
		frameworkruntime.WithMutableSnapshotLister(u.snap),
		frameworkruntime.WithParallelism(1),
		frameworkruntime.WithMetricsRecorder(metrics.NewMetricsAsyncRecorder(1000, time.Second, ctx.Done())),
		frameworkruntime.WithWaitingPods(frameworkruntime.NewWaitingPodsMap()),
		frameworkruntime.WithPodsInPreBind(frameworkruntime.NewPodsInPreBindMap()),
		frameworkruntime.WithPodNominator(nominator),
		frameworkruntime.WithEventRecorder(&events.FakeRecorder{}),
		frameworkruntime.WithPodGroupManager(u.cache),
	)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("kube-scheduler %s profile %q: %w", Version, u.profile.SchedulerName, err)
	}
	u.fw.SetPodActivator(noopActivator{})
	if u.profile.PercentageOfNodesToScore != nil {
		u.percentage = u.profile.PercentageOfNodesToScore
	} else {
		u.percentage = cfg.PercentageOfNodesToScore
	}
	u.weights = map[string]int64{}
	for _, e := range u.fw.ListPlugins().Score.Enabled {
		w := int64(e.Weight)
		if w == 0 {
			w = 1
		}
		u.weights[e.Name] = w
		u.scoreOrder = append(u.scoreOrder, e.Name)
	}
	return u, nil
}

// close stops the framework's background goroutines (metrics flush, cache
// metrics, DRA tracker).
func (u *upstream) close() {
	u.cancel()
}

func (u *upstream) store(obj any) cache.Store {
	switch obj.(type) {
	case *v1.Pod:
		return u.factory.Core().V1().Pods().Informer().GetStore()
	case *v1.Node:
		return u.factory.Core().V1().Nodes().Informer().GetStore()
	}
	return nil
}

// seedPreemption seeds the math/rand source DefaultPreemption draws its dry-run
// offset from (default_preemption.go getOffsetRand = rand.Int31n). Effective only
// with GODEBUG randseednop=0 (go.mod's godebug block): with Go ≥ 1.24 rand.Seed is
// otherwise a no-op.
func seedPreemption(seed int64) {
	rand.Seed(seed) //nolint:staticcheck // the only way to reach upstream's global source
}
