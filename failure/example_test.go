package failure_test

import (
	"errors"
	"fmt"
	"io"

	"github.com/twistgo/twist/failure"
)

func ExampleFailure_Trap() {
	handle := func(f *failure.Failure) error {
		// Handle a clean end of stream; pass anything else on.
		return f.Trap(io.EOF)
	}
	fmt.Println(handle(failure.New(io.EOF)))
	fmt.Println(handle(failure.New(errors.New("connection reset"))))
	// Output:
	// <nil>
	// connection reset
}

func ExampleFromPanic() {
	f := func() (f *failure.Failure) {
		defer func() { f = failure.FromPanic(recover()) }()
		panic("boom")
	}()
	fmt.Println(f, f.Panicked())
	// Output: panic: boom true
}
