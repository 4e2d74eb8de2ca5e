package deferredtcp_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/deferredtcp/deferredtcptest"
	"github.com/twistgo/twist/reactor"
)

// The chain I/O path is meant to cost about what the OnData path costs:
// an echo server written as a Read → Write chain does, per message, only the
// Deferred work its chain asks for. These measure one echoed message on an
// in-memory connection, with no socket, so that the figures are the
// library's own work and (for allocations) exact.

// pipeEcho is an echo server (serve) and a client over an in-memory
// connection on a deferredtcptest.Loop, ready to echo one message at a time.
type pipeEcho struct {
	loop   *deferredtcptest.Loop
	client *deferredtcp.Conn
	msg    []byte
	echoed int
}

func newPipeEcho(tb testing.TB, serve func(*deferredtcp.Conn), size int) *pipeEcho {
	tb.Helper()
	e := &pipeEcho{loop: deferredtcptest.NewLoop(), msg: make([]byte, size)}
	tb.Cleanup(e.loop.Stop)
	client, server := deferredtcp.Pipe(e.loop)
	e.client = client
	client.OnData(func(p []byte) { e.echoed += len(p) })
	serve(server)
	e.roundTrip(tb) // the first message sets up the buffers of both ends
	return e
}

// roundTrip sends one message and runs the loop until it has come back.
func (e *pipeEcho) roundTrip(tb testing.TB) {
	e.echoed = 0
	if err := e.client.Send(e.msg); err != nil {
		tb.Fatal(err)
	}
	e.loop.Flush()
	if e.echoed != len(e.msg) {
		tb.Fatalf("echoed %d bytes; want %d", e.echoed, len(e.msg))
	}
}

// chainAllocs is what the chain echo (recyclingEcho: Read, ThenDeferred,
// Write, AddBoth) may allocate per message beyond the OnData echo: the
// Read's Deferred, the Deferred and step of the user's ThenDeferred (one
// allocation), and the Write's Deferred. The bytes cost none: the buffer of
// a large Read is handed over, a small Read's copy goes into a buffer that
// an earlier Recycle gave back, and each comes back with Recycle.
const chainAllocs = 3

func TestChainEchoAllocatesOnlyItsDeferreds(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop recycled buffers")
	}
	for _, size := range []int{64, 16 << 10} {
		chain := newPipeEcho(t, recyclingEcho, size)
		onData := newPipeEcho(t, onDataEcho, size)
		chainN := testing.AllocsPerRun(200, func() { chain.roundTrip(t) })
		onDataN := testing.AllocsPerRun(200, func() { onData.roundTrip(t) })
		require.LessOrEqualf(t, chainN-onDataN, float64(chainAllocs),
			"%d-byte messages: the chain echo allocates %.1f per message, the OnData echo %.1f", size, chainN, onDataN)
	}
}

// BenchmarkPipeEcho compares the chain echo with the OnData echo over an
// in-memory connection on a reactor: a client sends a message, and the next
// one once the last has come back. What the two servers differ by is the
// library's own cost per message, without the kernel's.
func BenchmarkPipeEcho(b *testing.B) {
	for _, size := range []int{64, 16 << 10} {
		for _, srv := range []struct {
			name  string
			serve func(*deferredtcp.Conn)
		}{{"ondata", onDataEcho}, {"chain", recyclingEcho}} {
			b.Run(fmt.Sprintf("%s-%dB", srv.name, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				pipeEchoLoop(b, srv.serve, size)
			})
		}
	}
}

// pipeEchoLoop echoes b.N messages of size bytes, one at a time, through
// serve on an in-memory connection on a reactor.
func pipeEchoLoop(b *testing.B, serve func(*deferredtcp.Conn), size int) {
	r := reactor.New()
	msg := make([]byte, size)
	left, got := b.N, 0
	done := make(chan error, 1)
	r.CallFromGoroutine(func() {
		client, server := deferredtcp.Pipe(r)
		serve(server)
		client.OnData(func(p []byte) {
			if got += len(p); got < size {
				return
			}
			got = 0
			if left--; left == 0 {
				done <- nil
				r.Stop()
				return
			}
			if err := client.Send(msg); err != nil {
				done <- err
				r.Stop()
			}
		})
		b.ResetTimer()
		client.Send(msg)
	})
	if err := r.Run(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
