package deferred_test

import (
	"errors"
	"fmt"

	deferred "github.com/twistgo/twist/defer"
)

func ExampleInline() {
	user, quota := deferred.New[string](), deferred.New[int]()
	d := deferred.Inline(func(co *deferred.Co) (string, error) {
		name, err := deferred.Await(co, user)
		if err != nil {
			return "", err
		}
		n, err := deferred.Await(co, quota)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s may store %d files", name, n), nil
	})
	d.AddCallback(func(s string) (string, error) { fmt.Println(s); return s, nil })
	user.Callback("alice") // runs the body up to its next Await
	quota.Callback(10)     // runs it to the end and fires d
	// Output: alice may store 10 files
}

func ExampleInline_cancel() {
	slow := deferred.New[int]()
	d := deferred.Inline(func(co *deferred.Co) (string, error) {
		_, err := deferred.Await(co, slow)
		if errors.Is(err, deferred.ErrCancelled) {
			return "gave up cleanly", nil // the body may recover
		}
		return "done", err
	})
	d.Cancel() // cancels slow; the body sees ErrCancelled
	d.AddCallback(func(s string) (string, error) { fmt.Println(s); return s, nil })
	// Output: gave up cleanly
}
