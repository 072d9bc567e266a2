package framework

import "unsafe"

// prefetchNodeInfo starts loading the first 384 bytes of the NodeInfo at p into
// the cache without waiting for them (prefetch_amd64.s).
//
//go:noescape
func prefetchNodeInfo(p unsafe.Pointer)

// prefetchLine starts loading the cache line at p (prefetch_amd64.s).
//
//go:noescape
func prefetchLine(p unsafe.Pointer)
