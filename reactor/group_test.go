package reactor

import (
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGroupRunsAndStopsTogether(t *testing.T) {
	for _, b := range backends {
		t.Run(b.String(), func(t *testing.T) {
			g := NewGroup(3, WithBackend(b))
			rs := g.Reactors()
			require.Len(t, rs, 3)
			assert.Same(t, rs[0], g.Next())
			assert.Same(t, rs[1], g.Next())
			assert.Same(t, rs[2], g.Next())
			assert.Same(t, rs[0], g.Next())

			var wg sync.WaitGroup
			wg.Add(len(rs))
			for _, r := range rs {
				r.CallWhenRunning(wg.Done) // before Run: from the goroutine that runs it (or starts it)
			}
			go func() {
				wg.Wait() // every loop is running
				for _, r := range rs {
					assert.True(t, r.Running())
				}
				assert.NoError(t, g.Stop())
				assert.ErrorIs(t, g.Stop(), ErrNotRunning)
			}()
			require.NoError(t, g.Run())
			for _, r := range rs {
				assert.False(t, r.Running())
				assert.ErrorIs(t, r.Run(), ErrNotRestartable)
			}
		})
	}
}

func TestGroupStopsWhenOneReactorStops(t *testing.T) {
	g := NewGroup(2, WithBackend(Portable))
	rs := g.Reactors()
	rs[1].CallWhenRunning(func() { rs[1].Stop() })
	require.NoError(t, g.Run())
	assert.ErrorIs(t, rs[0].Stop(), ErrNotRunning)
}

func TestGroupStopBeforeRun(t *testing.T) {
	g := NewGroup(2)
	require.NoError(t, g.Stop())
	require.NoError(t, g.Run(), "Run starts every reactor and stops it at once")
}

func TestNewGroupDefaultSize(t *testing.T) {
	assert.Len(t, NewGroup(0).Reactors(), runtime.GOMAXPROCS(0))
}
