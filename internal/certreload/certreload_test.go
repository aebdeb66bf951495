package certreload

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair writes a self-signed certificate with serial n and its key.
func writePair(t *testing.T, certFile, keyFile string, n int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: "kiosk"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Duration(n) * time.Second)
	if err := os.Chtimes(certFile, later, later); err != nil {
		t.Fatal(err)
	}
}

func serial(t *testing.T, l *Loader) int64 {
	t.Helper()
	c, err := l.GetClientCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

func TestLoader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := New(certFile, keyFile); err == nil {
		t.Fatal("no certificate files, no error")
	}
	writePair(t, certFile, keyFile, 1)
	l, err := New(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if serial(t, l) != 1 {
		t.Fatal("first certificate")
	}
	writePair(t, certFile, keyFile, 2)
	if serial(t, l) != 2 {
		t.Error("a renewed certificate was not picked up")
	}
	// A renewal caught half written: the working certificate stays.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\ngarbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if serial(t, l) != 2 {
		t.Error("a broken certificate file replaced the working one")
	}
}
