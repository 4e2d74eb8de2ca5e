//go:build !race

package deferredtcp_test

const raceEnabled = false
