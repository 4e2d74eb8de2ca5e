package deferredtcp

import (
	"log/slog"
	"net"
	"reflect"
	"sync"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp/internal/bufpool"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Loop is the event loop deferredtcp runs on: what [Listen], [Connect], a
// [Listener] and a [Conn] need of it (Twisted passes its reactor's interfaces
// the same way). A *reactor.Reactor is the Loop of a program; a deterministic
// one for tests, with a fake clock and an in-memory network, is
// deferredtcptest.Loop. Every timer of the package (idle and connect
// timeouts, accept back-off, reconnect delays) runs on the Loop's Schedule, so
// a fake clock drives them all.
type Loop interface {
	// Now, Schedule and AfterFunc are the loop's time and timers.
	reactor.Scheduler
	// CallFromGoroutine queues f to run on the loop; safe from any goroutine.
	CallFromGoroutine(f func())
	// Running reports whether the loop is running (Twisted's reactor.running).
	Running() bool
	// Backend tells how sockets are served: with the FD methods on Epoll,
	// with goroutines and the net package otherwise.
	Backend() reactor.Backend
	// AddReader, AddWriter, RemoveReader and RemoveWriter are the FD
	// methods of [reactor.Reactor.AddReader], for Epoll loops.
	AddReader(fd int, onReadable func()) error
	AddWriter(fd int, onWritable func()) error
	RemoveReader(fd int) error
	RemoveWriter(fd int) error
	// Logger is where the package logs.
	Logger() *slog.Logger
	// Extension is the loop's slot for per-loop state, ended with the loop
	// (see [reactor.Reactor.Extension]).
	Extension(key any, create func() (reactor.Extension, func())) (reactor.Extension, error)
	// CheckLoop panics when the calling goroutine may not make the loop-only
	// call named call (see [reactor.Reactor.CheckLoop]).
	CheckLoop(call string)
}

var _ Loop = (*reactor.Reactor)(nil)

// loop is deferredtcp's state on one Loop, kept in the Loop's extension
// slot: the connections and listeners to close at shutdown, the factories
// started there, and the read buffer its connections share (they are all
// served on the loop goroutine, one at a time).
type loop struct {
	r         Loop
	buf       []byte
	conns     *Conn // doubly linked through Conn.prev/next
	listeners map[*Listener]struct{}
	attempts  map[*attempt]struct{}
	factories map[any]int // users of each FactoryStarter (Twisted's numPorts)
	stopping  bool        // shutdown has begun: nothing new starts
	res       *resources
	relay     relay // Deferreds handed out fired, and those for the next turn

	// gone is set, under handMu, once the loop is released; see handOff.
	handMu sync.Mutex
	gone   bool
}

// loopKey is deferredtcp's key in a Loop's extension slot.
type loopKey struct{}

// loopFor returns r's loop state, making it on first use. Once r has begun
// to shut down, or has stopped, it fails with reactor.ErrNotRunning: nothing
// new may start there. Loop goroutine only.
func loopFor(r Loop) (*loop, error) {
	l, err := loopState(r)
	if err == nil && l.stopping {
		err = reactor.ErrNotRunning
	}
	return l, err
}

// loopState is loopFor for what is already there: it returns r's state
// while r shuts down too, until r has released it.
func loopState(r Loop) (*loop, error) {
	ext, err := r.Extension(loopKey{}, func() (reactor.Extension, func()) {
		l := newLoop(r)
		// l.res refers to no reactor: it is what a reactor garbage collected
		// without running gives back.
		return l, l.res.closeAll
	})
	if err != nil {
		return nil, err
	}
	return ext.(*loop), nil
}

func newLoop(r Loop) *loop {
	l := &loop{r: r, listeners: map[*Listener]struct{}{}, attempts: map[*attempt]struct{}{},
		factories: map[any]int{}, res: &resources{}}
	l.relay.init(r.CallFromGoroutine)
	return l
}

// notRunning is the error of Listen and Connect on a loop that has stopped.
func notRunning(op, network string, addr net.Addr) error {
	return &net.OpError{Op: op, Net: network, Addr: addr, Err: reactor.ErrNotRunning}
}

// handOff queues f to run on the loop, for a goroutine that does blocking
// I/O for it (the portable backend's dials and accepts). Once the loop is
// released, f would never run: handOff then calls dropped instead, on the
// calling goroutine, to release what f would have taken over (a socket that
// is open, for one). Safe from any goroutine.
func (l *loop) handOff(f, dropped func()) {
	l.handMu.Lock()
	defer l.handMu.Unlock()
	if l.gone {
		if dropped != nil {
			dropped()
		}
		return
	}
	// Queued before the loop is released: it runs, at the latest just before
	// Run returns.
	l.r.CallFromGoroutine(f)
}

// readBuf returns the shared read buffer, n bytes long. It comes from the
// read pool, whose buffers a Read may take over (see Conn.receiveBuf).
func (l *loop) readBuf(n int) []byte {
	if cap(l.buf) < n {
		bufpool.Put(l.buf)
		l.buf = bufpool.Make(n)
		l.buf = l.buf[:cap(l.buf)]
	}
	return l.buf[:n]
}

func (l *loop) add(c *Conn) {
	c.next = l.conns
	if l.conns != nil {
		l.conns.prev = c
	}
	l.conns = c
}

func (l *loop) remove(c *Conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else if l.conns == c {
		l.conns = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
}

// shutdownGrace is how long shutdown lets connections flush before it
// aborts them, if the reactor's shutdown deadline is later.
const shutdownGrace = 2 * time.Second

// ShutDown implements reactor.Extension: at the start of the reactor's
// "during shutdown" phase (every "before shutdown" trigger has seen the
// listeners and connections live), it closes every listener, cancels
// connection attempts and closes every connection, flushing what was
// written; what has not flushed by shutdownGrace or the reactor's shutdown
// deadline, whichever comes first, is aborted. Its Deferred fires once all
// is closed.
func (l *loop) ShutDown(deadline time.Time) *deferred.Deferred[struct{}] {
	l.stopping = true
	var waits []*deferred.Deferred[struct{}]
	for ln := range l.listeners {
		waits = append(waits, ln.Close())
	}
	for a := range l.attempts {
		a.d.Cancel()
	}
	var conns []*Conn
	for c := l.conns; c != nil; c = c.next {
		conns = append(conns, c)
	}
	for _, c := range conns {
		waits = append(waits, c.Close())
	}
	if len(waits) == 0 {
		return nil
	}
	done := deferred.New[struct{}]()
	left := len(waits)
	grace := min(shutdownGrace, max(deadline.Sub(l.r.Now()), 0))
	abort := l.r.Schedule(grace, func() {
		for _, c := range conns {
			c.Abort()
		}
	})
	for _, w := range waits {
		w.AddBoth(func(struct{}, *failure.Failure) (struct{}, error) {
			if left--; left == 0 {
				abort.Cancel()
				done.Callback(struct{}{})
			}
			return struct{}{}, nil
		})
	}
	return done
}

// Release implements reactor.Extension: as Run returns, it aborts what is
// still open (their Lost fires and their descriptors close before Run
// returns), stops the factories still started, and makes later hand-offs
// drop what they carry.
func (l *loop) Release() {
	l.stopping = true
	for ln := range l.listeners {
		ln.Close()
	}
	for a := range l.attempts {
		a.d.Cancel()
	}
	for c := l.conns; c != nil; {
		next := c.next
		c.Abort()
		c = next
	}
	for f, n := range l.factories {
		delete(l.factories, f)
		if n > 0 {
			f.(FactoryStarter).StopFactory()
		}
	}
	l.res.closeAll()
	l.handMu.Lock()
	l.gone = true
	l.handMu.Unlock()
}

// startFactory notes one more user of f on r, calling StartFactory for the
// first (Twisted's doStart). Factories are counted per loop: one shared by
// the reactors of a group is started on each.
func startFactory(r Loop, f Factory) {
	s, ok := f.(FactoryStarter)
	if !ok {
		return
	}
	l, err := loopState(r)
	if err != nil {
		return // r is gone: StopFactory would never be called
	}
	if !reflect.ValueOf(s).Comparable() {
		s.StartFactory()
		return
	}
	n := l.factories[s]
	l.factories[s] = n + 1
	if n == 0 {
		s.StartFactory()
	}
}

// stopFactory notes one user of f on r less, calling StopFactory after the
// last (Twisted's doStop).
func stopFactory(r Loop, f Factory) {
	s, ok := f.(FactoryStarter)
	if !ok {
		return
	}
	l, err := loopState(r)
	if err != nil {
		return // r is gone: its release stopped every factory left
	}
	if !reflect.ValueOf(s).Comparable() {
		s.StopFactory()
		return
	}
	n := l.factories[s]
	if n <= 1 {
		delete(l.factories, s)
	} else {
		l.factories[s] = n - 1
	}
	if n == 1 {
		s.StopFactory()
	}
}

// resources holds what a loop's listeners hold outside the Go heap, so that
// a reactor garbage collected without having run closes them (the runtime
// calls closeAll then). It must refer to no reactor: a reactor reachable from
// it would never be collected.
type resources struct {
	mu      sync.Mutex
	closers map[*resource]struct{}
}

// resource is one descriptor's close function.
type resource struct{ close func() }

// track registers close and returns the handle to untrack it with.
func (rs *resources) track(close func()) *resource {
	r := &resource{close: close}
	rs.mu.Lock()
	if rs.closers == nil {
		rs.closers = map[*resource]struct{}{}
	}
	rs.closers[r] = struct{}{}
	rs.mu.Unlock()
	return r
}

// untrack forgets r, once its descriptor is closed (or about to be) by its
// owner.
func (rs *resources) untrack(r *resource) {
	if r == nil {
		return
	}
	rs.mu.Lock()
	delete(rs.closers, r)
	rs.mu.Unlock()
}

func (rs *resources) closeAll() {
	rs.mu.Lock()
	cs := rs.closers
	rs.closers = nil
	rs.mu.Unlock()
	for r := range cs {
		r.close()
	}
}
