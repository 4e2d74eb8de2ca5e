package service

import (
	"math"
	"math/rand/v2"
	"time"
)

// Twisted's backoffPolicy defaults, the retry policy of a [ClientService]
// and a [Supervisor] unless [WithRetryPolicy] says otherwise.
const (
	// DefaultInitialDelay is the delay that the factor multiplies.
	DefaultInitialDelay = time.Second
	// DefaultMaxDelay caps the delay, before the jitter is added.
	DefaultMaxDelay = 60 * time.Second
	// DefaultFactor is what the delay is multiplied by at each attempt.
	DefaultFactor = 1.5
)

// BackoffPolicy returns a retry policy that waits exponentially longer
// after each consecutive failure, with Twisted's formula (backoffPolicy):
// after attempt failures in a row, the wait is
//
//	min(initial × factor^min(attempt, 100), max) + jitter() seconds
//
// so the first retry (attempt 1) already waits initial × factor. jitter
// returns a number of seconds to add (Twisted's default is a uniform
// variate in [0, 1), math/rand/v2's Float64, used when jitter is nil); it
// spreads the retries of many clients that lost the same server. Pass a
// seeded source's Float64 to make the waits reproducible in tests.
//
// The policy is safe for concurrent use if jitter is.
func BackoffPolicy(initial, max time.Duration, factor float64, jitter func() float64) func(attempt int) time.Duration {
	if jitter == nil {
		jitter = rand.Float64
	}
	return func(attempt int) time.Duration {
		delay := max
		// An overflow gives +Inf, which the comparison caps, as Twisted's
		// OverflowError does.
		if d := initial.Seconds() * math.Pow(factor, float64(min(attempt, 100))); d < max.Seconds() {
			delay = seconds(d)
		}
		return delay + seconds(jitter())
	}
}

// DefaultRetryPolicy returns the policy with Twisted's defaults:
// BackoffPolicy(DefaultInitialDelay, DefaultMaxDelay, DefaultFactor, nil),
// which waits 1.5 s, 2.25 s, 3.375 s, ... up to 60 s, plus up to a second
// of jitter.
func DefaultRetryPolicy() func(attempt int) time.Duration {
	return BackoffPolicy(DefaultInitialDelay, DefaultMaxDelay, DefaultFactor, nil)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
