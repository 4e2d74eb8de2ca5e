package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"golang.org/x/sys/unix"
)

// A Load says what to send on every connection of a [Pool].
type Load struct {
	Size  int // bytes per message (> 0)
	Depth int // messages in flight per connection; 1 (or 0) is lockstep

	// Warmup runs the load without counting it; Duration is the measured
	// window after it, which opens at the generator's first wake-up past
	// Warmup. Together (and that wake-up) they bound Run.
	Warmup, Duration time.Duration

	// PerConn, when > 0, stops each connection after that many echoed
	// messages, and Run returns as soon as every connection is done (an
	// error if that takes longer than Warmup+Duration). Everything counts.
	PerConn int

	// OnWindow, when set, is called from Run's goroutine as the measured
	// window opens (true) and closes (false), to sample the server there.
	OnWindow func(open bool)

	// OnProgress, when set, is called from Run's goroutine about every
	// ProgressEvery with the messages counted so far.
	OnProgress    func(messages uint64)
	ProgressEvery time.Duration
}

// Result is what one [Pool.Run] measured in its window.
type Result struct {
	Messages uint64        // echoed in full and verified
	Bytes    uint64        // Messages * Size
	Window   time.Duration // how long the window really lasted
	Latency  *Histogram    // round trip of each message: write to last byte back
}

// Rate is messages per second over the window.
func (r Result) Rate() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Messages) / r.Window.Seconds()
}

// patternPeriod is prime so that message boundaries drift through the pattern.
const patternPeriod = 65521

// ioChunk bounds one read or write.
const ioChunk = 256 << 10

// pattern is what every connection sends, from its own starting offset: byte
// o of a stream is pattern[(start+o) % patternPeriod]. The slice is longer
// than the period so any chunk is one contiguous sub-slice.
var pattern = func() []byte {
	rng := rand.New(rand.NewPCG(7, 11))
	p := make([]byte, patternPeriod+ioChunk)
	for i := range patternPeriod {
		p[i] = byte(rng.Uint32())
	}
	copy(p[patternPeriod:], p)
	return p
}()

type conn struct {
	fd       int
	idx      int32   // position in runner.conns, the epoll cookie
	start    uint64  // offset of this stream in pattern
	want     uint64  // bytes issued (to be written)
	sent     uint64  // bytes written
	recv     uint64  // bytes echoed and verified
	issued   uint64  // messages issued
	done     uint64  // messages echoed in full
	sendAt   []int64 // ring of issue times, one per slot of Depth
	writable bool    // EPOLLOUT registered
}

type runner struct {
	load     Load
	depth    uint64
	size     uint64
	epfd     int
	conns    []conn
	buf      []byte
	base     time.Time
	now      int64 // nanoseconds since base, refreshed per ready batch
	issuing  bool
	counting bool
	res      Result
	left     int // connections not yet done (PerConn mode)
}

// Run drives the load on every connection of p until the window closes (or,
// with PerConn, until every connection is done), then returns what it
// measured. The connections stay open; messages still in flight at the end
// are not counted, so the pool should be closed, not reused for another Run.
// An echo that differs from what was sent, an early close by the server, or
// ctx ending is an error.
func (p *Pool) Run(ctx context.Context, l Load) (Result, error) {
	if l.Size <= 0 {
		return Result{}, errors.New("loadgen: Size must be > 0")
	}
	if l.Depth < 1 {
		l.Depth = 1
	}
	if int64(l.Size)*int64(l.Depth) > ioChunk {
		return Result{}, fmt.Errorf("loadgen: Size*Depth over %d bytes", ioChunk)
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return Result{}, err
	}
	defer unix.Close(epfd)
	r := &runner{
		load:  l,
		depth: uint64(l.Depth),
		size:  uint64(l.Size),
		epfd:  epfd,
		conns: make([]conn, len(p.fds)),
		buf:   make([]byte, ioChunk),
		res:   Result{Latency: new(Histogram)},
		left:  len(p.fds),
	}
	ring := make([]int64, len(p.fds)*l.Depth)
	for i, fd := range p.fds {
		r.conns[i] = conn{fd: fd, idx: int32(i), start: uint64(i) * 7919 % patternPeriod, sendAt: ring[i*l.Depth : (i+1)*l.Depth]}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return Result{}, err
		}
	}
	return r.loop(ctx)
}

func (r *runner) loop(ctx context.Context) (Result, error) {
	r.base = time.Now()
	windowOpen := int64(r.load.Warmup)
	windowClose := int64(r.load.Warmup + r.load.Duration)
	perConn := r.load.PerConn > 0
	var windowStart int64
	if perConn || windowOpen <= 0 {
		r.counting = true
		r.open()
	}
	r.issuing = true
	for i := range r.conns {
		c := &r.conns[i]
		k := r.load.Depth
		if perConn {
			k = min(k, r.load.PerConn)
		}
		r.issue(c, k)
		if err := r.flush(c); err != nil {
			return r.res, err
		}
	}
	events := make([]unix.EpollEvent, 512)
	done := ctx.Done()
	nextProgress := int64(r.load.ProgressEvery)
	for {
		select {
		case <-done:
			return r.res, ctx.Err()
		default:
		}
		n, err := unix.EpollWait(r.epfd, events, 5)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return r.res, err
		}
		r.now = int64(time.Since(r.base))
		if !perConn && !r.counting && r.now >= windowOpen {
			// A wake-up late past the warm-up (a busy machine) starts the
			// window late: it still lasts Duration from there.
			r.counting = true
			windowStart = r.now
			windowClose = windowStart + int64(r.load.Duration)
			r.open()
		}
		for _, ev := range events[:max(n, 0)] {
			c := &r.conns[ev.Fd]
			if ev.Events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				if err := r.readable(c); err != nil {
					return r.res, err
				}
			}
			if err := r.flush(c); err != nil {
				return r.res, err
			}
		}
		if r.load.OnProgress != nil && r.load.ProgressEvery > 0 && r.now >= nextProgress {
			r.load.OnProgress(r.res.Messages)
			nextProgress += int64(r.load.ProgressEvery)
		}
		switch {
		case perConn && r.left == 0:
			r.res.Window = time.Duration(r.now)
			r.close()
			return r.res, nil
		case r.now >= windowClose && perConn:
			return r.res, fmt.Errorf("loadgen: %d of %d connections still waiting for an echo after %v",
				r.left, len(r.conns), time.Duration(windowClose))
		case r.now >= windowClose:
			r.res.Window = time.Duration(r.now - windowStart)
			r.close()
			return r.res, nil
		}
	}
}

func (r *runner) open() {
	if r.load.OnWindow != nil {
		r.load.OnWindow(true)
	}
}

func (r *runner) close() {
	r.counting = false
	r.issuing = false
	if r.load.OnWindow != nil {
		r.load.OnWindow(false)
	}
}

// issue queues k more messages on c, stamped with the current time.
func (r *runner) issue(c *conn, k int) {
	for range k {
		c.sendAt[c.issued%r.depth] = r.now
		c.issued++
		c.want += r.size
	}
}

func (r *runner) readable(c *conn) error {
	n, err := unix.Read(c.fd, r.buf)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loadgen: read: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("loadgen: server closed a connection after echoing %d of %d bytes", c.recv, c.sent)
	}
	if c.recv+uint64(n) > c.sent {
		return fmt.Errorf("loadgen: server sent %d bytes more than it was sent", c.recv+uint64(n)-c.sent)
	}
	off := (c.start + c.recv) % patternPeriod
	if got := r.buf[:n]; !bytes.Equal(got, pattern[off:off+uint64(n)]) {
		for i := range got {
			if got[i] != pattern[off+uint64(i)] {
				return fmt.Errorf("loadgen: echoed byte %d is %#x; sent %#x", c.recv+uint64(i), got[i], pattern[off+uint64(i)])
			}
		}
	}
	c.recv += uint64(n)
	more := 0
	for c.recv >= (c.done+1)*r.size {
		lat := r.now - c.sendAt[c.done%r.depth]
		c.done++
		if r.counting {
			r.res.Latency.Record(time.Duration(lat))
			r.res.Messages++
			r.res.Bytes += r.size
		}
		if !r.issuing {
			continue
		}
		if r.load.PerConn > 0 && c.done == uint64(r.load.PerConn) {
			r.left--
			continue
		}
		if r.load.PerConn == 0 || c.issued < uint64(r.load.PerConn) {
			more++
		}
	}
	r.issue(c, more)
	return nil
}

// flush writes what c has issued and not yet sent, waiting for EPOLLOUT when
// the socket buffer is full.
func (r *runner) flush(c *conn) error {
	for c.sent < c.want {
		off := (c.start + c.sent) % patternPeriod
		n, err := unix.Write(c.fd, pattern[off:off+min(c.want-c.sent, ioChunk)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			return r.watchWritable(c, true)
		}
		if err != nil {
			return fmt.Errorf("loadgen: write: %w", err)
		}
		c.sent += uint64(n)
	}
	return r.watchWritable(c, false)
}

func (r *runner) watchWritable(c *conn, on bool) error {
	if c.writable == on {
		return nil
	}
	c.writable = on
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: c.idx}
	if on {
		ev.Events |= unix.EPOLLOUT
	}
	return unix.EpollCtl(r.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
}
