// Package loadgen drives TCP echo servers for the comparison harness: one
// goroutine runs its own epoll loop over non-blocking sockets, keeps a fixed
// number of messages in flight on every connection (1 for lockstep, more for
// pipelining), checks every echoed byte against what was sent, and records
// each message's round-trip time in a [Histogram].
//
// The generator makes two system calls per message in lockstep (one write,
// one read) and fewer when pipelined, so on a machine where it has a CPU of
// its own it is rarely the bottleneck for a server that also needs two.
//
//	p, err := loadgen.Dial(ctx, "127.0.0.1:7000", 50)
//	defer p.Close()
//	res, err := p.Run(ctx, loadgen.Load{Size: 64, Depth: 1, Duration: 5 * time.Second})
//	fmt.Println(res.Rate(), res.Latency.Quantile(0.99))
//
// It is Linux-only, as the harness is (it reads /proc for the server's CPU and
// memory).
package loadgen
