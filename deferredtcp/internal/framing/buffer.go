// Package framing holds the byte-stream state machines behind deferredtcp's
// framed protocols: delimited lines, length-prefixed strings and netstrings.
// They know nothing of connections: bytes go in with Feed, frames come out
// with Next, one at a time, so the caller may stop between two frames (to
// switch modes, pause, or drop the connection). Their output does not depend
// on how the input was split into chunks.
//
// The frames handed out are slices of the decoder's buffer: they stay valid
// until the next Feed, and are never overwritten while the caller holds them
// if it uses Append instead of Feed while a frame is being processed.
package framing

// buffer is the unconsumed input of a decoder: buf[off:].
type buffer struct {
	buf []byte
	off int
}

// feed adds p to the buffer, first moving the unconsumed bytes to the front
// so that the buffer does not grow with the stream. Frames handed out before
// may be overwritten.
func (b *buffer) feed(p []byte) {
	if b.off > 0 {
		n := copy(b.buf, b.buf[b.off:])
		b.buf = b.buf[:n]
		b.off = 0
	}
	b.buf = append(b.buf, p...)
}

// add appends p without moving anything: frames handed out before stay
// intact. When the array must grow, append copies to a new one and the old
// one stays with whoever holds a frame of it.
func (b *buffer) add(p []byte) {
	if len(b.buf)+len(p) > cap(b.buf) {
		// Grow into a new array holding only the unconsumed bytes.
		n := len(b.buf) - b.off
		nb := make([]byte, n, max(2*(n+len(p)), 64))
		copy(nb, b.buf[b.off:])
		b.buf, b.off = nb, 0
	}
	b.buf = append(b.buf, p...)
}

// pending returns the unconsumed bytes.
func (b *buffer) pending() []byte { return b.buf[b.off:] }

// consume marks n more bytes as consumed.
func (b *buffer) consume(n int) { b.off += n }

// take consumes and returns every unconsumed byte.
func (b *buffer) take() []byte {
	p := b.buf[b.off:]
	b.off = len(b.buf)
	return p
}

// reset drops every unconsumed byte.
func (b *buffer) reset() { b.off = len(b.buf) }

// Decoder is what the decoders have in common: the input side, for the
// receivers' shared dispatch loop.
type Decoder interface {
	// Feed adds p to the input. Data returned by Next before may be
	// overwritten.
	Feed(p []byte)
	// Append adds p to the input, leaving the data returned by Next
	// intact.
	Append(p []byte)
	// Take returns every buffered byte and empties the buffer.
	Take() []byte
}

var (
	_ Decoder = (*Lines)(nil)
	_ Decoder = (*IntN)(nil)
	_ Decoder = (*Netstring)(nil)
)
