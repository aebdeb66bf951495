package scanner

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"time"

	"github.com/go-pdf/fpdf"
)

// Document is a finished scan: the pages as JPEG and the PDF that holds them.
// It lives in memory only; call Wipe once it has been handed on.
type Document struct {
	Pages []Page
	PDF   []byte
}

// Page is one scanned page.
type Page struct {
	JPEG    []byte
	Width   int  // pixels
	Height  int  // pixels
	DPI     int  // the resolution the scanner used, which may differ from the request
	Colour  bool // false: a single-channel grey JPEG
	Quality int  // the JPEG quality chosen to fit the page budget
}

// Wipe zeroes the page images and the PDF, so the citizen's document does not
// linger in memory after it has been handed on.
func (d *Document) Wipe() {
	if d == nil {
		return
	}
	for i := range d.Pages {
		clear(d.Pages[i].JPEG)
	}
	clear(d.PDF)
	*d = Document{}
}

// A4 in millimetres, and the pixel count of an A4 page at 150 dpi, which the
// page budget is stated for.
const (
	a4WidthMM   = 210.0
	a4HeightMM  = 297.0
	a4Pixels150 = 1240 * 1754
	mmPerInch   = 25.4
	maxQuality  = 75 // text stays crisp; higher mostly spends bytes on paper texture
	minQuality  = 15 // below this, small print breaks up
	qualityStep = 5
	// maxPagePixels refuses a page image larger than a 600 dpi scan of a
	// 216 x 432 mm sheet (the longest feeders take) before allocating it.
	maxPagePixels = 5102 * 10205
)

// pageBudget is the JPEG byte budget of a page of the given pixel count: base
// for anything up to an A4 page at 150 dpi, growing in proportion above that so
// that a 300 dpi scan keeps the detail it was asked for.
func pageBudget(base, pixels int) int {
	if pixels <= a4Pixels150 {
		return base
	}
	return int(int64(base) * int64(pixels) / a4Pixels150)
}

// encodePage encodes a scanned image as JPEG at the highest quality (in steps
// of 5 from maxQuality down to minQuality) that fits budget. Grey requests are
// encoded single-channel; a colour image is converted first when the device
// could only scan in colour. When even minQuality does not fit, the result at
// minQuality is returned: an oversized page is better than a lost one.
func encodePage(m image.Image, grey bool, budget int) (jpg []byte, quality int, err error) {
	if _, isGrey := m.(*image.Gray); grey && !isGrey {
		m = greyOf(m)
	}
	var buf bytes.Buffer
	encode := func(q int) ([]byte, error) {
		buf.Reset()
		if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
			return nil, fmt.Errorf("encode JPEG at quality %d: %w", q, err)
		}
		return bytes.Clone(buf.Bytes()), nil
	}
	best, err := encode(maxQuality)
	if err != nil || len(best) <= budget {
		return best, maxQuality, err
	}
	// Binary search over the quality steps below maxQuality: size grows with
	// quality, so the highest step that fits is found in at most four encodes.
	lo, hi := minQuality/qualityStep, maxQuality/qualityStep-1
	best, quality = nil, minQuality
	for lo <= hi {
		mid := (lo + hi) / 2
		b, err := encode(mid * qualityStep)
		if err != nil {
			return nil, 0, err
		}
		if len(b) <= budget {
			best, quality, lo = b, mid*qualityStep, mid+1
		} else {
			hi = mid - 1
		}
	}
	if best == nil {
		best, err = encode(minQuality)
	}
	return best, quality, err
}

// greyOf converts a colour scan to grey with the luma weights of
// color.GrayModel; RGBA, what the PNM decoder returns, takes a direct loop
// rather than draw.Draw's per-pixel interface calls.
func greyOf(m image.Image) *image.Gray {
	g := image.NewGray(m.Bounds())
	src, ok := m.(*image.RGBA)
	if !ok {
		draw.Draw(g, g.Bounds(), m, m.Bounds().Min, draw.Src)
		return g
	}
	b := src.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		s := src.Pix[src.PixOffset(b.Min.X, y):]
		d := g.Pix[g.PixOffset(b.Min.X, y):]
		for x := range b.Dx() {
			// 16-bit samples, as color.GrayModel rounds them.
			r, gr, bl := uint32(s[4*x])*0x101, uint32(s[4*x+1])*0x101, uint32(s[4*x+2])*0x101
			d[x] = uint8((19595*r + 38470*gr + 7471*bl + 1<<15) >> 24)
		}
	}
	return g
}

// buildPDF lays each page on an A4 sheet at its true size from the top-left
// corner, where the scanner's origin is, shrinking only pages larger than A4
// (legal-size feeders). The JPEG bytes go in unchanged (DCTDecode), so a grey
// page stays DeviceGray; fpdf stores identical images once, so blank backs of
// a feeder stack cost one image.
func buildPDF(pages []Page, created time.Time) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(true)
	pdf.SetMargins(0, 0, 0)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetCreator("kioskd scanner", true)
	opt := fpdf.ImageOptions{ImageType: "JPG"}
	for i, p := range pages {
		if p.DPI < 1 || p.Width < 1 || p.Height < 1 {
			return nil, fmt.Errorf("page %d: %dx%d pixels at %d dpi", i+1, p.Width, p.Height, p.DPI)
		}
		w := float64(p.Width) / float64(p.DPI) * mmPerInch
		h := float64(p.Height) / float64(p.DPI) * mmPerInch
		if s := min(a4WidthMM/w, a4HeightMM/h); s < 1 {
			w, h = w*s, h*s
		}
		name := fmt.Sprintf("page%d", i+1)
		pdf.AddPage()
		pdf.RegisterImageOptionsReader(name, opt, bytes.NewReader(p.JPEG))
		pdf.ImageOptions(name, 0, 0, w, h, false, opt, 0, "")
		if err := pdf.Error(); err != nil {
			return nil, fmt.Errorf("page %d: %w", i+1, err)
		}
	}
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, fmt.Errorf("write PDF: %w", err)
	}
	return out.Bytes(), nil
}

// Join puts the pages of several scans into one document, for an attachment the
// citizen scanned a page at a time. The inputs are left as they are; the caller
// wipes them.
func Join(created time.Time, docs ...*Document) (*Document, error) {
	var pages []Page
	for _, d := range docs {
		for _, p := range d.Pages {
			p.JPEG = append([]byte(nil), p.JPEG...)
			pages = append(pages, p)
		}
	}
	if len(pages) == 0 {
		return nil, fmt.Errorf("%w: no pages to join", ErrBadRequest)
	}
	pdf, err := buildPDF(pages, created)
	if err != nil {
		return nil, fmt.Errorf("join scanned pages: %w", err)
	}
	return &Document{Pages: pages, PDF: pdf}, nil
}
