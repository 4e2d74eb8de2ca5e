package deferred_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
)

// stackBudget is the stack growth the tests below allow; a hand-off that
// recursed per waiter would need tens of MiB for 10 000 waiters.
const stackBudget = 1 << 20

// stackGrowth runs f on a fresh goroutine and returns how much the stacks
// in use grew meanwhile, measured before the goroutine exits: its own
// growth, and little else.
func stackGrowth(t testing.TB, f func()) int64 {
	t.Helper()
	grew := make(chan int64)
	go func() {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		grew <- int64(after.StackInuse) - int64(before.StackInuse)
	}()
	return <-grew
}

// depthProbe records the deepest stack it is called at, sampling every
// 100th call.
type depthProbe struct {
	calls, deepest int
	pcs            [1 << 12]uintptr
}

func (p *depthProbe) sample() {
	if p.calls++; p.calls%100 == 0 {
		p.deepest = max(p.deepest, runtime.Callers(0, p.pcs[:]))
	}
}

const waiters = 10_000

func TestSemaphoreHandOffsRunInBoundedStack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	for _, tc := range []struct {
		name string
		lock deferred.Locker
	}{
		{"Semaphore", deferred.NewSemaphore(1)},
		{"Lock", deferred.NewLock()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var probe depthProbe
			var order []int
			grew := stackGrowth(t, func() {
				held := tc.lock.Acquire()
				require.True(t, held.Called())
				for i := range waiters {
					tc.lock.Acquire().AddCallback(func(v struct{}) (struct{}, error) {
						order = append(order, i)
						probe.sample()
						return v, tc.lock.Release() // pass the token on
					})
				}
				require.NoError(t, tc.lock.Release())
			})
			assert.Less(t, grew, int64(stackBudget), "stack growth in bytes")
			assert.Less(t, probe.deepest, 400, "frames on the stack at the deepest waiter")
			require.Len(t, order, waiters)
			for i, w := range order {
				require.Equal(t, i, w, "waiters are served in FIFO order")
			}
			assert.ErrorIs(t, tc.lock.Release(), deferred.ErrNotAcquired, "every token came back")
		})
	}
}

func TestQueueHandOffsRunInBoundedStack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	q := deferred.NewQueue[int](1, 0)
	var probe depthProbe
	var got []int
	grew := stackGrowth(t, func() {
		for range waiters {
			q.Get().AddCallback(func(v int) (int, error) {
				got = append(got, v)
				probe.sample()
				return v, q.Put(v + 1) // the next Get's item
			})
		}
		require.NoError(t, q.Put(0))
	})
	assert.Less(t, grew, int64(stackBudget), "stack growth in bytes")
	assert.Less(t, probe.deepest, 400, "frames on the stack at the deepest Get")
	require.Len(t, got, waiters)
	for i, v := range got {
		require.Equal(t, i, v, "Gets are served in FIFO order")
	}
	assert.Equal(t, 1, q.Len(), "the last item waits for a Get")
	assert.Zero(t, q.Waiting())
}

func TestNestedReleaseKeepsTwistedOrder(t *testing.T) {
	// Shallow nesting runs as Twisted does: the Release inside w1's
	// callback runs w2's callback before it returns.
	deferredtest.NoUnhandled(t)
	l := deferred.NewLock()
	l.Acquire()
	var trace []string
	l.Acquire().AddCallback(func(v struct{}) (struct{}, error) {
		trace = append(trace, "w1")
		require.NoError(t, l.Release())
		trace = append(trace, "w1 released")
		return v, nil
	})
	l.Acquire().AddCallback(func(v struct{}) (struct{}, error) {
		trace = append(trace, "w2")
		return v, nil
	})
	require.NoError(t, l.Release())
	assert.Equal(t, []string{"w1", "w2", "w1 released"}, trace)
}

func TestNestedPutKeepsTwistedOrder(t *testing.T) {
	deferredtest.NoUnhandled(t)
	q := deferred.NewQueue[string](0, 0)
	var trace []string
	q.Get().AddCallback(func(v string) (string, error) {
		trace = append(trace, "got "+v)
		require.NoError(t, q.Put("b"))
		trace = append(trace, "put b")
		return v, nil
	})
	q.Get().AddCallback(func(v string) (string, error) {
		trace = append(trace, "got "+v)
		return v, nil
	})
	require.NoError(t, q.Put("a"))
	assert.Equal(t, []string{"got a", "got b", "put b"}, trace)
}

const nesting = 10_000

func TestNestedCombinatorsRunInBoundedStack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	// Each combinator's output is an input of the next: firing the
	// innermost input settles 10 000 outputs, one inside the other.
	var probe depthProbe
	var got []int
	grew := stackGrowth(t, func() {
		src := deferred.New[int]()
		d := src
		for i := range nesting {
			var next *deferred.Deferred[int]
			switch i % 3 {
			case 0:
				next = deferred.Then(deferred.All(d), func(vs []int) (int, error) { probe.sample(); return vs[0] + 1, nil })
			case 1:
				l := deferred.List([]*deferred.Deferred[int]{d}, deferred.ListOptions{})
				next = deferred.Then(l, func(os []deferred.Outcome[int]) (int, error) { probe.sample(); return os[0].Value + 1, nil })
			default:
				next = deferred.Then(deferred.Race(d), func(w deferred.Winner[int]) (int, error) { probe.sample(); return w.Value + 1, nil })
			}
			d = next
		}
		d.AddCallback(func(v int) (int, error) { got = append(got, v); return v, nil })
		require.NoError(t, src.Callback(0))
	})
	assert.Less(t, grew, int64(stackBudget), "stack growth in bytes")
	assert.Less(t, probe.deepest, 400, "frames on the stack at the deepest step")
	assert.Equal(t, []int{nesting}, got)
}

func TestNestedInlinesRunInBoundedStack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	// Each Inline body awaits the next Inline; the innermost awaits src.
	// Every suspended body has a goroutine (and a stack) of its own, so
	// the chain is made first and only firing it is measured.
	var probe depthProbe
	src := deferred.New[int]()
	d := src
	for range nesting / 10 {
		inner := d
		// The driver runs the Inline Deferreds' chains: sample it there.
		inner.AddCallback(func(v int) (int, error) { probe.sample(); return v, nil })
		d = deferred.Inline(func(co *deferred.Co) (int, error) {
			v, err := deferred.Await(co, inner)
			return v + 1, err
		})
	}
	var got int
	d.AddCallback(func(v int) (int, error) { got = v; return v, nil })
	grew := stackGrowth(t, func() { require.NoError(t, src.Callback(0)) })
	assert.Less(t, grew, int64(stackBudget), "stack growth in bytes")
	assert.Less(t, probe.deepest, 400, "frames on the driver's stack at the deepest Inline")
	assert.Equal(t, nesting/10, probe.calls)
	assert.Equal(t, nesting/10, got)
}

func TestChainsOfThenDeferredRunInBoundedStack(t *testing.T) {
	deferredtest.NoUnhandled(t)
	var probe depthProbe
	var got int
	grew := stackGrowth(t, func() {
		src := deferred.New[int]()
		d := src
		for range nesting {
			d = deferred.ThenDeferred(d, func(v int) *deferred.Deferred[int] {
				probe.sample()
				return deferred.Succeed(v + 1)
			})
		}
		other := deferred.New[int]()
		d.Chain(other)
		other.AddCallback(func(v int) (int, error) { got = v; return v, nil })
		require.NoError(t, src.Callback(0))
	})
	assert.Less(t, grew, int64(stackBudget), "stack growth in bytes")
	assert.Less(t, probe.deepest, 400, "frames on the stack at the deepest step")
	assert.Equal(t, nesting, got)
}
