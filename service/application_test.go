package service_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/reactor"
	"github.com/twistgo/twist/service"
)

// The application root stops gracefully on SIGTERM: a child process (this
// test binary, re-executed) runs an Application with a listening service
// and a slow service, and is sent SIGTERM.
func TestApplicationStopsGracefullyOnSIGTERM(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=sigterm")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(out)

	require.True(t, lines.Scan(), "the child prints its address")
	addr, ok := strings.CutPrefix(lines.Text(), "listening on ")
	require.True(t, ok, lines.Text())
	assert.Equal(t, "HI there\n", ask(t, addr), "the service serves")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	err = cmd.Wait()
	require.NoError(t, err, "exit status 0 after a graceful stop; stderr:\n%s", stderr.String())
	assert.Equal(t, []string{"slow service stopped", "Run returned <nil>"}, rest)
	log := stderr.String()
	for _, want := range []string{"service: started", "received signal", "signal=terminated", "service: stopped"} {
		assert.Contains(t, log, want)
	}
	_, err = net.Dial("tcp", addr)
	assert.Error(t, err, "the port is closed")
}

// childMain runs the child process of a test, named by childEnv, and
// returns its exit status.
func childMain(name string) int {
	switch name {
	case "sigterm":
		r := reactor.New()
		app := service.NewApplication(r, "child")
		listener := service.TCPServerFunc(r, "127.0.0.1:0", shout)
		app.AddService(listener)
		app.AddService(service.New("slow",
			func() *deferred.Deferred[struct{}] {
				fmt.Println("listening on", listener.Addr())
				return nil
			},
			func() *deferred.Deferred[struct{}] {
				return reactor.CallLater(r, 20*time.Millisecond, func() (struct{}, error) {
					fmt.Println("slow service stopped")
					return struct{}{}, nil
				})
			}))
		err := app.Run(context.Background())
		fmt.Println("Run returned", err)
		if err != nil {
			return 1
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown child", name)
	return 2
}

func TestApplicationRunStopsWhenTheContextIsDone(t *testing.T) {
	deferredtest.NoUnhandled(t)
	ev := &events{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := reactor.New()
	app := service.NewApplication(r, "app", logTo(t))
	app.AddService(newFake("a", ev))
	app.AddService(service.New("b", func() *deferred.Deferred[struct{}] {
		ev.add("start:b")
		cancel() // what a signal does
		return nil
	}, func() *deferred.Deferred[struct{}] {
		ev.add("stop:b")
		return nil
	}))
	require.NoError(t, app.Run(ctx))
	assert.Equal(t, "start:a start:b stop:b stop:a", ev.take())
	assert.False(t, app.Running())
}

func TestApplicationRunReturnsAStartFailure(t *testing.T) {
	deferredtest.NoUnhandled(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	ev := &events{}
	r := reactor.New()
	app := service.NewApplication(r, "app", logTo(t))
	app.AddService(newFake("a", ev))
	app.AddService(service.TCPServerFunc(r, taken.Addr().String(), shout))
	app.AddService(newFake("c", ev))

	err = app.Run(context.Background())
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	var se *service.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "tcp:"+taken.Addr().String(), se.Service)
	assert.Equal(t, "start:a stop:a", ev.take(), "a stops again; c never starts")
}

func TestApplicationRunReturnsAStopTimeout(t *testing.T) {
	deferredtest.NoUnhandled(t)
	r := reactor.New()
	app := service.NewApplication(r, "app", logTo(t), service.WithStopTimeout(20*time.Millisecond))
	stuck := deferred.New[struct{}]()
	app.AddService(service.New("stuck", func() *deferred.Deferred[struct{}] {
		r.Stop()
		return nil
	}, func() *deferred.Deferred[struct{}] { return stuck }))
	err := app.Run(context.Background())
	require.ErrorIs(t, err, service.ErrStopTimeout)
	var te *service.StopTimeoutError
	require.True(t, errors.As(err, &te))
	assert.Equal(t, []string{"stuck"}, te.Pending)
	stuck.Callback(struct{}{})
}
