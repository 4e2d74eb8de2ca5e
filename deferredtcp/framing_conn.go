package deferredtcp

import (
	"github.com/twistgo/twist/deferredtcp/internal/framing"

	deferred "github.com/twistgo/twist/defer"
)

// ReadInt32String returns a Deferred that fires with the next string with
// a 4-byte big-endian length prefix read from c (the chain-side
// [Int32StringReceiver]). A prefix over max (0 means
// DefaultStringMaxLength) fails it with a [*LengthLimitError] and closes c
// with that reason, so c's buffer never grows past max. Its end-of-stream
// errors are [Conn.ReadFull]'s. Loop goroutine only, as c's methods.
func ReadInt32String(c *Conn, max int) *deferred.Deferred[[]byte] {
	return readPrefixed(c, 4, max)
}

// ReadInt16String is [ReadInt32String] with a 2-byte prefix.
func ReadInt16String(c *Conn, max int) *deferred.Deferred[[]byte] {
	return readPrefixed(c, 2, max)
}

// ReadInt8String is [ReadInt32String] with a 1-byte prefix.
func ReadInt8String(c *Conn, max int) *deferred.Deferred[[]byte] {
	return readPrefixed(c, 1, max)
}

func readPrefixed(c *Conn, size, max int) *deferred.Deferred[[]byte] {
	if max <= 0 {
		max = DefaultStringMaxLength
	}
	return deferred.ThenDeferred(c.ReadFull(size), func(hdr []byte) *deferred.Deferred[[]byte] {
		n := framing.Prefix(size, hdr)
		if n > uint64(max) {
			err := &LengthLimitError{Length: n, MaxLength: max}
			c.closeWith(err)
			return deferred.Fail[[]byte](err)
		}
		return c.ReadFull(int(n))
	})
}

// WriteInt32String writes s with a 4-byte big-endian length prefix, as
// [Conn.Write] (the chain-side [Int32StringReceiver.SendString]). It fails
// with [ErrStringTooLong], writing nothing, when s does not fit the prefix.
func WriteInt32String(c *Conn, s []byte) *deferred.Deferred[int] {
	return writePrefixed(c, 4, s)
}

// WriteInt16String is [WriteInt32String] with a 2-byte prefix.
func WriteInt16String(c *Conn, s []byte) *deferred.Deferred[int] {
	return writePrefixed(c, 2, s)
}

// WriteInt8String is [WriteInt32String] with a 1-byte prefix.
func WriteInt8String(c *Conn, s []byte) *deferred.Deferred[int] {
	return writePrefixed(c, 1, s)
}

func writePrefixed(c *Conn, size int, s []byte) *deferred.Deferred[int] {
	if err := checkPrefixed(size, len(s)); err != nil {
		return deferred.Fail[int](err)
	}
	b := make([]byte, 0, size+len(s))
	b = putPrefix(b, size, len(s))
	return c.Write(append(b, s...))
}

// ReadNetstring returns a Deferred that fires with the data of the next
// netstring read from c (the chain-side [NetstringReceiver]). Input that is
// not a netstring of at most max bytes (0 means DefaultStringMaxLength)
// fails it with an error matching [ErrNetstringParse] — as soon as the
// first bad byte is read — and closes c with that reason. Its end-of-stream
// errors are [Conn.ReadFull]'s. Loop goroutine only, as c's methods.
func ReadNetstring(c *Conn, max int) *deferred.Deferred[[]byte] {
	if max <= 0 {
		max = DefaultStringMaxLength
	}
	// The shortest header, "0:", has 2 bytes: reading 2 never reads past
	// the header, and reads one-digit headers at once.
	return readNetstringHead(c, max, nil, 2)
}

func readNetstringHead(c *Conn, max int, have []byte, need int) *deferred.Deferred[[]byte] {
	return deferred.ThenDeferred(c.ReadFull(need), func(p []byte) *deferred.Deferred[[]byte] {
		buf := append(have, p...)
		n, head, err := framing.ParseNetstringLength(buf, max)
		if err != nil {
			c.closeWith(err)
			return deferred.Fail[[]byte](err)
		}
		if head == 0 {
			return readNetstringHead(c, max, buf, 1) // digits only so far
		}
		rest := buf[head:]
		if len(rest) >= n+1 {
			return netstringEnd(c, rest, n)
		}
		return deferred.ThenDeferred(c.ReadFull(n+1-len(rest)), func(q []byte) *deferred.Deferred[[]byte] {
			return netstringEnd(c, append(rest, q...), n)
		})
	})
}

// netstringEnd checks the comma after the n bytes of data in p.
func netstringEnd(c *Conn, p []byte, n int) *deferred.Deferred[[]byte] {
	if p[n] != ',' {
		c.closeWith(ErrNetstringComma)
		return deferred.Fail[[]byte](ErrNetstringComma)
	}
	return deferred.Succeed(p[:n:n])
}

// WriteNetstring writes s as a netstring, as [Conn.Write].
func WriteNetstring(c *Conn, s []byte) *deferred.Deferred[int] {
	return c.Write(framing.AppendNetstring(make([]byte, 0, len(s)+12), s))
}
