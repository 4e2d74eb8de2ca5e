package deferred

import "github.com/twistgo/twist/failure"

// link is a Deferred of any type, as seen by [drive].
type link interface {
	// advance runs the chain until it ends, pauses, or an internal step
	// fires another Deferred that must run first. It returns that Deferred
	// and whether this chain still has steps to run after it.
	advance() (next link, more bool)
}

// drive runs a chain and every chain its steps fire, iteratively: a step
// that fires another Deferred suspends its own chain on an explicit stack
// instead of recursing, so 100 000 nested Deferreds do not grow the
// goroutine's stack (Twisted's _runCallbacks keeps the same stack).
func drive(l link) {
	driveAfter(l, nil)
}

// driveAfter runs l, then resume (a chain that is still running), if any.
func driveAfter(l, resume link) {
	var stack []link
	if resume != nil {
		stack = append(stack, resume)
	}
	for {
		next, more := l.advance()
		if next != nil {
			if more {
				stack = append(stack, l)
			}
			l = next
			continue
		}
		if len(stack) == 0 {
			return
		}
		l = stack[len(stack)-1]
		stack[len(stack)-1] = nil
		stack = stack[:len(stack)-1]
	}
}

func (d *Deferred[T]) advance() (link, bool) {
	d.mu.Lock()
	for {
		end := d.count()
		if d.next == end || d.paused > 0 {
			d.restLocked()
			d.mu.Unlock()
			return nil, false
		}
		// Steps appended meanwhile go beyond end, to more's backing array
		// or a new one: the entries up to end stay as they are.
		more := d.more
		d.mu.Unlock()
		if next := d.runSteps(more, end); next != nil {
			return d.handOff(next)
		}
		d.mu.Lock()
	}
}

// runSteps runs the steps from d.next up to end until one hands off a
// Deferred, which it returns, or pauses the chain. A panic in a step
// becomes the result's Failure, and the steps after it run on the next
// call; one deferred recover serves the whole batch.
func (d *Deferred[T]) runSteps(more []step[T], end int32) (next link) {
	returned := false
	defer func() {
		if !returned {
			d.recovered(recover())
		}
	}()
	for d.next < end {
		ln := d.stepAt(d.next, more)
		d.next++
		if next = ln.run(d); next != nil || d.st.Load()&sPaused != 0 {
			break
		}
	}
	returned = true
	return next
}

// handOff returns next, a Deferred a step fired, to be run before the rest
// of d's chain, and whether d has a rest.
func (d *Deferred[T]) handOff(next link) (link, bool) {
	d.mu.Lock()
	if d.next == d.count() || d.paused > 0 {
		d.restLocked()
		d.mu.Unlock()
		return next, false
	}
	d.mu.Unlock()
	return next, true
}

// runStep runs one step on the current result and returns what it handed
// off; a panic becomes the new result's Failure.
func (d *Deferred[T]) runStep(ln linker[T]) (next link) {
	returned := false
	defer func() {
		if !returned {
			d.recovered(recover())
		}
	}()
	next = ln.run(d)
	returned = true
	return next
}

// recovered makes a panic's value the current result's Failure.
func (d *Deferred[T]) recovered(r any) {
	var zero T
	d.result, d.fail = zero, failure.FromPanic(r)
}

// setResult makes a step's return the current result.
func (d *Deferred[T]) setResult(v T, err error) {
	if err != nil {
		d.failWith(err)
		return
	}
	d.result = v
	if d.fail != nil { // skip the store, and its write barrier, on the success path
		d.fail = nil
	}
}

// failWith makes err, as a Failure, the current result.
func (d *Deferred[T]) failWith(err error) {
	var zero T
	d.result, d.fail = zero, failure.New(err)
}

// take removes the current result from d, leaving the zero value, so that a
// Failure that moved on is not reported twice. Called by the running
// goroutine.
func (d *Deferred[T]) take() (T, *failure.Failure) {
	var zero T
	v, f := d.result, d.fail
	d.result, d.fail = zero, nil
	return v, f
}
