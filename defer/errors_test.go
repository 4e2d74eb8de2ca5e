package deferred_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
)

func TestNestedCombinatorsNameCombinatorAndInput(t *testing.T) {
	deferredtest.NoUnhandled(t)
	inner := deferred.List([]*deferred.Deferred[int]{deferred.Fail[int](io.EOF), deferred.Succeed(1)},
		deferred.ListOptions{FireOnOneErrback: true, ConsumeErrors: true})
	sum := deferred.Then(inner, func(os []deferred.Outcome[int]) (int, error) { return len(os), nil })
	outer := deferred.All(deferred.Succeed(0), deferred.Succeed(1), sum)
	_, err := outer.Wait(t.Context())
	require.Error(t, err)
	assert.Equal(t, "deferred: All: input 2 failed: deferred: List: input 0 failed: EOF", err.Error())
	assert.ErrorIs(t, err, io.EOF)
	var fe *deferred.FirstError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "All", fe.Combinator)

	r := deferred.Race(deferred.Fail[int](io.EOF), deferred.Fail[int](errBoom))
	_, err = r.Wait(t.Context())
	assert.Equal(t, "deferred: Race: all 2 inputs failed: input 0: EOF; input 1: boom", err.Error())
}

func TestTimeoutKeepsTheCancelledOperationsMessage(t *testing.T) {
	deferredtest.NoUnhandled(t)
	clock := &manualClock{}
	d := deferred.NewWithCanceller(func(d *deferred.Deferred[int]) {
		_ = d.Errback(fmt.Errorf("dial 10.0.0.1:80: %w", deferred.ErrCancelled))
	})
	d.AddTimeout(10*time.Millisecond, clock)
	clock.fireAll()
	_, err := d.Wait(t.Context())
	require.Error(t, err)
	assert.Equal(t, "dial 10.0.0.1:80: deferred: timed out after 10ms", err.Error())
	var te *deferred.TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 10*time.Millisecond, te.After)
	assert.ErrorIs(t, te.Cause, deferred.ErrCancelled, "the cancellation is kept as the cause")
	assert.NotErrorIs(t, err, deferred.ErrCancelled, "a timeout is not a cancellation, as in Twisted")

	// A plain cancellation: the timeout alone.
	e := deferred.New[int]()
	e.AddTimeout(5*time.Second, clock)
	clock.fireAll()
	_, err = e.Wait(t.Context())
	assert.Equal(t, "deferred: timed out after 5s", err.Error())
}

func TestErrTimeoutMatchesTheStandardDeadlines(t *testing.T) {
	deferredtest.NoUnhandled(t)
	for _, err := range []error{deferred.ErrTimeout, &deferred.TimeoutError{After: time.Second}} {
		assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, err, deferred.ErrTimeout)
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		assert.True(t, ne.Timeout())
	}
	clock := &manualClock{}
	d := deferred.New[int]()
	d.AddTimeout(time.Second, clock)
	clock.fireAll()
	_, err := d.Wait(t.Context())
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestDefaultUnhandledReportIsStructured(t *testing.T) {
	prevHandler := deferred.SetUnhandledHandler(nil) // the default
	prevLogger := slog.Default()
	t.Cleanup(func() {
		slog.SetDefault(prevLogger)
		deferred.SetUnhandledHandler(prevHandler)
	})
	var text, js strings.Builder
	f := failure.New(errors.New("lost"))
	for _, h := range []slog.Handler{slog.NewTextHandler(&text, nil), slog.NewJSONHandler(&js, nil)} {
		slog.SetDefault(slog.New(h))
		func() { _ = deferred.Fail[int](f) }()
		deferredtest.Collect()
	}
	assert.Contains(t, text.String(), `msg="Unhandled error in Deferred" failure.message=lost`)
	assert.NotContains(t, text.String(), `\n`, "no escaped newlines")
	assert.Contains(t, js.String(), `"failure":{"message":"lost","type":"*errors.errorString","traceback":["`)
}

// Through slog's own default handler (the log package, a terminal), the
// report is Twisted's multi-line text.
func TestDefaultUnhandledReportOnTheTerminal(t *testing.T) {
	prevHandler := deferred.SetUnhandledHandler(nil) // the default
	prevOut, prevFlags := log.Writer(), log.Flags()
	t.Cleanup(func() {
		log.SetOutput(prevOut)
		log.SetFlags(prevFlags)
		deferred.SetUnhandledHandler(prevHandler)
	})
	var out syncBuffer
	log.SetOutput(&out)
	log.SetFlags(0)
	func() { _ = deferred.Fail[int](errors.New("lost")) }()
	deferredtest.Collect()
	text := out.String()
	assert.Contains(t, text, "ERROR Unhandled error in Deferred:\nTraceback (most recent call last):\n  ")
	assert.Contains(t, text, "\n*errors.errorString: lost\n")
	assert.NotContains(t, text, `\n`, "no escaped newlines")
}

// syncBuffer is a strings.Builder safe for the runtime goroutine that
// reports unhandled Failures.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
