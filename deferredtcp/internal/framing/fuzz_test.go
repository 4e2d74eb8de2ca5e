package framing

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// chunked cuts in where cuts says: each byte of cuts is the size of the next
// chunk (0 counts as 1).
func chunked(in, cuts []byte) [][]byte {
	var out [][]byte
	for i := 0; len(in) > 0; i++ {
		n := 1
		if len(cuts) > 0 {
			n = max(int(cuts[i%len(cuts)]), 1)
		}
		n = min(n, len(in))
		out = append(out, in[:n])
		in = in[n:]
	}
	return out
}

func FuzzLines(f *testing.F) {
	f.Add([]byte("hello\r\nworld\r\n"), []byte{1, 2, 3})
	f.Add([]byte("\r\n\r\n\r"), []byte{1})
	f.Add([]byte("0123456789012345\r\n"), []byte{7})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		whole := runLines(&Lines{Delimiter: []byte("\r\n"), MaxLength: 16}, [][]byte{in})
		l := &Lines{Delimiter: []byte("\r\n"), MaxLength: 16}
		got := runLines(l, chunked(in, cuts))
		require.Equal(t, whole, got)
		require.LessOrEqual(t, l.Buffered(), 16+2+255)
	})
}

func FuzzIntN(f *testing.F) {
	f.Add([]byte("\x00\x05hello\x00\x00"), []byte{3}, uint8(2))
	f.Add([]byte("\x03abc\x01"), []byte{1}, uint8(1))
	f.Add([]byte("\x00\x00\x00\x02hi\xff\xff\xff\xff"), []byte{2, 5}, uint8(4))
	f.Fuzz(func(t *testing.T, in, cuts []byte, size uint8) {
		sz := []int{1, 2, 4}[int(size)%3]
		whole, werr := runIntN(&IntN{Size: sz, MaxLength: 300}, [][]byte{in})
		got, err := runIntN(&IntN{Size: sz, MaxLength: 300}, chunked(in, cuts))
		require.Equal(t, whole, got)
		require.Equal(t, werr, err)
	})
}

func FuzzNetstring(f *testing.F) {
	f.Add([]byte("5:hello,0:,"), []byte{1})
	f.Add([]byte("01:a,"), []byte{2})
	f.Add([]byte("3:abc;"), []byte{4})
	f.Add([]byte("99999999:"), []byte{3})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		whole, werr := runNetstring(&Netstring{MaxLength: 100}, [][]byte{in})
		d := &Netstring{MaxLength: 100}
		got, err := runNetstring(d, chunked(in, cuts))
		require.Equal(t, whole, got)
		require.Equal(t, werr == nil, err == nil, "whole %v, chunked %v", werr, err)
		if err != nil {
			require.ErrorIs(t, err, ErrNetstringParse)
			require.Equal(t, werr.Error(), err.Error())
		}
		require.LessOrEqual(t, d.Buffered(), 100+5+255)
	})
}
