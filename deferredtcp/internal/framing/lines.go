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
	if len(p) == 0 {
		return NeedMore, nil
	}
	d := l.Delimiter
	from := max(l.scanned-len(d)+1, 0)
	i := bytes.Index(p[from:], d)
	if i < 0 {
		l.scanned = len(p)
		if len(p) >= l.MaxLength+len(d) {
			return TooLong, l.Take()
		}
		return NeedMore, nil
	}
	i += from
	if i > l.MaxLength {
		return TooLong, l.Take()
	}
	l.b.consume(i + len(d))
	l.scanned = 0
	return Line, p[:i]
}
