package filingsig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DeviceKeyFile is the device key's file under state_dir/keys.
const DeviceKeyFile = "device-key.pem"

// LoadOrCreateDeviceKey returns the kiosk's device signing key, an ECDSA P-256
// key kept as PKCS#8 PEM in a 0600 file state_dir/keys/device-key.pem, creating
// it on first use. Two processes creating it at once agree: the file is written
// under a temporary name and linked into place, so the loser reads the
// winner's key. A file readable by group or others is refused.
//
// This is an interim home for the key: issue 8 moves it into the TPM (when
// present) and has EST certify it, so that the kiosk's client certificate
// certifies this key.
func LoadOrCreateDeviceKey(stateDir string) (*ecdsa.PrivateKey, error) {
	dir := filepath.Join(stateDir, "keys")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filingsig: %w", err)
	}
	path := filepath.Join(dir, DeviceKeyFile)
	if k, err := readDeviceKey(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("filingsig: generate device key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("filingsig: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "device-key.tmp-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("filingsig: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("filingsig: write device key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("filingsig: sync device key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("filingsig: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("filingsig: install device key: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return readDeviceKey(path)
}

func readDeviceKey(path string) (*ecdsa.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("filingsig: %s is readable by others (mode %v); refusing to use it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("filingsig: %w", err)
	}
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 {
		return nil, fmt.Errorf("filingsig: %s is not one PKCS#8 PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("filingsig: %s: %w", path, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("filingsig: %s is not an ECDSA P-256 key", path)
	}
	return key, nil
}
