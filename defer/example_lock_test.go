package deferred_test

import (
	"fmt"

	deferred "github.com/twistgo/twist/defer"
)

func ExampleLock() {
	l := deferred.NewLock()
	for i := range 3 {
		l.Acquire().AddCallback(func(v struct{}) (struct{}, error) {
			fmt.Println("holder", i)
			return v, nil
		})
	}
	// Holder 0 has the lock; each Release hands it to the next waiter.
	l.Release()
	l.Release()
	l.Release()
	fmt.Println("locked:", l.Locked())
	// Output:
	// holder 0
	// holder 1
	// holder 2
	// locked: false
}

func ExampleRunLocked() {
	s := deferred.NewSemaphore(1)
	work := deferred.New[int]()
	first := deferred.RunLocked(s, func() *deferred.Deferred[int] { return work })
	second := deferred.RunLocked(s, func() *deferred.Deferred[int] {
		fmt.Println("second runs once the first is done")
		return deferred.Succeed(2)
	})
	for _, d := range []*deferred.Deferred[int]{first, second} {
		d.AddCallback(func(n int) (int, error) { fmt.Println("result", n); return n, nil })
	}
	// As in Twisted, the lock is released before the first result moves
	// on, so the second function runs first.
	work.Callback(1)
	// Output:
	// second runs once the first is done
	// result 2
	// result 1
}

func ExampleQueue() {
	q := deferred.NewQueue[string](0, 0)
	q.Get().AddCallback(func(s string) (string, error) { fmt.Println("got", s); return s, nil })
	q.Put("a") // handed straight to the waiting Get
	q.Put("b") // queued
	fmt.Println("queued:", q.Len())
	q.Get().AddCallback(func(s string) (string, error) { fmt.Println("got", s); return s, nil })
	// Output:
	// got a
	// queued: 1
	// got b
}
