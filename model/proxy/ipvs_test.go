package proxy

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kubesim/kubesim/model/api"
)

func ipvsConfig(s Scheduler) Config {
	cfg := testConfig(ModeIPVS)
	cfg.Scheduler = s
	return cfg
}

func TestIPVSLeastConnection(t *testing.T) {
	e, p, b := setup(t, 21, ipvsConfig(SchedulerLC), "", 3)
	pick := func() string {
		t.Helper()
		a, ok := p.Pick("default", "web", 80, "1.2.3.4")
		if !ok {
			t.Fatal("no pick")
		}
		return a
	}
	closeConn := func(a string) { p.ConnClosed("default", "web", 80, a) }
	// All idle: ties go to list order, and each pick loads its backend.
	first := []string{pick(), pick(), pick()}
	if !slices.Equal(first, b) {
		t.Fatalf("first picks %v, want list order %v", first, b)
	}
	// b[1]'s connection ends: it is the only idle backend, so it gets the next
	// connection; then all have one again and list order gives b[0].
	closeConn(b[1])
	if a := pick(); a != b[1] {
		t.Fatalf("after b1 went idle: picked %s, want the idle %s", a, b[1])
	}
	if a := pick(); a != b[0] {
		t.Fatalf("all equally loaded: picked %s, want the first %s", a, b[0])
	}
	// Two more picks: the least loaded wins each time, so loads stay within one.
	for range 2 {
		pick()
	}
	counts := []int{p.ActiveConns("default", "web", 80, b[0]), p.ActiveConns("default", "web", 80, b[1]), p.ActiveConns("default", "web", 80, b[2])}
	if counts[0]+counts[1]+counts[2] != 6 || slices.Max(counts)-slices.Min(counts) > 1 {
		t.Fatalf("active connections %v, want 6 spread within 1", counts)
	}
	// Drain b[2] completely: it is preferred until it catches up.
	for range counts[2] {
		closeConn(b[2])
	}
	for range counts[2] {
		if a := pick(); a != b[2] {
			t.Fatalf("picked %s while %s was idle", a, b[2])
		}
	}
	// Closing more than was opened never goes negative.
	for range 10 {
		closeConn(b[2])
	}
	if n := p.ActiveConns("default", "web", 80, b[2]); n != 0 {
		t.Fatalf("active connections of %s after extra closes: %d", b[2], n)
	}
	if a := pick(); a != b[2] {
		t.Fatalf("picked %s, want the idle %s", a, b[2])
	}
	// Counts survive reprogramming: add a fourth backend; it is the only idle one.
	before := p.ActiveConns("default", "web", 80, b[0])
	e.mustUpdate(slice("web", "web-1", 80, ready("10.244.1.1"), ready("10.244.1.2"), ready("10.244.1.3"), ready("10.244.1.4")))
	e.run(3 * time.Second)
	if got := p.ActiveConns("default", "web", 80, b[0]); got != before {
		t.Fatalf("active connections of %s after reprogramming: %d, want %d", b[0], got, before)
	}
	if a := pick(); a != "10.244.1.4:80" {
		t.Fatalf("picked %s, want the new idle backend", a)
	}
	if !e.tel.mentions("program", "lc over 4 real servers") {
		t.Errorf("no program trace says lc over 4 real servers: %+v", e.tel.actions("program"))
	}
}

func TestIPVSLeastConnectionWithTraffic(t *testing.T) {
	// A slow backend keeps its connections open longer, so lc sends it fewer of
	// them than rr would: connections last 1, 1 and 5 ticks.
	_, p, b := setup(t, 22, ipvsConfig(SchedulerLC), "", 3)
	hold := map[string]int{b[0]: 1, b[1]: 1, b[2]: 5}
	type conn struct {
		addr string
		left int
	}
	var open []conn
	got := map[string]int{}
	for range 600 {
		next := open[:0]
		for _, c := range open {
			c.left--
			if c.left == 0 {
				p.ConnClosed("default", "web", 80, c.addr)
				continue
			}
			next = append(next, c)
		}
		open = next
		a, _ := p.Pick("default", "web", 80, "1.2.3.4")
		got[a]++
		open = append(open, conn{a, hold[a]})
	}
	if got[b[2]]*2 >= got[b[0]] {
		t.Fatalf("picks %v: the slow backend should get far fewer connections", got)
	}
}

func TestIPVSSourceHashing(t *testing.T) {
	e, p, b := setup(t, 23, ipvsConfig(SchedulerSH), "", 3)
	const clients = 90
	owner := map[string]string{}
	per := map[string]int{}
	for i := range clients {
		ip := fmt.Sprintf("100.64.0.%d", i)
		a, ok := p.Pick("default", "web", 80, ip)
		if !ok {
			t.Fatal("no pick")
		}
		owner[ip] = a
		per[a]++
	}
	// Sticky: every later connection of a client goes to the same backend.
	for round := range 5 {
		for i := range clients {
			ip := fmt.Sprintf("100.64.0.%d", i)
			if a, _ := p.Pick("default", "web", 80, ip); a != owner[ip] {
				t.Fatalf("round %d: client %s moved from %s to %s", round, ip, owner[ip], a)
			}
		}
	}
	// Spread: every backend serves a fair share of the clients.
	for _, a := range b {
		if per[a] < clients/6 {
			t.Fatalf("clients per backend %v: %s gets too few", per, a)
		}
	}
	// The mapping is the kernel's: bucket hash_32(ip, 8), server bucket mod n.
	for i := range clients {
		ip := fmt.Sprintf("100.64.0.%d", i)
		if want := b[shBucket(ip)%3]; owner[ip] != want {
			t.Fatalf("client %s → %s, want %s", ip, owner[ip], want)
		}
	}
	if !e.tel.mentions("program", "sh over 3 real servers") {
		t.Errorf("no program trace says sh over 3 real servers: %+v", e.tel.actions("program"))
	}
}

func TestSHBucket(t *testing.T) {
	cases := []struct {
		ip   string
		want int
	}{
		// hash_32(v, 8) = (v * 0x61C88647) >> 24, computed by hand.
		{"0.0.0.0", 0},
		{"0.0.0.1", 0x61},
		{"0.0.0.2", 0xC3},
		// 0x64400001 * 0x61C88647 mod 2^32 = 0xAF888647.
		{"100.64.0.1", 0xAF},
	}
	for _, tc := range cases {
		t.Run(tc.ip, func(t *testing.T) {
			if got := shBucket(tc.ip); got != tc.want {
				t.Fatalf("shBucket(%s) = %d, want %d", tc.ip, got, tc.want)
			}
		})
	}
	if a, b := shBucket("client-a"), shBucket("client-a"); a != b || a < 0 || a > 255 {
		t.Fatalf("non-IP client buckets %d, %d", a, b)
	}
}

func TestConnClosedIsANoOpOutsideLC(t *testing.T) {
	_, p, b := setup(t, 24, testConfig(ModeIPVS), api.AffinityNone, 2)
	p.ConnClosed("default", "web", 80, b[0])
	p.ConnClosed("default", "nope", 80, b[0])
	if n := p.ActiveConns("default", "web", 80, b[0]); n != 0 {
		t.Fatalf("rr counted connections: %d", n)
	}
	if a, _ := p.Pick("default", "web", 80, "x"); a != b[0] {
		t.Fatalf("rr pick %s", a)
	}
}
