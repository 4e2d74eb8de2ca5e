package reactor

import (
	"errors"
	"sync"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

// React runs a new reactor, made with opts, until the Deferred that main
// returns fires, and returns the Deferred's error: nil when it succeeds
// (Twisted's task.react). It is the way to write a program that has a
// well-defined end, or a server whose end is a signal, without calling
// [Reactor.Run] and [Reactor.Stop] by hand:
//
//	func main() {
//		err := reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
//			return deferred.Then(deferredtcp.Connect(r, "tcp", "127.0.0.1:8007"), hello)
//		})
//		if err != nil {
//			log.Fatal(err)
//		}
//	}
//
// main runs on the loop once the reactor is running; it may return nil
// (done at once), and a panic in it is its error. When main's Deferred
// fires, React stops the reactor, which runs its shutdown triggers, and
// returns once [Reactor.Run] has.
//
// If the reactor stops before main's Deferred has fired (a signal given
// to [WithSignals], or a call to [Reactor.Stop]), React cancels the
// Deferred in the "before shutdown" phase and waits for it, so that
// main's own clean-up runs while the loop still does. A stop on request
// is a clean end: the Deferred's deferred.ErrCancelled is then not an
// error, while any other failure is returned, as is an error given to
// [Reactor.StopWithError]. A server whose main never ends by itself
// returns a Deferred that only a stop fires:
//
//	return deferred.New[struct{}]() // serve until SIGINT or SIGTERM
//
// React does not log the error, nor exit: the caller decides, typically
// with os.Exit(1) where Twisted's react exits with status 1.
func React(main func(r *Reactor) *deferred.Deferred[struct{}], opts ...Option) error {
	r := New(opts...)
	m := &reaction{r: r, settled: deferred.New[struct{}]()}
	r.CallWhenRunning(m.start(main))
	r.AddSystemEventTrigger(Before, Shutdown, m.stopping)
	runErr := r.Run()
	if err := m.outcome(); err != nil {
		return err
	}
	return runErr
}

// reaction is one run of React. main's Deferred may fire on any goroutine
// (the loop, or one that fires it directly), hence the lock.
type reaction struct {
	r *Reactor

	// Loop goroutine only.
	d         *deferred.Deferred[struct{}] // main's, once main has run
	cancelled bool                         // React cancelled d for a stop

	mu      sync.Mutex
	fired   bool
	err     error
	settled *deferred.Deferred[struct{}] // fires once d has
}

func (m *reaction) start(main func(r *Reactor) *deferred.Deferred[struct{}]) func() {
	return func() {
		d := callMain(main, m.r)
		m.d = d
		d.AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
			m.mu.Lock()
			m.fired = true
			if f != nil {
				m.err = f
			}
			m.mu.Unlock()
			m.settled.Callback(struct{}{})
			_ = m.r.Stop()         // ErrNotRunning when the reactor is already stopping: fine
			return struct{}{}, nil // the failure is React's result: handled
		})
	}
}

// stopping is the "before shutdown" trigger: it cancels main's Deferred if
// it has not fired, and holds the shutdown until it has.
func (m *reaction) stopping() *deferred.Deferred[struct{}] {
	if m.d == nil {
		// Stopped before main ran: it never will.
		m.settled.Callback(struct{}{})
		return nil
	}
	m.mu.Lock()
	fired := m.fired
	m.mu.Unlock()
	if !fired {
		m.cancelled = true
		m.d.Cancel()
	}
	return m.settled
}

// outcome is main's error, once Run has returned. Its cancellation by a
// stop is no error.
func (m *reaction) outcome() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancelled && errors.Is(m.err, deferred.ErrCancelled) {
		return nil
	}
	return m.err
}

// callMain calls main, turning a panic into a failed Deferred and nil into
// a fired one.
func callMain(main func(r *Reactor) *deferred.Deferred[struct{}], r *Reactor) (d *deferred.Deferred[struct{}]) {
	defer func() {
		if v := recover(); v != nil {
			d = deferred.Fail[struct{}](failure.FromPanic(v))
		}
	}()
	if d = main(r); d == nil {
		d = deferred.Succeed(struct{}{})
	}
	return d
}
