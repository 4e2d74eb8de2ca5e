package deferredtcp_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/defer/deferredtest"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/deferredtcp/deferredtcptest"
	"github.com/twistgo/twist/deferredtcp/internal/splits"
	"github.com/twistgo/twist/failure"
)

// lines records what a LineReceiver delivers; "raw:" prefixes raw data.
type lines struct {
	deferredtcp.LineReceiver
	got      []string
	rawAfter string // switch to raw mode after this line
	lineBack int    // in raw mode, go back to line mode after this many bytes
	exceeded []string
}

func (l *lines) LineReceived(line []byte) {
	l.got = append(l.got, string(line))
	if l.rawAfter != "" && string(line) == l.rawAfter {
		l.SetRawMode()
	}
}

func (l *lines) RawDataReceived(data []byte) {
	if l.lineBack > 0 && len(data) > 0 {
		n := min(l.lineBack, len(data))
		l.lineBack -= n
		l.got = append(l.got, "raw:"+string(data[:n]))
		if l.lineBack == 0 {
			l.SetLineMode(data[n:])
		}
		return
	}
	l.got = append(l.got, "raw:"+string(data))
}

// joinRaw merges consecutive raw pieces, whose cuts depend on the chunks.
func joinRaw(got []string) []string {
	var out []string
	for _, s := range got {
		if n := len(out); n > 0 && len(s) > 4 && s[:4] == "raw:" && len(out[n-1]) >= 4 && out[n-1][:4] == "raw:" {
			out[n-1] += s[4:]
			continue
		}
		out = append(out, s)
	}
	return out
}

func TestLineReceiverEverySplit(t *testing.T) {
	deferredtest.NoUnhandled(t)
	tests := []struct {
		name     string
		setup    func(*lines)
		in       string
		want     []string
		tooLong  bool
		rawAfter string
	}{
		{name: "crlf", in: "hello\r\nworld\r\n\r\npartial", want: []string{"hello", "world", ""}},
		{name: "lf", setup: func(l *lines) { l.Delimiter = []byte("\n") }, in: "a\nb\r\n", want: []string{"a", "b\r"}},
		{name: "raw mode", setup: func(l *lines) { l.rawAfter = "BEGIN"; l.lineBack = 5 },
			in: "x\r\nBEGIN\r\n12\r\n4after\r\n", want: []string{"x", "BEGIN", "raw:12\r\n4", "after"}},
		{name: "raw to the end", setup: func(l *lines) { l.rawAfter = "RAW" },
			in: "RAW\r\nall\r\nof it", want: []string{"RAW", "raw:all\r\nof it"}},
		{name: "too long", setup: func(l *lines) { l.MaxLength = 4 },
			in: "abcd\r\nabcde\r\nnever\r\n", want: []string{"abcd"}, tooLong: true},
		{name: "too long without delimiter", setup: func(l *lines) { l.MaxLength = 4 },
			in: "ok\r\nabcdef", want: []string{"ok"}, tooLong: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			splits.Every([]byte(tt.in), func(chunks [][]byte) {
				l := &lines{}
				if tt.setup != nil {
					tt.setup(l)
				}
				tr := deferredtcptest.NewStringTransport()
				deferredtcp.MakeConnection(l, tr)
				for _, c := range chunks {
					l.DataReceived(c)
				}
				require.Equal(t, tt.want, joinRaw(l.got), "chunks %q", chunks)
				require.Equal(t, tt.tooLong, tr.Closed, "chunks %q", chunks)
				if tt.tooLong {
					require.ErrorIs(t, tr.Reason, deferredtcp.ErrLineTooLong)
				}
			})
		})
	}
}

// quitter closes the connection on "QUIT": later lines are not delivered.
type quitter struct {
	deferredtcp.LineReceiver
	got []string
}

func (q *quitter) LineReceived(line []byte) {
	q.got = append(q.got, string(line))
	if string(line) == "QUIT" {
		q.SendLine([]byte("bye"))
		q.Transport.LoseConnection()
	}
}

func TestLineReceiverStopsWhenDisconnecting(t *testing.T) {
	deferredtest.NoUnhandled(t)
	q := &quitter{}
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(q, tr)
	q.DataReceived([]byte("a\r\nQUIT\r\nb\r\n"))
	assert.Equal(t, []string{"a", "QUIT"}, q.got)
	assert.Equal(t, "bye\r\n", string(tr.Value()))
}

// exceeder overrides LineLengthExceeded.
type exceeder struct {
	lines
	over [][]byte
}

func (e *exceeder) LineLengthExceeded(line []byte) { e.over = append(e.over, bytes.Clone(line)) }

func TestLineLengthExceededOverride(t *testing.T) {
	deferredtest.NoUnhandled(t)
	e := &exceeder{}
	e.MaxLength = 3
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(e, tr)
	e.DataReceived([]byte("abcd\r\nef\r\n"))
	require.Len(t, e.over, 1)
	assert.Equal(t, "abcd\r\nef\r\n", string(e.over[0]), "the rest of the buffer, Twisted's way")
	assert.False(t, tr.Closed)
	e.DataReceived([]byte("ok\r\n"))
	assert.Equal(t, []string{"ok"}, e.got)
}

func TestLineReceiverPauseAndClear(t *testing.T) {
	deferredtest.NoUnhandled(t)
	l := &lines{}
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(l, tr)
	l.PauseProducing()
	assert.True(t, tr.ReadPaused)
	l.DataReceived([]byte("one\r\ntwo\r\nthr"))
	assert.Empty(t, l.got)
	l.ResumeProducing()
	assert.False(t, tr.ReadPaused)
	assert.Equal(t, []string{"one", "two"}, l.got)
	assert.Equal(t, "thr", string(l.ClearLineBuffer()))
	l.DataReceived([]byte("ee\r\n"))
	assert.Equal(t, []string{"one", "two", "ee"}, l.got)
	l.SendLine([]byte("out"))
	assert.Equal(t, "out\r\n", string(tr.Value()))
}

// strs records the strings a receiver delivers.
type strs struct{ got []string }

func (s *strs) StringReceived(p []byte) { s.got = append(s.got, string(p)) }

type int32Strings struct {
	deferredtcp.Int32StringReceiver
	strs
}
type int16Strings struct {
	deferredtcp.Int16StringReceiver
	strs
}
type int8Strings struct {
	deferredtcp.Int8StringReceiver
	strs
}

// stringProtocol is what the string receivers have in common.
type stringProtocol interface {
	deferredtcp.Protocol
	SendString(s []byte) error
	received() []string
}

func (s *strs) received() []string { return s.got }

func TestIntNStringReceiverEverySplit(t *testing.T) {
	deferredtest.NoUnhandled(t)
	makers := map[string]func() stringProtocol{
		"int32": func() stringProtocol { return &int32Strings{} },
		"int16": func() stringProtocol { return &int16Strings{} },
		"int8":  func() stringProtocol { return &int8Strings{} },
	}
	want := []string{"", "a", "hello", "twisted"}
	for name, mk := range makers {
		t.Run(name, func(t *testing.T) {
			// The wire format comes from the receiver's own SendString.
			sender := mk()
			tr := deferredtcptest.NewStringTransport()
			deferredtcp.MakeConnection(sender, tr)
			for _, s := range want {
				require.NoError(t, sender.SendString([]byte(s)))
			}
			wire := bytes.Clone(tr.Value())
			splits.Every(wire, func(chunks [][]byte) {
				p := mk()
				deferredtcp.MakeConnection(p, deferredtcptest.NewStringTransport())
				for _, c := range chunks {
					p.DataReceived(c)
				}
				require.Equal(t, want, p.received(), "chunks %q", chunks)
			})
		})
	}
}

func TestIntNStringWireFormatAndLimits(t *testing.T) {
	deferredtest.NoUnhandled(t)
	p := &int16Strings{}
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(p, tr)
	require.NoError(t, p.SendString([]byte("abc")))
	assert.Equal(t, []byte{0, 3, 'a', 'b', 'c'}, tr.Value())
	err := p.SendString(make([]byte, 1<<16))
	require.ErrorIs(t, err, deferredtcp.ErrStringTooLong)
	assert.Len(t, tr.Value(), 5, "nothing written")

	p8 := &int8Strings{}
	deferredtcp.MakeConnection(p8, deferredtcptest.NewStringTransport())
	require.NoError(t, p8.SendString(make([]byte, 255)))
	require.ErrorIs(t, p8.SendString(make([]byte, 256)), deferredtcp.ErrStringTooLong)

	// A prefix over MaxLength closes the connection with the reason.
	q := &int32Strings{}
	q.MaxLength = 10
	qt := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(q, qt)
	q.DataReceived([]byte{0, 0, 0, 2, 'o', 'k', 0, 0, 0, 11})
	assert.Equal(t, []string{"ok"}, q.got)
	assert.True(t, qt.Closed)
	var le *deferredtcp.LengthLimitError
	require.ErrorAs(t, qt.Reason, &le)
	assert.Equal(t, uint64(11), le.Length)
	assert.ErrorIs(t, qt.Reason, deferredtcp.ErrLengthLimitExceeded)
}

type netstrings struct {
	deferredtcp.NetstringReceiver
	strs
}

func TestNetstringReceiverEverySplit(t *testing.T) {
	deferredtest.NoUnhandled(t)
	tests := []struct {
		in   string
		want []string
		err  error
	}{
		{"5:hello,0:,3:a,b,", []string{"hello", "", "a,b"}, nil},
		{"1:a,01:b,", []string{"a"}, deferredtcp.ErrNetstringLength},
		{"1:a,x", []string{"a"}, deferredtcp.ErrNetstringLength},
		{"3:abc;", nil, deferredtcp.ErrNetstringComma},
		{"100000:", nil, deferredtcp.ErrNetstringTooLong},
		{"1234567", nil, deferredtcp.ErrNetstringTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			splits.Every([]byte(tt.in), func(chunks [][]byte) {
				p := &netstrings{}
				tr := deferredtcptest.NewStringTransport()
				deferredtcp.MakeConnection(p, tr)
				for _, c := range chunks {
					p.DataReceived(c)
				}
				require.Equal(t, tt.want, p.got, "chunks %q", chunks)
				require.Equal(t, tt.err != nil, p.BrokenPeer)
				require.Equal(t, tt.err != nil, tr.Closed)
				if tt.err != nil {
					require.ErrorIs(t, tr.Reason, tt.err, "chunks %q", chunks)
					require.ErrorIs(t, tr.Reason, deferredtcp.ErrNetstringParse)
				}
			})
		})
	}
	p := &netstrings{}
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(p, tr)
	p.SendString([]byte("hello"))
	p.SendString(nil)
	assert.Equal(t, "5:hello,0:,", string(tr.Value()))
}

// talker sends lines and records the answers; chatty answers each line.
type talker struct {
	deferredtcp.LineReceiver
	send []string
	got  []string
	lost *failure.Failure
}

func (c *talker) ConnectionMade(deferredtcp.Transport) {
	for _, s := range c.send {
		c.SendLine([]byte(s))
	}
}
func (c *talker) LineReceived(line []byte) {
	c.got = append(c.got, string(line))
	if len(c.got) == len(c.send) {
		c.Transport.LoseConnection()
	}
}
func (c *talker) ConnectionLost(reason *failure.Failure) { c.lost = reason }

type upper struct {
	deferredtcp.LineReceiver
	lost *failure.Failure
}

func (u *upper) LineReceived(line []byte)               { u.SendLine(bytes.ToUpper(line)) }
func (u *upper) ConnectionLost(reason *failure.Failure) { u.lost = reason }

func TestPumpConnectsProtocols(t *testing.T) {
	deferredtest.NoUnhandled(t)
	for _, chunk := range []int{0, 1, 3} {
		t.Run(fmt.Sprint("chunk ", chunk), func(t *testing.T) {
			server := &upper{}
			client := &talker{send: []string{"hello", "world"}}
			pump := deferredtcptest.NewPump(server, client)
			pump.ChunkSize = chunk
			deferredtcp.MakeConnection(server, pump.Server)
			deferredtcp.MakeConnection(client, pump.Client)
			pump.Flush()
			assert.Equal(t, []string{"HELLO", "WORLD"}, client.got)
			require.NotNil(t, client.lost)
			assert.ErrorIs(t, client.lost, deferredtcp.ErrConnectionDone)
			assert.ErrorIs(t, server.lost, deferredtcp.ErrConnectionDone)
			assert.Equal(t, "server", client.Transport.GetPeer().String())
		})
	}
}

func TestPumpLineTooLongReason(t *testing.T) {
	deferredtest.NoUnhandled(t)
	server := &upper{}
	server.MaxLength = 4
	client := &talker{send: []string{"ok", "far too long"}}
	deferredtcptest.ConnectedServerAndClient(server, client)
	assert.Equal(t, []string{"OK"}, client.got)
	require.NotNil(t, server.lost)
	assert.ErrorIs(t, server.lost, deferredtcp.ErrLineTooLong)
	assert.ErrorIs(t, client.lost, deferredtcp.ErrConnectionDone)
	assert.False(t, errors.Is(client.lost, deferredtcp.ErrLineTooLong))
}

// pausable is what every framing receiver offers: a Protocol that is a
// PushProducer of what it delivers.
type pausable interface {
	deferredtcp.Protocol
	deferredtcp.PushProducer
	received() []string
}

func (l *lines) received() []string { return l.got }

// TestReceiversPauseAndResume runs the three receivers through the same
// flow control: nothing is delivered while paused, the transport is paused
// and resumed with them, and the buffered frames come on resume.
func TestReceiversPauseAndResume(t *testing.T) {
	deferredtest.NoUnhandled(t)
	tests := []struct {
		name string
		mk   func() pausable
		wire string
	}{
		{"line", func() pausable { return &lines{} }, "one\r\ntwo\r\nth"},
		{"int8", func() pausable { return &int8Strings{} }, "\x03one\x03two\x03th"},
		{"netstring", func() pausable { return &netstrings{} }, "3:one,3:two,2:th"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.mk()
			tr := deferredtcptest.NewStringTransport()
			deferredtcp.MakeConnection(p, tr)
			p.PauseProducing()
			assert.True(t, tr.ReadPaused)
			p.DataReceived([]byte(tt.wire))
			assert.Empty(t, p.received())
			p.ResumeProducing()
			assert.False(t, tr.ReadPaused)
			assert.Equal(t, []string{"one", "two"}, p.received())
			p.StopProducing()
			assert.True(t, tr.Closed)
		})
	}
}

// sinkLines counts the lines it receives.
type sinkLines struct {
	deferredtcp.LineReceiver
	n int
}

func (s *sinkLines) LineReceived([]byte) { s.n++ }

// BenchmarkLineReceiver measures the dispatch loop: 64 lines of 30 bytes
// per DataReceived.
func BenchmarkLineReceiver(b *testing.B) {
	chunk := bytes.Repeat([]byte("a line of some thirty bytes.\r\n"), 64)
	p := &sinkLines{}
	deferredtcp.MakeConnection(p, deferredtcptest.NewStringTransport())
	b.ReportAllocs()
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		p.DataReceived(chunk)
	}
	if p.n == 0 {
		b.Fatal("no line received")
	}
}
