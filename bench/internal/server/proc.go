package server

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stat is a sample of a process's resource use from /proc.
type Stat struct {
	CPU time.Duration // user + system time so far
	RSS int64         // resident set size in bytes (VmRSS)
}

var (
	clockTicksOnce sync.Once
	clockTicks     int64
)

// ClockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's CPU times,
// from `getconf CLK_TCK`; 100 (its value on every common Linux) when getconf
// is missing.
func ClockTicks() int64 {
	clockTicksOnce.Do(func() {
		clockTicks = 100
		out, err := exec.Command("getconf", "CLK_TCK").Output()
		if err != nil {
			return
		}
		if v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && v > 0 {
			clockTicks = v
		}
	})
	return clockTicks
}

// ReadStat samples process pid: utime+stime from /proc/PID/stat and VmRSS
// from /proc/PID/status.
func ReadStat(pid int) (Stat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after the last ')' start with field 3, the state.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("server: malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(raw[i+1:]))
	if len(fields) < 13 {
		return Stat{}, fmt.Errorf("server: short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(fields[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return Stat{}, fmt.Errorf("server: malformed CPU times in /proc/%d/stat", pid)
	}
	ticks := ClockTicks()
	s := Stat{CPU: time.Duration((utime + stime) * int64(time.Second) / ticks)}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Stat{}, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil {
					return Stat{}, fmt.Errorf("server: malformed VmRSS in /proc/%d/status", pid)
				}
				s.RSS = kb << 10
			}
			break
		}
	}
	return s, nil
}

// CPUTicks reads the busy and total clock ticks of one CPU from /proc/stat:
// busy is user+nice+system+irq+softirq+steal, total adds idle and iowait.
func CPUTicks(cpu int) (busy, total int64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	prefix := fmt.Sprintf("cpu%d ", cpu)
	for line := range strings.Lines(string(data)) {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 8 {
			break
		}
		var v [8]int64
		for i := range v {
			if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
				return 0, 0, err
			}
		}
		busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
		return busy, busy + v[3] + v[4], nil
	}
	return 0, 0, fmt.Errorf("server: no %q line in /proc/stat", strings.TrimSpace(prefix))
}
