package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/runtime"
)

func nginxSpec(pod, ip string) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		PodUID: api.UID("uid-" + pod), PodName: pod, Namespace: "default",
		Name: "nginx", Image: "nginx:1.27", PodIP: ip,
		Ports:  []api.ContainerPort{{ContainerPort: 80, Protocol: "TCP"}},
		Limits: api.Resources{MilliCPU: 250, Memory: 64 << 20},
	}
}

type placed struct {
	rt   *NodeRuntime
	spec runtime.ContainerSpec
}

// createStart creates and starts the containers concurrently, as kubelets of
// several nodes would, and waits until every one is ready; it returns their ids.
func createStart(t *testing.T, q *queue, cs ...placed) []string {
	t.Helper()
	ids := make([]string, len(cs))
	errs := make([]error, len(cs))
	created, started := 0, 0
	for i, c := range cs {
		c.rt.CreateContainer(c.spec, func(id string, err error) {
			ids[i], errs[i] = id, err
			created++
			if err == nil {
				c.rt.StartContainer(id, func(err error) { errs[i] = err; started++ })
			} else {
				started++
			}
		})
	}
	q.until(t, 60*time.Second, "create and start", func() bool { return created == len(cs) && started == len(cs) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create/start of %s: %v", cs[i].spec.PodName, err)
		}
	}
	q.until(t, 30*time.Second, "readiness", func() bool {
		for i, c := range cs {
			if !c.rt.ProbeReady(ids[i]) {
				return false
			}
		}
		return true
	})
	return ids
}

func TestRealLifecycle(t *testing.T) {
	q := newQueue()
	e := realEngine(t, q)
	rt := e.NodeRuntime("node-1")
	var exits []int
	rt.SetExitHandler(func(string, int) { exits = append(exits, 1) })
	if !rt.HasImage("nginx:1.27") || !rt.HasImage("nginx") {
		t.Fatal("HasImage(nginx:1.27 / nginx) = false with the local image present")
	}
	if rt.HasImage("busybox:1.36") {
		t.Fatal("HasImage of an unmapped image = true")
	}
	if imgs := rt.Images(); len(imgs) != 1 || imgs[0].SizeBytes <= 0 || strings.Join(imgs[0].Names, " ") != "nginx:1.25 nginx:1.27 nginx:latest kubesim/nginx:1.22" {
		t.Fatalf("Images() = %+v, want the local nginx image named by its scenario names, with its size", imgs)
	}
	pulled := false
	rt.PullImage("nginx:1.27", func(err error) {
		if err != nil {
			t.Errorf("pull of a present image: %v", err)
		}
		pulled = true
	})
	q.until(t, 10*time.Second, "pull", func() bool { return pulled })

	spec := nginxSpec("web-1", "10.244.1.5")
	id := createStart(t, q, placed{rt, spec})[0]

	// Labels, limits and the loopback-only port binding, as the engine has them.
	mc := e.api.(*mobyAPI).c
	ins, err := mc.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lab := ins.Container.Config.Labels
	for k, want := range map[string]string{LabelManaged: "true", LabelRun: e.RunID(), LabelPod: "default/web-1", LabelNode: "node-1", LabelContainer: "nginx"} {
		if lab[k] != want {
			t.Errorf("label %s = %q, want %q", k, lab[k], want)
		}
	}
	if hc := ins.Container.HostConfig; hc.NanoCPUs != 250_000_000 || hc.Memory != 64<<20 {
		t.Errorf("limits NanoCPUs=%d Memory=%d, want 250000000 and %d", hc.NanoCPUs, hc.Memory, 64<<20)
	}
	for port, bs := range ins.Container.NetworkSettings.Ports {
		for _, b := range bs {
			if b.HostIP.String() != "127.0.0.1" {
				t.Errorf("port %v published on %v, want 127.0.0.1 only", port, b.HostIP)
			}
		}
	}

	addr, ok := e.Resolve("10.244.1.5", 80)
	if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("Resolve = %q, %v", addr, ok)
	}
	if _, ok := e.Resolve("10.244.1.5", 81); ok {
		t.Error("Resolve of an unpublished port succeeded")
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "nginx") {
		t.Fatalf("GET %s: %d %q", addr, resp.StatusCode, body)
	}

	stopped := false
	rt.StopContainer(id, 5*time.Second, func(err error) {
		if err != nil {
			t.Errorf("stop: %v", err)
		}
		stopped = true
	})
	q.until(t, 20*time.Second, "stop", func() bool { return stopped })
	if rt.ProbeReady(id) {
		t.Error("ProbeReady after stop")
	}
	if _, ok := e.Resolve("10.244.1.5", 80); ok {
		t.Error("Resolve after stop succeeded")
	}
	removed := false
	rt.RemoveContainer(id, func(err error) {
		if err != nil {
			t.Errorf("remove: %v", err)
		}
		removed = true
	})
	q.until(t, 20*time.Second, "remove", func() bool { return removed })
	if _, err := mc.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{}); err == nil {
		t.Error("container still exists after remove")
	}
	// The die event of a requested stop must not reach the exit handler.
	time.Sleep(200 * time.Millisecond)
	q.until(t, time.Second, "drain", func() bool { return q.pending() == 0 })
	if len(exits) != 0 {
		t.Errorf("a requested stop was reported as an exit %d time(s)", len(exits))
	}
	s := e.Samples()
	for _, name := range []string{SampleCreate, SampleStart, SampleReady, SampleStop, SampleRemove} {
		if len(s[name]) != 1 || s[name][0] <= 0 {
			t.Errorf("samples[%s] = %v, want one positive duration", name, s[name])
		}
	}
	if tm := e.Timings(); len(tm) != 1 || tm[0].Ready <= 0 || tm[0].Pod != "default/web-1" {
		t.Errorf("Timings() = %+v", tm)
	}
}

func TestRealKillReportsExits(t *testing.T) {
	q := newQueue()
	e := realEngine(t, q)
	a, b := e.NodeRuntime("node-a"), e.NodeRuntime("node-b")
	exits := map[string]int{}
	a.SetExitHandler(func(id string, code int) { exits["a/"+id] = code })
	b.SetExitHandler(func(id string, code int) { exits["b/"+id] = code })
	started := createStart(t, q, placed{a, nginxSpec("p1", "10.244.0.1")}, placed{a, nginxSpec("p2", "10.244.0.2")}, placed{b, nginxSpec("p3", "10.244.1.3")})
	id1, id2, id3 := started[0], started[1], started[2]
	t.Logf("samples after start: %v", e.Samples())

	var kerr error
	killed := false
	e.KillContainer(id1, func(err error) { kerr, killed = err, true })
	q.until(t, 15*time.Second, "exit of the killed container", func() bool { _, ok := exits["a/"+id1]; return killed && ok })
	if kerr != nil || exits["a/"+id1] != 137 {
		t.Fatalf("kill: err %v, exit code %d, want 137", kerr, exits["a/"+id1])
	}
	if a.ProbeReady(id1) {
		t.Error("a killed container is ready")
	}
	if _, ok := e.Resolve("10.244.0.1", 80); ok {
		t.Error("a killed container resolves")
	}

	var ids []string
	nodeDone := false
	e.KillNode("node-a", func(k []string, err error) {
		if err != nil {
			t.Errorf("KillNode: %v", err)
		}
		ids, nodeDone = k, true
	})
	q.until(t, 15*time.Second, "node kill", func() bool { _, ok := exits["a/"+id2]; return nodeDone && ok })
	if len(ids) != 1 || ids[0] != id2 {
		t.Errorf("KillNode killed %v, want [%s]", ids, id2)
	}
	if _, ok := exits["b/"+id3]; ok || !b.ProbeReady(id3) {
		t.Errorf("killing node-a touched node-b's container (exits %v)", exits)
	}
	var gone error
	e.KillContainer("no-such-container", func(err error) { gone = err })
	q.until(t, 10*time.Second, "kill of a missing container", func() bool { return gone != nil })
	if !errors.Is(gone, runtime.ErrNoSuchContainer) {
		t.Errorf("kill of a missing container: %v, want ErrNoSuchContainer", gone)
	}
}

func TestRealGCSparesUnlabeled(t *testing.T) {
	q := newQueue()
	e := realEngine(t, q)
	rt := e.NodeRuntime("n1")
	running := createStart(t, q, placed{rt, nginxSpec("web-1", "10.244.2.1")})[0]
	var created string
	rt.CreateContainer(nginxSpec("web-2", "10.244.2.2"), func(id string, err error) {
		if err != nil {
			t.Errorf("create: %v", err)
		}
		created = id
	})
	q.until(t, 30*time.Second, "create", func() bool { return created != "" })

	// A container kubesim did not create, even one that carries the run's label
	// but not io.kubesim.managed=true, survives gc.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	foreign, err := e.api.ContainerCreate(ctx, createRequest{
		Name: "not-kubesim-" + e.RunID(), Image: NginxImage,
		Labels: map[string]string{LabelRun: e.RunID(), "purpose": "must survive kubesim gc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.api.ContainerRemove(context.Background(), foreign, true) })

	removed, err := e.Client().GC(ctx, e.RunID())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range removed {
		got[r.ID] = true
		if r.Run != e.RunID() || r.Node != "n1" {
			t.Errorf("removed %v: wrong run or node", r)
		}
	}
	if len(removed) != 2 || !got[running] || !got[created] {
		t.Errorf("gc removed %v, want the running %s and the created %s", removed, running, created)
	}
	if _, err := e.api.ContainerInspect(ctx, foreign); err != nil {
		t.Errorf("gc removed (or broke) a container kubesim did not create: %v", err)
	}
	if _, err := e.api.ContainerInspect(ctx, running); !errors.Is(err, errNotFound) {
		t.Errorf("inspect of a gc'd container: %v, want not found", err)
	}
}

// sockProxy forwards a unix socket to the Docker engine's socket; kill makes the
// engine vanish for its clients (listener and every connection closed).
type sockProxy struct {
	path  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newSockProxy(t *testing.T, target string) *sockProxy {
	t.Helper()
	p := &sockProxy{path: filepath.Join(t.TempDir(), "docker.sock")}
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("unix", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(d, c); d.Close() }()
			go func() { _, _ = io.Copy(c, d); c.Close() }()
		}
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *sockProxy) kill() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestRealEngineGoneMidRun: the engine disappears under a run (its socket goes
// away): the lost event stream is reported, operations fail with the client's
// error instead of hanging, and Shutdown returns.
func TestRealEngineGoneMidRun(t *testing.T) {
	direct := realClient(t)
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	if !strings.HasPrefix(host, "unix://") {
		t.Skipf("SKIPPED: DOCKER_HOST=%s is not a unix socket; this test interposes on one", host)
	}
	px := newSockProxy(t, strings.TrimPrefix(host, "unix://"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := Dial(ctx, "unix://"+px.path)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	q := newQueue()
	var onErr error
	run := "test-" + NewRunID()
	e, err := NewEngine(cl, Config{RunID: run, Post: q.Post, OnError: func(err error) { onErr = err },
		RegistryReachable: func(context.Context, string) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		if _, err := direct.RemoveRun(cctx, run); err != nil {
			t.Errorf("clean-up of run %s: %v", run, err)
		}
	})
	rt := e.NodeRuntime("n1")
	id := createStart(t, q, placed{rt, nginxSpec("p", "10.244.3.1")})[0]

	px.kill()
	q.until(t, 10*time.Second, "the lost event stream on OnError", func() bool { return onErr != nil })
	if !strings.Contains(onErr.Error(), "lost the engine's event stream") {
		t.Errorf("OnError: %v", onErr)
	}
	select {
	case <-e.Errors():
	default:
		t.Error("Errors() is empty")
	}
	t0 := time.Now()
	var stopErr error
	stopped := false
	rt.StopContainer(id, time.Second, func(err error) { stopErr, stopped = err, true })
	q.until(t, 10*time.Second, "stop with the engine gone", func() bool { return stopped })
	if stopErr == nil || time.Since(t0) > 5*time.Second {
		t.Errorf("stop with the engine gone: err %v after %v, want a prompt error", stopErr, time.Since(t0))
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if _, err := e.Shutdown(sctx); err == nil {
		t.Error("Shutdown with the engine gone reported no error")
	}
	// The engine itself is fine: the container is still there for the clean-up.
	if left, err := direct.ListManaged(sctx, run); err != nil || len(left) != 1 {
		t.Errorf("the run's container through the direct connection: %v, %v", left, err)
	}
}

func TestRealImageMissing(t *testing.T) {
	cl := realClient(t)
	q := newQueue()
	reached := false
	e, err := NewEngine(cl, Config{RunID: "test-" + NewRunID(), Post: q.Post,
		Images:            map[string]string{"nginx:9.99": "kubesim/absent:0"},
		RegistryReachable: func(context.Context, string) bool { reached = true; return false }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = e.Shutdown(context.Background()) })
	rt := e.NodeRuntime("n1")
	if rt.HasImage("nginx:9.99") {
		t.Fatal("HasImage of a missing local image")
	}
	var perr error
	done := false
	rt.PullImage("nginx:9.99", func(err error) { perr, done = err, true })
	q.until(t, 10*time.Second, "pull", func() bool { return done })
	if !errors.Is(perr, runtime.ErrImageNotFound) || !strings.Contains(perr.Error(), `"kubesim/absent:0"`) || !strings.Contains(perr.Error(), "make nginx-image") || !reached {
		t.Errorf("pull of a missing image: %v (registry checked %v)", perr, reached)
	}
}

// BenchmarkRealContainerLifecycle measures one nginx container through the adapter
// on the local engine: create, start, first successful HTTP probe, stop, remove.
// The per-phase wall times are reported as metrics (ms).
func BenchmarkRealContainerLifecycle(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := Dial(ctx, "")
	if err != nil {
		b.Skipf("SKIPPED (Docker missing): %v", err)
	}
	defer cl.Close()
	if ok, _ := cl.HasImage(ctx, NginxImage); !ok {
		b.Skipf("SKIPPED: %s missing (make nginx-image)", NginxImage)
	}
	q := newQueue()
	e, err := NewEngine(cl, Config{RunID: "bench-" + NewRunID(), Post: q.Post, ProbeInterval: 10 * time.Millisecond,
		RegistryReachable: func(context.Context, string) bool { return false }})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	rt := e.NodeRuntime("n1")
	drain := func(cond func() bool) {
		for !cond() {
			q.mu.Lock()
			fns := q.fns
			q.fns = nil
			q.mu.Unlock()
			for _, fn := range fns {
				fn()
			}
			if len(fns) == 0 {
				select {
				case <-q.wake:
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var id string
		var opErr error
		done := false
		rt.CreateContainer(nginxSpec(fmt.Sprintf("bench-%d", i), fmt.Sprintf("10.250.0.%d", i%250+1)), func(s string, err error) { id, opErr, done = s, err, true })
		drain(func() bool { return done })
		if opErr != nil {
			b.Fatal(opErr)
		}
		done = false
		rt.StartContainer(id, func(err error) { opErr, done = err, true })
		drain(func() bool { return done })
		if opErr != nil {
			b.Fatal(opErr)
		}
		drain(func() bool { return rt.ProbeReady(id) })
		done = false
		rt.StopContainer(id, 10*time.Second, func(err error) { opErr, done = err, true })
		drain(func() bool { return done })
		done = false
		rt.RemoveContainer(id, func(err error) { opErr, done = err, true })
		drain(func() bool { return done })
		if opErr != nil {
			b.Fatal(opErr)
		}
	}
	b.StopTimer()
	s := e.Samples()
	for _, name := range []string{SampleCreate, SampleStart, SampleReady, SampleStop, SampleRemove} {
		var sum time.Duration
		for _, d := range s[name] {
			sum += d
		}
		if n := len(s[name]); n > 0 {
			b.ReportMetric(float64(sum.Microseconds())/1000/float64(n), name+"-ms")
		}
	}
}
