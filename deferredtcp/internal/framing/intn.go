package framing

import "encoding/binary"

// IntN splits a byte stream into strings with a big-endian length prefix of
// Size bytes (1, 2 or 4), with Twisted's IntNStringReceiver rules.
type IntN struct {
	Size      int
	MaxLength int

	b buffer
}

// Feed adds p to the input. Data returned by Next before may be overwritten.
func (d *IntN) Feed(p []byte) { d.b.feed(p) }

// Append adds p to the input, leaving the data returned by Next intact.
func (d *IntN) Append(p []byte) { d.b.add(p) }

// Buffered reports the number of bytes not returned yet.
func (d *IntN) Buffered() int { return len(d.b.pending()) }

// Take returns every buffered byte and empties the buffer.
func (d *IntN) Take() []byte { return d.b.take() }

// Next returns the next string, ok false when none is complete, or a
// *LengthLimitError when the next prefix is over MaxLength (the input is
// left as it is: Next keeps returning the error).
func (d *IntN) Next() (s []byte, ok bool, err error) {
	p := d.b.pending()
	if len(p) < d.Size {
		return nil, false, nil
	}
	n := Prefix(d.Size, p)
	if n > uint64(d.MaxLength) {
		return nil, false, &LengthLimitError{Length: n, MaxLength: d.MaxLength}
	}
	end := d.Size + int(n)
	if len(p) < end {
		return nil, false, nil
	}
	d.b.consume(end)
	return p[d.Size:end], true, nil
}

// Prefix decodes a big-endian length prefix of size bytes from p.
func Prefix(size int, p []byte) uint64 {
	switch size {
	case 1:
		return uint64(p[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(p))
	default:
		return uint64(binary.BigEndian.Uint32(p))
	}
}

// AppendPrefixed appends s with a big-endian length prefix of size bytes to
// dst; it returns ErrStringTooLong when len(s) does not fit the prefix.
func AppendPrefixed(dst []byte, size int, s []byte) ([]byte, error) {
	if uint64(len(s)) >= 1<<(8*size) {
		return dst, ErrStringTooLong
	}
	switch size {
	case 1:
		dst = append(dst, byte(len(s)))
	case 2:
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	default:
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	}
	return append(dst, s...), nil
}
