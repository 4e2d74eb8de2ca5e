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

// mayBlock returns the installed check's verdict on blocking now; nil when
// no check is installed.
func mayBlock() error {
	check := blockCheck.Load()
	if check == nil {
		return nil
	}
	return (*check)()
}

// resumeHook is the hook SetResumeHook installed, if any.
var resumeHook atomic.Pointer[func() func()]

// SetResumeHook installs hook, which [Inline] calls on the goroutine that
// resumes an Inline body, just before the body runs: the body runs on a
// goroutine of its own (a coroutine) while the resuming goroutine waits for
// it to suspend or end, and then the function hook returned, if not nil, is
// called, on the resuming goroutine. The reactor installs one under its debug
// switch, so that the calls of a body resumed by the loop count as the
// loop's. hook must be safe for concurrent use; nil removes it. It returns
// the hook it replaces.
func SetResumeHook(hook func() (suspended func())) (previous func() func()) {
	var p *func() func()
	if hook != nil {
		p = &hook
	}
	if old := resumeHook.Swap(p); old != nil {
		return *old
	}
	return nil
}

// resumeBody runs next, which resumes an Inline body, within the resume
// hook.
func resumeBody[S any](next func() (S, bool)) (S, bool) {
	hook := resumeHook.Load()
	if hook == nil {
		return next()
	}
	if suspended := (*hook)(); suspended != nil {
		defer suspended()
	}
	return next()
}
