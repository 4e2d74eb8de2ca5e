package deferredtcp_test

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

func TestUDPEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		srv := record(deferredtcp.ListenUDP(r, "127.0.0.1:0"))
		cli := record(deferredtcp.ListenUDP(r, "127.0.0.1:0"))
		require.NoError(t, srv.err)
		require.NoError(t, cli.err)
		server, client := srv.value, cli.value
		// The server echoes with OnPacket (Twisted's datagramReceived).
		server.OnPacket(func(p []byte, from *net.UDPAddr) {
			assert.NoError(t, server.WriteTo(append([]byte("echo "), p...), from))
		})
		var got []string
		var from []net.Addr
		r.CallWhenRunning(func() {
			deferred.Inline(func(co *deferred.Co) (struct{}, error) {
				for i := range 3 {
					msg := fmt.Sprint("ping ", i)
					assert.NoError(t, client.WriteTo([]byte(msg), server.LocalAddr()))
					p, err := deferred.Await(co, client.ReadFrom())
					if !assert.NoError(t, err) {
						break
					}
					got = append(got, string(p.Data))
					from = append(from, p.Addr)
				}
				deferred.Await(co, server.Close())
				pending := record(client.ReadFrom())
				deferred.Await(co, client.Close())
				assert.ErrorIs(t, pending.err, deferredtcp.ErrClosed)
				assert.ErrorIs(t, client.WriteTo([]byte("x"), server.LocalAddr()), deferredtcp.ErrClosed)
				r.Stop()
				return struct{}{}, nil
			})
		})
		run(t, r)
		assert.Equal(t, []string{"echo ping 0", "echo ping 1", "echo ping 2"}, got)
		for _, a := range from {
			assert.Equal(t, server.LocalAddr().String(), a.String())
		}
	})
}

func TestUDPClosedAtShutdown(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		u := record(deferredtcp.ListenUDP(r, "127.0.0.1:0"))
		require.NoError(t, u.err)
		pending := record(u.value.ReadFrom())
		r.CallWhenRunning(func() { r.Stop() })
		run(t, r)
		assert.ErrorIs(t, pending.err, deferredtcp.ErrClosed)
		bad := record(deferredtcp.ListenUDP(reactor.New(), "localhost:0"))
		assert.Error(t, bad.err)
	})
}

// udpFloodFor is how long TestUDPFlood floods once the queue is full (its
// first datagram dropped; how soon depends on how fast the sender gets to
// send, a tenth of a second or so). Before the queue was bounded, 8 KiB
// datagrams into a 1 ms handler queued 40 to 150 MB of them per second
// (under the race detector, on a loaded machine), and nothing was ever
// dropped: the test then floods for 2 s before it gives up waiting for the
// queue to fill, and half a second more, far past its heap bound. With the
// bound, half a second tells a full queue that stays at 8 MiB, and leaves
// a quarter of a second of flood after the timer. A longer flood shows the
// same steady state: run
//
//	go test -race -run TestUDPFlood ./deferredtcp/ -args -udpflood=3s
var udpFloodFor = flag.Duration("udpflood", 500*time.Millisecond,
	"how long TestUDPFlood floods once its queue is full")

// TestUDPFlood floods a UDPConn whose handler takes 1 ms per datagram with
// 8 KiB datagrams: the live heap grows by less than UDPQueueSize of them
// take plus 4 MiB, the datagrams beyond the queue are dropped, counted and
// logged once per 10 s, a timer due halfway into the flood (with the queue
// full) fires within 100 ms of its time, and Stop ends Run within a
// second, flood or not.
func TestUDPFlood(t *testing.T) {
	const size = 8 << 10
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		var logs syncBuffer
		r := newReactor(reactor.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		srv := record(deferredtcp.ListenUDP(r, "127.0.0.1:0"))
		require.NoError(t, srv.err)
		server := srv.value
		handled := 0
		server.OnPacket(func(p []byte, _ *net.UDPAddr) {
			handled++
			time.Sleep(time.Millisecond) // the handler's work
		})

		baseline := liveHeap()
		var peak atomic.Uint64
		quit := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { // the flood
			c, err := net.DialUDP("udp", nil, server.LocalAddr().(*net.UDPAddr))
			if !assert.NoError(t, err) {
				return
			}
			defer c.Close()
			p := make([]byte, size)
			for {
				select {
				case <-quit:
					return
				default:
					c.Write(p) // a refused datagram is no concern here
				}
			}
		})
		sample := func(h uint64) {
			if h > baseline && h-baseline > peak.Load() {
				peak.Store(h - baseline)
			}
		}
		wg.Go(func() { // the live heap after each collection, every 50 ms
			live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-quit:
					return
				case <-tick.C:
					metrics.Read(live)
					sample(live[0].Value.Uint64())
				}
			}
		})
		t.Cleanup(wg.Wait)
		t.Cleanup(func() { close(quit) })

		var late time.Duration
		fired := false
		var stopped time.Time
		flood := func() {
			due := r.Now().Add(*udpFloodFor / 2)
			r.Schedule(*udpFloodFor/2, func() { fired, late = true, r.Now().Sub(due) })
			r.Schedule(*udpFloodFor, func() {
				sample(liveHeap()) // and once collected on purpose
				stopped = time.Now()
				r.Stop()
			})
		}
		r.CallWhenRunning(func() {
			giveUp := r.Now().Add(2 * time.Second)
			var full func()
			full = func() {
				if server.Dropped() == 0 && r.Now().Before(giveUp) {
					r.Schedule(10*time.Millisecond, full)
					return
				}
				flood()
			}
			full()
		})
		run(t, r)
		stopTook := time.Since(stopped)

		t.Logf("handled %d, dropped %d, live heap peak +%d KiB, timer %v late, Stop took %v",
			handled, server.Dropped(), peak.Load()>>10, late, stopTook)
		require.Less(t, peak.Load(), uint64(deferredtcp.UDPQueueSize*size+4<<20), "live heap: the queue's datagrams, and 4 MiB")
		require.NotZero(t, server.Dropped(), "datagrams beyond the queue are counted")
		logged := strings.Count(logs.String(), "UDP datagrams dropped")
		require.GreaterOrEqual(t, logged, 1, "the drops are logged")
		require.LessOrEqual(t, logged, 1+int(*udpFloodFor/(10*time.Second)), "logged once per 10 s:\n%s", logs.String())
		require.True(t, fired)
		require.Less(t, late, 100*time.Millisecond, "the timer's lateness")
		require.Less(t, stopTook, time.Second, "Stop to the end of Run")
		require.NotZero(t, handled)
	})
}
