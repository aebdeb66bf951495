package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/devices/printer"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/session"
	"github.com/vnkiosk/kiosk/provisioning/selftest"
)

// selfTester runs the self-test for `kioskctl selftest` (POST /v1/selftest) and
// for technician mode on the touchscreen: every check against the running
// devices and the configuration kioskd started with. One runs at a time, since
// each prints a ticket and scans a page.
type selfTester struct {
	cfg     *config.Config
	devs    *kioskDevices
	f       *kioskFilings
	log     *slog.Logger
	running sync.Mutex
}

var errSelftestRunning = errors.New("a self-test is already running; wait for its report")

func (s *selfTester) run(ctx context.Context) (selftest.Report, error) {
	if !s.running.TryLock() {
		return selftest.Report{}, errSelftestRunning
	}
	defer s.running.Unlock()
	t0 := time.Now()
	rep := selftest.Run(ctx, selftestChecks(s.cfg, s.devs, s.f))
	var failed, warned []string
	for _, c := range rep.Checks {
		switch c.Status {
		case selftest.Fail:
			failed = append(failed, c.Name)
		case selftest.Warn:
			warned = append(warned, c.Name)
		}
	}
	s.log.Info("self-test", "failed", strings.Join(failed, ","), "warned", strings.Join(warned, ","),
		"ms", time.Since(t0).Milliseconds())
	return rep, nil
}

// routes serves POST /v1/selftest, answered as a selftest.Report. It takes up
// to selftest.CheckTimeout.
func (s *selfTester) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/selftest", func(w http.ResponseWriter, r *http.Request) {
		rep, err := s.run(r.Context())
		if err != nil {
			control.WriteError(w, http.StatusConflict, err.Error())
			return
		}
		control.WriteJSON(w, http.StatusOK, rep)
	})
}

// forTechnician is the same self-test for the touchscreen's technician mode.
func (s *selfTester) forTechnician(ctx context.Context) ([]session.TechCheck, error) {
	rep, err := s.run(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]session.TechCheck, len(rep.Checks))
	for i, c := range rep.Checks {
		out[i] = session.TechCheck{Name: c.Name, Status: string(c.Status), Reason: c.Reason, Hint: c.Hint}
	}
	return out, nil
}

// selftestChecks builds the checks in the order kioskctl prints them. What
// a site needs: every kiosk reads the chip ID card and prints (a ward its
// receipts, a hospital its queue tickets); a ward also scans the dossier's
// attachments. The QR scanner, the customer display (the touchscreen shows
// the payment QR instead) and the cabinet GPIO are optional, so leaving them
// out of the configuration is "ok: not configured".
func selftestChecks(cfg *config.Config, devs *kioskDevices, f *kioskFilings) []selftest.Check {
	dev := cfg.Devices
	gpio := dev.GPIO
	checks := []selftest.Check{
		selftest.CheckCardReader(pcscReader{Service: devs.CardReader, pattern: dev.CardReader.Reader}),
		selftest.CheckPrinter(asPrinter(devs.Printer),
			selftest.Presence{Configured: dev.Printer.URI != "", Required: true, Key: "devices.printer.uri"},
			selftest.TestPage(cfg.Kiosk.ID, time.Now())),
		selftest.CheckScanner(devs.Scanner,
			selftest.Presence{Configured: dev.Scanner.Device != "", Required: cfg.Site.Kind == config.SiteWard, Key: "devices.scanner.device"}),
		selftest.CheckBarcode(devs.Barcode, selftest.Presence{Configured: dev.BarcodeScanner.Path != "", Key: "devices.barcode_scanner.path"}),
		selftest.CheckDisplay(devs.Display, selftest.Presence{Configured: dev.Display.Kind != "", Key: "devices.display.kind"}),
		selftest.CheckGPIO(devs.Cabinet, selftest.Presence{Configured: gpio.HelpButton != "" || gpio.StatusLED != "" || gpio.TamperSwitch != "", Key: "devices.gpio"}),
	}
	var p selftest.Pinger
	if f.Backend != nil { // a nil *backend.Client in the interface would not be nil
		p = f.Backend
	}
	reach, clock := selftest.CheckBackend(p, nil)
	return append(checks, reach, clock,
		selftest.CheckDisk(cfg.StateDir, nil),
		selftest.CheckCertificate(selftest.ClientCertificate(cfg.StateDir, cfg.Backend.CertFile), nil))
}

// asPrinter is the printer when one is configured; nil otherwise, which
// CheckPrinter never touches then.
func asPrinter(s any) selftest.Printer {
	if p, ok := s.(*printer.Printer); ok {
		return p
	}
	return nil
}

// pcscReader gives the self-test a card to talk to: the card reader
// subsystem's health, and a PC/SC connection of its own to the first reader
// matching the configured pattern that holds a card. The exchange runs in a
// PC/SC transaction, so it waits for a citizen's read in progress rather than
// interleaving with it, and the card is reset afterwards like after every read.
type pcscReader struct {
	*idcard.Service
	pattern string
}

func (r pcscReader) Transact(ctx context.Context, fn func(context.Context, iso7816.Transport) error) error {
	pc, err := pcsc.Establish()
	if err != nil {
		return err
	}
	readers, err := pc.ListReaders(r.pattern)
	pc.Release()
	if err != nil {
		return err
	}
	for _, name := range readers {
		card, err := pcsc.Connect(ctx, name)
		if errors.Is(err, pcsc.ErrCardRemoved) {
			continue
		}
		if err != nil {
			return err
		}
		defer card.Close()
		return card.Transaction(ctx, func() error { return fn(ctx, card) })
	}
	return fmt.Errorf("%w (%d matching readers)", idcard.ErrNoCard, len(readers))
}
