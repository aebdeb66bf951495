package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/scanner/pdfpages"
	"github.com/vnkiosk/kiosk/devices/scanner/pnm"
	"github.com/vnkiosk/kiosk/devices/scanner/sanesim"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/logging"
)

func needScanimage(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("scanimage"); err != nil {
		t.Skip("scanimage not installed (Debian package sane-utils)")
	}
}

// newSim returns a Scanner on the SANE test backend configured by c, and the
// SANE configuration directory (rewrite it with sanesim.Write to change the
// simulated scanner). When the test ends it checks that the work directory
// holds nothing: no page may outlive a scan, whatever its outcome.
func newSim(t testing.TB, c sanesim.Config, tweak ...func(*Options)) (*Scanner, string) {
	t.Helper()
	needScanimage(t)
	root := t.TempDir()
	cfg := filepath.Join(root, "sane")
	if err := sanesim.Write(cfg, c); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(root, "state", "scan")
	// The test backend sometimes deadlocks in its cancel path (a reader thread
	// cancelled inside free): short stall and grace times keep such a run to
	// seconds, and the tests to their point.
	opt := Options{Device: sanesim.Device, WorkDir: work, ConfigDir: cfg, Log: logging.New(t.Output(), slog.LevelDebug),
		StallTimeout: 3 * time.Second, CancelGrace: time.Second}
	for _, f := range tweak {
		f(&opt)
	}
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { assertNothingLeft(t, work) })
	return s, cfg
}

func assertNothingLeft(t testing.TB, dir string) {
	t.Helper()
	var left []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			left = append(left, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Error(err)
	}
	if len(left) > 0 {
		t.Errorf("the work directory still holds %q", left)
	}
}

// progressLog records progress reports and checks their order as they come.
type progressLog struct {
	t      testing.TB
	events []Progress
}

func (l *progressLog) add(p Progress) {
	if n := len(l.events); n > 0 {
		prev := l.events[n-1]
		if p.Page < prev.Page || (p.Page == prev.Page && p.Stage == StageScanning && prev.Stage == StageScanning && p.Percent < prev.Percent) {
			l.t.Errorf("progress went back: %+v after %+v", p, prev)
		}
		if o, po := p.Overall(), prev.Overall(); p.Pages > 0 && o < po {
			l.t.Errorf("overall progress went back: %v after %v", o, po)
		}
	}
	l.events = append(l.events, p)
}

func (l *progressLog) pagesScanned() []int {
	var pages []int
	for _, p := range l.events {
		if p.Stage == StagePageScanned {
			pages = append(pages, p.Page)
		}
	}
	return pages
}

// checkDocument checks a document against what was asked, reading its PDF back
// with an independent parser.
func checkDocument(t *testing.T, doc *Document, req ScanRequest, pages int) {
	t.Helper()
	if len(doc.Pages) != pages {
		t.Fatalf("%d pages, want %d", len(doc.Pages), pages)
	}
	pdf, err := pdfpages.Parse(doc.PDF)
	if err != nil {
		t.Fatalf("the PDF does not parse: %v", err)
	}
	if pdf.Count != pages || len(pdf.Pages) != pages {
		t.Fatalf("PDF page count %d with %d page objects, want %d", pdf.Count, len(pdf.Pages), pages)
	}
	for i, p := range doc.Pages {
		// The simulator's bed is A4, the area the scanner asks for.
		if math.Abs(float64(p.Width)-210/25.4*float64(req.DPI)) > 1.5 || math.Abs(float64(p.Height)-297/25.4*float64(req.DPI)) > 1.5 {
			t.Errorf("page %d is %dx%d pixels, not A4 at %d dpi", i+1, p.Width, p.Height, req.DPI)
		}
		if p.DPI != req.DPI || p.Colour != req.Colour {
			t.Errorf("page %d: %d dpi colour %v, asked %d dpi colour %v", i+1, p.DPI, p.Colour, req.DPI, req.Colour)
		}
		if budget := pageBudget(DefaultPageBudget, p.Width*p.Height); len(p.JPEG) > budget {
			t.Errorf("page %d: %d bytes of JPEG, budget %d", i+1, len(p.JPEG), budget)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(p.JPEG))
		if err != nil || cfg.Width != p.Width || cfg.Height != p.Height || (cfg.ColorModel == color.GrayModel) == req.Colour {
			t.Errorf("page %d JPEG: %+v %v", i+1, cfg, err)
		}
		pp := pdf.Pages[i]
		if math.Abs(pp.Width()-595.28) > 0.01 || math.Abs(pp.Height()-841.89) > 0.01 {
			t.Errorf("PDF page %d is %.2fx%.2f pt, not A4", i+1, pp.Width(), pp.Height())
		}
		if len(pp.Images) != 1 {
			t.Fatalf("PDF page %d draws %d images", i+1, len(pp.Images))
		}
		im := pp.Images[0]
		wantCS := "DeviceGray"
		if req.Colour {
			wantCS = "DeviceRGB"
		}
		if im.ColorSpace != wantCS || im.Filter != "DCTDecode" || !bytes.Equal(im.Data, p.JPEG) {
			t.Errorf("PDF page %d image: %s %s, %d bytes (page JPEG %d)", i+1, im.ColorSpace, im.Filter, len(im.Data), len(p.JPEG))
		}
		// True size from the top-left corner.
		w, h := float64(p.Width)/float64(p.DPI)*72, float64(p.Height)/float64(p.DPI)*72
		if m := im.CTM; math.Abs(m[0]-w) > 0.1 || math.Abs(m[3]-h) > 0.1 || math.Abs(m[4]) > 0.01 || math.Abs(m[5]+h-841.89) > 0.1 {
			t.Errorf("PDF page %d image placed by %v, want %.2fx%.2f pt at the top left", i+1, m, w, h)
		}
	}
}

func TestScan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		req   ScanRequest
		pages int
	}{
		{"grey 150 flatbed", ScanRequest{DPI: 150}, 1},
		{"colour 150 flatbed", ScanRequest{DPI: 150, Colour: true}, 1},
		{"grey 300 flatbed", ScanRequest{DPI: 300}, 1},
		{"colour 300 flatbed", ScanRequest{DPI: 300, Colour: true}, 1},
		{"grey 150 feeder 3 pages", ScanRequest{DPI: 150, Pages: 3, Source: Feeder}, 3},
		{"colour 300 feeder 2 pages", ScanRequest{DPI: 300, Pages: 2, Source: Feeder, Colour: true}, 2},
		// The test backend's feeder holds 10 pages.
		{"grey 75 feeder until empty", ScanRequest{DPI: 75, Source: Feeder}, 10},
		{"grey 150 flatbed 2 pages back to back", ScanRequest{DPI: 150, Pages: 2}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newSim(t, sanesim.Config{Picture: sanesim.Grid})
			log := &progressLog{t: t}
			doc, err := s.Scan(context.Background(), tc.req, log.add)
			if err != nil {
				t.Fatal(err)
			}
			defer doc.Wipe()
			checkDocument(t, doc, tc.req, tc.pages)
			if got := log.pagesScanned(); len(got) != tc.pages || got[len(got)-1] != tc.pages {
				t.Errorf("page_scanned reports for pages %v, want 1..%d", got, tc.pages)
			}
			last := log.events[len(log.events)-1]
			if last.Stage != StageBuildingPDF || last.Overall() != 1 {
				t.Errorf("last progress %+v", last)
			}
			if h := s.Health(); h.State != daemon.StateOK {
				t.Errorf("health after a good scan: %+v", h)
			}
		})
	}
}

// TestPageBudget scans the backend's worst page for JPEG — one-pixel stripes
// and checks over all of A4 — at 150 dpi grey: a one-page PDF must stay within
// 300 kB. The Grid, closer to a printed page, fits at the top quality.
func TestPageBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		picture     sanesim.Picture
		colour      bool
		wantQuality int // 0: any that fits
	}{
		{sanesim.ColourPattern, false, 0},
		{sanesim.ColourPattern, true, 0},
		{sanesim.Grid, false, maxQuality},
	}
	for _, tc := range tests {
		t.Run(string(tc.picture), func(t *testing.T) {
			t.Parallel()
			s, _ := newSim(t, sanesim.Config{Picture: tc.picture})
			doc, err := s.Scan(context.Background(), ScanRequest{DPI: 150, Colour: tc.colour}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer doc.Wipe()
			p := doc.Pages[0]
			t.Logf("%s colour=%v: A4 %dx%d at 150 dpi → JPEG quality %d, %d bytes; one-page PDF %d bytes",
				tc.picture, tc.colour, p.Width, p.Height, p.Quality, len(p.JPEG), len(doc.PDF))
			if len(doc.PDF) > 300_000 {
				t.Errorf("one-page PDF is %d bytes, over 300 kB", len(doc.PDF))
			}
			if tc.wantQuality != 0 && p.Quality != tc.wantQuality {
				t.Errorf("quality %d, want %d", p.Quality, tc.wantQuality)
			}
		})
	}
}

// TestScanFidelity compares the page in the PDF with the same page scanned by
// scanimage alone: JPEG may blur edges, not move or lose them.
func TestScanFidelity(t *testing.T) {
	t.Parallel()
	s, cfg := newSim(t, sanesim.Config{Picture: sanesim.Grid})
	doc, err := s.Scan(context.Background(), ScanRequest{DPI: 150}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Wipe()
	pdf, err := pdfpages.Parse(doc.PDF)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jpeg.Decode(bytes.NewReader(pdf.Pages[0].Images[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("scanimage", "-d", sanesim.Device, "--resolution=150", "-x", "210", "-y", "297")
	cmd.Env = append(os.Environ(), "SANE_CONFIG_DIR="+cfg)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := pnm.Decode(bytes.NewReader(raw), maxPagePixels)
	if err != nil {
		t.Fatal(err)
	}
	if got.Bounds() != ref.Bounds() {
		t.Fatalf("PDF image %v, reference %v", got.Bounds(), ref.Bounds())
	}
	g, r := got.(*image.Gray), ref.(*image.Gray)
	var sum int
	b := g.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			sum += absDiff(g.GrayAt(x, y).Y, r.GrayAt(x, y).Y)
		}
	}
	if mae := float64(sum) / float64(b.Dx()*b.Dy()); mae > 3 {
		t.Errorf("mean absolute error %.2f grey levels against scanimage's own page", mae)
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// TestFaults injects each SANE status through the test backend and checks the
// typed error, the message for the screen, and what it does to health.
func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault      sanesim.Fault
		source     Source
		want       Fault
		detail     string
		health     daemon.State
		clearedByA bool // a good scan afterwards restores ok
	}{
		{sanesim.Jammed, Feeder, Jammed, "Document feeder jammed", daemon.StateDegraded, true},
		{sanesim.NoDocs, Feeder, NoDocuments, "Document feeder out of documents", daemon.StateOK, true},
		{sanesim.Busy, Flatbed, Busy, "Device busy", daemon.StateOK, true},
		{sanesim.CoverOpen, Flatbed, CoverOpen, "Scanner cover is open", daemon.StateDegraded, true},
		{sanesim.AccessDenied, Flatbed, AccessDenied, "Access to resource has been denied", daemon.StateDegraded, true},
		{sanesim.IOError, Flatbed, DeviceError, "Error during device I/O", daemon.StateDegraded, true},
	}
	for _, tc := range tests {
		t.Run(string(tc.fault), func(t *testing.T) {
			t.Parallel()
			s, cfg := newSim(t, sanesim.Config{Fault: tc.fault})
			if h := s.Check(context.Background()); h.State != daemon.StateOK {
				t.Fatalf("health before: %+v", h)
			}
			doc, err := s.Scan(context.Background(), ScanRequest{Source: tc.source, Pages: 2}, nil)
			if doc != nil {
				t.Errorf("a document came back with the error")
			}
			var se *Error
			if !errors.As(err, &se) || !errors.Is(err, tc.want) || se.Op != "read" || !strings.HasPrefix(se.Detail, tc.detail) || se.Pages != 0 {
				t.Fatalf("error %#v (%v), want %s from sane_read: %s", se, err, tc.want, tc.detail)
			}
			m := Explain(err)
			if m.Code != string(tc.want) || m.VI == "" || m.EN == "" || m.VI == m.EN {
				t.Errorf("message %+v", m)
			}
			if h := s.Health(); h.State != tc.health {
				t.Errorf("health after %s: %+v, want %s", tc.fault, h, tc.health)
			}
			// The fault is cleared (the jam pulled out): the next scan works and
			// health is back to ok.
			if err := sanesim.Write(cfg, sanesim.Config{}); err != nil {
				t.Fatal(err)
			}
			doc, err = s.Scan(context.Background(), ScanRequest{Source: tc.source, Pages: 2, DPI: 75}, nil)
			if err != nil {
				t.Fatal(err)
			}
			doc.Wipe()
			if h := s.Health(); h.State != daemon.StateOK {
				t.Errorf("health after the fault was cleared: %+v", h)
			}
		})
	}
}

func TestFeederRunsOut(t *testing.T) {
	t.Parallel()
	s, _ := newSim(t, sanesim.Config{})
	_, err := s.Scan(context.Background(), ScanRequest{Source: Feeder, Pages: 12, DPI: 75}, nil)
	var se *Error
	if !errors.As(err, &se) || se.Fault != NoDocuments || se.Pages != 10 || se.Wanted != 12 || se.Op != "start" {
		t.Fatalf("error %v, want no documents at sane_start after 10 of 12 pages", err)
	}
	if m := Explain(err); m.Code != "feeder_ran_out" || !strings.Contains(m.VI, "10 trang") || !strings.Contains(m.EN, "12") {
		t.Errorf("message %+v", m)
	}
}

func TestTooManyPages(t *testing.T) {
	t.Parallel()
	s, _ := newSim(t, sanesim.Config{}, func(o *Options) { o.MaxPages = 3 })
	_, err := s.Scan(context.Background(), ScanRequest{Source: Feeder, DPI: 75}, nil)
	if !errors.Is(err, TooManyPages) {
		t.Fatalf("error %v, want too many pages", err)
	}
}

func TestBadRequest(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Device: "test", WorkDir: filepath.Join(t.TempDir(), "scan"), Scanimage: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []ScanRequest{
		{DPI: 50}, {DPI: 1200}, {Source: "tray"}, {Pages: -1}, {Pages: DefaultMaxPages + 1},
	} {
		if _, err := s.Scan(context.Background(), req, nil); !errors.Is(err, ErrBadRequest) || Explain(err).Code != "bad_request" {
			t.Errorf("%+v: %v", req, err)
		}
	}
	for _, opt := range []Options{{}, {WorkDir: "relative/dir"}} {
		if _, err := New(opt); err == nil {
			t.Errorf("New(%+v) accepted", opt)
		}
	}
}

// TestAbsent covers a device SANE does not know, no device configured, and no
// scanimage at all; then the device appearing (more test devices configured)
// is noticed by the next check.
func TestAbsent(t *testing.T) {
	t.Parallel()
	t.Run("unplugged then plugged in", func(t *testing.T) {
		t.Parallel()
		s, cfg := newSim(t, sanesim.Config{}, func(o *Options) { o.Device = "test:3" })
		if h := s.Check(context.Background()); h.State != daemon.StateAbsent || !strings.Contains(h.Reason, "Invalid argument") {
			t.Errorf("health %+v", h)
		}
		_, err := s.Scan(context.Background(), ScanRequest{}, nil)
		var se *Error
		if !errors.As(err, &se) || se.Fault != Absent || se.Op != "open" || Explain(err).Code != "absent" {
			t.Fatalf("error %v, want absent at open", err)
		}
		if err := sanesim.Write(cfg, sanesim.Config{Devices: 4}); err != nil {
			t.Fatal(err)
		}
		if h := s.Check(context.Background()); h.State != daemon.StateOK {
			t.Fatalf("health after plugging in: %+v", h)
		}
		doc, err := s.Scan(context.Background(), ScanRequest{DPI: 75}, nil)
		if err != nil {
			t.Fatal(err)
		}
		doc.Wipe()
	})
	t.Run("not configured", func(t *testing.T) {
		t.Parallel()
		s, _ := newSim(t, sanesim.Config{}, func(o *Options) { o.Device = "" })
		if h := s.Check(context.Background()); h.State != daemon.StateAbsent || !strings.Contains(h.Reason, "devices.scanner.device") {
			t.Errorf("health %+v", h)
		}
		if _, err := s.Scan(context.Background(), ScanRequest{}, nil); !errors.Is(err, Absent) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no scanimage", func(t *testing.T) {
		t.Parallel()
		s, _ := newSim(t, sanesim.Config{}, func(o *Options) { o.Scanimage = filepath.Join(t.TempDir(), "scanimage") })
		if h := s.Check(context.Background()); h.State != daemon.StateAbsent || !strings.Contains(h.Reason, "sane-utils") {
			t.Errorf("health %+v", h)
		}
		if _, err := s.Scan(context.Background(), ScanRequest{}, nil); !errors.Is(err, Absent) || !strings.Contains(err.Error(), "sane-utils") {
			t.Errorf("error %v", err)
		}
	})
}

// TestHealthRecovers runs the subsystem's own check loop: the scanner is
// reported absent, then ok on its own once it appears.
func TestHealthRecovers(t *testing.T) {
	t.Parallel()
	s, cfg := newSim(t, sanesim.Config{}, func(o *Options) {
		o.Device = "test:1"
		o.CheckInterval = 50 * time.Millisecond
	})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	if h := s.Health(); h.State != daemon.StateAbsent {
		t.Fatalf("health at start: %+v", h)
	}
	if err := sanesim.Write(cfg, sanesim.Config{Devices: 2}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Health().State != daemon.StateOK {
		if time.Now().After(deadline) {
			t.Fatalf("still %+v 5 s after the scanner appeared", s.Health())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBackendCrash configures the test backend with no devices, on which it
// segfaults: the crash is a reported error and degraded health, and kioskd
// (this test) carries on — the reason the driver runs SANE out of process.
func TestBackendCrash(t *testing.T) {
	t.Parallel()
	s, cfg := newSim(t, sanesim.Config{})
	conf := filepath.Join(cfg, "test.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`(?m)^number_of_devices \d+$`).ReplaceAll(b, []byte("number_of_devices 0"))
	if err := os.WriteFile(conf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if h := s.Check(context.Background()); h.State != daemon.StateDegraded || !strings.Contains(h.Reason, "segmentation fault") {
		t.Errorf("health %+v", h)
	}
	_, err = s.Scan(context.Background(), ScanRequest{}, nil)
	if !errors.Is(err, DeviceError) || !strings.Contains(err.Error(), "segmentation fault") {
		t.Errorf("error %v", err)
	}
}

// slowSim is a simulator whose A4 page at 150 dpi grey takes about 3 s.
func slowSim(t *testing.T, tweak ...func(*Options)) *Scanner {
	s, _ := newSim(t, sanesim.Config{ReadDelay: 200 * time.Millisecond}, tweak...)
	return s
}

// TestCancel cancels mid-page: the scan must end within the grace period (by
// SIGINT and sane_cancel, or by the kill after it when the test backend
// deadlocks in its cancel) and the partial page must be gone.
func TestCancel(t *testing.T) {
	t.Parallel()
	const grace = 2 * time.Second
	s := slowSim(t, func(o *Options) { o.CancelGrace = grace })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelledAt time.Time
	_, err := s.Scan(ctx, ScanRequest{Source: Feeder, Pages: 3}, func(p Progress) {
		if p.Percent > 0 && cancelledAt.IsZero() {
			cancelledAt = time.Now()
			cancel()
		}
	})
	if cancelledAt.IsZero() {
		t.Fatal("no progress before the scan ended")
	}
	took := time.Since(cancelledAt)
	if !errors.Is(err, Cancelled) || !errors.Is(err, context.Canceled) || Explain(err).Code != "cancelled" {
		t.Fatalf("error %v, want cancelled", err)
	}
	if took > grace+time.Second {
		t.Errorf("the scan took %s to stop after cancel", took)
	}
	t.Logf("stopped %s after cancel", took.Round(time.Millisecond))
}

// TestNextPage paces a flatbed scan of three pages by the screen's Continue.
func TestNextPage(t *testing.T) {
	t.Parallel()
	t.Run("continue", func(t *testing.T) {
		t.Parallel()
		s, _ := newSim(t, sanesim.Config{})
		var asked []int
		req := ScanRequest{Pages: 3, DPI: 75, NextPage: func(ctx context.Context, page int) error {
			asked = append(asked, page)
			return nil
		}}
		doc, err := s.Scan(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer doc.Wipe()
		if len(doc.Pages) != 3 || len(asked) != 2 || asked[0] != 2 || asked[1] != 3 {
			t.Errorf("%d pages, asked for pages %v", len(doc.Pages), asked)
		}
	})
	t.Run("citizen gives up", func(t *testing.T) {
		t.Parallel()
		s, _ := newSim(t, sanesim.Config{})
		errWalkedAway := errors.New("walked away")
		req := ScanRequest{Pages: 3, DPI: 75, NextPage: func(ctx context.Context, page int) error {
			if page == 3 {
				return errWalkedAway
			}
			return nil
		}}
		_, err := s.Scan(context.Background(), req, nil)
		var se *Error
		if !errors.As(err, &se) || se.Fault != Cancelled || se.Pages != 2 || !errors.Is(err, errWalkedAway) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		t.Parallel()
		s, _ := newSim(t, sanesim.Config{})
		ctx, cancel := context.WithCancel(context.Background())
		req := ScanRequest{Pages: 2, DPI: 75, NextPage: func(ctx context.Context, page int) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}}
		if _, err := s.Scan(ctx, req, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v", err)
		}
	})
}

// TestScansTakeTurns: a second scan waits for the first, and gives up if its
// context ends meanwhile.
func TestScansTakeTurns(t *testing.T) {
	t.Parallel()
	s := slowSim(t)
	started := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Go(func() {
		doc, err := s.Scan(context.Background(), ScanRequest{DPI: 75}, func(Progress) { once.Do(func() { close(started) }) })
		if err != nil {
			t.Error(err)
			return
		}
		doc.Wipe()
	})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := s.Scan(ctx, ScanRequest{DPI: 75}, nil)
	if !errors.Is(err, Cancelled) || !strings.Contains(err.Error(), "waiting") {
		t.Errorf("second scan: %v", err)
	}
	wg.Wait()
}

// TestSubsystem runs the daemon's view: Start clears pages a crash left, Health
// reports the simulator, and Stop cancels a scan that would outlast the drain.
func TestSubsystem(t *testing.T) {
	t.Parallel()
	s := slowSim(t, func(o *Options) { o.CancelGrace = 500 * time.Millisecond })
	stale := filepath.Join(s.opt.WorkDir, scanDirPrefix+"crashed")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "p1.pnm.part"), []byte("P5 1 1 255\n\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	var _ daemon.Subsystem = s
	if s.Name() != "scanner" || s.Health().State != daemon.StateStarting {
		t.Errorf("before start: %s %+v", s.Name(), s.Health())
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale page directory survived Start: %v", err)
	}
	if fi, err := os.Stat(s.opt.WorkDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("work dir %v %v", fi.Mode(), err)
	}
	if h := s.Health(); h.State != daemon.StateOK {
		t.Errorf("health %+v", h)
	}
	scanErr := make(chan error, 1)
	started := make(chan struct{})
	var once sync.Once
	go func() {
		_, err := s.Scan(context.Background(), ScanRequest{}, func(Progress) { once.Do(func() { close(started) }) })
		scanErr <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := <-scanErr; !errors.Is(err, Cancelled) {
		t.Errorf("scan during Stop: %v", err)
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, err := range []error{
		nil, Jammed, NoDocuments, &Error{Fault: NoDocuments, Pages: 2, Wanted: 3}, Busy, CoverOpen, WarmingUp,
		Absent, AccessDenied, Locked, NoFeeder, TooManyPages, Cancelled, context.DeadlineExceeded,
		ErrBadRequest, DeviceError, errors.New("anything else"),
	} {
		m := Explain(err)
		if m.Code == "" || m.VI == "" || m.EN == "" || m.VI == m.EN {
			t.Errorf("Explain(%v) = %+v", err, m)
		}
		seen[m.Code] = true
	}
	if len(seen) != 15 {
		t.Errorf("%d distinct codes: %v", len(seen), seen)
	}
}

func TestProgressOverall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Progress
		want float64
	}{
		{Progress{Stage: StageScanning, Page: 1, Pages: 2, Percent: 50}, 0.25},
		{Progress{Stage: StagePageScanned, Page: 1, Pages: 2}, 0.5},
		{Progress{Stage: StageScanning, Page: 2, Pages: 2, Percent: -1}, 0.5},
		{Progress{Stage: StageScanning, Page: 3, Pages: 0, Percent: 10}, -1},
		{Progress{Stage: StageBuildingPDF, Page: 3}, 1},
	}
	for _, tc := range tests {
		if got := tc.p.Overall(); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%+v.Overall() = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestFaultOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op, msg string
		code    int
		want    Fault
	}{
		{"read", "Document feeder jammed", 6, Jammed},
		{"start", "Document feeder out of documents", 7, NoDocuments},
		{"open", "Invalid argument", 1, Absent},
		{"open", "Error during device I/O", 9, Absent},
		{"open", "Device busy", 3, Busy},
		{"open", "Access to resource has been denied", 11, AccessDenied},
		{"read", "Lamp not ready, please retry", 12, WarmingUp},
		{"read", "", 13, Locked},
		{"read", "Invalid argument", 4, DeviceError},
		{"", "", 1, DeviceError},
		{"read", "Operation not supported", 1, DeviceError},
	}
	for _, tc := range tests {
		if got := faultOf(tc.op, tc.msg, tc.code); got != tc.want {
			t.Errorf("faultOf(%q, %q, %d) = %s, want %s", tc.op, tc.msg, tc.code, got, tc.want)
		}
	}
}

func TestEncodePageBudget(t *testing.T) {
	t.Parallel()
	// Noise is incompressible: no quality fits a tiny budget, and the page is
	// still delivered at the lowest quality rather than lost.
	noise := image.NewGray(image.Rect(0, 0, 300, 300))
	x := uint32(1)
	for i := range noise.Pix {
		x = x*1664525 + 1013904223
		noise.Pix[i] = byte(x >> 24)
	}
	tests := []struct {
		name        string
		budget      int
		wantQuality int
	}{
		{"roomy", 1 << 20, maxQuality},
		{"tight", 0, minQuality},
	}
	for _, tc := range tests {
		jpg, q, err := encodePage(noise, true, tc.budget)
		if err != nil || q != tc.wantQuality || len(jpg) == 0 {
			t.Errorf("%s: quality %d, %d bytes, %v", tc.name, q, len(jpg), err)
		}
	}
	// In between, the highest step that fits is chosen.
	at := map[int]int{}
	for q := minQuality; q <= maxQuality; q += qualityStep {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, noise, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		at[q] = b.Len()
	}
	jpg, q, err := encodePage(noise, true, at[40])
	if err != nil || q != 40 || len(jpg) != at[40] {
		t.Errorf("budget of quality 40's size chose quality %d (%d bytes), %v", q, len(jpg), err)
	}
	// A colour image asked for grey comes out single-channel.
	rgba := image.NewRGBA(image.Rect(0, 0, 8, 8))
	jpg, _, err = encodePage(rgba, true, 1<<20)
	if cfg, _ := jpeg.DecodeConfig(bytes.NewReader(jpg)); err != nil || cfg.ColorModel != color.GrayModel {
		t.Errorf("grey from colour: %v %v", cfg.ColorModel, err)
	}
}

// TestGreyOf checks the fast colour-to-grey loop against color.GrayModel.
func TestGreyOf(t *testing.T) {
	t.Parallel()
	m := image.NewRGBA(image.Rect(2, 3, 40, 30))
	x := uint32(7)
	for i := range m.Pix {
		x = x*1664525 + 1013904223
		m.Pix[i] = byte(x >> 24)
	}
	for i := 3; i < len(m.Pix); i += 4 {
		m.Pix[i] = 0xff // scans are opaque
	}
	g := greyOf(m)
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if want := color.GrayModel.Convert(m.At(x, y)).(color.Gray); g.GrayAt(x, y) != want {
				t.Fatalf("(%d,%d): %v, want %v", x, y, g.GrayAt(x, y), want)
			}
		}
	}
}

// TestPagesLeaveTheDiskAtOnce looks into the work directory each time a page
// is reported scanned: that page's file, and every earlier one, must already
// be gone, inside a directory only kioskd can enter.
func TestPagesLeaveTheDiskAtOnce(t *testing.T) {
	t.Parallel()
	s, _ := newSim(t, sanesim.Config{})
	checked := 0
	doc, err := s.Scan(context.Background(), ScanRequest{Source: Feeder, Pages: 3}, func(p Progress) {
		if p.Stage != StagePageScanned {
			return
		}
		checked++
		dirs, _ := filepath.Glob(filepath.Join(s.opt.WorkDir, scanDirPrefix+"*"))
		if len(dirs) != 1 {
			t.Errorf("page %d: scan directories %q", p.Page, dirs)
			return
		}
		if fi, err := os.Stat(dirs[0]); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("scan directory %v %v", fi.Mode(), err)
		}
		// scanimage runs ahead: later pages may be on disk, not yet
		// announced; this one and earlier ones must not.
		for n := 1; n <= p.Page; n++ {
			name := fmt.Sprintf(pageFilePattern, n)
			if _, err := os.Lstat(filepath.Join(dirs[0], name)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("page %d reported, %s still on disk (%v)", p.Page, name, err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	doc.Wipe()
	if checked != 3 {
		t.Errorf("checked %d pages", checked)
	}
	if doc.PDF != nil || doc.Pages != nil {
		t.Errorf("Wipe left %d PDF bytes and %d pages", len(doc.PDF), len(doc.Pages))
	}
}

// TestErrorThenHang: scanimage prints SANE's error and then never exits (the
// test backend's jam does this now and then). The scan ends with that error
// within seconds, not after the stall timeout.
func TestErrorThenHang(t *testing.T) {
	t.Parallel()
	real, err := exec.LookPath("scanimage")
	if err != nil {
		needScanimage(t)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "scanimage")
	// Anything but a scan goes to the real scanimage (device checks); a scan
	// reports a jam and hangs.
	script := "#!/bin/sh\ncase \"$*\" in *--format*|*--batch*) echo 'scanimage: sane_read: Document feeder jammed' >&2; exec sleep 60;; esac\nexec '" + real + "' \"$@\"\n"
	cmd := exec.Command("/bin/sh", "-c", `cat > "$1" && chmod 700 "$1"`, "sh", bin)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	s, _ := newSim(t, sanesim.Config{}, func(o *Options) { o.Scanimage = bin; o.StallTimeout = time.Minute })
	t0 := time.Now()
	_, err = s.Scan(context.Background(), ScanRequest{}, nil)
	if !errors.Is(err, Jammed) {
		t.Fatalf("scan error %v, want the jam scanimage reported", err)
	}
	if d := time.Since(t0); d > 15*time.Second {
		t.Errorf("the scan took %v to end after scanimage reported the jam", d)
	}
}
