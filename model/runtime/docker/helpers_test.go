package docker

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// queue is a sim-like engine thread for tests: Post may be called from any
// goroutine; the test goroutine runs the posted functions in order with drain.
type queue struct {
	mu   sync.Mutex
	fns  []func()
	wake chan struct{}
}

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

func (q *queue) Post(fn func()) {
	q.mu.Lock()
	q.fns = append(q.fns, fn)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// until runs posted functions until cond holds (checked after each one and at
// start) or timeout passes, which fails the test naming what.
func (q *queue) until(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		q.mu.Lock()
		fns := q.fns
		q.fns = nil
		q.mu.Unlock()
		if len(fns) == 0 {
			select {
			case <-q.wake:
			case <-time.After(20 * time.Millisecond): // conditions that change off-thread (readiness)
			case <-deadline.C:
				t.Fatalf("timed out after %v waiting for %s", timeout, what)
			}
			continue
		}
		for _, fn := range fns {
			fn()
		}
	}
}

// pending returns how many posted functions wait.
func (q *queue) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.fns)
}

// realClient connects to the local Docker engine and makes sure the nginx image
// exists. Without an engine the test is skipped loudly, or fails when
// KUBESIM_REQUIRE_DOCKER=1 (CI).
func realClient(t *testing.T) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := Dial(ctx, "")
	if err != nil {
		if os.Getenv("KUBESIM_REQUIRE_DOCKER") == "1" {
			t.Fatalf("KUBESIM_REQUIRE_DOCKER=1 but the Docker engine is unreachable: %v", err)
		}
		t.Skipf("SKIPPED (Docker missing): this test needs a reachable Docker engine; %v. Set KUBESIM_REQUIRE_DOCKER=1 to make this a failure.", err)
	}
	t.Cleanup(func() { cl.Close() })
	bctx, bcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer bcancel()
	if _, err := cl.BuildNginxImage(bctx, NginxImageOptions{}); err != nil {
		if os.Getenv("KUBESIM_REQUIRE_DOCKER") == "1" {
			t.Fatalf("the nginx image %s is missing and cannot be built: %v", NginxImage, err)
		}
		t.Skipf("SKIPPED (nginx image missing): %s cannot be built: %v (apt-get install -y nginx, then make nginx-image)", NginxImage, err)
	}
	return cl
}

// realEngine starts an Engine of a fresh run on the real engine; every container
// of the run is removed at the end of the test, also when it fails.
func realEngine(t *testing.T, q *queue) *Engine {
	t.Helper()
	cl := realClient(t)
	run := "test-" + NewRunID()
	e, err := NewEngine(cl, Config{RunID: run, Post: q.Post, RegistryReachable: func(context.Context, string) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := e.Shutdown(ctx); err != nil {
			t.Errorf("clean-up of run %s: %v", run, err)
		}
		left, err := cl.ListManaged(ctx, run)
		if err != nil || len(left) > 0 {
			t.Errorf("containers of run %s left after clean-up: %v (err %v)", run, left, err)
		}
	})
	return e
}
