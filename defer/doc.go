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
package deferred
