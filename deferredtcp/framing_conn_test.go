package deferredtcp_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// chainResult is what a chain-side reader got from one pipe.
type chainResult struct {
	got  []string
	err  error
	lost error
}

// readFrames reads frames with read until it fails, recording them.
func readFrames(c *deferredtcp.Conn, read func(*deferredtcp.Conn) *deferred.Deferred[[]byte], res *chainResult, done func()) {
	deferred.Inline(func(co *deferred.Co) (struct{}, error) {
		for {
			p, err := deferred.Await(co, read(c))
			if err != nil {
				res.err = err
				break
			}
			res.got = append(res.got, string(p))
		}
		c.Close()
		_, res.lost = deferred.Await(co, c.Lost())
		done()
		return struct{}{}, nil
	})
}

// overEverySplit writes wire through a Pipe in chunks of every size, reads
// it with read on the other end, and returns the result per chunk size.
func overEverySplit(t *testing.T, wire []byte, read func(*deferredtcp.Conn) *deferred.Deferred[[]byte]) map[int]*chainResult {
	r := reactor.New()
	results := map[int]*chainResult{}
	left := len(wire)
	for size := 1; size <= len(wire); size++ {
		a, b := deferredtcp.Pipe(r)
		res := &chainResult{}
		results[size] = res
		readFrames(b, read, res, func() {
			if left--; left == 0 {
				r.Stop()
			}
		})
		deferred.Inline(func(co *deferred.Co) (struct{}, error) {
			for i := 0; i < len(wire); i += size {
				if _, err := deferred.Await(co, a.Write(wire[i:min(i+size, len(wire))])); err != nil {
					return struct{}{}, nil // the reader closed on bad input
				}
			}
			a.CloseWrite()
			_, _ = deferred.Await(co, a.Lost())
			return struct{}{}, nil
		})
	}
	run(t, r)
	return results
}

func TestChainIntNStringsEverySplit(t *testing.T) {
	deferredtest.NoUnhandled(t)
	for _, size := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("int", 8*size), func(t *testing.T) {
			read := map[int]func(*deferredtcp.Conn, int) *deferred.Deferred[[]byte]{
				1: deferredtcp.ReadInt8String, 2: deferredtcp.ReadInt16String, 4: deferredtcp.ReadInt32String,
			}[size]
			want := []string{"", "a", "hello", "twisted"}
			var wire []byte
			for _, s := range want {
				wire = append(wire, prefixed(size, s)...)
			}
			for n, res := range overEverySplit(t, wire, func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] { return read(c, 0) }) {
				assert.Equal(t, want, res.got, "chunks of %d", n)
				assert.ErrorIs(t, res.err, io.EOF, "chunks of %d", n)
			}
		})
	}
}

func prefixed(size int, s string) []byte {
	n := len(s)
	hdr := []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	return append(hdr[4-size:], s...)
}

func TestChainIntNStringLimit(t *testing.T) {
	deferredtest.NoUnhandled(t)
	wire := append(prefixed(2, "ok"), prefixed(2, "far too long")...)
	for n, res := range overEverySplit(t, wire, func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
		return deferredtcp.ReadInt16String(c, 5)
	}) {
		assert.Equal(t, []string{"ok"}, res.got, "chunks of %d", n)
		var le *deferredtcp.LengthLimitError
		require.ErrorAs(t, res.err, &le, "chunks of %d", n)
		assert.Equal(t, uint64(12), le.Length)
		assert.ErrorIs(t, res.lost, deferredtcp.ErrLengthLimitExceeded, "Lost carries the reason")
	}
}

func TestChainNetstringsEverySplit(t *testing.T) {
	deferredtest.NoUnhandled(t)
	tests := []struct {
		in   string
		want []string
		err  error
	}{
		{"5:hello,0:,3:a,b,13:twisted rocks,", []string{"hello", "", "a,b", "twisted rocks"}, io.EOF},
		{"1:a,01:b,", []string{"a"}, deferredtcp.ErrNetstringLength},
		{"3:abc;", nil, deferredtcp.ErrNetstringComma},
		{"1:a,1234567:", []string{"a"}, deferredtcp.ErrNetstringTooLong},
		{"x:", nil, deferredtcp.ErrNetstringLength},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			for n, res := range overEverySplit(t, []byte(tt.in), func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
				return deferredtcp.ReadNetstring(c, 0)
			}) {
				assert.Equal(t, tt.want, res.got, "chunks of %d", n)
				assert.ErrorIs(t, res.err, tt.err, "chunks of %d", n)
				if tt.err != io.EOF {
					assert.ErrorIs(t, res.lost, deferredtcp.ErrNetstringParse, "chunks of %d", n)
				}
			}
		})
	}
}

func TestChainWriteFraming(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newReactor func(...reactor.Option) *reactor.Reactor) {
		r := newReactor()
		a, b := deferredtcp.Pipe(r)
		tooLong := record(deferredtcp.WriteInt8String(a, make([]byte, 256)))
		deferredtcp.WriteInt32String(a, []byte("abc"))
		deferredtcp.WriteInt16String(a, []byte("de"))
		deferredtcp.WriteInt8String(a, []byte("f"))
		deferredtcp.WriteNetstring(a, []byte("hello"))
		a.Close()
		all := record(readAll(b).AddBoth(func(p []byte, f *failure.Failure) ([]byte, error) {
			b.Close()
			r.Stop()
			if f != nil {
				return nil, f
			}
			return p, nil
		}))
		run(t, r)
		require.ErrorIs(t, tooLong.err, deferredtcp.ErrStringTooLong)
		require.NoError(t, all.err)
		assert.Equal(t, "\x00\x00\x00\x03abc\x00\x02de\x01f5:hello,", string(all.value))
	})
}
