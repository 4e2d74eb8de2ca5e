package failure

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
)

// Bounds on the frames a Failure records: a few for an error, more for a
// panic, whose stack is the only record of where it happened.
const (
	maxDepth      = 16
	maxPanicDepth = 32
)

// ErrNilError is what a Failure made from a nil error wraps, so that misuse
// such as Errback(nil) still yields a meaningful, matchable error.
var ErrNilError = errors.New("failure: nil error")

// Failure is an error together with the stack where it was raised, or the
// recovered panic it came from. Create one with [New], [FromPanic] or
// [FromFunc]; the zero value is not useful. A Failure is immutable and safe
// for concurrent use.
type Failure struct {
	err      error
	pcs      []uintptr // return addresses, innermost first
	fn       uintptr   // FromFunc: the entry of the function that returned err
	panicked bool
}

// stacked is a Failure and its stack in one allocation.
type stacked[B any] struct {
	f   Failure
	buf B
}

// PanicError is the error of a Failure made by [FromPanic] from a panic
// value that is not itself an error.
type PanicError struct {
	Value any // the value passed to panic
}

// Error reports the panic value.
func (e *PanicError) Error() string { return fmt.Sprint(e.Value) }

// New returns a Failure for err, with the stack of New's caller (at most 16
// frames, recorded as program counters and symbolised only when printed).
// An err that already is a *Failure comes back unchanged; a nil err gives a
// Failure of [ErrNilError].
func New(err error) *Failure {
	if f, ok := err.(*Failure); ok && f != nil {
		return f
	}
	if err == nil {
		err = ErrNilError
	}
	s := &stacked[[maxDepth]uintptr]{}
	n := runtime.Callers(2, s.buf[:])
	s.f = Failure{err: err, pcs: s.buf[:n:n]}
	return &s.f
}

// FromFunc returns a Failure for err as returned by the function fn, which
// it records in place of a stack: the traceback names fn and where it is
// declared. It is the cheap way to wrap an error whose stack says nothing
// about where it came from, as when a Deferred wraps the error a callback
// returned (the callback has returned by then; only fn still knows).
// Like [New], it returns an err that already is a *Failure unchanged and
// turns a nil err into [ErrNilError]. fn must be a func value; any other
// value is ignored.
func FromFunc(err error, fn any) *Failure {
	if f, ok := err.(*Failure); ok && f != nil {
		return f
	}
	if err == nil {
		err = ErrNilError
	}
	f := &Failure{err: err}
	if v := reflect.ValueOf(fn); v.Kind() == reflect.Func && !v.IsNil() {
		f.fn = v.Pointer()
	}
	return f
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
	s := &stacked[[maxPanicDepth]uintptr]{}
	n := runtime.Callers(1, s.buf[:])
	s.f = Failure{err: err, panicked: true, pcs: panicSite(s.buf[:n:n])}
	return &s.f
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

// Frames returns the recorded stack, outermost call first. For a Failure
// made by [FromFunc] it is the one frame of that function's declaration.
func (f *Failure) Frames() []runtime.Frame {
	if f.fn != 0 {
		fn := runtime.FuncForPC(f.fn)
		if fn == nil {
			return nil
		}
		file, line := fn.FileLine(f.fn)
		return []runtime.Frame{{PC: f.fn, Func: fn, Function: fn.Name(), File: file, Line: line, Entry: f.fn}}
	}
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
	switch {
	case f.panicked:
		header = "Traceback (most recent call last, from a panic):"
	case f.fn != 0:
		header = "Traceback (the function that returned the error):"
	}
	fmt.Fprintln(w, header)
	for _, fr := range f.Frames() {
		fmt.Fprintf(w, "  %s\n      %s:%d\n", fr.Function, fr.File, fr.Line)
	}
	fmt.Fprintf(w, "%s: %s\n", typeName(f.err), f.Error())
}

// typeName is the type of err as a traceback shows it; a detached error
// shows the type of the error it was made from.
func typeName(err error) string {
	if d, ok := err.(*detachedError); ok {
		return d.typ
	}
	return fmt.Sprintf("%T", err)
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
