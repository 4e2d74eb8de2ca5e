package deferred_test

import (
	"errors"
	"fmt"
	"io"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

func ExampleAll() {
	a, b := deferred.New[string](), deferred.New[string]()
	deferred.All(a, b).AddCallback(func(words []string) ([]string, error) {
		fmt.Println(words) // input order, whatever the firing order
		return words, nil
	})
	b.Callback("world")
	a.Callback("hello")
	// Output: [hello world]
}

func ExampleAll_firstError() {
	a, b := deferred.New[int](), deferred.New[int]()
	deferred.All(a, b).AddErrback(func(f *failure.Failure) ([]int, error) {
		var fe *deferred.FirstError
		if errors.As(f, &fe) {
			fmt.Println("input", fe.Index, "failed:", errors.Is(f, io.EOF))
		}
		return nil, nil
	})
	b.Errback(io.EOF)
	a.Callback(1)
	// Output: input 1 failed: true
}

func ExampleList() {
	ok, bad := deferred.Succeed(1), deferred.Fail[int](io.EOF)
	deferred.List([]*deferred.Deferred[int]{ok, bad}, deferred.ListOptions{ConsumeErrors: true}).
		AddCallback(func(outcomes []deferred.Outcome[int]) ([]deferred.Outcome[int], error) {
			for i, o := range outcomes {
				if o.Failure != nil {
					fmt.Println(i, "failed:", o.Failure)
				} else {
					fmt.Println(i, "=", o.Value)
				}
			}
			return outcomes, nil
		})
	// Output:
	// 0 = 1
	// 1 failed: EOF
}

func ExampleRace() {
	slow := deferred.NewWithCanceller(func(*deferred.Deferred[string]) { fmt.Println("slow cancelled") })
	fast := deferred.New[string]()
	deferred.Race(slow, fast).AddCallback(func(w deferred.Winner[string]) (deferred.Winner[string], error) {
		fmt.Println("winner:", w.Index, w.Value)
		return w, nil
	})
	fast.Callback("fast")
	// Output:
	// slow cancelled
	// winner: 1 fast
}
