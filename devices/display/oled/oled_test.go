package oled

import (
	"bytes"
	"image"
	"image/color"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/vnkiosk/kiosk/devices/display/screen"
)

const addr = 0x3C

// initBytes is what the SSD1306 receives at power-up (datasheet section 10 and
// its application note's sequence), after the 0x00 control byte that marks the
// rest of the transfer as commands.
var initBytes = []byte{
	0x00,       // control byte: commands follow
	0xAE,       // display off
	0xD3, 0x00, // display offset 0
	0x40,       // start line 0
	0xA1,       // segment remap: column 127 is SEG0
	0xC8,       // COM scan from COM63 down
	0xDA, 0x12, // COM pins: alternative configuration, no left/right remap
	0x81, 0xFF, // contrast
	0xA4,       // display follows RAM
	0xA6,       // normal, not inverted
	0xD5, 0xF0, // oscillator
	0x8D, 0x14, // charge pump on
	0xD9, 0xF1, // pre-charge
	0xDB, 0x40, // VCOMH deselect level
	0x2E,       // scrolling off
	0xA8, 0x3F, // multiplex: 64 rows
	0x20, 0x00, // horizontal addressing
	0x21, 0x00, 0x7F, // columns 0..127
	0x22, 0x00, 0x07, // pages 0..7
	0xAF, // display on
}

func newPanel(t *testing.T) (*Panel, *i2ctest.Record, *screen.Renderer) {
	t.Helper()
	r, err := screen.NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	bus := &i2ctest.Record{}
	p, err := NewI2C(bus, r)
	if err != nil {
		t.Fatal(err)
	}
	return p, bus, r
}

// pageWrite is one page update as it appears on the bus: a command transfer
// setting the page and start column, then a data transfer.
type pageWrite struct {
	page, col int
	data      []byte
}

// pageWrites parses ops into page updates, failing on anything else.
func pageWrites(t *testing.T, ops []i2ctest.IO) []pageWrite {
	t.Helper()
	if len(ops)%2 != 0 {
		t.Fatalf("%d transfers; page updates come in pairs", len(ops))
	}
	var out []pageWrite
	for i := 0; i < len(ops); i += 2 {
		cmd, data := ops[i], ops[i+1]
		if cmd.Addr != addr || data.Addr != addr {
			t.Fatalf("transfer to %#x/%#x, want %#x", cmd.Addr, data.Addr, addr)
		}
		if len(cmd.W) != 4 || cmd.W[0] != 0x00 || cmd.W[1]&0xF8 != 0xB0 || cmd.W[2]&0xF0 != 0x00 || cmd.W[3]&0xF0 != 0x10 {
			t.Fatalf("transfer %d is % X, want 00 B<page> 0<col lo> 1<col hi>", i, cmd.W)
		}
		if data.W[0] != 0x40 {
			t.Fatalf("transfer %d starts % X, want the data control byte 40", i+1, data.W[:1])
		}
		out = append(out, pageWrite{page: int(cmd.W[1] & 7), col: int(cmd.W[2]&0x0F | cmd.W[3]<<4), data: data.W[1:]})
	}
	return out
}

// panelRAM applies page writes to a model of the controller's RAM, a byte per
// column per page, bit n of a byte being row page*8+n.
type panelRAM [8][128]byte

func (m *panelRAM) apply(ws []pageWrite) {
	for _, w := range ws {
		copy(m[w.page][w.col:], w.data)
	}
}

// matches says whether the RAM shows img with any channel at or above half
// lighting the pixel.
func (m *panelRAM) matches(img image.Image) (bool, image.Point) {
	for y := 0; y < 64; y++ {
		for x := 0; x < 128; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			want := (r | g | b) >= 0x8000
			if got := m[y/8][x]&(1<<(y%8)) != 0; got != want {
				return false, image.Pt(x, y)
			}
		}
	}
	return true, image.Point{}
}

func TestInitSequence(t *testing.T) {
	t.Parallel()
	_, bus, _ := newPanel(t)
	if len(bus.Ops) != 1 || bus.Ops[0].Addr != addr || !bytes.Equal(bus.Ops[0].W, initBytes) {
		t.Fatalf("power-up transfers %+v, want one to %#x with % X", bus.Ops, addr, initBytes)
	}
}

func TestShowLinesSendsTheTextAndThenOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	p, bus, r := newPanel(t)
	var ram panelRAM

	if err := p.ShowLines("10.000 ₫", "Còn 04:59"); err != nil {
		t.Fatal(err)
	}
	first := pageWrites(t, bus.Ops[1:])
	if len(first) != 8 {
		t.Fatalf("first draw wrote %d pages, want all 8", len(first))
	}
	for i, w := range first {
		if w.page != i || w.col != 0 || len(w.data) != 128 {
			t.Fatalf("page write %d: page %d from column %d, %d bytes; want page %d, column 0, 128 bytes", i, w.page, w.col, len(w.data), i)
		}
	}
	ram.apply(first)
	if ok, at := ram.matches(r.Message(image.Pt(128, 64), screen.Dark, "10.000 ₫", "Còn 04:59")); !ok {
		t.Fatalf("panel RAM differs from the rendered text at %v", at)
	}

	// A countdown tick changes only the bottom line's pages.
	n := len(bus.Ops)
	if err := p.ShowLines("10.000 ₫", "Còn 04:58"); err != nil {
		t.Fatal(err)
	}
	tick := pageWrites(t, bus.Ops[n:])
	if len(tick) == 0 || len(tick) > 3 {
		t.Fatalf("countdown tick wrote %d pages, want 1 to 3", len(tick))
	}
	for _, w := range tick {
		if w.page < 4 {
			t.Errorf("countdown tick rewrote page %d, in the amount's half", w.page)
		}
		if len(w.data) == 128 {
			t.Errorf("countdown tick rewrote all of page %d; only the changed columns should go", w.page)
		}
	}
	ram.apply(tick)
	if ok, at := ram.matches(r.Message(image.Pt(128, 64), screen.Dark, "10.000 ₫", "Còn 04:58")); !ok {
		t.Fatalf("after the tick panel RAM differs from the rendered text at %v", at)
	}

	n = len(bus.Ops)
	if err := p.Clear(); err != nil {
		t.Fatal(err)
	}
	ram.apply(pageWrites(t, bus.Ops[n:]))
	if ok, at := ram.matches(image.NewUniform(color.Black)); !ok {
		t.Fatalf("pixel %v still lit after Clear", at)
	}
}

func TestHaltAndWake(t *testing.T) {
	t.Parallel()
	p, bus, _ := newPanel(t)
	if err := p.ShowLines("Xin kính chào"); err != nil {
		t.Fatal(err)
	}
	n := len(bus.Ops)
	if err := p.Halt(); err != nil {
		t.Fatal(err)
	}
	if got := bus.Ops[n:]; len(got) != 1 || !bytes.Equal(got[0].W, []byte{0x00, 0xAE}) {
		t.Fatalf("halt sent %+v, want display off (00 AE)", got)
	}
	// The next draw turns the display back on before its first page.
	n = len(bus.Ops)
	if err := p.ShowLines("Còn 04:59"); err != nil {
		t.Fatal(err)
	}
	if got := bus.Ops[n].W; !bytes.HasPrefix(got, []byte{0x00, 0xAF}) {
		t.Fatalf("first transfer after halt is % X, want it to start 00 AF (display on)", got)
	}
}

func TestShowLinesRefusesMoreThanTwo(t *testing.T) {
	t.Parallel()
	p, bus, _ := newPanel(t)
	n := len(bus.Ops)
	if err := p.ShowLines("a", "b", "c"); err == nil {
		t.Fatal("three lines accepted")
	}
	if len(bus.Ops) != n {
		t.Errorf("%d transfers for a refused draw", len(bus.Ops)-n)
	}
}
