#include "textflag.h"

// func prefetchNodeInfo(p unsafe.Pointer)
// Hints the processor to load the cache lines of a NodeInfo that a scheduling
// cycle reads (bytes 0-383, see NodeInfo's field order). PREFETCHT0 never faults
// and never stalls: it only starts the loads.
TEXT ·prefetchNodeInfo(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 0(AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	PREFETCHT0 192(AX)
	PREFETCHT0 256(AX)
	PREFETCHT0 320(AX)
	RET

// func prefetchLine(p unsafe.Pointer)
// Hints the processor to load the cache line at p.
TEXT ·prefetchLine(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	PREFETCHT0 0(AX)
	RET
