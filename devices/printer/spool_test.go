package printer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseURI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want URI
		ok   bool
	}{
		{"tcp://192.0.2.10:9100", URI{"tcp", "192.0.2.10:9100"}, true},
		{"tcp://printer.local:9100/", URI{"tcp", "printer.local:9100"}, true},
		{"tcp://[::1]:9100", URI{"tcp", "[::1]:9100"}, true},
		{"usb:/dev/usb/lp0", URI{"usb", "/dev/usb/lp0"}, true},
		{"usb:/dev/usb/../usb/lp1", URI{"usb", "/dev/usb/lp1"}, true},
		{"tcp://192.0.2.10", URI{}, false},
		{"tcp://:9100", URI{}, false},
		{"tcp://u:p@host:9100", URI{}, false},
		{"tcp://host:9100/x", URI{}, false},
		{"usb:lp0", URI{}, false},
		{"lpt1", URI{}, false},
		{"", URI{}, false},
	}
	for _, tt := range tests {
		got, err := ParseURI(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseURI(%q) = %v, %v", tt.in, got, err)
		}
		if tt.ok && got.String() != "tcp://"+tt.want.Addr && got.String() != "usb:"+tt.want.Addr {
			t.Errorf("String() = %q", got.String())
		}
	}
}

func TestSpoolRoundTripAndSecrecy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := newKey(t)
	s, err := openSpool(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("ESC/POS bytes with Nguyễn Thị Phượng and 079123456789 in them")
	id := newJobID(time.Now())
	if err := s.write(id, secret); err != nil {
		t.Fatal(err)
	}
	raw := readFile(t, s.path(id))
	for _, leak := range [][]byte{[]byte("Nguy"), []byte("079123456789"), []byte("ESC/POS")} {
		if bytes.Contains(raw, leak) {
			t.Errorf("spool file contains %q in clear", leak)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("spool directory mode %v", fi.Mode().Perm())
	}
	got, err := s.read(id)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("read back %q, %v", got, err)
	}

	// Another key cannot open it.
	other, _ := openSpool(dir, newKey(t))
	if _, err := other.read(id); !errors.Is(err, errUnreadable) {
		t.Errorf("other key: %v", err)
	}
	// A file renamed to another job's ID does not open: the ID is bound in.
	id2 := newJobID(time.Now().Add(time.Second))
	if err := os.Rename(s.path(id), s.path(id2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.read(id2); !errors.Is(err, errUnreadable) {
		t.Errorf("renamed file opened: %v", err)
	}
	// Flipping one bit is detected.
	raw[len(raw)-1] ^= 1
	os.WriteFile(s.path(id), raw, 0o600)
	if _, err := s.read(id); !errors.Is(err, errUnreadable) {
		t.Errorf("tampered file opened: %v", err)
	}
	os.WriteFile(s.path(id), []byte("KPJ1"), 0o600)
	if _, err := s.read(id); !errors.Is(err, errUnreadable) {
		t.Errorf("truncated file: %v", err)
	}
	if err := s.remove(id); err != nil {
		t.Fatal(err)
	}
	if err := s.remove(id); err != nil {
		t.Errorf("removing a missing job: %v", err)
	}
}

func TestSpoolListAndCleanup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Leftovers of a crash mid-write, and files that are not jobs.
	for _, name := range []string{".tmp-123", "README", "zz" + jobExt, "0123" + jobExt} {
		os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600)
	}
	os.Mkdir(filepath.Join(dir, newJobID(time.Now())+jobExt), 0o700)
	s, err := openSpool(dir, newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-123")); !errors.Is(err, os.ErrNotExist) {
		t.Error("temporary file left after open")
	}
	base := time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)
	var want []string
	for _, d := range []time.Duration{3, 1, 2} {
		id := newJobID(base.Add(d * time.Second))
		if err := s.write(id, []byte("x")); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	want[0], want[1], want[2] = want[1], want[2], want[0]
	got, err := s.list()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("list %v, want oldest first %v", got, want)
	}
	if tm, ok := jobTime(got[0]); !ok || !tm.Equal(base.Add(time.Second)) {
		t.Errorf("jobTime %v %v", tm, ok)
	}
	for _, bad := range []string{"", "xyz", "0123456789abcdef0123456g", "0123456789abcdef012345"} {
		if _, ok := jobTime(bad); ok {
			t.Errorf("jobTime(%q) accepted", bad)
		}
	}
	if _, err := openSpool(dir, make([]byte, 16)); !errors.Is(err, ErrSpoolKey) {
		t.Errorf("16-byte key: %v", err)
	}
}
