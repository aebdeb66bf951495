package printersim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/printer/escpos"
	"github.com/vnkiosk/kiosk/devices/printer/internal/ptytest"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/devices/printer/raster"
)

// start runs a simulator on a free loopback port for the test.
func start(t *testing.T, o Options) (*Printer, string) {
	t.Helper()
	if o.OutDir == "" {
		o.OutDir = t.TempDir()
	}
	sim, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return sim, ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitPages(t *testing.T, sim *Printer, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sim.WaitPages(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// ask sends DLE EOT n and reads the one-byte answer.
func ask(t *testing.T, c net.Conn, n escpos.StatusKind) byte {
	t.Helper()
	if _, err := c.Write(escpos.StatusRequest(n)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		t.Fatalf("DLE EOT %d: %v", n, err)
	}
	return b[0]
}

func fonts(t testing.TB) *raster.Fonts {
	t.Helper()
	f, err := raster.DejaVu()
	if err != nil {
		t.Fatalf("%v (the tests need the Debian package fonts-dejavu-core)", err)
	}
	return f
}

func encode(t *testing.T, p layout.Page, native bool) []byte {
	t.Helper()
	b, err := layout.Encode(p, layout.Options{Width: raster.Width80, Fonts: fonts(t), NativeQR: native})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatusAnswersPerCondition(t *testing.T) {
	t.Parallel()
	sim, addr := start(t, Options{})
	c := dial(t, addr)
	for _, cond := range Conditions {
		sim.SetCondition(cond)
		var st escpos.Status
		for _, n := range escpos.StatusKinds {
			if err := st.Decode(n, ask(t, c, n)); err != nil {
				t.Fatal(err)
			}
		}
		if st != cond.Status() {
			t.Errorf("%s: decoded %v, want %v", cond, st, cond.Status())
		}
		if st.CanPrint() != cond.prints() {
			t.Errorf("%s: CanPrint %v", cond, st.CanPrint())
		}
	}
	if _, err := ParseCondition("jammed"); err == nil {
		t.Error("unknown condition parsed")
	}
	if _, err := New(Options{Width: 500}); err == nil {
		t.Error("width 500 accepted")
	}
}

// zbar decodes a PNG with zbarimg, an implementation independent of ours.
func zbar(t *testing.T, png string) string {
	t.Helper()
	bin, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatal("zbarimg not found: install the Debian package zbar-tools (make deps)")
	}
	out, err := exec.Command(bin, "--raw", "-q", png).Output()
	if err != nil {
		t.Fatalf("zbarimg %s found no QR code: %v", png, err)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// Raster and native QR codes both come out of the simulator as symbols that
// an independent decoder reads back.
func TestQRPagesDecodeWithZbar(t *testing.T) {
	t.Parallel()
	payloads := []string{"000.00.12.H29-260115-0007", "https://dichvucong.gov.vn/p/home/dvc-tra-cuu-ho-so.html?ma=000.00.12.H29-260115-0007", "Biên nhận số 12"}
	for _, native := range []bool{false, true} {
		for _, width := range []int{raster.Width58, raster.Width80} {
			sim, addr := start(t, Options{Width: width})
			c := dial(t, addr)
			for _, pl := range payloads {
				var p layout.Page
				p.Add(layout.Text{Text: "Mã hồ sơ"}, layout.QR{Payload: pl})
				b, err := layout.Encode(p, layout.Options{Width: width, Fonts: fonts(t), NativeQR: native})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			waitPages(t, sim, len(payloads))
			for i, pg := range sim.Pages() {
				if got := zbar(t, pg.Path); got != payloads[i] {
					t.Errorf("native %v width %d page %d: zbarimg read %q, want %q", native, width, i+1, got, payloads[i])
				}
			}
		}
	}
}

// levenshtein is the edit distance between a and b in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func TestLevenshtein(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ệ", 1}, {"Quầy", "Quâầy", 1}, {"kitten", "sitting", 3}, {"ệẫặ", "eaa", 3},
	}
	for _, tt := range tests {
		if got := levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// Tesseract reads the Vietnamese text back from the simulator's page. It
// misreads some stacked diacritics, so each line is allowed an edit distance
// of a fifth of its length against the closest line it read.
func TestVietnameseTextSurvivesOCR(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("tesseract")
	if err != nil {
		t.Fatal("tesseract not found: install the Debian packages tesseract-ocr and tesseract-ocr-vie (make deps)")
	}
	lines := []string{
		"Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
		"Người nộp: Nguyễn Thị Phượng",
		"Ngày hẹn trả: thứ Hai, 19/01/2026",
		"Quầy số 3 — Ủy ban nhân dân phường",
		"Lệ phí: 10.000 ₫ đã thanh toán",
	}
	sim, addr := start(t, Options{})
	var p layout.Page
	for i, l := range lines {
		p.Add(layout.Text{Text: l, Bold: i == 0})
	}
	c := dial(t, addr)
	if _, err := c.Write(encode(t, p, false)); err != nil {
		t.Fatal(err)
	}
	waitPages(t, sim, 1)
	out, err := exec.Command(bin, sim.Pages()[0].Path, "-", "-l", "vie").Output()
	if err != nil {
		t.Fatalf("tesseract: %v (is tesseract-ocr-vie installed?)", err)
	}
	var read []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			read = append(read, l)
		}
	}
	for _, want := range lines {
		best, bestLine := len([]rune(want)), ""
		for _, got := range read {
			if d := levenshtein(want, got); d < best {
				best, bestLine = d, got
			}
		}
		if limit := len([]rune(want)) / 5; best > limit {
			t.Errorf("%q: closest OCR line %q is %d edits away (limit %d); OCR read:\n%s", want, bestLine, best, limit, out)
		} else {
			t.Logf("%q read as %q (%d edits)", want, bestLine, best)
		}
	}
}

// While the paper is out nothing prints, DLE EOT is still answered, and once
// the receive buffer is full the printer stops reading: the host's writes
// block. Loading paper prints the page exactly once.
func TestPaperEndBuffersThenStopsReading(t *testing.T) {
	t.Parallel()
	sim, addr := start(t, Options{Condition: PaperEnd, BufferSize: 4096})
	c := dial(t, addr).(*net.TCPConn)
	_ = c.SetWriteBuffer(4096)
	page := encode(t, layout.Page{Blocks: []layout.Block{layout.Text{Text: strings.Repeat("Dòng chữ dài để có nhiều dữ liệu. ", 120)}}}, false)
	if len(page) < 1<<20 {
		// Make the job larger than any kernel socket buffering on loopback.
		var e escpos.Encoder
		e.Write(page[:len(page)-4]) // without the cut
		blank := raster.NewBitmap(raster.Width80, 16000)
		for y := 0; y < blank.Height; y += 7 {
			blank.Set(y%raster.Width80, y)
		}
		e.Raster(blank.Escpos())
		e.Cut(escpos.PartialCutAfterFeed)
		page, _ = e.Bytes()
	}
	var b [1]byte
	// DLE EOT first, while nothing is queued: it says paper end.
	var st escpos.Status
	if err := st.Decode(escpos.PaperStatus, ask(t, c, escpos.PaperStatus)); err != nil || !st.PaperEnd {
		t.Fatalf("status %v, %v", st, err)
	}
	c.SetWriteDeadline(time.Now().Add(time.Second))
	n, err := c.Write(page)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the printer read all %d bytes while out of paper (err %v)", n, err)
	}
	if n < 4096 || n >= len(page) {
		t.Fatalf("accepted %d of %d bytes", n, len(page))
	}
	t.Logf("out of paper: the printer took %d of %d bytes, then stopped reading", n, len(page))
	if sim.PageCount() != 0 {
		t.Fatal("a page printed without paper")
	}
	sim.SetCondition(OK)
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(page[n:]); err != nil {
		t.Fatal(err)
	}
	waitPages(t, sim, 1)
	// The GS r fence is answered after the page: the whole page was printed.
	c.Write([]byte{escpos.GS, 'r', 1})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := io.ReadFull(c, b[:]); err != nil {
			t.Fatal(err)
		}
		if escpos.IsPaperSensorAnswer(b[0]) {
			break
		}
	}
	time.Sleep(50 * time.Millisecond)
	if got := sim.PageCount(); got != 1 {
		t.Fatalf("%d pages, want 1", got)
	}
}

// A limited roll runs out in the middle of a page: printing stops there and
// resumes on the same page when paper is loaded.
func TestRollRunsOutMidPage(t *testing.T) {
	t.Parallel()
	sim, addr := start(t, Options{RollDots: 200})
	c := dial(t, addr)
	var p layout.Page
	p.Add(layout.Text{Text: "Phiếu dài", Size: layout.Large}, layout.Space{Dots: 400}, layout.QR{Payload: "MAHOSO-42"})
	if _, err := c.Write(encode(t, p, false)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sim.Condition() != PaperEnd {
		if time.Now().After(deadline) {
			t.Fatal("the roll never ran out")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if sim.PageCount() != 0 {
		t.Fatal("page cut before the paper was loaded")
	}
	sim.SetRoll(0)
	sim.SetCondition(OK)
	waitPages(t, sim, 1)
	if got := zbar(t, sim.Pages()[0].Path); got != "MAHOSO-42" {
		t.Errorf("QR %q", got)
	}
}

// DLE EOT bytes inside image data are answered, as real printers do, and the
// image still prints as sent.
func TestRealtimeRequestInsideImage(t *testing.T) {
	t.Parallel()
	sim, addr := start(t, Options{Condition: NearEnd})
	c := dial(t, addr)
	img := raster.NewBitmap(raster.Width80, 2)
	copy(img.Bits, []byte{0x10, 0x04, 0x04, 0xFF})
	var e escpos.Encoder
	e.Init()
	e.Raster(img.Escpos())
	e.Cut(escpos.PartialCut)
	b, _ := e.Bytes()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var ans [1]byte
	if _, err := io.ReadFull(c, ans[:]); err != nil {
		t.Fatalf("no answer to the DLE EOT 4 inside the image: %v", err)
	}
	if ans[0] != NearEnd.Status().Answer(escpos.PaperStatus) {
		t.Errorf("answer 0x%02X", ans[0])
	}
	waitPages(t, sim, 1)
	got := sim.Pages()[0].Image
	if !bytes.Equal(got.Bits[:4], []byte{0x10, 0x04, 0x04, 0xFF}) {
		t.Errorf("image row starts % X", got.Bits[:4])
	}
}

func TestPlainTextAndModes(t *testing.T) {
	t.Parallel()
	sim, addr := start(t, Options{Width: raster.Width58})
	c := dial(t, addr)
	var e escpos.Encoder
	e.Init()
	e.Align(escpos.Right)
	e.Write([]byte("HELLO\n"))
	img := raster.NewBitmap(16, 1)
	img.Bits[0] = 0x80
	e.Write([]byte{escpos.GS, 'v', '0', 3, 2, 0, 1, 0, 0x80, 0x00}) // quadruple
	e.Write([]byte{escpos.ESC, 'E', 1, escpos.ESC, 0x7F})           // bold (ignored), unknown
	e.Feed(1)
	e.Cut(escpos.PartialCut)
	b, _ := e.Bytes()
	c.Write(b)
	waitPages(t, sim, 1)
	pg := sim.Pages()[0].Image
	var ink bool
	for x := raster.Width58 / 2; x < raster.Width58; x++ {
		for y := 0; y < 16; y++ {
			ink = ink || pg.Black(x, y)
		}
	}
	if !ink {
		t.Error("right-aligned text not drawn on the right half")
	}
	// The quadruple raster: one dot becomes 2x2, right-aligned 32 dots wide.
	x0 := raster.Width58 - 32
	y0 := 34 // after the text line
	if !pg.Black(x0, y0) || !pg.Black(x0+1, y0+1) || pg.Black(x0+2, y0) {
		t.Error("GS v 0 mode 3 not doubled both ways")
	}
	if sim.UnknownCommands() != 1 {
		t.Errorf("%d unknown commands, want 1", sim.UnknownCommands())
	}
}

// Garbage from the host never crashes the printer; an absurd command length
// ends the session, and the next session works.
func TestHostileStream(t *testing.T) {
	t.Parallel()
	sim, addr := start(t, Options{})
	r := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(r.Uint32())
	}
	c := dial(t, addr)
	c.Write(junk)
	c.Write([]byte{escpos.GS, 'v', '0', 0, 0xFF, 0xFF, 0xFF, 0x0F})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	// The printer hangs up (EOF, or a reset since it did not read everything).
	if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("session not ended")
	}
	c2 := dial(t, addr)
	if b := ask(t, c2, escpos.PrinterStatus); !escpos.IsStatusAnswer(b) {
		t.Errorf("after garbage: 0x%02X", b)
	}
	_ = sim
}

// The simulator serves a pty the same way it serves TCP: what a /dev/usb/lp
// stand-in looks like to the kiosk.
func TestServeOverPTY(t *testing.T) {
	t.Parallel()
	ptm, path := ptytest.Open(t)
	pts := ptytest.OpenSlave(t, path)
	sim, err := New(Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.ServeConn(ctx, ptm) }()
	defer func() { cancel(); <-done }()
	var p layout.Page
	p.Add(layout.Text{Text: "Qua cổng USB"}, layout.QR{Payload: "usb-lp"})
	if _, err := pts.Write(escpos.StatusRequest(escpos.PrinterStatus)); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	pts.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(pts, b[:]); err != nil || b[0] != 0x12 {
		t.Fatalf("status over pty: 0x%02X %v", b[0], err)
	}
	if _, err := pts.Write(encode(t, p, true)); err != nil {
		t.Fatal(err)
	}
	waitPages(t, sim, 1)
	if got := zbar(t, sim.Pages()[0].Path); got != "usb-lp" {
		t.Errorf("QR %q", got)
	}
}

func TestPagesWrittenAsPNG(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sim, addr := start(t, Options{OutDir: dir})
	c := dial(t, addr)
	for range 3 {
		c.Write(encode(t, layout.Page{Blocks: []layout.Block{layout.Text{Text: "Trang"}}}, false))
	}
	waitPages(t, sim, 3)
	files, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	if len(files) != 3 || filepath.Base(files[2]) != "page-0003.png" {
		t.Errorf("files %v", files)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}
