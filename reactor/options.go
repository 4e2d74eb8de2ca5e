package reactor

import (
	"log/slog"
	"os"
	"runtime"
	"time"
)

// An Option configures a [Reactor] (or every reactor of a [Group]) at [New].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	logger          *slog.Logger
	signals         []os.Signal
	backend         Backend
	workers         int
	shutdownTimeout time.Duration
	debug           bool
}

const defaultShutdownTimeout = 30 * time.Second

func newConfig(opts []Option) config {
	c := config{
		backend:         DefaultBackend,
		workers:         runtime.GOMAXPROCS(0) * 4,
		shutdownTimeout: defaultShutdownTimeout,
		debug:           debugFromEnv(),
	}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.backend != Epoll && c.backend != Portable {
		c.backend = DefaultBackend
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.workers < 1 {
		c.workers = 1
	}
	return c
}

// WithLogger sets where the reactor logs panics recovered in callbacks, failing
// system event triggers and shutdown deadlines. The default is [slog.Default]()
// at the time [New] runs.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithSignals makes the reactor stop gracefully, as [Reactor.Stop] does, when the
// process receives one of sigs while [Reactor.Run] runs (typically os.Interrupt
// and syscall.SIGTERM, the way `kill -15` stops a twistd service). The signals are
// handed back (signal.Stop) when Run returns. By default no signal is handled.
func WithSignals(sigs ...os.Signal) Option {
	return optionFunc(func(c *config) { c.signals = append(c.signals[:len(c.signals):len(c.signals)], sigs...) })
}

// WithBackend chooses how the reactor waits for events; the default is
// [DefaultBackend] ([Epoll] on Linux, [Portable] elsewhere), and so is the zero
// Backend (whose String says so). A backend that cannot be used on this system
// (Epoll off Linux, or epoll_create failing) falls back to [Portable], with a
// warning in the log.
func WithBackend(b Backend) Option {
	return optionFunc(func(c *config) { c.backend = b })
}

// WithWorkers bounds how many functions [DeferToGoroutine] runs at once; further
// calls wait, in order, for a free worker. The default is
// runtime.GOMAXPROCS(0)*4; n < 1 means 1.
func WithWorkers(n int) Option {
	return optionFunc(func(c *config) { c.workers = n })
}

// WithShutdownTimeout bounds how long [Reactor.Run] waits, after [Reactor.Stop],
// for the shutdown triggers' Deferreds and for running [DeferToGoroutine]
// functions; past it Run logs what is still pending and returns. The default is
// 30 seconds.
func WithShutdownTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.shutdownTimeout = d })
}
