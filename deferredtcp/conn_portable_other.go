//go:build !unix

package deferredtcp

// useRawReads does nothing where reads cannot wait for readability without
// a buffer: connections read as those that are not plain sockets do.
func (p *portableConn) useRawReads() {}
