package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/kubesim/kubesim/model/cluster"
	"github.com/kubesim/kubesim/model/dist"
	"github.com/kubesim/kubesim/model/etcd"
	realetcd "github.com/kubesim/kubesim/model/etcd/real"
	"github.com/kubesim/kubesim/model/fault"
	realproxy "github.com/kubesim/kubesim/model/proxy/real"
	"github.com/kubesim/kubesim/model/runtime/docker"
	"github.com/kubesim/kubesim/model/scenario"
	realtraffic "github.com/kubesim/kubesim/model/traffic/real"
	"github.com/kubesim/kubesim/results"
	"github.com/kubesim/kubesim/sim"
	"github.com/kubesim/kubesim/sim/wall"
)

// defaultRealHorizon is the virtual (here: wall) horizon of a real run: short, so a
// real run of nginx finishes well under two minutes.
const defaultRealHorizon = 30 * time.Second

// realFaultKinds are the faults a real run can inject: they map to real actions
// (docker kill of a container; every container of a modeled node killed and its
// kubelet stopped).
var realFaultKinds = []string{fault.ContainerCrash, fault.NodeCrash, fault.ZoneOutage}

// comparable holds how a scenario is adapted for the wall clock; the simulated run
// of kubesim validate gets the same adaptation, so the two runs compare.
type comparable struct {
	horizon time.Duration
	// killAt > 0: inject one container kill at this time when the scenario has
	// none (kubesim validate measures recovery after a container kill).
	killAt time.Duration
}

// prepare returns a copy of sc adapted for a run of c.horizon: traffic clipped to
// end a second before the horizon, faults checked against what a real run can
// inject, and the validation's container kill added. notes say what changed.
func (c comparable) prepare(sc *scenario.Scenario) (*scenario.Scenario, []string, error) {
	cp := *sc
	cp.Duration = scenario.Duration(c.horizon)
	var notes []string
	if sc.Duration.D() != c.horizon {
		notes = append(notes, fmt.Sprintf("horizon %v (the scenario's duration is %v)", c.horizon, sc.Duration.D()))
	}
	cp.Workload.Traffic = nil
	for _, tr := range sc.Workload.Traffic {
		end := min(tr.Start.D()+tr.Duration.D(), c.horizon-time.Second)
		if end <= tr.Start.D() {
			notes = append(notes, fmt.Sprintf("traffic %s starts at %v, after the horizon: not sent", tr.Name, tr.Start.D()))
			continue
		}
		if end < tr.Start.D()+tr.Duration.D() {
			notes = append(notes, fmt.Sprintf("traffic %s clipped to %v..%v", tr.Name, tr.Start.D(), end))
		}
		tr.Duration = scenario.Duration(end - tr.Start.D())
		cp.Workload.Traffic = append(cp.Workload.Traffic, tr)
	}
	cp.Faults = append([]scenario.Fault(nil), sc.Faults...)
	hasKill := false
	for _, f := range cp.Faults {
		if !contains(realFaultKinds, f.Kind) {
			return nil, nil, badInput("scenario %s: fault %q (kind %s) cannot be injected in a real run (supported: %s)",
				sc.Name, f.Name, f.Kind, strings.Join(realFaultKinds, ", "))
		}
		if f.MTBF != nil {
			return nil, nil, badInput("scenario %s: fault %q: random failure processes (mtbf) are not supported in a real run; give at/every/count", sc.Name, f.Name)
		}
		hasKill = hasKill || f.Kind == fault.ContainerCrash
	}
	if c.killAt > 0 && !hasKill {
		if len(sc.Workload.Deployments) == 0 {
			return nil, nil, badInput("scenario %s: no Deployment whose container validate could kill", sc.Name)
		}
		d := sc.Workload.Deployments[0]
		cp.Faults = append(cp.Faults, scenario.Fault{Name: "validate-container-kill", Kind: fault.ContainerCrash, At: scenario.Duration(c.killAt),
			Target: scenario.FaultTarget{Pods: d.Labels, RandomK: 1}, Params: map[string]string{"exitCode": "137"}})
		notes = append(notes, fmt.Sprintf("the scenario has no container kill: validate injects one at %v into a pod of deployment %s (both runs)", c.killAt, d.Name))
	}
	// A real run's nodes share this machine's one Docker engine: the simulated
	// twin's nodes share one daemon too (it matters with a parallelism set, as a
	// calibration profile does).
	shared := true
	cp.Cluster.Runtime.SharedEngine = &shared
	if p := cp.Cluster.Runtime.Parallelism; p != nil && *p > 0 {
		notes = append(notes, fmt.Sprintf("simulated nodes share one container engine of parallelism %g, as the real run's nodes share one Docker engine", *p))
	}
	return &cp, notes, nil
}

func contains(v []string, s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}

// modeRun is one run of a scenario, simulated or real: its summary, its raw
// samples and the collector behind both.
type modeRun struct {
	sum     *results.Summary
	samples *results.RunSamples
	col     *results.Collector
	final   results.Final
}

// timedStore measures every etcd commit in engine time (proposal to applied), in
// both modes, as results.SampleEtcdCommit.
type timedStore struct {
	etcd.Backend
	eng *sim.Engine
	s   *results.RunSamples
}

func (t timedStore) Commit(op etcd.Op, done func(etcd.Result)) {
	t0 := t.eng.Now()
	t.Backend.Commit(op, func(r etcd.Result) {
		t.s.Add(results.SampleEtcdCommit, t.eng.Now().Sub(t0).Seconds())
		if done != nil {
			done(r)
		}
	})
}

// addRunSamples adds what both modes measure the same way: the collector's metrics
// and step latencies, the recovery after container kills and the error ratio.
//
// The steps are those of the initial flow: their records before the first fault
// (a kill and its restart would stretch step 5 to the kill). The recovery from a
// container kill is the time from the kill to the end of the degradation it
// caused (the killed pod ready again); a kill that degraded nothing recovers in 0.
func addRunSamples(s *results.RunSamples, col *results.Collector, final results.Final) {
	var firstFault sim.Time
	if len(final.Faults) > 0 {
		firstFault = final.Faults[0].At
	}
	s.FromCollector(col, firstFault)
	var recovered []sim.Time // recovery end of each container kill
	for _, f := range final.Faults {
		if f.Kind != fault.ContainerCrash {
			continue
		}
		end := f.At
		for _, p := range final.Degraded {
			if p.Start >= f.At {
				end = p.End
				break
			}
		}
		if end == 0 {
			continue // not recovered within the run
		}
		recovered = append(recovered, end)
		s.Add(results.SampleRecoveryKill, end.Sub(f.At).Seconds())
	}
	// The kubelet's restarts of killed containers, and the requests answered after
	// the recovery from the first container kill (the proxy routes to the
	// restarted container again).
	var restarts int32
	for _, p := range final.Pods {
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
	}
	s.Add(results.SampleContainerRestarts, float64(restarts))
	if len(recovered) > 0 {
		n := 0
		for _, x := range col.Metric("request_latency_seconds") {
			if x.T > recovered[0] {
				n++
			}
		}
		s.Add(results.SampleRequestsOKAfterRecovery, float64(n))
	}
	var ok, failed uint64
	for _, r := range final.Requests {
		ok += r.OK
		failed += r.Failed
	}
	if ok+failed > 0 {
		s.Add(results.SampleRequestsFailed, float64(failed))
		s.Add(results.SampleRequestsTotal, float64(ok+failed))
		s.Add(results.SampleRequestErrRate, float64(failed)/float64(ok+failed))
	}
}

// simulateComparable runs the prepared scenario in virtual time with the same
// measuring decorators as a real run.
func simulateComparable(sc *scenario.Scenario, seed uint64) (*modeRun, error) {
	col := results.NewCollector(results.TraceSteps)
	s := &results.RunSamples{Version: version, Scenario: sc.Name, Seed: seed, Mode: "simulated"}
	newRuntime, _ := timed(nil, s)
	opts := cluster.Options{Seed: seed, NewRuntime: newRuntime}
	opts.NewStore = func(eng *sim.Engine, cfg etcd.Config, reg *dist.Registry) (etcd.Backend, error) {
		st, err := etcd.New(eng, cfg, reg)
		if err != nil {
			return nil, err
		}
		return timedStore{st, eng, s}, nil
	}
	cl, err := cluster.Build(sc, opts, col)
	if err != nil {
		return nil, &inputError{fmt.Errorf("scenario %s: %w", sc.Name, err)}
	}
	if err := cl.Run(sim.Time(sc.Duration.D())); err != nil {
		return nil, fmt.Errorf("scenario %s, seed %d (simulated): %w", sc.Name, seed, err)
	}
	final := finalState(sc, cl)
	sum := results.Summarize(results.RunInfo{Version: version, Scenario: sc.Name, Seed: seed, End: cl.Eng.Now(), Events: cl.Eng.Fired()}, col, final)
	addRunSamples(s, col, final)
	return &modeRun{sum: sum, samples: s, col: col, final: final}, nil
}

// realSettings configure a real run.
type realSettings struct {
	imageMap map[string]string
	// progress receives what the run does, for people (stderr).
	progress io.Writer
	// trafficCap bounds the requests of each traffic source.
	trafficCap int
}

// realRunScenario runs the prepared scenario on the wall clock with real
// containers, the real proxy, the real etcd and real traffic. Every container of
// the run is removed before it returns, whatever happens (ctx cancelled by a
// signal, an error, a panic); a SIGKILL leaves them to `kubesim real gc`.
func realRunScenario(ctx context.Context, sc *scenario.Scenario, seed uint64, rs realSettings) (out *modeRun, err error) {
	logf := func(format string, a ...any) {
		if rs.progress != nil {
			fmt.Fprintf(rs.progress, "real run: "+format+"\n", a...)
		}
	}
	dcl, err := docker.Dial(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("a real run needs the Docker engine: %w", err)
	}
	defer dcl.Close()

	eng := sim.New(seed)
	drv := wall.New(eng)
	runID := docker.NewRunID()
	var adapterErr error
	col := results.NewCollector(results.TraceSteps)
	de, err := docker.NewEngine(dcl, docker.Config{RunID: runID, Post: drv.Post, Images: rs.imageMap,
		// The adapter tells its story as the modeled runtime does (docker/<node>
		// records of step 5), so the steps are timed from the same records.
		Trace: func(component string, step int, action, object, detail string) {
			col.Trace(sim.Record{Time: eng.Now(), Step: step, Component: component, Action: action, Object: object, Detail: detail})
		},
		ImageMapHint: "--image-map SCENARIO_IMAGE=LOCAL_IMAGE (kubesim real run / validate)",
		OnError: func(e error) {
			if adapterErr == nil {
				adapterErr = e
			}
		}})
	if err != nil {
		return nil, err
	}
	// Every image the scenario names must be in the image store (or pullable)
	// before anything starts: a run with pods that can never start is no run.
	if err := de.Preflight(ctx, scenarioImages(sc)); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	logf("run id %s (containers carry the label %s=%s; `kubesim real gc` removes leftovers)", runID, docker.LabelRun, runID)
	defer func() {
		// Clean-up on every path, with its own deadline: ctx may be cancelled.
		cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		removed, serr := de.Shutdown(cctx)
		logf("removed %d container(s) of run %s", len(removed), runID)
		if serr != nil && err == nil {
			err = fmt.Errorf("removing the containers of run %s: %w (run `kubesim real gc --run %s`)", runID, serr, runID)
		}
	}()

	store, err := realetcd.Start(eng, realetcd.Options{Post: drv.Post})
	if err != nil {
		return nil, fmt.Errorf("starting the embedded etcd: %w", err)
	}
	defer store.Close()
	logf("embedded etcd at %s", store.Endpoint())
	px, err := realproxy.New(realproxy.Options{Resolve: de.Resolve, Seed: seed})
	if err != nil {
		return nil, err
	}
	defer px.Close()

	s := &results.RunSamples{Version: version, Scenario: sc.Name, Seed: seed, Mode: "real"}
	present := map[string]bool{}
	factory := func(c *cluster.Cluster, p *cluster.NodePart) (cluster.NodeRuntime, error) {
		return newRealNode(de, p.Name, func(ref string) { present[ref] = true }), nil
	}
	// The modeled traffic is replaced by the real load generator.
	build := *sc
	build.Workload.Traffic = nil
	newRuntime, engineOps := timed(factory, s)
	opts := cluster.Options{Engine: eng, NewRuntime: newRuntime, Dataplane: px,
		NewStore: func(*sim.Engine, etcd.Config, *dist.Registry) (etcd.Backend, error) {
			return timedStore{store, eng, s}, nil
		}}
	cl, err := cluster.Build(&build, opts, col)
	if err != nil {
		return nil, &inputError{fmt.Errorf("scenario %s: %w", sc.Name, err)}
	}

	// Real traffic: at each source's start, the load generator sends to the real
	// proxy's listener of the Service.
	type trafficResult struct {
		i   int
		res *realtraffic.Result
		err error
	}
	trafficDone := make(chan trafficResult, len(sc.Workload.Traffic))
	pending := 0
	trafficErrs := make([]error, len(sc.Workload.Traffic))
	for i, tr := range sc.Workload.Traffic {
		i, tr := i, tr
		pending++
		eng.At(sim.Time(tr.Start.D()), func() {
			ns, name := scenario.SplitNamespaced(tr.Service)
			addr, ok := px.Addr(ns, name, tr.Port)
			if !ok {
				trafficErrs[i] = fmt.Errorf("traffic %s: service %s/%s port %d is not programmed in the real proxy at %v", tr.Name, ns, name, tr.Port, tr.Start.D())
				trafficDone <- trafficResult{i: i}
				return
			}
			count := int(math.Ceil(tr.Rate*tr.Duration.D().Seconds()*1.5)) + 10
			if rs.trafficCap > 0 {
				count = min(count, rs.trafficCap)
			}
			cfg := realtraffic.Config{Target: "http://" + addr + "/", Rate: tr.Rate, Duration: tr.Duration.D(), Count: count,
				Seed: sim.NewSource(seed, "traffic/"+tr.Name).Uint64(), Timeout: 2 * time.Second}
			logf("traffic %s: %g requests/s for %v to %s (the real proxy of service %s/%s)", tr.Name, tr.Rate, tr.Duration.D(), addr, ns, name)
			go func() {
				r, err := realtraffic.Run(ctx, cfg)
				trafficDone <- trafficResult{i: i, res: r, err: err}
			}()
		})
	}

	drv.Halt = func() bool { return cl.Violation() != nil || adapterErr != nil }
	logf("running %v on the wall clock", sc.Duration.D())
	runErr := drv.Run(ctx, sim.Time(sc.Duration.D()))
	switch {
	case errors.Is(runErr, wall.ErrHalted) && adapterErr != nil:
		return nil, fmt.Errorf("the Docker engine failed during the run: %w", adapterErr)
	case errors.Is(runErr, wall.ErrHalted):
		// An invariant broke: reported by Finish below.
	case runErr != nil:
		return nil, fmt.Errorf("real run interrupted: %w", runErr)
	}
	if err := cl.Finish(); err != nil {
		return nil, fmt.Errorf("scenario %s, seed %d (real): %w", sc.Name, seed, err)
	}

	// Collect the traffic (requests end within their 2 s timeout).
	reqs := make([]results.RequestStats, len(sc.Workload.Traffic))
	epoch := drv.Epoch()
	wait := time.NewTimer(30 * time.Second)
	defer wait.Stop()
	for pending > 0 {
		select {
		case r := <-trafficDone:
			pending--
			tr := sc.Workload.Traffic[r.i]
			rsx := results.RequestStats{Name: tr.Name}
			if r.err != nil {
				trafficErrs[r.i] = fmt.Errorf("traffic %s: %w", tr.Name, r.err)
			}
			if r.res != nil {
				rsx.Sent, rsx.OK, rsx.Failed = uint64(r.res.Sent), uint64(r.res.OK), uint64(r.res.Errors)
				reasons := make([]string, 0, len(r.res.ErrorsByReason))
				for k := range r.res.ErrorsByReason {
					reasons = append(reasons, k)
				}
				sort.Strings(reasons)
				for _, k := range reasons {
					rsx.FailedBy = append(rsx.FailedBy, results.ReasonCount{Reason: k, Count: uint64(r.res.ErrorsByReason[k])})
				}
				first := -1
				for k, smp := range r.res.Samples {
					if smp.OK() {
						at := sim.Time(smp.Start.Add(smp.Latency).Sub(epoch))
						col.Observe("request_latency_seconds", at, smp.Latency.Seconds())
						if first < 0 || smp.Start.Add(smp.Latency).Before(r.res.Samples[first].Start.Add(r.res.Samples[first].Latency)) {
							first = k
						}
					}
				}
				if first >= 0 {
					// As the modeled clients do (model/traffic): the first answered
					// request is a step-6 record of its own object.
					smp := r.res.Samples[first]
					col.Trace(sim.Record{Time: sim.Time(smp.Start.Add(smp.Latency).Sub(epoch)), Step: 6, Component: "client/" + tr.Name, Action: "request",
						Object: fmt.Sprintf("request/%s/%d", tr.Name, first+1),
						Detail: fmt.Sprintf("first request answered: load generator → the real proxy (%s) → an nginx container in %.1f ms", r.res.Target, float64(smp.Latency.Microseconds())/1000)})
				}
			}
			reqs[r.i] = rsx
		case <-wait.C:
			return nil, fmt.Errorf("the load generator did not finish within 30 s of the run's end")
		case <-ctx.Done():
			return nil, fmt.Errorf("real run interrupted: %w", ctx.Err())
		}
	}
	if err := errors.Join(trafficErrs...); err != nil {
		return nil, err
	}

	final := finalState(&build, cl)
	final.Requests = reqs
	sum := results.Summarize(results.RunInfo{Version: version, Scenario: sc.Name, Seed: seed, End: eng.Now(), Events: eng.Fired()}, col, final)
	addRunSamples(s, col, final)
	// One Docker engine carried every node: its creates and starts, whose overlaps
	// calibration factors out.
	engineOps.record(s)
	for name, ds := range de.Samples() {
		key := map[string]string{docker.SampleImageInspect: results.SampleImageInspect, docker.SampleReady: results.SampleContainerReady}[name]
		if key == "" {
			key = "docker_" + name + "_seconds"
		}
		for _, d := range ds {
			s.Add(key, d.Seconds())
		}
	}
	for _, ps := range px.ProgramSamples() {
		if ps.Err == "" {
			s.Add(results.SampleProxySync, ps.Latency.Seconds())
		}
	}
	var ims []string
	for im := range present {
		ims = append(ims, im)
	}
	sort.Strings(ims)
	for _, im := range ims {
		s.Notes = append(s.Notes, results.NoteImagePresent+im)
	}
	s.Notes = append(s.Notes, "run-id:"+runID, fmt.Sprintf("wall-loop-max-lag:%v", drv.MaxLag()))
	if d := store.Divergences(); len(d) > 0 {
		return nil, fmt.Errorf("the real etcd and its mirror disagreed: %s", strings.Join(d, "; "))
	}
	return &modeRun{sum: sum, samples: s, col: col, final: final}, nil
}

// writeRunDir writes a run's summary, time series, trace and raw samples.
func writeRunDir(dir string, r *modeRun) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	recs := r.col.Records()
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"summary.json", func(w io.Writer) error { _, err := w.Write(results.MarshalSummary(r.sum)); return err }},
		{"timeseries.csv", func(w io.Writer) error { return results.WriteTimeSeriesCSV(w, r.col) }},
		{"trace.jsonl", func(w io.Writer) error { return results.WriteJSONL(w, recs) }},
		{results.SamplesFile, func(w io.Writer) error { return results.WriteSamples(w, r.samples) }},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := results.WriteFileAtomic(p, f.write); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

// parseImageMap parses --image-map entries "scenario-image=local-image".
func parseImageMap(entries []string) (map[string]string, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	m := docker.DefaultImageMap()
	for _, e := range entries {
		for _, kv := range strings.Split(e, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || v == "" {
				return nil, badInput("--image-map %q: want SCENARIO_IMAGE=LOCAL_IMAGE, e.g. nginx:1.27=kubesim/nginx:1.22", kv)
			}
			m[k] = v
		}
	}
	return m, nil
}

// realFlags are the flags shared by real run and validate.
type realFlags struct {
	seed     uint64
	duration time.Duration
	imageMap []string
	out      string
}

func (f *realFlags) register(cmd *cobra.Command, outHelp string) {
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 0, "root random seed (default: the scenario's seed)")
	fl.DurationVar(&f.duration, "duration", defaultRealHorizon, "horizon of the run (wall time of the real run); traffic is clipped to it")
	fl.StringSliceVar(&f.imageMap, "image-map", nil, "map a scenario image to a local one, e.g. nginx:1.27=kubesim/nginx:1.22 (added to the defaults)")
	fl.StringVar(&f.out, "out", "", outHelp)
}

func (f *realFlags) check(cmd *cobra.Command, sc *scenario.Scenario) (uint64, map[string]string, error) {
	seed := sc.Seed
	if cmd.Flags().Changed("seed") {
		seed = f.seed
	}
	if f.duration <= 0 || f.duration > 10*time.Minute {
		return 0, nil, badInput("--duration %v: want a positive duration of at most 10m", f.duration)
	}
	m, err := parseImageMap(f.imageMap)
	if err != nil {
		return 0, nil, err
	}
	if f.out != "" {
		if st, err := os.Stat(f.out); err == nil && !st.IsDir() {
			return 0, nil, badInput("--out %s: exists and is not a directory", f.out)
		}
	}
	return seed, m, nil
}

// interruptible returns a context cancelled by SIGINT and SIGTERM.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newRealRunCmd(v *viper.Viper, stdout, stderr io.Writer) *cobra.Command {
	var f realFlags
	cmd := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Run a scenario on the wall clock with real containers, a real proxy, a real etcd and real traffic",
		Long: `Runs the scenario with the same components as a simulation, paced by the wall clock:
each kubelet drives real containers through the Docker engine, kube-proxy programs a
real TCP proxy on 127.0.0.1, the apiserver stores its objects in an embedded etcd and
the scenario's traffic is sent by a real HTTP load generator. Faults of kinds
container-crash, node-crash and zone-outage are injected for real (docker kill).

Writes the usual summary and, in --out, summary.json, timeseries.csv, trace.jsonl and
samples.json (the raw measurements: steps, container create/start, image inspect,
readiness, etcd commits, proxy programming, request latencies, errors), which
kubesim calibrate fits. Every container of the run is removed at the end, on error
and on Ctrl-C/SIGTERM; kubesim real gc removes what a killed run left.`,
		Example: `  make nginx-image && kubesim real run nginx --out real-out
  kubesim real run my.yaml --image-map myapp:2=kubesim/nginx:1.22 --duration 45s`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := loadScenario(args[0])
			if err != nil {
				return err
			}
			seed, imap, err := f.check(cmd, sc)
			if err != nil {
				return err
			}
			cp, notes, err := comparable{horizon: f.duration}.prepare(sc)
			if err != nil {
				return err
			}
			for _, n := range notes {
				fmt.Fprintln(stderr, "real run: note:", n)
			}
			ctx, stop := interruptible()
			defer stop()
			r, err := realRunScenario(ctx, cp, seed, realSettings{imageMap: imap, progress: stderr})
			if err != nil {
				return err
			}
			r.samples.Notes = append(r.samples.Notes, notes...)
			if f.out != "" {
				if err := writeRunDir(f.out, r); err != nil {
					return err
				}
			}
			return results.WriteTable(stdout, r.sum)
		},
	}
	f.register(cmd, "write summary.json, timeseries.csv, trace.jsonl and samples.json into this directory")
	return cmd
}

// scenarioImages returns the images a scenario's workloads and actions name,
// sorted, each once. Synthetic generators without an image use the model's
// default image (cluster.Build picks it), which is not checked here.
func scenarioImages(sc *scenario.Scenario) []string {
	seen := map[string]bool{}
	add := func(cs []scenario.Container) {
		for _, c := range cs {
			seen[c.Image] = true
		}
	}
	for _, d := range sc.Workload.Deployments {
		add(d.Containers)
	}
	for _, s := range sc.Workload.StatefulSets {
		add(s.Containers)
	}
	for _, s := range sc.Workload.Synthetic {
		seen[s.Template.Image] = true
	}
	for _, a := range sc.Actions {
		if a.Kind == "set-image" {
			seen[a.Image] = true
		}
	}
	delete(seen, "")
	return slices.Sorted(maps.Keys(seen))
}
