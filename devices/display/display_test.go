package display

import (
	"context"
	"errors"
	"image"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"

	"github.com/vnkiosk/kiosk/devices/display/screen"
	"github.com/vnkiosk/kiosk/devices/display/st7789/st7789test"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

const payload = "00020101021238560010A0000007270126000697041501121133666688880208QRIBFTTA53037045405100005802VN62390835Le phi HS 000.00.12.H29-240517-004263046422"

// names gives each test its own bus and pin names: periph's registries are
// process-wide.
func names(t *testing.T) (spiName, dcName string) {
	n := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return "SPI_" + n, "DC_" + n
}

// fakeClock is the display's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// startTFT starts a Display on a simulated ST7789 registered under this test's
// names, with the countdown loop off so the test decides when it ticks.
func startTFT(t *testing.T, w, h int) (*Display, *st7789test.Panel, *fakeClock) {
	t.Helper()
	spiName, dcName := names(t)
	panel := st7789test.New(dcName)
	if err := spireg.Register(spiName, nil, -1, func() (spi.PortCloser, error) { return panel, nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = spireg.Unregister(spiName) })
	if err := gpioreg.Register(panel.DC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gpioreg.Unregister(dcName) })

	clock := &fakeClock{t: time.Date(2026, 5, 17, 9, 30, 0, 0, time.UTC)}
	d := New(Options{Kind: KindST7789, SPIBus: spiName, DCPin: dcName, Width: w, Height: h})
	d.now, d.tick = clock.now, 0
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	if h := d.Health(); h.State != daemon.StateOK {
		t.Fatalf("health %+v, want ok", h)
	}
	return d, panel, clock
}

func decodeQR(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// sameImage says whether the panel shows frame, up to RGB565's loss of the low
// bits (which only the text's anti-aliasing greys have).
func sameImage(shown, frame *image.RGBA) bool {
	if shown.Bounds() != frame.Bounds() {
		return false
	}
	for i, v := range frame.Pix {
		want := v
		switch i % 4 {
		case 0, 2: // red and blue keep 5 bits, widened by repeating the top ones
			want = v&0xF8 | v>>5
		case 1: // green keeps 6
			want = v&0xFC | v>>6
		}
		if shown.Pix[i] != want {
			return false
		}
	}
	return true
}

func TestNoDisplayConfigured(t *testing.T) {
	t.Parallel()
	d := New(Options{})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := daemon.Health{State: daemon.StateAbsent, Reason: "no customer display configured; the payment QR is shown on the touchscreen"}
	if h := d.Health(); h != want {
		t.Errorf("health %+v, want %+v", h, want)
	}
	if d.ShowsPaymentQR() {
		t.Error("ShowsPaymentQR with no display")
	}
	for name, show := range map[string]func() error{
		"ShowPaymentQR": func() error { return d.ShowPaymentQR(payload, 10000, time.Now().Add(time.Minute)) },
		"ShowIdle":      d.ShowIdle,
		"Clear":         d.Clear,
	} {
		if err := show(); !errors.Is(err, ErrNoCustomerDisplay) {
			t.Errorf("%s: %v, want ErrNoCustomerDisplay", name, err)
		}
	}
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// On a machine without the configured bus or pins (this one has no SPI, I²C or
// GPIO at all) the display is absent, says why, and the daemon runs on.
func TestMissingHardwareIsAbsent(t *testing.T) {
	t.Parallel()
	spiName, dcName := names(t)
	if err := spireg.Register(spiName, nil, -1, func() (spi.PortCloser, error) { return st7789test.New(dcName), nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = spireg.Unregister(spiName) })
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"no SPI bus", Options{Kind: KindST7789, SPIBus: "/dev/spidev9.9", DCPin: "GPIO25"}, `SPI bus "/dev/spidev9.9" not found`},
		{"no D/C pin", Options{Kind: KindST7789, SPIBus: spiName, DCPin: "GPIO25"}, `D/C pin "GPIO25" not found`},
		{"no I²C bus", Options{Kind: KindSSD1306, I2CBus: "/dev/i2c-9"}, `I²C bus "/dev/i2c-9" not found`},
		{"st7789 without wiring", Options{Kind: KindST7789}, "st7789 needs spi_bus and dc_pin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New(tc.opt)
			if err := d.Start(context.Background()); err != nil {
				t.Fatalf("Start: %v; a missing panel must not stop the daemon", err)
			}
			h := d.Health()
			if h.State != daemon.StateAbsent || !strings.Contains(h.Reason, tc.want) || !strings.HasSuffix(h.Reason, "the payment QR is shown on the touchscreen") {
				t.Errorf("health %+v, want absent with %q and where the QR goes", h, tc.want)
			}
			if d.ShowsPaymentQR() {
				t.Error("ShowsPaymentQR without a panel")
			}
			if err := d.ShowPaymentQR(payload, 10000, time.Now().Add(time.Minute)); !errors.Is(err, ErrNoCustomerDisplay) {
				t.Errorf("ShowPaymentQR: %v, want ErrNoCustomerDisplay", err)
			}
		})
	}
}

func TestUnknownKindFailsStart(t *testing.T) {
	t.Parallel()
	if err := New(Options{Kind: "ili9341"}).Start(context.Background()); err == nil {
		t.Fatal("unknown kind started")
	}
}

// A payment from start to expiry, read back from the simulated panel's RAM.
func TestPaymentOnTFT(t *testing.T) {
	t.Parallel()
	for _, size := range []image.Point{{240, 240}, {240, 320}} {
		t.Run(size.String(), func(t *testing.T) {
			t.Parallel()
			d, panel, clock := startTFT(t, size.X, size.Y)
			r, err := screen.NewRenderer("")
			if err != nil {
				t.Fatal(err)
			}
			whole := image.Rectangle{Max: size}
			if !sameImage(panel.Image(whole), r.Message(size, screen.Light, idleLines...)) {
				t.Error("the panel does not show the idle screen after Start")
			}
			if !d.ShowsPaymentQR() {
				t.Fatal("ShowsPaymentQR false on a working ST7789")
			}

			panel.Windows()
			if err := d.ShowPaymentQR(payload, 10000, clock.now().Add(5*time.Minute)); err != nil {
				t.Fatal(err)
			}
			got, err := decodeQR(panel.Image(whole))
			if err != nil || got != payload {
				t.Fatalf("panel decodes to %q, %v; want the payload", got, err)
			}
			want, layout, err := r.PaymentQR(size, payload, 10000, 5*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !sameImage(panel.Image(whole), want) {
				t.Error("the panel does not show the payment screen pixel for pixel ")
			}

			// A second later only the countdown changes, so only a window in its
			// band goes over the bus.
			panel.Windows()
			clock.advance(time.Second)
			d.mu.Lock()
			err = d.refreshLocked()
			d.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			ws := panel.Windows()
			if len(ws) != 1 || !ws[0].In(layout.Countdown) {
				t.Fatalf("countdown tick wrote windows %v, want one inside the countdown band %v", ws, layout.Countdown)
			}
			if ws[0].Dx()*ws[0].Dy() > size.X*size.Y/10 {
				t.Errorf("countdown tick rewrote %v, over a tenth of the screen", ws[0])
			}
			want, _, _ = r.PaymentQR(size, payload, 10000, 4*time.Minute+59*time.Second)
			if !sameImage(panel.Image(whole), want) {
				t.Error("after the tick the panel does not show Còn 04:59")
			}

			// A tick that changes no pixel sends nothing.
			clock.advance(250 * time.Millisecond)
			d.mu.Lock()
			err = d.refreshLocked()
			d.mu.Unlock()
			if err != nil || len(panel.Windows()) != 0 {
				t.Errorf("a tick within the same second: %v, wrote windows", err)
			}

			// At the deadline the code goes away.
			clock.advance(5 * time.Minute)
			d.mu.Lock()
			err = d.refreshLocked()
			d.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if !sameImage(panel.Image(whole), r.Message(size, screen.Light, expiredLines...)) {
				t.Error("the panel does not show the expiry notice after the deadline")
			}
			if _, err := decodeQR(panel.Image(whole)); err == nil {
				t.Error("an expired payment code is still scannable")
			}

			if err := d.ShowIdle(); err != nil {
				t.Fatal(err)
			}
			if !sameImage(panel.Image(whole), r.Message(size, screen.Light, idleLines...)) {
				t.Error("ShowIdle did not bring the idle screen back")
			}
		})
	}
}

func TestPayloadTooDenseKeepsTheScreen(t *testing.T) {
	t.Parallel()
	d, panel, clock := startTFT(t, 240, 240)
	before := panel.Image(image.Rect(0, 0, 240, 240))
	err := d.ShowPaymentQR(strings.Repeat("x", 700), 10000, clock.now().Add(time.Minute))
	if !errors.Is(err, screen.ErrQRDoesNotFit) {
		t.Fatalf("err %v, want ErrQRDoesNotFit", err)
	}
	if !sameImage(panel.Image(image.Rect(0, 0, 240, 240)), before) {
		t.Error("a payload that does not fit changed the screen")
	}
}

// A panel that stops taking transfers degrades the display, so the UI shows the
// QR itself; when it works again the next draw sends a whole frame.
func TestDrawFailureDegradesAndRecovers(t *testing.T) {
	t.Parallel()
	d, panel, clock := startTFT(t, 240, 240)
	panel.Fail(errors.New("spi: transfer failed: remote I/O error"))
	if err := d.ShowPaymentQR(payload, 10000, clock.now().Add(time.Minute)); err == nil {
		t.Fatal("ShowPaymentQR succeeded on a failing bus")
	}
	h := d.Health()
	if h.State != daemon.StateDegraded || !strings.Contains(h.Reason, "remote I/O error") || !strings.Contains(h.Reason, "touchscreen") {
		t.Errorf("health %+v, want degraded with the cause and where the QR goes", h)
	}
	if d.ShowsPaymentQR() {
		t.Error("ShowsPaymentQR on a failing panel")
	}
	panel.Fail(nil)
	panel.Windows()
	if err := d.ShowPaymentQR(payload, 10000, clock.now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if h := d.Health(); h.State != daemon.StateOK {
		t.Errorf("health %+v after a good draw, want ok", h)
	}
	if ws := panel.Windows(); len(ws) != 1 || ws[0] != image.Rect(0, 0, 240, 240) {
		t.Errorf("recovery wrote %v, want the whole frame", ws)
	}
	if got, err := decodeQR(panel.Image(image.Rect(0, 0, 240, 240))); err != nil || got != payload {
		t.Errorf("after recovery the panel decodes to %q, %v", got, err)
	}
}

func TestStopDarkensThePanel(t *testing.T) {
	t.Parallel()
	d, panel, clock := startTFT(t, 240, 240)
	if err := d.ShowPaymentQR(payload, 10000, clock.now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	n := len(panel.Ops)
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sent []byte
	for _, op := range panel.Ops[n:] {
		sent = append(sent, op.W...)
	}
	if string(sent) != "\x28\x10" { // DISPOFF, SLPIN
		t.Errorf("Stop sent % X, want 28 10 (display off, sleep in)", sent)
	}
	if h := d.Health(); h.State != daemon.StateStopped {
		t.Errorf("health %+v, want stopped", h)
	}
	if err := d.ShowIdle(); !errors.Is(err, ErrNoCustomerDisplay) {
		t.Errorf("ShowIdle after Stop: %v", err)
	}
}

// The countdown loop runs on its own and stops with the display.
func TestCountdownLoop(t *testing.T) {
	t.Parallel()
	spiName, dcName := names(t)
	panel := st7789test.New(dcName)
	if err := spireg.Register(spiName, nil, -1, func() (spi.PortCloser, error) { return panel, nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = spireg.Unregister(spiName) })
	if err := gpioreg.Register(panel.DC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gpioreg.Unregister(dcName) })
	d := New(Options{Kind: KindST7789, SPIBus: spiName, DCPin: dcName})
	d.tick = 5 * time.Millisecond
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Expires almost at once: the loop must put the expiry notice up by itself.
	if err := d.ShowPaymentQR(payload, 10000, time.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	r, err := screen.NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	expired := r.Message(image.Pt(240, 240), screen.Light, expiredLines...)
	deadline := time.Now().Add(5 * time.Second)
	for !sameImage(panel.Image(image.Rect(0, 0, 240, 240)), expired) {
		if time.Now().After(deadline) {
			t.Fatal("the countdown loop did not show the expiry notice")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// i2cBus makes i2ctest's recorder openable through i2creg.
type i2cBus struct{ i2c.Bus }

func (i2cBus) Close() error { return nil }

func TestSSD1306ShowsTextNotTheQR(t *testing.T) {
	t.Parallel()
	name := "I2C_" + t.Name()
	bus := &i2ctest.Record{}
	if err := i2creg.Register(name, nil, -1, func() (i2c.BusCloser, error) { return i2cBus{bus}, nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = i2creg.Unregister(name) })
	d := New(Options{Kind: KindSSD1306, I2CBus: name})
	d.tick = 0
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	if h := d.Health(); h.State != daemon.StateOK {
		t.Fatalf("health %+v, want ok", h)
	}
	if d.ShowsPaymentQR() {
		t.Error("a 128×64 OLED claims to show the payment QR")
	}
	n := len(bus.Ops)
	if err := d.ShowPaymentQR(payload, 10000, time.Now().Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(bus.Ops) == n {
		t.Error("the amount and countdown were not drawn")
	}
	for _, op := range bus.Ops[n:] {
		if op.Addr != 0x3C {
			t.Fatalf("transfer to %#x", op.Addr)
		}
	}
}

func TestSSD1306NotAnswering(t *testing.T) {
	t.Parallel()
	name := "I2C_" + t.Name()
	bus := &i2ctest.Playback{DontPanic: true} // no device: every transfer fails
	if err := i2creg.Register(name, nil, -1, func() (i2c.BusCloser, error) { return bus, nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = i2creg.Unregister(name) })
	d := New(Options{Kind: KindSSD1306, I2CBus: name})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h := d.Health(); h.State != daemon.StateAbsent || !strings.Contains(h.Reason, "no SSD1306 answered") {
		t.Errorf("health %+v, want absent: no SSD1306 answered", h)
	}
}

func TestChangedRect(t *testing.T) {
	t.Parallel()
	base := image.NewRGBA(image.Rect(0, 0, 20, 10))
	for _, tc := range []struct {
		name    string
		changes []image.Point
		want    image.Rectangle
	}{
		{"nothing", nil, image.Rectangle{}},
		{"one pixel", []image.Point{{3, 4}}, image.Rect(3, 4, 4, 5)},
		{"corners", []image.Point{{0, 0}, {19, 9}}, image.Rect(0, 0, 20, 10)},
		{"a row apart", []image.Point{{5, 2}, {7, 6}}, image.Rect(5, 2, 8, 7)},
	} {
		next := image.NewRGBA(base.Bounds())
		for _, p := range tc.changes {
			next.Pix[next.PixOffset(p.X, p.Y)] = 0xFF
		}
		if got := changedRect(base, next); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
