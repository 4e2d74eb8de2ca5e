// Package bufpool keeps deferredtcp's read buffers for reuse: the I/O paths
// take their read buffers here and put back those no Read took over, and
// deferredtcp.Recycle brings back those a Read did. Buffers come in
// power-of-two capacities from 64 B to 16 MiB, one sync.Pool per capacity,
// so that the garbage collector frees what stays unused.
//
// Recycled buffers also earn credits: a Conn hands a read buffer over to a
// Read that its bytes fill only partly (rather than copy them out) when a
// credit says that buffers of that size come back, so that code that never
// recycles does not get 64 KiB arrays for its short reads; and it copies a
// short read into a pooled buffer only when a credit says that buffers of
// that size come back, so that code that never recycles pays neither a
// pool's miss nor a power-of-two capacity.
package bufpool

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

const (
	minShift = 6  // 64 B, a short line's copy
	maxShift = 24 // 16 MiB
)

// MinSize is the capacity of the smallest buffers kept.
const MinSize = 1 << minShift

// pools[i] holds arrays of 1<<(minShift+i) bytes, as pointers to their
// first byte: an unsafe.Pointer fits in an interface without an
// allocation, a slice does not.
var pools [maxShift - minShift + 1]sync.Pool

// credits[i] counts the buffers of pools[i] recycled and not yet claimed,
// up to maxCredits: a burst of recycling long ago earns few claims now.
var credits [maxShift - minShift + 1]atomic.Int64

const maxCredits = 64

// class returns the index in pools for arrays of capacity c, and their
// capacity: that of c rounded up to a power of two (round), or of c exactly
// (!round); -1 if there is none.
func class(c int, round bool) (int, int) {
	if c <= 0 {
		return -1, 0
	}
	shift := max(bits.Len(uint(c-1)), minShift) // the power of two at or above c
	if shift > maxShift || !round && 1<<shift != c {
		return -1, 0
	}
	return shift - minShift, 1 << shift
}

// Get returns a buffer of length n from the pool, its capacity n rounded
// up to a power of two; nil if the pool has none.
func Get(n int) []byte {
	i, size := class(n, true)
	if i < 0 {
		return nil
	}
	ptr, _ := pools[i].Get().(unsafe.Pointer)
	if ptr == nil {
		return nil
	}
	return unsafe.Slice((*byte)(ptr), size)[:n]
}

// Make returns a buffer of length n: from the pool, or a new one whose
// capacity is n rounded up to a power of two (so that Put takes it back).
func Make(n int) []byte {
	if b := Get(n); b != nil {
		return b
	}
	_, size := class(n, true)
	return make([]byte, max(size, n))[:n]
}

// Put offers p's array for reuse; nothing may read or write it afterwards.
// An array whose capacity is not a power of two in range is left to the
// garbage collector.
func Put(p []byte) {
	if i, _ := class(cap(p), false); i >= 0 {
		pools[i].Put(unsafe.Pointer(unsafe.SliceData(p)))
	}
}

// Recycle is Put for a buffer that came back from a user: it earns its
// size a credit. An array of another capacity (an exact-size copy made
// before any credit) is left to the garbage collector, but earns the class
// its size rounds up to a credit all the same: buffers of about its size
// come back, so the next copy of that size is made in one that can.
func Recycle(p []byte) {
	if cap(p) < MinSize {
		return
	}
	Put(p)
	if i, _ := class(cap(p), true); i >= 0 && credits[i].Load() < maxCredits {
		credits[i].Add(1)
	}
}

// Claim takes a credit of the size of n bytes rounded up to a power of
// two, if there is one.
func Claim(n int) bool {
	i, _ := class(n, true)
	if i < 0 {
		return false
	}
	c := &credits[i]
	for {
		v := c.Load()
		if v <= 0 {
			return false
		}
		if c.CompareAndSwap(v, v-1) {
			return true
		}
	}
}
