package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/twistgo/twist/reactor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clockLoop runs the program on a fake clock, a second at a time.
type clockLoop struct {
	*reactor.Clock
	running bool
}

func (c *clockLoop) Run() error {
	for c.running = true; c.running; {
		c.Advance(time.Second)
	}
	return nil
}

func (c *clockLoop) Stop() error {
	if !c.running {
		return reactor.ErrNotRunning
	}
	c.running = false
	return nil
}

func TestRunOnTheFakeClock(t *testing.T) {
	var out strings.Builder
	l := &clockLoop{Clock: reactor.NewClock(time.Date(2012, 5, 4, 17, 44, 57, 0, time.Local))}
	require.NoError(t, run(&out, l))
	assert.Equal(t, `Running the reactor ...
Current time is 17:44:58
Current time is 17:44:59
Current time is 17:45:00
Current time is 17:45:01
Stopping reactor
Reactor stopped.
`, out.String())
	assert.Equal(t, 5*time.Second, l.Now().Sub(time.Date(2012, 5, 4, 17, 44, 57, 0, time.Local)))
	assert.Empty(t, l.Pending())
}
