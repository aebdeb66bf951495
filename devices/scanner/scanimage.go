package scanner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vnkiosk/kiosk/devices/scanner/pnm"
)

const (
	scanDirPrefix   = "scan-"
	pageFilePattern = "p%d.pnm"
	// drainTimeout bounds reading scanimage's output after it exited: a
	// backend helper process that inherited the pipes must not hold Scan.
	drainTimeout = time.Second
	// errorExitWait is how long scanimage may take to exit once it has
	// printed SANE's error, before it is stopped.
	errorExitWait = 2 * time.Second
	// maxQuickOutput bounds what a device listing or option dump may print.
	maxQuickOutput = 1 << 20
)

// job is one scanimage run, planned from the request and the device's options.
type job struct {
	args      []string
	dpi       int // what the device was asked for; scanimage reports rounding
	grey      bool
	feeder    bool
	prompt    bool // flatbed pages paced by ScanRequest.NextPage through --batch-prompt
	wantPages int  // 0: until the feeder is empty
}

// plan maps a request onto the device's own option names and values.
func (s *Scanner) plan(device string, caps capabilities, req ScanRequest) (job, error) {
	j := job{
		dpi:       req.DPI,
		grey:      !req.Colour,
		feeder:    req.Source == Feeder,
		prompt:    req.Source == Flatbed && req.Pages > 1 && req.NextPage != nil,
		wantPages: req.Pages,
	}
	count := req.Pages
	if count == 0 {
		// One more than allowed, to tell "too many" from "exactly MaxPages".
		count = s.opt.MaxPages + 1
	}
	args := []string{"--device-name=" + device, "--format=pnm", "--batch=" + pageFilePattern, "--batch-print", "--progress",
		"--batch-count=" + strconv.Itoa(count)}
	if j.prompt {
		args = append(args, "--batch-prompt")
	}
	// The source goes first: backends change other options' ranges by source.
	// A scanner without a source option (sheet-fed) takes either request.
	src, ok, err := caps.chooseSource(req.Source)
	if err != nil {
		return j, err
	}
	if ok {
		args = append(args, "--source="+src)
	}
	if mode, ok := caps.chooseMode(req.Colour); ok {
		args = append(args, "--mode="+mode)
	}
	if caps.hasValue("depth", "8") {
		args = append(args, "--depth=8") // 16-bit samples would only be thrown away
	}
	if dpi, ok := caps.chooseResolution(req.DPI); ok {
		j.dpi = dpi
		args = append(args, "--resolution="+strconv.Itoa(dpi))
	}
	// An A4 area from the top-left corner, within the bed.
	for _, o := range []string{"l", "t"} {
		if _, ok := caps.active(o); ok {
			args = append(args, "-"+o, "0")
		}
	}
	for _, g := range []struct {
		name string
		mm   float64
	}{{"x", a4WidthMM}, {"y", a4HeightMM}} {
		if m := caps.maxExtent(g.name); m > 0 {
			args = append(args, "-"+g.name, strconv.FormatFloat(min(g.mm, m), 'f', -1, 64))
		}
	}
	j.args = args
	return j, nil
}

type pageFile struct {
	n    int
	f    *os.File // already unlinked
	size int64
	dpi  int
}

type encoded struct {
	pages []Page
	err   error
}

// run runs scanimage for j and returns the encoded pages.
func (s *Scanner) run(ctx context.Context, j job, req ScanRequest, progress func(Progress)) (pages []Page, err error) {
	dir, err := os.MkdirTemp(s.opt.WorkDir, scanDirPrefix)
	if err != nil {
		return nil, &Error{Fault: DeviceError, Detail: "creating the private page directory", Err: err}
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			s.log.Error("could not remove the scan's page directory", "dir", filepath.Base(dir), "err", rmErr)
		}
	}()
	defer func() {
		if err != nil {
			wipePages(pages)
			pages = nil
		}
	}()

	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	cmd := s.command(runCtx, j.args...)
	cmd.Dir = dir
	// stdout (--batch-print's page names) and stderr (progress, errors) share
	// one pipe, so that events arrive in the order scanimage wrote them: a page
	// is announced before the next one starts. Our own pipe, not StdoutPipe, so
	// that Wait does not close it under the reader and a read deadline works.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, &Error{Fault: DeviceError, Detail: "creating a pipe", Err: err}
	}
	defer outR.Close()
	cmd.Stdout, cmd.Stderr = outW, outW
	var inW *os.File
	if j.prompt {
		inR, w, err := os.Pipe()
		if err != nil {
			outW.Close()
			return nil, &Error{Fault: DeviceError, Detail: "creating a pipe", Err: err}
		}
		inW, cmd.Stdin = w, inR
		defer inR.Close()
		defer inW.Close()
	}
	startErr := cmd.Start()
	outW.Close()
	if startErr != nil {
		return nil, startError(startErr)
	}

	events := make(chan event, 64)
	go func() {
		_ = scanLines(outR, func(l string) {
			if isPageFileLine(l) {
				events <- event{kind: evPageFile, file: l}
			} else {
				events <- parseStderr(l)
			}
		})
		events <- event{kind: evEOF}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	toEncode := make(chan pageFile, 2)
	encodedc := make(chan encoded, 1)
	go s.encodePages(toEncode, j.grey, encodedc, stopRun)
	// A backend that stops talking (a deadlock in its cancel path, a USB read
	// that never returns) would hold the kiosk forever: silence for
	// StallTimeout stops the run.
	stall := time.NewTimer(s.opt.StallTimeout)
	defer stall.Stop()
	// Once scanimage has printed SANE's error the outcome is known, but it
	// sometimes never exits after it (the test backend's jam, now and then):
	// errorExit bounds that wait.
	var errorExit <-chan time.Time

	var (
		reading   = true
		done      bool
		waitErr   error
		page      int
		announced int
		dpi       = j.dpi
		saneErr   event // the last SANE error scanimage printed
		signalled event // a signal scanimage reported receiving
		stalled   bool
		failure   error // ours: bad output, too many pages, NextPage gave up
		tail      []string
		cancelled = runCtx.Done()
	)
	fail := func(e error) {
		if failure == nil {
			failure = e
			stopRun(e)
		}
	}
	for reading || !done {
		select {
		case <-cancelled:
			cancelled = nil
			if inW != nil {
				inW.Close() // end a --batch-prompt wait at once
			}
		case <-stall.C:
			if !done && !stalled && runCtx.Err() == nil {
				stalled = true
				stopRun(errors.New("scanner stalled"))
			}
		case <-errorExit:
			errorExit = nil
			if !done && runCtx.Err() == nil {
				s.log.Warn("scanimage reported an error and did not exit; stopping it", "after", errorExitWait.String())
				stopRun(errors.New("scanimage did not exit after its error"))
			}
		case waitErr = <-exited:
			done = true
			_ = outR.SetReadDeadline(time.Now().Add(drainTimeout))
		case ev := <-events:
			stall.Reset(s.opt.StallTimeout)
			switch ev.kind {
			case evEOF:
				reading = false
			case evPageStart:
				// Reported with the first progress line: a feeder that turns out
				// empty starts a page that never comes.
				page = ev.page
			case evProgress:
				progress(Progress{Stage: StageScanning, Page: page, Pages: j.wantPages, Percent: ev.percent})
			case evPrompt:
				if inW == nil || runCtx.Err() != nil {
					break
				}
				if ev.page > 1 && req.NextPage != nil {
					// Waiting for the citizen is not the scanner stalling.
					stall.Stop()
					err := req.NextPage(runCtx, ev.page)
					stall.Reset(s.opt.StallTimeout)
					if err != nil {
						fail(&Error{Fault: Cancelled, Detail: fmt.Sprintf("stopped before page %d", ev.page),
							Pages: ev.page - 1, Wanted: j.wantPages, Err: err})
						inW.Close() // end of input: scanimage ends the batch
						break
					}
				}
				// A write error means scanimage is gone; its output says why.
				_, _ = inW.Write([]byte("\n"))
			case evSANEError:
				saneErr = ev
				if errorExit == nil {
					errorExit = time.After(errorExitWait)
				}
			case evSignal:
				signalled = ev
			case evRounded:
				if ev.option == "resolution" && ev.value >= 1 && ev.value <= 100000 {
					dpi = int(math.Round(ev.value))
				}
			case evOther:
				tail = append(tail[max(0, len(tail)-3):], ev.message)
			case evPageFile:
				if failure != nil || runCtx.Err() != nil {
					break // the directory goes, and the page with it
				}
				want := fmt.Sprintf(pageFilePattern, announced+1)
				if ev.file != want {
					fail(&Error{Fault: DeviceError, Detail: fmt.Sprintf("scanimage announced page file %q, expected %q", ev.file, want)})
					break
				}
				announced++
				if j.wantPages == 0 && announced > s.opt.MaxPages {
					fail(&Error{Fault: TooManyPages, Pages: s.opt.MaxPages,
						Detail: fmt.Sprintf("the feeder held more than %d pages", s.opt.MaxPages)})
					break
				}
				f, size, err := takePageFile(dir, want)
				if err != nil {
					fail(&Error{Fault: DeviceError, Detail: fmt.Sprintf("reading page %d", announced), Err: err})
					break
				}
				select {
				case toEncode <- pageFile{n: announced, f: f, size: size, dpi: dpi}:
				case <-runCtx.Done():
					f.Close()
				}
				progress(Progress{Stage: StagePageScanned, Page: announced, Pages: j.wantPages, Percent: 100})
			}
		}
	}
	close(toEncode)
	enc := <-encodedc
	pages = enc.pages
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL && runCtx.Err() != nil {
		s.log.Warn("scanimage did not stop on SIGINT within the grace period and was killed", "grace", s.opt.CancelGrace.String())
	}

	switch {
	case ctx.Err() != nil:
		return pages, &Error{Fault: Cancelled, Pages: announced, Wanted: j.wantPages, Err: ctx.Err()}
	case failure != nil:
		return pages, failure
	case enc.err != nil:
		return pages, enc.err
	}
	return pages, s.outcome(j, len(pages), outcome{
		waitErr: waitErr, saneErr: saneErr, signalled: signalled, stalled: stalled, tail: tail,
	})
}

// outcome is what scanimage's run said about itself.
type outcome struct {
	waitErr   error
	saneErr   event
	signalled event
	stalled   bool
	tail      []string
}

// outcome judges a finished run that scanned n pages. SANE's own message
// outranks the exit status: when a backend's helper thread writes to a pipe
// its cancel has closed, scanimage takes SIGPIPE twice and exits 0 — after
// having printed the real error.
func (s *Scanner) outcome(j job, n int, o outcome) error {
	var ee *exec.ExitError
	var ws syscall.WaitStatus
	if errors.As(o.waitErr, &ee) {
		ws, _ = ee.Sys().(syscall.WaitStatus)
	}
	mkErr := func(f Fault, op, detail string, cause error) error {
		return &Error{Fault: f, Op: op, Detail: detail, Pages: n, Wanted: j.wantPages, Err: cause}
	}
	var err error
	switch {
	case o.saneErr.kind == evSANEError:
		code := 0
		if ee != nil {
			code = ee.ExitCode()
		}
		detail := o.saneErr.message
		if o.stalled {
			detail += fmt.Sprintf("; then scanimage hung for %s and was stopped", s.opt.StallTimeout)
		}
		err = mkErr(faultOf(o.saneErr.op, o.saneErr.message, code), o.saneErr.op, detail, o.waitErr)
	case o.stalled:
		return mkErr(DeviceError, "", fmt.Sprintf("the scanner sent nothing for %s; scanimage was stopped", s.opt.StallTimeout), o.waitErr)
	case ws.Signaled():
		return mkErr(DeviceError, "", fmt.Sprintf("scanimage died of %s (a SANE backend crash?)", ws.Signal()), nil)
	case o.waitErr != nil && ee == nil:
		return mkErr(DeviceError, "", "waiting for scanimage", o.waitErr)
	case ee != nil:
		err = mkErr(faultOf("", "", ee.ExitCode()), "", strings.Join(o.tail, "; "), o.waitErr)
	case o.signalled.kind == evSignal && !(j.wantPages > 0 && n >= j.wantPages):
		// Every announced page file was complete, but were there more?
		return mkErr(DeviceError, "", fmt.Sprintf("scanimage stopped on signal %d before finishing", o.signalled.page), nil)
	}
	var se *Error
	// A feeder scan of "every page" ends when the feeder is empty.
	if errors.As(err, &se) && !(se.Fault == NoDocuments && j.feeder && j.wantPages == 0 && n > 0) {
		return err
	}
	short := n == 0 || (j.wantPages > 0 && n < j.wantPages)
	switch {
	case short && j.feeder:
		return mkErr(NoDocuments, "", "the feeder ran out", nil)
	case short:
		return mkErr(DeviceError, "", "scanimage ended without all the pages", nil)
	}
	return nil
}

// isPageFileLine reports whether a line of scanimage's output is a page file
// name as --batch-print prints it for --batch=p%d.pnm.
func isPageFileLine(l string) bool {
	digits, ok := strings.CutPrefix(l, "p")
	digits, ok2 := strings.CutSuffix(digits, ".pnm")
	if !ok || !ok2 || digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// command prepares a scanimage run: its environment, its own process group
// (a terminal's Ctrl+C would otherwise reach it as the first of the two
// signals after which scanimage exits without stopping the scanner), death
// with kioskd (a hung backend must not outlive it; the signal is tied to the
// forking OS thread, which the Go runtime only retires for locked goroutines,
// and none starts scans), and cancel as SIGINT then, after CancelGrace, SIGKILL.
func (s *Scanner) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.opt.Scanimage, args...)
	cmd.Env = s.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = s.opt.CancelGrace
	return cmd
}

// takePageFile opens a finished page file and unlinks it at once: from then on
// the page is only an open descriptor, gone from the disk when it is closed.
func takePageFile(dir, name string) (*os.File, int64, error) {
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, err
	}
	rmErr := os.Remove(p)
	fi, err := f.Stat()
	switch {
	case rmErr != nil:
		err = rmErr
	case err == nil && !fi.Mode().IsRegular():
		err = fmt.Errorf("%s is not a regular file", name)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// encodePages decodes and encodes pages in order while scanimage scans the
// next, so a feeder scan is not held up by JPEG encoding. After the first
// failure it stops the run and only closes what it is handed.
func (s *Scanner) encodePages(in <-chan pageFile, grey bool, out chan<- encoded, stopRun context.CancelCauseFunc) {
	var res encoded
	for pf := range in {
		if res.err == nil {
			p, err := s.encodeFile(pf, grey)
			if err != nil {
				res.err = err
				stopRun(err)
			} else {
				res.pages = append(res.pages, p)
			}
		}
		pf.f.Close()
	}
	out <- res
}

func (s *Scanner) encodeFile(pf pageFile, grey bool) (Page, error) {
	br := bufio.NewReaderSize(pf.f, 256<<10)
	h, err := pnm.ReadHeader(br)
	if err != nil {
		return Page{}, &Error{Fault: DeviceError, Detail: fmt.Sprintf("page %d is not an image", pf.n), Pages: pf.n - 1, Err: err}
	}
	if want := int64(h.Size) + h.RasterBytes(); pf.size != want {
		return Page{}, &Error{Fault: DeviceError, Pages: pf.n - 1,
			Detail: fmt.Sprintf("page %d is %d bytes where its %dx%d header promises %d: the scan was cut short", pf.n, pf.size, h.Width, h.Height, want)}
	}
	m, err := pnm.DecodeRaster(br, h, maxPagePixels)
	if err != nil {
		return Page{}, &Error{Fault: DeviceError, Detail: fmt.Sprintf("page %d", pf.n), Pages: pf.n - 1, Err: err}
	}
	jpg, q, err := encodePage(m, grey, pageBudget(s.opt.PageBudget, h.Width*h.Height))
	if err != nil {
		return Page{}, &Error{Fault: DeviceError, Detail: fmt.Sprintf("page %d", pf.n), Pages: pf.n - 1, Err: err}
	}
	if q < maxQuality {
		s.log.Debug("page compressed below the default quality to fit its budget", "page", pf.n, "quality", q, "bytes", len(jpg))
	}
	return Page{JPEG: jpg, Width: h.Width, Height: h.Height, DPI: pf.dpi, Colour: !grey && h.Channels() == 3, Quality: q}, nil
}

// runQuick runs a short scanimage command (device list, option dump) to the
// end and returns its output; a failure is classified like a scan's.
func (s *Scanner) runQuick(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := s.command(ctx, args...)
	var o, e cappedBuffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	stdout, stderr = o.String(), e.String()
	if err == nil {
		return stdout, stderr, nil
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return stdout, stderr, &Error{Fault: DeviceError, Detail: "scanimage did not answer in time", Err: ctx.Err()}
	case !errors.As(err, &ee):
		return stdout, stderr, startError(err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return stdout, stderr, &Error{Fault: DeviceError, Detail: fmt.Sprintf("scanimage died of %s (a SANE backend crash?)", ws.Signal())}
	}
	var last event
	for _, l := range strings.Split(stderr, "\n") {
		if ev := parseStderr(l); ev.kind == evSANEError {
			last = ev
		}
	}
	detail := last.message
	if detail == "" {
		detail = lastLine(stderr)
	}
	return stdout, stderr, &Error{Fault: faultOf(last.op, last.message, ee.ExitCode()), Op: last.op, Detail: detail, Err: err}
}

// startError classifies a failure to run scanimage at all.
func startError(err error) error {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return &Error{Fault: Absent, Detail: "scanimage is not installed (Debian package sane-utils)", Err: err}
	}
	return &Error{Fault: DeviceError, Detail: "starting scanimage", Err: err}
}

// saneMessages are sane_strstatus texts (C locale) and the faults they mean.
var saneMessages = map[string]Fault{
	"Document feeder jammed":                 Jammed,
	"Document feeder out of documents":       NoDocuments,
	"Device busy":                            Busy,
	"Scanner cover is open":                  CoverOpen,
	"Access to resource has been denied":     AccessDenied,
	"Operation was canceled":                 Cancelled,
	"Lamp not ready, please retry":           WarmingUp,
	"Scanner mechanism locked for transport": Locked,
}

// saneStatuses are SANE status codes, which scanimage exits with after a failed
// sane_start or sane_read, and the faults they mean.
var saneStatuses = map[int]Fault{
	2: Cancelled, 3: Busy, 6: Jammed, 7: NoDocuments, 8: CoverOpen, 9: DeviceError, 10: DeviceError,
	11: AccessDenied, 12: WarmingUp, 13: Locked,
}

// faultOf classifies a failed scanimage run from the last SANE error it printed
// (op and message) and its exit code. The message decides when it is known: exit
// code 1 is both SANE_STATUS_UNSUPPORTED and scanimage's own failures. A failed
// open that is not busy or denied means the device is not there.
func faultOf(op, message string, exitCode int) Fault {
	f, ok := saneMessages[message]
	if !ok {
		f, ok = saneStatuses[exitCode]
	}
	if !ok {
		f = DeviceError
	}
	if op == "open" && f != Busy && f != AccessDenied {
		return Absent
	}
	return f
}

// cappedBuffer keeps the first maxQuickOutput bytes written to it and drops
// the rest, so a runaway backend cannot fill memory.
type cappedBuffer struct{ b bytes.Buffer }

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := maxQuickOutput - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string { return c.b.String() }
