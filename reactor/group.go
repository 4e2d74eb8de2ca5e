package reactor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Group is a set of reactors started and stopped together, one per core by
// default, for servers that spread connections over several loops (each
// connection pinned to one reactor, chosen with [Group.Next]).
type Group struct {
	reactors []*Reactor
	next     atomic.Uint64
	stopping atomic.Bool
}

// NewGroup returns n reactors, each made by New(opts...); n <= 0 means
// runtime.GOMAXPROCS(0).
func NewGroup(n int, opts ...Option) *Group {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	g := &Group{reactors: make([]*Reactor, n)}
	for i := range g.reactors {
		g.reactors[i] = New(opts...)
	}
	return g
}

// Reactors returns the group's reactors. Safe from any goroutine; the slice is a
// copy.
func (g *Group) Reactors() []*Reactor {
	return append([]*Reactor(nil), g.reactors...)
}

// Next returns the group's reactors in turn (round robin). Safe from any
// goroutine.
func (g *Group) Next() *Reactor {
	i := g.next.Add(1) - 1
	return g.reactors[i%uint64(len(g.reactors))]
}

// Run runs every reactor, the first on the calling goroutine and each other one
// on a goroutine of its own, and returns once all have stopped. When one reactor
// stops, the group stops the others. It returns the first error of a reactor's
// Run ([ErrAlreadyRunning], [ErrNotRestartable]).
func (g *Group) Run() error {
	for _, r := range g.reactors {
		// A Stop that raced with the start of Run is honoured once running.
		r.CallWhenRunning(func() {
			if g.stopping.Load() {
				r.Stop()
			}
		})
	}
	errs := make([]error, len(g.reactors))
	var wg sync.WaitGroup
	for i, r := range g.reactors[1:] {
		wg.Go(func() {
			errs[i+1] = r.Run()
			g.Stop()
		})
	}
	errs[0] = g.reactors[0].Run()
	g.Stop()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Stop stops every reactor of the group, as [Reactor.Stop] does, including those
// whose Run has not started yet. It returns [ErrNotRunning] when the group was
// already stopping. Safe from any goroutine.
func (g *Group) Stop() error {
	if !g.stopping.CompareAndSwap(false, true) {
		return ErrNotRunning
	}
	for _, r := range g.reactors {
		r.Stop()
	}
	return nil
}
