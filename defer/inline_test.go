package deferred_test

import (
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
)

func TestInlineFiredAwaitsRunAtOnce(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.Inline(func(co *deferred.Co) (int, error) {
		a, err := deferred.Await(co, deferred.Succeed(20))
		if err != nil {
			return 0, err
		}
		b, err := deferred.Await(co, deferred.Succeed(22))
		return a + b, err
	})
	require.True(t, d.Called(), "no await suspended: Inline has fired on return")
	v, f, _ := result(t, d)
	require.Nil(t, f)
	assert.Equal(t, 42, v)
}

func TestInlineSuspendsOnUnfired(t *testing.T) {
	deferredtest.NoUnhandled(t)
	src := deferred.New[string]()
	var trace []string // touched by the body and the test without a lock: they never overlap
	d := deferred.Inline(func(co *deferred.Co) (string, error) {
		trace = append(trace, "start")
		s, err := deferred.Await(co, src)
		trace = append(trace, "got "+s)
		return s + "!", err
	})
	trace = append(trace, "inline returned")
	assert.False(t, d.Called())
	require.NoError(t, src.Callback("hi"))
	trace = append(trace, "callback returned")
	assert.Equal(t, []string{"start", "inline returned", "got hi", "callback returned"}, trace,
		"the body runs while Callback is blocked, and finishes before it returns")
	v, f, _ := result(t, d)
	require.Nil(t, f)
	assert.Equal(t, "hi!", v)
	// Await took the awaited result: the source chain goes on with zero.
	sv, _, _ := result(t, src)
	assert.Equal(t, "", sv)
}

func TestInlineAwaitFailureIsHandled(t *testing.T) {
	rec := deferredtest.Record(t)
	func() {
		src := deferred.New[int]()
		d := deferred.Inline(func(co *deferred.Co) (int, error) {
			_, err := deferred.Await(co, src)
			assert.ErrorIs(t, err, io.EOF)
			_, err2 := deferred.Await(co, deferred.Fail[int](errBoom))
			assert.ErrorIs(t, err2, errBoom)
			return 1, nil // recovered
		})
		require.NoError(t, src.Errback(io.EOF))
		v, f, _ := result(t, d)
		assert.Nil(t, f)
		assert.Equal(t, 1, v)
	}()
	assert.Empty(t, rec.Collect(), "awaited failures count as handled")
}

func TestInlineErrorAndPanic(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.Inline(func(co *deferred.Co) (int, error) { return 0, io.EOF })
	_, f, _ := result(t, d)
	assert.ErrorIs(t, f, io.EOF)
	assert.False(t, f.Panicked())

	src := deferred.New[int]()
	p := deferred.Inline(func(co *deferred.Co) (int, error) {
		deferred.Await(co, src)
		panic("kaboom")
	})
	require.NoError(t, src.Callback(1), "a panicking body does not unwind into Callback")
	_, f, _ = result(t, p)
	require.NotNil(t, f)
	assert.True(t, f.Panicked())
	assert.Contains(t, f.Error(), "kaboom")
}

func TestInlineCancelCancelsAwaitedAndBodyRecovers(t *testing.T) {
	deferredtest.NoUnhandled(t)
	cancels := 0
	awaited := cancelCounter[int](&cancels)
	next := deferred.New[int]()
	d := deferred.Inline(func(co *deferred.Co) (int, error) {
		_, err := deferred.Await(co, awaited)
		if !errors.Is(err, deferred.ErrCancelled) {
			return 0, errors.New("want ErrCancelled")
		}
		// Recover, and go on waiting for more.
		v, err := deferred.Await(co, next)
		return v * 2, err
	})
	d.Cancel()
	assert.Equal(t, 1, cancels)
	ran := false
	d.AddCallback(func(v int) (int, error) { ran = true; return v, nil })
	assert.False(t, ran, "the Inline Deferred waits for the body")
	require.NoError(t, next.Callback(21))
	require.True(t, ran)
	v, f, _ := result(t, d)
	require.Nil(t, f)
	assert.Equal(t, 42, v)
}

func TestInlineSecondCancelReachesWhatTheBodyAwaitsNow(t *testing.T) {
	// Twisted forwards each cancel to what the generator waits on at the
	// time: a body that recovered from one Cancel and awaits another
	// Deferred sees that one cancelled by the next Cancel.
	deferredtest.NoUnhandled(t)
	var firstCancels, secondCancels int
	first, second := cancelCounter[int](&firstCancels), cancelCounter[int](&secondCancels)
	var errs []error
	d := deferred.Inline(func(co *deferred.Co) (int, error) {
		_, err := deferred.Await(co, first)
		errs = append(errs, err)
		_, err = deferred.Await(co, second)
		errs = append(errs, err)
		return 7, nil
	})
	d.Cancel()
	assert.Equal(t, []int{1, 0}, []int{firstCancels, secondCancels})
	d.Cancel()
	assert.Equal(t, []int{1, 1}, []int{firstCancels, secondCancels})
	require.Len(t, errs, 2)
	assert.ErrorIs(t, errs[0], deferred.ErrCancelled)
	assert.ErrorIs(t, errs[1], deferred.ErrCancelled)
	v, f, _ := result(t, d)
	assert.Nil(t, f)
	assert.Equal(t, 7, v, "the body recovered both times")
	d.Cancel() // done: nothing left to cancel
	assert.Equal(t, []int{1, 1}, []int{firstCancels, secondCancels})
}

func TestInlineCancelPropagatesError(t *testing.T) {
	deferredtest.NoUnhandled(t)
	awaited := deferred.New[int]()
	d := deferred.Inline(func(co *deferred.Co) (int, error) {
		return deferred.Await(co, awaited)
	})
	d.Cancel()
	_, f, fired := result(t, d)
	require.True(t, fired)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	assert.NoError(t, awaited.Callback(1), "the awaited Deferred had no canceller: one late fire is ignored")
}

func TestInlineCancelWhileRunningCancelsNextAwait(t *testing.T) {
	deferredtest.NoUnhandled(t)
	var self *deferred.Deferred[string]
	gate := deferred.New[int]()
	later := deferred.New[int]()
	self = deferred.Inline(func(co *deferred.Co) (string, error) {
		deferred.Await(co, gate)
		self.Cancel() // the body is running: the next Await is cancelled
		_, err := deferred.Await(co, later)
		if errors.Is(err, deferred.ErrCancelled) {
			return "cancelled", nil
		}
		return "not cancelled", err
	})
	require.NoError(t, gate.Callback(0))
	v, f, _ := result(t, self)
	require.Nil(t, f)
	assert.Equal(t, "cancelled", v)
	assert.True(t, later.Called())
}

func TestInlineCancelAfterDoneDoesNothing(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.Inline(func(co *deferred.Co) (int, error) { return 3, nil })
	d.Cancel()
	v, f, _ := result(t, d)
	assert.Nil(t, f)
	assert.Equal(t, 3, v)
}

func TestInlineNestedAndAwaitInline(t *testing.T) {
	deferredtest.NoUnhandled(t)
	src := deferred.New[int]()
	inner := func() *deferred.Deferred[int] {
		return deferred.Inline(func(co *deferred.Co) (int, error) {
			v, err := deferred.Await(co, src)
			return v + 1, err
		})
	}
	outer := deferred.Inline(func(co *deferred.Co) (int, error) {
		v, err := deferred.Await(co, inner())
		return v * 10, err
	})
	require.NoError(t, src.Callback(4))
	v, f, _ := result(t, outer)
	require.Nil(t, f)
	assert.Equal(t, 50, v)

	// Cancelling the outer cancels through the awaited inner Inline.
	src2 := deferred.New[int]()
	outer2 := deferred.Inline(func(co *deferred.Co) (int, error) {
		return deferred.Await(co, deferred.Inline(func(co *deferred.Co) (int, error) {
			return deferred.Await(co, src2)
		}))
	})
	outer2.Cancel()
	_, f, _ = result(t, outer2)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	assert.True(t, src2.Called())
}

func TestInlineManyAwaitsDoNotGrowTheStack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	const n = 10000
	srcs := make([]*deferred.Deferred[int], n)
	for i := range srcs {
		srcs[i] = deferred.New[int]()
	}
	d := deferred.Inline(func(co *deferred.Co) (int, error) {
		sum := 0
		for _, s := range srcs {
			v, err := deferred.Await(co, s)
			if err != nil {
				return 0, err
			}
			sum += v
		}
		return sum, nil
	})
	for _, s := range srcs {
		require.NoError(t, s.Callback(1))
	}
	v, f, _ := result(t, d)
	require.Nil(t, f)
	assert.Equal(t, n, v)
}

func TestInlineConcurrentFirers(t *testing.T) {
	deferredtest.NoUnhandled(t)
	const bodies, steps = 20, 50
	srcs := make([][]*deferred.Deferred[int], bodies)
	outs := make([]*deferred.Deferred[int], bodies)
	for b := range bodies {
		srcs[b] = make([]*deferred.Deferred[int], steps)
		for i := range srcs[b] {
			srcs[b][i] = deferred.New[int]()
		}
		local := 0 // owned by the body; the race detector checks hand-offs
		outs[b] = deferred.Inline(func(co *deferred.Co) (int, error) {
			for _, s := range srcs[b] {
				v, err := deferred.Await(co, s)
				if err != nil {
					return 0, err
				}
				local += v
			}
			return local, nil
		})
	}
	var wg sync.WaitGroup
	for i := range steps {
		// Each step of every body is fired from a different goroutine,
		// some before the body reaches its Await, some after.
		for b := range bodies {
			wg.Go(func() { assert.NoError(t, srcs[b][i].Callback(i)) })
		}
	}
	wg.Wait()
	for _, d := range outs {
		v, err := d.Wait(t.Context())
		require.NoError(t, err)
		assert.Equal(t, steps*(steps-1)/2, v)
	}
}

func TestInlineConcurrentCancel(t *testing.T) {
	deferredtest.NoUnhandled(t)
	for range 200 {
		src := deferred.New[int]()
		d := deferred.Inline(func(co *deferred.Co) (int, error) {
			v, err := deferred.Await(co, src)
			if errors.Is(err, deferred.ErrCancelled) {
				return -1, nil
			}
			return v, err
		})
		var wg sync.WaitGroup
		wg.Go(func() { d.Cancel() })
		wg.Go(func() {
			if err := src.Callback(5); err != nil {
				assert.ErrorIs(t, err, deferred.ErrAlreadyCalled)
			}
		})
		wg.Wait()
		v, err := d.Wait(t.Context())
		require.NoError(t, err)
		assert.Contains(t, []int{-1, 5}, v)
	}
}
