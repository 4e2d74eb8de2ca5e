// Package server builds, starts, measures and stops the echo servers the
// comparison harness drives, each as a child process of its own.
//
// A server is a small program that listens where -addr says (127.0.0.1:0 by
// default), prints the address it bound on the first line of its stdout, echoes
// every byte it reads, and exits on SIGTERM. [Start] launches one (pinned to a
// CPU with taskset when asked), [Process.Stat] reads its CPU time and RSS from
// /proc, and [Process.Stop] ends it by its PID: SIGTERM, then SIGKILL after a
// grace period. The child also gets SIGKILL from the kernel if the harness dies
// first (PR_SET_PDEATHSIG), so no server outlives a run.
package server
