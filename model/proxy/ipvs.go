package proxy

import "net/netip"

// lcState is the IPVS lc scheduler's view of one service port: the active
// connections of each programmed backend, in a min-heap ordered by (connections,
// position in the table), so the least-loaded backend, first in list order on a
// tie, is heap[0] (Linux ip_vs_lc.c scans the list for the lowest overhead and keeps
// the first). pos maps a backend address to its heap index.
type lcState struct {
	heap []lcItem
	pos  map[string]int
}

type lcItem struct {
	addr  string
	order int // the backend's index in the table
	conns int
}

// buildLC builds the lc state of pt's backends, keeping the connection counts prev
// had for the addresses still programmed. A backend listed twice (two slices) is
// counted once, at its first position. O(n).
func buildLC(pt *portTable, prev *lcState) *lcState {
	n := pt.n()
	st := &lcState{heap: make([]lcItem, 0, n), pos: make(map[string]int, n)}
	for i := range n {
		b, _, _ := pt.at(i)
		a := b.address()
		if _, dup := st.pos[a]; dup {
			continue
		}
		it := lcItem{addr: a, order: i}
		if prev != nil {
			if j, ok := prev.pos[a]; ok {
				it.conns = prev.heap[j].conns
			}
		}
		st.pos[a] = len(st.heap)
		st.heap = append(st.heap, it)
	}
	for i := len(st.heap)/2 - 1; i >= 0; i-- {
		st.down(i)
	}
	return st
}

// pick opens a connection on the least-loaded backend and returns its table index.
func (s *lcState) pick() int {
	it := &s.heap[0]
	it.conns++
	order := it.order
	s.down(0)
	return order
}

// open counts a connection to addr that was routed without a pick (session
// affinity).
func (s *lcState) open(addr string) {
	if i, ok := s.pos[addr]; ok {
		s.heap[i].conns++
		s.down(i)
	}
}

// close ends a connection to addr.
func (s *lcState) close(addr string) {
	if i, ok := s.pos[addr]; ok && s.heap[i].conns > 0 {
		s.heap[i].conns--
		s.up(i)
	}
}

func (s *lcState) less(i, j int) bool {
	a, b := &s.heap[i], &s.heap[j]
	if a.conns != b.conns {
		return a.conns < b.conns
	}
	return a.order < b.order
}

func (s *lcState) swap(i, j int) {
	s.heap[i], s.heap[j] = s.heap[j], s.heap[i]
	s.pos[s.heap[i].addr] = i
	s.pos[s.heap[j].addr] = j
}

func (s *lcState) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			return
		}
		s.swap(i, parent)
		i = parent
	}
}

func (s *lcState) down(i int) {
	n := len(s.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			return
		}
		s.swap(i, m)
		i = m
	}
}

// shTabBits is IP_VS_SH_TAB_BITS, the log2 of the source-hashing table size (256
// buckets; net/netfilter/ipvs/Kconfig IP_VS_SH_TAB_BITS default 8).
const shTabBits = 8

// goldenRatio32 is the kernel's GOLDEN_RATIO_32 (include/linux/hash.h), the
// multiplier of hash_32.
const goldenRatio32 = 0x61C88647

// shBucket returns the source-hashing bucket of a client IP: hash_32(ip, 8) as
// ip_vs_sh_hashkey computes it for IPv4 without the sh-port flag. A client address
// that is not an IPv4 address (test clients) is first folded to 32 bits with
// FNV-1a, a kubesim stand-in.
func shBucket(clientIP string) int {
	var v uint32
	if a, err := netip.ParseAddr(clientIP); err == nil && a.Is4() {
		b := a.As4()
		v = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	} else {
		v = 2166136261 // FNV-1a offset basis and prime (hash/fnv)
		for i := 0; i < len(clientIP); i++ {
			v ^= uint32(clientIP[i])
			v *= 16777619
		}
	}
	return int((v * goldenRatio32) >> (32 - shTabBits))
}
