// Package failure provides [Failure], an error that remembers where it was
// raised, the Go counterpart of Twisted's twisted.python.failure.Failure.
//
// A Failure wraps an error (or a recovered panic) together with the program
// counters of the stack that produced it: at most 16 frames ([New]), 32 for
// a panic ([FromPanic]), recorded in the Failure's own allocation and only
// symbolised when printed. [FromFunc] records just the function that
// returned the error, which costs no stack walk at all: a Deferred wraps
// the errors its callbacks return that way, so the error path of a chain
// costs little more than its success path. A Failure wraps and never
// replaces: errors.Is and errors.As see the error inside it. It logs with
// log/slog as a group of its message and traceback ([Failure.LogValue]).
//
//	f := failure.New(io.EOF)
//	errors.Is(f, io.EOF) // true
//	fmt.Printf("%+v", f) // the message, then a traceback like Twisted's
package failure
