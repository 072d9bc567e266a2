package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
	"github.com/kubesim/kubesim/model/runtime"
	"github.com/kubesim/kubesim/model/runtime/docker"
)

// dockerOrSkip connects to the local Docker engine: without one the test is
// skipped loudly, or fails when KUBESIM_REQUIRE_DOCKER=1 (CI).
func dockerOrSkip(t *testing.T) *docker.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := docker.Dial(ctx, "")
	if err != nil {
		if os.Getenv("KUBESIM_REQUIRE_DOCKER") == "1" {
			t.Fatalf("KUBESIM_REQUIRE_DOCKER=1 but the Docker engine is unreachable: %v", err)
		}
		t.Skipf("SKIPPED (Docker missing): this test needs a reachable Docker engine; %v. Set KUBESIM_REQUIRE_DOCKER=1 to make this a failure.", err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func TestRealImageAndGCCommands(t *testing.T) {
	cl := dockerOrSkip(t)
	var out, errb bytes.Buffer
	if code := run([]string{"real", "image"}, &out, &errb); code != 0 {
		t.Fatalf("real image: exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"real", "image"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "exists: nothing to do") {
		t.Fatalf("second real image: exit %d, %q %s", code, out.String(), errb.String())
	}

	// A run that crashed mid-way: its engine is never shut down, its container runs.
	posted := make(chan func(), 64)
	runID := "clitest-" + docker.NewRunID()
	e, err := docker.NewEngine(cl, docker.Config{RunID: runID, Post: func(fn func()) { posted <- fn }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = e.Shutdown(ctx)
	})
	rt := e.NodeRuntime("node-1")
	spec := runtime.ContainerSpec{PodName: "web-1", Namespace: "default", Name: "nginx", Image: "nginx:1.27", PodIP: "10.244.9.9",
		Ports: []api.ContainerPort{{ContainerPort: 80}}}
	var startErr error
	done := false
	rt.CreateContainer(spec, func(id string, err error) {
		if err != nil {
			startErr, done = err, true
			return
		}
		rt.StartContainer(id, func(err error) { startErr, done = err, true })
	})
	deadline := time.After(60 * time.Second)
	for !done {
		select {
		case fn := <-posted:
			fn()
		case <-deadline:
			t.Fatal("create/start did not finish in 60 s")
		}
	}
	if startErr != nil {
		t.Fatal(startErr)
	}

	out.Reset()
	if code := run([]string{"real", "gc", "--run", runID, "--dry-run"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "would remove") {
		t.Fatalf("gc --dry-run: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"real", "gc", "--run", runID}, &out, &errb); code != 0 {
		t.Fatalf("real gc: exit %d: %s", code, errb.String())
	}
	if s := out.String(); !strings.Contains(s, "removed ") || !strings.Contains(s, "pod default/web-1") || !strings.Contains(s, "1 kubesim container(s) removed") {
		t.Errorf("real gc output:\n%s", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if left, err := cl.ListManaged(ctx, runID); err != nil || len(left) != 0 {
		t.Errorf("after gc: %v left (err %v)", left, err)
	}
	errb.Reset()
	if code := run([]string{"real", "gc", "--run", "bad id"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--run") {
		t.Errorf("gc with a bad run id: exit %d, %q", code, errb.String())
	}
}

// TestRealRunMissingImage: a real run whose image is not in the image store (and
// cannot be pulled: there is no registry here) stops before it starts anything,
// with an error naming the scenario image, the local image and how to build it,
// and writes no output directory.
func TestRealRunMissingImage(t *testing.T) {
	dockerOrSkip(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	var o, e bytes.Buffer
	code := run([]string{"real", "run", "nginx", "--duration", "5s", "--out", out,
		"--image-map", "nginx:1.27=kubesim/absent-image-for-tests:0"}, &o, &e)
	if code == 0 {
		t.Fatalf("real run with a missing image: exit 0\n%s", o.String())
	}
	for _, want := range []string{`"kubesim/absent-image-for-tests:0"`, `"nginx:1.27"`, "make nginx-image"} {
		if !strings.Contains(e.String(), want) {
			t.Errorf("the error lacks %s:\n%s", want, e.String())
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed real run left %s (stat: %v)", out, err)
	}
	if strings.Contains(e.String(), "run id") {
		t.Errorf("the run started (it printed a run id) before the image check failed:\n%s", e.String())
	}
}
