// Package printersim is an ESC/POS receipt printer without hardware. It speaks
// the same byte stream as a real one — over TCP port 9100 or any
// io.ReadWriter such as a pty standing in for /dev/usb/lp — answers DLE EOT
// from a condition that can be switched at runtime (ok, near-end, paper-end,
// cover-open, cutter-error), interprets the commands into a page image (raster
// bands as the head would print them, native GS ( k QR codes re-encoded and
// drawn at the requested module size, plain ASCII in a bitmap font) and writes
// each cut page to a PNG. Like a real printer it stops printing while the
// paper is out or the cover is open, keeps buffering until its receive buffer
// is full, then stops reading from the host; real-time DLE EOT requests are
// answered on receipt, even when they occur inside image data.
package printersim

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
	"github.com/vnkiosk/kiosk/devices/printer/raster"
)

// Condition is the simulated printer's state.
type Condition string

// Conditions.
const (
	OK          Condition = "ok"
	NearEnd     Condition = "near-end"     // prints; the roll is nearly used up
	PaperEnd    Condition = "paper-end"    // stops printing until paper is loaded
	CoverOpen   Condition = "cover-open"   // stops printing until the cover is closed
	CutterError Condition = "cutter-error" // stops printing until cleared
)

// Conditions lists every condition, for usage messages.
var Conditions = []Condition{OK, NearEnd, PaperEnd, CoverOpen, CutterError}

// ParseCondition parses a condition name.
func ParseCondition(s string) (Condition, error) {
	for _, c := range Conditions {
		if string(c) == s {
			return c, nil
		}
	}
	return "", fmt.Errorf("unknown printer condition %q; expected ok, near-end, paper-end, cover-open or cutter-error", s)
}

// Status is what the printer reports in this condition.
func (c Condition) Status() escpos.Status {
	switch c {
	case NearEnd:
		return escpos.Status{PaperNearEnd: true}
	case PaperEnd:
		return escpos.Status{Offline: true, PaperEndStop: true, PaperEnd: true, PaperNearEnd: true}
	case CoverOpen:
		return escpos.Status{Offline: true, CoverOpen: true}
	case CutterError:
		return escpos.Status{Offline: true, WaitingRecovery: true, ErrorOccurred: true, CutterError: true}
	}
	return escpos.Status{}
}

func (c Condition) prints() bool { return c == OK || c == NearEnd }

// Options configure a simulated printer.
type Options struct {
	Width     int       // head width in dots: 384 (58 mm) or 576 (80 mm, the default)
	OutDir    string    // each cut page is written here as page-NNNN.png; "" keeps pages in memory only
	Condition Condition // initial condition, default OK
	// BufferSize is the receive buffer in bytes (default 4096, like common
	// 80 mm printers); when it is full the printer stops reading.
	BufferSize int
	// RollDots is the paper left on the roll in dot rows (8 per mm); when it
	// is used up the printer goes to PaperEnd in the middle of whatever it is
	// printing. 0 is an endless roll.
	RollDots int
	// OnReceive, if set, sees every chunk read from the host before it is
	// buffered (benchmarks time the first byte with it). It must not retain p.
	OnReceive func(p []byte)
	Log       *slog.Logger
}

// Page is one cut page.
type Page struct {
	Number int
	Path   string // "" when Options.OutDir is empty
	Image  *raster.Bitmap
}

// Limits that keep hostile input from exhausting memory.
const (
	maxPageRows = 20000 // 2.5 m of paper: a longer page is emitted as if cut
	maxLineText = 512
	keptPages   = 64 // pages kept in memory; older ones remain only as files
	// headToCutter is the distance from the print line to the blade, in dots
	// (about 12 mm on common 80 mm mechanisms).
	headToCutter = 96
)

// Printer is a simulated printer. One host session is served at a time, as
// a real printer's port 9100 does.
type Printer struct {
	opt Options
	log *slog.Logger

	mu    sync.Mutex
	cond  *sync.Cond
	state Condition
	roll  int // dot rows left when opt.RollDots > 0

	// interpreter state, kept across sessions like a real print buffer
	page        *raster.Bitmap
	y           int
	align       escpos.Align
	lineSpacing int
	line        []byte
	qrModule    int
	qrLevel     qrcode.RecoveryLevel
	qrData      []byte
	pages       []Page
	pageCount   int
	unknown     int
}

// New returns a simulated printer.
func New(o Options) (*Printer, error) {
	if o.Width == 0 {
		o.Width = raster.Width80
	}
	if o.Width != raster.Width58 && o.Width != raster.Width80 {
		return nil, fmt.Errorf("printersim: head width %d; expected %d or %d dots", o.Width, raster.Width58, raster.Width80)
	}
	if o.Condition == "" {
		o.Condition = OK
	}
	if _, err := ParseCondition(string(o.Condition)); err != nil {
		return nil, err
	}
	if o.BufferSize <= 0 {
		o.BufferSize = 4096
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.OutDir != "" {
		if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
			return nil, fmt.Errorf("printersim: output directory: %w", err)
		}
	}
	p := &Printer{opt: o, log: o.Log, state: o.Condition, roll: o.RollDots}
	p.cond = sync.NewCond(&p.mu)
	p.page = raster.NewBitmap(o.Width, 0)
	p.resetModes()
	return p, nil
}

// resetModes is ESC @: modes back to power-on defaults. Dots already printed
// stay on the paper.
func (p *Printer) resetModes() {
	p.align = escpos.Left
	p.lineSpacing = 34 // 1/6 inch at 203 dpi
	p.line = p.line[:0]
	p.qrModule, p.qrLevel, p.qrData = 3, qrcode.Low, nil
}

// SetCondition switches the printer's condition; loading paper (OK or
// NearEnd) also refills a limited roll.
func (p *Printer) SetCondition(c Condition) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.prints() && p.opt.RollDots > 0 {
		p.roll = p.opt.RollDots
	}
	if p.state != c {
		p.log.Info("printer condition", "condition", string(c))
	}
	p.state = c
	p.cond.Broadcast()
}

// SetRoll sets the paper left on the roll, in dot rows; 0 is endless.
func (p *Printer) SetRoll(dots int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opt.RollDots, p.roll = dots, dots
}

// Condition returns the current condition.
func (p *Printer) Condition() Condition {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// PageCount returns how many pages were cut since New.
func (p *Printer) PageCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pageCount
}

// Pages returns the most recent cut pages (at most 64), oldest first.
func (p *Printer) Pages() []Page {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Page(nil), p.pages...)
}

// UnknownCommands counts commands the simulator did not recognise.
func (p *Printer) UnknownCommands() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unknown
}

// WaitPages waits until at least n pages were cut.
func (p *Printer) WaitPages(ctx context.Context, n int) error {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.pageCount < n {
		if ctx.Err() != nil {
			return fmt.Errorf("printersim: %d of %d pages: %w", p.pageCount, n, ctx.Err())
		}
		p.cond.Wait()
	}
	return nil
}

// Listen opens a TCP listener for Serve.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("printersim: listen: %w", err)
	}
	return ln, nil
}

// Serve accepts host connections on ln one at a time until ctx ends, then
// closes ln.
func (p *Printer) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("printersim: accept: %w", err)
		}
		// The kernel's socket buffer is left at its default: a tiny one makes
		// loopback TCP crawl (window updates withheld against a 64 KiB MSS),
		// and the receive buffer below already stops reading like a printer.
		err = p.ServeConn(ctx, c)
		c.Close()
		if err != nil && ctx.Err() == nil {
			p.log.Warn("host session ended", "err", err)
		}
	}
}

// ServeConn serves one host session on rw until the host closes it and the
// data it sent has been printed, or ctx ends. If rw is an io.Closer it is
// closed when ctx ends, to unblock the read.
func (p *Printer) ServeConn(ctx context.Context, rw io.ReadWriter) error {
	s := &session{p: p, rw: rw}
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		s.cancelled = true
		p.cond.Broadcast()
		p.mu.Unlock()
		if c, ok := rw.(io.Closer); ok {
			c.Close()
		}
	})
	defer stop()
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		s.read()
	}()
	err := s.run()
	if c, ok := rw.(io.Closer); ok && err != nil {
		c.Close() // unblocks the reader after a protocol error
	}
	p.mu.Lock()
	s.cancelled = true
	p.cond.Broadcast()
	p.mu.Unlock()
	<-readDone
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type session struct {
	p         *Printer
	rw        io.ReadWriter
	wmu       sync.Mutex
	buf       []byte // received, not yet interpreted; guarded by p.mu
	eof       bool
	readErr   error
	needMore  bool // the command at the head of buf is longer than the buffer
	cancelled bool
}

func (s *session) answer(b []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if d, ok := s.rw.(interface{ SetWriteDeadline(time.Time) error }); ok {
		_ = d.SetWriteDeadline(time.Now().Add(2 * time.Second))
	}
	_, _ = s.rw.Write(b)
}

// read moves bytes from the host into the receive buffer, answering DLE EOT on
// receipt, and stops reading while the buffer is full.
func (s *session) read() {
	p := s.p
	chunk := make([]byte, 1024)
	var rt realtimeScanner
	for {
		n, err := s.rw.Read(chunk)
		if n > 0 {
			if p.opt.OnReceive != nil {
				p.opt.OnReceive(chunk[:n])
			}
			p.mu.Lock()
			st := p.state.Status()
			p.mu.Unlock()
			if ans := rt.scan(chunk[:n], st); len(ans) > 0 {
				s.answer(ans)
			}
			p.mu.Lock()
			s.buf = append(s.buf, chunk[:n]...)
			p.cond.Broadcast()
			for len(s.buf) >= p.opt.BufferSize && !s.needMore && !s.cancelled {
				p.cond.Wait()
			}
			done := s.cancelled
			p.mu.Unlock()
			if done {
				return
			}
		}
		if err != nil {
			p.mu.Lock()
			s.eof = true
			if !errors.Is(err, io.EOF) {
				s.readErr = err
			}
			p.cond.Broadcast()
			p.mu.Unlock()
			return
		}
	}
}

// realtimeScanner finds DLE EOT n in the raw stream, across chunk boundaries,
// the way a printer's receive interrupt does: without knowing whether the
// bytes are a command or image data.
type realtimeScanner struct{ state int }

func (r *realtimeScanner) scan(b []byte, st escpos.Status) []byte {
	var out []byte
	for _, c := range b {
		switch {
		case r.state == 2 && c >= 1 && c <= 4:
			out = append(out, st.Answer(escpos.StatusKind(c)))
			r.state = 0
		case c == escpos.DLE:
			r.state = 1
		case r.state == 1 && c == escpos.EOT:
			r.state = 2
		default:
			r.state = 0
		}
	}
	return out
}

// run interprets the receive buffer while the printer can print.
func (s *session) run() error {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if s.cancelled {
			return nil
		}
		if !p.state.prints() {
			p.cond.Wait()
			continue
		}
		cmd, n, err := escpos.Next(s.buf)
		switch {
		case errors.Is(err, escpos.ErrShort):
			if s.eof {
				return s.readErr
			}
			s.needMore = len(s.buf) >= p.opt.BufferSize
			p.cond.Broadcast()
			p.cond.Wait()
			continue
		case err != nil:
			return fmt.Errorf("printersim: %w", err)
		}
		s.needMore = false
		if p.consumesPaper(cmd) && p.opt.RollDots > 0 && p.roll <= 0 {
			p.state = PaperEnd
			p.log.Info("printer condition", "condition", string(PaperEnd), "why", "roll used up")
			p.cond.Broadcast()
			continue
		}
		reply := p.exec(cmd)
		s.buf = s.buf[n:]
		p.cond.Broadcast()
		if len(reply) > 0 {
			p.mu.Unlock()
			s.answer(reply)
			p.mu.Lock()
		}
	}
}

func (p *Printer) consumesPaper(c escpos.Command) bool {
	switch c.Op {
	case escpos.OpRaster, escpos.OpFeedLines, escpos.OpFeedDots, escpos.OpCut:
		return true
	case escpos.OpQR:
		return c.Param == 81
	case escpos.OpControl:
		return c.N == escpos.LF
	}
	return false
}

// exec interprets one command and returns what the printer transmits for it.
func (p *Printer) exec(c escpos.Command) []byte {
	switch c.Op {
	case escpos.OpText:
		for _, b := range c.Data {
			if len(p.line) < maxLineText {
				if b >= 0x80 {
					b = '?'
				}
				p.line = append(p.line, b)
			}
		}
	case escpos.OpControl:
		if c.N == escpos.LF {
			if len(p.line) == 0 {
				p.advance(p.lineSpacing)
			}
			p.flushText()
		}
	case escpos.OpInit:
		p.resetModes()
	case escpos.OpAlign:
		if c.N <= byte(escpos.Right) {
			p.align = escpos.Align(c.N)
		}
	case escpos.OpFeedLines:
		p.flushText()
		p.advance(int(c.N) * p.lineSpacing)
	case escpos.OpFeedDots:
		p.flushText()
		p.advance(int(c.N))
	case escpos.OpRaster:
		p.flushText()
		p.drawRaster(c)
	case escpos.OpQR:
		p.execQR(c)
	case escpos.OpCut:
		p.flushText()
		if c.N >= 65 {
			// "Feed to the cutting position": what was printed last travels
			// from the head up to the blade.
			p.advance(headToCutter + int(c.Param))
		}
		p.cut()
	case escpos.OpTransmitStatus:
		switch c.N {
		case 1, 49:
			st := p.state.Status()
			return []byte{escpos.PaperSensor{NearEnd: st.PaperNearEnd, End: st.PaperEnd}.Answer()}
		case 2, 50:
			return []byte{0} // drawer kick connector: low
		}
	case escpos.OpRealtime:
		// Already answered on receipt.
	case escpos.OpUnknown:
		p.unknown++
	}
	return nil
}

// advance moves the paper by rows dots, growing the page.
func (p *Printer) advance(rows int) {
	if rows <= 0 {
		return
	}
	p.y += rows
	if p.opt.RollDots > 0 {
		p.roll -= rows
	}
	if p.y > maxPageRows {
		p.cut()
	}
}

func (p *Printer) ensure(rows int) {
	if need := p.y + rows - p.page.Height; need > 0 {
		p.page.Grow(need)
	}
}

func (p *Printer) alignedX(w int) int {
	switch p.align {
	case escpos.Center:
		return max(0, (p.opt.Width-w)/2)
	case escpos.Right:
		return max(0, p.opt.Width-w)
	}
	return 0
}

// drawRaster prints a GS v 0 band; modes 1-3 double the dots horizontally,
// vertically or both, as the head does.
func (p *Printer) drawRaster(c escpos.Command) {
	sx, sy := 1, 1
	if c.N&1 != 0 {
		sx = 2
	}
	if c.N&2 != 0 {
		sy = 2
	}
	w, h := c.Width*sx, c.Height*sy
	rows := min(h, maxPageRows)
	p.ensure(rows)
	x0 := p.alignedX(w)
	stride := c.Width / 8
	for y := 0; y < rows; y++ {
		src := c.Data[(y/sy)*stride : (y/sy+1)*stride]
		for i, v := range src {
			if v == 0 {
				continue
			}
			for bit := range 8 {
				if v&(0x80>>bit) == 0 {
					continue
				}
				x := x0 + (i*8+bit)*sx
				for dx := range sx {
					p.page.Set(x+dx, p.y+y)
				}
			}
		}
	}
	p.advance(rows)
}

// execQR handles GS ( k for QR (cn 49). Data is what follows fn.
func (p *Printer) execQR(c escpos.Command) {
	switch c.Param {
	case 67: // module size
		if len(c.Data) == 1 && c.Data[0] >= 1 && c.Data[0] <= escpos.MaxQRModule {
			p.qrModule = int(c.Data[0])
		}
	case 69: // error correction
		if len(c.Data) == 1 {
			switch c.Data[0] {
			case escpos.QRLevelL:
				p.qrLevel = qrcode.Low
			case escpos.QRLevelM:
				p.qrLevel = qrcode.Medium
			case escpos.QRLevelQ:
				p.qrLevel = qrcode.High
			case escpos.QRLevelH:
				p.qrLevel = qrcode.Highest
			}
		}
	case 80: // store: m=48, then the data
		if len(c.Data) >= 1 && c.Data[0] == 48 {
			p.qrData = append(p.qrData[:0], c.Data[1:]...) // Data aliases the receive buffer
		}
	case 81: // print the stored symbol
		p.flushText()
		if len(p.qrData) == 0 {
			return
		}
		modules, err := raster.ModulesOf(string(p.qrData), p.qrLevel)
		if err != nil {
			// A printer prints nothing for data it cannot encode.
			p.log.Warn("QR data cannot be encoded", "err", err)
			return
		}
		sym := raster.DrawQR(modules, p.qrModule)
		side := len(modules) * p.qrModule
		p.ensure(side)
		p.page.Draw(sym, p.alignedX(side), p.y)
		p.advance(side)
	}
}

var textFace = basicfont.Face7x13

// flushText prints buffered ASCII text as one line in a bitmap font (the kiosk
// sends text as raster; this is for hosts that send plain text, which a real
// printer sets in its font A).
func (p *Printer) flushText() {
	if len(p.line) == 0 {
		return
	}
	text := string(p.line)
	p.line = p.line[:0]
	w := font.MeasureString(textFace, text).Ceil()
	img := image.NewAlpha(image.Rect(0, 0, p.opt.Width, 16))
	d := font.Drawer{Dst: img, Src: image.Opaque, Face: textFace, Dot: fixed.P(p.alignedX(w), 12)}
	d.DrawString(text)
	p.ensure(img.Rect.Dy())
	for y := 0; y < img.Rect.Dy(); y++ {
		for x := 0; x < p.opt.Width; x++ {
			if img.Pix[y*img.Stride+x] >= 0x80 {
				p.page.Set(x, p.y+y)
			}
		}
	}
	p.advance(p.lineSpacing)
}

// cut ends the page: it is cropped to what was fed and written out.
func (p *Printer) cut() {
	h := min(p.y, p.page.Height)
	if p.y > p.page.Height {
		h = p.y
		p.page.Grow(p.y - p.page.Height)
	}
	img := &raster.Bitmap{Width: p.page.Width, Height: h, Stride: p.page.Stride, Bits: p.page.Bits[:h*p.page.Stride]}
	p.pageCount++
	pg := Page{Number: p.pageCount, Image: img}
	if p.opt.OutDir != "" {
		pg.Path = filepath.Join(p.opt.OutDir, fmt.Sprintf("page-%04d.png", p.pageCount))
		if err := writePNG(pg.Path, img); err != nil {
			p.log.Error("cannot write page", "page", pg.Number, "err", err)
		}
	}
	p.pages = append(p.pages, pg)
	if len(p.pages) > keptPages {
		p.pages = p.pages[len(p.pages)-keptPages:]
	}
	p.log.Info("page cut", "page", pg.Number, "rows", h, "file", pg.Path)
	p.page = raster.NewBitmap(p.opt.Width, 0)
	p.y = 0
	p.cond.Broadcast()
}

func writePNG(path string, bm *raster.Bitmap) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := png.Encode(f, bm.Image()); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	// Renamed into place so a watcher never sees half a PNG.
	return os.Rename(tmp, path)
}
