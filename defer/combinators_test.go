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
	"github.com/twistgo/twist/failure"
)

// cancelCounter returns a Deferred whose canceller counts its calls.
func cancelCounter[T any](n *int) *deferred.Deferred[T] {
	return deferred.NewWithCanceller(func(*deferred.Deferred[T]) { *n++ })
}

func TestAllKeepsInputOrder(t *testing.T) {
	deferredtest.NoUnhandled(t)
	a, b, c := deferred.New[int](), deferred.New[int](), deferred.New[int]()
	all := deferred.All(a, b, c)
	require.NoError(t, c.Callback(3))
	require.NoError(t, a.Callback(1))
	assert.False(t, all.Called(), "All fired before its last input")
	require.NoError(t, b.Callback(2))
	v, f, fired := result(t, all)
	require.True(t, fired)
	require.Nil(t, f)
	assert.Equal(t, []int{1, 2, 3}, v)
	// Values stay in the inputs' chains.
	v2, _, _ := result(t, b)
	assert.Equal(t, 2, v2)
}

func TestAllOfFiredAndNone(t *testing.T) {
	deferredtest.NoUnhandled(t)
	v, f, fired := result(t, deferred.All(deferred.Succeed("a"), deferred.Succeed("b")))
	require.True(t, fired)
	require.Nil(t, f)
	assert.Equal(t, []string{"a", "b"}, v)

	empty, f, fired := result(t, deferred.All[int]())
	require.True(t, fired)
	require.Nil(t, f)
	assert.NotNil(t, empty)
	assert.Empty(t, empty)
}

func TestAllFirstErrorConsumesEveryFailure(t *testing.T) {
	rec := deferredtest.Record(t)
	func() {
		a, b, c := deferred.New[int](), deferred.New[int](), deferred.New[int]()
		all := deferred.All(a, b, c)
		require.NoError(t, b.Errback(io.EOF))
		_, f, fired := result(t, all)
		require.True(t, fired)
		require.NotNil(t, f)
		var fe *deferred.FirstError
		require.ErrorAs(t, f, &fe)
		assert.Equal(t, 1, fe.Index)
		assert.ErrorIs(t, fe.Failure, io.EOF)
		assert.ErrorIs(t, f, io.EOF, "errors.Is sees through FirstError")
		assert.Contains(t, fe.Error(), "input 1 failed")

		// A later failure is consumed too: the input goes on with zero.
		require.NoError(t, c.Errback(errBoom))
		v, cf, _ := result(t, c)
		assert.Nil(t, cf)
		assert.Equal(t, 0, v)
		v, bf, _ := result(t, b)
		assert.Nil(t, bf)
		assert.Equal(t, 0, v)
		require.NoError(t, a.Callback(1))
	}()
	assert.Empty(t, rec.Collect(), "no Failure may be reported as unhandled")
}

func TestAllCancelCancelsPendingInputs(t *testing.T) {
	deferredtest.NoUnhandled(t)
	var na, nb int
	a, b := cancelCounter[int](&na), cancelCounter[int](&nb)
	done := deferred.Succeed(7)
	all := deferred.All(done, a, b)
	all.Cancel()
	all.Cancel()
	assert.Equal(t, 1, na)
	assert.Equal(t, 1, nb)
	_, f, fired := result(t, all)
	require.True(t, fired)
	var fe *deferred.FirstError
	require.ErrorAs(t, f, &fe)
	assert.Equal(t, 1, fe.Index)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
}

func TestAllConcurrentInputs(t *testing.T) {
	deferredtest.NoUnhandled(t)
	const n = 200
	ds := make([]*deferred.Deferred[int], n)
	for i := range ds {
		ds[i] = deferred.New[int]()
	}
	all := deferred.All(ds...)
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() { assert.NoError(t, d.Callback(i*i)) })
	}
	wg.Wait()
	v, err := all.Wait(t.Context())
	require.NoError(t, err)
	for i := range n {
		require.Equal(t, i*i, v[i])
	}
}

func TestListOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts deferred.ListOptions
	}{
		{"default", deferred.ListOptions{}},
		{"FireOnOneErrback", deferred.ListOptions{FireOnOneErrback: true}},
		{"ConsumeErrors", deferred.ListOptions{ConsumeErrors: true}},
		{"both", deferred.ListOptions{FireOnOneErrback: true, ConsumeErrors: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deferredtest.NoUnhandled(t)
			a, b, c := deferred.New[int](), deferred.New[int](), deferred.New[int]()
			list := deferred.List([]*deferred.Deferred[int]{a, b, c}, tc.opts)
			require.NoError(t, c.Callback(3))
			require.NoError(t, b.Errback(io.EOF))

			// What b's own chain sees after the List.
			bv, bf, _ := result(t, b)
			if tc.opts.ConsumeErrors {
				assert.Nil(t, bf, "a consumed failure leaves the input on its success path")
				assert.Equal(t, 0, bv)
			} else {
				require.NotNil(t, bf, "without ConsumeErrors the failure stays in the input")
				assert.ErrorIs(t, bf, io.EOF)
			}

			if tc.opts.FireOnOneErrback {
				require.True(t, list.Called(), "FireOnOneErrback fires on the first failure")
				_, f, _ := result(t, list)
				var fe *deferred.FirstError
				require.ErrorAs(t, f, &fe)
				assert.Equal(t, 1, fe.Index)
				assert.ErrorIs(t, f, io.EOF)
				require.NoError(t, a.Callback(1))
				return
			}
			assert.False(t, list.Called())
			require.NoError(t, a.Callback(1))
			outcomes, f, fired := result(t, list)
			require.True(t, fired)
			require.Nil(t, f)
			require.Len(t, outcomes, 3)
			assert.Equal(t, deferred.Outcome[int]{Value: 1}, outcomes[0])
			assert.ErrorIs(t, outcomes[1].Failure, io.EOF)
			assert.Equal(t, deferred.Outcome[int]{Value: 3}, outcomes[2])
		})
	}
}

func TestListEmptyAndCancel(t *testing.T) {
	deferredtest.NoUnhandled(t)
	v, f, fired := result(t, deferred.List[int](nil, deferred.ListOptions{}))
	require.True(t, fired)
	require.Nil(t, f)
	assert.Empty(t, v)

	var n int
	a := cancelCounter[int](&n)
	list := deferred.List([]*deferred.Deferred[int]{a, deferred.Succeed(2)}, deferred.ListOptions{ConsumeErrors: true})
	list.Cancel()
	assert.Equal(t, 1, n)
	outcomes, f, fired := result(t, list)
	require.True(t, fired)
	require.Nil(t, f)
	assert.ErrorIs(t, outcomes[0].Failure, deferred.ErrCancelled)
	assert.Equal(t, 2, outcomes[1].Value)
}

func TestRaceFirstSuccessWinsAndCancelsOthersOnce(t *testing.T) {
	deferredtest.NoUnhandled(t)
	var n0, n2 int
	d0, d1, d2 := cancelCounter[string](&n0), deferred.New[string](), cancelCounter[string](&n2)
	r := deferred.Race(d0, d1, d2)
	require.NoError(t, d1.Callback("one"))
	assert.Equal(t, 1, n0)
	assert.Equal(t, 1, n2)
	w, f, fired := result(t, r)
	require.True(t, fired)
	require.Nil(t, f)
	assert.Equal(t, deferred.Winner[string]{Index: 1, Value: "one"}, w)
	r.Cancel() // fired: nothing more is cancelled
	assert.Equal(t, 1, n0)
	assert.Equal(t, 1, n2)
	// The losers' ErrCancelled failures were consumed.
	_, f0, _ := result(t, d0)
	assert.Nil(t, f0)
}

func TestRaceFailureThenSuccess(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d0, d1 := deferred.New[int](), deferred.New[int]()
	r := deferred.Race(d0, d1)
	require.NoError(t, d0.Errback(io.EOF))
	assert.False(t, r.Called())
	require.NoError(t, d1.Callback(5))
	w, f, _ := result(t, r)
	require.Nil(t, f)
	assert.Equal(t, deferred.Winner[int]{Index: 1, Value: 5}, w)
}

func TestRaceAllFail(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d0, d1 := deferred.New[int](), deferred.New[int]()
	r := deferred.Race(d0, d1)
	require.NoError(t, d1.Errback(errBoom))
	require.NoError(t, d0.Errback(io.EOF))
	_, f, fired := result(t, r)
	require.True(t, fired)
	var re *deferred.RaceError
	require.ErrorAs(t, f, &re)
	require.Len(t, re.Failures, 2)
	assert.ErrorIs(t, re.Failures[0], io.EOF, "failures are in input order")
	assert.ErrorIs(t, re.Failures[1], errBoom)
	assert.ErrorIs(t, f, io.EOF)
	assert.ErrorIs(t, f, errBoom)
	assert.Contains(t, re.Error(), "all 2 inputs")

	_, f, fired = result(t, deferred.Race[int]())
	require.True(t, fired)
	require.ErrorAs(t, f, &re)
	assert.Empty(t, re.Failures)
}

func TestRaceCancelCancelsAll(t *testing.T) {
	deferredtest.NoUnhandled(t)
	var n0, n1 int
	d0, d1 := cancelCounter[int](&n0), cancelCounter[int](&n1)
	r := deferred.Race(d0, d1)
	r.Cancel()
	r.Cancel()
	assert.Equal(t, 1, n0)
	assert.Equal(t, 1, n1)
	_, f, fired := result(t, r)
	require.True(t, fired)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	var re *deferred.RaceError
	require.ErrorAs(t, f, &re)
	assert.Len(t, re.Failures, 2)
}

func TestRaceCancellerThatSucceedsDoesNotWinTwice(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d0 := deferred.New[int]()
	d1 := deferred.NewWithCanceller(func(d *deferred.Deferred[int]) { _ = d.Callback(99) })
	r := deferred.Race(d0, d1)
	require.NoError(t, d0.Callback(1))
	w, f, _ := result(t, r)
	require.Nil(t, f)
	assert.Equal(t, deferred.Winner[int]{Index: 0, Value: 1}, w)
}

func TestRaceConcurrent(t *testing.T) {
	deferredtest.NoUnhandled(t)
	const n = 50
	ds := make([]*deferred.Deferred[int], n)
	for i := range ds {
		ds[i] = deferred.New[int]()
	}
	r := deferred.Race(ds...)
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() {
			// Losers may already have been cancelled.
			if err := d.Callback(i); err != nil {
				assert.ErrorIs(t, err, deferred.ErrAlreadyCalled)
			}
		})
	}
	wg.Wait()
	w, err := r.Wait(t.Context())
	require.NoError(t, err)
	assert.Equal(t, w.Index, w.Value)
}

func TestFirstErrorUnwrap(t *testing.T) {
	fe := &deferred.FirstError{Index: 2, Failure: failure.New(io.EOF)}
	assert.True(t, errors.Is(fe, io.EOF))
}
