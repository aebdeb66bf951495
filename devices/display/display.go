// Package display owns the customer-facing display beside the touchscreen. With an
// ST7789 TFT it shows the VietQR payment code, the amount and a live countdown,
// and greets between payments; with a 128×64 SSD1306 OLED it shows only the
// amount and the countdown, because the code is too dense for that panel; with no
// panel configured (or none found) it reports absent, and the UI shows the payment
// code on the touchscreen instead. The screens come from package screen, the
// bytes on the bus from packages st7789 and oled; this package owns which panel
// is in use, what it shows now, and whether it works.
package display

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"sync"
	"time"

	"periph.io/x/conn/v3/display"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"

	"github.com/vnkiosk/kiosk/devices/display/oled"
	"github.com/vnkiosk/kiosk/devices/display/screen"
	"github.com/vnkiosk/kiosk/devices/display/st7789"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// Panel kinds, as in the configuration's devices.display.kind.
const (
	KindNone    = ""
	KindST7789  = "st7789"
	KindSSD1306 = "ssd1306"
)

// ReasonNoCustomerDisplay is the health reason when no panel is configured. The UI
// shows the payment QR itself whenever ShowsPaymentQR is false.
const ReasonNoCustomerDisplay = "no customer display configured; the payment QR is shown on the touchscreen"

// ErrNoCustomerDisplay is returned by the Show methods when there is no working
// panel: the caller shows the screen on the touchscreen.
var ErrNoCustomerDisplay = errors.New("no customer display")

// Texts on the panel. Citizens read them, so they are Vietnamese.
var (
	idleLines    = []string{"Xin kính chào", "Mã QR thanh toán sẽ hiện tại đây"}
	expiredLines = []string{"Mã thanh toán đã hết hạn", "Vui lòng làm lại trên màn hình cảm ứng"}
	oledIdle     = []string{"Xin kính chào"}
	oledExpired  = []string{"Mã đã hết hạn"}
)

// Options select and wire the panel.
type Options struct {
	Kind     string // KindNone, KindST7789 or KindSSD1306
	SPIBus   string // ST7789: periph SPI port name, e.g. "/dev/spidev0.0" or "SPI0.0"
	I2CBus   string // SSD1306: periph I²C bus name, e.g. "1" or "/dev/i2c-1"
	DCPin    string // ST7789 data/command pin, e.g. "GPIO25"
	ResetPin string // ST7789 reset pin; "" when RESX is tied high
	// Width and Height of an ST7789 panel; 0 means 240×240.
	Width, Height int
	// ColOffset and RowOffset place the panel in the ST7789's 240×320 RAM (see
	// st7789.Opts); 0 for 240×240 and 240×320 panels in their natural orientation.
	ColOffset, RowOffset int
	FontFile             string // "" means screen.DefaultFontFile
	Log                  *slog.Logger
}

// refreshEvery is how often the countdown is redrawn. Only changed pixels go to
// the panel, so the three redraws a second that change nothing cost no bus time;
// a quarter second keeps the displayed second at most 250 ms late.
const refreshEvery = 250 * time.Millisecond

// Display is the customer display subsystem.
type Display struct {
	opt Options
	log *slog.Logger
	now func() time.Time
	// tick is refreshEvery; tests set 0 and call refresh themselves.
	tick time.Duration

	mu      sync.Mutex
	health  daemon.Health
	render  *screen.Renderer
	tft     display.Drawer // set for an ST7789
	oled    *oled.Panel    // set for an SSD1306
	bus     io.Closer      // the SPI port or I²C bus, closed at Stop
	shown   *image.RGBA    // what the TFT shows now, for partial redraws
	payment *payment       // the payment being shown, nil otherwise
	expired bool           // the payment's deadline passed and the expiry screen is up
	cancel  context.CancelFunc
	done    chan struct{}
}

type payment struct {
	payload  string
	amount   int64
	deadline time.Time
}

// New returns the display subsystem; nothing touches hardware before Start.
func New(opt Options) *Display {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.Width == 0 && opt.Height == 0 {
		opt.Width, opt.Height = st7789.DefaultOpts.W, st7789.DefaultOpts.H
	}
	return &Display{
		opt: opt, log: log, now: time.Now, tick: refreshEvery,
		health: daemon.Health{State: daemon.StateStarting},
	}
}

// Name implements daemon.Subsystem.
func (d *Display) Name() string { return "customer_display" }

// Health implements daemon.Subsystem.
func (d *Display) Health() daemon.Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.health
}

// ShowsPaymentQR says whether the payment QR appears on this panel; when false the
// UI must show it on the touchscreen.
func (d *Display) ShowsPaymentQR() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tft != nil && d.health.State == daemon.StateOK
}

// Start implements daemon.Subsystem. A missing panel, bus or pin is not an error:
// the kiosk serves citizens without a customer display, so Start reports it in
// Health and returns nil. Only an unknown Kind, a programming error since the
// configuration is validated, fails Start.
func (d *Display) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.opt.Kind {
	case KindNone:
		d.health = daemon.Health{State: daemon.StateAbsent, Reason: ReasonNoCustomerDisplay}
		return nil
	case KindST7789, KindSSD1306:
	default:
		return fmt.Errorf("display: unknown kind %q; expected %q, %q or none", d.opt.Kind, KindST7789, KindSSD1306)
	}
	r, err := screen.NewRenderer(d.opt.FontFile)
	if err != nil {
		d.health = unusable(daemon.StateDegraded, err.Error())
		return nil
	}
	d.render = r
	// host.Init loads the drivers of the board it runs on; on a machine without
	// GPIO or SPI it succeeds with nothing registered and the lookups below fail.
	if _, err := host.Init(); err != nil {
		d.health = unusable(daemon.StateAbsent, "periph host drivers did not load: "+err.Error())
		return nil
	}
	if d.opt.Kind == KindST7789 {
		d.health = d.openST7789()
	} else {
		d.health = d.openSSD1306()
	}
	if d.health.State != daemon.StateOK {
		d.log.Warn("customer display unavailable", "kind", d.opt.Kind, "state", d.health.State, "reason", d.health.Reason)
		return nil
	}
	if err := d.showIdleLocked(); err != nil {
		d.health = unusable(daemon.StateDegraded, err.Error())
		return nil
	}
	if d.tick > 0 {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		d.cancel, d.done = cancel, make(chan struct{})
		go d.refreshLoop(rctx, d.done)
	}
	return nil
}

// unusable is a health that is not ok, telling the reader where the QR goes instead.
func unusable(s daemon.State, why string) daemon.Health {
	return daemon.Health{State: s, Reason: why + "; the payment QR is shown on the touchscreen"}
}

func (d *Display) openST7789() daemon.Health {
	o := d.opt
	if o.SPIBus == "" || o.DCPin == "" {
		return unusable(daemon.StateAbsent, "st7789 needs spi_bus and dc_pin")
	}
	port, err := spireg.Open(o.SPIBus)
	if err != nil {
		return unusable(daemon.StateAbsent, fmt.Sprintf("SPI bus %q not found: %v", o.SPIBus, err))
	}
	dc := gpioreg.ByName(o.DCPin)
	if dc == nil {
		port.Close()
		return unusable(daemon.StateAbsent, fmt.Sprintf("D/C pin %q not found", o.DCPin))
	}
	var rst gpio.PinIO
	if o.ResetPin != "" {
		if rst = gpioreg.ByName(o.ResetPin); rst == nil {
			port.Close()
			return unusable(daemon.StateAbsent, fmt.Sprintf("reset pin %q not found", o.ResetPin))
		}
	}
	opts := st7789.DefaultOpts
	opts.W, opts.H, opts.ColOffset, opts.RowOffset = o.Width, o.Height, o.ColOffset, o.RowOffset
	dev, err := st7789.New(port, dc, rst, &opts)
	if err != nil {
		port.Close()
		return unusable(daemon.StateDegraded, fmt.Sprintf("st7789 on %s: %v", o.SPIBus, err))
	}
	d.tft, d.bus = dev, port
	return daemon.Health{State: daemon.StateOK}
}

func (d *Display) openSSD1306() daemon.Health {
	if d.opt.I2CBus == "" {
		return unusable(daemon.StateAbsent, "ssd1306 needs i2c_bus")
	}
	bus, err := i2creg.Open(d.opt.I2CBus)
	if err != nil {
		return unusable(daemon.StateAbsent, fmt.Sprintf("I²C bus %q not found: %v", d.opt.I2CBus, err))
	}
	p, err := oled.NewI2C(bus, d.render)
	if err != nil {
		bus.Close()
		return unusable(daemon.StateAbsent, fmt.Sprintf("no SSD1306 answered on I²C bus %q: %v", d.opt.I2CBus, err))
	}
	d.oled, d.bus = p, bus
	return daemon.Health{State: daemon.StateOK}
}

// Stop implements daemon.Subsystem: the countdown stops and the panel goes dark,
// so a stopped kiosk never leaves a payment code on show.
func (d *Display) Stop(ctx context.Context) error {
	d.mu.Lock()
	cancel, done := d.cancel, d.done
	d.cancel, d.done = nil, nil
	d.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("display: countdown did not stop: %w", ctx.Err())
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	switch {
	case d.tft != nil:
		errs = append(errs, d.tft.Halt())
	case d.oled != nil:
		errs = append(errs, d.oled.Halt())
	}
	if d.bus != nil {
		errs = append(errs, d.bus.Close())
	}
	d.tft, d.oled, d.bus, d.shown, d.payment = nil, nil, nil, nil, nil
	if d.health.State == daemon.StateOK {
		d.health = daemon.Health{State: daemon.StateStopped}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("display: stop: %w", err)
	}
	return nil
}

// ShowPaymentQR shows the payment code with its amount and a countdown to
// deadline; at the deadline the code is replaced by an expiry notice so nobody
// pays a code the backend no longer accepts. On an OLED only the amount and the
// countdown appear. It returns ErrNoCustomerDisplay when there is no panel.
func (d *Display) ShowPaymentQR(payload string, amountVND int64, deadline time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tft == nil && d.oled == nil {
		return ErrNoCustomerDisplay
	}
	if d.tft != nil {
		// Render once before committing, so a payload that does not fit leaves
		// the previous screen and reports why.
		if _, _, err := d.render.PaymentQR(d.tft.Bounds().Size(), payload, amountVND, deadline.Sub(d.now())); err != nil {
			return fmt.Errorf("display: %w", err)
		}
	}
	d.payment = &payment{payload: payload, amount: amountVND, deadline: deadline}
	d.expired = false
	return d.note(d.refreshLocked())
}

// ShowIdle shows the greeting between payments.
func (d *Display) ShowIdle() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tft == nil && d.oled == nil {
		return ErrNoCustomerDisplay
	}
	return d.note(d.showIdleLocked())
}

// Clear blanks the panel.
func (d *Display) Clear() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.payment = nil
	switch {
	case d.tft != nil:
		return d.note(d.drawFrame(d.render.Message(d.tft.Bounds().Size(), screen.Dark)))
	case d.oled != nil:
		return d.note(d.oled.Clear())
	}
	return ErrNoCustomerDisplay
}

func (d *Display) showIdleLocked() error {
	d.payment = nil
	if d.tft != nil {
		return d.drawFrame(d.render.Message(d.tft.Bounds().Size(), screen.Light, idleLines...))
	}
	return d.oled.ShowLines(oledIdle...)
}

// note records the outcome of a draw in Health: a panel that stops taking draws
// is degraded (the UI then shows the QR itself), one that recovers is ok again.
func (d *Display) note(err error) error {
	if err != nil {
		if d.health.State == daemon.StateOK {
			// Logged once per outage: the countdown retries four times a second.
			d.log.Error("customer display draw failed", "err", err)
		}
		d.health = unusable(daemon.StateDegraded, "draw failed: "+err.Error())
		return fmt.Errorf("display: %w", err)
	}
	if d.health.State == daemon.StateDegraded {
		d.health = daemon.Health{State: daemon.StateOK}
		d.log.Info("customer display recovered")
	}
	return nil
}

func (d *Display) refreshLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(d.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.mu.Lock()
			_ = d.note(d.refreshLocked())
			d.mu.Unlock()
		}
	}
}

// refreshLocked redraws the payment screen for the current time, or the expiry
// notice once the deadline has passed. Without a payment it does nothing.
func (d *Display) refreshLocked() error {
	p := d.payment
	if p == nil || (d.tft == nil && d.oled == nil) {
		return nil
	}
	left := p.deadline.Sub(d.now())
	if left <= 0 {
		if d.expired {
			return nil
		}
		d.expired = true
		if d.tft != nil {
			return d.drawFrame(d.render.Message(d.tft.Bounds().Size(), screen.Light, expiredLines...))
		}
		return d.oled.ShowLines(oledExpired...)
	}
	if d.oled != nil {
		return d.oled.ShowLines(screen.FormatVND(p.amount), screen.FormatCountdown(left))
	}
	img, _, err := d.render.PaymentQR(d.tft.Bounds().Size(), p.payload, p.amount, left)
	if err != nil {
		return err
	}
	return d.drawFrame(img)
}

// drawFrame sends the pixels of next that differ from what the TFT shows.
func (d *Display) drawFrame(next *image.RGBA) error {
	r := next.Bounds()
	if d.shown != nil {
		r = changedRect(d.shown, next)
		if r.Empty() {
			return nil
		}
	}
	if err := d.tft.Draw(r, next, r.Min); err != nil {
		// The panel's contents are unknown now: the next draw sends everything.
		d.shown = nil
		return err
	}
	d.shown = next
	return nil
}

// changedRect is the smallest rectangle holding every pixel that differs between
// two frames of the same size.
func changedRect(prev, next *image.RGBA) image.Rectangle {
	b := next.Bounds()
	if prev.Bounds() != b {
		return b
	}
	rowDiffers := func(y int) bool {
		i, j := prev.PixOffset(b.Min.X, y), next.PixOffset(b.Min.X, y)
		n := 4 * b.Dx()
		return string(prev.Pix[i:i+n]) != string(next.Pix[j:j+n])
	}
	y0, y1 := b.Min.Y, b.Max.Y
	for y0 < y1 && !rowDiffers(y0) {
		y0++
	}
	for y1 > y0 && !rowDiffers(y1-1) {
		y1--
	}
	if y0 == y1 {
		return image.Rectangle{}
	}
	colDiffers := func(x int) bool {
		for y := y0; y < y1; y++ {
			i, j := prev.PixOffset(x, y), next.PixOffset(x, y)
			if string(prev.Pix[i:i+4]) != string(next.Pix[j:j+4]) {
				return true
			}
		}
		return false
	}
	x0, x1 := b.Min.X, b.Max.X
	for x0 < x1 && !colDiffers(x0) {
		x0++
	}
	for x1 > x0 && !colDiffers(x1-1) {
		x1--
	}
	return image.Rect(x0, y0, x1, y1)
}

// Attachment implements daemon.Device: the panel and the bus it hangs on.
func (d *Display) Attachment() string {
	switch d.opt.Kind {
	case KindST7789:
		return fmt.Sprintf("ST7789 %d×%d on %s (D/C %s)", d.opt.Width, d.opt.Height, d.opt.SPIBus, d.opt.DCPin)
	case KindSSD1306:
		return "SSD1306 128×64 on I²C " + d.opt.I2CBus
	}
	return "none (QR on the touchscreen)"
}
