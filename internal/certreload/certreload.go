// Package certreload owns the kiosk's TLS client certificate as the TLS
// clients see it: read again when its file changes, so a certificate renewed
// over EST (written over the same files) is used from the next handshake
// without restarting kioskd.
package certreload

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
)

// Loader hands out the certificate in certFile and keyFile.
type Loader struct {
	certFile, keyFile string

	mu    sync.Mutex
	stamp string
	cert  *tls.Certificate
}

// New loads the certificate once, so a missing or broken pair is an error
// at start rather than at the first handshake.
func New(certFile, keyFile string) (*Loader, error) {
	l := &Loader{certFile: certFile, keyFile: keyFile}
	if _, err := l.Certificate(); err != nil {
		return nil, err
	}
	return l, nil
}

// Certificate returns the current certificate, reloading it when the
// certificate file's modification time or size changed. A pair that does not
// load (a renewal half written) leaves the previous one in use.
func (l *Loader) Certificate() (*tls.Certificate, error) {
	fi, err := os.Stat(l.certFile)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	stamp := fmt.Sprint(fi.ModTime().UnixNano(), fi.Size())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cert != nil && stamp == l.stamp {
		return l.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(l.certFile, l.keyFile)
	if err != nil {
		if l.cert != nil {
			return l.cert, nil
		}
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	l.cert, l.stamp = &cert, stamp
	return l.cert, nil
}

// GetClientCertificate is for tls.Config.GetClientCertificate.
func (l *Loader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return l.Certificate()
}
