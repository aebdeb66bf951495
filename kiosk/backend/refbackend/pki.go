package refbackend

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files of a TLS directory, as written by EnsurePKI.
const (
	CAFile         = "ca.pem"
	caKeyFile      = "ca-key.pem"
	ServerCertFile = "server.pem"
	ServerKeyFile  = "server-key.pem"
	KioskCertFile  = "kiosk.pem"
	KioskKeyFile   = "kiosk-key.pem"
)

// PKI is a test certificate authority in a directory: the CA, the server
// certificate (for localhost, 127.0.0.1, ::1 and any extra hosts) and one kiosk
// client certificate, all ECDSA P-256. It is for tests and demos only.
type PKI struct {
	Dir string
}

// Path returns the path of one of the PKI's files.
func (p *PKI) Path(name string) string { return filepath.Join(p.Dir, name) }

// EnsurePKI creates dir's CA, server and kiosk certificates where missing and
// keeps the ones already there.
func EnsurePKI(dir string, hosts ...string) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &PKI{Dir: dir}
	if _, err := os.Stat(p.Path(CAFile)); errors.Is(err, os.ErrNotExist) {
		if err := p.issueCA(); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(p.Path(ServerCertFile)); errors.Is(err, os.ErrNotExist) {
		if err := p.issue(ServerCertFile, ServerKeyFile, "refbackend", true, append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(p.Path(KioskCertFile)); errors.Is(err, os.ErrNotExist) {
		if err := p.IssueKiosk(KioskCertFile, KioskKeyFile, "kiosk-demo"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// IssueKiosk writes a client certificate for kioskID, signed by the CA, into
// the named files of the directory.
func (p *PKI) IssueKiosk(certName, keyName, kioskID string) error {
	return p.issue(certName, keyName, kioskID, false, nil)
}

// ServerTLSConfig is the server side: its certificate, and client certificates
// verified against the CA when given. A client certificate is only asked for,
// not required, because a kiosk enrolling over EST has none yet; the /v1/ and
// /_sim/ handlers refuse requests without one (Server.withEST).
func (p *PKI) ServerTLSConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(p.Path(ServerCertFile), p.Path(ServerKeyFile))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p.Path(CAFile))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("refbackend: CA file holds no certificate")
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
		NextProtos:   []string{"http/1.1"}, // HTTP/1.1 so a dropped connection can be injected
	}, nil
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func (p *PKI) issueCA() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	sn, err := serial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "vnkiosk refbackend test CA " + sn.Text(16)[:8]},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	return writePair(p.Path(CAFile), p.Path(caKeyFile), der, key)
}

func (p *PKI) loadCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(p.Path(CAFile))
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(p.Path(caKeyFile))
	if err != nil {
		return nil, nil, err
	}
	cblock, _ := pem.Decode(cb)
	kblock, _ := pem.Decode(kb)
	if cblock == nil || kblock == nil {
		return nil, nil, errors.New("refbackend: CA files are not PEM")
	}
	cert, err := x509.ParseCertificate(cblock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kblock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func (p *PKI) issue(certName, keyName, cn string, server bool, hosts []string) error {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().AddDate(2, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	return p.issueLeaf(certName, keyName, tmpl)
}

// issueLeaf signs tmpl (given a fresh serial number) for a new P-256 key with
// the CA, and writes the pair.
func (p *PKI) issueLeaf(certName, keyName string, tmpl *x509.Certificate) error {
	ca, caKey, err := p.loadCA()
	if err != nil {
		return fmt.Errorf("refbackend: load CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	if tmpl.SerialNumber, err = serial(); err != nil {
		return err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return writePair(p.Path(certName), p.Path(keyName), der, key)
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
