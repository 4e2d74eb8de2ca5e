//go:build !linux

package reactor

import (
	"errors"
	"log/slog"
)

func newEpollPoller(*slog.Logger) (poller, error) {
	return nil, errors.New("epoll is only available on Linux")
}
