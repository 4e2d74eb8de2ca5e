package deferred_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
)

// onExitingGoroutine runs f on a goroutine of its own, which f is expected
// to end with runtime.Goexit, and waits for it.
func onExitingGoroutine(t *testing.T, f func()) {
	t.Helper()
	returned := make(chan bool)
	go func() {
		ok := false
		defer func() { returned <- ok }()
		f()
		ok = true
	}()
	require.False(t, <-returned, "f was to call runtime.Goexit")
}

func goexitStep(int) (int, error) {
	runtime.Goexit()
	return 0, nil
}

func TestGoexitInQueuedStepLeavesAFailureAndTheChainGoesOn(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	d.AddCallback(goexitStep)
	skipped := false
	d.AddCallback(func(v int) (int, error) { skipped = true; return v, nil })
	var seen *failure.Failure
	d.AddErrback(func(f *failure.Failure) (int, error) { seen = f; return 5, nil })
	onExitingGoroutine(t, func() { _ = d.Callback(1) })
	assert.False(t, skipped)
	require.NotNil(t, seen, "the errback ran as the goroutine unwound")
	assert.ErrorIs(t, seen, deferred.ErrGoexit)
	assert.Contains(t, seen.Traceback(), "goexitStep", "the traceback shows where")
	// The Deferred rests: a step added now runs at once.
	v, err := d.Wait(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 5, v)
}

func TestGoexitOnTheFastPath(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.Succeed(1)
	onExitingGoroutine(t, func() { d.AddCallback(goexitStep) })
	_, err := d.Wait(t.Context())
	assert.ErrorIs(t, err, deferred.ErrGoexit)
	ran := false
	d.AddErrback(func(*failure.Failure) (int, error) { ran = true; return 0, nil })
	assert.True(t, ran, "the chain is at rest, not running")
}

func TestGoexitUnderAHandOffFinishesEveryChain(t *testing.T) {
	deferredtest.NoUnhandled(t)
	src := deferred.New[int]()
	out := deferred.Then(src, func(v int) (int, error) { return v + 1, nil })
	out.AddCallback(goexitStep)
	after := false
	src.AddCallback(func(v int) (int, error) { after = true; return v, nil })
	onExitingGoroutine(t, func() { _ = src.Callback(1) })
	assert.True(t, after, "the source chain, suspended under out's, finished")
	_, err := out.Wait(t.Context())
	assert.ErrorIs(t, err, deferred.ErrGoexit)
}

func TestGoexitInInlineBodyFailsTheInlineDeferred(t *testing.T) {
	deferredtest.NoUnhandled(t)
	src := deferred.New[int]()
	d := deferred.Inline(func(co *deferred.Co) (int, error) {
		if _, err := deferred.Await(co, src); err != nil {
			return 0, err
		}
		runtime.Goexit()
		return 1, nil
	})
	onExitingGoroutine(t, func() { _ = src.Callback(1) })
	_, err := d.Wait(t.Context())
	assert.ErrorIs(t, err, deferred.ErrGoexit)
}

func TestGoexitInCancellerFailsTheDeferred(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.NewWithCanceller(func(*deferred.Deferred[int]) { runtime.Goexit() })
	onExitingGoroutine(t, d.Cancel)
	_, err := d.Wait(t.Context())
	assert.ErrorIs(t, err, deferred.ErrGoexit)
}

func TestGoexitInThenCallbackFailsItsOutput(t *testing.T) {
	deferredtest.NoUnhandled(t)
	src := deferred.New[int]()
	out := deferred.Then(src, func(int) (string, error) { runtime.Goexit(); return "", nil })
	onExitingGoroutine(t, func() { _ = src.Callback(1) })
	_, err := out.Wait(t.Context())
	assert.ErrorIs(t, err, deferred.ErrGoexit, "the output fails, as for a panic")
	v, err := src.Wait(t.Context())
	require.NoError(t, err, "the source's result moved on; its chain goes on with zero")
	assert.Zero(t, v)
}
