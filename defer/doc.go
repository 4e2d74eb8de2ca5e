// Package deferred provides [Deferred], a result that is not there yet,
// with Twisted's callback and errback chains, and the tools built on it:
// combinators ([All], [List], [Race]), coordination ([Lock], [Semaphore],
// [Queue]) and coroutines ([Inline], [Await]).
//
// The package lives in the directory defer/ (defer is a Go keyword), so
// import it with a name:
//
//	import deferred "github.com/twistgo/twist/defer"
//
// A Deferred is fired once, with [Deferred.Callback] or [Deferred.Errback].
// Steps added with [Deferred.AddCallback], [Deferred.AddErrback] and
// [Deferred.AddBoth] process the result in order; [Then] and [ThenDeferred]
// add steps that change the result's type or wait on another Deferred:
//
//	d := deferred.New[int]()
//	doubled := deferred.Then(d, func(n int) (string, error) {
//		return strconv.Itoa(2 * n), nil
//	})
//	doubled.AddErrback(func(f *failure.Failure) (string, error) {
//		return "", f.Trap(deferred.ErrCancelled) // handle cancellation only
//	})
//	d.Callback(21) // doubled now holds "42"
//
// Errors travel as [failure.Failure] values that keep the stack where they
// were raised; a panic in a step becomes one too. A chain that ends on a
// Failure nobody handled is reported when its Deferred is garbage collected
// (see [SetUnhandledHandler]), so no error disappears silently.
//
// Deferreds are safe for concurrent use, but their steps run on whichever
// goroutine fires the Deferred or adds a step to a fired one. In a twist
// program that is the reactor's goroutine; other goroutines wait for a
// result with [Deferred.Wait].
//
// # Stack depth
//
// The package hands results on without recursing, however long the chain:
// a step that returns or follows another Deferred ([Then], [ThenDeferred],
// [Deferred.Chain], [Deferred.AddCallbackDeferred]), the combinators, and
// [Inline] bodies resuming one another all run from one loop with an
// explicit stack, as Twisted's _runCallbacks does, so a hundred thousand
// nested Deferreds fire in constant stack. [Lock], [Semaphore] and [Queue]
// run the next waiter's callbacks inside the Release or Put that serves it,
// as Twisted does, up to 8 levels deep, and past that leave it to the
// innermost hand-off in progress, so that ten thousand waiters passing a
// token on do not grow the stack (Twisted's recursion overflows there).
//
// One shape still recurses: user code that, from a callback, adds the next
// step of a loop to a Deferred that has fired already,
//
//	var next func(int) (int, error)
//	next = func(i int) (int, error) {
//		if i < n {
//			deferred.Succeed(i + 1).AddCallback(next)
//		}
//		return i, nil
//	}
//
// because a step added to a fired Deferred runs before AddCallback returns
// (Twisted's rule, which this package keeps), so each round runs inside
// the one before, as it does in Twisted. Bounding it would take a count of
// the steps running on the current goroutine, to queue a step added deeper
// than a few levels (Netty counts listener depth per event-loop thread and
// hands deeper ones to the loop). Go has no goroutine-local storage to keep
// that count in: a count shared by all goroutines would delay other
// goroutines' steps, and telling goroutines apart takes the runtime's
// internals (assembly or linkname, tied to one Go version) or parsing
// runtime.Stack, which costs about as much as fifty steps. Write such loops
// with [Inline] and [Await], which run in constant stack, or have the
// reactor call the next round (its Schedule with no delay).
package deferred
