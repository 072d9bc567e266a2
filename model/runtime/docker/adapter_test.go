package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/runtime"
)

func fakeEngine(t *testing.T, f *fakeAPI, mod func(*Config)) (*Engine, *queue) {
	t.Helper()
	q := newQueue()
	cl, err := newClient(context.Background(), f, "fake://")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{RunID: "run-1", Post: q.Post, RegistryReachable: func(context.Context, string) bool { return false }}
	if mod != nil {
		mod(&cfg)
	}
	e, err := NewEngine(cl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = e.Shutdown(ctx)
	})
	return e, q
}

// call runs an asynchronous operation and waits for its done callback.
func call(t *testing.T, q *queue, what string, op func(done func(error))) error {
	t.Helper()
	var got error
	fired := false
	op(func(err error) { got, fired = err, true })
	q.until(t, 5*time.Second, what, func() bool { return fired })
	return got
}

func create(t *testing.T, q *queue, rt *NodeRuntime, spec runtime.ContainerSpec) (string, error) {
	t.Helper()
	var id string
	err := call(t, q, "create", func(done func(error)) {
		rt.CreateContainer(spec, func(i string, err error) { id = i; done(err) })
	})
	return id, err
}

func TestDialUnreachable(t *testing.T) {
	f := newFake()
	f.dead = true
	_, err := newClient(context.Background(), f, "unix:///nowhere.sock")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "unix:///nowhere.sock") || !strings.Contains(err.Error(), "DOCKER_HOST") {
		t.Fatalf("err = %v, want ErrUnreachable naming the host and DOCKER_HOST", err)
	}
}

func TestConfigErrors(t *testing.T) {
	cl, _ := newClient(context.Background(), newFake(), "")
	for name, cfg := range map[string]Config{
		"no run id":  {Post: func(func()) {}},
		"bad run id": {RunID: "a b", Post: func(func()) {}},
		"no post":    {RunID: "r"},
		"empty map":  {RunID: "r", Post: func(func()) {}, Images: map[string]string{"nginx": ""}},
		"conflict":   {RunID: "r", Post: func(func()) {}, Images: map[string]string{"nginx": "a:1", "nginx:latest": "b:1"}},
	} {
		if _, err := NewEngine(cl, cfg); err == nil {
			t.Errorf("%s: NewEngine succeeded", name)
		}
	}
}

func TestUnmappedImage(t *testing.T) {
	e, q := fakeEngine(t, newFake(), func(c *Config) { c.ImageMapHint = "scenario field real.images" })
	rt := e.NodeRuntime("n1")
	if rt.HasImage("busybox:1.36") {
		t.Error("HasImage of an unmapped image")
	}
	err := call(t, q, "pull", func(done func(error)) { rt.PullImage("busybox:1.36", done) })
	if !errors.Is(err, runtime.ErrImageNotFound) {
		t.Fatalf("pull: %v, want ErrImageNotFound", err)
	}
	for _, want := range []string{`"busybox:1.36"`, "scenario field real.images", "nginx:1.27 -> kubesim/nginx:1.22"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	spec := nginxSpec("p", "10.0.0.1")
	spec.Image = "busybox"
	if _, err := create(t, q, rt, spec); !errors.Is(err, runtime.ErrImageNotFound) || !strings.Contains(err.Error(), "busybox:latest") {
		t.Errorf("create of an unmapped image: %v", err)
	}
}

func TestImageMissing(t *testing.T) {
	f := newFake()
	delete(f.images, NginxImage)
	reachable := false
	e, q := fakeEngine(t, f, func(c *Config) {
		c.RegistryReachable = func(_ context.Context, host string) bool {
			if host != "registry-1.docker.io" {
				t.Errorf("registry host %q", host)
			}
			return reachable
		}
	})
	rt := e.NodeRuntime("n1")
	if rt.HasImage("nginx:1.27") {
		t.Fatal("HasImage with the local image missing")
	}
	err := call(t, q, "pull", func(done func(error)) { rt.PullImage("nginx:1.27", done) })
	if !errors.Is(err, runtime.ErrImageNotFound) {
		t.Fatalf("pull: %v", err)
	}
	for _, want := range []string{`"kubesim/nginx:1.22"`, `"nginx:1.27"`, "make nginx-image", "unreachable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if f.pulls != 0 {
		t.Errorf("%d pull(s) tried with the registry unreachable", f.pulls)
	}
	if _, err := create(t, q, rt, nginxSpec("p", "10.0.0.1")); !errors.Is(err, runtime.ErrNoSuchImage) || !strings.Contains(err.Error(), "make nginx-image") {
		t.Errorf("create without the image: %v", err)
	}

	// A reachable registry: the pull is tried; its failure names the image too.
	reachable = true
	f.pullErr = errors.New("manifest unknown")
	err = call(t, q, "pull", func(done func(error)) { rt.PullImage("nginx:1.27", done) })
	if !errors.Is(err, runtime.ErrImageNotFound) || !strings.Contains(err.Error(), "manifest unknown") || f.pulls != 1 {
		t.Fatalf("failing pull: %v (pulls %d)", err, f.pulls)
	}
	f.pullErr = nil
	if err := call(t, q, "pull", func(done func(error)) { rt.PullImage("nginx:1.27", done) }); err != nil {
		t.Fatalf("pull: %v", err)
	}
	if !rt.HasImage("nginx:1.27") || len(e.Samples()[SampleImagePull]) != 1 {
		t.Errorf("after a pull: HasImage %v, samples %v", rt.HasImage("nginx:1.27"), e.Samples())
	}
}

func TestPortTakenAndStartFails(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		err        error
	}{
		{"port taken", "a host port is taken", errors.New("driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:40000 failed: port is already allocated")},
		{"start fails", "no such file or directory", errors.New(`OCI runtime create failed: exec: "/usr/sbin/nginx": stat /usr/sbin/nginx: no such file or directory`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.startErr = tc.err
			e, q := fakeEngine(t, f, nil)
			rt := e.NodeRuntime("n1")
			exits := 0
			rt.SetExitHandler(func(string, int) { exits++ })
			id, err := create(t, q, rt, nginxSpec("p", "10.0.0.1"))
			if err != nil {
				t.Fatal(err)
			}
			err = call(t, q, "start", func(done func(error)) { rt.StartContainer(id, done) })
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), id) {
				t.Fatalf("start: %v, want an error naming the container and %q", err, tc.want)
			}
			if rt.ProbeReady(id) {
				t.Error("a container that failed to start is ready")
			}
			if _, ok := e.Resolve("10.0.0.1", 80); ok {
				t.Error("a container that failed to start resolves")
			}
			// The kubelet removes it and tries again later.
			if err := call(t, q, "remove", func(done func(error)) { rt.RemoveContainer(id, done) }); err != nil {
				t.Fatalf("remove after a failed start: %v", err)
			}
			if exits != 0 {
				t.Errorf("a failed start was reported as %d exit(s) too", exits)
			}
		})
	}
}

func TestEngineGoneMidRun(t *testing.T) {
	f := newFake()
	var onErr []error
	e, q := fakeEngine(t, f, func(c *Config) { c.OnError = func(err error) { onErr = append(onErr, err) } })
	rt := e.NodeRuntime("n1")
	id, err := create(t, q, rt, nginxSpec("p", "10.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := call(t, q, "start", func(done func(error)) { rt.StartContainer(id, done) }); err != nil {
		t.Fatal(err)
	}
	f.gone()
	select {
	case err := <-e.Errors():
		if !strings.Contains(err.Error(), "lost the engine's event stream") || !strings.Contains(err.Error(), "dockerd") {
			t.Errorf("Errors(): %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error on Errors() after the engine went away")
	}
	q.until(t, 5*time.Second, "OnError", func() bool { return len(onErr) == 1 })
	if e.Err() == nil {
		t.Error("Err() = nil")
	}
	// Every operation still completes, with an error: nothing hangs.
	if err := call(t, q, "stop", func(done func(error)) { rt.StopContainer(id, time.Second, done) }); err == nil || !strings.Contains(err.Error(), "Cannot connect") {
		t.Errorf("stop with the engine gone: %v", err)
	}
	if _, err := create(t, q, rt, nginxSpec("p2", "10.0.0.2")); err == nil {
		t.Error("create with the engine gone succeeded")
	}
	if err := call(t, q, "kill", func(done func(error)) { e.KillContainer(id, done) }); err == nil {
		t.Error("kill with the engine gone succeeded")
	}
	if rt.HasImage("nginx:1.27") != true {
		t.Error("the cached image was forgotten") // cached before: no I/O needed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := e.Shutdown(ctx); err == nil {
		t.Error("Shutdown with the engine gone reported no error (its containers could not be removed)")
	}
	if time.Since(start) > 4*time.Second {
		t.Error("Shutdown hung with the engine gone")
	}
}

func TestExitReporting(t *testing.T) {
	f := newFake()
	var traces []string
	e, q := fakeEngine(t, f, func(c *Config) {
		c.Trace = func(comp string, step int, action, obj, _ string) {
			traces = append(traces, fmt.Sprintf("%s %d %s %s", comp, step, action, obj))
		}
	})
	rt := e.NodeRuntime("n1")
	other := e.NodeRuntime("n2")
	type exit struct {
		id   string
		code int
	}
	var log []string
	var exits []exit
	rt.SetExitHandler(func(id string, code int) { exits = append(exits, exit{id, code}); log = append(log, "exit "+id) })
	other.SetExitHandler(func(id string, code int) { t.Errorf("n2's handler got the exit of %s", id) })

	// A kill is reported with 137; a requested stop is not.
	id, _ := create(t, q, rt, nginxSpec("p", "10.0.0.1"))
	if err := call(t, q, "start", func(done func(error)) { rt.StartContainer(id, done) }); err != nil {
		t.Fatal(err)
	}
	if addr, ok := e.Resolve("10.0.0.1", 80); !ok || addr != "127.0.0.1:40000" {
		t.Errorf("Resolve = %q %v", addr, ok)
	}
	if err := call(t, q, "kill", func(done func(error)) { e.KillContainer(id, done) }); err != nil {
		t.Fatal(err)
	}
	q.until(t, 5*time.Second, "exit", func() bool { return len(exits) == 1 })
	if exits[0] != (exit{id, 137}) {
		t.Errorf("exit %+v, want %s 137", exits[0], id)
	}
	if _, ok := e.Resolve("10.0.0.1", 80); ok {
		t.Error("Resolve of an exited container")
	}
	id2, _ := create(t, q, rt, nginxSpec("p2", "10.0.0.2"))
	_ = call(t, q, "start", func(done func(error)) { rt.StartContainer(id2, done) })
	if err := call(t, q, "stop", func(done func(error)) { rt.StopContainer(id2, time.Second, done) }); err != nil {
		t.Fatal(err)
	}
	// A process that dies while it starts: its exit comes after the start's done.
	code := 1
	f.dieOnStart = &code
	id3, _ := create(t, q, rt, nginxSpec("p3", "10.0.0.3"))
	rt.StartContainer(id3, func(err error) {
		if err != nil {
			t.Errorf("start: %v", err)
		}
		log = append(log, "started "+id3)
	})
	q.until(t, 5*time.Second, "crash exit", func() bool { return len(exits) == 2 })
	time.Sleep(50 * time.Millisecond)
	q.until(t, time.Second, "drain", func() bool { return q.pending() == 0 })
	if len(exits) != 2 || exits[1] != (exit{id3, 1}) {
		t.Errorf("exits %+v, want the kill and %s's crash (code 1) only", exits, id3)
	}
	if want := []string{"exit " + id, "started " + id3, "exit " + id3}; strings.Join(log, ",") != strings.Join(want, ",") {
		t.Errorf("order %v, want %v", log, want)
	}
	wantTraces := []string{
		"docker/n1 5 create pod/default/p", "docker/n1 5 start pod/default/p", "docker/n1 0 kill pod/default/p", "docker/n1 0 exit pod/default/p",
		"docker/n1 5 create pod/default/p2", "docker/n1 5 start pod/default/p2", "docker/n1 5 stop pod/default/p2",
		"docker/n1 5 create pod/default/p3",
	}
	if got := strings.Join(traces, "\n"); got != strings.Join(wantTraces, "\n") {
		t.Errorf("traces:\n%s\nwant:\n%s", got, strings.Join(wantTraces, "\n"))
	}
	// Removing a running container is refused, as in the modeled runtime.
	f.dieOnStart = nil
	id4, _ := create(t, q, rt, nginxSpec("p4", "10.0.0.4"))
	_ = call(t, q, "start", func(done func(error)) { rt.StartContainer(id4, done) })
	if err := call(t, q, "remove", func(done func(error)) { rt.RemoveContainer(id4, done) }); !errors.Is(err, runtime.ErrContainerState) {
		t.Errorf("remove of a running container: %v", err)
	}
	if err := call(t, q, "start again", func(done func(error)) { rt.StartContainer(id4, done) }); !errors.Is(err, runtime.ErrContainerState) {
		t.Errorf("second start: %v", err)
	}
	if err := call(t, q, "stop unknown", func(done func(error)) { rt.StopContainer("nope", time.Second, done) }); !errors.Is(err, runtime.ErrNoSuchContainer) {
		t.Errorf("stop of an unknown container: %v", err)
	}
}

func TestCreateRequest(t *testing.T) {
	f := newFake()
	e, q := fakeEngine(t, f, nil)
	rt := e.NodeRuntime("node-7")
	spec := nginxSpec("web", "10.0.0.9")
	spec.Ports = append(spec.Ports, api.ContainerPort{ContainerPort: 8080}, api.ContainerPort{ContainerPort: 53, Protocol: "UDP"})
	id, err := create(t, q, rt, spec)
	if err != nil {
		t.Fatal(err)
	}
	c := f.ctrs[id]
	want := map[string]string{LabelManaged: "true", LabelRun: "run-1", LabelPod: "default/web", LabelNode: "node-7", LabelContainer: "nginx"}
	for k, v := range want {
		if c.labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.labels[k], v)
		}
	}
	if got := c.ports; len(got) != 2 || got[0] != 80 || got[1] != 8080 {
		t.Errorf("published ports %v, want [80 8080] (TCP only, image's EXPOSE merged)", got)
	}
	if !strings.HasPrefix(c.name, "kubesim-run-1-node-7-default-web-nginx-") {
		t.Errorf("name %q", c.name)
	}
}

func TestGCSparesUnlabeled(t *testing.T) {
	for _, buggy := range []bool{false, true} {
		f := newFake()
		f.ignoreFilters = buggy
		add := func(id string, labels map[string]string) {
			f.ctrs[id] = &fakeCtr{id: id, name: id, labels: labels, running: true}
		}
		add("a1", map[string]string{LabelManaged: "true", LabelRun: "A"})
		add("a2", map[string]string{LabelManaged: "true", LabelRun: "A"})
		add("b1", map[string]string{LabelManaged: "true", LabelRun: "B"})
		add("user", nil)
		add("impostor", map[string]string{LabelRun: "A"})                     // not managed
		add("false", map[string]string{LabelManaged: "false", LabelRun: "A"}) // explicitly not
		cl, _ := newClient(context.Background(), f, "")
		removed, err := cl.RemoveRun(context.Background(), "A")
		if err != nil || len(removed) != 2 || removed[0].ID != "a1" || removed[1].ID != "a2" {
			t.Errorf("buggy=%v RemoveRun(A) = %v, %v", buggy, removed, err)
		}
		removed, err = cl.GC(context.Background(), "")
		if err != nil || len(removed) != 1 || removed[0].ID != "b1" {
			t.Errorf("buggy=%v GC = %v, %v", buggy, removed, err)
		}
		for _, id := range []string{"user", "impostor", "false"} {
			if !f.has(id) {
				t.Errorf("buggy=%v GC removed %s, which kubesim did not create", buggy, id)
			}
		}
	}
	cl, _ := newClient(context.Background(), newFake(), "")
	if _, err := cl.RemoveRun(context.Background(), ""); err == nil {
		t.Error("RemoveRun with an empty run id would remove every run's containers")
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string]string{"nginx": "nginx:latest", "docker.io/library/nginx:1.27": "nginx:1.27", "kubesim/nginx:1.22": "kubesim/nginx:1.22"} {
		if got := normalizeRef(in); got != want {
			t.Errorf("normalizeRef(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"nginx:1.27": "registry-1.docker.io", "kubesim/nginx:1.22": "registry-1.docker.io", "registry.k8s.io/pause:3.10": "registry.k8s.io", "localhost:5000/x": "localhost:5000"} {
		if got := registryHost(in); got != want {
			t.Errorf("registryHost(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[time.Duration]int{0: 0, -time.Second: 0, 500 * time.Millisecond: 1, 30 * time.Second: 30, 1500 * time.Millisecond: 2} {
		if got := stopSeconds(in); got != want {
			t.Errorf("stopSeconds(%v) = %d, want %d", in, got, want)
		}
	}
	spec := runtime.ContainerSpec{Namespace: "ns", PodName: "pod.x", Name: "c/ü"}
	if got := containerName("r", "n:1", &spec, 3); got != "kubesim-r-n-1-ns-pod.x-c-_-3" {
		t.Errorf("containerName = %q", got)
	}
	if ValidRunID(NewRunID()) != nil {
		t.Error("NewRunID is not a valid run id")
	}
}

// TestKillNodeDuringStart: a container whose start is in flight when its node is
// killed dies as soon as it runs, and its exit is reported after the start's done.
func TestKillNodeDuringStart(t *testing.T) {
	f := newFake()
	e, q := fakeEngine(t, f, nil)
	rt := e.NodeRuntime("n1")
	var log []string
	rt.SetExitHandler(func(id string, code int) { log = append(log, fmt.Sprintf("exit %d", code)) })
	id, err := create(t, q, rt, nginxSpec("p", "10.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	f.startGate = gate
	rt.StartContainer(id, func(err error) { log = append(log, fmt.Sprintf("started %v", err)) })
	var killed []string
	nodeDone := false
	e.KillNode("n1", func(k []string, err error) { killed, nodeDone = k, true })
	q.until(t, 5*time.Second, "node kill", func() bool { return nodeDone })
	if len(killed) != 0 {
		t.Errorf("killed %v before the start finished", killed)
	}
	close(gate)
	q.until(t, 5*time.Second, "exit", func() bool { return len(log) == 2 })
	if strings.Join(log, ",") != "started <nil>,exit 137" {
		t.Errorf("log %v", log)
	}
	if f.running(id) {
		t.Error("the container of the killed node still runs")
	}
}

// TestShutdownCancelsInFlight: an operation that does not finish does not hold
// Shutdown past its budget, and the run's containers are removed anyway.
func TestShutdownCancelsInFlight(t *testing.T) {
	f := newFake()
	e, q := fakeEngine(t, f, nil)
	rt := e.NodeRuntime("n1")
	id, err := create(t, q, rt, nginxSpec("p", "10.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	f.startGate = make(chan struct{}) // never opened: the start hangs
	started := false
	rt.StartContainer(id, func(error) { started = true })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	t0 := time.Now()
	removed, err := e.Shutdown(ctx)
	if took := time.Since(t0); took > 1900*time.Millisecond {
		t.Errorf("Shutdown took %v with a 2 s budget", took)
	}
	if err != nil || len(removed) != 1 || removed[0].ID != id || f.has(id) {
		t.Errorf("Shutdown: removed %v, err %v; container left: %v", removed, err, f.has(id))
	}
	time.Sleep(50 * time.Millisecond)
	q.until(t, time.Second, "drain", func() bool { return q.pending() == 0 })
	if started {
		t.Error("a completion was posted after Shutdown")
	}
	// New operations after Shutdown do nothing (and post nothing).
	rt.CreateContainer(nginxSpec("late", "10.0.0.2"), func(string, error) { t.Error("create after Shutdown completed") })
	time.Sleep(50 * time.Millisecond)
	q.until(t, time.Second, "drain", func() bool { return q.pending() == 0 })
}
