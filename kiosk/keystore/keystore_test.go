package keystore

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestKeyCreatedOnceAndReused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k1, err := Key(dir, "printer-spool")
	if err != nil || len(k1) != KeyLen {
		t.Fatalf("%x %v", k1, err)
	}
	k2, err := Key(dir, "printer-spool")
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("key changed between calls")
	}
	other, _ := Key(dir, "outbox")
	if bytes.Equal(k1, other) {
		t.Error("two keys are equal")
	}
	fi, err := os.Stat(filepath.Join(dir, "keys", "printer-spool.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v %v", fi.Mode().Perm(), err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "keys", "*.tmp-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestConcurrentCreatorsAgree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys := make([][]byte, 16)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := Key(dir, "outbox")
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !bytes.Equal(k, keys[0]) {
			t.Fatal("concurrent creators got different keys")
		}
	}
}

func TestRefusesBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	os.WriteFile(filepath.Join(dir, "keys", "short.key"), []byte("abc"), 0o600)
	os.WriteFile(filepath.Join(dir, "keys", "open.key"), make([]byte, KeyLen), 0o644)
	for name, want := range map[string]string{"short": "not a 32-byte key", "open": "readable by others", "Bad/Name": "bad key name"} {
		if _, err := Key(dir, name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
}
