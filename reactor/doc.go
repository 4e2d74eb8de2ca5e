// Package reactor is twist's event loop: the one goroutine on which every
// callback of a twist program runs, as Twisted's reactor is the one thread of a
// Twisted program.
//
// A [Reactor] runs timers ([Reactor.Schedule], [CallLater], [LoopingCall]),
// functions handed over by other goroutines ([Reactor.CallFromGoroutine],
// [DeferToGoroutine]), file-descriptor handlers (on the Linux [Epoll] backend)
// and system event triggers for startup and shutdown. Code written against the
// [Scheduler] interface runs unchanged on the deterministic [Clock] in tests.
// A [Cooperator] runs long jobs a slice at a time ([Cooperate], [Coiterate]).
// A [Group] runs one reactor per core.
//
// The smallest complete program, the first one of the Twisted reactor
// tutorial:
//
//	r := reactor.New()
//	r.Schedule(time.Second, func() { fmt.Println("Current time is", time.Now().Format(time.TimeOnly)) })
//	r.Schedule(2*time.Second, func() { fmt.Println("Stopping reactor"); r.Stop() })
//	fmt.Println("Running the reactor ...")
//	r.Run()
//	fmt.Println("Reactor stopped.")
//
// Reactor-bound calls (Schedule, CallLater, DeferToGoroutine, the FD methods,
// triggers) are made on the loop goroutine, from a callback, or before Run by
// the goroutine that will call Run; other goroutines use CallFromGoroutine and
// Stop. A panic in a callback is logged with its stack and the loop goes on.
package reactor
