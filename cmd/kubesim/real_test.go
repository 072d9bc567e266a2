package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/runtime/docker"
	"github.com/kubesim/kubesim/results"
)

// requireDocker returns a client of the local Docker engine and checks that the
// nginx image exists. Without them the test is skipped loudly, or fails when
// KUBESIM_REQUIRE_DOCKER=1 (CI).
func requireDocker(t *testing.T) *docker.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	missing := func(what string) {
		if os.Getenv("KUBESIM_REQUIRE_DOCKER") == "1" {
			t.Fatalf("KUBESIM_REQUIRE_DOCKER=1 but %s", what)
		}
		t.Skipf("SKIPPED (Docker-backed real-run test): %s; set DOCKER_HOST or start dockerd, run `make nginx-image`, or KUBESIM_REQUIRE_DOCKER=1 to make this a failure", what)
	}
	cl, err := docker.Dial(ctx, "")
	if err != nil {
		missing("the Docker engine is unreachable: " + err.Error())
		return nil
	}
	ok, err := cl.HasImage(ctx, docker.NginxImage)
	if err != nil || !ok {
		cl.Close()
		missing("the local image " + docker.NginxImage + " is missing (build it with `make nginx-image`)")
		return nil
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// runIDOf returns the run id a real run printed on stderr.
var runIDRe = regexp.MustCompile(`real run: run id (\S+)`)

func managed(t *testing.T, cl *docker.Client, run string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := cl.ListManaged(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestRealValidateKillCalibrate shares one real run of nginx between the checks of
// real-run mode: kubesim validate prints the side-by-side table with the seven
// steps and writes validation.json; the container validate kills is restarted by
// its kubelet and requests through the real proxy are answered again; no container
// of the run remains; and after kubesim calibrate the mean relative error over the
// calibrated metrics is smaller than before.
func TestRealValidateKillCalibrate(t *testing.T) {
	cl := requireDocker(t)
	dir := t.TempDir()
	start := time.Now()
	r := kubesim(t, dir, "validate", "nginx", "--out", "val", "--sim-runs", "10")
	took := time.Since(start)
	if r.code != 0 && r.code != 4 {
		t.Fatalf("validate: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("validate nginx took %v (exit %d)\n%s", took, r.code, r.stdout)
	if took > 2*time.Minute {
		t.Errorf("a real validation of nginx took %v, over two minutes", took)
	}
	for s := 1; s <= 7; s++ {
		if !strings.Contains(r.stdout, "step "+string(rune('0'+s))+":") {
			t.Errorf("the table lacks step %d", s)
		}
	}
	before := readValidation(t, filepath.Join(dir, "val", "validation.json"))
	real, err := results.ReadSamples(filepath.Join(dir, "val", "real"))
	if err != nil {
		t.Fatal(err)
	}
	// The kill: the kubelet restarted the container, the Deployment recovered, and
	// requests through the real proxy were answered after the recovery.
	one := func(name string) float64 {
		v := real.Samples[name]
		if len(v) == 0 {
			t.Fatalf("real run has no %s sample", name)
		}
		return v[0]
	}
	if n := one(results.SampleContainerRestarts); n < 1 {
		t.Errorf("container restarts %v after a docker kill, want at least 1", n)
	}
	if rec := one(results.SampleRecoveryKill); rec <= 0 || rec > 10 {
		t.Errorf("recovery after the kill took %vs", rec)
	}
	if n := one(results.SampleRequestsOKAfterRecovery); n < 50 {
		t.Errorf("%v requests answered through the real proxy after the recovery, want the traffic to go on", n)
	}
	if n := one(results.SampleRequestsTotal); n < 500 {
		t.Errorf("only %v requests in the real run", n)
	}
	// Clean-up: no container of the run remains.
	m := runIDRe.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no run id in the output:\n%s", r.stderr)
	}
	if n := managed(t, cl, m[1]); n != 0 {
		t.Errorf("%d container(s) of run %s remain after validate", n, m[1])
	}

	// Calibrate from the real run, then validate the calibrated model against the
	// same real run.
	if r := kubesim(t, dir, "calibrate", "val/real", "--out", "cal.yaml"); r.code != 0 {
		t.Fatalf("calibrate: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	} else {
		t.Logf("calibrate:\n%s", r.stdout)
	}
	r = kubesim(t, dir, "validate", "nginx", "--real-from", "val/real", "--calibration", "cal.yaml", "--out", "val2", "--sim-runs", "10")
	if r.code != 0 && r.code != 4 {
		t.Fatalf("validate --calibration: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("after calibration:\n%s", r.stdout)
	after := readValidation(t, filepath.Join(dir, "val2", "validation.json"))
	keys := calibratedMetrics
	eb, nb := before.MeanError(keys)
	ea, na := after.MeanError(keys)
	rb, _ := before.MeanRelativeError(keys)
	ra, _ := after.MeanRelativeError(keys)
	t.Logf("validation error over %v: before %.3f (%d metrics), after %.3f (%d metrics); plain mean relative error %.3f -> %.3f", keys, eb, nb, ea, na, rb, ra)
	if nb == 0 || na != nb || ea >= eb {
		t.Errorf("calibration did not reduce the validation error: before %.3f over %d metrics, after %.3f over %d", eb, nb, ea, na)
	}
}

// calibratedMetrics are the validation metrics the calibrated latencies drive:
// etcd commits in steps 1-4, the container runtime and readiness in step 5, step 7,
// pod startup, the time to ready and the recovery from the kill. The validation
// error is the mean of |sim - real| / max(|real|, 50 ms) over them (the plain
// relative error of a 4 ms step swings by hundreds of percent with a few
// milliseconds of scheduling noise on this shared machine), with ten simulated
// runs pooled against the one real run. Step 6 is left out: its latency is kube-proxy's
// modeled minSyncPeriod (1 s) and the EndpointSlice controller, which no calibrated
// latency sets (the real proxy's programming, proxy.sync, takes microseconds), and
// its median over two or three objects swings from run to run.
var calibratedMetrics = []string{"step1", "step2", "step3", "step4", "step5", "step7", "pod_startup", "all_replicas_ready", "recovery_container_kill"}

func readValidation(t *testing.T, p string) *results.Validation {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var v results.Validation
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// startRealRun starts `kubesim real run nginx` and returns it once its containers
// run, with its run id.
func startRealRun(t *testing.T, cl *docker.Client, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(binary, "real", "run", "nginx", "--duration", "60s")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBESIM_CONFIG=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ids := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := runIDRe.FindStringSubmatch(sc.Text()); m != nil && !sent {
				ids <- m[1]
				sent = true
			}
		}
	}()
	var id string
	select {
	case id = <-ids:
	case <-time.After(60 * time.Second):
		t.Fatal("the real run printed no run id within 60 s")
	}
	deadline := time.Now().Add(60 * time.Second)
	for managed(t, cl, id) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("run %s has %d containers after 60 s, want 3", id, managed(t, cl, id))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return cmd, id
}

// TestRealRunKilledThenGC: a run killed with SIGKILL while its containers run
// leaves them; kubesim real gc removes them all.
func TestRealRunKilledThenGC(t *testing.T) {
	cl := requireDocker(t)
	dir := t.TempDir()
	cmd, id := startRealRun(t, cl, dir)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if n := managed(t, cl, id); n == 0 {
		t.Fatalf("SIGKILL left no container of run %s: the test proves nothing", id)
	}
	if r := kubesim(t, dir, "real", "gc", "--run", id); r.code != 0 {
		t.Fatalf("real gc: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if n := managed(t, cl, id); n != 0 {
		t.Errorf("%d container(s) of run %s remain after kubesim real gc", n, id)
	}
}

// TestRealRunSIGTERMCleansUp: SIGTERM interrupts a run, which removes its
// containers itself before exiting.
func TestRealRunSIGTERMCleansUp(t *testing.T) {
	cl := requireDocker(t)
	dir := t.TempDir()
	cmd, id := startRealRun(t, cl, dir)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("interrupted run exited with %v, want exit code 1", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the run did not exit within 60 s of SIGTERM")
	}
	if n := managed(t, cl, id); n != 0 {
		t.Errorf("%d container(s) of run %s remain after SIGTERM", n, id)
	}
}
