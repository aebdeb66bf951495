package raster

import (
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/norm"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
)

// DejaVuDir is where Debian's fonts-dejavu-core installs DejaVu Sans, a font
// whose precomposed glyphs cover every Vietnamese letter (Go's own gofont lacks
// Ơ, Ư and the stacked-diacritic vowels).
const DejaVuDir = "/usr/share/fonts/truetype/dejavu"

// The two faces the kiosk prints with.
var (
	DejaVuRegular = filepath.Join(DejaVuDir, "DejaVuSans.ttf")
	DejaVuBold    = filepath.Join(DejaVuDir, "DejaVuSans-Bold.ttf")
)

// ErrNoFont is returned when a font file is missing or unreadable.
var ErrNoFont = errors.New("cannot load the receipt font (install the Debian package fonts-dejavu-core)")

// Fonts holds the parsed regular and bold fonts and the faces made from them.
// It is safe for concurrent use: a face rasterises into shared buffers, so
// rendering takes a lock (a ticket renders in milliseconds).
type Fonts struct {
	regular, bold *opentype.Font

	mu    sync.Mutex
	faces map[faceKey]*face
	buf   sfnt.Buffer
}

type faceKey struct {
	bold bool
	px   int
}

// face is a font.Face at one pixel size with the line box of Vietnamese text:
// the ascent covers capitals with two stacked marks (Ẫ, Ặ), the descent the
// dot below (ỵ) and descenders.
type face struct {
	font.Face
	top, bottom, leading int
}

var dejavu = sync.OnceValues(func() (*Fonts, error) { return LoadFonts(DejaVuRegular, DejaVuBold) })

// DejaVu returns DejaVu Sans and DejaVu Sans Bold from DejaVuDir, loaded once.
func DejaVu() (*Fonts, error) { return dejavu() }

// LoadFonts reads and parses a regular and a bold TrueType font.
func LoadFonts(regularPath, boldPath string) (*Fonts, error) {
	r, err := os.ReadFile(regularPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoFont, err)
	}
	b, err := os.ReadFile(boldPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoFont, err)
	}
	return ParseFonts(r, b)
}

// ParseFonts parses a regular and a bold TrueType or OpenType font.
func ParseFonts(regular, bold []byte) (*Fonts, error) {
	r, err := opentype.Parse(regular)
	if err != nil {
		return nil, fmt.Errorf("%w: regular: %w", ErrNoFont, err)
	}
	b, err := opentype.Parse(bold)
	if err != nil {
		return nil, fmt.Errorf("%w: bold: %w", ErrNoFont, err)
	}
	return &Fonts{regular: r, bold: b, faces: map[faceKey]*face{}}, nil
}

// Covers reports whether the regular and bold fonts both have a glyph for r.
func (f *Fonts) Covers(r rune) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.coversLocked(r)
}

func (f *Fonts) coversLocked(r rune) bool {
	for _, fnt := range []*opentype.Font{f.regular, f.bold} {
		if i, err := fnt.GlyphIndex(&f.buf, r); err != nil || i == 0 {
			return false
		}
	}
	return true
}

// Pixel sizes outside this range are refused: smaller is unreadable on paper,
// larger does not fit a line of an 80 mm head.
const (
	MinPx = 8
	MaxPx = 400
)

// Style is how a block of text is set.
type Style struct {
	Px    int // em size in dots (at 8 dots/mm, 24 dots is a 3 mm em)
	Bold  bool
	Align escpos.Align
	// Fit shrinks the text until its widest word fits a line instead of
	// breaking the word: a queue number must never be split.
	Fit bool
}

// threshold is the coverage above which an anti-aliased pixel becomes a dot.
// Slightly below half keeps the thin strokes of diacritics on paper.
const threshold = 0x70

// Text sets text in a bitmap of the given width with margin dots left and
// right: NFC-normalised (so a decomposed "ệ" prints with the font's
// precomposed glyph), control characters replaced by spaces, lines broken at
// "\n" and between words, words longer than a line broken between letters,
// characters the font lacks replaced by "?". Empty text gives an empty bitmap.
func (f *Fonts) Text(text string, st Style, width, margin int) (*Bitmap, error) {
	if width <= 0 || width%8 != 0 {
		return nil, fmt.Errorf("raster: width %d is not a positive multiple of 8", width)
	}
	if margin < 0 || 2*margin >= width {
		return nil, fmt.Errorf("raster: margin %d leaves no room in %d dots", margin, width)
	}
	if st.Px < MinPx || st.Px > MaxPx {
		return nil, fmt.Errorf("raster: text size %d outside %d..%d dots", st.Px, MinPx, MaxPx)
	}
	if st.Align > escpos.Right {
		return nil, fmt.Errorf("raster: alignment %d out of range", st.Align)
	}
	avail := width - 2*margin

	f.mu.Lock()
	defer f.mu.Unlock()
	text = f.clean(text)
	fc, err := f.face(st.Bold, st.Px)
	if err != nil {
		return nil, err
	}
	if st.Fit {
		// Each step recomputes from the measured width; hinting rounds advances,
		// so a few steps may be needed.
		for px := st.Px; px > MinPx; {
			w := widestWord(fc, text)
			if w <= avail {
				break
			}
			px = max(MinPx, min(px-1, px*avail/w))
			if fc, err = f.face(st.Bold, px); err != nil {
				return nil, err
			}
		}
	}
	lines := wrap(fc, text, avail)
	lh := fc.top + fc.bottom + fc.leading
	bm := NewBitmap(width, len(lines)*lh)
	for i, line := range lines {
		x := margin
		switch st.Align {
		case escpos.Center:
			x = margin + (avail-measure(fc, line))/2
		case escpos.Right:
			x = margin + avail - measure(fc, line)
		}
		drawLine(bm, fc, line, x, i*lh+fc.leading/2+fc.top)
	}
	return bm, nil
}

// clean normalises to NFC and replaces what cannot be printed.
func (f *Fonts) clean(s string) string {
	s = norm.NFC.String(strings.ToValidUTF8(s, "?"))
	var b strings.Builder
	b.Grow(len(s))
	prev := ' '
	for _, r := range s {
		switch {
		case r == '\n':
		case r == '\r':
			continue
		case unicode.IsControl(r) || unicode.IsSpace(r):
			r = ' '
		case unicode.Is(unicode.Mn, r):
			// A combining mark left after NFC is drawn over the letter before
			// it (zero advance, negative offset); without a letter before it
			// it would hang into the margin, and uncovered it is a box.
			if !f.coversLocked(r) || !(unicode.IsLetter(prev) || unicode.IsDigit(prev)) {
				continue
			}
		case !f.coversLocked(r):
			r = '?'
		}
		b.WriteRune(r)
		if !unicode.Is(unicode.Mn, r) {
			prev = r
		}
	}
	return b.String()
}

// Samples whose extents set the line box: the tallest Vietnamese capitals and
// the deepest descenders.
const (
	tallSample = "ẪẶẬỖỘỮỰẼỄỆỸĨỈÃ"
	deepSample = "gjpqyỵỴỤỰỌỢ"
)

func (f *Fonts) face(bold bool, px int) (*face, error) {
	k := faceKey{bold, px}
	if fc, ok := f.faces[k]; ok {
		return fc, nil
	}
	fnt := f.regular
	if bold {
		fnt = f.bold
	}
	ff, err := opentype.NewFace(fnt, &opentype.FaceOptions{Size: float64(px), DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("raster: make a %d-dot face: %w", px, err)
	}
	m := ff.Metrics()
	top, bottom := m.Ascent.Ceil(), m.Descent.Ceil()
	tb, _ := font.BoundString(ff, tallSample)
	db, _ := font.BoundString(ff, deepSample)
	top = max(top, (-tb.Min.Y).Ceil())
	bottom = max(bottom, db.Max.Y.Ceil())
	fc := &face{Face: ff, top: top, bottom: bottom, leading: max(2, px/8)}
	f.faces[k] = fc
	return fc, nil
}

func measure(fc *face, s string) int {
	var w fixed.Int26_6
	prev := rune(-1)
	for _, r := range s {
		if prev >= 0 {
			w += fc.Kern(prev, r)
		}
		a, _ := fc.GlyphAdvance(r)
		w += a
		prev = r
	}
	return w.Ceil()
}

func widestWord(fc *face, text string) int {
	w := 0
	for _, word := range strings.Fields(text) {
		w = max(w, measure(fc, word))
	}
	return w
}

// wrap breaks text into lines no wider than avail dots, greedily.
func wrap(fc *face, text string, avail int) []string {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			lines = append(lines, "")
			continue
		}
		line := ""
		for _, w := range words {
			if measure(fc, w) > avail {
				if line != "" {
					lines = append(lines, line)
				}
				chunks := breakWord(fc, w, avail)
				lines = append(lines, chunks[:len(chunks)-1]...)
				line = chunks[len(chunks)-1]
				continue
			}
			cand := w
			if line != "" {
				cand = line + " " + w
			}
			if measure(fc, cand) <= avail {
				line = cand
				continue
			}
			lines = append(lines, line)
			line = w
		}
		lines = append(lines, line)
	}
	return lines
}

// breakWord splits a word wider than a line between letters; every chunk has
// at least one letter, so even a line narrower than one glyph terminates.
func breakWord(fc *face, w string, avail int) []string {
	var chunks []string
	rs := []rune(w)
	for len(rs) > 0 {
		n := 1
		for n < len(rs) && measure(fc, string(rs[:n+1])) <= avail {
			n++
		}
		chunks = append(chunks, string(rs[:n]))
		rs = rs[n:]
	}
	return chunks
}

// drawLine sets the glyphs of s with the baseline at y, starting at x,
// thresholding each glyph's coverage mask straight into dots.
func drawLine(bm *Bitmap, fc *face, s string, x, y int) {
	dot := fixed.P(x, y)
	prev := rune(-1)
	for _, r := range s {
		if prev >= 0 {
			dot.X += fc.Kern(prev, r)
		}
		prev = r
		dr, mask, mp, adv, _ := fc.Glyph(dot, r)
		dot.X += adv
		a, ok := mask.(*image.Alpha)
		if !ok || dr.Empty() {
			continue
		}
		for gy := 0; gy < dr.Dy(); gy++ {
			row := a.Pix[(mp.Y+gy-a.Rect.Min.Y)*a.Stride+(mp.X-a.Rect.Min.X):]
			for gx := 0; gx < dr.Dx(); gx++ {
				if row[gx] >= threshold {
					bm.Set(dr.Min.X+gx, dr.Min.Y+gy)
				}
			}
		}
	}
}
