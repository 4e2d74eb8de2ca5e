package deferredtcp

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/failure"
)

// FuzzChainVsProtocol feeds the same byte stream, in the same fuzzed
// chunks, to the two ways of reading lines: a chain of [Conn.ReadUntil]
// calls, and a [LineReceiver] served by the Protocol adapter
// ([ServeProtocol]) on another Conn. Both must deliver the same lines, and
// both or neither must end the connection with [ErrLineTooLong]; both must
// agree with referenceLines. Run longer with
//
//	go test -run '^$' -fuzz '^FuzzChainVsProtocol$' -fuzztime 2m ./deferredtcp/
func FuzzChainVsProtocol(f *testing.F) {
	deferredtest.NoUnhandled(f) // once, for the whole run: every exec handles its Deferreds
	f.Add([]byte("line1\r\nline2\r\n\r\nrest"), []byte{2, 5, 1}, []byte("\r\n"), 10)
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaaaaa\n"), []byte{1}, []byte("\n"), 4)
	f.Add([]byte("abab\nab\nabab"), []byte{3}, []byte("ab"), 3)
	f.Add([]byte("x\r\r\nabcd"), []byte{1, 1, 1}, []byte("\r\n"), 3)
	f.Add([]byte("0123\n0123\n01234\n"), []byte{6}, []byte("\n"), 4)
	f.Fuzz(func(t *testing.T, stream, cuts, delim []byte, max int) {
		if len(delim) == 0 {
			delim = []byte("\n")
		}
		delim = delim[:min(len(delim), 4)]
		max %= 64
		if max <= 0 {
			max += 64 // LineReceiver's MaxLength 0 means its default, as ReadUntil's
		}
		chunks := cutStream(stream, cuts)

		// The chain.
		chain := newFuzzConn()
		var chainLines [][]byte
		var chainEnd error
		var next func()
		next = func() {
			chain.ReadUntil(delim, max).AddBoth(func(line []byte, f *failure.Failure) ([]byte, error) {
				if f != nil {
					chainEnd = f
					return nil, nil
				}
				chainLines = append(chainLines, line)
				next()
				return nil, nil
			})
		}
		next()
		for _, p := range chunks {
			chain.received(p)
		}
		chain.receivedEOF()

		// The protocol.
		conn := newFuzzConn()
		proto := &lineRecorder{}
		proto.Delimiter, proto.MaxLength = bytes.Clone(delim), max
		ServeProtocol(conn, proto)
		for _, p := range chunks {
			if conn.state != connOpen {
				break
			}
			conn.received(p)
		}
		if conn.state == connOpen {
			conn.receivedEOF()
		}

		wantLines, wantEnd := referenceLines(stream, delim, max)
		if !equalLines(chainLines, wantLines) {
			t.Fatalf("chain: got lines %q, want %q", chainLines, wantLines)
		}
		if !errors.Is(chainEnd, wantEnd) {
			t.Fatalf("chain: got %v, want %v", chainEnd, wantEnd)
		}
		if !equalLines(proto.lines, chainLines) {
			t.Fatalf("protocol: got lines %q; the chain got %q", proto.lines, chainLines)
		}
		if proto.lost == nil {
			t.Fatal("protocol: ConnectionLost was not called")
		}
		if chainTooLong, protoTooLong := errors.Is(chainEnd, ErrLineTooLong), errors.Is(proto.lost, ErrLineTooLong); chainTooLong != protoTooLong {
			t.Fatalf("protocol ended with %v; the chain with %v", proto.lost, chainEnd)
		}
	})
}

// lineRecorder is a LineReceiver that keeps what it receives.
type lineRecorder struct {
	LineReceiver
	lines [][]byte
	lost  *failure.Failure
}

func (p *lineRecorder) LineReceived(line []byte) { p.lines = append(p.lines, bytes.Clone(line)) }

func (p *lineRecorder) ConnectionLost(reason *failure.Failure) { p.lost = reason }

// cutStream cuts stream into chunks of the sizes in cuts (1 to 128; the
// rest in one chunk).
func cutStream(stream, cuts []byte) [][]byte {
	var chunks [][]byte
	for i := 0; len(stream) > 0; i++ {
		n := len(stream)
		if i < len(cuts) {
			n = min(1+int(cuts[i]&0x7f), n)
		}
		chunks = append(chunks, stream[:n])
		stream = stream[n:]
	}
	return chunks
}

func equalLines(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
