package deferred_test

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
)

var errBoom = errors.New("boom")

// result reads the current result of d by adding a step, handling any
// Failure so the test stays clean.
func result[T any](t testing.TB, d *deferred.Deferred[T]) (v T, f *failure.Failure, fired bool) {
	t.Helper()
	d.AddBoth(func(x T, xf *failure.Failure) (T, error) {
		v, f, fired = x, xf, true
		var zero T
		return zero, nil
	})
	return v, f, fired
}

func TestCallbacksRunInOrderOnFire(t *testing.T) {
	deferredtest.NoUnhandled(t)
	var trace []string
	d := deferred.New[int]()
	d.AddCallback(func(n int) (int, error) { trace = append(trace, fmt.Sprint("a", n)); return n + 1, nil })
	d.AddCallback(func(n int) (int, error) { trace = append(trace, fmt.Sprint("b", n)); return n * 10, nil })
	assert.Empty(t, trace, "nothing runs before the Deferred fires")
	require.NoError(t, d.Callback(1))
	assert.Equal(t, []string{"a1", "b2"}, trace)
	v, f, fired := result(t, d)
	assert.True(t, fired)
	assert.Nil(t, f)
	assert.Equal(t, 20, v)
}

func TestCallbackAddedAfterFireRunsAtOnce(t *testing.T) {
	d := deferred.Succeed("x")
	ran := false
	d.AddCallback(func(s string) (string, error) { ran = true; return s + "y", nil })
	assert.True(t, ran)
	v, _, _ := result(t, d)
	assert.Equal(t, "xy", v)
}

func TestErrorSwitchesToErrbackAndBack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	var trace []string
	d := deferred.New[int]()
	d.AddCallback(func(int) (int, error) { trace = append(trace, "cb1"); return 0, errBoom })
	d.AddCallback(func(int) (int, error) { trace = append(trace, "skipped"); return 0, nil })
	d.AddErrback(func(f *failure.Failure) (int, error) {
		trace = append(trace, "eb:"+f.Error())
		assert.ErrorIs(t, f, errBoom)
		return 7, nil // recover
	})
	d.AddErrback(func(*failure.Failure) (int, error) { trace = append(trace, "skipped too"); return 0, nil })
	d.AddCallback(func(n int) (int, error) { trace = append(trace, fmt.Sprint("cb2:", n)); return n, nil })
	require.NoError(t, d.Callback(1))
	assert.Equal(t, []string{"cb1", "eb:boom", "cb2:7"}, trace)
}

func TestAddCallbacksPairSeesOnlyEarlierResult(t *testing.T) {
	// As in Twisted, the errback of a pair does not see its own callback's failure.
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	ebRan := false
	d.AddCallbacks(
		func(int) (int, error) { return 0, errBoom },
		func(*failure.Failure) (int, error) { ebRan = true; return 0, nil })
	require.NoError(t, d.Callback(1))
	assert.False(t, ebRan)
	_, f, _ := result(t, d)
	assert.ErrorIs(t, f, errBoom)
}

func TestErrbackTrapPassesOtherErrorsOn(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.Fail[int](errBoom)
	d.AddErrback(func(f *failure.Failure) (int, error) { return 0, f.Trap(io.EOF) })
	_, f, _ := result(t, d)
	require.NotNil(t, f)
	assert.ErrorIs(t, f, errBoom)

	d2 := deferred.Fail[int](io.EOF)
	d2.AddErrback(func(f *failure.Failure) (int, error) { return 0, f.Trap(io.EOF) })
	v, f, _ := result(t, d2)
	assert.Nil(t, f)
	assert.Zero(t, v)
}

func TestErrbackReturningSameFailureKeepsIt(t *testing.T) {
	d := deferred.Fail[int](errBoom)
	var first *failure.Failure
	d.AddErrback(func(f *failure.Failure) (int, error) { first = f; return 0, f })
	_, f, _ := result(t, d)
	assert.Same(t, first, f)
}

func TestAddBoth(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.Fail[string](errBoom)
	d.AddBoth(func(v string, f *failure.Failure) (string, error) {
		require.NotNil(t, f)
		return "recovered from " + f.Error(), nil
	})
	d.AddBoth(func(v string, f *failure.Failure) (string, error) {
		assert.Nil(t, f)
		return v + "!", nil
	})
	v, _, _ := result(t, d)
	assert.Equal(t, "recovered from boom!", v)
}

func TestPanicInCallbackBecomesFailure(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	d.AddCallback(func(int) (int, error) { panic("kaboom") })
	require.NotPanics(t, func() { require.NoError(t, d.Callback(1)) })
	_, f, _ := result(t, d)
	require.NotNil(t, f)
	assert.True(t, f.Panicked())
	assert.Equal(t, "panic: kaboom", f.Error())
	assert.Contains(t, f.Traceback(), "TestPanicInCallbackBecomesFailure")
}

func TestPanicInErrbackBecomesFailure(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.Fail[int](errBoom)
	d.AddErrback(func(*failure.Failure) (int, error) { panic(io.ErrUnexpectedEOF) })
	_, f, _ := result(t, d)
	require.NotNil(t, f)
	assert.True(t, f.Panicked())
	assert.ErrorIs(t, f, io.ErrUnexpectedEOF)
}

func TestExecute(t *testing.T) {
	deferredtest.NoUnhandled(t)
	v, f, _ := result(t, deferred.Execute(func() (int, error) { return 3, nil }))
	assert.Equal(t, 3, v)
	assert.Nil(t, f)
	_, f, _ = result(t, deferred.Execute(func() (int, error) { return 0, errBoom }))
	assert.ErrorIs(t, f, errBoom)
	_, f, _ = result(t, deferred.Execute(func() (int, error) { panic("p") }))
	require.NotNil(t, f)
	assert.True(t, f.Panicked())
}

func TestFireTwice(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	require.NoError(t, d.Callback(1))
	assert.ErrorIs(t, d.Callback(2), deferred.ErrAlreadyCalled)
	assert.ErrorIs(t, d.Errback(errBoom), deferred.ErrAlreadyCalled)
	v, _, _ := result(t, d)
	assert.Equal(t, 1, v, "the second fire changes nothing")
	assert.True(t, d.Called())
}

func TestErrbackNil(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	require.NoError(t, d.Errback(nil))
	_, f, _ := result(t, d)
	assert.ErrorIs(t, f, failure.ErrNilError)
}

func TestDebugAlreadyCalledSaysWhere(t *testing.T) {
	prev := deferred.SetDebug(true)
	defer deferred.SetDebug(prev)
	d := makeForDebug()
	fireForDebug(d)
	err := d.Callback(2)
	require.ErrorIs(t, err, deferred.ErrAlreadyCalled)
	var ace *deferred.AlreadyCalledError
	require.ErrorAs(t, err, &ace)
	assert.Contains(t, ace.Created, "makeForDebug")
	assert.Contains(t, ace.Fired, "fireForDebug")
	assert.Contains(t, err.Error(), "created at:")

	deferred.SetDebug(false)
	d2 := deferred.New[int]()
	require.NoError(t, d2.Callback(1))
	assert.Equal(t, deferred.ErrAlreadyCalled, d2.Callback(1), "outside debug mode the plain sentinel")
}

func TestDebugAlreadyCalledOnSucceedSaysWhereItFired(t *testing.T) {
	prev := deferred.SetDebug(true)
	defer deferred.SetDebug(prev)
	d := succeedForDebug()
	err := d.Callback(2)
	var ace *deferred.AlreadyCalledError
	require.ErrorAs(t, err, &ace)
	assert.Contains(t, ace.Fired, "succeedForDebug", "Succeed fired it, there")
	assert.NotContains(t, ace.Fired, "(unknown)")
	f := failForDebug()
	err = f.Callback(2)
	require.ErrorAs(t, err, &ace)
	assert.Contains(t, ace.Fired, "failForDebug")
	f.AddErrback(func(*failure.Failure) (int, error) { return 0, nil })
}

//go:noinline
func succeedForDebug() *deferred.Deferred[int] { return deferred.Succeed(1) }

//go:noinline
func failForDebug() *deferred.Deferred[int] { return deferred.Fail[int](errBoom) }

//go:noinline
func makeForDebug() *deferred.Deferred[int] { return deferred.New[int]() }

//go:noinline
func fireForDebug(d *deferred.Deferred[int]) { _ = d.Callback(1) }

func TestCallbacksAddedWhileRunningGoToTheEnd(t *testing.T) {
	var trace []string
	d := deferred.New[int]()
	d.AddCallback(func(n int) (int, error) {
		trace = append(trace, "first")
		d.AddCallback(func(n int) (int, error) {
			trace = append(trace, "added-inside")
			return n, nil
		})
		trace = append(trace, "first-returns")
		return n, nil
	})
	d.AddCallback(func(n int) (int, error) { trace = append(trace, "second"); return n, nil })
	require.NoError(t, d.Callback(0))
	assert.Equal(t, []string{"first", "first-returns", "second", "added-inside"}, trace)
}

func TestPauseUnpause(t *testing.T) {
	var trace []int
	d := deferred.New[int]()
	d.AddCallback(func(n int) (int, error) { trace = append(trace, n); return n + 1, nil })
	d.Pause()
	d.Pause()
	require.NoError(t, d.Callback(1))
	assert.Empty(t, trace)
	d.Unpause()
	assert.Empty(t, trace, "pauses nest")
	d.Unpause()
	assert.Equal(t, []int{1}, trace)

	// Pausing from inside a step stops the chain after it.
	d2 := deferred.New[int]()
	d2.AddCallback(func(n int) (int, error) { trace = append(trace, 10); d2.Pause(); return n, nil })
	d2.AddCallback(func(n int) (int, error) { trace = append(trace, 11); return n, nil })
	require.NoError(t, d2.Callback(0))
	assert.Equal(t, []int{1, 10}, trace)
	d2.Unpause()
	assert.Equal(t, []int{1, 10, 11}, trace)
}

func TestConcurrentAddAndFire(t *testing.T) {
	// Steps never run concurrently and run in the order they were added.
	d := deferred.New[int]()
	var mu sync.Mutex
	var order []int
	running := 0
	const n = 200
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			d.AddCallback(func(v int) (int, error) {
				mu.Lock()
				running++
				if running != 1 {
					t.Errorf("steps ran concurrently")
				}
				order = append(order, i)
				running--
				mu.Unlock()
				return v, nil
			})
		})
	}
	wg.Go(func() { <-start; _ = d.Callback(1) })
	close(start)
	wg.Wait()
	assert.Len(t, order, n)
}

func TestLongChainsRunInOrder(t *testing.T) {
	// A chain keeps its steps in the Deferred and then in blocks of eight:
	// steps queued before the fire, a pause in the middle of a block, and
	// steps queued while paused and while running all run once, in order.
	const n = 1000
	var trace []int
	d := deferred.New[int]()
	step := func(i int) func(int) (int, error) {
		return func(v int) (int, error) {
			trace = append(trace, i)
			if i == 500 {
				d.Pause()
			}
			return v + 1, nil
		}
	}
	for i := range n {
		d.AddCallback(step(i))
	}
	require.NoError(t, d.Callback(0))
	require.Len(t, trace, 501, "the chain stops after the step that pauses it")
	for i := n; i < n+20; i++ {
		d.AddCallback(step(i))
	}
	d.Unpause()
	require.Len(t, trace, n+20)
	for i, got := range trace {
		require.Equal(t, i, got)
	}
	v, f, fired := result(t, d)
	assert.True(t, fired)
	assert.Nil(t, f)
	assert.Equal(t, n+20, v)
}

func TestChainGrowingFromItsStepsRunsEveryStep(t *testing.T) {
	// Each step adds the next while the chain runs, one at a time: the
	// runner takes each as a batch of its own, across many blocks.
	const n = 100_000
	d := deferred.New[int]()
	var next func(int) (int, error)
	next = func(v int) (int, error) {
		if v < n {
			d.AddCallback(next)
		}
		return v + 1, nil
	}
	d.AddCallback(next)
	require.NoError(t, d.Callback(0))
	v, f, _ := result(t, d)
	assert.Nil(t, f)
	assert.Equal(t, n+1, v)

	// The chain rested: a step added now runs at once, and Pause nests.
	d.Pause()
	d.Pause()
	ran := false
	d.AddCallback(func(v int) (int, error) { ran = true; return v, nil })
	d.Unpause()
	assert.False(t, ran)
	d.Unpause()
	assert.True(t, ran)
}
