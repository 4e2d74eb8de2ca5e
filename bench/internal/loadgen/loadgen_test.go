package loadgen

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoServer serves loopback connections until the test ends, writing back
// what it reads after passing it through mangle.
func echoServer(t *testing.T, mangle func([]byte)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					mangle(buf[:n])
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestRunCountsVerifiedEchoes(t *testing.T) {
	addr := echoServer(t, func([]byte) {})
	for _, l := range []Load{
		{Size: 64, Depth: 1, Duration: 200 * time.Millisecond},
		{Size: 64, Depth: 16, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond},
		{Size: 16 << 10, Depth: 1, Duration: 200 * time.Millisecond},
	} {
		p, err := Dial(context.Background(), addr, 4)
		if err != nil {
			t.Fatal(err)
		}
		opened, closed := 0, 0
		l.OnWindow = func(open bool) {
			if open {
				opened++
			} else {
				closed++
			}
		}
		res, err := p.Run(context.Background(), l)
		p.Close()
		if err != nil {
			t.Fatalf("%+v: %v", l, err)
		}
		if res.Messages == 0 || res.Bytes != res.Messages*uint64(l.Size) || res.Latency.Count() != res.Messages {
			t.Errorf("%+v: %d messages, %d bytes, %d latencies", l, res.Messages, res.Bytes, res.Latency.Count())
		}
		// The window opens at the first wake-up after the warm-up and lasts
		// Duration from there; it closes at the first wake-up after that.
		if res.Window < l.Duration || res.Window > l.Duration+100*time.Millisecond {
			t.Errorf("%+v: window %v", l, res.Window)
		}
		if opened != 1 || closed != 1 {
			t.Errorf("%+v: OnWindow opened %d and closed %d times; want 1 and 1", l, opened, closed)
		}
	}
}

func TestRunPerConnEchoesOnce(t *testing.T) {
	addr := echoServer(t, func([]byte) {})
	p, err := Dial(context.Background(), addr, 50)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Run(context.Background(), Load{Size: 64, PerConn: 1, Duration: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 50 {
		t.Errorf("%d messages; want one per connection, 50", res.Messages)
	}
}

func TestRunDetectsACorruptEcho(t *testing.T) {
	var mu sync.Mutex
	seen := 0
	addr := echoServer(t, func(p []byte) {
		mu.Lock()
		defer mu.Unlock()
		for i := range p {
			if seen++; seen == 1000 {
				p[i] ^= 1
			}
		}
	})
	p, err := Dial(context.Background(), addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Run(context.Background(), Load{Size: 64, Duration: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "echoed byte 999") {
		t.Fatalf("err = %v; want a mismatch at byte 999", err)
	}
}

func TestRunStopsOnContext(t *testing.T) {
	addr := echoServer(t, func([]byte) {})
	p, err := Dial(context.Background(), addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Run(ctx, Load{Size: 64, Duration: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v; want the context's deadline soon", err, time.Since(start))
	}
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Dial(context.Background(), addr, 1); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
}
