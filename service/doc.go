// Package service is Twisted's application layer: the parts of a program
// that start and stop with it, as [Service] values, composed in a
// [MultiService] (children start in order and stop in reverse order) under
// an [Application] that runs the reactor until SIGINT or SIGTERM, the way
// twistd runs a .tac file.
//
// The services are those the Twisted tutorials run: a listening port
// ([TCPServer], [EndpointServer], and their Func forms for chains), a
// [TimerService] (a LoopingCall while it runs) and a [ClientService] (one
// connection kept open, retried with Twisted's [BackoffPolicy], given to
// chains by [ClientService.WhenConnected]). Beyond Twisted, a [Supervisor]
// restarts a service that fails, with the same back-off.
//
// The Twisted tutorial's echo server as echo.tac builds it, in full:
//
//	func main() {
//		r := reactor.New()
//		app := service.NewApplication(r, "echo")
//		app.AddService(service.TCPServer(r, ":8007", &EchoFactory{}))
//		if err := app.Run(context.Background()); err != nil {
//			os.Exit(1) // a service could not start, or stop
//		}
//	}
//
// Services belong to the reactor's loop goroutine, as the reactor's own
// calls do; the ones with timers take a reactor.Scheduler, so that tests
// drive them with a reactor.Clock.
package service
