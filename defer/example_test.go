package deferred_test

import (
	"context"
	"fmt"
	"strconv"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/failure"
)

func ExampleDeferred() {
	d := deferred.New[int]()
	d.AddCallback(func(n int) (int, error) {
		if n < 0 {
			return 0, fmt.Errorf("negative: %d", n)
		}
		return n * 2, nil
	})
	d.AddErrback(func(f *failure.Failure) (int, error) {
		fmt.Println("errback:", f)
		return 0, nil // handled: the chain is back on the success path
	})
	d.AddCallback(func(n int) (int, error) {
		fmt.Println("result:", n)
		return n, nil
	})
	_ = d.Callback(-1)
	// Output:
	// errback: negative: -1
	// result: 0
}

func ExampleThen() {
	d := deferred.New[int]()
	s := deferred.Then(d, func(n int) (string, error) { return strconv.Itoa(n), nil })
	s.AddCallback(func(s string) (string, error) {
		fmt.Printf("%q\n", s)
		return s, nil
	})
	_ = d.Callback(42)
	// Output: "42"
}

func ExampleThenDeferred() {
	lookup := func(name string) *deferred.Deferred[int] {
		return deferred.Succeed(len(name)) // in real code: an asynchronous request
	}
	d := deferred.Succeed("twisted")
	n := deferred.ThenDeferred(d, lookup)
	v, err := n.Wait(context.Background())
	fmt.Println(v, err)
	// Output: 7 <nil>
}

func ExampleDeferred_AddCallbackDeferred() {
	lookup := func(name string) *deferred.Deferred[string] {
		return deferred.Succeed(name + ".example.com") // in real code: an asynchronous request
	}
	d := deferred.Succeed("twisted")
	d.AddCallbackDeferred(lookup) // the chain waits on lookup's Deferred
	d.AddCallback(func(host string) (string, error) { return "https://" + host, nil })
	v, err := d.Wait(context.Background())
	fmt.Println(v, err)
	// Output: https://twisted.example.com <nil>
}

func ExampleDeferred_Cancel() {
	d := deferred.NewWithCanceller(func(d *deferred.Deferred[string]) {
		fmt.Println("aborting the operation")
	})
	d.AddErrback(func(f *failure.Failure) (string, error) {
		fmt.Println("errback:", f)
		return "", f.Trap(deferred.ErrCancelled)
	})
	d.Cancel()
	// Output:
	// aborting the operation
	// errback: deferred: cancelled
}
