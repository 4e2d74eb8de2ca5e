package deferredtcp_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

// TestLimitHugeSizeOptions gives every size option an absurd value: they
// are clamped to their documented maxima, so the connections work and hold
// a few MiB, where WithReadBufferSize(1 << 40) alone used to end the
// process with "fatal error: out of memory".
func TestLimitHugeSizeOptions(t *testing.T) {
	opts := []deferredtcp.Option{
		deferredtcp.WithReadBufferSize(1 << 40),
		deferredtcp.WithWatermarks(math.MaxInt, math.MaxInt),
		deferredtcp.WithMaxWriteBuffer(math.MaxInt),
		deferredtcp.WithBacklog(math.MaxInt),
	}
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		before := liveHeap()
		var grown uint64
		msg := bytes.Repeat([]byte("x"), 1<<20)
		var got *outcome[[]byte]
		pair(t, r, func(server, client *deferredtcp.Conn) {
			client.Write(msg)
			d := server.ReadFull(len(msg))
			got = record(d)
			after(d, func() {
				if h := liveHeap(); h > before {
					grown = h - before
				}
				server.Close()
				after(client.Close(), stop(r))
			})
		}, opts...)
		run(t, r)
		require.NoError(t, got.err)
		require.Equal(t, msg, got.value)
		// Two connections with 4 MiB read buffers at most, the message and
		// its copy: well under 32 MiB.
		require.Less(t, grown, uint64(32<<20), "live heap grew by %d bytes", grown)
	})
}
