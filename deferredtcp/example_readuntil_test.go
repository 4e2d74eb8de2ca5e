package deferredtcp_test

import (
	"fmt"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

// A conversation as a chain, as docs/concepts.md shows it: read a line,
// answer it. Pipe connects two Conns in memory, so the example needs no
// network.
func ExampleConn_ReadUntil() {
	r := reactor.New()
	r.CallWhenRunning(func() {
		server, client := deferredtcp.Pipe(r)
		deferred.ThenDeferred(server.ReadUntil([]byte("\n"), 1024), func(line []byte) *deferred.Deferred[int] {
			return server.Write(append([]byte("you said: "), line...))
		})

		client.Write([]byte("hello\n"))
		deferred.Then(client.ReadFull(len("you said: hello")), func(p []byte) (struct{}, error) {
			fmt.Println(string(p))
			r.Stop()
			return struct{}{}, nil
		})
	})
	if err := r.Run(); err != nil {
		fmt.Println(err)
	}
	// Output: you said: hello
}
