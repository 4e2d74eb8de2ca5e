package deferredtcp_test

import (
	"fmt"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// An echo chain that gives each chunk back once it has written it: Write
// copies what the socket does not take at once, so the chunk is free as
// soon as Write returns, and later reads take over its buffer instead of
// allocating one.
func ExampleRecycle() {
	r := reactor.New()
	r.CallWhenRunning(func() {
		server, client := deferredtcp.Pipe(r)
		var echo func(int, *failure.Failure) (int, error)
		echo = func(_ int, f *failure.Failure) (int, error) {
			if f != nil {
				server.Close() // io.EOF: the client is done
				return 0, nil
			}
			deferred.ThenDeferred(server.Read(), func(p []byte) *deferred.Deferred[int] {
				d := server.Write(p)
				deferredtcp.Recycle(p)
				return d
			}).AddBoth(echo)
			return 0, nil
		}
		echo(0, nil)

		client.Write([]byte("ping"))
		deferred.Then(client.ReadFull(4), func(p []byte) (struct{}, error) {
			fmt.Println(string(p))
			client.Close()
			r.Stop()
			return struct{}{}, nil
		})
	})
	if err := r.Run(); err != nil {
		fmt.Println(err)
	}
	// Output: ping
}
