package reactor

import "errors"

var (
	// ErrNotRunning is returned by [Reactor.Stop] when the reactor is not running:
	// Run was never called, or Stop was already called (Twisted's ReactorNotRunning).
	ErrNotRunning = errors.New("reactor: not running")
	// ErrAlreadyRunning is returned by [Reactor.Run] while the reactor runs.
	ErrAlreadyRunning = errors.New("reactor: already running")
	// ErrNotRestartable is returned by [Reactor.Run] once the reactor has stopped:
	// a reactor runs at most once, as Twisted's does.
	ErrNotRestartable = errors.New("reactor: not restartable")
	// ErrAlreadyCalled is returned by [DelayedCall] methods once the call has run.
	ErrAlreadyCalled = errors.New("reactor: delayed call already called")
	// ErrAlreadyCancelled is returned by [DelayedCall] methods once the call was
	// cancelled.
	ErrAlreadyCancelled = errors.New("reactor: delayed call already cancelled")
	// ErrNegativeDelay is the failure of a [CallLater] Deferred, and the error of
	// [DelayedCall.Reset], for a negative delay. ([Reactor.Schedule] and
	// [Clock.Schedule] panic instead: a negative delay there is a programming error.)
	ErrNegativeDelay = errors.New("reactor: negative delay")
	// ErrFDUnsupported is returned by the FD methods ([Reactor.AddReader] and
	// friends) on a backend without file-descriptor readiness, such as [Portable].
	ErrFDUnsupported = errors.New("reactor: file descriptors not supported by this backend")
	// ErrNegativeInterval fails the Deferred of [LoopingCall.Start] for a negative
	// interval.
	ErrNegativeInterval = errors.New("reactor: negative interval")
	// ErrLoopingCallRunning fails the Deferred of [LoopingCall.Start] when the
	// LoopingCall is already running.
	ErrLoopingCallRunning = errors.New("reactor: looping call already running")
	// ErrLoopingCallNotRunning is returned by [LoopingCall.Stop] when the
	// LoopingCall is not running.
	ErrLoopingCallNotRunning = errors.New("reactor: looping call not running")
)

// negativeDelayPanic is the panic value of Schedule and AfterFunc for a negative delay.
const negativeDelayPanic = "reactor: negative delay"
