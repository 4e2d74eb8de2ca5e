package service

import (
	"errors"
	"fmt"
	"slices"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// The states of a MultiService (and, with [State], of a Supervisor).
type multiState uint8

const (
	multiStopped multiState = iota
	multiStarting
	multiRunning
	multiStopping
)

// The states of a MultiService's child.
type childState uint8

const (
	childStopped  childState = iota
	childStarting            // its StartService Deferred has not fired
	childStarted
	childStopping // its StopService Deferred has not fired
)

type child struct {
	s     Service
	state childState
	start *deferred.Deferred[struct{}] // while starting
}

// MultiService is a [Service] made of services (Twisted's MultiService):
// it starts its children in the order they were added, each once the one
// before has started, and stops them in the reverse order, each once the
// one after has stopped, so that a service can rely on those added before
// it for as long as it runs.
//
// If a child fails to start, the MultiService stops the children that had
// started (in reverse order) and its start fails with an [*Error] naming
// the child. A stop waits for each child in turn, within the stop timeout
// ([WithStopTimeout]); a child whose stop fails does not keep the others
// running: the stop goes on and fails, at the end, with every child's
// [*Error] joined. Stopping while starting cancels the child start in
// progress, and the start's Deferred fails with deferred.ErrCancelled.
//
// A MultiService belongs to its clock's goroutine (the loop of a reactor),
// as every [Service] does. Unlike Twisted's, which stops its children all
// at once, it stops them one by one.
type MultiService struct {
	name  string
	clock reactor.Scheduler
	cfg   config

	children []*child
	state    multiState

	// The start in progress.
	startD   *deferred.Deferred[struct{}]
	next     int    // the child to start next
	startErr *Error // the child start that failed, while stopping the others

	// The stop in progress.
	stopWaiters []*deferred.Deferred[struct{}]
	stopAt      int    // the child to stop next, counting down
	waitingOn   *child // the child whose stop (or start) the stop waits for
	stopErrs    []error
	deadline    func() bool
	timedOut    *StopTimeoutError
}

// NewMultiService returns an empty, stopped MultiService named name, which
// bounds its stops with clock (a *reactor.Reactor, or a *reactor.Clock in
// tests). Options: [WithStopTimeout], [WithLogger].
func NewMultiService(name string, clock reactor.Scheduler, opts ...Option) *MultiService {
	return &MultiService{name: name, clock: clock, cfg: newConfig(opts)}
}

// Name returns the name given to NewMultiService.
func (m *MultiService) Name() string { return m.name }

// Running reports whether the MultiService is starting or running: started,
// and not stopped since (nor rolled back by a failed start).
func (m *MultiService) Running() bool {
	return m.state == multiStarting || m.state == multiRunning
}

// Services returns the children, in the order they were added.
func (m *MultiService) Services() []Service {
	out := make([]Service, len(m.children))
	for i, c := range m.children {
		out[i] = c.s
	}
	return out
}

// ServiceNamed returns the child named name (Twisted's getServiceNamed).
func (m *MultiService) ServiceNamed(name string) (Service, bool) {
	for _, c := range m.children {
		if c.s.Name() == name {
			return c.s, true
		}
	}
	return nil, false
}

// AddService adds s as the last child (what Twisted's setServiceParent
// does). On a MultiService that runs, s is started at once; a failure of
// that start is logged. It returns [ErrNilService], [ErrAlreadyAdded], or
// [ErrDuplicateName] when another child has s's name (names "" never
// clash), and then changes nothing.
func (m *MultiService) AddService(s Service) error {
	if s == nil {
		return ErrNilService
	}
	name := s.Name()
	for _, c := range m.children {
		if c.s == s {
			return fmt.Errorf("%w: %s", ErrAlreadyAdded, nameOf(s))
		}
		if name != "" && c.s.Name() == name {
			return fmt.Errorf("%w: %q in %s", ErrDuplicateName, name, m.name)
		}
	}
	c := &child{s: s}
	m.children = append(m.children, c)
	if m.state == multiRunning {
		if fired, _, f := m.startChild(c, m.lateStartDone); fired {
			m.lateStartDone(c, f)
		}
	}
	return nil
}

// RemoveService removes the child s; if it is running, it is stopped, and
// the Deferred fires with its stop. It fails with [ErrNotChild] when s is
// not a child.
func (m *MultiService) RemoveService(s Service) *deferred.Deferred[struct{}] {
	i := slices.IndexFunc(m.children, func(c *child) bool { return c.s == s })
	if i < 0 {
		return deferred.Fail[struct{}](ErrNotChild)
	}
	c := m.children[i]
	m.children = slices.Delete(m.children, i, i+1)
	if m.state == multiStarting && i < m.next {
		m.next--
	}
	if m.state == multiStopping && i <= m.stopAt {
		m.stopAt--
	}
	if c.state == childStarting {
		c.start.Cancel()
	}
	var d *deferred.Deferred[struct{}]
	if c.state == childStopped {
		d = deferred.Succeed(struct{}{})
	} else {
		d = call(c.s.StopService)
	}
	if m.waitingOn == c {
		m.waitingOn = nil
		m.continueStop()
	}
	return d
}

// StartService starts the children in order, each once the one before has
// started. Its Deferred fires when the last has, or fails with the
// [*Error] of the first child that could not start, once the children
// started before it have been stopped again.
func (m *MultiService) StartService() *deferred.Deferred[struct{}] {
	if m.state != multiStopped {
		return deferred.Fail[struct{}](ErrAlreadyRunning)
	}
	m.state = multiStarting
	m.startD = deferred.New[struct{}]()
	m.next = 0
	d := m.startD
	m.continueStart()
	return d
}

func (m *MultiService) continueStart() {
	for m.state == multiStarting {
		if m.next == len(m.children) {
			m.state = multiRunning
			m.fireStart(nil)
			return
		}
		c := m.children[m.next]
		fired, _, f := m.startChild(c, m.startDone)
		if !fired {
			return // startDone goes on
		}
		if f != nil {
			m.startFailed(c, f)
			return
		}
		m.next++
	}
}

// startDone goes on with the start once a child's start has fired.
func (m *MultiService) startDone(c *child, f *failure.Failure) {
	switch {
	case m.state == multiStarting && m.next < len(m.children) && m.children[m.next] == c:
		if f != nil {
			m.startFailed(c, f)
			return
		}
		m.next++
		m.continueStart()
	case m.state == multiStarting:
		m.logLate("start", f) // c was removed while starting
		m.continueStart()
	default:
		m.logLate("start", f)
		m.startSettled(c)
	}
}

// lateStartDone reports the start of a child added while running.
func (m *MultiService) lateStartDone(c *child, f *failure.Failure) {
	if f != nil {
		m.cfg.logger.Error("service: a service added to a running one failed to start",
			"parent", m.name, "service", nameOf(c.s), "failure", f)
	}
	m.startSettled(c)
}

// startSettled goes on with a stop that waited for c's start to settle.
func (m *MultiService) startSettled(c *child) {
	if m.state == multiStopping && m.waitingOn == c {
		m.waitingOn = nil
		m.continueStop()
	}
}

// startChild starts c, updating its state when the start fires; later
// runs then, unless the start fired at once (see await).
func (m *MultiService) startChild(c *child, later func(*child, *failure.Failure)) (bool, struct{}, *failure.Failure) {
	c.state = childStarting
	c.start = call(c.s.StartService)
	settle := func(f *failure.Failure) {
		c.start = nil
		if f != nil {
			c.state = childStopped
		} else {
			c.state = childStarted
		}
	}
	fired, v, f := await(c.start, func(_ struct{}, f *failure.Failure) {
		settle(f)
		later(c, f)
	})
	if fired {
		settle(f)
	}
	return fired, v, f
}

// startFailed rolls the start back: the children started before c stop, in
// reverse order, then the start fails with c's error.
func (m *MultiService) startFailed(c *child, f *failure.Failure) {
	m.startErr = &Error{Service: nameOf(c.s), Op: "start", Err: f}
	m.beginStop(m.next - 1)
}

func (m *MultiService) fireStart(err error) {
	d := m.startD
	m.startD = nil
	if d == nil {
		return
	}
	if err != nil {
		d.Errback(err)
		return
	}
	d.Callback(struct{}{})
}

// StopService stops the children in reverse order, each once the one after
// it has stopped, within the stop timeout (see [MultiService]).
func (m *MultiService) StopService() *deferred.Deferred[struct{}] {
	switch m.state {
	case multiStopped:
		return deferred.Succeed(struct{}{})
	case multiStopping:
		w := deferred.New[struct{}]()
		m.stopWaiters = append(m.stopWaiters, w)
		return w
	}
	w := deferred.New[struct{}]()
	m.stopWaiters = append(m.stopWaiters, w)
	if m.state == multiStarting {
		m.fireStart(&Error{Service: m.name, Op: "start", Err: deferred.ErrCancelled})
	}
	m.beginStop(len(m.children) - 1)
	return w
}

func (m *MultiService) beginStop(from int) {
	m.state = multiStopping
	m.stopAt = from
	m.stopErrs = nil
	m.timedOut = nil
	if m.cfg.stopTimeout > 0 {
		m.deadline = m.clock.AfterFunc(m.cfg.stopTimeout, m.stopTimedOut)
	}
	m.continueStop()
}

func (m *MultiService) continueStop() {
	for m.state == multiStopping && m.waitingOn == nil {
		if m.stopAt < 0 {
			m.finishStop()
			return
		}
		c := m.children[m.stopAt]
		switch c.state {
		case childStarting:
			c.start.Cancel()
			if c.state == childStarting {
				m.waitingOn = c // startDone or lateStartDone goes on
				return
			}
			continue // look at c again, now started or stopped
		case childStopping:
			m.waitingOn = c // a late stop from an earlier timeout
			return
		case childStarted:
			fired, _, f := m.stopChild(c, m.stopDone)
			if !fired {
				m.waitingOn = c
				return
			}
			m.stopped(c, f)
		}
		m.stopAt--
	}
}

// stopChild stops c, updating its state when the stop fires; later runs
// then, unless the stop fired at once.
func (m *MultiService) stopChild(c *child, later func(*child, *failure.Failure)) (bool, struct{}, *failure.Failure) {
	c.state = childStopping
	fired, v, f := await(call(c.s.StopService), func(_ struct{}, f *failure.Failure) {
		c.state = childStopped
		later(c, f)
	})
	if fired {
		c.state = childStopped
	}
	return fired, v, f
}

// stopDone goes on with the stop once a child's stop has fired.
func (m *MultiService) stopDone(c *child, f *failure.Failure) {
	if m.state != multiStopping || m.waitingOn != c {
		m.logLate("stop", f) // after the deadline, or removed
		return
	}
	m.waitingOn = nil
	m.stopped(c, f)
	m.stopAt--
	m.continueStop()
}

func (m *MultiService) stopped(c *child, f *failure.Failure) {
	if f != nil {
		m.stopErrs = append(m.stopErrs, &Error{Service: nameOf(c.s), Op: "stop", Err: f})
	}
}

// stopTimedOut gives up waiting: the children not yet asked are asked to
// stop now, and the stop fails.
func (m *MultiService) stopTimedOut() {
	if m.state != multiStopping {
		return
	}
	m.deadline = nil
	e := &StopTimeoutError{Service: m.name, Limit: m.cfg.stopTimeout}
	waiting := m.waitingOn
	m.waitingOn = nil
	for i := m.stopAt; i >= 0; i-- {
		if c := m.children[i]; c == waiting {
			e.Pending = append(e.Pending, nameOf(c.s))
		} else {
			m.abandon(c, e)
		}
	}
	m.stopAt = -1
	m.timedOut = e
	m.finishStop()
}

// abandon asks c to stop without waiting for it, once the deadline passed.
func (m *MultiService) abandon(c *child, e *StopTimeoutError) {
	switch c.state {
	case childStarting:
		c.start.Cancel()
		if c.state == childStarting {
			e.Pending = append(e.Pending, nameOf(c.s))
			return
		}
		if c.state != childStarted {
			return
		}
	case childStopping:
		e.Pending = append(e.Pending, nameOf(c.s))
		return
	case childStopped:
		return
	}
	if fired, _, f := m.stopChild(c, m.stopDone); fired {
		m.stopped(c, f)
	} else {
		e.Pending = append(e.Pending, nameOf(c.s))
	}
}

func (m *MultiService) finishStop() {
	if m.deadline != nil {
		m.deadline()
		m.deadline = nil
	}
	m.state = multiStopped
	errs := m.stopErrs
	if m.timedOut != nil {
		errs = append(errs, m.timedOut)
	}
	m.stopErrs, m.timedOut = nil, nil
	stopErr := errors.Join(errs...)
	if startErr := m.startErr; startErr != nil {
		// A rolled-back start: its Deferred fails with the start error
		// (and whatever the roll-back met).
		m.startErr = nil
		if stopErr != nil {
			m.fireStart(errors.Join(startErr, stopErr))
		} else {
			m.fireStart(startErr)
		}
	}
	waiters := m.stopWaiters
	m.stopWaiters = nil
	fireAll(waiters, stopErr)
}

// logLate logs the failure of a child's start or stop that no one waits
// for any more.
func (m *MultiService) logLate(op string, f *failure.Failure) {
	if f != nil && !errors.Is(f, deferred.ErrCancelled) { // a start the stop cancelled
		m.cfg.logger.Error("service: "+op+" of a child failed after its parent gave up on it",
			"parent", m.name, "failure", f)
	}
}

var _ Service = (*MultiService)(nil)
