package deferredtcp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// FuzzReadUntil feeds a byte stream, cut into chunks of fuzzed sizes, to a
// Conn whose reader calls ReadUntil(delim, max) line after line, sometimes
// at once from the callback and sometimes only after the next chunk has
// been queued, then ends the stream. What the reads return must be what a
// reference splitter makes of the whole stream: the same lines, then the
// same end (io.EOF, io.ErrUnexpectedEOF or ErrLineTooLong), and while a
// read is pending the queue must stay under max plus the delimiter. The
// Conn runs over a fake I/O path, so that the fuzzer makes millions of
// executions; the corpus in testdata/fuzz/FuzzReadUntil runs with the
// ordinary tests. A longer run:
//
//	go test -run '^$' -fuzz '^FuzzReadUntil$' -fuzztime 2m ./deferredtcp/
func FuzzReadUntil(f *testing.F) {
	deferredtest.NoUnhandled(f) // once, for the whole run: every exec handles its Deferreds
	f.Add([]byte("line1\r\nline2\r\n\r\nrest"), []byte{2, 5, 1}, []byte("\r\n"), 10)
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaa\n"), []byte{1}, []byte("\n"), 4)
	f.Add([]byte("abab\nab\nabab"), []byte{0x81, 3}, []byte("ab"), 0)
	f.Add([]byte("x\r\r\n"), []byte{1, 1, 1}, []byte("\r\n"), 1)
	f.Add([]byte("aaaa"), []byte{}, []byte("aa"), -5)
	f.Fuzz(func(t *testing.T, stream, cuts, delim []byte, max int) {
		if len(delim) == 0 {
			delim = []byte("\n")
		}
		delim = delim[:min(len(delim), 4)]
		max %= 64 // small limits, so that ErrLineTooLong is common; <= 0 is the default
		limit := max
		if limit <= 0 {
			limit = DefaultLineMaxLength
		}
		wantLines, wantEnd := referenceLines(stream, delim, limit)

		c := newFuzzConn()
		var gotLines [][]byte
		var gotEnd error
		late := false // the next read waits for the next chunk
		var next func()
		next = func() {
			c.ReadUntil(delim, max).AddBoth(func(line []byte, f *failure.Failure) ([]byte, error) {
				if f != nil {
					gotEnd = f
					return nil, nil
				}
				gotLines = append(gotLines, line)
				if !late {
					next()
				}
				return nil, nil
			})
		}
		next()
		for i := 0; len(stream) > 0; i++ {
			n := len(stream)
			if i < len(cuts) {
				n = min(1+int(cuts[i]&0x7f), n)
				late = cuts[i]&0x80 != 0
			} else {
				late = false
			}
			c.received(stream[:n])
			stream = stream[n:]
			if gotEnd == nil && c.rd.kind == readNone {
				next() // a late read
			}
			if c.rd.kind != readNone && c.Queued() >= limit+len(delim) {
				t.Fatalf("%d bytes queued for a pending read; the limit is %d+%d", c.Queued(), limit, len(delim))
			}
		}
		late = false
		if gotEnd == nil && c.rd.kind == readNone {
			next()
		}
		c.receivedEOF()

		if len(gotLines) != len(wantLines) {
			t.Fatalf("got %d lines, want %d:\n got %q\nwant %q", len(gotLines), len(wantLines), gotLines, wantLines)
		}
		for i := range gotLines {
			if !bytes.Equal(gotLines[i], wantLines[i]) {
				t.Fatalf("line %d: got %q, want %q", i, gotLines[i], wantLines[i])
			}
		}
		if !errors.Is(gotEnd, wantEnd) {
			t.Fatalf("after %d lines: got %v, want %v", len(gotLines), gotEnd, wantEnd)
		}
		if errors.Is(wantEnd, ErrLineTooLong) {
			if c.state != connClosed || !errors.Is(c.reason, ErrLineTooLong) {
				t.Fatalf("a line too long leaves the connection in state %d (reason %v)", c.state, c.reason)
			}
		}
	})
}

// referenceLines splits stream into lines ended by delim, as ReadUntil
// documents it: a line of more than max bytes, or max+len(delim) bytes
// with no delimiter, is ErrLineTooLong; bytes left without a delimiter
// at the end are io.ErrUnexpectedEOF; nothing left is io.EOF.
func referenceLines(stream, delim []byte, max int) (lines [][]byte, end error) {
	for {
		i := bytes.Index(stream, delim)
		switch {
		case i > max:
			return lines, ErrLineTooLong
		case i >= 0:
			lines = append(lines, stream[:i])
			stream = stream[i+len(delim):]
		case len(stream) >= max+len(delim):
			return lines, ErrLineTooLong
		case len(stream) > 0:
			return lines, io.ErrUnexpectedEOF
		default:
			return lines, io.EOF
		}
	}
}

// fuzzReactor serves the fuzzed Conns; it never runs (a Conn's reads need
// no loop iteration), and a portable reactor holds no descriptor.
var fuzzReactor = reactor.New(reactor.WithBackend(reactor.Portable))

// newFuzzConn returns a Conn over an I/O path that does nothing: the test
// feeds it with received and receivedEOF.
func newFuzzConn() *Conn {
	l := &loop{r: fuzzReactor, listeners: map[*Listener]struct{}{}, attempts: map[*attempt]struct{}{}}
	// No turn of the loop ever comes: a read held for it is served by the
	// next chunk.
	l.relay.init(func(func()) {})
	cfg := newConfig(nil)
	c := newConn(l, "tcp", nopIO{}, nil, &cfg)
	c.start()
	return c
}

// nopIO is a connIO with no socket: writes are taken whole.
type nopIO struct{}

func (nopIO) writeNow(p []byte) (int, error) { return len(p), nil }
func (nopIO) flush()                         {}
func (nopIO) setReading(bool)                {}
func (nopIO) shutdownWrite() error           { return nil }
func (nopIO) close(bool)                     {}
func (nopIO) setNoDelay(bool) error          { return nil }
func (nopIO) setKeepAlive(bool) error        { return nil }
func (nopIO) localAddr() net.Addr            { return nil }
