//go:build !amd64

package framework

import "unsafe"

// prefetchNodeInfo does nothing on architectures without the assembly hint.
func prefetchNodeInfo(unsafe.Pointer) {}

// prefetchLine does nothing on architectures without the assembly hint.
func prefetchLine(unsafe.Pointer) {}
