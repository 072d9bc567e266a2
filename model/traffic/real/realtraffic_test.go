package realtraffic

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRefusesNonLoopbackTargets(t *testing.T) {
	for _, target := range []string{"http://example.com:80/", "10.0.0.1:80", "http://192.168.1.2:8080", "https://127.0.0.1:443/", "http://[::1]:80/"} {
		_, err := Run(context.Background(), Config{Target: target, Rate: 1, Duration: time.Second, Count: 1})
		if err == nil {
			t.Errorf("%s accepted", target)
		}
	}
	_, err := Run(context.Background(), Config{Target: "http://example.com:80/", Rate: 1, Duration: time.Second, Count: 1})
	if err == nil || !strings.Contains(err.Error(), "only sends to 127.0.0.1") {
		t.Fatalf("error does not say why: %v", err)
	}
	u, err := LoopbackURL("localhost:8080")
	if err != nil || u.String() != "http://127.0.0.1:8080/" {
		t.Fatalf("localhost: %v %v", u, err)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Target: "127.0.0.1:1", Rate: 0, Duration: time.Second, Count: 1},
		{Target: "127.0.0.1:1", Rate: 1, Duration: 0, Count: 1},
		{Target: "127.0.0.1:1", Rate: 1, Duration: time.Second, Count: 0},
		{Target: "127.0.0.1", Rate: 1, Duration: time.Second, Count: 1},
	} {
		if _, err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestCountBoundsAndRateRoughlyHonoured(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1); w.Write([]byte("ok")) }))
	defer srv.Close()
	// Bound by count: 200 req/s for at most 10 s but only 50 requests.
	r, err := Run(context.Background(), Config{Target: srv.URL, Rate: 200, Duration: 10 * time.Second, Count: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 50 || r.OK != 50 || r.Errors != 0 || hits.Load() != 50 || len(r.Samples) != 50 {
		t.Fatalf("sent %d ok %d errors %d hits %d samples %d", r.Sent, r.OK, r.Errors, hits.Load(), len(r.Samples))
	}
	// 50 arrivals at 200/s take about 0.25 s; far from the 10 s bound.
	if r.Elapsed > 5*time.Second {
		t.Fatalf("count bound not honoured: took %v", r.Elapsed)
	}
	if r.P50 <= 0 || r.P99 < r.P50 {
		t.Fatalf("quantiles p50 %v p99 %v", r.P50, r.P99)
	}
	// Bound by duration: 100 req/s for 1 s with a large count: about 100 requests
	// (Poisson: sd 10; accept 60..140).
	hits.Store(0)
	r, err = Run(context.Background(), Config{Target: srv.URL, Rate: 100, Duration: time.Second, Count: 100000, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent < 60 || r.Sent > 140 || int64(r.Sent) != hits.Load() {
		t.Fatalf("sent %d (hits %d), want about 100", r.Sent, hits.Load())
	}
	for i, s := range r.Samples {
		if s.Scheduled > time.Second || s.Offset < s.Scheduled || (i > 0 && s.Scheduled < r.Samples[i-1].Scheduled) {
			t.Fatalf("sample %d at %v: outside the window or out of order", i, s.Offset)
		}
	}
}

func TestSeededArrivalsRepeat(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	// The schedule is a function of the seed: the same seed gives the same count
	// within the window (arrival times differ only by scheduling jitter).
	cfg := Config{Target: srv.URL, Rate: 50, Duration: 400 * time.Millisecond, Count: 1000, Seed: 42}
	a, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.Sent != b.Sent {
		t.Fatalf("same seed, %d then %d arrivals", a.Sent, b.Sent)
	}
}

func TestErrorsCounted(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 1:
			select { // slower than the timeout
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	r, err := Run(context.Background(), Config{Target: srv.URL, Rate: 200, Duration: 10 * time.Second, Count: 30, Seed: 3, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 30 || r.OK != 10 || r.Errors != 20 || r.ErrorsByReason[ReasonServerError] != 10 || r.ErrorsByReason[ReasonTimeout] != 10 {
		t.Fatalf("sent %d ok %d errors %d by reason %v", r.Sent, r.OK, r.Errors, r.ErrorsByReason)
	}
	// Connection refused: nobody listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r, err = Run(context.Background(), Config{Target: addr, Rate: 100, Duration: time.Second, Count: 5, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 5 || r.ErrorsByReason[ReasonConnectionRefused] != 5 || r.P50 != 0 {
		t.Fatalf("errors %d by reason %v", r.Errors, r.ErrorsByReason)
	}
}

func TestInFlightCapDrops(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	go func() { time.Sleep(500 * time.Millisecond); close(release) }()
	r, err := Run(context.Background(), Config{Target: srv.URL, Rate: 1000, Duration: 10 * time.Second, Count: 20, Seed: 5, MaxInFlight: 2, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 2 || r.Dropped != 18 || r.OK != 2 {
		t.Fatalf("sent %d dropped %d ok %d", r.Sent, r.Dropped, r.OK)
	}
}

func TestGoPostsResult(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	posts := make(chan func(), 1)
	var got *Result
	if err := Go(context.Background(), Config{Target: srv.URL, Rate: 100, Duration: time.Second, Count: 3}, func(fn func()) { posts <- fn }, func(r *Result, err error) { got = r }); err != nil {
		t.Fatal(err)
	}
	select {
	case fn := <-posts:
		fn()
	case <-time.After(10 * time.Second):
		t.Fatal("no result posted")
	}
	if got == nil || got.OK != 3 {
		t.Fatalf("result %+v", got)
	}
	if err := Go(context.Background(), Config{Target: "example.com:80", Rate: 1, Duration: time.Second, Count: 1}, func(func()) {}, nil); err == nil {
		t.Fatal("Go accepted a non-loopback target")
	}
}
