package service

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Application is the root of a program's services, and runs them the way
// twistd runs a .tac file's application: [Application.Run] runs the
// reactor, starts the services once it runs, and on SIGINT or SIGTERM
// (Ctrl-C, `kill -15`) stops them gracefully, in reverse order, before the
// reactor stops. The Twisted tutorial's echo.tac,
//
//	application = service.Application("echo")
//	internet.TCPServer(8007, EchoFactory()).setServiceParent(application)
//
// and `twistd -y echo.tac` become:
//
//	r := reactor.New()
//	app := service.NewApplication(r, "echo")
//	app.AddService(service.TCPServer(r, ":8007", &EchoFactory{}))
//	if err := app.Run(context.Background()); err != nil {
//		os.Exit(1)
//	}
//
// An Application is a [MultiService]: its children start in order and stop
// in reverse order, within its stop timeout ([WithStopTimeout]).
type Application struct {
	*MultiService
	r   *reactor.Reactor
	cfg config
}

// NewApplication returns an Application named name whose services run on
// r, which [Application.Run] runs. Options: [WithSignals],
// [WithStopTimeout], [WithLogger] (the reactor's logger by default).
func NewApplication(r *reactor.Reactor, name string, opts ...Option) *Application {
	opts = append([]Option{WithLogger(r.Logger())}, opts...)
	cfg := newConfig(opts)
	if cfg.signals == nil {
		cfg.signals = []os.Signal{os.Interrupt, syscall.SIGTERM}
	}
	return &Application{MultiService: NewMultiService(name, r, opts...), r: r, cfg: cfg}
}

// Run runs the reactor until one of the Application's signals arrives, ctx
// is done, or the reactor is stopped otherwise; it starts the services once
// the reactor runs, and stops them in the reactor's "before shutdown"
// phase, so that they stop while the loop still serves them. It logs each
// step. A second signal, while the services stop, ends the process at
// once. Call Run once, on the goroutine that built the services.
//
// Run returns nil after a graceful stop. It returns the [*Error] of a
// service that could not start (the Application then stops at once), the
// errors of services that failed to stop or a [*StopTimeoutError], or the
// error of reactor.Run: a program exits with a non-zero status when Run
// returns an error, as twistd does when its application fails.
func (a *Application) Run(ctx context.Context) error {
	log := a.cfg.logger.With("application", a.Name())
	var (
		startErr, stopErr error
		stopping          bool // loop goroutine only
	)
	a.r.CallWhenRunning(func() {
		log.Info("service: starting")
		a.StartService().AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
			switch {
			case f == nil:
				log.Info("service: started")
			case stopping && errors.Is(f, deferred.ErrCancelled):
				// Stopped while starting: no start error.
			default:
				startErr = f
				log.Error("service: start failed; stopping", "err", f.Error())
				_ = a.r.StopWithError(f)
			}
			return struct{}{}, nil
		})
	})
	a.r.AddSystemEventTrigger(reactor.Before, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
		stopping = true
		if a.state == multiStopped {
			return nil // never started, or a failed start stopped them already
		}
		log.Info("service: stopping")
		return a.StopService().AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
			if f != nil {
				stopErr = f
				log.Error("service: stop failed", "err", f.Error())
			} else {
				log.Info("service: stopped")
			}
			return struct{}{}, nil
		})
	})

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, a.cfg.signals...)
	defer signal.Stop(sigs)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case sig := <-sigs:
			// A second signal ends the process at once, as it would
			// without a handler: the way out of a stop that hangs.
			signal.Stop(sigs)
			log.Info("service: received signal; stopping gracefully", "signal", sig.String())
		case <-ctx.Done():
			log.Info("service: context done; stopping gracefully", "err", context.Cause(ctx))
		case <-quit:
			return
		}
		// On the loop, so that a stop asked for before Run has started
		// the reactor is not lost.
		a.r.CallFromGoroutine(func() { _ = a.r.Stop() }) // ErrNotRunning if it stops already
	})

	runErr := a.r.Run()
	close(quit)
	wg.Wait()
	switch {
	case startErr != nil:
		return startErr
	case stopErr != nil:
		return stopErr
	}
	return runErr
}
