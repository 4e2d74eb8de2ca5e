package deferredtcp_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// patterns returns n streams of size bytes that differ from one stream to
// another and along the stream, so that bytes overwritten by a later read
// show: byte i of stream seed is seed*131 + i*7 + i>>11 (mod 256). Within
// a block of 2048 bytes, that is the same run of j*7 plus a constant, so
// the 256 possible blocks are made once and copied: under the race
// detector, writing 12 MiB byte by byte takes longer than sending it.
func patterns(n, size int) [][]byte {
	const block = 2048
	blocks := make([][block]byte, 256)
	for c := range blocks {
		for j := range blocks[c] {
			blocks[c][j] = byte(c + j*7)
		}
	}
	ps := make([][]byte, n)
	for seed := range ps {
		p := make([]byte, size)
		for k := 0; k*block < size; k++ {
			copy(p[k*block:], blocks[byte(seed*131+k)][:])
		}
		ps[seed] = p
	}
	return ps
}

// readStreams connects a client per stream to a server that writes each a
// stream and closes, and reads them all at once with Read loops that call
// got with each chunk; done runs once all reached EOF.
func readStreams(t *testing.T, r *reactor.Reactor, streams [][]byte, got func(i int, p []byte), done func()) {
	t.Helper()
	l := listen(t, r)
	seed := 0
	l.Serve(func(c *deferredtcp.Conn) {
		c.Write(streams[seed])
		seed++
		c.Close()
	})
	clients := len(streams)
	left := clients
	for i := range clients {
		deferred.Then(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) (struct{}, error) {
			var next func()
			next = func() {
				c.Read().AddCallbacks(func(p []byte) ([]byte, error) {
					got(i, p)
					next()
					return nil, nil
				}, func(f *failure.Failure) ([]byte, error) {
					if !errors.Is(f, io.EOF) {
						t.Error(f)
					}
					if left--; left == 0 {
						done()
					}
					return nil, nil
				})
			}
			next()
			return struct{}{}, nil
		})
	}
}

// checkStreams checks that the clients' streams hold, between them, the
// servers' (which one a client got depends on the order of the accepts).
func checkStreams(t *testing.T, streams, sent [][]byte) {
	t.Helper()
	seen := map[int]bool{}
	for i, s := range streams {
		found := false
		for seed := range sent {
			if !seen[seed] && bytes.Equal(s, sent[seed]) {
				seen[seed], found = true, true
				break
			}
		}
		require.True(t, found, "client %d read bytes that no server sent (%d bytes)", i, len(s))
	}
}

// TestReadBuffersHandedOverStayIntact: the chunks Read fires with belong
// to the caller, even when they are the connection's read buffer handed
// over: later reads, on this connection or another of the loop, never
// write into them.
func TestReadBuffersHandedOverStayIntact(t *testing.T) {
	const clients, size = 3, 4 << 20
	sent := patterns(clients, size)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		kept := make([][][]byte, clients)
		readStreams(t, r, sent, func(i int, p []byte) { kept[i] = append(kept[i], p) }, stop(r))
		run(t, r)
		streams := make([][]byte, clients)
		large := 0
		for i, chunks := range kept {
			streams[i] = bytes.Join(chunks, nil)
			for _, p := range chunks {
				if len(p) >= deferredtcp.DefaultReadBufferSize/2 {
					large++
				}
			}
		}
		require.Positive(t, large, "no chunk was large enough to be handed over")
		checkStreams(t, streams, sent)
	})
}

// TestRecycledReadBuffers: a reader that recycles every chunk once copied
// gets its bytes intact, though later reads reuse the buffers.
func TestRecycledReadBuffers(t *testing.T) {
	const clients, size = 3, 4 << 20
	sent := patterns(clients, size)
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		streams := make([][]byte, clients)
		for i := range streams {
			streams[i] = make([]byte, 0, size)
		}
		readStreams(t, r, sent, func(i int, p []byte) {
			streams[i] = append(streams[i], p...)
			deferredtcp.Recycle(p)
		}, stop(r))
		run(t, r)
		checkStreams(t, streams, sent)
	})
}

// TestRecycledReadsAllocateNoBuffer: a chain that reads 16 KiB messages,
// recycling each chunk, and acknowledges each message, allocates far less
// than a message per message; without Recycle it allocates about one.
func TestRecycledReadsAllocateNoBuffer(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		for _, recycle := range []bool{true, false} {
			perMsg := allocsPer16KiBMessage(t, newReactor(), recycle)
			t.Logf("recycle=%v: %.0f bytes allocated per 16 KiB message", recycle, perMsg)
			if recycle {
				require.Less(t, perMsg, 4096.0)
			} else {
				require.Greater(t, perMsg, 16384.0)
			}
		}
	})
}

func allocsPer16KiBMessage(t *testing.T, r *reactor.Reactor, recycle bool) float64 {
	const msgSize, warmup, msgs = 16 << 10, 50, 400
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer nl.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		nc, err := nl.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		msg, ack := make([]byte, msgSize), make([]byte, 1)
		for range warmup + msgs {
			if _, err := nc.Write(msg); err != nil {
				return
			}
			if _, err := io.ReadFull(nc, ack); err != nil {
				return
			}
		}
	})
	var before, after runtime.MemStats
	count, got := 0, 0
	ack := []byte{'k'}
	deferred.Then(deferredtcp.Connect(r, "tcp", nl.Addr().String()), func(c *deferredtcp.Conn) (struct{}, error) {
		var next func([]byte) ([]byte, error)
		next = func(p []byte) ([]byte, error) {
			if got += len(p); got == msgSize {
				got = 0
				c.Write(ack)
				if count++; count == warmup {
					runtime.ReadMemStats(&before)
				}
				if count == warmup+msgs {
					runtime.ReadMemStats(&after)
					c.Close()
					r.Stop()
					return nil, nil
				}
			}
			if recycle {
				deferredtcp.Recycle(p)
			}
			c.Read().AddCallback(next)
			return nil, nil
		}
		c.Read().AddCallback(next)
		return struct{}{}, nil
	})
	run(t, r)
	require.Equal(t, warmup+msgs, count)
	return float64(after.TotalAlloc-before.TotalAlloc) / msgs
}

// TestRecycledLinesStayIntact: a ReadUntil loop over 100 000 short lines
// that recycles most lines once checked and keeps every tenth gets each
// line right, and the kept ones stay intact although later lines are copied
// into the recycled buffers.
func TestRecycledLinesStayIntact(t *testing.T) {
	lines := 100_000
	if raceEnabled {
		lines = 20_000
	}
	r := reactor.New()
	// 80-byte lines: their copies take recycled 128-byte buffers.
	want := func(i int) string {
		return fmt.Sprintf("line %06d of a chain that reads short lines and recycles most of them...", i)
	}
	var kept [][]byte
	got, reused := 0, 0
	recycled := map[*byte]bool{}
	r.CallWhenRunning(func() {
		server, client := deferredtcp.Pipe(r)
		var next func()
		next = func() {
			server.ReadUntil([]byte("\n"), 0).AddCallbacks(func(p []byte) ([]byte, error) {
				if string(p) != want(got) {
					t.Errorf("line %d: %q", got, p)
				}
				if recycled[unsafe.SliceData(p)] {
					reused++
				}
				if got%10 == 0 {
					kept = append(kept, p)
				} else {
					recycled[unsafe.SliceData(p)] = true
					deferredtcp.Recycle(p)
				}
				got++
				next()
				return nil, nil
			}, func(f *failure.Failure) ([]byte, error) {
				if !errors.Is(f, io.EOF) {
					t.Error(f)
				}
				r.Stop()
				return nil, nil
			})
		}
		next()
		var out []byte
		for i := range lines {
			out = append(append(out, want(i)...), '\n')
		}
		client.Write(out)
		client.Close()
	})
	run(t, r)
	require.Equal(t, lines, got)
	t.Logf("%d of %d lines came in a recycled buffer", reused, lines)
	require.Greater(t, reused, lines/2, "few lines took the buffers recycled before them")
	for k, p := range kept {
		require.Equal(t, want(10*k), string(p), "kept line %d was overwritten", 10*k)
	}
}
