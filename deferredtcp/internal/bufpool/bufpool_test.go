package bufpool

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMakeRoundsUpToAPowerOfTwo(t *testing.T) {
	for _, tc := range []struct{ n, cap int }{
		{1, 64}, {64, 64}, {65, 128}, {512, 512}, {513, 1024}, {64 << 10, 64 << 10}, {100_000, 128 << 10}, {16 << 20, 16 << 20},
		{16<<20 + 1, 16<<20 + 1}, // past the largest class: exact, never pooled
	} {
		b := Make(tc.n)
		require.Len(t, b, tc.n)
		require.Equal(t, tc.cap, cap(b), "Make(%d)", tc.n)
	}
}

func TestPutTakesOnlyClassCapacities(t *testing.T) {
	for _, tc := range []struct {
		c  int
		ok bool
	}{{64, true}, {256, true}, {512, true}, {4096, true}, {16 << 20, true}, {0, false}, {32, false}, {1000, false}, {32 << 20, false}} {
		i, _ := class(tc.c, false)
		require.Equal(t, tc.ok, i >= 0, "capacity %d", tc.c)
	}
}

// TestRecycleEarnsClaims: each recycled buffer earns one claim of its size,
// and a buffer put back by Put (an I/O path's own) earns none.
func TestRecycleEarnsClaims(t *testing.T) {
	const size = 8 << 10
	for Claim(size) {
	}
	Put(make([]byte, size))
	require.False(t, Claim(size))
	Recycle(make([]byte, 10, size))
	Recycle(make([]byte, size))
	require.True(t, Claim(size-100), "claims are by size rounded up")
	require.True(t, Claim(size))
	require.False(t, Claim(size))
	Recycle(make([]byte, size+1)) // not a class: a credit for the next one, and not kept
	require.False(t, Claim(size))
	require.True(t, Claim(2*size))
	require.Nil(t, Get(2*size))
	Recycle(make([]byte, 10, MinSize-1)) // too small to say anything
	require.False(t, Claim(MinSize-1))
}

func TestGetReturnsWhatWasPut(t *testing.T) {
	const size = 2 << 10
	var got []byte
	for range 100 { // the race detector drops some of what is put
		b := make([]byte, size)
		b[0] = 42
		Put(b)
		if got = Get(size - 1); got != nil {
			break
		}
	}
	require.NotNil(t, got)
	require.Len(t, got, size-1)
	require.Equal(t, size, cap(got))
	require.Equal(t, byte(42), got[0])
}
