package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vnkiosk/kiosk/internal/atomicfile"
)

// secretLen is the length of a per-boot secret in hex characters (32 bytes).
const secretLen = 64

// NewSecret returns a fresh per-boot secret: 32 random bytes, lower-case hex.
func NewSecret() (string, error) {
	var b [secretLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("per-boot UI secret: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// validSecret reports whether s has the shape NewSecret produces.
func validSecret(s string) bool {
	if len(s) != secretLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// WriteSecretFile stores secret at path for the kiosk browser's launcher: the
// file appears whole or not at all (temporary file + rename), readable by the
// owner and group only; a missing directory is created with mode 0750.
func WriteSecretFile(path, secret string) error {
	if !validSecret(secret) {
		return fmt.Errorf("write UI secret %s: not a 64-character hex secret", path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("write UI secret: create %s: %w", dir, err)
	}
	// 0640 exactly: the group (the browser's unit, through systemd) reads it,
	// and the umask must not widen or narrow that.
	if err := atomicfile.Write(path, []byte(secret+"\n"), 0o640); err != nil {
		return fmt.Errorf("write UI secret: %w", err)
	}
	return nil
}

// keyMatches compares a presented key with the configured secret in constant
// time; an unset secret matches nothing.
func keyMatches(presented, secret string) bool {
	if secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(presented), []byte(secret)) == 1
}
