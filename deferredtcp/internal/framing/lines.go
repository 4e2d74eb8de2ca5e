package framing

import "bytes"

// Event is what a [Lines] decoder found.
type Event uint8

const (
	// NeedMore: no complete frame is buffered.
	NeedMore Event = iota
	// Line: a line, without its delimiter.
	Line
	// TooLong: a line over the limit; the data is the rest of the buffer,
	// starting with (at least part of) that line, and the buffer is empty.
	TooLong
)

// Lines splits a byte stream into delimited lines with Twisted's
// LineReceiver rules: a line longer than MaxLength, or MaxLength plus the
// delimiter's length of bytes without a delimiter, is TooLong.
type Lines struct {
	Delimiter []byte // not empty
	MaxLength int

	b       buffer
	scanned int // bytes of the pending data known to hold no delimiter start
}

// Feed adds p to the input. Data returned by Next before may be overwritten.
func (l *Lines) Feed(p []byte) { l.b.feed(p) }

// Append adds p to the input, leaving the data returned by Next intact.
func (l *Lines) Append(p []byte) { l.b.add(p) }

// Buffered reports the number of bytes not returned yet.
func (l *Lines) Buffered() int { return len(l.b.pending()) }

// Take returns every buffered byte and empties the buffer (raw mode, and
// Twisted's clearLineBuffer).
func (l *Lines) Take() []byte {
	l.scanned = 0
	return l.b.take()
}

// Next returns the next event and its data.
func (l *Lines) Next() (Event, []byte) {
	p := l.b.pending()
	ev, n, scanned := FindLine(p, l.Delimiter, l.MaxLength, l.scanned)
	l.scanned = scanned
	switch ev {
	case TooLong:
		return TooLong, l.Take()
	case Line:
		l.b.consume(n + len(l.Delimiter))
		return Line, p[:n]
	}
	return NeedMore, nil
}

// FindLine looks for the first line of p with LineReceiver's rules (see
// [Lines]); [Lines] and deferredtcp's Conn.ReadUntil both split with it.
// It returns Line and the line's length (without delim), TooLong, or
// NeedMore. scanned is how many bytes at the start of p are known to hold
// no delimiter (from an earlier call on the same bytes), and rest is the
// value to pass next time: the search resumes where it stopped, so that a
// line arriving byte by byte is not searched over and over.
func FindLine(p, delim []byte, maxLength, scanned int) (ev Event, n, rest int) {
	from := max(scanned-len(delim)+1, 0)
	i := bytes.Index(p[from:], delim)
	if i < 0 {
		if len(p) >= maxLength+len(delim) {
			return TooLong, 0, 0
		}
		return NeedMore, 0, len(p)
	}
	if i += from; i > maxLength {
		return TooLong, 0, 0
	}
	return Line, i, 0
}
