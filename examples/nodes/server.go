package main

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Server is the tutorial's server class: the nodes connected, each by its
// Channel, in the channels map keyed by node id. It lives on the reactor's
// goroutine, as every protocol does, so it needs no lock.
type Server struct {
	code     string
	channels map[int]*Channel
	out      io.Writer
}

// NewServer returns a server that admits nodes sending code.
func NewServer(code string, out io.Writer) *Server {
	return &Server{code: code, channels: map[int]*Channel{}, out: out}
}

// StartRun listens on addr (the tutorial's startRun); the Deferred fires
// with the listener once it is bound.
func (s *Server) StartRun(r *reactor.Reactor, addr string) *deferred.Deferred[*deferredtcp.Listener] {
	return deferred.Then(deferredtcp.ListenTCP(r, addr, &ServerConnectionFactory{host: s}),
		func(l *deferredtcp.Listener) (*deferredtcp.Listener, error) {
			fmt.Fprintf(s.out, "Node server listening on %s\n", l.Addr())
			return l, nil
		})
}

// addChannel makes ch the node's channel. A node that connects again while
// its old connection lingers (say, half-open after a network cut) replaces
// it: the old one is dropped.
func (s *Server) addChannel(ch *Channel) {
	if old := s.channels[ch.NodeID]; old != nil {
		old.Send("ERR replaced by a new connection")
		old.Close()
	}
	s.channels[ch.NodeID] = ch
	fmt.Fprintf(s.out, "Node %d joined from %s (%d connected)\n", ch.NodeID, ch.Peer(), len(s.channels))
}

// removeChannel forgets ch, unless a newer connection of the node has
// replaced it already.
func (s *Server) removeChannel(ch *Channel) {
	if s.channels[ch.NodeID] != ch {
		return
	}
	delete(s.channels, ch.NodeID)
	fmt.Fprintf(s.out, "Node %d left (%d connected)\n", ch.NodeID, len(s.channels))
}

// onChannelEvent handles a line from a handshaken node (the tutorial's
// onChannelEvent): it routes "TO <id> <text>" to that node's channel.
func (s *Server) onChannelEvent(from *Channel, line string) {
	cmd, rest, _ := strings.Cut(line, " ")
	if cmd != "TO" {
		from.Send("ERR unknown command " + strconv.Quote(cmd))
		return
	}
	dst, text, _ := strings.Cut(rest, " ")
	id, err := strconv.Atoi(dst)
	to := s.channels[id]
	if err != nil || to == nil {
		from.Send("ERR no node " + dst)
		return
	}
	to.Send(fmt.Sprintf("FROM %d %s", from.NodeID, text))
	fmt.Fprintf(s.out, "Node %d -> node %d: %s\n", from.NodeID, id, text)
}

// Channel is a handshaken node's end of its connection (the tutorial's Channel
// class): it wraps the transport the server writes to that node through.
// The tutorial's Channel also buffered the bytes received; here the
// LineReceiver that ServerConnection embeds does.
type Channel struct {
	NodeID    int
	transport deferredtcp.Transport
}

// Send writes one line to the node.
func (c *Channel) Send(line string) { c.transport.Write([]byte(line + "\n")) }

// Close drops the node's connection once what was sent has gone out.
func (c *Channel) Close() { c.transport.LoseConnection() }

// Peer returns the node's address.
func (c *Channel) Peer() net.Addr { return c.transport.GetPeer() }

// ServerConnection is the tutorial's ServerConnection protocol: its first line
// must be the handshake, after which it has a Channel and hands every line
// to the server.
type ServerConnection struct {
	deferredtcp.LineReceiver
	host    *Server
	channel *Channel // nil until the handshake has succeeded
}

// LineReceived checks the handshake on the first line, and passes the
// others on. LineReceiver delivers nothing more once LoseConnection has been
// called, so a refused node's further lines are never seen.
func (p *ServerConnection) LineReceived(data []byte) {
	line := strings.TrimSuffix(string(data), "\r")
	if p.channel == nil {
		p.handshake(line)
		return
	}
	p.host.onChannelEvent(p.channel, line)
}

// handshake admits the node if line is "HELLO <id> <code>" with the right
// code, and drops the connection otherwise.
func (p *ServerConnection) handshake(line string) {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "HELLO" {
		p.refuse("ERR bad handshake")
		return
	}
	id, err := strconv.Atoi(f[1])
	if err != nil || id <= 0 {
		p.refuse("ERR bad handshake")
		return
	}
	if subtle.ConstantTimeCompare([]byte(f[2]), []byte(p.host.code)) != 1 {
		p.refuse("ERR bad code")
		return
	}
	p.channel = &Channel{NodeID: id, transport: p.Transport}
	p.host.addChannel(p.channel)
	p.channel.Send(fmt.Sprintf("WELCOME %d", id))
}

func (p *ServerConnection) refuse(reason string) {
	fmt.Fprintf(p.host.out, "Refused %s: %s\n", p.Transport.GetPeer(), reason)
	p.SendLine([]byte(reason))
	p.Transport.LoseConnection()
}

// ConnectionLost destroys the channel.
func (p *ServerConnection) ConnectionLost(*failure.Failure) {
	if p.channel != nil {
		p.host.removeChannel(p.channel)
	}
}

// ServerConnectionFactory makes a ServerConnection for each node that
// connects (the tutorial's ServerConnectionFactory).
type ServerConnectionFactory struct {
	host *Server
}

// BuildProtocol makes the protocol of a new connection.
func (f *ServerConnectionFactory) BuildProtocol(net.Addr) deferredtcp.Protocol {
	p := &ServerConnection{host: f.host}
	p.Delimiter = newline
	return p
}

var newline = []byte("\n")

// runServer serves the nodes until SIGINT or SIGTERM, or until listening
// fails.
func runServer(r *reactor.Reactor, addr, code string, out io.Writer) error {
	var failed error
	r.CallWhenRunning(func() {
		NewServer(code, out).StartRun(r, addr).AddErrback(func(f *failure.Failure) (*deferredtcp.Listener, error) {
			failed = f
			r.Stop()
			return nil, nil
		})
	})
	if err := r.Run(); err != nil {
		return err
	}
	if failed != nil {
		return failed
	}
	fmt.Fprintln(out, "Node server stopped.")
	return nil
}
