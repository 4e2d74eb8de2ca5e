package reactor

import "time"

// portablePoller sleeps on a channel and a timer. It has no file descriptors:
// I/O is done by goroutines that hand results to the loop.
type portablePoller struct {
	wakeCh chan struct{}
	timer  *time.Timer
}

func newPortablePoller() *portablePoller {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &portablePoller{wakeCh: make(chan struct{}, 1), timer: t}
}

func (p *portablePoller) wait(timeout time.Duration) {
	switch {
	case timeout == 0:
		select {
		case <-p.wakeCh:
		default:
		}
	case timeout < 0:
		<-p.wakeCh
	default:
		p.timer.Reset(timeout)
		select {
		case <-p.wakeCh:
		case <-p.timer.C:
		}
		p.timer.Stop()
	}
}

func (p *portablePoller) wake() {
	select {
	case p.wakeCh <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func (p *portablePoller) dispatchReady()   {}
func (p *portablePoller) close()           { p.timer.Stop() }
func (p *portablePoller) backend() Backend { return Portable }

func (p *portablePoller) addReader(int, func()) error { return ErrFDUnsupported }
func (p *portablePoller) addWriter(int, func()) error { return ErrFDUnsupported }
func (p *portablePoller) removeReader(int) error      { return ErrFDUnsupported }
func (p *portablePoller) removeWriter(int) error      { return ErrFDUnsupported }
func (p *portablePoller) removeAll() []int            { return nil }
