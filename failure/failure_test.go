package failure_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

func returnsEOF() error { return io.EOF }

func TestFromFuncRecordsTheFunction(t *testing.T) {
	f := failure.FromFunc(returnsEOF(), returnsEOF)
	assert.ErrorIs(t, f, io.EOF)
	frames := f.Frames()
	require.Len(t, frames, 1)
	assert.True(t, strings.HasSuffix(frames[0].Function, "failure_test.returnsEOF"), frames[0].Function)
	assert.Contains(t, frames[0].File, "failure_test.go")
	tb := f.Traceback()
	assert.Contains(t, tb, "the function that returned the error")
	assert.Contains(t, tb, "failure_test.returnsEOF")
	assert.Same(t, f, failure.FromFunc(f, returnsEOF), "a Failure comes back unchanged")
	assert.ErrorIs(t, failure.FromFunc(nil, nil), failure.ErrNilError)
	assert.Empty(t, failure.FromFunc(io.EOF, 42).Frames(), "a non-func records nothing")
}

func TestNewBoundsTheStack(t *testing.T) {
	var deep func(n int) *failure.Failure
	deep = func(n int) *failure.Failure {
		if n == 0 {
			return failure.New(io.EOF)
		}
		return deep(n - 1)
	}
	f := deep(100)
	assert.LessOrEqual(t, len(f.Frames()), 16)
	allocs := testing.AllocsPerRun(100, func() { _ = failure.New(io.EOF) })
	assert.Equal(t, 1.0, allocs, "the Failure and its stack are one allocation")
}

// cyclicError refers to a value that refers back to the Failure made of it.
type cyclicError struct {
	holder *holder
	err    error
}

type holder struct{ f *failure.Failure }

func (e *cyclicError) Error() string { return "cyclic: " + e.err.Error() }
func (e *cyclicError) Unwrap() error { return e.err }

func TestDetach(t *testing.T) {
	f := failure.New(fmt.Errorf("wrapped: %w", io.EOF))
	assert.Same(t, f, f.Detach(), "an error that refers to nothing else is kept as is")
	pe := &os.PathError{Op: "open", Path: "/x", Err: os.ErrNotExist}
	pf := failure.New(pe)
	assert.Same(t, pf, pf.Detach())

	h := &holder{}
	c := failure.New(&cyclicError{holder: h, err: io.EOF})
	h.f = c
	d := c.Detach()
	require.NotSame(t, c, d)
	assert.Equal(t, c.Error(), d.Error())
	assert.ErrorIs(t, d, io.EOF, "the sentinel in the chain is kept")
	var ce *cyclicError
	assert.False(t, errors.As(d, &ce), "the cyclic error itself is not")
	assert.Equal(t, c.Frames(), d.Frames())
	assert.Contains(t, d.Traceback(), "*failure_test.cyclicError: cyclic: EOF")

	p := recovered(func() { panic(&cyclicError{holder: h, err: io.ErrUnexpectedEOF}) })
	dp := p.Detach()
	assert.True(t, dp.Panicked())
	assert.Equal(t, p.Error(), dp.Error())
}

func TestLogValue(t *testing.T) {
	f := raise()
	var js strings.Builder
	slog.New(slog.NewJSONHandler(&js, nil)).Error("unhandled", "failure", f)
	var rec struct {
		Failure struct {
			Message   string
			Type      string
			Traceback []string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(js.String()), &rec), js.String())
	assert.Equal(t, "EOF", rec.Failure.Message)
	assert.Equal(t, "*errors.errorString", rec.Failure.Type)
	require.NotEmpty(t, rec.Failure.Traceback)
	assert.Contains(t, rec.Failure.Traceback[len(rec.Failure.Traceback)-1], "failure_test.raise")

	var text strings.Builder
	slog.New(slog.NewTextHandler(&text, nil)).Error("unhandled", "failure", f)
	line := text.String()
	assert.Equal(t, 1, strings.Count(line, "\n"), "one record, one line")
	assert.NotContains(t, line, `\n`, "no escaped newlines")
	assert.Contains(t, line, "failure.message=EOF")
	assert.Contains(t, line, "failure_test.raise")
}
