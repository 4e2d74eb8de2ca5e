package framing

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/deferredtcp/internal/splits"
)

// run feeds chunks to a decoder and records what comes out, stopping at the
// first error.
func runLines(l *Lines, chunks [][]byte) []string {
	var out []string
	for _, c := range chunks {
		l.Feed(c)
		for {
			ev, data := l.Next()
			if ev == NeedMore {
				break
			}
			if ev == TooLong {
				return append(out, "TOOLONG")
			}
			out = append(out, string(data))
		}
	}
	return out
}

func TestLinesEverySplit(t *testing.T) {
	tests := []struct {
		name  string
		delim string
		max   int
		in    string
		want  []string
	}{
		{"crlf", "\r\n", 16384, "hello\r\nworld\r\n\r\npartial", []string{"hello", "world", ""}},
		{"lf", "\n", 100, "a\nbb\nccc\n", []string{"a", "bb", "ccc"}},
		{"long delimiter", "<END>", 100, "a<END><EN<END>b<END>", []string{"a", "<EN", "b"}},
		{"at the limit", "\r\n", 5, "12345\r\n", []string{"12345"}},
		{"over the limit", "\r\n", 5, "ok\r\n123456\r\nnext\r\n", []string{"ok", "TOOLONG"}},
		{"no delimiter", "\r\n", 5, "ok\r\n1234567", []string{"ok", "TOOLONG"}},
		{"short no delimiter", "\r\n", 5, "ok\r\n123456", []string{"ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			splits.Every([]byte(tt.in), func(chunks [][]byte) {
				l := &Lines{Delimiter: []byte(tt.delim), MaxLength: tt.max}
				got := runLines(l, chunks)
				require.Equal(t, tt.want, got, "chunks %q", chunks)
			})
		})
	}
}

func TestLinesAppendKeepsLines(t *testing.T) {
	l := &Lines{Delimiter: []byte("\n"), MaxLength: 100}
	l.Feed([]byte("one\ntwo\n"))
	ev, first := l.Next()
	require.Equal(t, Line, ev)
	for range 100 { // grows the buffer while "one" is held
		l.Append([]byte("xyz\n"))
	}
	assert.Equal(t, "one", string(first))
	ev, second := l.Next()
	require.Equal(t, Line, ev)
	assert.Equal(t, "two", string(second))
	assert.Equal(t, "one", string(first))
}

func TestLinesTake(t *testing.T) {
	l := &Lines{Delimiter: []byte("\r\n"), MaxLength: 100}
	l.Feed([]byte("a\r\nrest"))
	ev, _ := l.Next()
	require.Equal(t, Line, ev)
	assert.Equal(t, 4, l.Buffered())
	assert.Equal(t, "rest", string(l.Take()))
	ev, _ = l.Next()
	assert.Equal(t, NeedMore, ev)
}

func runIntN(d *IntN, chunks [][]byte) ([]string, error) {
	var out []string
	for _, c := range chunks {
		d.Feed(c)
		for {
			s, ok, err := d.Next()
			if err != nil {
				return out, err
			}
			if !ok {
				break
			}
			out = append(out, string(s))
		}
	}
	return out, nil
}

func TestIntNEverySplit(t *testing.T) {
	for _, size := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("int", 8*size), func(t *testing.T) {
			var in []byte
			want := []string{"", "a", "hello", string(bytes.Repeat([]byte("x"), 40))}
			for _, s := range want {
				var err error
				in, err = AppendPrefixed(in, size, []byte(s))
				require.NoError(t, err)
			}
			if size > 1 {
				in = append(in, 0) // the start of a prefix
			}
			splits.Every(in, func(chunks [][]byte) {
				got, err := runIntN(&IntN{Size: size, MaxLength: 99999}, chunks)
				require.NoError(t, err)
				require.Equal(t, want, got, "chunks %q", chunks)
			})
		})
	}
}

func TestIntNLengthLimit(t *testing.T) {
	in, _ := AppendPrefixed(nil, 2, []byte("ok"))
	in, _ = AppendPrefixed(in, 2, []byte("too long"))
	splits.Every(in, func(chunks [][]byte) {
		got, err := runIntN(&IntN{Size: 2, MaxLength: 5}, chunks)
		require.Equal(t, []string{"ok"}, got)
		require.ErrorIs(t, err, ErrLengthLimitExceeded)
		var le *LengthLimitError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, uint64(8), le.Length)
		assert.Equal(t, 5, le.MaxLength)
	})
}

func TestAppendPrefixedTooLong(t *testing.T) {
	_, err := AppendPrefixed(nil, 1, make([]byte, 255))
	require.NoError(t, err)
	_, err = AppendPrefixed(nil, 1, make([]byte, 256))
	require.ErrorIs(t, err, ErrStringTooLong)
	_, err = AppendPrefixed(nil, 2, make([]byte, 1<<16))
	require.ErrorIs(t, err, ErrStringTooLong)
	got, err := AppendPrefixed(nil, 4, []byte("abc"))
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 0, 0, 3, 'a', 'b', 'c'}, got)
}

func runNetstring(d *Netstring, chunks [][]byte) ([]string, error) {
	var out []string
	for _, c := range chunks {
		d.Feed(c)
		for {
			s, ok, err := d.Next()
			if err != nil {
				return out, err
			}
			if !ok {
				break
			}
			out = append(out, string(s))
		}
	}
	return out, nil
}

func TestNetstringEverySplit(t *testing.T) {
	tests := []struct {
		name string
		max  int
		in   string
		want []string
		err  error
	}{
		{"good", 99999, "5:hello,0:,3:a,b,1:", []string{"hello", "", "a,b"}, nil},
		{"leading zero", 99999, "1:a,01:b,", []string{"a"}, ErrNetstringLength},
		{"double zero", 99999, "00:", nil, ErrNetstringLength},
		{"non-digit", 99999, "1:a,x", []string{"a"}, ErrNetstringLength},
		{"colon first", 99999, ":a,", nil, ErrNetstringLength},
		{"digit then junk", 99999, "12a:", nil, ErrNetstringLength},
		{"missing comma", 99999, "3:abc;", nil, ErrNetstringComma},
		{"too long", 10, "11:", nil, ErrNetstringTooLong},
		{"too many digits", 99999, "1234567", nil, ErrNetstringTooLong},
		{"at the limit", 10, "10:0123456789,", []string{"0123456789"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			splits.Every([]byte(tt.in), func(chunks [][]byte) {
				got, err := runNetstring(&Netstring{MaxLength: tt.max}, chunks)
				assert.Equal(t, tt.want, got, "chunks %q", chunks)
				if tt.err == nil {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, tt.err, "chunks %q", chunks)
				require.ErrorIs(t, err, ErrNetstringParse)
			})
		})
	}
}

func TestNetstringBrokenStaysBroken(t *testing.T) {
	d := &Netstring{MaxLength: 100}
	d.Feed([]byte("x"))
	_, _, err := d.Next()
	require.ErrorIs(t, err, ErrNetstringLength)
	d.Feed([]byte("1:a,"))
	_, _, err = d.Next()
	require.ErrorIs(t, err, ErrNetstringLength)
	assert.Zero(t, d.Buffered())
}

func TestParseNetstringLengthLimits(t *testing.T) {
	_, _, err := ParseNetstringLength([]byte("9223372036854775807:"), 1<<62)
	require.True(t, errors.Is(err, ErrNetstringTooLong))
	n, head, err := ParseNetstringLength([]byte("99999:"), 99999)
	require.NoError(t, err)
	assert.Equal(t, 99999, n)
	assert.Equal(t, 6, head)
	_, _, err = ParseNetstringLength([]byte("100000"), 99999)
	require.ErrorIs(t, err, ErrNetstringTooLong)
	assert.Equal(t, "deferredtcp: the received netstring is longer than the maximum 99999", err.Error())
}

func TestAppendNetstring(t *testing.T) {
	assert.Equal(t, "5:hello,", string(AppendNetstring(nil, []byte("hello"))))
	assert.Equal(t, "0:,", string(AppendNetstring(nil, nil)))
}
