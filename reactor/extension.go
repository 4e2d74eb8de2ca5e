package reactor

import (
	"runtime"
	"time"

	deferred "github.com/twistgo/twist/defer"
)

// Extension is the state a package built on the reactor keeps per reactor
// (deferredtcp keeps its listeners and connections in one), stored in the
// reactor's slot by [Reactor.Extension] instead of in a package-level map keyed
// by the reactor: it lives as long as the reactor and ends with it.
type Extension interface {
	// ShutDown is called on the loop at the start of the "during" phase of
	// shutdown, before the "during" triggers: where Twisted disconnects its
	// listeners and connections, once every "before shutdown" trigger has
	// seen them live. deadline is when the reactor's shutdown deadline
	// ([WithShutdownTimeout]) passes. The shutdown waits for the Deferred it
	// returns (nil: nothing to wait for), at most until the deadline.
	ShutDown(deadline time.Time) *deferred.Deferred[struct{}]
	// Release is called once, on the loop, when Run is about to return (after
	// the "after shutdown" triggers, or at the deadline): the extension drops
	// what is still open.
	Release()
}

// extensions is the reactor's slot (loop goroutine only).
type extensions struct {
	list   []extension
	closed bool // "during shutdown" has begun: no new extension
}

type extension struct {
	key     any
	ext     Extension
	cleanup runtime.Cleanup
	collect bool // cleanup is set
}

// Extension returns the extension stored in r's slot under key (a value of a
// type of the calling package, as with context keys), making it with create
// the first time. create returns the extension and, optionally, a collected
// function, which the runtime calls, on a goroutine of its own, if r is
// garbage collected without having run: it releases what the extension holds
// outside the Go heap (file descriptors). collected must not refer to r,
// directly or through what it reaches (the extension usually does), or r is
// never collected; once Run has returned, collected is never called.
//
// An extension is there until its Release has returned. Once the "during"
// phase of shutdown has begun, Extension makes no new one: for a key it does
// not hold, it returns [ErrNotRunning], so that nothing new starts on a
// reactor that is going away; once Run has returned, it returns ErrNotRunning
// for every key. Loop goroutine only (or before Run).
func (r *Reactor) Extension(key any, create func() (ext Extension, collected func())) (Extension, error) {
	r.CheckLoop("Reactor.Extension")
	for _, e := range r.exts.list {
		if e.key == key {
			return e.ext, nil
		}
	}
	if r.exts.closed || r.state.Load() == stateStopped {
		return nil, ErrNotRunning
	}
	ext, collected := create()
	e := extension{key: key, ext: ext}
	if collected != nil {
		e.cleanup = runtime.AddCleanup(r, func(f func()) { f() }, collected)
		e.collect = true
	}
	r.exts.list = append(r.exts.list, e)
	return ext, nil
}

// releaseExtensions ends the slot as Run returns.
func (r *Reactor) releaseExtensions() {
	r.exts.closed = true
	for _, e := range r.exts.list {
		guard(r.log, "extension release", e.ext.Release)
		if e.collect {
			e.cleanup.Stop()
		}
	}
	r.exts.list = nil
}
