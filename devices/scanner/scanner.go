// Package scanner owns the kiosk's document scanner: it finds the SANE device and
// reports its health to the daemon, scans grey or colour pages from the flatbed
// or the document feeder with progress and cancel, turns SANE's faults (jam,
// empty feeder, busy, cover open, no device) into typed errors with a Vietnamese
// and English sentence saying what to do, and delivers the pages as JPEG within
// an upload budget inside an A4 PDF.
//
// It drives SANE by running scanimage, not by linking libsane through cgo. A
// SANE backend is vendor C code talking to USB hardware, and it fails in ways
// Go cannot contain: even the test backend segfaults when configured with no
// devices, now and then deadlocks in its cancel path (a reader thread cancelled
// inside free), and raises SIGPIPE in its own process. In a child process a
// crash is an exit status and a hang is a stall timeout and a kill; inside
// kioskd either would take the card reader, payments and queue down with it,
// and a sane_read blocked in C cannot be interrupted from Go. Cancelling is two
// signals: SIGINT, on which scanimage calls sane_cancel so the feeder stops and
// the device is released, then SIGKILL if it has not exited after a grace
// period. kioskd also keeps SANE's process-wide rules (one sane_init, no
// concurrent calls) and its backends' threads out of its address space and its
// systemd sandbox. The price is text: progress and errors are parsed from
// scanimage's output, run under LC_ALL=C because SANE translates its
// messages, and the parsers are fuzzed.
//
// The other price is that scanimage writes feeder pages to files (batch mode
// has no pipe output). They go to a fresh 0700 directory under
// Options.WorkDir, which belongs inside the state directory; each page is opened
// and unlinked the moment scanimage announces it complete, decoded from the
// open descriptor, and the directory is removed whatever the outcome. From then
// on pages exist only in memory, as JPEG, so nothing needs encrypting at rest.
package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// Options configure a Scanner.
type Options struct {
	// Device is the SANE device: a full name as `scanimage -L` lists it
	// ("epson2:libusb:001:004") pins one device, but USB names change when the
	// scanner is re-plugged or moved to another port; a backend name alone
	// ("epson2") means that backend's first device and survives both. "test"
	// or "test:0" is the simulator (package sanesim). "" means the kiosk has no
	// scanner: health is absent and Scan fails with Absent.
	Device string
	// WorkDir is the scanner's private directory inside the state directory,
	// e.g. /var/lib/kioskd/scan: created 0700, scanimage's page files live here
	// for milliseconds.
	WorkDir string
	// ConfigDir, when set, is the SANE configuration directory scanimage reads
	// (SANE_CONFIG_DIR) instead of /etc/sane.d. A kiosk image can ship one whose
	// dll.conf names only its scanner's backend, which keeps device listing
	// local and fast; the simulator (package sanesim) writes one.
	ConfigDir string
	Log       *slog.Logger

	// Scanimage is the scanimage binary (default: found on PATH).
	Scanimage string
	// PageBudget is the JPEG byte budget of a page up to A4 at 150 dpi
	// (default DefaultPageBudget); pages with more pixels get proportionally
	// more.
	PageBudget int
	// MaxPages bounds one feeder scan (default 50): a backend that never reports
	// an empty feeder must not fill memory.
	MaxPages int
	// CheckInterval is how often health is rechecked while the scanner is
	// present (default 30s); while it is absent or failing, every 5s or
	// CheckInterval if shorter, so it is found soon after it is plugged back.
	CheckInterval time.Duration
	// ProbeTimeout bounds one presence check (default 20s; listing devices with
	// network backends enabled takes seconds).
	ProbeTimeout time.Duration
	// CancelGrace is how long scanimage gets to stop the scanner after SIGINT
	// before it is killed (default 5s).
	CancelGrace time.Duration
	// StallTimeout stops a scan during which scanimage has printed nothing for
	// this long (default 90s, above the warm-up of a cold CCFL lamp). Waiting
	// in ScanRequest.NextPage does not count.
	StallTimeout time.Duration
}

// Defaults for Options.
const (
	// DefaultPageBudget keeps a one-page PDF of an A4 page at 150 dpi within
	// 300 kB, what upload forms take: the JPEG gets 298 kB, and the page's PDF
	// objects the rest.
	DefaultPageBudget    = 298_000
	DefaultMaxPages      = 50
	DefaultCheckInterval = 30 * time.Second
	DefaultProbeTimeout  = 20 * time.Second
	DefaultCancelGrace   = 5 * time.Second
	DefaultStallTimeout  = 90 * time.Second
	absentRecheck        = 5 * time.Second
)

// Source is where the pages come from.
type Source string

// Sources.
const (
	Flatbed Source = "flatbed"
	Feeder  Source = "adf" // automatic document feeder
)

// ScanRequest says what to scan.
type ScanRequest struct {
	// Pages is how many pages to scan. On the flatbed, 0 means 1. From the
	// feeder, 0 means every page in it (up to Options.MaxPages), and N > 0
	// means exactly N: a feeder that runs out earlier is a NoDocuments error.
	Pages int
	// DPI is the resolution: 150 (default) or 300 for documents; 75 to 600 are
	// accepted, and the nearest one the scanner offers is used.
	DPI    int
	Colour bool   // false: grey, which is smaller and what forms ask for
	Source Source // default Flatbed
	// NextPage, for a flatbed scan of several pages, is called before each
	// page after the first and returns once the next page is on the glass (the
	// screen's "Tiếp tục / Continue" button). An error ends the scan as
	// Cancelled. nil scans the pages back to back.
	NextPage func(ctx context.Context, page int) error
}

// Stage is where a scan is.
type Stage string

// Stages, in order; scanning and page_scanned repeat for each page.
const (
	StageScanning    Stage = "scanning"     // Percent of Page is known
	StagePageScanned Stage = "page_scanned" // Page is complete
	StageBuildingPDF Stage = "building_pdf"
)

// Progress is one progress report. Reports come from the goroutine that called
// Scan, in order.
type Progress struct {
	Stage   Stage
	Page    int     // 1-based
	Pages   int     // requested; 0 when scanning until the feeder is empty
	Percent float64 // of Page, 0..100; -1 when the scanner cannot tell (hand scanners)
}

// Overall is the fraction of the whole scan done, 0..1, or -1 when the page
// count is not known in advance.
func (p Progress) Overall() float64 {
	switch {
	case p.Stage == StageBuildingPDF:
		return 1
	case p.Pages <= 0 || p.Page <= 0:
		return -1
	}
	pct := max(p.Percent, 0)
	if p.Stage == StagePageScanned {
		pct = 100
	}
	return min((float64(p.Page-1)+pct/100)/float64(p.Pages), 1)
}

// Scanner is the document scanner as a daemon subsystem.
type Scanner struct {
	opt  Options
	log  *slog.Logger
	slot chan struct{} // one scan at a time

	mu       sync.Mutex
	device   string
	presence daemon.Health // from the last presence check or scan
	fault    string        // a device fault the last scan hit (jam, cover), until a scan succeeds
	caps     capabilities  // nil until probed; dropped when the device goes away
	scanning bool
	stopScan context.CancelFunc // cancels the scan in progress, for Stop

	recheck chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

var _ daemon.Subsystem = (*Scanner)(nil)

// New returns a Scanner. It does not touch the device; Start or Scan do.
func New(opt Options) (*Scanner, error) {
	if opt.WorkDir == "" {
		return nil, errors.New("scanner: Options.WorkDir is required (a private directory inside the state directory)")
	}
	if !filepath.IsAbs(opt.WorkDir) {
		return nil, fmt.Errorf("scanner: Options.WorkDir %q must be absolute", opt.WorkDir)
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opt.Scanimage == "" {
		opt.Scanimage = "scanimage"
	}
	if opt.PageBudget <= 0 {
		opt.PageBudget = DefaultPageBudget
	}
	if opt.MaxPages <= 0 {
		opt.MaxPages = DefaultMaxPages
	}
	if opt.CheckInterval <= 0 {
		opt.CheckInterval = DefaultCheckInterval
	}
	if opt.ProbeTimeout <= 0 {
		opt.ProbeTimeout = DefaultProbeTimeout
	}
	if opt.CancelGrace <= 0 {
		opt.CancelGrace = DefaultCancelGrace
	}
	if opt.StallTimeout <= 0 {
		opt.StallTimeout = DefaultStallTimeout
	}
	return &Scanner{
		opt:      opt,
		log:      opt.Log.With("subsystem", "scanner"),
		slot:     make(chan struct{}, 1),
		device:   opt.Device,
		presence: daemon.Health{State: daemon.StateStarting},
		recheck:  make(chan struct{}, 1),
	}, nil
}

// Name implements daemon.Subsystem.
func (s *Scanner) Name() string { return "scanner" }

// Start implements daemon.Subsystem: it clears page files a crash may have left,
// checks for the device once, and keeps checking in the background. A missing
// scanner is reported by Health, not by an error: the kiosk serves without one.
func (s *Scanner) Start(ctx context.Context) error {
	if err := s.prepareWorkDir(); err != nil {
		return err
	}
	s.Check(ctx)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan struct{})
	go s.checkLoop(lctx)
	return nil
}

// prepareWorkDir creates the work directory 0700 and removes scan directories
// left behind if kioskd was killed mid-scan.
func (s *Scanner) prepareWorkDir() error {
	if err := os.MkdirAll(s.opt.WorkDir, 0o700); err != nil {
		return fmt.Errorf("scanner: work dir: %w", err)
	}
	if err := os.Chmod(s.opt.WorkDir, 0o700); err != nil {
		return fmt.Errorf("scanner: work dir: %w", err)
	}
	stale, _ := filepath.Glob(filepath.Join(s.opt.WorkDir, scanDirPrefix+"*"))
	for _, d := range stale {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("scanner: remove pages left by an earlier run: %w", err)
		}
		s.log.Warn("removed pages left by an interrupted scan", "dir", filepath.Base(d))
	}
	return nil
}

// Stop implements daemon.Subsystem. A scan in progress may finish while there
// is time to spare; then it is cancelled — scanimage stops the feeder and
// releases the device — early enough to end before ctx's deadline, and its
// pages are dropped.
func (s *Scanner) Stop(ctx context.Context) error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	finish := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		finish, cancel = context.WithDeadline(ctx, dl.Add(-s.opt.CancelGrace-time.Second))
		defer cancel()
	}
	if s.idle(finish) {
		s.markStopped()
		return nil
	}
	s.mu.Lock()
	if s.stopScan != nil {
		s.stopScan()
	}
	s.mu.Unlock()
	if !s.idle(ctx) {
		return fmt.Errorf("scanner: the scan in progress did not stop: %w", ctx.Err())
	}
	s.log.Warn("scan in progress cancelled to stop the daemon")
	s.markStopped()
	return nil
}

func (s *Scanner) markStopped() {
	s.mu.Lock()
	s.presence, s.fault = daemon.Health{State: daemon.StateStopped}, ""
	s.mu.Unlock()
}

// idle waits until no scan runs, or ctx ends.
func (s *Scanner) idle(ctx context.Context) bool {
	select {
	case s.slot <- struct{}{}:
		<-s.slot
		return true
	case <-ctx.Done():
		return false
	}
}

// Health implements daemon.Subsystem. It never blocks on the device: it reports
// the last check, which runs in the background.
func (s *Scanner) Health() daemon.Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.presence.State == daemon.StateOK && s.fault != "" {
		return daemon.Health{State: daemon.StateDegraded, Reason: s.fault}
	}
	return s.presence
}

// SetDevice switches to another SANE device (a configuration reload) and
// rechecks at once.
func (s *Scanner) SetDevice(device string) {
	s.mu.Lock()
	s.device, s.caps, s.fault = device, nil, ""
	s.presence = daemon.Health{State: daemon.StateStarting}
	s.mu.Unlock()
	select {
	case s.recheck <- struct{}{}:
	default:
	}
}

func (s *Scanner) checkLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTimer(s.nextCheck())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.recheck:
			t.Stop()
		}
		s.Check(ctx)
		t.Reset(s.nextCheck())
	}
}

func (s *Scanner) nextCheck() time.Duration {
	if s.Health().State == daemon.StateOK {
		return s.opt.CheckInterval
	}
	return min(absentRecheck, s.opt.CheckInterval)
}

// Check looks for the device now and returns the resulting health. It does not
// open a device SANE lists (opening wakes some scanners up); it opens one SANE
// does not list, because some backends (net, test without dll.conf) only answer
// to their name. While a scan runs, the scan itself is the evidence.
func (s *Scanner) Check(ctx context.Context) daemon.Health {
	s.mu.Lock()
	device, scanning := s.device, s.scanning
	s.mu.Unlock()
	if scanning {
		return s.Health()
	}
	var h daemon.Health
	var caps capabilities
	switch {
	case device == "":
		h = daemon.Health{State: daemon.StateAbsent, Reason: "no scanner configured (devices.scanner.device)"}
	default:
		pctx, cancel := context.WithTimeout(ctx, s.opt.ProbeTimeout)
		h, caps = s.probe(pctx, device)
		cancel()
		if ctx.Err() != nil {
			return s.Health() // shutting down: not news about the device
		}
	}
	s.mu.Lock()
	if s.device == device && !s.scanning {
		if h.State != s.presence.State || h.Reason != s.presence.Reason {
			s.log.Info("scanner health changed", "device", device, "state", string(h.State), "reason", h.Reason)
		}
		s.presence = h
		if h.State == daemon.StateAbsent {
			s.caps, s.fault = nil, "" // a replugged scanner starts afresh
		}
		if caps != nil {
			s.caps = caps
		}
	}
	s.mu.Unlock()
	return s.Health()
}

// probe lists SANE's devices and, if device is not among them, tries to open it.
func (s *Scanner) probe(ctx context.Context, device string) (daemon.Health, capabilities) {
	out, _, err := s.runQuick(ctx, "-f", "%d%n")
	if err != nil {
		var se *Error
		if errors.As(err, &se) && se.Fault == Absent {
			return daemon.Health{State: daemon.StateAbsent, Reason: se.Detail}, nil
		}
		return daemon.Health{State: daemon.StateDegraded, Reason: "listing SANE devices failed: " + err.Error()}, nil
	}
	for _, name := range strings.Split(out, "\n") {
		if listedAs(device, strings.TrimSpace(name)) {
			return daemon.Health{State: daemon.StateOK}, nil
		}
	}
	caps, err := s.probeCapabilities(ctx, device)
	if err == nil {
		return daemon.Health{State: daemon.StateOK}, caps
	}
	return healthOf(err), nil
}

// listedAs reports whether SANE's device list entry name is the configured
// device: the same name, or the first device of a backend named alone
// ("test" opens "test:0").
func listedAs(device, name string) bool {
	return name != "" && (name == device || (!strings.Contains(device, ":") && strings.HasPrefix(name, device+":")))
}

// healthOf maps a failed probe or scan onto the device's health.
func healthOf(err error) daemon.Health {
	var se *Error
	if !errors.As(err, &se) {
		return daemon.Health{State: daemon.StateDegraded, Reason: err.Error()}
	}
	switch se.Fault {
	case Absent:
		return daemon.Health{State: daemon.StateAbsent, Reason: "scanner not found: " + se.Detail}
	case Busy:
		return daemon.Health{State: daemon.StateDegraded, Reason: "scanner in use by another program"}
	case AccessDenied:
		return daemon.Health{State: daemon.StateDegraded, Reason: "access to the scanner denied: is kioskd in the scanner group?"}
	}
	return daemon.Health{State: daemon.StateDegraded, Reason: se.Error()}
}

// probeCapabilities opens the device and reads its options.
func (s *Scanner) probeCapabilities(ctx context.Context, device string) (capabilities, error) {
	out, stderr, err := s.runQuick(ctx, "--device-name="+device, "-A")
	if err != nil {
		return nil, err
	}
	caps := parseCapabilities(out)
	if len(caps) == 0 {
		return nil, &Error{Fault: DeviceError, Op: "open", Detail: "scanimage -A listed no options: " + lastLine(stderr)}
	}
	return caps, nil
}

// capabilities returns the device's options, probing them on first use.
func (s *Scanner) capabilities(ctx context.Context, device string) (capabilities, error) {
	s.mu.Lock()
	caps := s.caps
	s.mu.Unlock()
	if caps != nil {
		return caps, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.ProbeTimeout)
	defer cancel()
	caps, err := s.probeCapabilities(ctx, device)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.device == device {
		s.caps = caps
	}
	s.mu.Unlock()
	return caps, nil
}

// Scan scans the pages req asks for and returns them with their PDF. progress,
// if not nil, is called from this goroutine as the scan advances. On any error,
// cancel included, every page already scanned is wiped and nothing is left in
// the work directory. Scans are serialised: a second caller waits its turn (or
// until its ctx ends).
func (s *Scanner) Scan(ctx context.Context, req ScanRequest, progress func(Progress)) (*Document, error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	req, err := s.normalise(req)
	if err != nil {
		return nil, err
	}
	select {
	case s.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, &Error{Fault: Cancelled, Detail: "waiting for the scan before", Err: ctx.Err()}
	}
	defer func() { <-s.slot }()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	device := s.device
	s.scanning, s.stopScan = true, cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.scanning, s.stopScan = false, nil
		s.mu.Unlock()
	}()

	t0 := time.Now()
	doc, err := s.scan(ctx, device, req, progress)
	s.noteResult(device, err)
	log := s.log.With("device", device, "source", string(req.Source), "dpi", req.DPI, "colour", req.Colour, "ms", time.Since(t0).Milliseconds())
	if err != nil {
		log.Warn("scan failed", "result", Explain(err).Code, "err", err)
		return nil, err
	}
	log.Info("scan done", "pages", len(doc.Pages), "pdf_bytes", len(doc.PDF))
	return doc, nil
}

func (s *Scanner) normalise(req ScanRequest) (ScanRequest, error) {
	if req.Source == "" {
		req.Source = Flatbed
	}
	if req.DPI == 0 {
		req.DPI = 150
	}
	switch {
	case req.Source != Flatbed && req.Source != Feeder:
		return req, fmt.Errorf("%w: source %q is neither %q nor %q", ErrBadRequest, req.Source, Flatbed, Feeder)
	case req.DPI < 75 || req.DPI > 600:
		return req, fmt.Errorf("%w: %d dpi is outside 75..600", ErrBadRequest, req.DPI)
	case req.Pages < 0 || req.Pages > s.opt.MaxPages:
		return req, fmt.Errorf("%w: %d pages; between 0 and %d", ErrBadRequest, req.Pages, s.opt.MaxPages)
	}
	if req.Source == Flatbed && req.Pages == 0 {
		req.Pages = 1
	}
	return req, nil
}

func (s *Scanner) scan(ctx context.Context, device string, req ScanRequest, progress func(Progress)) (*Document, error) {
	if device == "" {
		return nil, &Error{Fault: Absent, Detail: "no scanner configured"}
	}
	if err := s.prepareWorkDir(); err != nil {
		return nil, err
	}
	caps, err := s.capabilities(ctx, device)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &Error{Fault: Cancelled, Err: ctx.Err()}
		}
		return nil, err
	}
	j, err := s.plan(device, caps, req)
	if err != nil {
		return nil, err
	}
	pages, err := s.run(ctx, j, req, progress)
	if err != nil {
		return nil, err
	}
	progress(Progress{Stage: StageBuildingPDF, Page: len(pages), Pages: req.Pages, Percent: 100})
	pdf, err := buildPDF(pages, time.Now())
	if err != nil {
		wipePages(pages)
		return nil, &Error{Fault: DeviceError, Detail: "building the PDF", Err: err}
	}
	return &Document{Pages: pages, PDF: pdf}, nil
}

// noteResult folds a scan's outcome into health: a scan is the best evidence of
// presence there is.
func (s *Scanner) noteResult(device string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.device != device {
		return
	}
	var se *Error
	switch {
	case err == nil:
		s.presence, s.fault = daemon.Health{State: daemon.StateOK}, ""
	case !errors.As(err, &se):
	case se.Fault == Absent:
		s.presence, s.caps, s.fault = healthOf(err), nil, ""
	case se.Fault == AccessDenied:
		s.presence = healthOf(err)
	case se.Fault == Jammed, se.Fault == CoverOpen, se.Fault == Locked, se.Fault == DeviceError:
		s.fault = "last scan failed: " + se.Error()
	}
}

func wipePages(pages []Page) {
	for i := range pages {
		clear(pages[i].JPEG)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// env is scanimage's environment: kioskd's, with the SANE configuration
// directory and the C locale, since its messages are parsed.
func (s *Scanner) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "LANG" || k == "LANGUAGE" || k == "SANE_CONFIG_DIR" || strings.HasPrefix(k, "LC_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C")
	if s.opt.ConfigDir != "" {
		env = append(env, "SANE_CONFIG_DIR="+s.opt.ConfigDir)
	}
	return env
}

// Attachment implements daemon.Device: the SANE device name.
func (s *Scanner) Attachment() string {
	if s.opt.ConfigDir != "" {
		return fmt.Sprintf("SANE %q (config %s)", s.opt.Device, s.opt.ConfigDir)
	}
	return fmt.Sprintf("SANE %q", s.opt.Device)
}
