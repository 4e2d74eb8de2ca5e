package service

import (
	"fmt"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// State is where a [Supervisor] is with its service.
type State uint8

const (
	// Stopped: not started, or stopped.
	Stopped State = iota
	// Starting: the service's StartService has not fired yet.
	Starting
	// Running: the service started, and has not failed since.
	Running
	// BackingOff: the service failed to start, or failed while running;
	// the Supervisor stops what is left of it and waits for the retry
	// policy's delay before starting it again.
	BackingOff
	// Stopping: the Supervisor's StopService is stopping the service.
	Stopping
)

// String returns "stopped", "starting", "running", "backing off" or
// "stopping".
func (s State) String() string {
	switch s {
	case Stopped:
		return "stopped"
	case Starting:
		return "starting"
	case Running:
		return "running"
	case BackingOff:
		return "backing off"
	case Stopping:
		return "stopping"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// The Supervisor's phases: BackingOff is two of them.
type phase uint8

const (
	phaseStopped  phase = iota
	phaseStarting       // the child's start is pending
	phaseRunning
	phaseCleaning // the child failed while running: its stop is pending
	phaseWaiting  // the retry timer runs
	phaseStopping // the child's stop (or its start, cancelled) is pending
)

// Supervisor keeps a service running, which Twisted leaves to the
// operator: when the service fails to start, or fails while it runs
// (a [Monitored] service whose Done fails), the Supervisor logs the
// failure, stops what is left of the service, waits as its retry policy
// says ([WithRetryPolicy], Twisted's backoffPolicy by default) and starts
// it again. The count of consecutive failures given to the policy goes
// back to zero when the service starts.
//
// A Supervisor is itself a [Service], named as its service: put it where
// the service would go. Its StartService fires once the first start of the
// service has fired, whether that start succeeded or not, so that a
// [MultiService] starts its next child in order without waiting for a
// service that keeps failing. [Supervisor.State] tells where it is.
// A Supervisor belongs to its clock's goroutine.
type Supervisor struct {
	s      Service
	clock  reactor.Scheduler
	policy func(attempt int) time.Duration
	cfg    config

	phase    phase
	failures int // consecutive failures
	restarts int
	run      int // counts the starts, to ignore a stale Done
	retry    *reactor.DelayedCall
	pending  *deferred.Deferred[struct{}] // the child's start while starting

	started     *deferred.Deferred[struct{}] // StartService's, until the first start settles
	stopWaiters []*deferred.Deferred[struct{}]
}

// Supervise returns a stopped Supervisor of s, timing its restarts on
// clock. Options: [WithRetryPolicy], [WithLogger].
func Supervise(clock reactor.Scheduler, s Service, opts ...Option) *Supervisor {
	cfg := newConfig(opts)
	return &Supervisor{s: s, clock: clock, policy: cfg.retry, cfg: cfg}
}

// Name returns the supervised service's name.
func (v *Supervisor) Name() string { return v.s.Name() }

// Service returns the supervised service.
func (v *Supervisor) Service() Service { return v.s }

// Running reports whether the Supervisor was started and not stopped since,
// whatever its service's state.
func (v *Supervisor) Running() bool { return v.phase != phaseStopped && v.phase != phaseStopping }

// State returns where the Supervisor is with its service.
func (v *Supervisor) State() State {
	switch v.phase {
	case phaseStarting:
		return Starting
	case phaseRunning:
		return Running
	case phaseCleaning, phaseWaiting:
		return BackingOff
	case phaseStopping:
		return Stopping
	}
	return Stopped
}

// Restarts returns how many times the Supervisor has started its service
// again after a failure.
func (v *Supervisor) Restarts() int { return v.restarts }

// StartService starts the service; its Deferred fires once that first
// start has fired, successfully even if it failed (the Supervisor then
// backs off and tries again).
func (v *Supervisor) StartService() *deferred.Deferred[struct{}] {
	if v.phase != phaseStopped {
		return deferred.Fail[struct{}](ErrAlreadyRunning)
	}
	v.failures = 0
	v.started = deferred.New[struct{}]()
	d := v.started
	v.startChild()
	return d
}

func (v *Supervisor) startChild() {
	v.phase = phaseStarting
	v.run++
	run := v.run
	v.pending = call(v.s.StartService)
	if fired, _, f := await(v.pending, func(_ struct{}, f *failure.Failure) { v.childStarted(run, f) }); fired {
		v.childStarted(run, f)
	}
}

func (v *Supervisor) childStarted(run int, f *failure.Failure) {
	if run != v.run {
		return
	}
	v.pending = nil
	switch v.phase {
	case phaseStarting:
		if f != nil {
			v.failed("failed to start", f)
		} else {
			v.failures = 0
			v.phase = phaseRunning
			v.watch(run)
		}
		v.fireStarted()
	case phaseStopping: // StopService cancelled the start
		if f == nil {
			v.stopChild()
			return
		}
		v.finishStop(nil)
	}
}

// watch follows a Monitored service's Done for this run.
func (v *Supervisor) watch(run int) {
	m, ok := v.s.(Monitored)
	if !ok {
		return
	}
	m.Done().AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
		if run == v.run && v.phase == phaseRunning && f != nil {
			v.failed("failed", f)
		}
		return struct{}{}, nil // reported by failed
	})
}

// failed backs off after a failure: a service that failed while running is
// stopped first.
func (v *Supervisor) failed(what string, f *failure.Failure) {
	v.failures++
	wasRunning := v.phase == phaseRunning
	v.phase = phaseCleaning
	if !wasRunning {
		v.backOff(what, f)
		return
	}
	run := v.run
	cleaned := func(_ struct{}, stopF *failure.Failure) {
		if stopF != nil {
			v.cfg.logger.Error("service: stopping a failed service failed", "service", nameOf(v.s), "failure", stopF)
		}
		if run != v.run {
			return
		}
		switch v.phase {
		case phaseCleaning:
			v.backOff(what, f)
		case phaseStopping:
			v.finishStop(nil)
		}
	}
	if fired, _, stopF := await(call(v.s.StopService), cleaned); fired {
		cleaned(struct{}{}, stopF)
	}
}

func (v *Supervisor) backOff(what string, f *failure.Failure) {
	delay := max(v.policy(v.failures), 0)
	v.cfg.logger.Error("service: "+what+"; restarting it after a delay",
		"service", nameOf(v.s), "failures", v.failures, "delay", delay, "failure", f)
	v.phase = phaseWaiting
	v.retry = v.clock.Schedule(delay, v.restart)
}

func (v *Supervisor) restart() {
	v.retry = nil
	if v.phase != phaseWaiting {
		return
	}
	v.restarts++
	v.startChild()
}

func (v *Supervisor) fireStarted() {
	if d := v.started; d != nil {
		v.started = nil
		d.Callback(struct{}{})
	}
}

// StopService stops the service and the restarts: it cancels a start in
// progress or a pending restart. Its Deferred fires once the service has
// stopped, with the service's stop error.
func (v *Supervisor) StopService() *deferred.Deferred[struct{}] {
	switch v.phase {
	case phaseStopped:
		return deferred.Succeed(struct{}{})
	case phaseWaiting:
		v.retry.Cancel()
		v.retry = nil
		v.phase = phaseStopping
		v.finishStop(nil)
		return deferred.Succeed(struct{}{})
	}
	w := deferred.New[struct{}]()
	v.stopWaiters = append(v.stopWaiters, w)
	switch v.phase {
	case phaseStarting:
		v.phase = phaseStopping
		v.pending.Cancel() // childStarted goes on
	case phaseRunning:
		v.stopChild()
	case phaseCleaning:
		v.phase = phaseStopping // the cleaning stop goes on
	}
	return w
}

func (v *Supervisor) stopChild() {
	v.phase = phaseStopping
	run := v.run
	stopped := func(_ struct{}, f *failure.Failure) {
		if run == v.run && v.phase == phaseStopping {
			v.finishStop(f)
		}
	}
	if fired, _, f := await(call(v.s.StopService), stopped); fired {
		stopped(struct{}{}, f)
	}
}

func (v *Supervisor) finishStop(f *failure.Failure) {
	v.phase = phaseStopped
	v.run++ // what is still pending belongs to an old run
	if d := v.started; d != nil {
		v.started = nil
		d.Errback(deferred.ErrCancelled)
	}
	waiting := v.stopWaiters
	v.stopWaiters = nil
	if f != nil {
		fireAll(waiting, f)
		return
	}
	fireAll(waiting, nil)
}

var _ Service = (*Supervisor)(nil)
