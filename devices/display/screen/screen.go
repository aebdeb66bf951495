// Package screen composes what the customer display shows, as plain images: the
// payment screen (a VietQR code at a whole number of pixels per module inside its
// quiet zone, the amount in VND and the time left, in Vietnamese) and short
// messages (idle, expired, status). Rendering is a pure function of its inputs, so
// the same screen can be tested, previewed, or sent to any panel. Text is drawn
// with an OpenType font that covers Vietnamese (DejaVu Sans by default; Go's own
// gofont lacks Ơ, Ư and ệ).
package screen

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"os"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// DefaultFontFile is DejaVu Sans as Debian's fonts-dejavu-core installs it.
const DefaultFontFile = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

// QuietZoneModules is the light margin around the code, in modules: ISO/IEC 18004
// asks for 4, and phone scanners pointed at a lit screen with a dark bezel fail
// without it.
const QuietZoneModules = 4

// MinModulePx is the smallest module the payment screen accepts: at one pixel per
// module a 1.3" panel's dots are too fine for phone cameras at arm's length.
const MinModulePx = 2

// ErrQRDoesNotFit is returned when a payload needs more modules than the panel
// has room for at MinModulePx.
var ErrQRDoesNotFit = errors.New("QR code does not fit the display at 2 pixels per module")

// vietnameseProbe holds the letters that fonts without Vietnamese coverage lack,
// and the đồng sign.
const vietnameseProbe = "ĂÂĐÊÔƠƯăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ₫"

// Style is the pair of colours a screen is drawn in.
type Style struct {
	Ink, Paper color.Color
}

// Light is dark text on white, what a QR code needs (scanners expect dark modules
// on a light ground).
var Light = Style{Ink: color.Black, Paper: color.White}

// Dark is lit text on black, for OLEDs: a white ground lights every pixel and
// wears the panel.
var Dark = Style{Ink: color.White, Paper: color.Black}

// Renderer draws screens with one font. It holds no mutable state and is safe for
// concurrent use.
type Renderer struct {
	font *opentype.Font
}

// NewRenderer loads the font at fontFile ("" for DefaultFontFile) and checks that
// it has every Vietnamese letter, so a wrong font fails at start rather than
// drawing boxes in front of a citizen.
func NewRenderer(fontFile string) (*Renderer, error) {
	if fontFile == "" {
		fontFile = DefaultFontFile
	}
	b, err := os.ReadFile(fontFile)
	if err != nil {
		return nil, fmt.Errorf("load display font (Debian package fonts-dejavu-core): %w", err)
	}
	f, err := opentype.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("parse display font %s: %w", fontFile, err)
	}
	r := &Renderer{font: f}
	if missing := r.Missing(vietnameseProbe); missing != "" {
		return nil, fmt.Errorf("display font %s lacks Vietnamese letters %q", fontFile, missing)
	}
	return r, nil
}

// Missing returns the runes of s the font has no glyph for.
func (r *Renderer) Missing(s string) string {
	var buf sfnt.Buffer
	var missing strings.Builder
	for _, c := range s {
		if c == ' ' {
			continue
		}
		if i, err := r.font.GlyphIndex(&buf, c); err != nil || i == 0 {
			missing.WriteRune(c)
		}
	}
	return missing.String()
}

// PaymentLayout says where the payment screen put things, for partial redraws and
// for tests that check the code is scannable.
type PaymentLayout struct {
	QR        image.Rectangle // the code's modules
	QuietZone image.Rectangle // QR grown by the quiet zone; all Paper outside QR
	ModulePx  int             // pixels per module side
	Modules   int             // modules per side, quiet zone excluded
	Amount    image.Rectangle // band above the code
	Countdown image.Rectangle // band below the code
}

// PaymentQR draws the payment screen: the amount on top, the code as large as
// fits at a whole number of pixels per module (fractional modules blur on a
// panel), the time left below.
func (r *Renderer) PaymentQR(size image.Point, payload string, amountVND int64, remaining time.Duration) (*image.RGBA, PaymentLayout, error) {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return nil, PaymentLayout{}, fmt.Errorf("encode payment QR: %w", err)
	}
	q.DisableBorder = true // the quiet zone is drawn here, at the chosen module size
	modules := q.Bitmap()
	n := len(modules)
	span := n + 2*QuietZoneModules

	amountText, countdownText := FormatVND(amountVND), FormatCountdown(remaining)
	// The code comes first: it takes the largest whole module size that leaves
	// room for two lines of text at minTextPx; the text then gets what is left.
	pad := max(2, size.Y/60)
	minTextPx := float64(size.Y) / 16
	minBand := r.bandHeight(minTextPx, pad)
	side := min(size.X, size.Y-2*minBand)
	px := side / span
	if px < MinModulePx {
		return nil, PaymentLayout{}, fmt.Errorf("%w: %d modules with quiet zone in %d px", ErrQRDoesNotFit, span, side)
	}
	qz := px * span
	free := size.Y - qz
	amountH := free * 11 / 20 // the amount matters more than the seconds
	x0, y0 := (size.X-qz)/2, amountH
	l := PaymentLayout{
		QuietZone: image.Rect(x0, y0, x0+qz, y0+qz),
		ModulePx:  px,
		Modules:   n,
	}
	l.QR = l.QuietZone.Inset(px * QuietZoneModules)
	l.Amount = image.Rect(0, 0, size.X, y0)
	l.Countdown = image.Rect(0, l.QuietZone.Max.Y, size.X, size.Y)

	img := image.NewRGBA(image.Rectangle{Max: size})
	draw.Draw(img, img.Bounds(), image.NewUniform(Light.Paper), image.Point{}, draw.Src)
	ink := image.NewUniform(Light.Ink)
	for y, row := range modules {
		for x, dark := range row {
			if dark {
				m := image.Rect(0, 0, px, px).Add(l.QR.Min.Add(image.Pt(x*px, y*px)))
				draw.Draw(img, m, ink, image.Point{}, draw.Src)
			}
		}
	}
	amountFace := r.fittingFace(amountText, float64(size.Y)/8, size.X-2*pad, l.Amount.Dy()-pad)
	defer amountFace.Close()
	countdownFace := r.fittingFace(countdownText, float64(size.Y)/10, size.X-2*pad, l.Countdown.Dy()-pad)
	defer countdownFace.Close()
	drawCentred(img, amountFace, amountText, l.Amount, ink)
	drawCentred(img, countdownFace, countdownText, l.Countdown, ink)
	return img, l, nil
}

// Message draws lines centred on the screen, each wrapped at word boundaries, in
// the largest font size at which all of them fit. The first line is the title and
// is drawn one and a half times as large as the rest.
func (r *Renderer) Message(size image.Point, style Style, lines ...string) *image.RGBA {
	img := image.NewRGBA(image.Rectangle{Max: size})
	draw.Draw(img, img.Bounds(), image.NewUniform(style.Paper), image.Point{}, draw.Src)
	if len(lines) == 0 {
		return img
	}
	pad := max(1, size.Y/40)
	width := size.X - 2*pad
	// Largest body size first; 6 px is the smallest DejaVu still legible on an OLED.
	for body := float64(size.Y) / 5; body >= 6; body-- {
		faces, wrapped, height := r.layoutMessage(lines, body, width)
		if height <= size.Y-2*pad || body-1 < 6 {
			y := (size.Y - height) / 2
			ink := image.NewUniform(style.Ink)
			for i, f := range faces {
				lh := lineHeight(f)
				for _, w := range wrapped[i] {
					drawCentred(img, f, w, image.Rect(0, y, size.X, y+lh), ink)
					y += lh
				}
				f.Close()
			}
			return img
		}
		for _, f := range faces {
			f.Close()
		}
	}
	return img
}

// layoutMessage wraps lines at body size (the title at 1.5×) and returns the faces,
// the wrapped lines and the total height.
func (r *Renderer) layoutMessage(lines []string, body float64, width int) ([]font.Face, [][]string, int) {
	faces := make([]font.Face, len(lines))
	wrapped := make([][]string, len(lines))
	height := 0
	for i, line := range lines {
		size := body
		if i == 0 && len(lines) > 1 {
			size = body * 1.5
		}
		faces[i] = r.face(size)
		wrapped[i] = wrap(faces[i], line, width)
		height += len(wrapped[i]) * lineHeight(faces[i])
	}
	return faces, wrapped, height
}

// wrap breaks s into lines no wider than width, at spaces; a single word wider
// than width gets a line of its own.
func wrap(f font.Face, s string, width int) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		next := word
		if cur != "" {
			next = cur + " " + word
		}
		if cur != "" && font.MeasureString(f, next).Ceil() > width {
			lines = append(lines, cur)
			next = word
		}
		cur = next
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

func (r *Renderer) face(px float64) font.Face {
	f, err := opentype.NewFace(r.font, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		// NewFace fails only for a nil font or a size that is not positive; both
		// are excluded above.
		panic(fmt.Sprintf("screen: opentype.NewFace(%v px): %v", px, err))
	}
	return f
}

// fittingFace returns the face at px, shrunk until s fits in width × height.
func (r *Renderer) fittingFace(s string, px float64, width, height int) font.Face {
	for {
		f := r.face(px)
		if px <= 6 || (font.MeasureString(f, s).Ceil() <= width && lineHeight(f) <= height) {
			return f
		}
		f.Close()
		px--
	}
}

// bandHeight is the height of one line of text at px with pad below it.
func (r *Renderer) bandHeight(px float64, pad int) int {
	f := r.face(px)
	defer f.Close()
	return lineHeight(f) + pad
}

func lineHeight(f font.Face) int {
	m := f.Metrics()
	return (m.Ascent + m.Descent).Ceil()
}

// drawCentred draws s centred in band, the baseline placed so that the font's
// ascent and descent are centred vertically.
func drawCentred(dst draw.Image, f font.Face, s string, band image.Rectangle, ink image.Image) {
	m := f.Metrics()
	w := font.MeasureString(f, s)
	x := fixed.I(band.Min.X) + (fixed.I(band.Dx())-w)/2
	y := fixed.I(band.Min.Y) + (fixed.I(band.Dy())-m.Ascent-m.Descent)/2 + m.Ascent
	d := font.Drawer{Dst: dst, Src: ink, Face: f, Dot: fixed.Point26_6{X: x, Y: fixed.I(y.Round())}}
	d.DrawString(s)
}

// FormatVND writes an amount the way Vietnamese prices are written: dots between
// thousands and the đồng sign after a space, e.g. "10.000 ₫".
func FormatVND(amount int64) string {
	digits := strconv.FormatInt(amount, 10)
	sign := ""
	if amount < 0 {
		sign, digits = "-", digits[1:]
	}
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	b.WriteString(" ₫")
	return b.String()
}

// FormatCountdown writes the time left as "Còn mm:ss", rounding up so that
// "Còn 00:00" appears only when the code has expired.
func FormatCountdown(remaining time.Duration) string {
	secs := int64((max(remaining, 0) + time.Second - 1) / time.Second)
	return fmt.Sprintf("Còn %02d:%02d", secs/60, secs%60)
}
