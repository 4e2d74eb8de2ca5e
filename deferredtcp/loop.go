package deferredtcp

import (
	"sync"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp/internal/bufpool"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// loop is deferredtcp's state on one reactor: the connections and listeners
// to close at shutdown, and the read buffer its connections share (they are
// all served on the loop goroutine, one at a time).
type loop struct {
	r         *reactor.Reactor
	buf       []byte
	conns     *Conn // doubly linked through Conn.prev/next
	listeners map[*Listener]struct{}
	attempts  map[*attempt]struct{}
	stopping  bool
	relay     relay // Deferreds handed out fired, and those for the next turn

	// gone is set, under handMu, once the reactor's shutdown is over; see
	// handOff.
	handMu sync.Mutex
	gone   bool
}

// handOff queues f to run on the loop, for a goroutine that does blocking
// I/O for it (the portable backend's dials and accepts). Once the reactor's
// shutdown is over, f would never run: handOff then calls dropped instead, on
// the calling goroutine, to release what f would have taken over (a socket
// that is open, for one). Safe from any goroutine.
func (l *loop) handOff(f, dropped func()) {
	l.handMu.Lock()
	defer l.handMu.Unlock()
	if l.gone {
		if dropped != nil {
			dropped()
		}
		return
	}
	// Queued before the loop ends: it runs, at the latest just before Run
	// returns.
	l.r.CallFromGoroutine(f)
}

// loops maps each reactor in use to its loop, from the first Listen or
// Connect until its shutdown has run.
var loops sync.Map // *reactor.Reactor -> *loop

// loopFor returns r's loop, creating it (and its shutdown trigger) on first
// use. Loop goroutine only.
func loopFor(r *reactor.Reactor) *loop {
	if v, ok := loops.Load(r); ok {
		return v.(*loop)
	}
	l := &loop{r: r, listeners: map[*Listener]struct{}{}, attempts: map[*attempt]struct{}{}}
	l.relay.init(r.CallFromGoroutine)
	loops.Store(r, l)
	r.AddSystemEventTrigger(reactor.Before, reactor.Shutdown, l.shutdown)
	r.AddSystemEventTrigger(reactor.After, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
		l.abortAll()
		loops.CompareAndDelete(r, l)
		l.handMu.Lock()
		l.gone = true
		l.handMu.Unlock()
		return nil
	})
	return l
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
// aborts them.
const shutdownGrace = 2 * time.Second

// abortAll aborts the connections still open after shutdown's "before"
// phase: those shutdown was still flushing when the reactor's
// WithShutdownTimeout, shorter than shutdownGrace, cut the wait short.
// Their Lost fires and their descriptors close before Run returns.
func (l *loop) abortAll() {
	for c := l.conns; c != nil; {
		next := c.next
		c.Abort()
		c = next
	}
}

// shutdown runs before the reactor shuts down: it closes every listener,
// cancels connection attempts and closes every connection (flushing, then
// aborting what is left after shutdownGrace). Its Deferred fires once all is
// closed.
func (l *loop) shutdown() *deferred.Deferred[struct{}] {
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
	abort := l.r.Schedule(shutdownGrace, func() {
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
