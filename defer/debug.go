package deferred

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
)

var debug atomic.Bool

// SetDebug turns debug mode on or off for Deferreds created afterwards and
// returns the previous setting. In debug mode a Deferred records the stack
// where it was created and where it first fired, and a second fire returns
// an [*AlreadyCalledError] that shows both. It costs two stack captures per
// Deferred; leave it off in production. SetDebug is safe for concurrent use.
func SetDebug(on bool) (previous bool) {
	return debug.Swap(on)
}

// origin is what debug mode records about a Deferred.
type origin struct {
	created []uintptr
	fire    []uintptr
}

func newOrigin() *origin {
	return &origin{created: stack(3)}
}

// fired records, in debug mode, where the Deferred that r belongs to
// fired.
func (r *rare) fired() {
	if r.origin != nil {
		r.origin.fired()
	}
}

func (o *origin) fired() {
	if o.fire == nil {
		o.fire = stack(4)
	}
}

func stack(skip int) []uintptr {
	pcs := make([]uintptr, 32)
	return pcs[:runtime.Callers(skip, pcs)]
}

func formatStack(pcs []uintptr) string {
	if len(pcs) == 0 {
		return "  (unknown)\n"
	}
	var b strings.Builder
	frames := runtime.CallersFrames(pcs)
	for {
		fr, more := frames.Next()
		if !strings.HasPrefix(fr.Function, "github.com/twistgo/twist/defer.") {
			fmt.Fprintf(&b, "  %s\n      %s:%d\n", fr.Function, fr.File, fr.Line)
		}
		if !more {
			return b.String()
		}
	}
}

// alreadyCalled is the error of a second fire; called with d.mu held.
func (d *Deferred[T]) alreadyCalled() error {
	if d.rare == nil || d.rare.origin == nil {
		return ErrAlreadyCalled
	}
	o := d.rare.origin
	return &AlreadyCalledError{Created: formatStack(o.created), Fired: formatStack(o.fire)}
}
