package reactor_test

import (
	"fmt"
	"iter"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Two long jobs share the loop (Twisted's task.coiterate): each step is a
// unit of work, and the reactor's Cooperator takes one step of each in turn,
// a time slice at a time, between the loop's timers and I/O.
func ExampleCoiterate() {
	job := func(name string, n int) iter.Seq[*deferred.Deferred[struct{}]] {
		return func(yield func(*deferred.Deferred[struct{}]) bool) {
			for i := 1; i <= n; i++ {
				fmt.Println(name, i)
				if !yield(nil) {
					return // stopped
				}
			}
		}
	}
	r := reactor.New()
	both := deferred.All(
		reactor.Coiterate(r, job("hashing", 3)),
		reactor.Coiterate(r, job("indexing", 2)),
	)
	both.AddBoth(func(_ []struct{}, f *failure.Failure) ([]struct{}, error) {
		fmt.Println("both done, failure:", f)
		r.Stop()
		return nil, nil
	})
	r.Run()
	// Output:
	// hashing 1
	// indexing 1
	// hashing 2
	// indexing 2
	// hashing 3
	// both done, failure: <nil>
}
