package deferredtcp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// The files an endpoint description names (ssl: keys and certificates,
// caCertsDir's roots) are read when the endpoint listens or connects, with
// limits: each must be a regular file of at most maxPEMFile bytes, and a
// directory of roots may hold at most maxPEMFiles of them. A description
// that names /dev/zero or a FIFO then fails at once instead of reading
// forever or waiting for a writer; what is read is small and local, so the
// loop reads it itself, and a Listen before Run still fires at once.
const (
	maxPEMFile  = 1 << 20
	maxPEMFiles = 1000
)

// readPEMFile reads name, a regular file of at most maxPEMFile bytes. It
// opens it without blocking, so that opening a FIFO does not wait for a
// writer, and checks what it opened before reading.
func readPEMFile(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, pathless(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, pathless(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s, not a regular file", fileKind(fi.Mode()))
	}
	tooBig := fmt.Errorf("larger than %d bytes", maxPEMFile)
	if fi.Size() > maxPEMFile {
		return nil, tooBig
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, pathless(err)
	}
	if len(b) > maxPEMFile {
		return nil, tooBig
	}
	return b, nil
}

// fileKind names what a file that is not a regular file is.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// pathless drops the path from an *fs.PathError: the EndpointError that
// carries it already names the file.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// loadKeyPair reads e's key pair and returns a copy of e.TLS that holds
// it.
func (e *ServerEndpoint) loadKeyPair() (*tls.Config, error) {
	keyFile, certFile := e.KeyFile, e.CertFile
	if certFile == "" {
		certFile = keyFile
	}
	fail := func(field, value string, err error) error {
		return &EndpointError{Description: e.desc, Field: field, Value: value, Err: err}
	}
	keyPEM, err := readPEMFile(keyFile)
	if err != nil {
		return nil, fail("privateKey", keyFile, err)
	}
	certPEM := keyPEM
	if certFile != keyFile {
		if certPEM, err = readPEMFile(certFile); err != nil {
			return nil, fail("certKey", certFile, err)
		}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fail("certKey", certFile, err)
	}
	cfg := &tls.Config{}
	if e.TLS != nil {
		cfg = e.TLS.Clone()
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg, nil
}

// loadRoots reads the .pem files of e.CACertsDir and returns a copy of
// e.TLS that trusts them.
func (e *ClientEndpoint) loadRoots() (*tls.Config, error) {
	fail := func(err error) error {
		return &EndpointError{Description: e.desc, Field: "caCertsDir", Value: e.CACertsDir, Err: err}
	}
	files, err := filepath.Glob(filepath.Join(e.CACertsDir, "*.pem"))
	switch {
	case err != nil || len(files) == 0:
		return nil, fail(errors.New("no .pem file in it"))
	case len(files) > maxPEMFiles:
		return nil, fail(fmt.Errorf("more than %d .pem files in it", maxPEMFiles))
	}
	pool := x509.NewCertPool()
	for _, f := range files {
		pem, err := readPEMFile(f)
		if err != nil {
			return nil, fail(fmt.Errorf("%s: %w", filepath.Base(f), err))
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fail(fmt.Errorf("%s: no certificate", filepath.Base(f)))
		}
	}
	cfg := e.TLS.Clone()
	cfg.RootCAs = pool
	return cfg, nil
}
