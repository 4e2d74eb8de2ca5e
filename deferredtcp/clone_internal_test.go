package deferredtcp

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/deferredtcp/internal/bufpool"
)

// TestShortReadCopiesTakeRecycledBuffers: a short read's copy goes into a
// buffer of the pool once buffers of its size come back through Recycle,
// and stays an exact-size allocation for code that never recycles.
func TestShortReadCopiesTakeRecycledBuffers(t *testing.T) {
	p := bytes.Repeat([]byte("line"), 25) // 100 bytes: the 128-byte class
	for bufpool.Claim(len(p)) {
	}
	v := clone(p)
	require.Equal(t, p, v)
	require.Less(t, cap(v), 128, "without a credit the copy is exact-size, not a pooled power of two")

	// A reader that recycles: the exact-size copy is left to the garbage
	// collector but says that buffers of its size come back, so the next
	// copy is made in one that can come back too; from then on each copy
	// takes the buffer recycled before it (the race detector makes the pool
	// drop some).
	Recycle(v)
	v = clone(p)
	require.Equal(t, p, v)
	require.Equal(t, 128, cap(v), "after a Recycle, a copy is made in a buffer that can come back")
	reused := false
	for range 100 {
		Recycle(v)
		w := clone(p)
		require.Equal(t, p, w)
		require.Equal(t, 128, cap(w), "a copy made while buffers come back can come back itself")
		if unsafe.SliceData(w) == unsafe.SliceData(v) {
			reused = true
			break
		}
		v = w
	}
	require.True(t, reused, "no copy took the buffer recycled before it")
}
