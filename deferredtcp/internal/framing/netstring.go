package framing

import "strconv"

// Netstring splits a byte stream into netstrings, "<len>:<data>,", with
// Twisted's NetstringReceiver rules: the length is "0" or digits without a
// leading zero, at most MaxLength, and the data is followed by a comma. A
// format error is final: Next keeps returning it.
type Netstring struct {
	MaxLength int

	b      buffer
	broken error
}

// Feed adds p to the input. Data returned by Next before may be overwritten.
// Once Next has returned an error, the input is dropped.
func (d *Netstring) Feed(p []byte) {
	if d.broken == nil {
		d.b.feed(p)
	}
}

// Append adds p to the input, leaving the data returned by Next intact.
func (d *Netstring) Append(p []byte) {
	if d.broken == nil {
		d.b.add(p)
	}
}

// Buffered reports the number of bytes not returned yet.
func (d *Netstring) Buffered() int { return len(d.b.pending()) }

// Take returns every buffered byte and empties the buffer.
func (d *Netstring) Take() []byte { return d.b.take() }

// Next returns the next netstring's data, ok false when none is complete,
// or an error matching ErrNetstringParse when the input is not netstrings.
func (d *Netstring) Next() (s []byte, ok bool, err error) {
	if d.broken != nil {
		return nil, false, d.broken
	}
	p := d.b.pending()
	n, head, err := ParseNetstringLength(p, d.MaxLength)
	if err != nil {
		d.broken = err
		d.b.reset()
		return nil, false, err
	}
	if head == 0 || len(p) < head+n+1 {
		return nil, false, nil
	}
	if p[head+n] != ',' {
		d.broken = ErrNetstringComma
		d.b.reset()
		return nil, false, ErrNetstringComma
	}
	d.b.consume(head + n + 1)
	return p[head : head+n], true, nil
}

// ParseNetstringLength parses the length at the start of p. It returns the
// length and the size of the header ("<len>:"), head 0 when p holds only
// the beginning of a valid header, or an error as soon as p cannot start a
// netstring of at most max bytes.
func ParseNetstringLength(p []byte, max int) (n, head int, err error) {
	maxDigits := len(strconv.Itoa(max))
	for i, c := range p {
		switch {
		case c == ':' && i > 0:
			return n, i + 1, nil
		case c < '0' || c > '9':
			return 0, 0, ErrNetstringLength
		case i == 1 && p[0] == '0':
			return 0, 0, ErrNetstringLength // a leading zero
		case i >= maxDigits:
			return 0, 0, tooLong(max)
		}
		digit := int(c - '0')
		if max < digit || n > (max-digit)/10 {
			return 0, 0, tooLong(max)
		}
		n = 10*n + digit
	}
	return 0, 0, nil
}

// AppendNetstring appends s as a netstring to dst.
func AppendNetstring(dst, s []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	dst = append(dst, s...)
	return append(dst, ',')
}
