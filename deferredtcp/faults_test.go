//go:build linux

package deferredtcp_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Faults over real loopback sockets, on both backends: peers that reset,
// half-close, stall, trickle or flood, a Stop with a thousand connections
// open, and callbacks that panic. Each test checks, through forEachBackend
// and checkGoroutines, that no descriptor and no goroutine outlives it.

// checkGoroutines fails t if goroutines started during it are still running
// some time after it ends.
func checkGoroutines(t testing.TB) {
	t.Helper()
	current := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, current) })
}

// heapInUse returns the bytes in in-use heap spans.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// isReset reports whether err is how a connection reset by its peer shows
// up: ECONNRESET on a read or write, EPIPE on a write after the reset.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// writeChunks writes chunk to c n times (until a write fails if n < 0),
// waiting on each Write's Deferred: the way a well-behaved producer writes.
// It fires with the bytes written, or fails with the first write's error;
// stalls, if not nil, counts the writes that had to wait for the buffer to
// drain.
func writeChunks(c *deferredtcp.Conn, chunk []byte, n int, stalls *int) *deferred.Deferred[int] {
	done := deferred.New[int]()
	sent := 0
	var step func()
	step = func() {
		for n < 0 || sent < n*len(chunk) {
			d := c.Write(chunk)
			if !d.Called() {
				if stalls != nil {
					*stalls++
				}
				d.AddCallbacks(func(int) (int, error) {
					sent += len(chunk)
					step()
					return 0, nil
				}, func(f *failure.Failure) (int, error) {
					done.Errback(f)
					return 0, nil
				})
				return
			}
			var err error
			d.AddErrback(func(f *failure.Failure) (int, error) {
				err = f
				return 0, nil
			})
			if err != nil {
				done.Errback(err)
				return
			}
			sent += len(chunk)
		}
		done.Callback(sent)
	}
	step()
	return done
}

// TestFaultPeerResetMidWrite has a peer read 1 MiB of an endless stream,
// then close with SO_LINGER 0: the kernel answers twist's next segment with
// a reset. The write chain and Lost fail with ECONNRESET (or EPIPE), and
// the connection's descriptor and goroutines are released.
func TestFaultPeerResetMidWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		r := newReactor()
		l := listen(t, r)
		const peerReads = 1 << 20
		peer := make(chan error, 1)
		go func() {
			nc, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				peer <- err
				return
			}
			_, err = io.CopyN(io.Discard, nc, peerReads)
			nc.(*net.TCPConn).SetLinger(0)
			nc.Close()
			peer <- err
		}()
		var wrote *outcome[int]
		var lost *outcome[struct{}]
		l.Serve(func(c *deferredtcp.Conn) {
			l.Close()
			lost = record(c.Lost())
			wrote = record(writeChunks(c, make([]byte, 32<<10), -1, nil))
			after(c.Lost(), stop(r))
		})
		start := time.Now()
		run(t, r)
		require.NoError(t, <-peer)
		require.True(t, isReset(wrote.err), "write chain: %v", wrote.err)
		require.True(t, isReset(lost.err), "Lost: %v", lost.err)
		var oe *net.OpError
		require.ErrorAs(t, lost.err, &oe)
		t.Logf("reset noticed in %v: %v", time.Since(start).Round(time.Millisecond), lost.err)
	})
}

// TestFaultHalfOpenPeer has a peer send a request and shut down its write
// side: twist reads the request and io.EOF, and can still write its answer,
// which the peer reads. Then the peer goes away (closes its socket): twist's
// next writes draw a reset, and Lost reports it.
func TestFaultHalfOpenPeer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		r := newReactor()
		l := listen(t, r)
		answer := []byte("answer after your EOF")
		peer := make(chan error, 1)
		gone := make(chan struct{})
		go func() {
			defer close(gone)
			nc, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				peer <- err
				return
			}
			defer nc.Close()
			nc.Write([]byte("request"))
			nc.(*net.TCPConn).CloseWrite()
			got := make([]byte, len(answer))
			if _, err := io.ReadFull(nc, got); err != nil {
				peer <- err
				return
			}
			if !bytes.Equal(got, answer) {
				peer <- fmt.Errorf("peer read %q", got)
				return
			}
			peer <- nil
		}()
		var request *outcome[[]byte]
		var lost *outcome[struct{}]
		writes := 0
		l.Serve(func(c *deferredtcp.Conn) {
			l.Close()
			lost = record(c.Lost())
			all := readAll(c)
			request = record(all)
			deferred.ThenDeferred(all, func([]byte) *deferred.Deferred[int] {
				return c.Write(answer)
			}).AddCallback(func(int) (int, error) {
				// The peer vanishes; keep writing until that shows.
				var ping func()
				ping = func() {
					writes++
					if c.Send([]byte("ping")) == nil && writes < 10000 {
						r.Schedule(time.Millisecond, ping)
					}
				}
				go func() {
					<-gone
					r.CallFromGoroutine(ping)
				}()
				return 0, nil
			})
			after(c.Lost(), stop(r))
		})
		run(t, r)
		require.NoError(t, <-peer)
		require.NoError(t, request.err, "EOF ends the read chain cleanly")
		require.Equal(t, "request", string(request.value))
		require.True(t, isReset(lost.err), "Lost: %v", lost.err)
		require.Less(t, writes, 100, "the vanished peer shows within a few writes")
		t.Logf("peer gone noticed after %d writes: %v", writes, lost.err)
	})
}

// TestFaultSilentPeer has a peer connect and send nothing: the idle timeout
// closes the connection with ErrIdleTimeout, cleanly: the peer reads EOF.
func TestFaultSilentPeer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		r := newReactor()
		l := listen(t, r)
		peer := make(chan error, 1)
		go func() {
			nc, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				peer <- err
				return
			}
			defer nc.Close()
			_, err = nc.Read(make([]byte, 1))
			peer <- err
		}()
		const idle = 50 * time.Millisecond
		var lost *outcome[struct{}]
		var read *outcome[[]byte]
		var start time.Time
		var took time.Duration
		l.Serve(func(c *deferredtcp.Conn) {
			l.Close()
			start = time.Now()
			c.SetIdleTimeout(idle)
			read = record(c.Read())
			lost = record(c.Lost())
			after(c.Lost(), func() {
				took = time.Since(start)
				r.Stop()
			})
		})
		run(t, r)
		require.ErrorIs(t, lost.err, deferredtcp.ErrIdleTimeout)
		require.ErrorIs(t, read.err, deferredtcp.ErrIdleTimeout, "the pending read fails with the reason")
		require.GreaterOrEqual(t, took, idle)
		require.ErrorIs(t, <-peer, io.EOF, "the idle connection is closed cleanly")
		t.Logf("closed after %v", took.Round(time.Millisecond))
	})
}

// TestFaultSlowReader100MB writes 100 MB, waiting on each Write, to a peer
// that reads slowly (small reads, with pauses): the writer is held back by
// the watermarks, so the bytes buffered in the process and the heap stay
// within a few MiB, and every byte arrives in order. Under the race
// detector, where every byte copied costs a check, it writes 32 MB: still
// four times the heap bound, and twice the allocation bound (a write buffer
// allocated afresh at each drain took 175 MiB for 100 MB).
func TestFaultSlowReader100MB(t *testing.T) {
	total := raceScaled(100<<20, 32<<20)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		r := newReactor()
		l := listen(t, r)
		peer := make(chan error, 1)
		go func() {
			nc, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				peer <- err
				return
			}
			defer nc.Close()
			buf := make([]byte, 8<<10)
			want := make([]byte, len(buf)+251)
			for i := range want {
				want[i] = byte(i % 251)
			}
			var got int
			for got < total {
				n, err := nc.Read(buf)
				if !bytes.Equal(buf[:n], want[got%251:got%251+n]) {
					peer <- fmt.Errorf("bytes %d to %d differ from what was sent", got, got+n)
					return
				}
				got += n
				if err != nil {
					peer <- fmt.Errorf("after %d bytes: %w", got, err)
					return
				}
				if got%(8<<20) < n {
					time.Sleep(10 * time.Millisecond) // the slow part
				}
			}
			peer <- nil
		}()
		// Byte i of the stream is i%251; chunk k is the window of pattern
		// that starts with byte k*chunkSize, so that any lost, doubled or
		// reordered chunk shows.
		const chunkSize = 64 << 10
		pattern := make([]byte, chunkSize+251)
		for i := range pattern {
			pattern[i] = byte(i % 251)
		}
		runtime.GC()
		baseHeap := heapInUse()
		var allocStart, allocEnd runtime.MemStats
		var maxHeap uint64
		var maxHeld, stalls int
		var wrote *outcome[int]
		l.Serve(func(c *deferredtcp.Conn) {
			l.Close()
			sent := 0
			done := deferred.New[int]()
			wrote = record(done)
			runtime.ReadMemStats(&allocStart)
			var step func()
			step = func() {
				for sent < total {
					off := sent % 251
					d := c.Write(pattern[off : off+chunkSize])
					sent += chunkSize
					maxHeld = max(maxHeld, c.Buffered()+c.Queued())
					if !d.Called() {
						stalls++
						d.AddCallbacks(func(int) (int, error) {
							step()
							return 0, nil
						}, func(f *failure.Failure) (int, error) {
							done.Errback(f)
							return 0, nil
						})
						return
					}
				}
				runtime.ReadMemStats(&allocEnd)
				done.Callback(sent)
				after(c.Close(), stop(r))
			}
			step()
			var sample func()
			sample = func() {
				maxHeap = max(maxHeap, heapInUse())
				r.Schedule(5*time.Millisecond, sample)
			}
			sample()
		})
		start := time.Now()
		run(t, r)
		took := time.Since(start)
		require.NoError(t, <-peer)
		require.NoError(t, wrote.err)
		require.Equal(t, total, wrote.value)
		require.Positive(t, stalls, "the reader was slower than the writer")
		require.LessOrEqual(t, maxHeld, deferredtcp.DefaultHighWatermark+chunkSize, "bytes held by the connection")
		growth := int64(maxHeap) - int64(baseHeap)
		require.Less(t, growth, int64(8<<20), "heap growth while writing %d MB", total>>20)
		// The write buffer is reused from one drain to the next, not
		// allocated afresh (the portable path once allocated 175 MiB here).
		allocated := allocEnd.TotalAlloc - allocStart.TotalAlloc
		require.Less(t, allocated, uint64(16<<20), "bytes allocated while writing %d MB", total>>20)
		t.Logf("%d MB in %v (%d writes waited); held at most %d bytes; heap in use %d KiB at most over a %d KiB base; %d KiB allocated",
			total>>20, took.Round(time.Millisecond), stalls, maxHeld, growth>>10, baseHeap>>10, allocated>>10)
	})
}

// TestFaultSlowloris has a peer send one byte per millisecond, never a
// newline: once the queue holds more than ReadUntil's limit, the read fails
// with ErrLineTooLong and the connection closes with that reason. The queue
// never exceeds the limit plus the delimiter.
func TestFaultSlowloris(t *testing.T) {
	const limit = 100
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		r := newReactor()
		var line *outcome[[]byte]
		var serverLost, clientLost *outcome[struct{}]
		var maxQueued, sent int
		pair(t, r, func(server, client *deferredtcp.Conn) {
			line = record(server.ReadUntil([]byte("\n"), limit))
			serverLost = record(server.Lost())
			clientLost = record(client.Lost())
			client.OnData(func([]byte) {})
			var tick func()
			tick = func() {
				maxQueued = max(maxQueued, server.Queued())
				if client.Send([]byte{'x'}) != nil {
					return
				}
				sent++
				r.Schedule(time.Millisecond, tick)
			}
			tick()
			after(server.Lost(), func() { after(client.Close(), stop(r)) })
		})
		run(t, r)
		require.ErrorIs(t, line.err, deferredtcp.ErrLineTooLong)
		require.ErrorIs(t, serverLost.err, deferredtcp.ErrLineTooLong)
		require.True(t, clientLost.done)
		require.LessOrEqual(t, maxQueued, limit+1)
		require.GreaterOrEqual(t, sent, limit+1)
		t.Logf("cut off after %d bytes sent; %d queued at most", sent, maxQueued)
	})
}

// TestFaultConnectFlood floods a listener with a small backlog with
// connects while it does not accept: those beyond the backlog time out (the
// kernel drops their SYNs) or wait, and no error reaches the server. Once
// it serves, every client that got connected is echoed, and a fresh client
// after the flood is too: the server stayed up. (The portable backend
// leaves the backlog to the net package, which asks for somaxconn, so there
// the flood fits in the backlog and every client connects.)
func TestFaultConnectFlood(t *testing.T) {
	const backlog, flood = 8, 64
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		r := newReactor()
		l := listen(t, r, deferredtcp.WithBacklog(backlog))
		addr := l.Addr().String()
		served := 0
		var connected, timedOut, echoed, fresh int
		var otherErrs []error
		// echoOnce writes msg on c and reads it back.
		echoOnce := func(c *deferredtcp.Conn, msg []byte) *deferred.Deferred[[]byte] {
			c.Write(msg)
			return deferred.ThenDeferred(c.ReadFull(len(msg)), func(p []byte) *deferred.Deferred[[]byte] {
				c.Close()
				if !bytes.Equal(p, msg) {
					return deferred.Fail[[]byte](fmt.Errorf("echoed %q, want %q", p, msg))
				}
				return deferred.Succeed(p)
			})
		}
		r.CallWhenRunning(func() {
			var conns []*deferredtcp.Conn
			left := flood
			for range flood {
				deferredtcp.Connect(r, "tcp", addr, deferredtcp.WithTimeout(300*time.Millisecond)).AddBoth(
					func(c *deferredtcp.Conn, f *failure.Failure) (*deferredtcp.Conn, error) {
						switch {
						case f == nil:
							connected++
							conns = append(conns, c)
						case errors.Is(f, deferredtcp.ErrConnectTimeout):
							timedOut++
						default:
							otherErrs = append(otherErrs, f)
						}
						if left--; left > 0 {
							return nil, nil
						}
						// Every attempt has ended: serve now.
						l.Serve(func(c *deferredtcp.Conn) {
							served++
							echo(c)
						})
						pending := len(conns)
						for i, c := range conns {
							echoOnce(c, []byte(fmt.Sprintf("flooder %d", i))).AddBoth(func(_ []byte, f *failure.Failure) ([]byte, error) {
								if f == nil {
									echoed++
								} else {
									otherErrs = append(otherErrs, f)
								}
								if pending--; pending > 0 {
									return nil, nil
								}
								deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", addr), func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
									return echoOnce(c, []byte("after the flood"))
								}).AddBoth(func(_ []byte, f *failure.Failure) ([]byte, error) {
									if f == nil {
										fresh++
									} else {
										otherErrs = append(otherErrs, f)
									}
									r.Stop()
									return nil, nil
								})
								return nil, nil
							})
						}
						return nil, nil
					})
			}
		})
		start := time.Now()
		run(t, r)
		require.Empty(t, otherErrs)
		require.Equal(t, flood, connected+timedOut)
		require.GreaterOrEqual(t, connected, backlog, "the backlog's worth of clients got in")
		require.Equal(t, connected, echoed, "every connected client was served")
		require.Equal(t, 1, fresh, "the server serves after the flood")
		require.Equal(t, connected+1, served)
		t.Logf("%d connects: %d connected and echoed, %d timed out; %v", flood, connected, timedOut, time.Since(start).Round(time.Millisecond))
	})
}

// TestFaultStopWith1000Conns stops the reactor with 1 000 connections open
// (2 000 Conns: both ends are twist's), in various states: reading, with
// an idle timer, with bytes in flight. Every Lost fires, Run returns, and
// the descriptors and goroutines are released. Under the race detector,
// which looks for races rather than for what scale breaks, 300 connections
// (100 in each state) do, and set up in a third of the time.
func TestFaultStopWith1000Conns(t *testing.T) {
	conns := raceScaled(1000, 300)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		baseGoroutines := runtime.NumGoroutine()
		r := newReactor()
		l := listen(t, r, deferredtcp.WithBacklog(conns))
		var lost []*outcome[struct{}]
		var reads []*outcome[[]byte]
		accepted, dialled := 0, 0
		var peakFDs, peakGoroutines int
		var stopped time.Time
		ready := func() {
			if accepted < conns || dialled < conns {
				return
			}
			peakFDs, peakGoroutines = countFDs(t), runtime.NumGoroutine()
			stopped = time.Now()
			r.Stop()
		}
		l.Serve(func(c *deferredtcp.Conn) {
			accepted++
			lost = append(lost, record(c.Lost()))
			switch accepted % 3 {
			case 0:
				reads = append(reads, record(c.Read()))
			case 1:
				c.SetIdleTimeout(time.Minute)
				reads = append(reads, record(c.ReadUntil([]byte("\n"), 100)))
			case 2:
				c.Write([]byte("hello, unread"))
			}
			ready()
		})
		r.CallWhenRunning(func() {
			for range conns {
				deferred.Then(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) (struct{}, error) {
					dialled++
					lost = append(lost, record(c.Lost()))
					ready()
					return struct{}{}, nil
				}).AddErrback(func(f *failure.Failure) (struct{}, error) {
					t.Errorf("connect: %v", f)
					r.Stop()
					return struct{}{}, nil
				})
			}
		})
		start := time.Now()
		run(t, r)
		shutdown := time.Since(stopped)
		require.Len(t, lost, 2*conns)
		for i, o := range lost {
			require.True(t, o.done, "Lost %d fired", i)
		}
		for i, o := range reads {
			require.True(t, o.done, "read %d ended", i)
			require.Error(t, o.err, "read %d", i)
		}
		// Shutdown gives unflushed connections a 2 s grace before it aborts
		// them; every connection here closes at once, so nothing waits for it.
		require.Less(t, shutdown, 2*time.Second, "nothing waited for the flush grace")
		t.Logf("%d connections (%d fds, %d goroutines at the peak; %d before) set up in %v, shut down in %v",
			conns, peakFDs, peakGoroutines, baseGoroutines, stopped.Sub(start).Round(time.Millisecond), shutdown.Round(time.Millisecond))
	})
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// panicked reports whether a Failure in err's chain comes from a panic.
func panicked(err error) bool {
	for err != nil {
		var f *failure.Failure
		if !errors.As(err, &f) {
			return false
		}
		if f.Panicked() {
			return true
		}
		err = f.Unwrap()
	}
	return false
}

// TestFaultPanics makes user code panic where the loop calls it — a Serve
// handler, a Read callback, a canceller, an OnData and an OnEOF handler —
// and checks that the loop survives each, that the panic is reported as a
// Failure (in the chain, or as the reason the connection was lost, and in
// the log), and that the server goes on serving. The client's first line
// says how the server is to misbehave.
func TestFaultPanics(t *testing.T) {
	modes := []string{"read", "cancel", "ondata", "oneof"}
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		checkGoroutines(t)
		logs := &syncBuffer{}
		r := newReactor(reactor.WithLogger(slog.New(slog.NewTextHandler(io.MultiWriter(logs, t.Output()), nil))))
		l := listen(t, r)
		var readPanic, cancelPanic *outcome[[]byte]
		serverLost := map[string]*outcome[struct{}]{}
		// recovered tells the client that the server got over the panic,
		// and echoes what follows.
		recovered := func(c *deferredtcp.Conn) {
			c.Write([]byte("ok\n"))
			echo(c)
		}
		first := true
		l.Serve(func(c *deferredtcp.Conn) {
			if first {
				first = false
				panic("Serve handler panicked")
			}
			deferred.Then(c.ReadUntil([]byte("\n"), 100), func(mode []byte) (struct{}, error) {
				serverLost[string(mode)] = record(c.Lost())
				switch string(mode) {
				case "read":
					d := deferred.Then(c.Read(), func([]byte) ([]byte, error) {
						panic("Read callback panicked")
					})
					readPanic = record(d)
					after(d, func() { recovered(c) })
				case "cancel":
					d := deferred.ThenDeferred(c.Read(), func([]byte) *deferred.Deferred[[]byte] {
						return deferred.NewWithCanceller(func(*deferred.Deferred[[]byte]) {
							panic("canceller panicked")
						})
					})
					cancelPanic = record(d)
					after(d, func() { recovered(c) })
					r.Schedule(5*time.Millisecond, d.Cancel)
				case "ondata":
					c.OnData(func([]byte) { panic("OnData handler panicked") })
				case "oneof":
					c.OnData(func([]byte) {})
					c.OnEOF(func() { panic("OnEOF handler panicked") })
				}
				return struct{}{}, nil
			})
		})
		clientLost := map[string]*outcome[struct{}]{}
		echoed := map[string]*outcome[[]byte]{}
		// connect runs then with a client connected in mode; a connect
		// that fails (the server may reset it before it completes) counts
		// as the connection lost, and runs lost.
		connect := func(mode string, then func(c *deferredtcp.Conn), lost func()) {
			deferredtcp.Connect(r, "tcp", l.Addr().String()).AddBoth(func(c *deferredtcp.Conn, f *failure.Failure) (*deferredtcp.Conn, error) {
				if f != nil {
					clientLost[mode] = &outcome[struct{}]{done: true, err: f}
					lost()
					return nil, nil
				}
				clientLost[mode] = record(c.Lost())
				after(c.Lost(), lost)
				then(c)
				return nil, nil
			})
		}
		left := len(modes) + 1
		done := func() {
			if left--; left == 0 {
				l.Close()
				r.Stop()
			}
		}
		r.CallWhenRunning(func() {
			connect("serve", func(c *deferredtcp.Conn) { c.OnData(func([]byte) {}) }, func() {
				// The others connect once the first is dealt with.
				done()
				for _, mode := range modes {
					connect(mode, func(c *deferredtcp.Conn) {
						c.Write([]byte(mode + "\nx"))
						switch mode {
						case "read", "cancel":
							d := deferred.ThenDeferred(c.ReadUntil([]byte("ok\n"), 10), func([]byte) *deferred.Deferred[[]byte] {
								c.Write([]byte("again"))
								return c.ReadFull(5)
							})
							echoed[mode] = record(d)
							after(d, func() { c.Close() })
						case "ondata":
							c.OnData(func([]byte) {})
						case "oneof":
							c.OnData(func([]byte) {})
							c.CloseWrite()
						}
					}, done)
				}
			})
		})
		run(t, r)
		require.True(t, isReset(clientLost["serve"].err), "a panicking Serve handler aborts: %v", clientLost["serve"].err)
		require.True(t, panicked(readPanic.err), "Read callback: %v", readPanic.err)
		require.True(t, panicked(cancelPanic.err), "canceller: %v", cancelPanic.err)
		for _, mode := range []string{"read", "cancel"} {
			require.NoError(t, echoed[mode].err, mode)
			require.Equal(t, "again", string(echoed[mode].value), "%s: the connection works after the panic", mode)
			require.NoError(t, clientLost[mode].err, mode)
		}
		for _, mode := range []string{"ondata", "oneof"} {
			require.True(t, panicked(serverLost[mode].err), "%s: Lost reports the panic: %v", mode, serverLost[mode].err)
			require.True(t, isReset(clientLost[mode].err), "%s: the connection is aborted: %v", mode, clientLost[mode].err)
		}
		for _, msg := range []string{"Serve handler panicked", "OnData handler panicked", "OnEOF handler panicked"} {
			require.Contains(t, logs.String(), msg)
		}
	})
}

// TestFaultStopWithStuckWrites stops while a connection has 16 MiB
// buffered for a peer that does not read. Shutdown lets it flush for two
// seconds, then aborts it (on a test loop, whose clock runs during Stop as a
// reactor's does; the peer, stuck writing too, does not read); and when the
// reactor's own shutdown timeout is shorter than that, the connection is
// still aborted before Run returns, so that its Lost fires and its
// descriptor is closed.
func TestFaultStopWithStuckWrites(t *testing.T) {
	t.Run("grace", func(t *testing.T) {
		loop := newTestLoop(t)
		server, client := loopPair(t, loop)
		serverLost, clientLost := server.Lost(), client.Lost()
		// 2 MiB each: an in-memory connection holds 64 KiB in flight.
		server.Send(make([]byte, 2<<20))
		client.Send(make([]byte, 2<<20))
		loop.Flush()
		require.Greater(t, server.Buffered(), 1<<20, "the writes are stuck")
		stopped := loop.Now()
		loop.Stop()
		for _, d := range []*deferred.Deferred[struct{}]{serverLost, clientLost} {
			_, err := fired(t, d)
			require.ErrorIs(t, err, deferredtcp.ErrAborted)
		}
		require.Equal(t, 2*time.Second, loop.Now().Sub(stopped))
	})
	t.Run("shutdown-timeout", func(t *testing.T) {
		const timeout = 100 * time.Millisecond
		for _, b := range []reactor.Backend{reactor.Epoll, reactor.Portable} {
			t.Run(b.String(), func(t *testing.T) {
				checkFDs(t)
				checkGoroutines(t)
				deferredtest.NoUnhandled(t)
				r := reactor.New(reactor.WithBackend(b), reactor.WithShutdownTimeout(timeout),
					reactor.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil))))
				l := listen(t, r)
				// The peer connects, and never reads.
				peer, err := net.Dial("tcp", l.Addr().String())
				require.NoError(t, err)
				defer peer.Close()
				var serverLost *outcome[struct{}]
				var buffered int
				var stopped time.Time
				l.Serve(func(c *deferredtcp.Conn) {
					serverLost = record(c.Lost())
					c.Send(make([]byte, 16<<20))
					buffered = c.Buffered()
					stopped = time.Now()
					r.Stop()
				})
				run(t, r)
				took := time.Since(stopped)
				require.Greater(t, buffered, 1<<20, "the writes are stuck")
				require.True(t, serverLost.done, "Lost fired before Run returned")
				require.ErrorIs(t, serverLost.err, deferredtcp.ErrAborted)
				require.GreaterOrEqual(t, took, timeout)
				require.Less(t, took, timeout+time.Second)
				t.Logf("%d bytes stuck; shut down in %v", buffered, took.Round(time.Millisecond))
			})
		}
	})
}

// TestFaultPartialLineThenFault leaves half a line queued for a pending
// ReadUntil, then breaks the connection: by the idle timeout, or by the
// peer's reset (on a test loop). The read fails with that reason, as Lost
// does, not with io.ErrUnexpectedEOF, which would hide why the line never
// came (that is for a peer that closed cleanly mid-line).
func TestFaultPartialLineThenFault(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(server, client *deferredtcp.Conn)
		is    func(error) bool
	}{
		{"idle-timeout", func(server, client *deferredtcp.Conn) {
			server.SetIdleTimeout(30 * time.Millisecond)
			client.OnEOF(func() { client.Close() }) // the timeout closes cleanly
		}, func(err error) bool { return errors.Is(err, deferredtcp.ErrIdleTimeout) }},
		{"peer-reset", func(server, client *deferredtcp.Conn) { client.Abort() }, isReset},
		{"peer-close", func(server, client *deferredtcp.Conn) { client.Close() },
			func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loop := newTestLoop(t)
			server, client := loopPair(t, loop)
			client.Write([]byte("half a li"))
			d := server.ReadUntil([]byte("\n"), 100)
			loop.Flush()
			require.False(t, d.Called())
			tc.fault(server, client)
			loop.Advance(time.Second)
			_, err := fired(t, d)
			require.True(t, tc.is(err), "the read failed with %v", err)
		})
	}
}
