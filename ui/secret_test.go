package ui

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(a) || a == b {
		t.Errorf("secrets %q, %q: want two different 64-char lower-case hex strings", a, b)
	}
}

func TestWriteSecretFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "run", "kiosk")
	path := filepath.Join(dir, "ui-secret")
	for _, secret := range []string{testSecret, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"} {
		if err := WriteSecretFile(path, secret); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != secret+"\n" {
			t.Errorf("file holds %q", b)
		}
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("file mode %v, want 0640", fi.Mode().Perm())
		}
	}
	di, _ := os.Stat(dir)
	if di.Mode().Perm()&^0o750 != 0 {
		t.Errorf("directory mode %v, want at most 0750", di.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the secret (no temporary files)", len(entries))
	}
	for _, bad := range []string{"", "abc", testSecret[:63] + "G", testSecret + "0"} {
		if err := WriteSecretFile(path, bad); err == nil {
			t.Errorf("WriteSecretFile(%q) succeeded", bad)
		}
	}
}
