package barcode

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/barcode/keywedge"
	"github.com/vnkiosk/kiosk/devices/barcode/qrpayload"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// fakeEvdev stands in for a grabbed /dev/input node, which sandboxes lack: the
// test writes raw input_event records into it as the kernel would, and unplugging
// fails the pending read with ENODEV and later opens with ENOENT, as evdev does.
type fakeEvdev struct {
	mu      sync.Mutex
	present bool
	w       *io.PipeWriter
	opens   int
	closes  int
}

func (f *fakeEvdev) open(path string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.present {
		return nil, &os.PathError{Op: "open", Path: path, Err: syscall.ENOENT}
	}
	r, w := io.Pipe()
	f.w = w
	f.opens++
	return &fakeGrab{r: r, f: f}, nil
}

type fakeGrab struct {
	r    *io.PipeReader
	f    *fakeEvdev
	once sync.Once
}

func (g *fakeGrab) Read(p []byte) (int, error) { return g.r.Read(p) }
func (g *fakeGrab) Close() error {
	g.once.Do(func() {
		g.f.mu.Lock()
		g.f.closes++
		g.f.mu.Unlock()
	})
	return g.r.Close()
}

func (f *fakeEvdev) plug() {
	f.mu.Lock()
	f.present = true
	f.mu.Unlock()
}

func (f *fakeEvdev) unplug() {
	f.mu.Lock()
	f.present = false
	w := f.w
	f.mu.Unlock()
	if w != nil {
		w.CloseWithError(syscall.ENODEV)
	}
}

func (f *fakeEvdev) counts() (opens, closes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens, f.closes
}

// typeText writes the records a keyboard-wedge scanner produces for text.
func (f *fakeEvdev) typeText(t *testing.T, text string) {
	t.Helper()
	evs, err := keywedge.Keystrokes(text, time.Duration(time.Now().UnixNano()), 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	f.writeEvents(t, evs)
}

func (f *fakeEvdev) writeEvents(t *testing.T, evs []keywedge.Event) {
	t.Helper()
	var raw []byte
	for _, e := range evs {
		raw = append(raw, keywedge.NativeLayout.Encode(e)...)
	}
	f.write(t, raw)
}

func (f *fakeEvdev) write(t *testing.T, raw []byte) {
	t.Helper()
	f.mu.Lock()
	w := f.w
	f.mu.Unlock()
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
}

func startKeyboard(t *testing.T, opt Options) (*Scanner, *fakeEvdev, <-chan Scan) {
	t.Helper()
	dev := &fakeEvdev{present: true}
	opt.Path = "/dev/input/by-id/usb-Scanner-event-kbd"
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	s.openKeyboard = dev.open
	s.retryMax = 50 * time.Millisecond
	scans, _ := s.Subscribe()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, s) })
	if h := s.Health(); h.State != daemon.StateOK {
		t.Fatalf("health %+v", h)
	}
	return s, dev, scans
}

func TestKeyboardScans(t *testing.T) {
	t.Parallel()
	s, dev, scans := startKeyboard(t, Options{})
	if s.Attachment() != "keyboard-mode (HID) /dev/input/by-id/usb-Scanner-event-kbd" {
		t.Errorf("attachment %q", s.Attachment())
	}

	dev.typeText(t, receiptQR)
	sc := nextScan(t, scans)
	if sc.Payload != receiptQR || sc.Kind != qrpayload.KindReceipt || sc.Via != Keyboard || sc.Mangled || sc.Content.Receipt == nil {
		t.Errorf("receipt: %+v", sc)
	}

	// What a keyboard-wedge scanner makes of the card QR: the letters it could not
	// type are gone, though the rest still parses.
	dev.typeText(t, "079203012345|025123456|Nguyn Vn An|15031990|Nam|12 L Li|01072021")
	sc = nextScan(t, scans)
	if sc.Kind != qrpayload.KindCard || sc.Content.Card != nil || !errors.Is(sc.Content.Err, ErrKeyboardWedgeText) || sc.Content.CAN != "012345" {
		t.Errorf("card through keyboard wedge: %+v", sc.Content)
	}
}

func TestKeyboardMangledFrame(t *testing.T) {
	t.Parallel()
	s, dev, scans := startKeyboard(t, Options{})
	evs, err := keywedge.Keystrokes("N", 0, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Alt+keypad 2 4 8 between N and Enter: a scanner trying to type ữ.
	const leftAlt, kp2, kp4, kp8 = 56, 80, 75, 72
	alt := []keywedge.Event{{Type: keywedge.EvKey, Code: leftAlt, Value: keywedge.KeyPressed}}
	for _, k := range []uint16{kp2, kp4, kp8} {
		alt = append(alt, keywedge.Event{Type: keywedge.EvKey, Code: k, Value: keywedge.KeyPressed}, keywedge.Event{Type: keywedge.EvKey, Code: k, Value: keywedge.KeyReleased})
	}
	alt = append(alt, keywedge.Event{Type: keywedge.EvKey, Code: leftAlt, Value: keywedge.KeyReleased})
	n := len(evs) - 4 // before the Enter press/release and their SYN_REPORTs
	dev.writeEvents(t, append(append(append([]keywedge.Event(nil), evs[:n]...), alt...), evs[n:]...))
	sc := nextScan(t, scans)
	if sc.Payload != "N" || !sc.Mangled || s.Stats().Mangled != 1 {
		t.Errorf("scan %+v, stats %+v", sc, s.Stats())
	}
}

func TestKeyboardUnplugAndReplug(t *testing.T) {
	t.Parallel()
	s, dev, scans := startKeyboard(t, Options{})
	dev.typeText(t, "HS1|A-1|A|250101")
	nextScan(t, scans)

	dev.unplug()
	waitHealth(t, s, daemon.StateAbsent)
	if o, c := dev.counts(); o != 1 || c != 1 {
		t.Errorf("after unplug: %d opens, %d closes", o, c)
	}

	dev.plug()
	waitHealth(t, s, daemon.StateOK)
	dev.typeText(t, "HS1|A-2|A|250101")
	if sc := nextScan(t, scans); sc.Payload != "HS1|A-2|A|250101" {
		t.Errorf("after replug: %q", sc.Payload)
	}
	stop(t, s)
	if o, c := dev.counts(); o != 2 || c != 2 {
		t.Errorf("after Stop: %d opens, %d closes (every grab released)", o, c)
	}
}

// TestKeyboardTruncatedRecord: a stream that breaks inside a record is a device
// failure: the scanner says so and reopens, and nothing half-decoded is delivered.
func TestKeyboardTruncatedRecord(t *testing.T) {
	t.Parallel()
	s, dev, scans := startKeyboard(t, Options{})
	evs, _ := keywedge.Keystrokes("HS1|A-1|A|250101", 0, time.Millisecond)
	var raw []byte
	for _, e := range evs[:len(evs)-4] {
		raw = append(raw, keywedge.NativeLayout.Encode(e)...)
	}
	dev.write(t, append(raw, 1, 2, 3))
	dev.mu.Lock()
	dev.w.Close()
	dev.mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if o, _ := dev.counts(); o >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not reopened after a truncated record")
		}
	}
	waitHealth(t, s, daemon.StateOK)
	noScan(t, scans, 50*time.Millisecond)
	dev.typeText(t, "HS1|A-2|A|250101")
	if sc := nextScan(t, scans); sc.Payload != "HS1|A-2|A|250101" {
		t.Errorf("after reopening: %q", sc.Payload)
	}
}

func TestKeyboardStopDoesNotWaitForAKey(t *testing.T) {
	t.Parallel()
	s, _, scans := startKeyboard(t, Options{})
	t0 := time.Now()
	stop(t, s)
	if d := time.Since(t0); d > time.Second {
		t.Errorf("Stop took %s with a read pending", d)
	}
	if _, ok := <-scans; ok {
		t.Error("channel open after Stop")
	}
}
