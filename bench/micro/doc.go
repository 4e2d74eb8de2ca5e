// Package micro holds the micro-benchmarks of the comparison that live
// outside the library's own packages: timers on twist's reactor next to
// time.AfterFunc, on the workload bench/twisted/timers_bench.py runs with
// Twisted's callLater. cmd/micro runs them with the library's Deferred
// benchmarks and the Twisted scripts.
//
//	go test -run '^$' -bench Timers -benchtime 10x ./micro
package micro
