package st7789

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/vnkiosk/kiosk/devices/display/screen"
)

// bench is a panel on recording fakes. spitest.Record keeps the exact bytes of
// every transfer; what it cannot see is the D/C level during each transfer and
// the order of transfers, reset-pin changes and waits, so the wrappers below
// write all three into one transcript.
type bench struct {
	rec   *spitest.Record
	dc    *gpiotest.Pin
	rst   *gpiotest.Pin
	mu    sync.Mutex
	trace []string
}

func (b *bench) note(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trace = append(b.trace, s)
}

// takeTrace returns the transcript so far and starts a new one.
func (b *bench) takeTrace() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.trace
	b.trace = nil
	return t
}

// port hands out a connection that notes each transfer with its D/C level and,
// when maxTx > 0, states that transfer limit through conn.Limits.
type port struct {
	*spitest.Record
	b     *bench
	maxTx int
}

func (p *port) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	if f != 62500*physic.KiloHertz || bits != 8 {
		return nil, fmt.Errorf("connect at %s with %d bits; want 62.5MHz and 8 bits", f, bits)
	}
	c, err := p.Record.Connect(f, mode, bits)
	if err != nil {
		return nil, err
	}
	tc := &tracingConn{Conn: c, b: p.b}
	if p.maxTx > 0 {
		return &limitedConn{tracingConn: tc, max: p.maxTx}, nil
	}
	return tc, nil
}

type tracingConn struct {
	spi.Conn
	b *bench
}

func (c *tracingConn) Tx(w, r []byte) error {
	kind := "C" // D/C low: command
	if c.b.dc.Read() == gpio.High {
		kind = "D"
	}
	c.b.note(fmt.Sprintf("%s % X", kind, w))
	return c.Conn.Tx(w, r)
}

type limitedConn struct {
	*tracingConn
	max int
}

func (c *limitedConn) MaxTxSize() int { return c.max }

// tracingPin notes every level written to the reset pin.
type tracingPin struct {
	*gpiotest.Pin
	b *bench
}

func (p *tracingPin) Out(l gpio.Level) error {
	p.b.note("RST " + l.String())
	return p.Pin.Out(l)
}

func newBench(t *testing.T, opts Opts, withReset bool, maxTx int) (*Dev, *bench) {
	t.Helper()
	b := &bench{rec: &spitest.Record{}, dc: &gpiotest.Pin{N: "DC"}, rst: &gpiotest.Pin{N: "RST"}}
	var rst gpio.PinOut
	if withReset {
		rst = &tracingPin{Pin: b.rst, b: b}
	}
	d, err := newDev(&port{Record: b.rec, b: b, maxTx: maxTx}, b.dc, rst, &opts, func(d time.Duration) {
		b.note("wait " + d.String())
	})
	if err != nil {
		t.Fatal(err)
	}
	return d, b
}

// opsBytes flattens the recorded transfers into the transcript's notation without
// the D/C level, to compare spitest's record with the transcript.
func opsBytes(rec *spitest.Record) []string {
	var out []string
	for _, op := range rec.Ops {
		out = append(out, fmt.Sprintf("% X", op.W))
	}
	return out
}

func spiOnly(trace []string) []string {
	var out []string
	for _, s := range trace {
		if strings.HasPrefix(s, "C ") || strings.HasPrefix(s, "D ") {
			out = append(out, s[2:])
		}
	}
	return out
}

func TestPowerUpSequence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		opts      Opts
		withReset bool
		want      []string
	}{
		{
			name: "240x240 with reset pin", opts: DefaultOpts, withReset: true,
			want: []string{
				// Hardware reset: a low pulse of at least tRW, then tRT to settle.
				"RST High", "RST Low", "wait 10µs", "RST High", "wait 120ms",
				"C 01", "wait 120ms", // SWRESET
				"C 11", "wait 120ms", // SLPOUT
				"C 3A", "D 55", // COLMOD: 16 bits per pixel
				"C 36", "D 00", // MADCTL: natural orientation, RGB
				"C 21",                  // INVON
				"C 2A", "D 00 00 00 EF", // CASET 0..239
				"C 2B", "D 00 00 00 EF", // RASET 0..239
				"C 13", "C 29", // NORON, DISPON
			},
		},
		{
			name: "240x320 rotated 90, BGR, not inverted, no reset pin",
			opts: Opts{W: 320, H: 240, Rotation: Rotate90, BGR: true},
			want: []string{
				"C 01", "wait 120ms",
				"C 11", "wait 120ms",
				"C 3A", "D 55",
				"C 36", "D 68", // MX|MV|BGR
				"C 2A", "D 00 00 01 3F", // 0..319
				"C 2B", "D 00 00 00 EF", // 0..239
				"C 13", "C 29",
			},
		},
		{
			name: "240x240 rotated 180 sits at RAM row 80",
			opts: Opts{W: 240, H: 240, RowOffset: 80, Rotation: Rotate180, Invert: true},
			want: []string{
				"C 01", "wait 120ms",
				"C 11", "wait 120ms",
				"C 3A", "D 55",
				"C 36", "D C0", // MX|MY
				"C 21",
				"C 2A", "D 00 00 00 EF",
				"C 2B", "D 00 50 01 3F", // 80..319
				"C 13", "C 29",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, b := newBench(t, tc.opts, tc.withReset, 0)
			got := b.takeTrace()
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if g, w := opsBytes(b.rec), spiOnly(tc.want); strings.Join(g, "|") != strings.Join(w, "|") {
				t.Errorf("bytes on the bus:\n%q\nwant\n%q", g, w)
			}
		})
	}
}

func TestWindowedWrite(t *testing.T) {
	t.Parallel()
	red := image.NewUniform(color.RGBA{R: 0xFF, A: 0xFF})
	for _, tc := range []struct {
		name string
		opts Opts
		dst  image.Rectangle
		src  image.Image
		sp   image.Point
		want []string
	}{
		{
			name: "4x2 red at 10,20",
			opts: DefaultOpts, dst: image.Rect(10, 20, 14, 22), src: red,
			want: []string{
				"C 2A", "D 00 0A 00 0D", "C 2B", "D 00 14 00 15", "C 2C",
				"D F8 00 F8 00 F8 00 F8 00 F8 00 F8 00 F8 00 F8 00",
			},
		},
		{
			name: "offsets are added to the window",
			opts: Opts{W: 240, H: 240, RowOffset: 80, ColOffset: 0, Rotation: Rotate180},
			dst:  image.Rect(10, 20, 14, 22), src: red,
			want: []string{
				"C 2A", "D 00 0A 00 0D", "C 2B", "D 00 64 00 65", "C 2C",
				"D F8 00 F8 00 F8 00 F8 00 F8 00 F8 00 F8 00 F8 00",
			},
		},
		{
			name: "clipped at the bottom-right corner",
			opts: DefaultOpts, dst: image.Rect(238, 239, 250, 250), src: red,
			want: []string{"C 2A", "D 00 EE 00 EF", "C 2B", "D 00 EF 00 EF", "C 2C", "D F8 00 F8 00"},
		},
		{
			name: "clipped to the source, which starts at sp",
			opts: DefaultOpts, dst: image.Rect(0, 0, 8, 8), sp: image.Pt(1, 0),
			src: func() image.Image {
				// 3x1: white, green, blue; from sp (1,0) only green and blue remain.
				m := image.NewRGBA(image.Rect(0, 0, 3, 1))
				m.Set(0, 0, color.White)
				m.Set(1, 0, color.RGBA{G: 0xFF, A: 0xFF})
				m.Set(2, 0, color.RGBA{B: 0xFF, A: 0xFF})
				return m
			}(),
			want: []string{"C 2A", "D 00 00 00 01", "C 2B", "D 00 00 00 00", "C 2C", "D 07 E0 00 1F"},
		},
		{
			name: "outside the panel sends nothing",
			opts: DefaultOpts, dst: image.Rect(240, 0, 250, 10), src: red,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, b := newBench(t, tc.opts, false, 0)
			b.takeTrace()
			before := len(b.rec.Ops)
			if err := d.Draw(tc.dst, tc.src, tc.sp); err != nil {
				t.Fatal(err)
			}
			got := b.takeTrace()
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			rec := &spitest.Record{Ops: b.rec.Ops[before:]}
			if g, w := opsBytes(rec), spiOnly(tc.want); strings.Join(g, "|") != strings.Join(w, "|") {
				t.Errorf("bytes on the bus:\n%q\nwant\n%q", g, w)
			}
		})
	}
}

func TestFrameIsSplitAtTheBusLimit(t *testing.T) {
	t.Parallel()
	const frame = 240 * 240 * 2
	for _, tc := range []struct {
		name  string
		maxTx int // 0: the connection states no limit
		chunk int
	}{
		{"no stated limit: spidev's default", 0, 4096},
		{"stated 4096", 4096, 4096},
		{"stated 65536", 65536, 65536},
		{"odd limit rounds down to whole pixels", 4095, 4094},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, b := newBench(t, DefaultOpts, false, tc.maxTx)
			src := image.NewRGBA(d.Bounds())
			for i := range src.Pix {
				src.Pix[i] = byte(i * 7)
			}
			before := len(b.rec.Ops)
			if err := d.Draw(d.Bounds(), src, image.Point{}); err != nil {
				t.Fatal(err)
			}
			ops := b.rec.Ops[before+5:] // CASET, params, RASET, params, RAMWR
			if ramwr := b.rec.Ops[before+4].W; !bytes.Equal(ramwr, []byte{cmdRAMWR}) {
				t.Fatalf("transfer %d is % X, want RAMWR", before+4, ramwr)
			}
			var pixels []byte
			for i, op := range ops {
				wantLen := tc.chunk
				if i == len(ops)-1 {
					wantLen = frame - tc.chunk*(len(ops)-1)
				}
				if len(op.W) != wantLen {
					t.Fatalf("transfer %d has %d bytes, want %d", i, len(op.W), wantLen)
				}
				pixels = append(pixels, op.W...)
			}
			if want := (frame + tc.chunk - 1) / tc.chunk; len(ops) != want {
				t.Errorf("%d transfers, want %d", len(ops), want)
			}
			if !bytes.Equal(pixels, appendRGB565(nil, src, src.Bounds())) {
				t.Error("pixels sent in chunks differ from the frame")
			}
		})
	}
}

// decodeRGB565 turns RAMWR bytes back into an image, as the panel would show them.
func decodeRGB565(b []byte, size image.Point) *image.RGBA {
	img := image.NewRGBA(image.Rectangle{Max: size})
	for i := 0; i+1 < len(b); i += 2 {
		p := i / 2
		img.Set(p%size.X, p/size.X, RGB565(uint16(b[i])<<8|uint16(b[i+1])))
	}
	return img
}

func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("QR on the panel does not decode: %v", err)
	}
	return res.GetText()
}

// The payment screen, sent over the bus and read back as the panel would show
// it, still decodes to the payload.
func TestPaymentQRSurvivesTheBus(t *testing.T) {
	t.Parallel()
	r, err := screen.NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	const payload = "00020101021238560010A0000007270126000697041501121133666688880208QRIBFTTA53037045405100005802VN62390835Le phi HS 000.00.12.H29-240517-004263046422"
	for _, size := range []image.Point{{240, 240}, {240, 320}} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			d, b := newBench(t, Opts{W: size.X, H: size.Y, Invert: true}, false, 4096)
			frame, _, err := r.PaymentQR(size, payload, 10000, 5*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			before := len(b.rec.Ops)
			if err := d.Draw(d.Bounds(), frame, image.Point{}); err != nil {
				t.Fatal(err)
			}
			var pixels []byte
			for _, op := range b.rec.Ops[before+5:] {
				pixels = append(pixels, op.W...)
			}
			shown := decodeRGB565(pixels, size)
			if got := decodeQR(t, shown); got != payload {
				t.Errorf("decoded %q, want %q", got, payload)
			}
			// Black and white survive RGB565 exactly; the text's anti-aliasing
			// greys may not, but they are no part of the code.
			for y := 0; y < size.Y; y++ {
				for x := 0; x < size.X; x++ {
					c := frame.RGBAAt(x, y)
					if (c == color.RGBA{0, 0, 0, 255} || c == color.RGBA{255, 255, 255, 255}) && shown.RGBAAt(x, y) != c {
						t.Fatalf("pixel %d,%d is %v on the panel, %v in the frame", x, y, shown.RGBAAt(x, y), c)
					}
				}
			}
		})
	}
}

func TestHalt(t *testing.T) {
	t.Parallel()
	d, b := newBench(t, DefaultOpts, false, 0)
	b.takeTrace()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	want := []string{"C 28", "C 10", "wait 5ms"} // DISPOFF, SLPIN
	if got := b.takeTrace(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transcript %q, want %q", got, want)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dc   gpio.PinOut
		opts Opts
		want string
	}{
		{"no D/C pin", nil, DefaultOpts, "D/C pin is required"},
		{"INVALID D/C pin", gpio.INVALID, DefaultOpts, "D/C pin is required"},
		{"taller than RAM", &gpiotest.Pin{N: "DC"}, Opts{W: 240, H: 321}, "does not fit"},
		{"offset past RAM", &gpiotest.Pin{N: "DC"}, Opts{W: 240, H: 240, RowOffset: 81}, "does not fit"},
		{"rotated is 320 wide at most", &gpiotest.Pin{N: "DC"}, Opts{W: 321, H: 240, Rotation: Rotate270}, "does not fit"},
		{"empty", &gpiotest.Pin{N: "DC"}, Opts{}, "invalid geometry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &spitest.Record{}
			_, err := New(rec, tc.dc, nil, &tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
			if len(rec.Ops) != 0 {
				t.Errorf("%d transfers before the options were checked", len(rec.Ops))
			}
		})
	}
}

func TestRGB565(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   color.Color
		want RGB565
	}{
		{color.Black, 0x0000},
		{color.White, 0xFFFF},
		{color.RGBA{R: 0xFF, A: 0xFF}, 0xF800},
		{color.RGBA{G: 0xFF, A: 0xFF}, 0x07E0},
		{color.RGBA{B: 0xFF, A: 0xFF}, 0x001F},
		{color.RGBA{R: 0x80, G: 0x80, B: 0x80, A: 0xFF}, 0x8410},
	} {
		got := RGB565Model.Convert(tc.in).(RGB565)
		if got != tc.want {
			t.Errorf("%v → %#04x, want %#04x", tc.in, uint16(got), uint16(tc.want))
		}
		// Full scale stays full scale on the way back.
		if r, g, b, _ := tc.want.RGBA(); tc.want == 0xFFFF && (r != 0xFFFF || g != 0xFFFF || b != 0xFFFF) {
			t.Errorf("white widens to %x %x %x", r, g, b)
		}
	}
}
