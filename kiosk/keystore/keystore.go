// Package keystore owns the kiosk's local symmetric keys: the keys that seal data
// at rest in the state directory (the printer spool, the outbox, scanned pages).
// Each key is 32 random bytes in its own 0600 file under state_dir/keys, created
// on first use and never logged or sent anywhere. Until the provisioning issue
// derives them from the kiosk's provisioned identity (a TPM when present), this
// is where they live: it protects against a copied disk image only as well as
// the state directory's permissions do, which the systemd unit restricts to the
// kiosk user.
package keystore

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// KeyLen is the length of every key: AES-256.
const KeyLen = 32

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// Key returns the key called name in stateDir, creating it when absent. Two
// processes creating the same key at once agree: the file is written under a
// temporary name and linked into place, so the loser reads the winner's key.
func Key(stateDir, name string) ([]byte, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("keystore: bad key name %q", name)
	}
	dir := filepath.Join(stateDir, "keys")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	path := filepath.Join(dir, name+".key")
	if k, err := read(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k := make([]byte, KeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("keystore: random key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(k); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("keystore: write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("keystore: sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	// Link fails if another process got there first; then its key wins.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("keystore: install %s: %w", name, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return read(path)
}

func read(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keystore: %s is readable by others (mode %v); refusing to use it", path, fi.Mode().Perm())
	}
	k, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if len(k) != KeyLen {
		return nil, fmt.Errorf("keystore: %s holds %d bytes, not a %d-byte key", path, len(k), KeyLen)
	}
	return k, nil
}
