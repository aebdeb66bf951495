package selftest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/printer"
	"github.com/vnkiosk/kiosk/devices/printer/escpos"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/devices/printer/printersim"
	"github.com/vnkiosk/kiosk/devices/scanner"
	"github.com/vnkiosk/kiosk/devices/scanner/sanesim"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

var healthOK = daemon.Health{State: daemon.StateOK}

// fakeCard is a reader whose card answers every command with resp, or err.
type fakeCard struct {
	h      daemon.Health
	noCard bool
	resp   []byte
	err    error
	sent   [][]byte
}

func (c *fakeCard) Health() daemon.Health { return c.h }

type transportFunc func(ctx context.Context, cmd []byte) ([]byte, error)

func (f transportFunc) Transmit(ctx context.Context, cmd []byte) ([]byte, error) { return f(ctx, cmd) }

func (c *fakeCard) Transact(ctx context.Context, fn func(context.Context, iso7816.Transport) error) error {
	if c.noCard {
		return fmt.Errorf("%w (readers: 1 matching)", idcard.ErrNoCard)
	}
	return fn(ctx, transportFunc(func(_ context.Context, cmd []byte) ([]byte, error) {
		c.sent = append(c.sent, cmd)
		return c.resp, c.err
	}))
}

func TestCheckCardReader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		card         *fakeCard
		status       Status
		reason, hint string
		apdus        int
	}{
		{name: "absent", card: &fakeCard{h: daemon.Health{State: daemon.StateAbsent, Reason: `no reader matches "ACS*"`}},
			status: Fail, reason: `no card reader found (no reader matches "ACS*")`, hint: "check the USB cable; pcscd running?"},
		{name: "pcscd down", card: &fakeCard{h: daemon.Health{State: daemon.StateDegraded, Reason: "the smart card service (pcscd) is not running"}},
			status: Fail, reason: "not reachable", hint: "systemctl start pcscd"},
		{name: "no card", card: &fakeCard{h: healthOK, noCard: true}, status: OK, reason: "reader present; no card on it"},
		{name: "chip ID card", card: &fakeCard{h: healthOK, resp: []byte{0x90, 0x00}}, status: OK, reason: "the card on it answered (SELECT eMRTD application: 9000)", apdus: 1},
		{name: "other card", card: &fakeCard{h: healthOK, resp: []byte{0x6A, 0x82}}, status: Warn, reason: "not a chip ID card", hint: "CCCD", apdus: 1},
		{name: "odd answer", card: &fakeCard{h: healthOK, resp: []byte{0x6F, 0x00}}, status: Warn, reason: "with 6F00", hint: "replace the reader", apdus: 1},
		{name: "mute card", card: &fakeCard{h: healthOK, err: errors.New("pcsc: transmit: the card is not responding")}, status: Fail,
			reason: "did not answer: ", hint: "lay the card flat", apdus: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want(t, CheckCardReader(tc.card).Run(context.Background()), tc.status, tc.reason, tc.hint)
			if len(tc.card.sent) != tc.apdus {
				t.Fatalf("%d APDUs sent, want %d", len(tc.card.sent), tc.apdus)
			}
			// SELECT by AID, no answer data asked for: nothing personal crosses.
			if tc.apdus > 0 && hex.EncodeToString(tc.card.sent[0]) != "00a4040c07a0000002471001" {
				t.Errorf("sent %X; want SELECT of the eMRTD application", tc.card.sent[0])
			}
		})
	}
}

// fakePrinter queues nothing: a submitted ticket is answered with the
// scripted events, after an event about another job.
type fakePrinter struct {
	h         daemon.Health
	submitErr error
	events    []printer.Event

	mu        sync.Mutex
	subs      []chan printer.Event
	submitted int
}

func (p *fakePrinter) Health() daemon.Health { return p.h }

func (p *fakePrinter) Events() (<-chan printer.Event, func()) {
	ch := make(chan printer.Event, 16)
	p.mu.Lock()
	p.subs = append(p.subs, ch)
	p.mu.Unlock()
	return ch, func() {}
}

func (p *fakePrinter) Submit(_ context.Context, page layout.Page) (string, error) {
	if p.submitErr != nil {
		return "", p.submitErr
	}
	if len(page.Blocks) == 0 {
		return "", errors.New("empty page")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.submitted++
	for _, ch := range p.subs {
		ch <- printer.Event{Kind: printer.EventJobPrinted, JobID: "other-job"}
		for _, ev := range p.events {
			if ev.JobID == "" && ev.Kind != printer.EventDisconnected {
				ev.JobID = "job-1"
			}
			ch <- ev
		}
	}
	return "job-1", nil
}

func TestCheckPrinter(t *testing.T) {
	t.Parallel()
	configured := Presence{Configured: true, Required: true, Key: "devices.printer.uri"}
	page := TestPage("KIOSK-1", time.Now())
	for _, tc := range []struct {
		name         string
		p            *fakePrinter
		pres         Presence
		status       Status
		reason, hint string
		submitted    int
	}{
		{name: "not configured", p: &fakePrinter{}, pres: Presence{Required: true, Key: "devices.printer.uri"}, status: Fail, reason: "not configured (devices.printer.uri)", hint: "set devices.printer.uri"},
		{name: "unreachable", p: &fakePrinter{h: daemon.Health{State: daemon.StateAbsent, Reason: "printer not reachable at tcp://127.0.0.1:9: connection refused"}},
			pres: configured, status: Fail, reason: "printer not reachable at tcp://127.0.0.1:9", hint: "power and cable"},
		{name: "paper end", p: &fakePrinter{h: daemon.Health{State: daemon.StateDegraded, Reason: "paper end"}}, pres: configured, status: Fail, reason: "paper end", hint: "load a paper roll"},
		{name: "cover open", p: &fakePrinter{h: daemon.Health{State: daemon.StateDegraded, Reason: "cover open; 2 ticket(s) waiting"}}, pres: configured, status: Fail, reason: "cover open", hint: "close the printer cover"},
		{name: "printed", p: &fakePrinter{h: healthOK, events: []printer.Event{{Kind: printer.EventJobPrinting}, {Kind: printer.EventJobPrinted}}},
			pres: configured, status: OK, reason: "test ticket printed", submitted: 1},
		{name: "paper near end", p: &fakePrinter{h: daemon.Health{State: daemon.StateDegraded, Reason: "paper near end"}, events: []printer.Event{{Kind: printer.EventJobPrinted}}},
			pres: configured, status: Warn, reason: "test ticket printed; paper near end", hint: "load a new paper roll soon", submitted: 1},
		{name: "ran near end while printing", p: &fakePrinter{h: healthOK, events: []printer.Event{{Kind: printer.EventJobPrinted, Status: escpos.Status{PaperNearEnd: true}}}},
			pres: configured, status: Warn, reason: "paper near end", submitted: 1},
		{name: "stalled", p: &fakePrinter{h: healthOK, events: []printer.Event{{Kind: printer.EventJobStalled}}}, pres: configured, status: Fail, reason: "stopped in the middle", hint: "paper and cover", submitted: 1},
		{name: "unplugged", p: &fakePrinter{h: healthOK, events: []printer.Event{{Kind: printer.EventDisconnected, Reason: "broken pipe"}}}, pres: configured, status: Fail, reason: "went away", submitted: 1},
		{name: "refused", p: &fakePrinter{h: healthOK, submitErr: printer.ErrQueueFull}, pres: configured, status: Fail, reason: "refused: printer: too many tickets waiting"},
		{name: "never prints", p: &fakePrinter{h: healthOK}, pres: configured, status: Fail, reason: "did not print in time", hint: "paper and cover", submitted: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			want(t, CheckPrinter(tc.p, tc.pres, page).Run(ctx), tc.status, tc.reason, tc.hint)
			if tc.p.submitted != tc.submitted {
				t.Errorf("%d tickets submitted, want %d", tc.p.submitted, tc.submitted)
			}
		})
	}
}

// TestCheckPrinterSimulator runs the check against the real driver and the
// ESC/POS printer simulator, so the health reasons it reads are the driver's.
func TestCheckPrinterSimulator(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cond   printersim.Condition
		status Status
		reason string
		pages  int
	}{
		{printersim.OK, OK, "test ticket printed", 1},
		{printersim.NearEnd, Warn, "test ticket printed; paper near end", 1},
		{printersim.PaperEnd, Fail, "paper end", 0},
		{printersim.CoverOpen, Fail, "cover open", 0},
	} {
		t.Run(string(tc.cond), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sim, err := printersim.New(printersim.Options{Condition: tc.cond})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go sim.Serve(ctx, ln)
			p, err := printer.New(printer.Options{URI: "tcp://" + ln.Addr().String(), WidthMM: 80, SpoolDir: t.TempDir(),
				SpoolKey: make([]byte, 32), PollInterval: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer p.Stop(context.Background())
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			defer rcancel()
			r := CheckPrinter(p, Presence{Configured: true, Required: true, Key: "devices.printer.uri"}, TestPage("KIOSK-1", time.Now())).Run(rctx)
			want(t, r, tc.status, tc.reason, "")
			if n := sim.PageCount(); n != tc.pages {
				t.Errorf("%d pages printed, want %d", n, tc.pages)
			}
		})
	}
}

// fakeScanner answers Check with h and Scan with doc or err.
type fakeScanner struct {
	h   daemon.Health
	doc *scanner.Document
	err error
	req *scanner.ScanRequest
}

func (s *fakeScanner) Check(context.Context) daemon.Health { return s.h }

func (s *fakeScanner) Scan(_ context.Context, req scanner.ScanRequest, _ func(scanner.Progress)) (*scanner.Document, error) {
	s.req = &req
	return s.doc, s.err
}

func TestCheckScanner(t *testing.T) {
	t.Parallel()
	configured := Presence{Configured: true, Required: true, Key: "devices.scanner.device"}
	jpeg := []byte{0xFF, 0xD8, 1, 2, 3}
	for _, tc := range []struct {
		name         string
		s            *fakeScanner
		pres         Presence
		status       Status
		reason, hint string
		scanned      bool
		wiped        []byte // must be all zero after the check
	}{
		{name: "not configured, hospital", s: &fakeScanner{}, pres: Presence{Key: "devices.scanner.device"}, status: OK, reason: "not configured"},
		{name: "not configured, ward", s: &fakeScanner{}, pres: Presence{Required: true, Key: "devices.scanner.device"}, status: Fail, reason: "this site needs it", hint: "devices.scanner.device"},
		{name: "absent", s: &fakeScanner{h: daemon.Health{State: daemon.StateAbsent, Reason: "scanner not found: no device"}}, pres: configured,
			status: Fail, reason: "scanner not found: no device", hint: "scanimage -L"},
		{name: "scans", s: &fakeScanner{h: healthOK, doc: &scanner.Document{Pages: []scanner.Page{{JPEG: jpeg, Width: 620, Height: 876, DPI: 75}}}},
			pres: configured, status: OK, reason: "test scan: 620×876 pixels at 75 dpi", scanned: true, wiped: jpeg},
		{name: "cover open", s: &fakeScanner{h: healthOK, err: &scanner.Error{Fault: scanner.CoverOpen, Op: "start"}}, pres: configured,
			status: Fail, reason: "test scan failed: scanner: cover open: sane_start", hint: "close the scanner lid", scanned: true},
		{name: "busy", s: &fakeScanner{h: daemon.Health{State: daemon.StateDegraded, Reason: "scanner in use by another program"}, err: &scanner.Error{Fault: scanner.Busy}},
			pres: configured, status: Fail, reason: "test scan failed: scanner: busy", hint: "another program", scanned: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want(t, CheckScanner(tc.s, tc.pres).Run(context.Background()), tc.status, tc.reason, tc.hint)
			if (tc.s.req != nil) != tc.scanned {
				t.Fatalf("scanned: %v, want %v", tc.s.req != nil, tc.scanned)
			}
			if tc.scanned && (tc.s.req.DPI != 75 || tc.s.req.Pages != 1 || tc.s.req.Source != scanner.Flatbed) {
				t.Errorf("scan request %+v; want one flatbed page at 75 dpi", *tc.s.req)
			}
			if !bytes.Equal(tc.wiped, make([]byte, len(tc.wiped))) {
				t.Errorf("the test page was not wiped: %X", tc.wiped)
			}
		})
	}
}

// TestCheckScannerSANE runs the check against the real driver and SANE's
// test backend, present and absent.
func TestCheckScannerSANE(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := sanesim.Write(filepath.Join(dir, "sane"), sanesim.Config{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		device string
		status Status
		reason string
	}{
		{"test", OK, "at 75 dpi"},
		{"nosuch", Fail, "scanner not found"},
	} {
		t.Run(tc.device, func(t *testing.T) {
			t.Parallel()
			s, err := scanner.New(scanner.Options{Device: tc.device, ConfigDir: filepath.Join(dir, "sane"), WorkDir: filepath.Join(t.TempDir(), "scan")})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			want(t, CheckScanner(s, Presence{Configured: true, Required: true, Key: "devices.scanner.device"}).Run(ctx), tc.status, tc.reason, "")
		})
	}
}
