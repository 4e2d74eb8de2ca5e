package failure

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
)

// maxDepth bounds the number of frames a Failure records.
const maxDepth = 32

// ErrNilError is what a Failure made from a nil error wraps, so that misuse
// such as Errback(nil) still yields a meaningful, matchable error.
var ErrNilError = errors.New("failure: nil error")

// Failure is an error together with the stack where it was raised, or the
// recovered panic it came from. Create one with [New] or [FromPanic]; the
// zero value is not useful. A Failure is immutable and safe for concurrent
// use.
type Failure struct {
	err      error
	panicked bool
	pcs      []uintptr
}

// PanicError is the error of a Failure made by [FromPanic] from a panic
// value that is not itself an error.
type PanicError struct {
	Value any // the value passed to panic
}

// Error reports the panic value.
func (e *PanicError) Error() string { return fmt.Sprint(e.Value) }

// New returns a Failure for err, with the stack of New's caller. An err that
// already is a *Failure comes back unchanged; a nil err gives a Failure of
// [ErrNilError].
func New(err error) *Failure {
	if f, ok := err.(*Failure); ok && f != nil {
		return f
	}
	if err == nil {
		err = ErrNilError
	}
	return &Failure{err: err, pcs: callers(2)}
}

// FromPanic returns a Failure for a value recovered from a panic. Call it
// from the deferred function that called recover: the Failure then records
// the stack of the panic site. A v that is an error is wrapped as is (so
// errors.Is sees it); any other value is wrapped in a *[PanicError]. A v that
// already is a *Failure comes back unchanged.
func FromPanic(v any) *Failure {
	if f, ok := v.(*Failure); ok && f != nil {
		return f
	}
	err, ok := v.(error)
	if !ok {
		err = &PanicError{Value: v}
	}
	return &Failure{err: err, panicked: true, pcs: panicSite(callers(1))}
}

// callers records the stack of its caller's caller's caller, and so on:
// skip counts the innermost frames left out, callers itself being the first.
func callers(skip int) []uintptr {
	var buf [maxDepth]uintptr
	n := runtime.Callers(skip+1, buf[:])
	pcs := make([]uintptr, n)
	copy(pcs, buf[:n])
	return pcs
}

// panicSite drops the frames above the panic site: the deferred function
// that recovered and the runtime's panic machinery.
func panicSite(pcs []uintptr) []uintptr {
	for i, pc := range pcs {
		if funcName(pc) != "runtime.gopanic" {
			continue
		}
		rest := pcs[i+1:]
		for len(rest) > 0 && strings.HasPrefix(funcName(rest[0]), "runtime.") {
			rest = rest[1:]
		}
		return rest
	}
	return pcs
}

func funcName(pc uintptr) string {
	if fn := runtime.FuncForPC(pc - 1); fn != nil {
		return fn.Name()
	}
	return ""
}

// Error returns the message of the wrapped error; a Failure from a panic
// says so with a "panic: " prefix.
func (f *Failure) Error() string {
	if f.panicked {
		return "panic: " + f.err.Error()
	}
	return f.err.Error()
}

// Unwrap returns the wrapped error, so errors.Is and errors.As see through
// a Failure.
func (f *Failure) Unwrap() error { return f.err }

// Panicked reports whether the Failure came from a recovered panic.
func (f *Failure) Panicked() bool { return f.panicked }

// Check returns the first of targets that errors.Is matches against f, or
// nil when none does (Twisted's Failure.check).
func (f *Failure) Check(targets ...error) error {
	for _, t := range targets {
		if errors.Is(f, t) {
			return t
		}
	}
	return nil
}

// Trap returns nil when f matches one of targets, and f itself otherwise, so
// that an errback can handle some errors and pass the rest on:
//
//	return zero, f.Trap(io.EOF)
//
// It is Twisted's Failure.trap, with the re-raise written as a return.
func (f *Failure) Trap(targets ...error) error {
	if f.Check(targets...) != nil {
		return nil
	}
	return f
}

// Frames returns the recorded stack, outermost call first.
func (f *Failure) Frames() []runtime.Frame {
	frames := make([]runtime.Frame, 0, len(f.pcs))
	it := runtime.CallersFrames(f.pcs)
	for {
		fr, more := it.Next()
		if fr.PC != 0 {
			frames = append(frames, fr)
		}
		if !more {
			break
		}
	}
	for i, j := 0, len(frames)-1; i < j; i, j = i+1, j-1 {
		frames[i], frames[j] = frames[j], frames[i]
	}
	return frames
}

// Traceback returns a readable traceback in the order of Twisted's
// getTraceback: the outermost call first, the raising frame last, then the
// error's type and message.
func (f *Failure) Traceback() string {
	var b strings.Builder
	f.writeTraceback(&b)
	return b.String()
}

func (f *Failure) writeTraceback(w io.Writer) {
	header := "Traceback (most recent call last):"
	if f.panicked {
		header = "Traceback (most recent call last, from a panic):"
	}
	fmt.Fprintln(w, header)
	for _, fr := range f.Frames() {
		fmt.Fprintf(w, "  %s\n      %s:%d\n", fr.Function, fr.File, fr.Line)
	}
	fmt.Fprintf(w, "%T: %s\n", f.err, f.Error())
}

// Format implements fmt.Formatter: %v and %s print the message, %q the
// quoted message, and %+v the message followed by the traceback.
func (f *Failure) Format(s fmt.State, verb rune) {
	switch {
	case verb == 'v' && s.Flag('+'):
		io.WriteString(s, f.Error())
		io.WriteString(s, "\n")
		f.writeTraceback(s)
	case verb == 'q':
		fmt.Fprintf(s, "%q", f.Error())
	default:
		io.WriteString(s, f.Error())
	}
}
