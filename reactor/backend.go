package reactor

import "strconv"

// Backend names how a [Reactor] waits for events. Choose one with [WithBackend];
// [Reactor.Backend] tells which one a reactor uses.
type Backend uint8

const (
	// Portable waits on a channel and a timer; it runs on every OS. I/O comes from
	// goroutines that hand their results to the loop with
	// [Reactor.CallFromGoroutine]; the FD methods return [ErrFDUnsupported].
	Portable Backend = iota + 1
	// Epoll (Linux only) waits on an epoll descriptor, and offers the FD
	// methods ([Reactor.AddReader] and friends) so non-blocking sockets are
	// served on the loop without a goroutine each. While idle the loop
	// goroutine is parked in Go's network poller, leaving its P to other
	// goroutines; the last millisecond before a timer is waited for in
	// epoll_pwait2, for sub-millisecond precision. Asking for it on another
	// OS gives a Portable reactor.
	Epoll
)

// String returns "epoll" or "portable"; for the zero Backend, which
// [WithBackend] takes as [DefaultBackend], "default(epoll)" on Linux.
func (b Backend) String() string {
	switch b {
	case Portable:
		return "portable"
	case Epoll:
		return "epoll"
	case 0:
		return "default(" + DefaultBackend.String() + ")"
	default:
		return "Backend(" + strconv.Itoa(int(b)) + ")"
	}
}
