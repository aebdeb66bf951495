package printer

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/devices/printer/printersim"
)

// startSim runs a simulated printer on a free loopback port until the test
// ends and returns it with its URI.
func startSim(t testing.TB, o printersim.Options) (*printersim.Printer, string) {
	t.Helper()
	return startSimAt(t, "127.0.0.1:0", o)
}

func startSimAt(t testing.TB, addr string, o printersim.Options) (*printersim.Printer, string) {
	t.Helper()
	if o.OutDir == "" {
		o.OutDir = t.TempDir()
	}
	sim, err := printersim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := printersim.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sim.Serve(ctx, ln)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return sim, "tcp://" + ln.Addr().String()
}

func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// testLog sends the printer's log to the test's output, so a failure shows
// what the worker did.
type testLog struct {
	mu sync.Mutex
	t  testing.TB
	on bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on {
		l.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// newPrinter returns a started printer with fast polling, stopped when the
// test ends.
func newPrinter(t testing.TB, o Options) *Printer {
	t.Helper()
	if o.WidthMM == 0 {
		o.WidthMM = 80
	}
	if o.SpoolDir == "" {
		o.SpoolDir = t.TempDir()
	}
	if o.SpoolKey == nil {
		o.SpoolKey = newKey(t)
	}
	if o.PollInterval == 0 {
		o.PollInterval = 20 * time.Millisecond
	}
	if o.StallAfter == 0 {
		o.StallAfter = 200 * time.Millisecond
	}
	_, bench := t.(*testing.B)
	lw := &testLog{t: t, on: !bench}
	t.Cleanup(func() { lw.mu.Lock(); lw.on = false; lw.mu.Unlock() })
	o.Log = slog.New(slog.NewTextHandler(lw, nil))
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = p.Stop(ctx)
	})
	return p
}

// waitEvent returns the next event of kind, failing after timeout.
func waitEvent(t testing.TB, ch <-chan Event, kind EventKind, timeout time.Duration) Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed waiting for %s", kind)
			}
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within %s", kind, timeout)
		}
	}
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitPages(t testing.TB, sim *printersim.Printer, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sim.WaitPages(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// spooled lists the files in a spool directory.
func spooled(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+jobExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ticket(t testing.TB, applicant, code string) layout.Page {
	t.Helper()
	p, err := layout.DossierReceipt{Site: "UBND PHƯỜNG BẾN NGHÉ", Code: code, Procedure: "Đăng ký khai sinh",
		Applicant: applicant, Appointment: time.Date(2026, 1, 19, 0, 0, 0, 0, layout.VietnamTime)}.Page()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pageQR decodes the QR code on a cut page with gozxing.
func pageQR(t testing.TB, pg printersim.Page) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(pg.Image.Image())
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("page %d: QR does not decode: %v", pg.Number, err)
	}
	return res.GetText()
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
