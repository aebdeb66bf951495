// Package st7789test is a simulated ST7789 for tests of code that drives one: an
// SPI port that records the exact bytes of every transfer (it is a
// spitest.Record) and, watching the D/C pin, plays the CASET, RASET and RAMWR
// commands into a model of the controller's RAM, so a test can look at what the
// panel shows and at which windows were written.
package st7789test

import (
	"errors"
	"image"
	"image/color"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"
)

// The commands the model acts on; everything else is only recorded.
const (
	cmdCASET = 0x2A
	cmdRASET = 0x2B
	cmdRAMWR = 0x2C
)

// RAM is 240×320 in MADCTL's natural orientation; rotated panels address it as
// 320×240, so the model keeps 320×320 and lets addresses decide.
const ramSide = 320

// Panel is a simulated ST7789 behind an SPI port. Register it with spireg or pass
// it where an spi.Port is expected, and pass DC as the D/C pin.
type Panel struct {
	spitest.Record
	DC *gpiotest.Pin

	mu      sync.Mutex
	failure error
	ram     [ramSide * ramSide]uint16
	cmd     byte
	params  []byte
	x0, x1  int
	y0, y1  int
	x, y    int
	half    []byte // the first byte of a pixel split across transfers
	windows []image.Rectangle
}

// New returns a simulated panel with a D/C pin named dcName.
func New(dcName string) *Panel {
	return &Panel{DC: &gpiotest.Pin{N: dcName}}
}

// Fail makes every later transfer fail with err, as a bus with the panel's cable
// pulled would; Fail(nil) repairs it.
func (p *Panel) Fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failure = err
}

// Connect implements spi.Port.
func (p *Panel) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	if bits != 8 {
		return nil, errors.New("st7789test: the model understands 8-bit words only")
	}
	c, err := p.Record.Connect(f, mode, bits)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, p: p}, nil
}

type conn struct {
	spi.Conn
	p *Panel
}

func (c *conn) Tx(w, r []byte) error {
	c.p.mu.Lock()
	err := c.p.failure
	c.p.mu.Unlock()
	if err != nil {
		return err
	}
	if err := c.Conn.Tx(w, r); err != nil {
		return err
	}
	c.p.play(c.p.DC.Read(), w)
	return nil
}

func (p *Panel) play(dc gpio.Level, w []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if dc == gpio.Low {
		for _, b := range w {
			p.cmd, p.params, p.half = b, nil, nil
			if b == cmdRAMWR {
				p.x, p.y = p.x0, p.y0
				p.windows = append(p.windows, image.Rect(p.x0, p.y0, p.x1+1, p.y1+1))
			}
		}
		return
	}
	switch p.cmd {
	case cmdCASET, cmdRASET:
		p.params = append(p.params, w...)
		if len(p.params) >= 4 {
			lo, hi := int(p.params[0])<<8|int(p.params[1]), int(p.params[2])<<8|int(p.params[3])
			if p.cmd == cmdCASET {
				p.x0, p.x1 = lo, hi
			} else {
				p.y0, p.y1 = lo, hi
			}
		}
	case cmdRAMWR:
		data := append(p.half, w...)
		for len(data) >= 2 {
			if p.x < ramSide && p.y < ramSide {
				p.ram[p.y*ramSide+p.x] = uint16(data[0])<<8 | uint16(data[1])
			}
			data = data[2:]
			if p.x++; p.x > p.x1 {
				p.x = p.x0
				if p.y++; p.y > p.y1 {
					p.y = p.y0
				}
			}
		}
		p.half = append([]byte(nil), data...)
	}
}

// Image returns RAM region r (in RAM addresses, so offsets included) as the
// panel would show it.
func (p *Panel) Image(r image.Rectangle) *image.RGBA {
	p.mu.Lock()
	defer p.mu.Unlock()
	img := image.NewRGBA(image.Rectangle{Max: r.Size()})
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			v := p.ram[y*ramSide+x]
			r5, g6, b5 := uint8(v>>11), uint8(v>>5)&0x3F, uint8(v)&0x1F
			img.SetRGBA(x-r.Min.X, y-r.Min.Y, color.RGBA{r5<<3 | r5>>2, g6<<2 | g6>>4, b5<<3 | b5>>2, 0xFF})
		}
	}
	return img
}

// Windows returns the windows RAMWR has written since the last call.
func (p *Panel) Windows() []image.Rectangle {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.windows
	p.windows = nil
	return w
}

// Close implements spi.PortCloser; the simulated panel keeps its RAM.
func (p *Panel) Close() error { return nil }

var _ spi.PortCloser = (*Panel)(nil)
