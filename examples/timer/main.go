// Command timer is the Twisted reactor tutorial's first program, the reactor's
// "hello world": four calls scheduled one second apart print the time, a fifth
// stops the reactor.
//
//	$ go run ./examples/timer
//	Running the reactor ...
//	Current time is 17:44:58
//	Current time is 17:44:59
//	Current time is 17:45:00
//	Current time is 17:45:01
//	Stopping reactor
//	Reactor stopped.
package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/twistgo/twist/reactor"
)

// loop is what the program needs: a Scheduler that it can run and stop. A
// *reactor.Reactor is one; the test drives a reactor.Clock instead.
type loop interface {
	reactor.Scheduler
	Run() error
	Stop() error
}

// run is the Twisted program, line for line.
func run(w io.Writer, l loop) error {
	printTime := func() {
		fmt.Fprintln(w, "Current time is", l.Now().Format(time.TimeOnly))
	}
	stopReactor := func() {
		fmt.Fprintln(w, "Stopping reactor")
		l.Stop()
	}

	l.Schedule(1*time.Second, printTime)
	l.Schedule(2*time.Second, printTime)
	l.Schedule(3*time.Second, printTime)
	l.Schedule(4*time.Second, printTime)
	l.Schedule(5*time.Second, stopReactor)

	fmt.Fprintln(w, "Running the reactor ...")
	if err := l.Run(); err != nil {
		return err
	}
	fmt.Fprintln(w, "Reactor stopped.")
	return nil
}

func main() {
	if err := run(os.Stdout, reactor.New()); err != nil {
		log.Fatal(err)
	}
}
