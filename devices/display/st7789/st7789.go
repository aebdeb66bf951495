// Package st7789 drives Sitronix ST7789-class TFT controllers (240×240 and 240×320
// panels) over 4-wire SPI: the bytes go over a periph spi.Conn and a D/C pin tells
// the controller whether a byte is a command (low) or its parameters and pixels
// (high). It owns the power-up sequence and RGB565 window writes, and implements
// periph's display.Drawer so any image.Image can be drawn. It keeps no frame buffer:
// the controller's RAM is one, and a windowed write updates only part of it.
//
// Timings and command numbers are from the Sitronix ST7789VW datasheet v1.0,
// section 9.1 ("System Function Command Table 1") and 7.4.5 (reset timing).
package st7789

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/display"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// Command bytes, datasheet section 9.1.
const (
	cmdSWRESET = 0x01
	cmdSLPIN   = 0x10
	cmdSLPOUT  = 0x11
	cmdNORON   = 0x13
	cmdINVON   = 0x21
	cmdDISPOFF = 0x28
	cmdDISPON  = 0x29
	cmdCASET   = 0x2A
	cmdRASET   = 0x2B
	cmdRAMWR   = 0x2C
	cmdMADCTL  = 0x36
	cmdCOLMOD  = 0x3A
)

// colmod16bit selects 65K colours (RGB interface bits) and 16 bits per pixel
// (control interface bits): COLMOD parameter, datasheet 9.1.32.
const colmod16bit = 0x55

// MADCTL bits, datasheet 9.1.28.
const (
	madctlMY  = 0x80 // rows bottom to top
	madctlMX  = 0x40 // columns right to left
	madctlMV  = 0x20 // rows and columns exchanged
	madctlBGR = 0x08 // panel wired blue-green-red
)

// Delays the datasheet asks for.
const (
	// resetPulse is tRW, the shortest RESX low pulse the controller takes as a reset.
	resetPulse = 10 * time.Microsecond
	// resetSettle is tRT: the controller loads its factory defaults for up to
	// 120 ms after RESX rises and ignores commands meanwhile.
	resetSettle = 120 * time.Millisecond
	// afterSWRESET: 5 ms before the next command, but 120 ms before SLPOUT when the
	// reset came in sleep-out mode (9.1.2). SLPOUT follows, and a restarted daemon
	// finds the panel awake, so the longer wait always applies.
	afterSWRESET = 120 * time.Millisecond
	// afterSLPOUT: the datasheet's minimum is 5 ms (9.1.12) for the supply and
	// clocks to settle; the self-diagnostics it runs take up to 120 ms, and cheap
	// modules have been seen to drop COLMOD sent in between, so wait those out.
	afterSLPOUT = 120 * time.Millisecond
	// afterSLPIN: 5 ms before the next command (9.1.11).
	afterSLPIN = 5 * time.Millisecond
)

// maxSPIClock is the fastest write clock the datasheet allows: tSCYCW, the serial
// write cycle, is at least 16 ns.
const maxSPIClock = 62500 * physic.KiloHertz

// defaultChunk is used when the connection states no transfer limit: Linux spidev
// accepts 4096 bytes per transfer unless its bufsiz module parameter was raised.
const defaultChunk = 4096

// Rotation turns the picture on the panel in 90° steps (via MADCTL, so it costs
// nothing at draw time).
type Rotation int

// Rotations, clockwise.
const (
	Rotate0 Rotation = iota
	Rotate90
	Rotate180
	Rotate270
)

// Opts describes the panel behind the controller.
type Opts struct {
	// W and H are the visible pixels after rotation: 240×240 or 240×320 (or 320×240
	// rotated). The controller's RAM is 240×320.
	W, H int
	// ColOffset and RowOffset are where the visible area starts in controller RAM,
	// in the rotated orientation. A 240×240 panel needs RowOffset 80 when rotated
	// 180° and ColOffset 80 when rotated 270°, because the glass covers only the
	// first 240 of 320 RAM rows.
	ColOffset, RowOffset int
	Rotation             Rotation
	// BGR is set for panels whose subpixels are wired blue-green-red.
	BGR bool
	// Invert sends INVON. Most ST7789 IPS panels are built inverted and need it,
	// or white shows as black.
	Invert bool
	// Mode is the SPI mode. Modules without a CS line only sample correctly in
	// Mode3.
	Mode spi.Mode
}

// DefaultOpts is a 240×240 IPS panel in its natural orientation.
var DefaultOpts = Opts{W: 240, H: 240, Invert: true, Mode: spi.Mode0}

// Dev is one ST7789 panel.
type Dev struct {
	c      spi.Conn
	dc     gpio.PinOut
	rst    gpio.PinOut
	opts   Opts
	rect   image.Rectangle
	chunk  int
	sleep  func(time.Duration)
	pixels []byte // reused between draws: a full 240×320 frame is 150 KiB
}

// New connects to the panel on port, resets it and runs the power-up sequence,
// leaving the display on with undefined RAM contents: draw before the backlight
// matters. rst may be nil when the reset line is tied high; the software reset
// then does the same job.
func New(port spi.Port, dc, rst gpio.PinOut, opts *Opts) (*Dev, error) {
	return newDev(port, dc, rst, opts, time.Sleep)
}

func newDev(port spi.Port, dc, rst gpio.PinOut, opts *Opts, sleep func(time.Duration)) (*Dev, error) {
	if dc == nil || dc == gpio.INVALID {
		return nil, errors.New("st7789: a D/C pin is required; 3-wire (9-bit) SPI is not supported")
	}
	if rst == gpio.INVALID {
		rst = nil
	}
	o := *opts
	if o.W <= 0 || o.H <= 0 || o.ColOffset < 0 || o.RowOffset < 0 {
		return nil, fmt.Errorf("st7789: invalid geometry %dx%d at offset %d,%d", o.W, o.H, o.ColOffset, o.RowOffset)
	}
	ramW, ramH := 240, 320
	if o.Rotation == Rotate90 || o.Rotation == Rotate270 {
		ramW, ramH = 320, 240
	}
	if o.ColOffset+o.W > ramW || o.RowOffset+o.H > ramH {
		return nil, fmt.Errorf("st7789: %dx%d at offset %d,%d does not fit the controller's %dx%d RAM", o.W, o.H, o.ColOffset, o.RowOffset, ramW, ramH)
	}
	c, err := port.Connect(maxSPIClock, o.Mode, 8)
	if err != nil {
		return nil, fmt.Errorf("st7789: connect to SPI port: %w", err)
	}
	d := &Dev{c: c, dc: dc, rst: rst, opts: o, rect: image.Rect(0, 0, o.W, o.H), chunk: chunkSize(c), sleep: sleep}
	if err := d.init(); err != nil {
		return nil, err
	}
	return d, nil
}

// chunkSize is the largest transfer the connection takes, rounded down to whole
// pixels so that no pixel is split across chip-select pulses.
func chunkSize(c spi.Conn) int {
	n := defaultChunk
	if l, ok := c.(conn.Limits); ok && l.MaxTxSize() > 0 {
		n = l.MaxTxSize()
	}
	if n > 1 {
		n &^= 1
	}
	return n
}

func (d *Dev) madctl() byte {
	var m byte
	switch d.opts.Rotation {
	case Rotate90:
		m = madctlMX | madctlMV
	case Rotate180:
		m = madctlMX | madctlMY
	case Rotate270:
		m = madctlMY | madctlMV
	}
	if d.opts.BGR {
		m |= madctlBGR
	}
	return m
}

func (d *Dev) init() error {
	if d.rst != nil {
		for _, step := range []struct {
			l    gpio.Level
			wait time.Duration
		}{{gpio.High, 0}, {gpio.Low, resetPulse}, {gpio.High, resetSettle}} {
			if err := d.rst.Out(step.l); err != nil {
				return fmt.Errorf("st7789: drive reset pin %s: %w", d.rst, err)
			}
			if step.wait > 0 {
				d.sleep(step.wait)
			}
		}
	}
	type step struct {
		cmd    byte
		params []byte
		wait   time.Duration
	}
	steps := []step{
		{cmdSWRESET, nil, afterSWRESET},
		{cmdSLPOUT, nil, afterSLPOUT},
		{cmdCOLMOD, []byte{colmod16bit}, 0},
		{cmdMADCTL, []byte{d.madctl()}, 0},
	}
	if d.opts.Invert {
		steps = append(steps, step{cmdINVON, nil, 0})
	}
	for _, s := range steps {
		if err := d.command(s.cmd, s.params...); err != nil {
			return fmt.Errorf("st7789: power-up: %w", err)
		}
		if s.wait > 0 {
			d.sleep(s.wait)
		}
	}
	if err := d.setWindow(d.rect); err != nil {
		return fmt.Errorf("st7789: power-up: %w", err)
	}
	for _, cmd := range []byte{cmdNORON, cmdDISPON} {
		if err := d.command(cmd); err != nil {
			return fmt.Errorf("st7789: power-up: %w", err)
		}
	}
	return nil
}

// command sends one command byte with D/C low, then its parameters with D/C high.
func (d *Dev) command(cmd byte, params ...byte) error {
	if err := d.dc.Out(gpio.Low); err != nil {
		return fmt.Errorf("drive D/C pin low for command %#02x: %w", cmd, err)
	}
	if err := d.c.Tx([]byte{cmd}, nil); err != nil {
		return fmt.Errorf("send command %#02x: %w", cmd, err)
	}
	if len(params) == 0 {
		return nil
	}
	if err := d.data(params); err != nil {
		return fmt.Errorf("parameters of command %#02x: %w", cmd, err)
	}
	return nil
}

// data sends b with D/C high in transfers the bus accepts.
func (d *Dev) data(b []byte) error {
	if err := d.dc.Out(gpio.High); err != nil {
		return fmt.Errorf("drive D/C pin high: %w", err)
	}
	for len(b) > 0 {
		n := min(len(b), d.chunk)
		if err := d.c.Tx(b[:n], nil); err != nil {
			return fmt.Errorf("write %d data bytes: %w", n, err)
		}
		b = b[n:]
	}
	return nil
}

// setWindow points the controller's RAM address counter at r (display
// coordinates), so the next RAMWR fills r row by row.
func (d *Dev) setWindow(r image.Rectangle) error {
	x0, x1 := r.Min.X+d.opts.ColOffset, r.Max.X-1+d.opts.ColOffset
	y0, y1 := r.Min.Y+d.opts.RowOffset, r.Max.Y-1+d.opts.RowOffset
	if err := d.command(cmdCASET, byte(x0>>8), byte(x0), byte(x1>>8), byte(x1)); err != nil {
		return err
	}
	return d.command(cmdRASET, byte(y0>>8), byte(y0), byte(y1>>8), byte(y1))
}

// String implements conn.Resource.
func (d *Dev) String() string {
	return fmt.Sprintf("st7789{%s, %dx%d}", d.c, d.opts.W, d.opts.H)
}

// ColorModel implements display.Drawer.
func (d *Dev) ColorModel() color.Model { return RGB565Model }

// Bounds implements display.Drawer.
func (d *Dev) Bounds() image.Rectangle { return d.rect }

// Draw implements display.Drawer: it writes the part of src that lands in dstRect
// and on the panel, in one window write, so a countdown line costs a few
// kilobytes instead of a frame.
func (d *Dev) Draw(dstRect image.Rectangle, src image.Image, sp image.Point) error {
	r := dstRect.Intersect(d.rect)
	// Also clip to what src covers: the controller writes a full rectangle, so
	// pixels src does not have cannot be left unchanged.
	r = r.Intersect(src.Bounds().Add(dstRect.Min.Sub(sp)))
	if r.Empty() {
		return nil
	}
	sp = sp.Add(r.Min.Sub(dstRect.Min))
	d.pixels = appendRGB565(d.pixels[:0], src, image.Rectangle{Min: sp, Max: sp.Add(r.Size())})
	if err := d.setWindow(r); err != nil {
		return fmt.Errorf("st7789: draw %v: %w", r, err)
	}
	if err := d.command(cmdRAMWR); err != nil {
		return fmt.Errorf("st7789: draw %v: %w", r, err)
	}
	if err := d.data(d.pixels); err != nil {
		return fmt.Errorf("st7789: draw %v: %w", r, err)
	}
	return nil
}

// Halt implements conn.Resource: display off, then sleep-in, which stops the
// charge pumps and the oscillator. The next New wakes it.
func (d *Dev) Halt() error {
	if err := d.command(cmdDISPOFF); err != nil {
		return fmt.Errorf("st7789: halt: %w", err)
	}
	if err := d.command(cmdSLPIN); err != nil {
		return fmt.Errorf("st7789: halt: %w", err)
	}
	d.sleep(afterSLPIN)
	return nil
}

// appendRGB565 appends the pixels of r in src, row by row, big-endian RGB565 as
// COLMOD 0x55 expects them.
func appendRGB565(b []byte, src image.Image, r image.Rectangle) []byte {
	if rgba, ok := src.(*image.RGBA); ok {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := rgba.Pix[rgba.PixOffset(r.Min.X, y):rgba.PixOffset(r.Max.X, y)]
			for i := 0; i < len(row); i += 4 {
				v := rgb565(row[i], row[i+1], row[i+2])
				b = append(b, byte(v>>8), byte(v))
			}
		}
		return b
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			v := RGB565Model.Convert(src.At(x, y)).(RGB565)
			b = append(b, byte(v>>8), byte(v))
		}
	}
	return b
}

func rgb565(r, g, b uint8) RGB565 {
	return RGB565(uint16(r>>3)<<11 | uint16(g>>2)<<5 | uint16(b>>3))
}

// RGB565 is a colour as the controller stores it: 5 bits red, 6 green, 5 blue.
type RGB565 uint16

// RGBA implements color.Color, widening each channel by repeating its top bits so
// that full scale stays full scale.
func (c RGB565) RGBA() (r, g, b, a uint32) {
	r5, g6, b5 := uint32(c>>11)&0x1F, uint32(c>>5)&0x3F, uint32(c)&0x1F
	r8, g8, b8 := r5<<3|r5>>2, g6<<2|g6>>4, b5<<3|b5>>2
	return r8 * 0x101, g8 * 0x101, b8 * 0x101, 0xFFFF
}

// RGB565Model converts any colour to RGB565, composited over black.
var RGB565Model = color.ModelFunc(func(c color.Color) color.Color {
	if v, ok := c.(RGB565); ok {
		return v
	}
	r, g, b, _ := c.RGBA()
	return rgb565(uint8(r>>8), uint8(g>>8), uint8(b>>8))
})

var _ display.Drawer = (*Dev)(nil)
