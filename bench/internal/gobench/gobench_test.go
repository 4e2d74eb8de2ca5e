package gobench

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	out := `goos: linux
pkg: github.com/twistgo/twist/defer
BenchmarkCallbacksFiredAtEnd-2   	 1000000	       512.3 ns/op	        51.23 ns/step	     160 B/op	       2 allocs/op
BenchmarkAll/fired-100-2         	   30000	     40000 ns/op	       400.0 ns/step	    9000 B/op	     103 allocs/op
--- FAIL: BenchmarkBroken
PASS
pkg: github.com/twistgo/twist/bench/micro
BenchmarkTimers/reactor-2 	      10	  40437114 ns/op	       404.4 ns/timer	20522272 B/op	  100059 allocs/op
`
	rs := Parse(out)
	if len(rs) != 3 {
		t.Fatalf("got %d results; want 3: %+v", len(rs), rs)
	}
	r, ok := Find(rs, "All/fired-100")
	if !ok || r.Pkg != "github.com/twistgo/twist/defer" || r.N != 30000 || r.Metrics["ns/step"] != 400 || r.Metrics["allocs/op"] != 103 {
		t.Errorf("All/fired-100 = %+v", r)
	}
	r, ok = Find(rs, "Timers/reactor")
	if !ok || r.Pkg != "github.com/twistgo/twist/bench/micro" || r.Metrics["ns/timer"] != 404.4 {
		t.Errorf("Timers/reactor = %+v", r)
	}
}
