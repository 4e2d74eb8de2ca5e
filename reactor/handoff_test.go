package reactor

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCallsQueuedAsTheLoopEndsRunBeforeRunReturns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		r := newReactor()
		var got []string
		r.AddSystemEventTrigger(After, Shutdown, func() *Deferred {
			// Queued after the loop's last turn began: run by Run on its way out.
			r.CallFromGoroutine(func() { got = append(got, "queued while stopping") })
			return nil
		})
		r.CallWhenRunning(func() { r.Stop() })
		run(t, r)
		r.CallFromGoroutine(func() { got = append(got, "queued after Run") })
		assert.Equal(t, []string{"queued while stopping"}, got)
	})
}
