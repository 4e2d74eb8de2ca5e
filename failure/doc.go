// Package failure provides [Failure], an error that remembers where it was
// raised, the Go counterpart of Twisted's twisted.python.failure.Failure.
//
// A Failure wraps an error (or a recovered panic) together with the program
// counters of the stack that produced it. The stack is captured cheaply at
// creation and only symbolised when it is printed, so Failures can travel
// through a Deferred's errback chain at little cost. A Failure wraps and never
// replaces: errors.Is and errors.As see the error inside it.
//
//	f := failure.New(io.EOF)
//	errors.Is(f, io.EOF) // true
//	fmt.Printf("%+v", f) // the message, then a traceback like Twisted's
package failure
