package service

import (
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// TimerService calls a function every interval while it runs (Twisted's
// TimerService): a reactor.LoopingCall started, with a call at once, when
// the service starts, and stopped when it stops. f may return nil, or a
// Deferred that the next call waits for.
//
// When f fails (its Deferred fails, or it panics), the calls stop: the
// failure is logged, and [TimerService.Done] fails with it, so that a
// [Supervisor] can restart the service. It belongs to its clock's
// goroutine.
type TimerService struct {
	name     string
	clock    reactor.Scheduler
	interval time.Duration
	f        func() *deferred.Deferred[struct{}]
	cfg      config

	running  bool
	loop     *reactor.LoopingCall
	finished *deferred.Deferred[struct{}] // fires when the loop ends
	ended    bool                         // the loop of this run has ended
	outcome  *failure.Failure             // how the last run ended
	done     []*deferred.Deferred[struct{}]
}

// NewTimerService returns a stopped TimerService that calls f every
// interval on clock. Options: [WithLogger].
func NewTimerService(clock reactor.Scheduler, interval time.Duration, f func() *deferred.Deferred[struct{}], opts ...Option) *TimerService {
	return &TimerService{clock: clock, interval: interval, f: f, cfg: newConfig(opts)}
}

// Name returns the name set with SetName ("" by default).
func (s *TimerService) Name() string { return s.name }

// SetName names the service; call it before adding the service to a
// [MultiService].
func (s *TimerService) SetName(name string) { s.name = name }

// Running reports whether the service was started and not stopped since
// (it still runs after f failed, until it is stopped).
func (s *TimerService) Running() bool { return s.running }

// StartService calls f at once, then every interval. It fails when that
// first call fails at once, or the interval is negative; the service is
// then stopped.
func (s *TimerService) StartService() *deferred.Deferred[struct{}] {
	if s.running {
		return deferred.Fail[struct{}](ErrAlreadyRunning)
	}
	s.running, s.ended, s.outcome = true, false, nil
	s.finished = deferred.New[struct{}]()
	s.loop = reactor.NewLoopingCall(s.clock, s.f)
	fired, _, f := await(s.loop.Start(s.interval, true), s.loopEnded)
	switch {
	case fired && f != nil: // the start failed: say so, once, to the caller
		s.running, s.ended, s.outcome = false, true, f
		s.finished.Callback(struct{}{})
		return deferred.Fail[struct{}](f)
	case fired: // f stopped the loop itself
		s.loopEnded(nil, nil)
	}
	return deferred.Succeed(struct{}{})
}

// loopEnded runs when the LoopingCall stops: after Stop, or because f
// failed.
func (s *TimerService) loopEnded(_ *reactor.LoopingCall, f *failure.Failure) {
	s.ended, s.outcome = true, f
	if f != nil {
		s.cfg.logger.Error("service: timer function failed; calls stopped", "service", s.name, "failure", f)
	}
	s.finished.Callback(struct{}{})
	waiting := s.done
	s.done = nil
	if f != nil {
		fireAll(waiting, f)
		return
	}
	fireAll(waiting, nil)
}

// StopService stops the calls. Its Deferred fires once the call in
// progress, if any, has finished.
func (s *TimerService) StopService() *deferred.Deferred[struct{}] {
	if !s.running {
		return deferred.Succeed(struct{}{})
	}
	s.running = false
	if !s.ended {
		s.loop.Stop()
	}
	d := deferred.New[struct{}]()
	s.finished.Chain(d)
	return d
}

// Done returns a new Deferred that fires when the calls stop: successfully
// after StopService, with f's failure when f failed.
func (s *TimerService) Done() *deferred.Deferred[struct{}] {
	if s.ended || s.loop == nil {
		if s.outcome != nil {
			return deferred.Fail[struct{}](s.outcome)
		}
		return deferred.Succeed(struct{}{})
	}
	d := deferred.New[struct{}]()
	s.done = append(s.done, d)
	return d
}

var _ Monitored = (*TimerService)(nil)
