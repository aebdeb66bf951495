//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/barcode"
	"github.com/vnkiosk/kiosk/devices/barcode/qrpayload"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

const simCardQR = "079203012345|025123456|Nguyễn Văn An|15031990|Nam|12 Lê Lợi, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh|01072021"

// lockedBuffer is a bytes.Buffer the command and the test share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startKiosk is the kiosk's side: the barcode subsystem on the device path.
func startKiosk(t *testing.T, path string) (*barcode.Scanner, <-chan barcode.Scan) {
	t.Helper()
	s, err := barcode.New(barcode.Options{Path: "serial:" + path, RepeatWindow: -1})
	if err != nil {
		t.Fatal(err)
	}
	scans, _ := s.Subscribe()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	if h := s.Health(); h.State != daemon.StateOK {
		t.Fatalf("kiosk cannot open the simulated scanner: %+v", h)
	}
	return s, scans
}

func receive(t *testing.T, scans <-chan barcode.Scan) barcode.Scan {
	t.Helper()
	select {
	case sc := <-scans:
		return sc
	case <-time.After(5 * time.Second):
		t.Fatal("the kiosk read no scan within 5s")
	}
	return barcode.Scan{}
}

// TestSimScanner runs the command in-process, types lines into its stdin, and
// reads them back through the kiosk's scanner subsystem.
func TestSimScanner(t *testing.T) {
	t.Parallel()
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	var stderr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	link := filepath.Join(t.TempDir(), "usb-Sim_Scanner-if00")
	done := make(chan error, 1)
	go func() {
		done <- simScanner(ctx, stdinR, []string{"--link", link, "--suffix", "crlf"}, stdoutW, &stderr)
		stdoutW.Close()
	}()
	first, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimSpace(first)
	if path != link {
		t.Fatalf("printed %q, want the link %q", path, link)
	}
	_, scans := startKiosk(t, path)

	io.WriteString(stdinW, "HS1|H29.22-250315-0042|H29.22|250315\n")
	io.WriteString(stdinW, simCardQR+"\r\n") // typed on a terminal that sends CRLF
	io.WriteString(stdinW, "\n")             // an empty line is no scan
	io.WriteString(stdinW, "a\rb\n")         // refused, the command goes on
	io.WriteString(stdinW, "8934563138164\n")
	for _, want := range []struct {
		payload string
		kind    qrpayload.Kind
	}{{"HS1|H29.22-250315-0042|H29.22|250315", qrpayload.KindReceipt}, {simCardQR, qrpayload.KindCard}, {"8934563138164", qrpayload.KindUnknown}} {
		if sc := receive(t, scans); sc.Payload != want.payload || sc.Kind != want.kind || sc.Mangled {
			t.Errorf("kiosk read %q (%s, mangled %v), want %q (%s)", sc.Payload, sc.Kind, sc.Mangled, want.payload, want.kind)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the command did not end on cancel")
	}
	stdinW.Close()
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link left behind: %v", err)
	}
	for _, want := range []string{"Each line typed is one scan", "Mỗi dòng nhập là một lần quét", "Skipped a line holding a CR", "Scanner unplugged", "Đã rút máy quét"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestSimScannerUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"sim", "scanner", "--suffix", "tab"}, {"sim", "scanner", "extra"}, {"sim", "scanner", "--bogus"}} {
		if code, _, _ := run(args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// TestSimScannerProcess runs kioskctl as its own process: real stdin, the first
// stdout line read by a script, and Ctrl+C (SIGINT) to unplug.
func TestSimScannerProcess(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKioskctl$")
	cmd.Env = append(os.Environ(), "KIOSKCTL_HELPER_ARGS=sim scanner")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	first, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no device path: %v; stderr:\n%s", err, stderr.String())
	}
	path := strings.TrimSpace(first)
	if !strings.HasPrefix(path, "/dev/pts/") {
		t.Fatalf("device path %q", path)
	}
	s, scans := startKiosk(t, path)

	io.WriteString(stdin, "KIOSKPROV1|https://prov.example.vn/enrol|q7W2-xZ_9kLmN0pQrStUvA|79001|3f1c6a0b5d2e4f8899aabbccddeeff00112233445566778899aabbccddeeff01\n")
	if sc := receive(t, scans); sc.Kind != qrpayload.KindProvisioning || sc.Content.Err != nil {
		t.Errorf("kiosk read %s (%v)", sc.Kind, sc.Content.Err)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kioskctl sim scanner after Ctrl+C: %v; stderr:\n%s", err, stderr.String())
	}
	// Unplugged: the kiosk loses the device and reports it absent.
	deadline := time.Now().Add(5 * time.Second)
	for s.Health().State != daemon.StateAbsent && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if h := s.Health(); h.State != daemon.StateAbsent {
		t.Errorf("kiosk health after the simulator ended: %+v", h)
	}
}

// TestHelperKioskctl is not a test: it is kioskctl's main, run by
// TestSimScannerProcess in a child process.
func TestHelperKioskctl(t *testing.T) {
	args, ok := os.LookupEnv("KIOSKCTL_HELPER_ARGS")
	if !ok {
		t.Skip("helper process for TestSimScannerProcess")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, strings.Fields(args), os.Stdout, os.Stderr))
}
