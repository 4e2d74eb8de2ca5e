package reactor

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	deferred "github.com/twistgo/twist/defer"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backends lists the backends every reactor behaviour is tested on.
var backends = []Backend{Epoll, Portable}

// forEachBackend runs f as a subtest per backend; newReactor makes reactors of
// that backend, logging into the test's output.
func forEachBackend(t *testing.T, f func(t *testing.T, newReactor func(...Option) *Reactor)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.String(), func(t *testing.T) {
			f(t, func(opts ...Option) *Reactor {
				base := []Option{WithBackend(b), WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil)))}
				return New(append(base, opts...)...)
			})
		})
	}
}

// run runs r on the calling goroutine until it stops, failing the test (and
// stopping r) if that takes longer than a few seconds.
func run(t testing.TB, r *Reactor) {
	t.Helper()
	watchdog := r.Schedule(5*time.Second, func() {
		t.Error("reactor still running after 5s")
		r.Stop()
	})
	require.NoError(t, r.Run())
	_ = watchdog
}

// logBuffer is a goroutine-safe log sink for tests that look at the log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) option() Option {
	return WithLogger(slog.New(slog.NewTextHandler(b, nil)))
}

// Deferred is the type system event triggers return.
type Deferred = deferred.Deferred[struct{}]
