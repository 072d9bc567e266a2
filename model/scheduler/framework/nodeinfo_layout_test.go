package framework

import (
	"testing"
	"unsafe"
)

// TestNodeInfoLayout checks what NodeInfo's field order and Prefetch rely on: the
// fields every filter and score reads lie in the first 128 bytes, the rest of what
// a cycle reads in the 384 bytes Prefetch loads, and the size stays in Go's
// 640-byte size class (577..640 bytes), whose objects start on 128-byte
// boundaries. A failure means a field was added or moved: put hot fields first
// and keep the size in the class (or change the class and this test together).
func TestNodeInfoLayout(t *testing.T) {
	var n NodeInfo
	if sz := unsafe.Sizeof(n); sz <= 576 || sz > 640 {
		t.Errorf("NodeInfo is %d bytes, want 577..640 (the 640-byte size class)", sz)
	}
	hot := map[string]uintptr{
		"Name":             unsafe.Offsetof(n.Name) + unsafe.Sizeof(n.Name),
		"unschedulable":    unsafe.Offsetof(n.unschedulable) + 1,
		"slot":             unsafe.Offsetof(n.slot) + unsafe.Sizeof(n.slot),
		"node":             unsafe.Offsetof(n.node) + unsafe.Sizeof(n.node),
		"Allocatable":      unsafe.Offsetof(n.Allocatable) + unsafe.Sizeof(n.Allocatable),
		"Requested":        unsafe.Offsetof(n.Requested) + unsafe.Sizeof(n.Requested),
		"NonZeroRequested": unsafe.Offsetof(n.NonZeroRequested) + unsafe.Sizeof(n.NonZeroRequested),
	}
	for name, end := range hot {
		if end > 128 {
			t.Errorf("%s ends at byte %d, want within the first 128", name, end)
		}
	}
	warm := map[string]uintptr{
		"Pods":          unsafe.Offsetof(n.Pods) + unsafe.Sizeof(n.Pods),
		"taints":        unsafe.Offsetof(n.taints) + unsafe.Sizeof(n.taints),
		"images":        unsafe.Offsetof(n.images) + unsafe.Sizeof(n.images),
		"labelCache[1]": unsafe.Offsetof(n.labelCache) + 2*unsafe.Sizeof(n.labelCache[0]),
	}
	for name, end := range warm {
		if end > 384 {
			t.Errorf("%s ends at byte %d, want within the 384 bytes Prefetch loads", name, end)
		}
	}
}
