package deferred

import (
	"errors"
	"sync"

	"github.com/twistgo/twist/failure"
)

// ErrNotAcquired is returned by [Lock.Release] on a Lock that is not
// locked, and by [Semaphore.Release] when every token is already free.
var ErrNotAcquired = errors.New("deferred: release without a matching acquire")

// errNilRun is the Failure of a RunLocked whose function returned a nil
// Deferred.
var errNilRun = errors.New("deferred: RunLocked function returned a nil *Deferred")

// Locker is what [RunLocked] needs: a [*Lock] or a [*Semaphore].
type Locker interface {
	// Acquire returns a Deferred that fires once the caller holds the
	// lock (or a token).
	Acquire() *Deferred[struct{}]
	// Release gives the lock (or a token) back.
	Release() error
}

// Semaphore is a counting semaphore for event-driven code (Twisted's
// DeferredSemaphore): at most Limit holders at once, and the others wait, in
// the order they asked, on a Deferred instead of blocking a goroutine. It is
// safe for concurrent use. The zero value is not usable: create one with
// [NewSemaphore].
type Semaphore struct {
	mu      sync.Mutex
	tokens  int
	limit   int
	waiting waitList[struct{}]
	handing int // Releases handing tokens over right now
}

// NewSemaphore returns a Semaphore with tokens tokens, all free. It panics
// if tokens < 1.
func NewSemaphore(tokens int) *Semaphore {
	if tokens < 1 {
		panic("deferred: NewSemaphore needs at least one token")
	}
	return &Semaphore{tokens: tokens, limit: tokens}
}

// Acquire takes a token. The Deferred it returns has fired already if a
// token was free; otherwise it fires when a [Semaphore.Release] hands one
// over, first come first served, and its callbacks run on the goroutine
// that called Release. Cancelling a pending Acquire withdraws it from the
// queue and fails it with [ErrCancelled]; the caller then holds nothing.
func (s *Semaphore) Acquire() *Deferred[struct{}] {
	s.mu.Lock()
	if s.tokens > 0 {
		s.tokens--
		s.mu.Unlock()
		return Succeed(struct{}{})
	}
	e := &waitEntry[struct{}]{}
	e.d = NewWithCanceller(func(*Deferred[struct{}]) {
		s.mu.Lock()
		s.waiting.remove(e)
		s.mu.Unlock()
	})
	s.waiting.pushBack(e)
	s.mu.Unlock()
	return e.d
}

// Release gives a token back, handing it straight to the oldest pending
// [Semaphore.Acquire], whose callbacks run on the calling goroutine before
// Release returns. It returns [ErrNotAcquired] if no token is held.
//
// A Release made from those callbacks hands its token on in the same way,
// up to 8 levels deep; deeper (or while 8 Releases hand tokens over at
// once), it returns at once, and the innermost Release in progress hands
// the token over when the callbacks it runs return, on its goroutine. So
// however many waiters pass a token on, the stack stays bounded.
func (s *Semaphore) Release() error {
	s.mu.Lock()
	if s.tokens == s.limit {
		s.mu.Unlock()
		return ErrNotAcquired
	}
	s.tokens++
	s.handOff()
	return nil
}

// handOff gives free tokens to waiters, oldest first, unless hand-offs are
// nested too deep already (see maxNestedHandOffs); called with s.mu held,
// it returns with it released. A waiter cancelled between leaving the
// queue and being fired gives its token to the next one.
func (s *Semaphore) handOff() {
	if s.handing >= maxNestedHandOffs {
		s.mu.Unlock()
		return
	}
	s.handing++
	for s.tokens > 0 {
		e := s.waiting.popFront()
		if e == nil {
			break
		}
		s.tokens--
		s.mu.Unlock()
		err := e.d.Callback(struct{}{})
		s.mu.Lock()
		if err != nil {
			s.tokens++
		}
	}
	s.handing--
	s.mu.Unlock()
}

// Tokens returns the number of free tokens. It is safe for concurrent use,
// but the answer may be stale by the time it is used.
func (s *Semaphore) Tokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

// Limit returns the number of tokens the Semaphore was made with.
func (s *Semaphore) Limit() int { return s.limit }

// Lock is a mutual-exclusion lock for event-driven code (Twisted's
// DeferredLock): [Lock.Acquire] returns a Deferred that fires when the
// caller holds the lock, and waiters are served in FIFO order. It is safe
// for concurrent use. The zero value is not usable: create one with
// [NewLock].
type Lock struct {
	s Semaphore
}

// NewLock returns an unlocked Lock.
func NewLock() *Lock {
	return &Lock{s: Semaphore{tokens: 1, limit: 1}}
}

// Acquire locks the Lock. The Deferred it returns has fired already if the
// Lock was free; otherwise it fires when a [Lock.Release] hands the lock
// over, in the order Acquire was called, and its callbacks run on the
// goroutine that called Release. Cancelling a pending Acquire withdraws it
// and fails it with [ErrCancelled].
func (l *Lock) Acquire() *Deferred[struct{}] { return l.s.Acquire() }

// Release unlocks the Lock, handing it straight to the oldest pending
// [Lock.Acquire] if there is one (its callbacks run before Release
// returns, unless Releases are nested deep in waiters' callbacks: see
// [Semaphore.Release]). It returns [ErrNotAcquired] if the Lock is not
// locked.
func (l *Lock) Release() error { return l.s.Release() }

// Locked reports whether the Lock is held. It is safe for concurrent use,
// but the answer may be stale by the time it is used.
func (l *Lock) Locked() bool { return l.s.Tokens() == 0 }

// RunLocked acquires l, calls f, and releases l once the Deferred f returns
// has fired (Twisted's lock.run). The returned Deferred fires with f's
// result. A panic in f, or a nil Deferred, becomes a Failure, and l is
// released all the same. Cancelling the returned Deferred cancels the
// pending Acquire, or, once f has run, the Deferred f returned.
func RunLocked[T any](l Locker, f func() *Deferred[T]) *Deferred[T] {
	return ThenDeferred(l.Acquire(), func(struct{}) *Deferred[T] {
		d, fail := protect(func() (*Deferred[T], error) {
			d := f()
			if d == nil {
				return nil, errNilRun
			}
			return d, nil
		})
		if fail != nil {
			d = Fail[T](fail)
		}
		return d.AddBoth(func(v T, fail *failure.Failure) (T, error) {
			l.Release()
			if fail != nil {
				return v, fail
			}
			return v, nil
		})
	})
}
