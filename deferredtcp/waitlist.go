package deferredtcp

import deferred "github.com/twistgo/twist/defer"

// Cancelling from any goroutine.
//
// Deferreds are safe from any goroutine, so Cancel, and the canceller it
// calls, run on whichever goroutine cancels: a timer's, for
// c.Read().AddTimeout(d, deferred.SystemClock). What a Deferred waits in
// (a connection's pending read, its Lost subscribers, a UDP socket's
// ReadFroms, a listener's Accepts) belongs to the loop, so cancellers leave
// it alone. Cancel fires the Deferred, and the loop, which looks at
// Deferred.Called before it hands a waiter anything, treats a fired one as
// gone. A result the loop fires into a read or an Accept that another
// goroutine cancelled a moment before fails with ErrAlreadyCalled (these
// Deferreds have cancellers, so no late fire is silently ignored): the loop
// then gives it to the next waiter, or keeps it, so nothing is lost. (A
// Lost subscription carries no data; a late fire into it is ignored.)

// waitList holds the Deferreds waiting for one thing, oldest first. A
// cancelled one stays in the list until the loop skips it on its way to
// the next, or sweeps it out as the list grows: the list holds at most
// twice the Deferreds still waiting, plus a few, however many were
// cancelled (a million Lost+Cancel on one connection used to hold 150 MB).
// Loop goroutine only.
type waitList[T any] struct {
	ds      []*deferred.Deferred[T]
	sweepAt int // add sweeps out cancelled Deferreds when len(ds) reaches it
}

// add appends d.
func (w *waitList[T]) add(d *deferred.Deferred[T]) {
	if len(w.ds) >= w.sweepAt {
		w.sweep()
		w.sweepAt = max(16, 2*len(w.ds))
	}
	w.ds = append(w.ds, d)
}

// sweep drops the Deferreds that have fired (were cancelled).
func (w *waitList[T]) sweep() {
	live := w.ds[:0]
	for _, d := range w.ds {
		if !d.Called() {
			live = append(live, d)
		}
	}
	clear(w.ds[len(live):])
	if cap(live) > 64 && len(live) < cap(live)/4 {
		live = append([]*deferred.Deferred[T](nil), live...)
	}
	w.ds = live
}

// waiting reports whether a Deferred still waits.
func (w *waitList[T]) waiting() bool {
	for len(w.ds) > 0 && w.ds[0].Called() {
		w.ds[0] = nil
		w.ds = w.ds[1:]
	}
	return len(w.ds) > 0
}

// next removes and returns the oldest Deferred still waiting, if any.
func (w *waitList[T]) next() (*deferred.Deferred[T], bool) {
	if !w.waiting() {
		return nil, false
	}
	d := w.ds[0]
	w.ds[0] = nil
	w.ds = w.ds[1:]
	return d, true
}

// take removes and returns every Deferred in the list.
func (w *waitList[T]) take() []*deferred.Deferred[T] {
	ds := w.ds
	*w = waitList[T]{}
	return ds
}
