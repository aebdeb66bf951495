// Package oled shows one or two lines of status text (the amount, the time left,
// a greeting) on a 128×64 SSD1306 OLED on I²C, through periph's ssd1306 driver.
// It never shows the payment QR: a VietQR code needs about 41–49 modules plus an
// 8-module quiet zone, which at 64 pixels is one pixel per module, too fine for a
// phone camera to read; with this panel the QR stays on the touchscreen.
package oled

import (
	"errors"
	"fmt"
	"image"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/devices/v3/ssd1306"

	"github.com/vnkiosk/kiosk/devices/display/screen"
)

// MaxLines is how many lines fit legibly: two at 64 pixels high.
const MaxLines = 2

// Panel is an SSD1306 OLED at I²C address 0x3C showing status text.
type Panel struct {
	dev    *ssd1306.Dev
	render *screen.Renderer
}

// NewI2C initialises the SSD1306 at 0x3C on bus (display on, blank RAM not
// guaranteed: call ShowLines or Clear next). An absent panel fails here, because
// it does not acknowledge its address.
func NewI2C(bus i2c.Bus, r *screen.Renderer) (*Panel, error) {
	dev, err := ssd1306.NewI2C(bus, &ssd1306.DefaultOpts)
	if err != nil {
		return nil, fmt.Errorf("ssd1306 at 0x3C on %s: %w", bus, err)
	}
	return &Panel{dev: dev, render: r}, nil
}

// Size is the panel's size in pixels.
func (p *Panel) Size() image.Point { return p.dev.Bounds().Size() }

// ShowLines draws up to MaxLines lines, lit on black, the first one larger. The
// ssd1306 driver sends only the 8-pixel pages that changed, so redrawing a
// countdown each second costs one or two pages.
func (p *Panel) ShowLines(lines ...string) error {
	if len(lines) > MaxLines {
		return errors.New("oled: more than two lines do not fit a 128×64 panel legibly")
	}
	return p.draw(p.render.Message(p.Size(), screen.Dark, lines...))
}

// Clear blanks the panel.
func (p *Panel) Clear() error { return p.ShowLines() }

// Halt turns the panel off; the next draw turns it back on.
func (p *Panel) Halt() error {
	if err := p.dev.Halt(); err != nil {
		return fmt.Errorf("oled: turn off: %w", err)
	}
	return nil
}

func (p *Panel) draw(img image.Image) error {
	if err := p.dev.Draw(p.dev.Bounds(), img, image.Point{}); err != nil {
		return fmt.Errorf("oled: draw: %w", err)
	}
	return nil
}
