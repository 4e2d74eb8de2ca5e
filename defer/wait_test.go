package deferred_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
)

// manualClock is a deferred.Clock whose calls run when the test says so.
type manualClock struct {
	mu    sync.Mutex
	calls []*manualCall
}

type manualCall struct {
	after   time.Duration
	f       func()
	stopped bool
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	call := &manualCall{after: d, f: f}
	c.calls = append(c.calls, call)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !call.stopped
		call.stopped = true
		return was
	}
}

// fireAll runs every call not stopped.
func (c *manualClock) fireAll() {
	c.mu.Lock()
	calls := c.calls
	c.calls = nil
	c.mu.Unlock()
	for _, call := range calls {
		c.mu.Lock()
		stopped := call.stopped
		call.stopped = true
		c.mu.Unlock()
		if !stopped {
			call.f()
		}
	}
}

func (c *manualClock) active() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, call := range c.calls {
		if !call.stopped {
			n++
		}
	}
	return n
}

func TestWaitValueAndFailure(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	go func() { _ = d.Callback(4) }()
	v, err := d.Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 4, v)

	e := deferred.New[int]()
	go func() { _ = e.Errback(errBoom) }()
	_, err = e.Wait(context.Background())
	assert.ErrorIs(t, err, errBoom)
}

func TestWaitPassesResultOn(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.Succeed(2)
	v, err := d.Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	got, _, _ := result(t, d)
	assert.Equal(t, 2, got)
}

func TestWaitCountsAsHandling(t *testing.T) {
	rec := deferredtest.Record(t)
	func() {
		d := deferred.Fail[int](errBoom)
		_, err := d.Wait(context.Background())
		assert.ErrorIs(t, err, errBoom)
	}()
	assert.Empty(t, rec.Collect())
}

func TestWaitContextDone(t *testing.T) {
	rec := deferredtest.Record(t)
	d := deferred.New[int]()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := d.Wait(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	// A Failure that arrives after the waiter gave up is not counted as seen.
	func() { require.NoError(t, d.Errback(errBoom)) }()
	d = nil
	got := rec.Collect()
	require.Len(t, got, 1)
	assert.ErrorIs(t, got[0], errBoom)
}

func TestAddTimeoutExpires(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := &manualClock{}
	cancels := 0
	d := deferred.NewWithCanceller(func(*deferred.Deferred[int]) { cancels++ })
	d.AddTimeout(5*time.Second, clock)
	clock.fireAll()
	assert.Equal(t, 1, cancels)
	_, f, fired := result(t, d)
	require.True(t, fired)
	require.ErrorIs(t, f, deferred.ErrTimeout)
	assert.NotErrorIs(t, f, deferred.ErrCancelled)
	var ne net.Error
	require.True(t, errors.As(f, &ne))
	assert.True(t, ne.Timeout())
	assert.Contains(t, f.Error(), "after 5s")
}

func TestAddTimeoutResultFirstStopsTimer(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := &manualClock{}
	d := deferred.New[int]()
	d.AddTimeout(time.Second, clock)
	assert.Equal(t, 1, clock.active())
	require.NoError(t, d.Callback(8))
	assert.Zero(t, clock.active())
	v, f, _ := result(t, d)
	assert.Nil(t, f)
	assert.Equal(t, 8, v)
}

func TestAddTimeoutCancellerValuePasses(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := &manualClock{}
	d := deferred.NewWithCanceller(func(d *deferred.Deferred[string]) { _ = d.Callback("partial") })
	d.AddTimeout(time.Second, clock)
	clock.fireAll()
	v, f, _ := result(t, d)
	assert.Nil(t, f)
	assert.Equal(t, "partial", v)
}

func TestAddTimeoutCoversOnlyEarlierSteps(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := &manualClock{}
	d := deferred.New[int]()
	d.AddTimeout(time.Second, clock)
	// An explicit cancel (not a timeout) stays ErrCancelled.
	d.Cancel()
	_, f, _ := result(t, d)
	assert.ErrorIs(t, f, deferred.ErrCancelled)
	assert.NotErrorIs(t, f, deferred.ErrTimeout)
}

func TestAddTimeoutWithSystemClock(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.New[int]()
	d.AddTimeout(time.Millisecond, deferred.SystemClock)
	_, err := d.Wait(context.Background())
	assert.ErrorIs(t, err, deferred.ErrTimeout)
}

func TestWaitOnARestingDeferredAllocatesNothing(t *testing.T) {
	deferredtest.NoUnhandled(t)
	d := deferred.Succeed(3)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		v, err := d.Wait(ctx)
		if v != 3 || err != nil {
			t.Fatalf("got %v, %v; want 3, nil", v, err)
		}
	})
	assert.Zero(t, allocs)
	// A handled Failure, read again, costs nothing either.
	f := deferred.Fail[int](errBoom)
	_, err := f.Wait(ctx)
	require.ErrorIs(t, err, errBoom)
	allocs = testing.AllocsPerRun(100, func() { _, _ = f.Wait(ctx) })
	assert.Zero(t, allocs)
}

// A blocking check that lets Wait block must not eat the wake-up of a
// waiter that ran at once: Wait on a fired Failure (which a waiter step
// observes, rather than the allocation-free read) returns it.
func TestWaitWithBlockingCheckOnFiredFailure(t *testing.T) {
	checked := 0
	prev := deferred.SetBlockingCheck(func() error { checked++; return nil })
	t.Cleanup(func() { deferred.SetBlockingCheck(prev) })

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	boom := errors.New("boom")
	_, err := deferred.Fail[int](boom).Wait(ctx)
	require.ErrorIs(t, err, boom, "Wait returns the Failure, not the context's end")

	d := deferred.New[int]()
	go d.Callback(7)
	v, err := d.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, v)
	require.LessOrEqual(t, checked, 1, "only a Wait that would block asks the check")
}
