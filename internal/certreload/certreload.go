// Package certreload owns the kiosk's TLS client certificate as the TLS
// clients see it: read again when its file changes, so a certificate renewed
// over EST (written over the same files) is used from the next handshake
// without restarting kioskd. The key is a PEM file, or "tpm:PATH" for the
// kiosk key in that TPM (provisioning/tpmkey), which never leaves it.
package certreload

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"sync"

	"github.com/vnkiosk/kiosk/provisioning/tpmkey"
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
	cert, err := load(l.certFile, l.keyFile)
	if err != nil {
		if l.cert != nil {
			return l.cert, nil
		}
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	l.cert, l.stamp = &cert, stamp
	return l.cert, nil
}

// load reads the pair; a key file "tpm:PATH" is the kiosk key in that TPM.
func load(certFile, keyFile string) (tls.Certificate, error) {
	if !tpmkey.IsRef(keyFile) {
		return tls.LoadX509KeyPair(certFile, keyFile)
	}
	key, err := tpmkey.FromRef(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	b, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	var c tls.Certificate
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		if blk.Type == "CERTIFICATE" {
			c.Certificate = append(c.Certificate, blk.Bytes)
		}
	}
	if len(c.Certificate) == 0 {
		return tls.Certificate{}, fmt.Errorf("%s holds no certificate", certFile)
	}
	if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
		return tls.Certificate{}, err
	}
	pub, ok := c.Leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return tls.Certificate{}, fmt.Errorf("%s is not the certificate of the TPM's kiosk key", certFile)
	}
	c.PrivateKey = key
	return c, nil
}

// GetClientCertificate is for tls.Config.GetClientCertificate.
func (l *Loader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return l.Certificate()
}
