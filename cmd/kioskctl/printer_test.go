package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/vnkiosk/kiosk/devices/printer/printersim"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
)

func startPrinterSim(t *testing.T, o printersim.Options) (*printersim.Printer, string) {
	t.Helper()
	o.OutDir = t.TempDir()
	sim, err := printersim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := printersim.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = sim.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return sim, "tcp://" + ln.Addr().String()
}

func decodePageQR(t *testing.T, pg printersim.Page) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(pg.Image.Image())
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("test ticket QR does not decode: %v", err)
	}
	return res.GetText()
}

func TestPrintTest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		width  string
		dots   int
		native bool
	}{{"80", 576, false}, {"58", 384, true}} {
		sim, uri := startPrinterSim(t, printersim.Options{Width: tt.dots})
		args := []string{"print", "test", "--printer", uri, "--text", "Xin chào, đây là phiếu thử", "--qr", "KIOSK-TEST-" + tt.width, "--width", tt.width}
		if tt.native {
			args = append(args, "--native-qr")
		}
		code, out, errOut := run(args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"Đã in phiếu thử", "Test ticket printed", "Printer status: ok"} {
			if !strings.Contains(out, want) {
				t.Errorf("stdout %q lacks %q", out, want)
			}
		}
		if sim.PageCount() != 1 {
			t.Fatalf("%d pages", sim.PageCount())
		}
		pg := sim.Pages()[0]
		if pg.Image.Width != tt.dots {
			t.Errorf("page %d dots wide", pg.Image.Width)
		}
		if got := decodePageQR(t, pg); got != "KIOSK-TEST-"+tt.width {
			t.Errorf("QR %q", got)
		}
	}
}

func TestPrintTestRefusesWhenPrinterCannotPrint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cond printersim.Condition
		vi   string
		en   string
	}{
		{printersim.PaperEnd, "Máy in hết giấy", "out of paper"},
		{printersim.CoverOpen, "Nắp máy in đang mở", "cover is open"},
	}
	for _, tt := range tests {
		sim, uri := startPrinterSim(t, printersim.Options{Condition: tt.cond})
		code, _, errOut := run("print", "test", "--printer", uri)
		if code != 1 || !strings.Contains(errOut, tt.vi) || !strings.Contains(errOut, tt.en) {
			t.Errorf("%s: exit %d, stderr %q", tt.cond, code, errOut)
		}
		if sim.PageCount() != 0 {
			t.Errorf("%s: printed anyway", tt.cond)
		}
	}
	code, _, errOut := run("print", "test", "--printer", "tcp://127.0.0.1:1", "--timeout", "2s")
	if code != 1 || !strings.Contains(errOut, "Không kết nối được máy in") {
		t.Errorf("unreachable: exit %d, %q", code, errOut)
	}
}

func TestPrintStatus(t *testing.T) {
	t.Parallel()
	_, uri := startPrinterSim(t, printersim.Options{Condition: printersim.NearEnd})
	code, out, errOut := run("print", "status", "--printer", uri)
	if code != 0 || !strings.Contains(out, "status: paper-near-end") || !strings.Contains(out, "Máy in sắp hết giấy") || !strings.Contains(out, "running out of paper") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestPrinterUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"print", "test"},
		{"print", "test", "--printer", "lpt1"},
		{"print", "test", "--printer", "tcp://127.0.0.1:9100", "--width", "76"},
		{"print", "status"},
		{"print", "status", "--printer", "usb:lp0"},
		{"sim", "printer"},
		{"sim", "printer", "--out", "/tmp/x", "--status", "jammed"},
		{"sim", "printer", "--out", "/tmp/x", "--width", "100"},
		{"sim", "printer", "--out", "/tmp/x", "--roll", "-1"},
	} {
		if code, _, errOut := run(args...); code != 2 {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}

// `kioskctl sim printer` runs as its own process: it says where it listens,
// takes "status ..." lines on stdin, writes pages, and stops on SIGTERM.
func TestSimPrinterCommand(t *testing.T) {
	t.Parallel()
	bin := kiosktest.BuildBinary(t, "github.com/vnkiosk/kiosk/cmd/kioskctl")
	out := t.TempDir()
	cmd := exec.Command(bin, "sim", "printer", "--listen", "127.0.0.1:0", "--out", out, "--status", "paper-end")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() }) // reaped by the Wait below when the test gets that far
	lines := bufio.NewReader(stdout)
	line, err := lines.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`listening on (tcp://\S+) \(80 mm, 576 dots, paper-end\)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("first line %q", line)
	}
	uri := m[1]
	if code, out, _ := run("print", "status", "--printer", uri); code != 0 || !strings.Contains(out, "paper-end") {
		t.Errorf("status before paper-in: %d %q", code, out)
	}
	io.WriteString(stdin, "status ok\n")
	if line, _ := lines.ReadString('\n'); line != "condition ok\n" {
		t.Errorf("after 'status ok': %q", line)
	}
	if code, _, errOut := run("print", "test", "--printer", uri, "--qr", "SIM-CMD"); code != 0 {
		t.Fatalf("print test: %d %s", code, errOut)
	}
	io.WriteString(stdin, "pages\n")
	if line, _ := lines.ReadString('\n'); line != "1 page(s)\n" {
		t.Errorf("pages: %q", line)
	}
	if _, err := os.Stat(filepath.Join(out, "page-0001.png")); err != nil {
		t.Error(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(lines)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(string(rest), "stopped after 1 page(s)") {
			t.Errorf("exit %v, output %q", err, rest)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sim printer did not stop on SIGTERM")
	}
}
