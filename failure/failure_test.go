package failure_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/twistgo/twist/failure"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func raise() *failure.Failure { return failure.New(io.EOF) }

func TestNewWrapsAndRecordsCaller(t *testing.T) {
	f := raise()
	assert.ErrorIs(t, f, io.EOF)
	assert.Equal(t, "EOF", f.Error())
	assert.False(t, f.Panicked())
	frames := f.Frames()
	require.NotEmpty(t, frames)
	last := frames[len(frames)-1]
	assert.True(t, strings.HasSuffix(last.Function, "failure_test.raise"), "innermost frame %q, want raise", last.Function)
}

func TestNewKeepsAFailure(t *testing.T) {
	f := raise()
	assert.Same(t, f, failure.New(f))
	var err error = f
	assert.Same(t, f, failure.New(err))
}

func TestNewNil(t *testing.T) {
	f := failure.New(nil)
	assert.ErrorIs(t, f, failure.ErrNilError)
}

func TestErrorsAsSeesThrough(t *testing.T) {
	pe := &os.PathError{Op: "open", Path: "/x", Err: os.ErrNotExist}
	f := failure.New(fmt.Errorf("wrapped: %w", pe))
	var got *os.PathError
	require.ErrorAs(t, f, &got)
	assert.Equal(t, "/x", got.Path)
	assert.ErrorIs(t, f, os.ErrNotExist)
	var asFailure *failure.Failure
	require.ErrorAs(t, fmt.Errorf("ctx: %w", f), &asFailure)
	assert.Same(t, f, asFailure)
}

func TestCheckAndTrap(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	f := failure.New(fmt.Errorf("x: %w", errB))
	assert.Equal(t, errB, f.Check(errA, errB))
	assert.Nil(t, f.Check(errA))
	assert.Nil(t, f.Check())
	assert.NoError(t, f.Trap(errA, errB))
	assert.Same(t, f, f.Trap(errA))
}

func panicker() { panic("boom") }

func recovered(fn func()) (f *failure.Failure) {
	defer func() { f = failure.FromPanic(recover()) }()
	fn()
	return nil
}

func TestFromPanicValue(t *testing.T) {
	f := recovered(panicker)
	assert.True(t, f.Panicked())
	assert.Equal(t, "panic: boom", f.Error())
	var pe *failure.PanicError
	require.ErrorAs(t, f, &pe)
	assert.Equal(t, "boom", pe.Value)
	frames := f.Frames()
	require.NotEmpty(t, frames)
	assert.True(t, strings.HasSuffix(frames[len(frames)-1].Function, "failure_test.panicker"),
		"innermost frame %q, want the panic site", frames[len(frames)-1].Function)
}

func TestFromPanicError(t *testing.T) {
	f := recovered(func() { panic(io.ErrUnexpectedEOF) })
	assert.ErrorIs(t, f, io.ErrUnexpectedEOF)
	assert.Equal(t, "panic: unexpected EOF", f.Error())
}

func TestFromPanicRuntimeError(t *testing.T) {
	f := recovered(func() {
		var m map[string]int
		m["x"] = 1
	})
	assert.True(t, f.Panicked())
	var re interface{ RuntimeError() }
	assert.ErrorAs(t, f, &re)
	frames := f.Frames()
	require.NotEmpty(t, frames)
	assert.NotContains(t, frames[len(frames)-1].Function, "runtime.", "runtime frames are dropped")
}

func TestFromPanicKeepsAFailure(t *testing.T) {
	inner := raise()
	assert.Same(t, inner, recovered(func() { panic(inner) }))
}

func TestTracebackAndFormat(t *testing.T) {
	f := raise()
	tb := f.Traceback()
	assert.True(t, strings.HasPrefix(tb, "Traceback (most recent call last):\n"))
	assert.Contains(t, tb, "failure_test.raise")
	assert.Contains(t, tb, "failure_test.go:")
	assert.True(t, strings.HasSuffix(tb, "*errors.errorString: EOF\n"), tb)
	// Outermost call first: the test function comes before raise.
	assert.Less(t, strings.Index(tb, "TestTracebackAndFormat"), strings.Index(tb, "failure_test.raise"))

	assert.Equal(t, "EOF", fmt.Sprintf("%v", f))
	assert.Equal(t, "EOF", fmt.Sprintf("%s", f))
	assert.Equal(t, `"EOF"`, fmt.Sprintf("%q", f))
	assert.Equal(t, "EOF\n"+tb, fmt.Sprintf("%+v", f))

	p := recovered(panicker)
	assert.Contains(t, p.Traceback(), "from a panic")
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = failure.New(io.EOF)
	}
}

func BenchmarkTraceback(b *testing.B) {
	f := raise()
	b.ReportAllocs()
	for b.Loop() {
		_ = f.Traceback()
	}
}
