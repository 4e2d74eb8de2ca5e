package deferredtcp_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// chainLoopLines is how many times the loops below go round: a loop that
// added stack frames per step would need hundreds of megabytes of stack
// (about a kilobyte and a few frames per step). Under the race detector,
// which makes each step about ten times slower, a tenth as many steps still
// overshoot the probe's bounds (400 frames, 1 MiB) many times over: the
// property is that the stack stays flat whatever the length, and a length
// of 20 000 tells a flat stack from a growing one as surely as 200 000.
var chainLoopLines = raceScaled(200_000, 20_000)

// stackProbe records how deep the stack gets, in frames, and how far the
// stacks in use grow, sampled every few steps of a loop.
type stackProbe struct {
	pcs       [2048]uintptr
	frames    int
	stack0    uint64
	stackPeak uint64
	steps     int
}

func newStackProbe() *stackProbe {
	p := &stackProbe{}
	p.stack0 = stackInuse()
	p.stackPeak = p.stack0
	return p
}

func stackInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.StackInuse
}

func (p *stackProbe) step() {
	p.steps++
	if p.steps%61 == 0 {
		p.frames = max(p.frames, runtime.Callers(0, p.pcs[:]))
	}
	if p.steps%1024 == 0 {
		p.stackPeak = max(p.stackPeak, stackInuse())
	}
}

// check asserts that the loop ran in bounded stack: a few dozen frames per
// turn of the loop, and no more than 1 MiB of stack added.
func (p *stackProbe) check(t *testing.T) {
	t.Helper()
	t.Logf("deepest sampled stack: %d frames; stacks in use grew by %d KiB", p.frames, (p.stackPeak-p.stack0)>>10)
	require.Less(t, p.frames, 400, "the loop's stack grows with its length")
	require.Less(t, p.stackPeak-p.stack0, uint64(1<<20), "stacks in use grew by more than 1 MiB")
}

func line(i int) []byte { return strconv.AppendInt([]byte("line "), int64(i), 10) }

// runLong is run with a watchdog of a minute: the loops take seconds.
func runLong(t *testing.T, r *reactor.Reactor) {
	t.Helper()
	watchdog := r.Schedule(time.Minute, func() {
		t.Error("reactor still running after a minute")
		r.Stop()
	})
	r.AddSystemEventTrigger(reactor.Before, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
		watchdog.Cancel()
		return nil
	})
	require.NoError(t, r.Run())
}

// TestWriteLoopBoundedStack writes 200 000 lines, each once the previous
// Write fired (the backpressure idiom), to a peer that counts them: the loop
// must not add stack frames per line although most Writes fire at once.
func TestWriteLoopBoundedStack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		want := 0
		for i := range chainLoopLines {
			want += len(line(i)) + 1
		}
		// The peer reads on a goroutine of its own, so that the loop only
		// writes.
		nl, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer nl.Close()
		var got int64
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() {
			nc, err := nl.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			got, _ = io.CopyN(io.Discard, nc, int64(want))
			r.CallFromGoroutine(func() { r.Stop() })
		})
		probe := newStackProbe()
		var failed error
		deferred.Then(deferredtcp.Connect(r, "tcp", nl.Addr().String()), func(c *deferredtcp.Conn) (struct{}, error) {
			i := 0
			var next func(int) (int, error)
			next = func(int) (int, error) {
				if i == chainLoopLines {
					return 0, nil
				}
				probe.step()
				i++
				c.Write(append(line(i-1), '\n')).AddCallback(next).AddErrback(func(f *failure.Failure) (int, error) {
					failed = f
					r.Stop()
					return 0, nil
				})
				return 0, nil
			}
			next(0)
			return struct{}{}, nil
		})
		runLong(t, r)
		wg.Wait()
		require.NoError(t, failed)
		require.Equal(t, int64(want), got)
		probe.check(t)
	})
}

// TestReadLoopBoundedStack reads 200 000 lines that arrive together with a
// ReadUntil loop whose callback asks for the next line: the queue serves
// most reads at once, yet the loop must not add stack frames per line.
func TestReadLoopBoundedStack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		l := listen(t, r)
		var all []byte
		for i := range chainLoopLines {
			all = append(append(all, line(i)...), '\n')
		}
		l.Serve(func(c *deferredtcp.Conn) {
			c.Write(all)
			c.Close()
		})
		probe := newStackProbe()
		var failed error
		lines := 0
		deferred.Then(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) (struct{}, error) {
			var next func([]byte) ([]byte, error)
			next = func(p []byte) ([]byte, error) {
				if !bytes.Equal(p, line(lines)) {
					failed = fmt.Errorf("line %d: got %q", lines, p)
					r.Stop()
					return nil, nil
				}
				probe.step()
				if lines++; lines == chainLoopLines {
					r.Stop()
					return nil, nil
				}
				c.ReadUntil([]byte("\n"), 0).AddCallback(next).AddErrback(func(f *failure.Failure) ([]byte, error) {
					failed = f
					r.Stop()
					return nil, nil
				})
				return nil, nil
			}
			c.ReadUntil([]byte("\n"), 0).AddCallback(next)
			return struct{}{}, nil
		})
		runLong(t, r)
		require.NoError(t, failed)
		require.Equal(t, chainLoopLines, lines)
		probe.check(t)
	})
}
