package deferred

import "sync/atomic"

// blockCheck is the check SetBlockingCheck installed, if any.
var blockCheck atomic.Pointer[func() error]

// SetBlockingCheck installs check, which [Deferred.Wait] calls before it
// blocks for a Deferred that has not fired yet: when check returns an error,
// Wait returns that error at once instead of blocking (its observation of the
// Deferred withdrawn, as when its context ends). The reactor package installs
// one under its debug switch that fails a Wait made on a reactor's own
// goroutine, which would otherwise wait forever. check must be safe for
// concurrent use; nil removes it. It returns the check it replaces.
func SetBlockingCheck(check func() error) (previous func() error) {
	var p *func() error
	if check != nil {
		p = &check
	}
	if old := blockCheck.Swap(p); old != nil {
		return *old
	}
	return nil
}

// mayBlock returns the installed check's verdict on blocking until done is
// closed; nil when done is closed already or no check is installed.
func mayBlock(done <-chan struct{}) error {
	check := blockCheck.Load()
	if check == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	return (*check)()
}
