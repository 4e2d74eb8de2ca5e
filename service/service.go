package service

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
)

// Service is a part of a program that starts and stops with it (Twisted's
// IService): a listening port, a timer, a client connection, or a
// [MultiService] of other services.
//
// A Service belongs to the reactor's loop goroutine: its methods are called
// there (or before Run, by the goroutine that will call Run), and the
// Deferreds they return fire there.
type Service interface {
	// Name returns the service's name, unique among the children of its
	// parent [MultiService]; "" for none.
	Name() string
	// Running reports whether the service has been started and not
	// stopped since.
	Running() bool
	// StartService starts the service. Its Deferred fires once the service
	// runs, or fails with why it could not start; a service whose start
	// fails is left stopped. Starting a service that is not stopped fails
	// with [ErrAlreadyRunning].
	StartService() *deferred.Deferred[struct{}]
	// StopService stops the service. Its Deferred fires once the service
	// has let go of what it held (its port, its connection, its timer),
	// or fails with what went wrong doing so. Stopping a stopped service
	// fires at once; stopping one that is stopping waits with the stop in
	// progress.
	StopService() *deferred.Deferred[struct{}]
}

// Monitored is implemented by a [Service] that can fail on its own while
// it runs, such as a [TimerService] whose function fails. A [Supervisor]
// watches it to restart the service.
type Monitored interface {
	Service
	// Done returns a new Deferred that fires when the service stops
	// running: successfully when StopService stopped it, with the reason
	// when it failed on its own. On a stopped service it fires at once,
	// with the outcome of its last run.
	Done() *deferred.Deferred[struct{}]
}

var (
	// ErrAlreadyRunning fails [Service.StartService] on a service that is
	// not stopped.
	ErrAlreadyRunning = errors.New("service: already running")
	// ErrDuplicateName is returned by [MultiService.AddService] when a
	// child of the same name is already there (Twisted's RuntimeError).
	ErrDuplicateName = errors.New("service: duplicate service name")
	// ErrAlreadyAdded is returned by [MultiService.AddService] for a
	// service that is already a child.
	ErrAlreadyAdded = errors.New("service: service already added")
	// ErrNotChild is returned by [MultiService.RemoveService] for a
	// service that is not a child (Twisted's ValueError).
	ErrNotChild = errors.New("service: not a child service")
	// ErrNilService is returned by [MultiService.AddService] for a nil
	// service.
	ErrNilService = errors.New("service: nil service")

	// ErrStopTimeout is matched by every [*StopTimeoutError].
	ErrStopTimeout = errors.New("service: stop timed out")
)

// Error reports which service failed to start or stop, and why. A
// [MultiService] wraps its children's failures in it; errors.Is and
// errors.As see the cause.
type Error struct {
	Service string // the service's name
	Op      string // "start" or "stop"
	Err     error  // the cause
}

func (e *Error) Error() string {
	return fmt.Sprintf("service: %s %s: %v", e.Op, e.Service, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// StopTimeoutError fails the stop of a [MultiService] (and so of an
// [Application]) whose children did not all stop within its stop timeout.
// It is a net.Error whose Timeout method reports true, and it matches
// [ErrStopTimeout] and os.ErrDeadlineExceeded.
type StopTimeoutError struct {
	Service string        // the MultiService
	Limit   time.Duration // the stop timeout it had
	Pending []string      // the children still stopping (or starting) then
}

func (e *StopTimeoutError) Error() string {
	return fmt.Sprintf("service: %s did not stop within %v (still stopping: %s)",
		e.Service, e.Limit, strings.Join(e.Pending, ", "))
}

// Timeout reports true: the error is a timeout.
func (e *StopTimeoutError) Timeout() bool { return true }

// Temporary reports false, for net.Error.
func (e *StopTimeoutError) Temporary() bool { return false }

// Is reports whether target is ErrStopTimeout or os.ErrDeadlineExceeded.
func (e *StopTimeoutError) Is(target error) bool {
	return target == ErrStopTimeout || target == os.ErrDeadlineExceeded
}

var _ net.Error = (*StopTimeoutError)(nil)

// An Option configures a service at its construction. Each option says
// which services it applies to; the others ignore it.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	logger      *slog.Logger
	stopTimeout time.Duration
	retry       func(attempt int) time.Duration
	signals     []os.Signal
	factory     deferredtcp.Factory
}

// DefaultStopTimeout is how long a [MultiService] waits for its children to
// stop by default: less than the reactor's default shutdown timeout (30 s),
// so that an [Application] reports a stuck service before the reactor gives
// up on it.
const DefaultStopTimeout = 20 * time.Second

func newConfig(opts []Option) config {
	c := config{stopTimeout: DefaultStopTimeout}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.retry == nil {
		c.retry = DefaultRetryPolicy()
	}
	return c
}

// WithLogger sets where a service logs (every service); the default is
// slog.Default() at construction, and for an [Application] the reactor's
// logger.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithStopTimeout bounds how long a [MultiService] or an [Application]
// waits for its children to stop; past it, the children not yet asked are
// asked at once, without waiting, and the stop fails with a
// [*StopTimeoutError]. The default is [DefaultStopTimeout]; d <= 0 waits
// as long as it takes.
func WithStopTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.stopTimeout = d })
}

// WithRetryPolicy sets how long a [ClientService] waits before its next
// connection attempt, or a [Supervisor] before it restarts its service,
// after attempt consecutive failures (attempt >= 1). The default is
// [DefaultRetryPolicy]; see [BackoffPolicy].
func WithRetryPolicy(policy func(attempt int) time.Duration) Option {
	return optionFunc(func(c *config) { c.retry = policy })
}

// WithSignals sets the signals that stop an [Application] gracefully; the
// default is SIGINT and SIGTERM (what Ctrl-C and `kill -15` send, which
// stop a twistd program).
func WithSignals(sigs ...os.Signal) Option {
	return optionFunc(func(c *config) { c.signals = append(c.signals[:len(c.signals):len(c.signals)], sigs...) })
}

// nameOf is how logs and errors name s.
func nameOf(s Service) string {
	if n := s.Name(); n != "" {
		return n
	}
	return fmt.Sprintf("%T", s)
}

// call runs a start or stop method, turning a panic into a failed Deferred
// and a nil Deferred into a fired one.
func call(f func() *deferred.Deferred[struct{}]) (d *deferred.Deferred[struct{}]) {
	defer func() {
		if v := recover(); v != nil {
			d = deferred.Fail[struct{}](failure.FromPanic(v))
		}
	}()
	if d = f(); d == nil {
		d = deferred.Succeed(struct{}{})
	}
	return d
}

// await arranges for later to run with d's outcome when d fires, unless d
// has fired already: then await reports true and the outcome, and later
// never runs. Callers continue in a loop on a fired Deferred instead of
// recursing through its callback. d's failure is handed over: the caller
// reports it.
func await[T any](d *deferred.Deferred[T], later func(T, *failure.Failure)) (fired bool, v T, f *failure.Failure) {
	adding := true
	d.AddBoth(func(got T, gotF *failure.Failure) (T, error) {
		if adding {
			fired, v, f = true, got, gotF
		} else {
			later(got, gotF)
		}
		var zero T
		return zero, nil
	})
	adding = false
	return fired, v, f
}

// fireAll fires every Deferred of ds with err (success when nil).
func fireAll(ds []*deferred.Deferred[struct{}], err error) {
	for _, d := range ds {
		if err != nil {
			d.Errback(err)
		} else {
			d.Callback(struct{}{})
		}
	}
}

// Simple is a [Service] made of two functions, the way a Twisted Service
// subclass overrides startService and stopService: for a part of a program
// that needs no more than a start and a stop hook.
type Simple struct {
	name        string
	start, stop func() *deferred.Deferred[struct{}]
	running     bool
}

// New returns a stopped Simple service named name. start runs in
// StartService and stop in StopService; either may be nil (nothing to do),
// return nil (done at once) or return a Deferred to wait for.
func New(name string, start, stop func() *deferred.Deferred[struct{}]) *Simple {
	return &Simple{name: name, start: start, stop: stop}
}

// Name returns the name given to New.
func (s *Simple) Name() string { return s.name }

// Running reports whether the service was started and not stopped since
// (nor failed to start).
func (s *Simple) Running() bool { return s.running }

// StartService calls start. When start fails (its Deferred fails, or it
// panics), the service is left stopped.
func (s *Simple) StartService() *deferred.Deferred[struct{}] {
	if s.running {
		return deferred.Fail[struct{}](ErrAlreadyRunning)
	}
	s.running = true
	if s.start == nil {
		return deferred.Succeed(struct{}{})
	}
	return call(s.start).AddErrback(func(f *failure.Failure) (struct{}, error) {
		s.running = false
		return struct{}{}, f
	})
}

// StopService calls stop, unless the service is stopped already.
func (s *Simple) StopService() *deferred.Deferred[struct{}] {
	if !s.running {
		return deferred.Succeed(struct{}{})
	}
	s.running = false
	if s.stop == nil {
		return deferred.Succeed(struct{}{})
	}
	return call(s.stop)
}
