package deferredtcp_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// inlineDeferreds is how many Deferreds a loop's connections hand out fired
// in one turn (deferredtcp's maxInline).
const inlineDeferreds = 8

// connectPair connects to a listener on r whose connections get serve, and
// calls client with the client side, on the loop.
func connectPair(t *testing.T, r *reactor.Reactor, serve func(*deferredtcp.Conn), client func(*deferredtcp.Conn)) {
	t.Helper()
	l := listen(t, r)
	l.Serve(serve)
	deferred.Then(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) (struct{}, error) {
		client(c)
		return struct{}{}, nil
	}).AddErrback(func(f *failure.Failure) (struct{}, error) {
		t.Error(f)
		r.Stop()
		return struct{}{}, nil
	})
}

// TestWritesPastInlineBoundFireNextTurn: in one turn the first Writes under
// the watermark fire at once, as Twisted's ordering wants; past the bound
// they fire on the loop's next turn, in the order written.
func TestWritesPastInlineBoundFireNextTurn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		const writes = 3 * inlineDeferreds
		var fired []int
		var atOnce int
		connectPair(t, r, func(c *deferredtcp.Conn) {}, func(c *deferredtcp.Conn) {
			for i := range writes {
				c.Write([]byte("x")).AddCallback(func(n int) (int, error) {
					fired = append(fired, i)
					if len(fired) == writes {
						r.Stop()
					}
					return n, nil
				})
				if len(fired) == i+1 {
					atOnce++
				}
			}
			require.Equal(t, inlineDeferreds, atOnce, "Writes that fired before Write returned")
		})
		run(t, r)
		require.Len(t, fired, writes)
		for i, v := range fired {
			require.Equal(t, i, v, "Write Deferreds fired out of order: %v", fired)
		}
	})
}

// TestWriteInHeldWriteCallbackComesLast: a Write made in the callback of a
// held Write fires after the Writes held with it.
func TestWriteInHeldWriteCallbackComesLast(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var fired []string
		note := func(name string) func(int) (int, error) {
			return func(n int) (int, error) {
				fired = append(fired, name)
				return n, nil
			}
		}
		connectPair(t, r, func(c *deferredtcp.Conn) {}, func(c *deferredtcp.Conn) {
			for range inlineDeferreds {
				c.Write([]byte("x"))
			}
			c.Write([]byte("a")).AddCallback(func(n int) (int, error) {
				fired = append(fired, "a")
				c.Write([]byte("c")).AddCallback(note("c")).AddCallback(func(n int) (int, error) {
					r.Stop()
					return n, nil
				})
				return n, nil
			})
			c.Write([]byte("b")).AddCallback(note("b"))
			require.Empty(t, fired)
		})
		run(t, r)
		require.Equal(t, []string{"a", "b", "c"}, fired)
	})
}

// TestHeldWritesSucceedOnClose: Writes held for the next turn were taken
// whole, as those that fired at once: a Close right after them does not
// fail them, and the peer reads every byte.
func TestHeldWritesSucceedOnClose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		const writes = 2 * inlineDeferreds
		var outcomes []*outcome[int]
		var got *outcome[[]byte]
		connectPair(t, r, func(c *deferredtcp.Conn) {
			d := readAll(c)
			got = record(d)
			d.AddBoth(func([]byte, *failure.Failure) ([]byte, error) {
				r.Stop()
				return nil, nil
			})
		}, func(c *deferredtcp.Conn) {
			for range writes {
				outcomes = append(outcomes, record(c.Write([]byte("ab"))))
			}
			c.Close()
		})
		run(t, r)
		for i, o := range outcomes {
			require.True(t, o.done, "write %d", i)
			require.NoError(t, o.err, "write %d", i)
			require.Equal(t, 2, o.value)
		}
		require.NotNil(t, got)
		require.NoError(t, got.err)
		require.Len(t, got.value, 2*writes)
	})
}

// heldRead calls f on the client, on the loop, with a Read held for the
// next turn although bytes are queued: the server sends "hello", the client
// reads its first byte, spends the turn's inline Deferreds on Writes, and
// reads again.
func heldRead(t *testing.T, r *reactor.Reactor, f func(c *deferredtcp.Conn, d *deferred.Deferred[[]byte])) {
	connectPair(t, r, func(c *deferredtcp.Conn) {
		c.Write([]byte("hello"))
	}, func(c *deferredtcp.Conn) {
		c.ReadFull(1).AddCallback(func(p []byte) ([]byte, error) {
			require.Equal(t, "h", string(p))
			require.Equal(t, 4, c.Queued(), "the rest of the chunk is queued")
			for range inlineDeferreds {
				c.Write([]byte("x"))
			}
			d := c.Read()
			require.False(t, d.Called(), "a Read past the bound fired at once")
			f(c, d)
			return p, nil
		})
	})
}

func TestHeldReadFiresNextTurn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var got *outcome[[]byte]
		firedBeforeStop := false
		heldRead(t, r, func(c *deferredtcp.Conn, d *deferred.Deferred[[]byte]) {
			got = record(d)
			r.CallFromGoroutine(func() {
				firedBeforeStop = got.done
				r.Stop()
			})
		})
		run(t, r)
		require.True(t, firedBeforeStop, "the held read waited past the next turn")
		require.NoError(t, got.err)
		require.Equal(t, "ello", string(got.value))
	})
}

// TestHeldReadServedBeforeOnData: OnData fails a pending read with
// ErrReadPending, but a read held for the next turn had its bytes queued:
// it fires with them first, as it would have at once.
func TestHeldReadServedBeforeOnData(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var got *outcome[[]byte]
		var onData []byte
		heldRead(t, r, func(c *deferredtcp.Conn, d *deferred.Deferred[[]byte]) {
			got = record(d)
			c.OnData(func(p []byte) { onData = append(onData, p...) })
			r.Stop()
		})
		run(t, r)
		require.NotNil(t, got)
		require.True(t, got.done)
		require.NoError(t, got.err)
		require.Equal(t, "ello", string(got.value))
		require.Empty(t, onData)
	})
}

// TestHeldReadCancelled: cancelling a held read withdraws it; its bytes stay
// queued for the next.
func TestHeldReadCancelled(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		var cancelled, next *outcome[[]byte]
		heldRead(t, r, func(c *deferredtcp.Conn, d *deferred.Deferred[[]byte]) {
			cancelled = record(d)
			d.Cancel()
			r.CallFromGoroutine(func() {
				next = record(c.Read())
				r.Stop()
			})
		})
		run(t, r)
		require.ErrorIs(t, cancelled.err, deferred.ErrCancelled)
		require.NotNil(t, next)
		require.NoError(t, next.err)
		require.Equal(t, "ello", string(next.value))
	})
}
