package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twistgo/twist/bench/internal/loadgen"
	"github.com/twistgo/twist/bench/internal/report"
	"github.com/twistgo/twist/bench/internal/server"
)

// allScenarios are the load (and idle-memory) tests, each run against a
// fresh server.
var allScenarios = []report.Scenario{
	{Name: "50x64", Title: "50 conns × 64 B, lockstep", Conns: 50, Size: 64, Depth: 1},
	{Name: "1000x64", Title: "1000 conns × 64 B, lockstep", Conns: 1000, Size: 64, Depth: 1},
	{Name: "50x64p16", Title: "50 conns × 64 B, 16 in flight", Conns: 50, Size: 64, Depth: 16},
	{Name: "20x16k", Title: "20 conns × 16 KiB, lockstep", Conns: 20, Size: 16 << 10, Depth: 1},
	{Name: "idle", Title: "10000 idle conns", Idle: true, Conns: 10000, Size: 64, Depth: 1},
}

// stopGrace is how long a server may take to exit after SIGTERM.
const stopGrace = 5 * time.Second

// runner holds what every measurement needs.
type runner struct {
	cfg      config
	progress func(format string, args ...any)
	notes    []string
	pids     []int
}

// start launches srv, printing its PID, and returns a stop function that
// ends it by that PID and reports how it went.
func (r *runner) start(ctx context.Context, srv server.Built) (*server.Process, func(), error) {
	cpu := -1
	if r.cfg.pin {
		cpu = 1
	}
	p, err := server.Start(ctx, srv.Name, srv.Argv, server.Options{CPU: cpu})
	if err != nil {
		return nil, nil, err
	}
	r.pids = append(r.pids, p.PID)
	r.progress("    %-15s started pid %d on %s", srv.Name, p.PID, p.Addr)
	return p, func() {
		err := p.Stop(stopGrace)
		if err != nil {
			r.progress("    %-15s stopped pid %d: %v", srv.Name, p.PID, err)
			r.notes = append(r.notes, fmt.Sprintf("`%s`: %v", srv.Name, err))
			return
		}
		r.progress("    %-15s stopped pid %d (clean exit)", srv.Name, p.PID)
	}, nil
}

// load measures srv under sc's load: a fresh server, sc.Conns connections
// driven for warmup+duration, the server's CPU and RSS sampled as the
// measured window opens and closes.
func (r *runner) load(ctx context.Context, srv server.Built, sc report.Scenario) (m report.Measure, err error) {
	p, stop, err := r.start(ctx, srv)
	if err != nil {
		return m, err
	}
	defer stop()
	conns := sc.Conns
	if r.cfg.maxConns > 0 {
		conns = min(conns, r.cfg.maxConns)
	}
	pool, err := loadgen.Dial(ctx, p.Addr, conns)
	if err != nil {
		return m, err
	}
	defer pool.Close()
	var before, after server.Stat
	var selfBefore, selfAfter time.Duration
	var coreBefore, coreAfter [2]int64 // busy, total ticks of the server's CPU
	var statErr error
	res, err := pool.Run(ctx, loadgen.Load{
		Size: sc.Size, Depth: sc.Depth, Warmup: r.cfg.warmup, Duration: r.cfg.duration,
		OnWindow: func(open bool) {
			s, err := p.Stat()
			if err != nil && statErr == nil {
				statErr = err
			}
			var core [2]int64
			if r.cfg.pin {
				core[0], core[1], _ = server.CPUTicks(1)
			}
			if open {
				before, selfBefore, coreBefore = s, selfCPU(), core
			} else {
				after, selfAfter, coreAfter = s, selfCPU(), core
			}
		},
	})
	if err != nil {
		if !p.Alive() {
			err = fmt.Errorf("%w (the server exited: %s)", err, server.FirstLines(p.Output(), 3))
		}
		return m, err
	}
	if statErr != nil {
		return m, fmt.Errorf("reading the server's /proc: %w", statErr)
	}
	if res.Messages == 0 {
		return m, fmt.Errorf("no message was echoed in %v", res.Window)
	}
	cpu := after.CPU - before.CPU
	m = report.Measure{
		Rate:      res.Rate(),
		P50:       res.Latency.Quantile(0.50),
		P99:       res.Latency.Quantile(0.99),
		CPUPerMsg: cpu / time.Duration(res.Messages),
		CPUUtil:   cpu.Seconds() / res.Window.Seconds(),
		RSS:       after.RSS,
		GenUtil:   (selfAfter - selfBefore).Seconds() / res.Window.Seconds(),
	}
	if total := coreAfter[1] - coreBefore[1]; total > 0 {
		serverTicks := float64(cpu) / float64(time.Second) * float64(server.ClockTicks())
		m.OtherUtil = max(0, (float64(coreAfter[0]-coreBefore[0])-serverTicks)/float64(total))
	}
	return m, nil
}

// idle measures what idle connections cost the server in memory: RSS on a
// fresh server, then with n connections that each echoed one message, after
// a pause for the server to settle.
func (r *runner) idle(ctx context.Context, srv server.Built, n int) (m report.Measure, err error) {
	p, stop, err := r.start(ctx, srv)
	if err != nil {
		return m, err
	}
	defer stop()
	if err := sleep(ctx, 300*time.Millisecond); err != nil {
		return m, err
	}
	before, err := p.Stat()
	if err != nil {
		return m, err
	}
	t0 := time.Now()
	pool, err := loadgen.Dial(ctx, p.Addr, n)
	if err != nil {
		return m, err
	}
	defer func() {
		t0 := time.Now()
		pool.Close()
		r.progress("    %-15s closed %d connections in %v", srv.Name, n, time.Since(t0).Round(time.Millisecond))
	}()
	r.progress("    %-15s opened %d connections in %v", srv.Name, n, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	if _, err := pool.Run(ctx, loadgen.Load{Size: 64, PerConn: 1, Duration: 60 * time.Second}); err != nil {
		return m, err
	}
	r.progress("    %-15s echoed once on each in %v", srv.Name, time.Since(t0).Round(time.Millisecond))
	if err := sleep(ctx, time.Second); err != nil {
		return m, err
	}
	after, err := p.Stat()
	if err != nil {
		return m, err
	}
	return report.Measure{
		IdleConns:  n,
		BaseRSS:    before.RSS,
		RSS:        after.RSS,
		PerConnRSS: float64(after.RSS-before.RSS) / float64(n),
	}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
