// Package realtraffic is the open-loop HTTP load generator of real-run mode: Poisson
// arrivals at a given rate (exponential gaps from a seeded math/rand/v2 PCG), each
// request an HTTP GET on its own goroutine, against the real proxy on 127.0.0.1. It
// is the real counterpart of model/traffic's Generator and uses its failure reasons.
//
// Open loop: arrivals follow the schedule whatever the responses; a request whose
// arrival finds MaxInFlight requests still running is not sent and is counted as
// Dropped (the generator's own limit, not the server's fault). The run is bounded by
// both Duration (no arrival after it) and Count (at most Count arrivals); it then
// waits for the requests in flight, each bounded by Timeout.
//
// Errors: a status >= 500 ("server error"), a connection error ("connection
// refused", or the transport's message) and a timeout ("timeout"). Latency is from
// the request's start to the end of its response body.
//
// Only loopback targets are accepted (127.0.0.1 or localhost): the generator must
// never send traffic anywhere else.
package realtraffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"gonum.org/v1/gonum/stat"
)

// Failure reasons, as model/traffic names them.
const (
	ReasonConnectionRefused = "connection refused"
	ReasonTimeout           = "timeout"
	ReasonServerError       = "server error"
	ReasonDropped           = "in-flight cap reached"
)

// Config is one load run.
type Config struct {
	// Target is the URL to GET ("http://127.0.0.1:31080/") or a "host:port"; the
	// host must be 127.0.0.1 or localhost.
	Target string
	// Rate is the mean arrival rate in requests per second.
	Rate float64
	// Duration bounds the arrival window; Count bounds the number of arrivals. Both
	// are required.
	Duration time.Duration
	Count    int
	// Seed seeds the arrival process.
	Seed uint64
	// Timeout bounds each request (default 2 s).
	Timeout time.Duration
	// MaxInFlight caps concurrent requests (default 256).
	MaxInFlight int
	// KeepAlive reuses connections. Off by default: every request opens a new
	// connection, so the proxy balances each one (as the modeled client does).
	KeepAlive bool
}

// Validate checks the configuration and returns the normalized target URL.
func (c *Config) Validate() (*url.URL, error) {
	if c.Rate <= 0 {
		return nil, fmt.Errorf("realtraffic: rate must be positive, got %g", c.Rate)
	}
	if c.Duration <= 0 {
		return nil, fmt.Errorf("realtraffic: duration must be positive, got %v", c.Duration)
	}
	if c.Count <= 0 {
		return nil, fmt.Errorf("realtraffic: count must be positive, got %d", c.Count)
	}
	if c.Timeout < 0 || c.MaxInFlight < 0 {
		return nil, errors.New("realtraffic: timeout and maxInFlight must not be negative")
	}
	return LoopbackURL(c.Target)
}

// LoopbackURL parses target ("http://host:port/path" or "host:port") and refuses any
// host but 127.0.0.1 and localhost (which it rewrites to 127.0.0.1).
func LoopbackURL(target string) (*url.URL, error) {
	if target == "" {
		return nil, errors.New("realtraffic: no target given")
	}
	raw := target
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("realtraffic: target %q: %w", target, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("realtraffic: target %q: only http is supported", target)
	}
	switch h := u.Hostname(); h {
	case "127.0.0.1":
	case "localhost":
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	default:
		return nil, fmt.Errorf("realtraffic: target %q: host %q refused: the load generator only sends to 127.0.0.1 or localhost", target, h)
	}
	if u.Port() == "" {
		return nil, fmt.Errorf("realtraffic: target %q: a port is required", target)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

// Sample is one arrival.
type Sample struct {
	Start time.Time // wall time the request was sent (or dropped)
	// Scheduled is the arrival's planned offset from the run's start (<= Duration);
	// Offset is the actual one (Start relative to the run's start), later by the
	// timer's lag.
	Scheduled, Offset time.Duration
	Latency           time.Duration // to the end of the response body (0 when dropped)
	Status            int           // HTTP status (0 without a response)
	Err               string        // "" on success, else a reason
}

// OK reports whether the request succeeded.
func (s Sample) OK() bool { return s.Err == "" }

// Result is a finished run. Samples are in arrival order.
type Result struct {
	Target  string
	Start   time.Time
	Elapsed time.Duration // from the start to the last request's end
	Samples []Sample
	// Sent counts requests sent; OK the successful ones; Errors the failed ones
	// (status >= 500, connection errors, timeouts); Dropped the arrivals not sent
	// because MaxInFlight requests were running.
	Sent, OK, Errors, Dropped int
	// ErrorsByReason counts Errors by reason.
	ErrorsByReason map[string]int
	// P50, P90 and P99 are latency quantiles of the successful requests (0 when
	// none).
	P50, P90, P99 time.Duration
}

// Run sends the load and returns when every request has ended, or ctx is done (then
// the requests in flight are cancelled and counted as errors).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	u, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 256
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
		DisableKeepAlives:   !cfg.KeepAlive,
		MaxIdleConnsPerHost: cfg.MaxInFlight,
		Proxy:               nil, // never through an environment proxy
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	target := u.String()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x74726166))
	res := &Result{Target: target, ErrorsByReason: map[string]int{}}
	samples := make([]Sample, 0, min(cfg.Count, 1<<16))
	var mu sync.Mutex // guards samples' entries written by request goroutines
	sem := make(chan struct{}, cfg.MaxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	res.Start = start
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	var at time.Duration
arrivals:
	for k := 0; k < cfg.Count; k++ {
		at += time.Duration(rng.ExpFloat64() / cfg.Rate * float64(time.Second))
		if at > cfg.Duration {
			break
		}
		if d := time.Until(start.Add(at)); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				timer.Stop()
				break arrivals
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			break
		}
		now := time.Now()
		mu.Lock()
		samples = append(samples, Sample{Start: now, Scheduled: at, Offset: now.Sub(start)})
		i := len(samples) - 1
		mu.Unlock()
		select {
		case sem <- struct{}{}:
		default:
			mu.Lock()
			samples[i].Err = ReasonDropped
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			lat, status, reason := get(ctx, client, target)
			mu.Lock()
			samples[i].Latency, samples[i].Status, samples[i].Err = lat, status, reason
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Samples = samples
	var lats []float64
	for _, s := range samples {
		switch {
		case s.Err == ReasonDropped:
			res.Dropped++
			continue
		case s.Err != "":
			res.Errors++
			res.ErrorsByReason[s.Err]++
		default:
			res.OK++
			lats = append(lats, s.Latency.Seconds())
		}
		res.Sent++
	}
	if len(lats) > 0 {
		slices.Sort(lats)
		q := func(p float64) time.Duration {
			return time.Duration(stat.Quantile(p, stat.Empirical, lats, nil) * float64(time.Second))
		}
		res.P50, res.P90, res.P99 = q(0.5), q(0.9), q(0.99)
	}
	return res, nil
}

// Go runs the load on a goroutine and posts done onto the engine through post (the
// wall-clock driver's Post) when it ends.
func Go(ctx context.Context, cfg Config, post func(func()), done func(*Result, error)) error {
	if post == nil {
		return errors.New("realtraffic: nil poster")
	}
	if _, err := cfg.Validate(); err != nil {
		return err
	}
	go func() {
		r, err := Run(ctx, cfg)
		post(func() { done(r, err) })
	}()
	return nil
}

// get sends one GET and classifies the outcome.
func get(ctx context.Context, client *http.Client, target string) (time.Duration, int, string) {
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, 0, err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return time.Since(t0), 0, reason(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	lat := time.Since(t0)
	switch {
	case err != nil:
		return lat, resp.StatusCode, reason(err)
	case resp.StatusCode >= 500:
		return lat, resp.StatusCode, ReasonServerError
	}
	return lat, resp.StatusCode, ""
}

func reason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonConnectionRefused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	}
	return err.Error()
}
