// Package splits cuts a byte stream into chunks every way a test of a
// stream parser should see it: output must not depend on packet boundaries.
package splits

// Every calls f with every way of cutting in into chunks when in is short
// (at most 12 bytes: 2^11 cuttings), and otherwise with every fixed chunk
// size, 1 byte up, and every two-chunk cut. An empty in gives one call with
// no chunks.
func Every(in []byte, f func(chunks [][]byte)) {
	n := len(in)
	if n == 0 {
		f(nil)
		return
	}
	if n <= 12 {
		for mask := 0; mask < 1<<(n-1); mask++ {
			var chunks [][]byte
			start := 0
			for i := 1; i < n; i++ {
				if mask&(1<<(i-1)) != 0 {
					chunks = append(chunks, in[start:i])
					start = i
				}
			}
			f(append(chunks, in[start:]))
		}
		return
	}
	for size := 1; size <= n; size++ {
		var chunks [][]byte
		for i := 0; i < n; i += size {
			chunks = append(chunks, in[i:min(i+size, n)])
		}
		f(chunks)
	}
	for i := 1; i < n; i++ {
		f([][]byte{in[:i], in[i:]})
	}
}
