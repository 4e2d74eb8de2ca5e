//go:build linux

package reactor

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func newEpollReactor(t *testing.T, opts ...Option) *Reactor {
	t.Helper()
	r := New(append([]Option{WithBackend(Epoll)}, opts...)...)
	require.Equal(t, Epoll, r.Backend())
	return r
}

// socketpair returns two connected non-blocking stream sockets, closed at the
// end of the test.
func socketpair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func TestAddReaderCallsWhenReadableUntilRemoved(t *testing.T) {
	r := newEpollReactor(t)
	a, b := socketpair(t)
	var got []string
	buf := make([]byte, 64)
	require.NoError(t, r.AddReader(a, func() {
		n, err := unix.Read(a, buf)
		require.NoError(t, err)
		got = append(got, string(buf[:n]))
		require.NoError(t, r.RemoveReader(a))
		// More data now must not call the reader again.
		_, err = unix.Write(b, []byte("unseen"))
		require.NoError(t, err)
		r.Schedule(5*time.Millisecond, func() { r.Stop() })
	}))
	r.CallWhenRunning(func() {
		go unix.Write(b, []byte("hello"))
	})
	run(t, r)
	assert.Equal(t, []string{"hello"}, got)
}

func TestReadinessIsLevelTriggered(t *testing.T) {
	r := newEpollReactor(t)
	a, b := socketpair(t)
	_, err := unix.Write(b, []byte("abc"))
	require.NoError(t, err)
	var got []byte
	one := make([]byte, 1)
	require.NoError(t, r.AddReader(a, func() {
		n, err := unix.Read(a, one) // a byte per call: called again while data remains
		require.NoError(t, err)
		got = append(got, one[:n]...)
		if len(got) == 3 {
			require.NoError(t, r.RemoveReader(a))
			r.Stop()
		}
	}))
	run(t, r)
	assert.Equal(t, "abc", string(got))
}

func TestAddWriterAndReaderOnOneFD(t *testing.T) {
	r := newEpollReactor(t)
	a, b := socketpair(t)
	var got []string
	require.NoError(t, r.AddReader(a, func() {
		buf := make([]byte, 16)
		n, _ := unix.Read(a, buf)
		got = append(got, "read "+string(buf[:n]))
		require.NoError(t, r.RemoveReader(a))
		r.Stop()
	}))
	require.NoError(t, r.AddWriter(a, func() {
		got = append(got, "writable")
		_, err := unix.Write(a, []byte("ping"))
		require.NoError(t, err)
		require.NoError(t, r.RemoveWriter(a))
	}))
	require.NoError(t, r.AddReader(b, func() { // echo
		buf := make([]byte, 16)
		n, _ := unix.Read(b, buf)
		unix.Write(b, buf[:n])
	}))
	run(t, r)
	assert.Equal(t, []string{"writable", "read ping"}, got)
	assert.Equal(t, []int{b}, r.RemoveAll(), "only b was left registered")
}

func TestHangUpIsDeliveredToReaderAndWriter(t *testing.T) {
	r := newEpollReactor(t)
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC))
	rd, wr := p[0], p[1]
	t.Cleanup(func() { unix.Close(rd) })
	// Fill the pipe so its writer is not writable.
	chunk := make([]byte, 65536)
	for {
		if _, err := unix.Write(wr, chunk); err != nil {
			require.ErrorIs(t, err, unix.EAGAIN)
			break
		}
	}
	readerCalls, writerCalls := 0, 0
	require.NoError(t, r.AddWriter(wr, func() {
		writerCalls++ // EPOLLERR: the reading end is gone
		require.NoError(t, r.RemoveWriter(wr))
		unix.Close(wr)
		r.Stop()
	}))
	buf := make([]byte, len(chunk))
	require.NoError(t, r.AddReader(rd, func() {
		readerCalls++
		for { // drain, then close the reading end
			if _, err := unix.Read(rd, buf); err != nil {
				require.ErrorIs(t, err, unix.EAGAIN)
				break
			}
		}
		require.NoError(t, r.RemoveReader(rd))
		require.NoError(t, unix.Close(rd))
	}))
	run(t, r)
	assert.Equal(t, 1, readerCalls)
	assert.Equal(t, 1, writerCalls)
}

func TestEOFHangUpReachesTheReader(t *testing.T) {
	r := newEpollReactor(t)
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC))
	rd, wr := p[0], p[1]
	t.Cleanup(func() { unix.Close(rd) })
	var reads []int
	require.NoError(t, r.AddReader(rd, func() {
		n, err := unix.Read(rd, make([]byte, 8))
		require.NoError(t, err)
		reads = append(reads, n) // 0: end of file, seen through EPOLLHUP
		require.NoError(t, r.RemoveReader(rd))
		r.Stop()
	}))
	require.NoError(t, unix.Close(wr)) // no data: only a hang-up
	run(t, r)
	assert.Equal(t, []int{0}, reads)
}

func TestFDErrorsAndPanics(t *testing.T) {
	var logs logBuffer
	r := newEpollReactor(t, logs.option())
	a, b := socketpair(t)
	assert.Error(t, r.AddReader(-1, func() {}))
	assert.Error(t, r.AddReader(1<<20, func() {}), "not an open fd")
	assert.NoError(t, r.RemoveReader(b), "not registered: no-op")
	assert.NoError(t, r.RemoveWriter(12345))
	_, err := unix.Write(b, []byte("x"))
	require.NoError(t, err)
	calls := 0
	require.NoError(t, r.AddReader(a, func() {
		calls++
		if calls == 1 {
			panic(errors.New("reader boom")) // logged; level-triggered: called again
		}
		r.RemoveReader(a)
		r.Stop()
	}))
	run(t, r)
	assert.Equal(t, 2, calls)
	assert.Contains(t, logs.String(), "reader boom")
	assert.Contains(t, logs.String(), "reactor: panic in fd reader")
	assert.Empty(t, r.RemoveAll())
}

func TestRemoveAll(t *testing.T) {
	r := newEpollReactor(t)
	a, b := socketpair(t)
	require.NoError(t, r.AddReader(b, func() {}))
	require.NoError(t, r.AddWriter(a, func() {}))
	require.NoError(t, r.AddReader(a, func() {}))
	assert.Equal(t, []int{min(a, b), max(a, b)}, r.RemoveAll())
	assert.Empty(t, r.RemoveAll())
	// Re-adding after RemoveAll registers afresh.
	require.NoError(t, r.AddReader(a, func() {}))
	require.NoError(t, r.RemoveReader(a))
}

func TestIdleLoopParksInGosPoller(t *testing.T) {
	r := newEpollReactor(t)
	p := r.poller.(*epollPoller)
	require.NotNil(t, p.epConn, "the epoll descriptor is registered with Go's poller")
	woken := make(chan struct{})
	r.CallWhenRunning(func() {
		// The loop parks with no timer but the watchdog's; a goroutine wakes it.
		go func() {
			time.Sleep(10 * time.Millisecond)
			r.CallFromGoroutine(func() { close(woken); r.Stop() })
		}()
	})
	run(t, r)
	<-woken
	var st unix.Stat_t
	assert.ErrorIs(t, unix.Fstat(p.fds.epfd, &st), unix.EBADF, "Run closed the epoll descriptor")
	p.close() // a second close closes nothing
}

// Timers due before parkMin are waited for in epoll_pwait2; later ones park
// first and finish there. Neither fires early.
func TestTimersAroundParkingNeverFireEarly(t *testing.T) {
	r := newEpollReactor(t)
	delays := []time.Duration{300 * time.Microsecond, parkEarly, parkMin - 100*time.Microsecond, parkMin, parkMin + parkEarly/2, 10 * time.Millisecond}
	late := make([]time.Duration, len(delays))
	left := len(delays)
	r.CallWhenRunning(func() {
		start := r.Now()
		for i, d := range delays {
			r.Schedule(d, func() {
				late[i] = r.Now().Sub(start) - d
				if left--; left == 0 {
					r.Stop()
				}
			})
		}
	})
	run(t, r)
	for i, d := range delays {
		assert.GreaterOrEqual(t, late[i], time.Duration(0), "timer of %v fired early", d)
	}
}
