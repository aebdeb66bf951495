//go:build linux

package scannersim

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.bug.st/serial"
)

// readUntil reads the device end until it has n bytes.
func readUntil(t *testing.T, p serial.Port, n int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 256)
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		k, err := p.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

func TestScanArrivesWithItsSuffix(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ suffix, want string }{{"", "HS1|A|B|250101\r"}, {CR, "HS1|A|B|250101\r"}, {LF, "HS1|A|B|250101\n"}, {CRLF, "HS1|A|B|250101\r\n"}} {
		sim, err := Plug(Options{Suffix: tt.suffix})
		if err != nil {
			t.Fatal(err)
		}
		if sim.DevicePath() != sim.TTY() {
			t.Errorf("without a link the device path is %q, the tty %q", sim.DevicePath(), sim.TTY())
		}
		p, err := serial.Open(sim.DevicePath(), &serial.Mode{BaudRate: 9600})
		if err != nil {
			t.Fatal(err)
		}
		p.SetReadTimeout(100 * time.Millisecond)
		if err := sim.Scan("HS1|A|B|250101"); err != nil {
			t.Fatal(err)
		}
		if got := readUntil(t, p, len(tt.want)); string(got) != tt.want {
			t.Errorf("suffix %q: read %q", tt.suffix, got)
		}
		p.Close()
		sim.Unplug()
	}
	if _, err := Plug(Options{Suffix: "\t"}); err == nil {
		t.Error("accepted a tab suffix")
	}
}

// TestRawBeforeTheKioskConfiguresThePort: bytes sent before the reader sets the
// line discipline arrive unchanged, as from a USB device (no CR->LF, no echo).
func TestRawBeforeTheKioskConfiguresThePort(t *testing.T) {
	t.Parallel()
	sim, err := Plug(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Unplug()
	payload := []byte("Nguyễn\r\x00\x7f\x03\x1a")
	if _, err := sim.Write(payload); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(sim.TTY(), os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(f, got); err != nil || !bytes.Equal(got, payload) {
		t.Errorf("read % x, %v; want % x", got, err, payload)
	}
}

func TestUnplug(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "ttyACM0")
	sim, err := Plug(Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(link); err != nil || target != sim.TTY() {
		t.Fatalf("link %q, %v", target, err)
	}
	p, err := serial.Open(link, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := sim.Scan("a\rb"); !errors.Is(err, ErrLineBreak) {
		t.Error("sent a code with CR inside")
	}
	if err := sim.Unplug(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link still there: %v", err)
	}
	p.SetReadTimeout(2 * time.Second)
	if n, err := p.Read(make([]byte, 16)); err == nil {
		t.Errorf("read %d bytes from an unplugged scanner without error", n)
	}
	if err := sim.Scan("x"); !errors.Is(err, ErrUnplugged) {
		t.Errorf("scan after unplug: %v", err)
	}
	if err := sim.Unplug(); err != nil {
		t.Errorf("second unplug: %v", err)
	}
	if _, err := os.Stat(sim.TTY()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists after unplug: %v", sim.TTY(), err)
	}
}

// TestUnplugInterruptsAStuckWrite: nobody reads, the pseudo-terminal's buffer
// fills, and Unplug still ends the write.
func TestUnplugInterruptsAStuckWrite(t *testing.T) {
	t.Parallel()
	sim, err := Plug(Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := sim.Write(bytes.Repeat([]byte("x"), 4<<20))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("4 MiB fitted in the pseudo-terminal: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	sim.Unplug()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnplugged) {
			t.Errorf("stuck write ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Unplug did not interrupt a stuck write")
	}
}

func TestLinkReplacesAStaleOne(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "scanner")
	if err := os.Symlink("/dev/pts/does-not-exist", link); err != nil {
		t.Fatal(err)
	}
	sim, err := Plug(Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Unplug()
	if target, _ := os.Readlink(link); target != sim.TTY() {
		t.Errorf("link points at %q", target)
	}
}
