package reactor

import (
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWithSignalsStopsGracefully(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...Option) *Reactor) {
		var logs logBuffer
		r := newReactor(logs.option(), WithSignals(syscall.SIGUSR1))
		shutdownRan := false
		r.AddSystemEventTrigger(Before, Shutdown, func() *Deferred { shutdownRan = true; return nil })
		r.CallWhenRunning(func() {
			assert.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
		})
		run(t, r)
		assert.True(t, shutdownRan)
		assert.Contains(t, logs.String(), "reactor: stopping on signal")
	})
}
