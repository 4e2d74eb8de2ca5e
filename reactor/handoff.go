package reactor

import "sync"

// handoffQueue carries functions from any goroutine to the loop. Producers
// append under a mutex; the loop swaps the whole slice out in one step and runs
// it without the lock, so a call queued during the drain runs next iteration.
// Once closed, the queue drops what is pushed.
type handoffQueue struct {
	mu     sync.Mutex
	queue  []func()
	closed bool
	spare  []func() // the previous batch, emptied; loop only
}

// push queues f and reports whether it did: once the queue is closed, f is
// dropped.
func (h *handoffQueue) push(f func()) bool {
	h.mu.Lock()
	ok := !h.closed
	if ok {
		h.queue = append(h.queue, f)
	}
	h.mu.Unlock()
	return ok
}

// close makes the queue drop further pushes and returns what it still holds.
func (h *handoffQueue) close() []func() {
	h.mu.Lock()
	batch := h.queue
	h.queue, h.closed = nil, true
	h.mu.Unlock()
	return batch
}

// take returns the queued functions and leaves the queue empty.
func (h *handoffQueue) take() []func() {
	h.mu.Lock()
	batch := h.queue
	h.queue = h.spare
	h.mu.Unlock()
	return batch
}

// recycle keeps batch's array for the next take, unless a flood made it much
// larger than it now needs to be.
func (h *handoffQueue) recycle(batch []func()) {
	clear(batch)
	if cap(batch) > 4096 && len(batch) < cap(batch)/4 {
		batch = nil
	}
	h.spare = batch[:0]
}

func (h *handoffQueue) empty() bool {
	h.mu.Lock()
	n := len(h.queue)
	h.mu.Unlock()
	return n == 0
}
