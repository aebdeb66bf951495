//go:build linux

package barcode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/vnkiosk/kiosk/devices/barcode/qrpayload"
	"github.com/vnkiosk/kiosk/devices/barcode/scannersim"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// startSerial plugs a simulated scanner behind a by-id style link and starts a
// Scanner on it.
func startSerial(t *testing.T, opt Options, sim scannersim.Options) (*Scanner, *scannersim.Scanner, <-chan Scan) {
	t.Helper()
	link := filepath.Join(t.TempDir(), "usb-Scanner-if00")
	sim.Link = link
	plug, err := scannersim.Plug(sim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plug.Unplug() })
	opt.Path = "serial:" + link
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	s.retryMax = 100 * time.Millisecond
	scans, _ := s.Subscribe()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	if h := s.Health(); h.State != daemon.StateOK {
		t.Fatalf("health after Start with the scanner plugged in: %+v", h)
	}
	return s, plug, scans
}

func write(t *testing.T, sim *scannersim.Scanner, b string) {
	t.Helper()
	if _, err := sim.Write([]byte(b)); err != nil {
		t.Fatal(err)
	}
}

// TestSerialFrames drives a Scanner through a real pseudo-terminal: the bytes
// cross the kernel's tty layer and go.bug.st/serial, as from /dev/ttyACM0.
func TestSerialFrames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		writes []string // each written separately, with a pause, so reads split
		want   []string
	}{
		{"CR", []string{receiptQR + "\r"}, []string{receiptQR}},
		{"LF", []string{receiptQR + "\n"}, []string{receiptQR}},
		{"CRLF", []string{receiptQR + "\r\n"}, []string{receiptQR}},
		{"UTF-8 card QR", []string{cardQR + "\r"}, []string{cardQR}},
		{"several in one write", []string{"HS1|A-1|A|250101\rHS1|A-2|A|250101\nHS1|A-3|A|250101\r\n"},
			[]string{"HS1|A-1|A|250101", "HS1|A-2|A|250101", "HS1|A-3|A|250101"}},
		{"split across reads", []string{"HS1|H29.22-", "250315-0042|H29", ".22|250315"[:4], ".22|250315"[4:] + "\r"}, []string{"HS1|H29.22-250315-0042|H29.22|250315"}},
		{"CRLF split between reads", []string{"HS1|B-1|A|250101\r", "\nHS1|B-2|A|250101\r", "\n"}, []string{"HS1|B-1|A|250101", "HS1|B-2|A|250101"}},
		{"a UTF-8 character split between reads", []string{cardQR[:28], cardQR[28:] + "\r"}, []string{cardQR}},
		{"empty lines are not scans", []string{"\r\n\r\n\n\r", vietQR + "\r"}, []string{vietQR}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, sim, scans := startSerial(t, Options{}, scannersim.Options{})
			for _, w := range tt.writes {
				write(t, sim, w)
				time.Sleep(20 * time.Millisecond)
			}
			for _, want := range tt.want {
				if sc := nextScan(t, scans); sc.Payload != want || sc.Via != Serial || sc.Mangled {
					t.Errorf("scan %q (via %s, mangled %v), want %q", sc.Payload, sc.Via, sc.Mangled, want)
				}
			}
			noScan(t, scans, 100*time.Millisecond)
		})
	}
}

func TestSerialScanIsClassified(t *testing.T) {
	t.Parallel()
	_, sim, scans := startSerial(t, Options{}, scannersim.Options{Suffix: scannersim.CRLF})
	before := time.Now()
	for _, code := range []string{cardQR, receiptQR, vietQR, "8934563138164"} {
		if err := sim.Scan(code); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []qrpayload.Kind{qrpayload.KindCard, qrpayload.KindReceipt, qrpayload.KindPayment, qrpayload.KindUnknown} {
		sc := nextScan(t, scans)
		if sc.Kind != want || sc.Content.Kind != want || sc.Content.Err != nil || sc.Time.Before(before) {
			t.Errorf("scan kind %s (content %s, err %v, time %v), want %s", sc.Kind, sc.Content.Kind, sc.Content.Err, sc.Time, want)
		}
		if want == qrpayload.KindCard && (sc.Content.Card == nil || sc.Content.Card.FullName != "Nguyễn Văn An") {
			t.Errorf("card over serial lost its Vietnamese name: %+v", sc.Content.Card)
		}
	}
}

// TestSerialDamagedCardQR: a card QR whose text was decoded with the wrong code
// page on the way still parses, but only its CAN may be used.
func TestSerialDamagedCardQR(t *testing.T) {
	t.Parallel()
	_, sim, scans := startSerial(t, Options{}, scannersim.Options{})
	// "Nguyễn" as a Latin-1 scanner re-encodes it: E1 BB 85 -> á » U+0085.
	damaged := strings.Replace(cardQR, "Nguyễn", "Nguy\u00e1\u00bb\u0085n", 1)
	if err := sim.Scan(damaged); err != nil {
		t.Fatal(err)
	}
	sc := nextScan(t, scans)
	if !sc.Mangled || sc.Kind != qrpayload.KindCard || sc.Content.Card != nil || !errors.Is(sc.Content.Err, ErrCardTextDamaged) || sc.Content.CAN != "012345" {
		t.Errorf("damaged card QR: mangled %v, content %+v", sc.Mangled, sc.Content)
	}
}

func TestSerialOverlongFrameResynchronises(t *testing.T) {
	t.Parallel()
	s, sim, scans := startSerial(t, Options{}, scannersim.Options{})
	write(t, sim, strings.Repeat("7", maxFrame+500)+"\r"+receiptQR+"\r")
	if sc := nextScan(t, scans); sc.Payload != receiptQR {
		t.Errorf("after an overlong frame: %q", sc.Payload)
	}
	if st := s.Stats(); st.TooLong != 1 || st.Delivered != 1 {
		t.Errorf("stats %+v", st)
	}
	// Exactly the bound is still a frame.
	exact := strings.Repeat("8", maxFrame)
	write(t, sim, exact+"\r")
	if sc := nextScan(t, scans); sc.Payload != exact {
		t.Errorf("a frame of exactly %d bytes came back as %d bytes", maxFrame, len(sc.Payload))
	}
}

func TestSerialGarbage(t *testing.T) {
	t.Parallel()
	s, sim, scans := startSerial(t, Options{}, scannersim.Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 3000)
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}
	write(t, sim, string(garbage)+"\r")
	time.Sleep(100 * time.Millisecond)
	write(t, sim, receiptQR+"\r")
	var got []Scan
	for {
		sc := nextScan(t, scans)
		if sc.Payload == receiptQR {
			if sc.Mangled {
				t.Error("the clean code after the garbage is flagged mangled")
			}
			break
		}
		got = append(got, sc)
	}
	if len(got) == 0 {
		t.Fatal("3000 random bytes with CRs and LFs in them produced no frame")
	}
	for _, sc := range got {
		if !sc.Mangled {
			t.Errorf("garbage frame %q not flagged mangled", sc.Payload)
		}
		if !bytes.Contains(garbage, []byte(sc.Payload)) {
			t.Errorf("frame %q is not from the bytes sent", sc.Payload)
		}
	}
	if h := s.Health(); h.State != daemon.StateOK {
		t.Errorf("health after garbage: %+v", h)
	}
}

// TestSerialFrameWithoutTerminator: a glitch's partial frame is not glued to the
// next code.
func TestSerialFrameWithoutTerminator(t *testing.T) {
	t.Parallel()
	s, sim, scans := startSerial(t, Options{}, scannersim.Options{})
	write(t, sim, "HS1|partial")
	time.Sleep(frameGap + 300*time.Millisecond)
	write(t, sim, receiptQR+"\r")
	if sc := nextScan(t, scans); sc.Payload != receiptQR {
		t.Errorf("got %q", sc.Payload)
	}
	if st := s.Stats(); st.Abandoned != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSerialRepeatSuppression(t *testing.T) {
	t.Parallel()
	t.Run("within the window", func(t *testing.T) {
		t.Parallel()
		s, sim, scans := startSerial(t, Options{RepeatWindow: time.Hour}, scannersim.Options{})
		for range 3 {
			sim.Scan(receiptQR)
		}
		sim.Scan(vietQR)
		sim.Scan(receiptQR)
		if a, b := nextScan(t, scans), nextScan(t, scans); a.Payload != receiptQR || b.Payload != vietQR {
			t.Errorf("got %q then %q", a.Payload, b.Payload)
		}
		noScan(t, scans, 200*time.Millisecond)
		if st := s.Stats(); st.Repeats != 3 || st.Delivered != 2 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		_, sim, scans := startSerial(t, Options{RepeatWindow: -1}, scannersim.Options{})
		sim.Scan(receiptQR)
		sim.Scan(receiptQR)
		nextScan(t, scans)
		nextScan(t, scans)
	})
	t.Run("after the window", func(t *testing.T) {
		t.Parallel()
		_, sim, scans := startSerial(t, Options{RepeatWindow: 150 * time.Millisecond}, scannersim.Options{})
		sim.Scan(receiptQR)
		nextScan(t, scans)
		time.Sleep(300 * time.Millisecond)
		sim.Scan(receiptQR)
		nextScan(t, scans)
	})
}

// TestSlowSubscriber: one subscriber that never reads costs the others nothing
// and keeps the newest scans itself.
func TestSlowSubscriber(t *testing.T) {
	t.Parallel()
	s, sim, fast := startSerial(t, Options{}, scannersim.Options{})
	slow, cancelSlow := s.Subscribe()
	defer cancelSlow()
	const n = 3 * subscriberBuffer
	for i := range n {
		code := "HS1|S-" + strconv.Itoa(i) + "|A|250101"
		if err := sim.Scan(code); err != nil {
			t.Fatal(err)
		}
		// Each scan reaches the reading subscriber while the other sits full.
		if sc := nextScan(t, fast); sc.Payload != code {
			t.Fatalf("fast subscriber: scan %d is %q", i, sc.Payload)
		}
	}
	// The fast subscriber may get the last scan before the slow one is offered it.
	for deadline := time.Now().Add(5 * time.Second); s.Stats().Missed < n-subscriberBuffer && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if len(slow) != subscriberBuffer {
		t.Fatalf("slow subscriber holds %d scans", len(slow))
	}
	if sc := <-slow; sc.Payload != "HS1|S-"+strconv.Itoa(n-subscriberBuffer)+"|A|250101" {
		t.Errorf("slow subscriber's oldest is %q, want the newest %d kept", sc.Payload, subscriberBuffer)
	}
	if st := s.Stats(); st.Missed != n-subscriberBuffer {
		t.Errorf("missed %d, want %d", st.Missed, n-subscriberBuffer)
	}
	cancelSlow()
	if _, ok := <-drain(slow); ok {
		t.Error("cancelled subscription still open")
	}
}

// drain empties a channel and returns it for a final receive.
func drain(ch <-chan Scan) <-chan Scan {
	for len(ch) > 0 {
		<-ch
	}
	return ch
}

// TestSerialUnplugAndReplug: pulling the cable turns health absent; plugging a
// scanner back at the same by-id path brings it back by itself.
func TestSerialUnplugAndReplug(t *testing.T) {
	t.Parallel()
	s, sim, scans := startSerial(t, Options{}, scannersim.Options{})
	sim.Scan(receiptQR)
	nextScan(t, scans)

	if err := sim.Unplug(); err != nil {
		t.Fatal(err)
	}
	h := waitHealth(t, s, daemon.StateAbsent)
	if !strings.Contains(h.Reason, "not plugged in") || !strings.Contains(h.Reason, sim.DevicePath()) {
		t.Errorf("absent reason %q", h.Reason)
	}

	again, err := scannersim.Plug(scannersim.Options{Link: sim.DevicePath()})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Unplug()
	if h := waitHealth(t, s, daemon.StateOK); h.Reason != "" {
		t.Errorf("ok with reason %q", h.Reason)
	}
	again.Scan(vietQR)
	if sc := nextScan(t, scans); sc.Payload != vietQR {
		t.Errorf("after replug: %q", sc.Payload)
	}
}

func TestStartWithoutScanner(t *testing.T) {
	t.Parallel()
	link := filepath.Join(t.TempDir(), "ttyACM0")
	s, err := New(Options{Path: "serial:" + link})
	if err != nil {
		t.Fatal(err)
	}
	s.retryMax = 50 * time.Millisecond
	if h := s.Health(); h.State != daemon.StateStarting {
		t.Errorf("before Start: %+v", h)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("a missing scanner must not fail Start: %v", err)
	}
	if h := s.Health(); h.State != daemon.StateAbsent {
		t.Errorf("right after Start: %+v", h)
	}
	sim, err := scannersim.Plug(scannersim.Options{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Unplug()
	waitHealth(t, s, daemon.StateOK)
	stop(t, s)
}

// TestStopReleasesThePort: after Stop the subscriber channels are closed, health
// says stopped, and the tty's exclusive lock is gone (another open succeeds).
func TestStopReleasesThePort(t *testing.T) {
	t.Parallel()
	s, sim, scans := startSerial(t, Options{}, scannersim.Options{})
	t0 := time.Now()
	stop(t, s)
	if d := time.Since(t0); d > time.Second {
		t.Errorf("Stop took %s", d)
	}
	if _, ok := <-scans; ok {
		t.Error("subscriber channel open after Stop")
	}
	if h := s.Health(); h.State != daemon.StateStopped {
		t.Errorf("health %+v", h)
	}
	p, err := serial.Open(sim.DevicePath(), &serial.Mode{BaudRate: 9600})
	if err != nil {
		t.Fatalf("port still held after Stop: %v", err)
	}
	p.Close()
	late, cancel := s.Subscribe()
	cancel()
	if _, ok := <-late; ok {
		t.Error("subscribing after Stop gave an open channel")
	}
	if err := s.Start(context.Background()); err == nil {
		t.Error("restarted a stopped scanner")
	}
}

func TestOpenErrorsGiveHonestHealth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path   string
		state  daemon.State
		reason string
	}{
		{"serial:" + filepath.Join(dir, "ttyACM9"), daemon.StateAbsent, "not plugged in"},
		{"serial:/dev/null", daemon.StateDegraded, "not a serial port"},
		{"serial:" + regular, daemon.StateDegraded, "not a serial port"},
		{filepath.Join(dir, "usb-Scanner-event-kbd"), daemon.StateAbsent, "not plugged in"},
		{"/dev/null", daemon.StateDegraded, "not an input device"},
		{regular, daemon.StateDegraded, "not an input device"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			s, err := New(Options{Path: tt.path})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer stop(t, s)
			h := s.Health()
			if h.State != tt.state || !strings.Contains(h.Reason, tt.reason) {
				t.Errorf("health %+v, want %s with %q", h, tt.state, tt.reason)
			}
		})
	}
}

func TestHealthForPermissionAndBusy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		tr     Transport
		err    error
		reason string
	}{
		{Serial, &os.PathError{Op: "open", Path: "/dev/ttyACM0", Err: os.ErrPermission}, "dialout group"},
		{Keyboard, &os.PathError{Op: "open", Path: "/dev/input/event3", Err: os.ErrPermission}, "input group"},
		{Keyboard, fmt.Errorf("/dev/x: EVIOCGRAB: %w", syscall.EBUSY), "another program holds"},
		{Serial, errors.New("something else"), "cannot open /dev/x: something else"},
	} {
		h := healthForOpenError(tt.tr, "/dev/x", tt.err)
		if h.State != daemon.StateDegraded || !strings.Contains(h.Reason, tt.reason) {
			t.Errorf("%v: %+v", tt.err, h)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, opt := range []Options{{}, {Path: "serial:"}, {Path: "serial:/dev/ttyACM0", Baud: 12345}} {
		if _, err := New(opt); err == nil {
			t.Errorf("New(%+v) accepted", opt)
		}
	}
	s, err := New(Options{Path: "serial:/dev/ttyACM0"})
	if err != nil || s.opt.Baud != 9600 || s.Attachment() != "serial /dev/ttyACM0 at 9600 baud" {
		t.Errorf("defaults: %v %+v %q", err, s.opt, s.Attachment())
	}
}
