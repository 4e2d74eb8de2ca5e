package deferredtcp_test

import (
	"errors"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// TLS handshakes under attack and against dead peers: a peer that connects
// and never speaks costs little while it waits, and is dropped at the
// handshake deadline, freeing its descriptor and its place under
// WithMaxConnections; a client's connect timeout covers the handshake.
// Those whose subject is the kernel's resources (descriptors, the backlog)
// run in real time, with short deadlines; the connect timeout's is time, so
// it runs on a test loop.

// silentPeers connects n TCP clients to addr that never send a byte, on
// r; ready runs on r's loop once all have connected (or failed to: their
// errors are passed). Each closes once the server drops it.
func silentPeers(r *reactor.Reactor, addr string, n int, ready func(errs []error)) {
	left := n
	var errs []error
	settled := func() {
		if left--; left == 0 {
			ready(errs)
		}
	}
	for range n {
		deferredtcp.Connect(r, "tcp", addr).AddBoth(func(c *deferredtcp.Conn, f *failure.Failure) (*deferredtcp.Conn, error) {
			if f != nil {
				errs = append(errs, f)
			} else {
				c.OnData(func([]byte) {})
				c.OnEOF(func() { c.Close() })
			}
			settled()
			return nil, nil
		})
	}
}

// peerReactor runs an epoll reactor on a goroutine of its own, for peers
// that must not weigh on the reactor under test; it is stopped when the
// test ends.
func peerReactor(t testing.TB) *reactor.Reactor {
	pr := reactor.New(reactor.WithBackend(reactor.Epoll))
	running := make(chan struct{})
	done := make(chan error, 1)
	pr.CallWhenRunning(func() { close(running) })
	go func() { done <- pr.Run() }()
	<-running
	t.Cleanup(func() {
		pr.Stop()
		require.NoError(t, <-done)
	})
	return pr
}

// tlsHandshake makes a TLS client connection to addr on r; done gets its
// outcome on the loop.
func tlsHandshake(t testing.TB, r *reactor.Reactor, addr string, done func(tc *deferredtcp.Conn, err error)) {
	_, cliCfg := tlsConfigs(t)
	deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", addr), func(c *deferredtcp.Conn) *deferred.Deferred[*deferredtcp.Conn] {
		return deferredtcp.StartTLS(c, cliCfg, false)
	}).AddBoth(func(tc *deferredtcp.Conn, f *failure.Failure) (*deferredtcp.Conn, error) {
		if f != nil {
			done(nil, f)
		} else {
			done(tc, nil)
		}
		return nil, nil
	})
}

// liveHeap returns the live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// silentTLSServer serves TLS on l with a handshake deadline, counting
// the connections it accepts and the handshakes that time out; accepted
// runs after each accept.
type silentTLSServer struct {
	accepted, timeouts int
	timedOut           func() // if set, runs after each handshake timeout
}

func (s *silentTLSServer) serve(t testing.TB, l *deferredtcp.Listener, deadline time.Duration, accepted func()) {
	srvCfg, _ := tlsConfigs(t)
	l.Serve(func(c *deferredtcp.Conn) {
		s.accepted++
		deferredtcp.StartTLS(c, srvCfg, true, deferredtcp.WithHandshakeTimeout(deadline)).AddBoth(func(tc *deferredtcp.Conn, f *failure.Failure) (*deferredtcp.Conn, error) {
			switch {
			case f == nil:
				echo(tc)
			case errors.Is(f, deferredtcp.ErrHandshakeTimeout):
				s.timeouts++
				if s.timedOut != nil {
					s.timedOut()
				}
			}
			return nil, nil
		})
		accepted()
	})
}

// TestTLSSilentClientsCost connects 1000 clients that never send a
// ClientHello to a TLS server: while they wait for the handshake deadline,
// each costs a few KiB of heap (both ends together) and, on epoll, no
// goroutine, and a real client completes its handshake. The peers run on
// an epoll reactor of their own, so that the goroutines counted beyond
// theirs are the server's.
func TestTLSSilentClientsCost(t *testing.T) {
	const peers = 1000
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r, deferredtcp.WithBacklog(4096))
		addr := l.Addr().String()
		pr := peerReactor(t)
		fds, goroutines, heap := countFDs(t), runtime.NumGoroutine(), liveHeap()
		var floodFDs, floodGoroutines int
		var perPeer uint64
		var handshake error
		var peerErrs []error
		s := &silentTLSServer{}
		s.serve(t, l, time.Minute, func() {
			if s.accepted != peers {
				return
			}
			floodFDs, floodGoroutines = countFDs(t), runtime.NumGoroutine()
			h := liveHeap()
			perPeer = (h - min(heap, h)) / peers
			tlsHandshake(t, r, addr, func(tc *deferredtcp.Conn, err error) {
				handshake = err
				l.Close()
				r.Stop()
			})
		})
		pr.CallFromGoroutine(func() {
			silentPeers(pr, addr, peers, func(errs []error) {
				r.CallFromGoroutine(func() { peerErrs = errs })
			})
		})
		run(t, r)
		t.Logf("%d silent peers: %d fds, %d goroutines, %d B of heap per peer (both ends); baseline %d fds, %d goroutines",
			peers, floodFDs, floodGoroutines, perPeer, fds, goroutines)
		require.Equal(t, peers+1, s.accepted, "peers that failed to connect: %v", peerErrs)
		assert.NoError(t, handshake, "a real client's handshake while the peers wait")
		assert.GreaterOrEqual(t, floodFDs, fds+2*peers, "every peer connected and was accepted")
		if r.Backend() == reactor.Epoll {
			assert.LessOrEqual(t, floodGoroutines, goroutines, "no goroutine per silent peer")
		}
		assert.Less(t, perPeer, uint64(4<<10), "heap per silent peer")
	})
}

// TestTLSSilentClientsDropped connects 2000 clients (500 under the race
// detector, where connecting them takes most of the test's time) that never
// send a ClientHello to a TLS server with a 300 ms handshake deadline (a real
// handshake takes about 15 ms under the race detector): every one is dropped
// at the deadline, then every descriptor and goroutine they took is released
// (the peers close their ends, and portable goroutines end, soon after: the
// test waits up to 2 s for that), and a real client completes its handshake.
func TestTLSSilentClientsDropped(t *testing.T) {
	peers := raceScaled(2000, 500)
	const deadline = 300 * time.Millisecond
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r, deferredtcp.WithBacklog(4096))
		addr := l.Addr().String()
		pr := peerReactor(t)
		fds, goroutines := countFDs(t), runtime.NumGoroutine()
		if r.Backend() == reactor.Portable {
			goroutines++ // the listener's accepting goroutine, which starts once the loop runs
		}
		var lateFDs, lateGoroutines int
		var handshake error
		var peerErrs []error
		s := &silentTLSServer{}
		handshakeOnceReleased := func() {
			giveUp := r.Now().Add(2 * time.Second)
			var poll func()
			poll = func() {
				lateFDs, lateGoroutines = countFDs(t), runtime.NumGoroutine()
				if (lateFDs > fds || lateGoroutines > goroutines) && r.Now().Before(giveUp) {
					r.Schedule(10*time.Millisecond, poll)
					return
				}
				tlsHandshake(t, r, addr, func(tc *deferredtcp.Conn, err error) {
					handshake = err
					l.Close()
					r.Stop()
				})
			}
			poll()
		}
		s.timedOut = func() {
			if s.timeouts == peers {
				handshakeOnceReleased()
			}
		}
		s.serve(t, l, deadline, func() {})
		pr.CallFromGoroutine(func() {
			silentPeers(pr, addr, peers, func(errs []error) {
				r.CallFromGoroutine(func() { peerErrs = errs })
			})
		})
		run(t, r)
		t.Logf("once %d silent peers were dropped: %d fds, %d goroutines; baseline %d, %d", peers, lateFDs, lateGoroutines, fds, goroutines)
		require.Equal(t, peers+1, s.accepted, "peers that failed to connect: %v", peerErrs)
		assert.Equal(t, peers, s.timeouts, "every silent peer dropped at the deadline")
		assert.LessOrEqual(t, lateFDs, fds, "descriptors of the silent peers released")
		assert.LessOrEqual(t, lateGoroutines, goroutines, "goroutines of the silent peers released")
		assert.NoError(t, handshake, "a real client's handshake once they are gone")
	})
}

// TestTLSSilentPeersFreeMaxConnections fills WithMaxConnections(50) with
// peers that never speak: a real client, waiting in the kernel's backlog
// behind them, is served within the handshake deadline (300 ms: a real
// handshake takes about 15 ms under the race detector) plus a second.
func TestTLSSilentPeersFreeMaxConnections(t *testing.T) {
	const limit = 50
	const deadline = 300 * time.Millisecond
	srvCfg, _ := tlsConfigs(t)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := record(deferredtcp.ListenTLS(r, "127.0.0.1:0", srvCfg, &countingFactory{},
			deferredtcp.WithMaxConnections(limit), deferredtcp.WithHandshakeTimeout(deadline)))
		require.NoError(t, l.err)
		addr := l.value.Addr().String()
		var took time.Duration
		var err error
		r.CallWhenRunning(func() {
			silentPeers(r, addr, limit, func(errs []error) {
				assert.Empty(t, errs)
				start := r.Now()
				tlsHandshake(t, r, addr, func(tc *deferredtcp.Conn, e error) {
					took, err = r.Now().Sub(start), e
					if tc != nil {
						tc.Close()
					}
					l.value.Close()
					r.Stop()
				})
			})
		})
		run(t, r)
		require.NoError(t, err)
		t.Logf("served after %v", took)
		assert.Less(t, took, deadline+time.Second)
	})
}

// retryingClient is a ReconnectingClientFactory that records its attempts
// on loop's clock and stops trying at the second.
type retryingClient struct {
	deferredtcp.ReconnectingClientFactory
	loop     deferredtcp.Loop
	started  []time.Time
	failedAt []time.Time
	failed   []*failure.Failure
}

func (f *retryingClient) BuildProtocol(net.Addr) deferredtcp.Protocol {
	return &deferredtcp.BaseProtocol{}
}

func (f *retryingClient) StartedConnecting(c *deferredtcp.Connector) {
	f.started = append(f.started, f.loop.Now())
	f.ReconnectingClientFactory.StartedConnecting(c)
	if len(f.started) == 2 {
		f.StopTrying() // fails this attempt with ErrConnectingStopped
	}
}

func (f *retryingClient) ClientConnectionFailed(c *deferredtcp.Connector, reason *failure.Failure) {
	f.failedAt = append(f.failedAt, f.loop.Now())
	f.failed = append(f.failed, reason)
	f.ReconnectingClientFactory.ClientConnectionFailed(c, reason)
}

// TestTLSConnectTimeoutCoversHandshake, on a test loop, connects with
// ConnectTLS and a 1 s timeout to a server that accepts and never answers:
// the TCP connection is made at once, and the attempt fails with a timeout
// exactly 1 s after it started, not before; the ReconnectingClientFactory
// tries again after its delay. With a shorter handshake deadline, the
// handshake's own timeout fails it, at that deadline.
func TestTLSConnectTimeoutCoversHandshake(t *testing.T) {
	_, cliCfg := tlsConfigs(t)
	tests := []struct {
		name    string
		opts    []deferredtcp.Option
		after   time.Duration
		wantErr error
	}{
		{"connect timeout", []deferredtcp.Option{deferredtcp.WithTimeout(time.Second)}, time.Second, deferredtcp.ErrConnectTimeout},
		{"handshake timeout", []deferredtcp.Option{deferredtcp.WithTimeout(time.Minute), deferredtcp.WithHandshakeTimeout(300 * time.Millisecond)}, 300 * time.Millisecond, deferredtcp.ErrHandshakeTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loop := newTestLoop(t)
			l, err := fired(t, deferredtcp.Listen(loop, "tcp", "server:443"))
			require.NoError(t, err)
			accepted := 0
			l.Serve(func(*deferredtcp.Conn) { accepted++ }) // holds every connection, silent
			f := &retryingClient{loop: loop}
			f.InitialDelay, f.Factor, f.Jitter = 10*time.Millisecond, 1, -1
			deferredtcp.ConnectTLS(loop, l.Addr().String(), cliCfg, f, tt.opts...)
			loop.Advance(tt.after - time.Nanosecond)
			require.Equal(t, 1, accepted, "the TCP connection is made")
			require.Empty(t, f.failed, "the attempt fails no earlier than its timeout")
			loop.Advance(time.Nanosecond)
			require.Len(t, f.failed, 1, "the attempt fails at its timeout")
			assert.Equal(t, tt.after, f.failedAt[0].Sub(f.started[0]))
			assert.ErrorIs(t, f.failed[0], tt.wantErr)
			var ne net.Error
			require.ErrorAs(t, f.failed[0], &ne)
			assert.True(t, ne.Timeout())
			loop.Advance(10 * time.Millisecond)
			require.Len(t, f.started, 2, "a second attempt after the retry delay")
			assert.Equal(t, 10*time.Millisecond, f.started[1].Sub(f.failedAt[0]))
			require.Len(t, f.failed, 2)
			assert.ErrorIs(t, f.failed[1], deferredtcp.ErrConnectingStopped)
		})
	}
}
