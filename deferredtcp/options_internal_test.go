package deferredtcp

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOptionsClamped checks each size option's documented bounds.
func TestOptionsClamped(t *testing.T) {
	tests := []struct {
		name                                 string
		opts                                 []Option
		backlog, readSize, high, low, maxBuf int
	}{
		{"defaults", nil, DefaultBacklog, DefaultReadBufferSize, DefaultHighWatermark, DefaultLowWatermark, DefaultMaxWriteBuffer},
		{"huge", []Option{WithBacklog(math.MaxInt), WithReadBufferSize(1 << 40), WithWatermarks(math.MaxInt, math.MaxInt), WithMaxWriteBuffer(math.MaxInt)},
			MaxBacklog, MaxReadBufferSize, MaxWriteBufferLimit, MaxWriteBufferLimit, MaxWriteBufferLimit},
		{"tiny", []Option{WithBacklog(-1), WithReadBufferSize(-1), WithWatermarks(-1, -1), WithMaxWriteBuffer(1)},
			0, MinReadBufferSize, 1, 0, 1},
		{"unbounded write buffer", []Option{WithMaxWriteBuffer(0), WithWatermarks(1<<40, 1<<20)},
			DefaultBacklog, DefaultReadBufferSize, MaxWriteBufferLimit, 1 << 20, MaxWriteBufferLimit},
		{"high above the bound", []Option{WithMaxWriteBuffer(1 << 20), WithWatermarks(4<<20, 2<<20)},
			DefaultBacklog, DefaultReadBufferSize, 1 << 20, 1 << 20, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConfig(tt.opts)
			require.Equal(t, tt.backlog, c.backlog, "backlog")
			require.Equal(t, tt.readSize, c.readSize, "read buffer")
			require.Equal(t, tt.high, c.high, "high watermark")
			require.Equal(t, tt.low, c.low, "low watermark")
			require.Equal(t, tt.maxBuf, c.maxWriteBuf, "write buffer bound")
		})
	}
}
