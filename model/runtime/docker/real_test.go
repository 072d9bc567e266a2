package docker

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
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

// createStart creates and starts spec on rt and waits until the container is ready.
func createStart(t *testing.T, q *queue, rt *NodeRuntime, spec runtime.ContainerSpec) string {
	t.Helper()
	var id string
	var cerr, serr error
	created, started := false, false
	rt.CreateContainer(spec, func(i string, err error) { id, cerr, created = i, err, true })
	q.until(t, 30*time.Second, "create", func() bool { return created })
	if cerr != nil {
		t.Fatalf("create: %v", cerr)
	}
	rt.StartContainer(id, func(err error) { serr, started = err, true })
	q.until(t, 30*time.Second, "start", func() bool { return started })
	if serr != nil {
		t.Fatalf("start: %v", serr)
	}
	q.until(t, 15*time.Second, "readiness of "+spec.PodName, func() bool { return rt.ProbeReady(id) })
	return id
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
	if imgs := rt.Images(); len(imgs) == 0 || imgs[0].SizeBytes <= 0 {
		t.Fatalf("Images() = %+v, want the nginx images with their size", imgs)
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
	id := createStart(t, q, rt, spec)

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
	id1 := createStart(t, q, a, nginxSpec("p1", "10.244.0.1"))
	id2 := createStart(t, q, a, nginxSpec("p2", "10.244.0.2"))
	id3 := createStart(t, q, b, nginxSpec("p3", "10.244.1.3"))

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
