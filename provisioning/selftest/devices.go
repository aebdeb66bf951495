package selftest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/printer"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/devices/scanner"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// Check names, as `kioskctl selftest` prints them.
const (
	NameCardReader  = "card_reader"
	NamePrinter     = "printer"
	NameScanner     = "scanner"
	NameBarcode     = "barcode_scanner"
	NameDisplay     = "display"
	NameGPIO        = "gpio"
	NameBackend     = "backend"
	NameClock       = "clock"
	NameDisk        = "disk"
	NameCertificate = "certificate"
)

// Device is a device subsystem's health (daemon.Device).
type Device interface {
	Health() daemon.Health
}

// Presence says how the configuration stands to a device family. A family
// the configuration leaves out is "ok: not configured" when the site serves
// without it — the customer display (the touchscreen shows the payment QR),
// the cabinet GPIO — and a failure when it does not, such as a ward kiosk
// without a document scanner, which cannot take a dossier's attachments.
// kioskd decides Required per site kind.
type Presence struct {
	Configured bool
	Required   bool
	Key        string // the configuration key, e.g. devices.printer.uri
}

func notConfigured(p Presence) Result {
	if p.Required {
		return fail("not configured ("+p.Key+"), and this site needs it",
			"set "+p.Key+" in /etc/kioskd/kioskd.yaml, check it with kioskctl config check, then restart kioskd")
	}
	return ok("not configured (" + p.Key + "); this site needs none")
}

// settleWait is how long a check waits for a device still starting (a
// printer's first connection) before judging it.
const settleWait = 5 * time.Second

// settled returns d's health once it is past starting, or after settleWait.
func settled(ctx context.Context, d Device) daemon.Health {
	deadline := time.Now().Add(settleWait)
	for {
		h := d.Health()
		if h.State != daemon.StateStarting || time.Now().After(deadline) {
			return h
		}
		select {
		case <-ctx.Done():
			return h
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fromHealth judges a health report: degraded still serves (warn), absent,
// failed and stopped do not.
func fromHealth(h daemon.Health, hint string) Result {
	reason := h.Reason
	switch h.State {
	case daemon.StateOK:
		if reason == "" {
			reason = "present"
		}
		return ok(reason)
	case daemon.StateDegraded:
		return warn(reason, hint)
	case daemon.StateStarting:
		if reason == "" {
			reason = "still starting"
		} else {
			reason = "still starting: " + reason
		}
		return warn(reason, "run the self-test again in a minute")
	}
	if reason == "" {
		reason = string(h.State)
	}
	return fail(reason, hint)
}

// CheckDevice judges a device by its health alone. It is for the devices
// with no test action that would not puzzle a citizen standing at the kiosk:
// the QR scanner, the customer display and the cabinet GPIO.
func CheckDevice(name string, d Device, p Presence, hint string) Check {
	return Check{Name: name, Run: func(ctx context.Context) Result {
		if !p.Configured {
			return notConfigured(p)
		}
		return fromHealth(settled(ctx, d), hint)
	}}
}

// CheckBarcode checks the QR/barcode scanner.
func CheckBarcode(d Device, p Presence) Check {
	return CheckDevice(NameBarcode, d, p, "check the QR scanner's USB cable and devices.barcode_scanner.path; the kioskd user needs read access to it")
}

// CheckDisplay checks the customer display.
func CheckDisplay(d Device, p Presence) Check {
	return CheckDevice(NameDisplay, d, p, "check the display's ribbon cable, that SPI or I2C is enabled, and devices.display")
}

// CheckGPIO checks the cabinet's buttons, LED and tamper switch.
func CheckGPIO(d Device, p Presence) Check {
	return CheckDevice(NameGPIO, d, p, "check the cabinet wiring and the pin names in devices.gpio")
}

// CardReader is the chip ID card reader (kioskd adapts *idcard.Service).
type CardReader interface {
	Device
	// Transact runs fn on the card on the reader inside one exclusive
	// transaction and resets the card afterwards. It returns an error
	// wrapping idcard.ErrNoCard when no card is on the reader.
	Transact(ctx context.Context, fn func(ctx context.Context, t iso7816.Transport) error) error
}

// CheckCardReader checks that a reader is there and, when a card is on it,
// that the card answers: SELECT of the eMRTD application, the cheapest
// command that crosses reader, antenna and chip and needs no access key. The
// answer carries no data, so nothing personal is read.
func CheckCardReader(r CardReader) Check {
	return Check{Name: NameCardReader, Run: func(ctx context.Context) Result {
		h := settled(ctx, r)
		switch h.State {
		case daemon.StateOK:
		case daemon.StateAbsent:
			return fail("no card reader found ("+h.Reason+")", "check the USB cable; pcscd running?")
		case daemon.StateDegraded:
			return fail("the smart card service is not reachable: "+h.Reason, "start pcscd (systemctl start pcscd) and read its journal")
		default:
			return fromHealth(h, "check the USB cable; pcscd running?")
		}
		var sw iso7816.SW
		err := r.Transact(ctx, func(ctx context.Context, t iso7816.Transport) error {
			resp, err := iso7816.NewConn(t).Send(ctx, iso7816.Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x0C, Data: idcard.AIDLDS1})
			sw = resp.SW
			return err
		})
		switch {
		case errors.Is(err, idcard.ErrNoCard):
			return ok("reader present; no card on it, so no round trip was tried")
		case err != nil:
			return fail("reader present, but the card on it did not answer: "+err.Error(),
				"lay the card flat on the reader and run the self-test again; if it keeps failing, replace the reader")
		case sw == iso7816.SWOK:
			return ok("reader present; the card on it answered (SELECT eMRTD application: 9000)")
		case sw == iso7816.SWFileNotFound:
			return warn("reader present; the card on it is not a chip ID card or passport (SELECT answered 6A82)",
				"test with a chip ID card (CCCD)")
		}
		return warn("reader present; the card on it answered SELECT of the eMRTD application with "+sw.String(),
			"test with another chip ID card (CCCD); if every card fails, replace the reader")
	}}
}

// Printer is the receipt printer (*printer.Printer).
type Printer interface {
	Device
	Submit(ctx context.Context, page layout.Page) (string, error)
	Events() (<-chan printer.Event, func())
}

// TestPage is the self-test ticket: the kiosk, the time, a line of
// Vietnamese text and a QR code, so a technician sees the fonts, the raster
// and the cutter work. It holds no personal data.
func TestPage(kioskID string, now time.Time) layout.Page {
	var p layout.Page
	p.Add(layout.Text{Text: "TỰ KIỂM TRA / SELF-TEST", Size: layout.Large, Bold: true, Align: layout.Center},
		layout.Rule{},
		layout.Text{Text: "Kiosk " + kioskID, Align: layout.Center},
		layout.Text{Text: now.In(layout.VietnamTime).Format("15:04:05 02/01/2006"), Align: layout.Center},
		layout.Text{Text: "Máy in hoạt động tốt. Printer works.", Size: layout.Small, Align: layout.Center},
		layout.QR{Payload: "kiosk-selftest:" + kioskID},
		layout.Space{Dots: 16})
	return p
}

// paperNearEnd is how printer.Printer's health names the one degraded state
// in which it still prints.
const paperNearEnd = "paper near end"

// CheckPrinter checks the printer's health and prints page through the
// spool, as a receipt would go, waiting until the printer says it is out.
// A printer that cannot print is not sent the ticket: it would come out
// later, unasked for.
func CheckPrinter(p Printer, pres Presence, page layout.Page) Check {
	return Check{Name: NamePrinter, Run: func(ctx context.Context) Result {
		if !pres.Configured {
			return notConfigured(pres)
		}
		h := settled(ctx, p)
		nearEnd := false
		switch h.State {
		case daemon.StateOK:
		case daemon.StateDegraded:
			if !strings.HasPrefix(h.Reason, paperNearEnd) {
				return fail(h.Reason, printerHint(h.Reason))
			}
			nearEnd = true
		case daemon.StateAbsent:
			return fail(h.Reason, "check the printer's power and cable, and devices.printer.uri")
		default:
			r := fromHealth(h, "check the printer's power and cable")
			r.Status = Fail // a printer not yet connected cannot print the test ticket
			return r
		}
		events, stop := p.Events()
		defer stop()
		id, err := p.Submit(ctx, page)
		if err != nil {
			return fail("the test ticket was refused: "+err.Error(), "see the printer line of kioskctl devices")
		}
		for {
			select {
			case <-ctx.Done():
				return fail("the test ticket did not print in time; it stays queued and prints once the printer can",
					"check paper and cover, then run the self-test again")
			case ev, open := <-events:
				if !open {
					return fail("the printer stopped while printing the test ticket", "see the kioskd journal")
				}
				if ev.Kind == printer.EventDisconnected {
					return fail("the printer went away while printing the test ticket: "+ev.Reason, "check the printer's power and cable")
				}
				if ev.JobID != id {
					continue
				}
				switch ev.Kind {
				case printer.EventJobPrinted:
					if nearEnd || ev.Status.PaperNearEnd {
						return warn("test ticket printed; paper near end", "load a new paper roll soon")
					}
					return ok("test ticket printed")
				case printer.EventJobStalled:
					return fail("the printer stopped in the middle of the test ticket", "check paper and cover; the ticket prints again once cleared")
				case printer.EventJobRetry:
					return fail("the test ticket came out with a printer error: "+ev.Reason, printerHint(ev.Reason))
				case printer.EventJobDropped:
					return fail("the test ticket was dropped: "+ev.Reason, "see the kioskd journal")
				}
			}
		}
	}}
}

// printerHint is what to do about a printer health reason.
func printerHint(reason string) string {
	switch {
	case strings.HasPrefix(reason, "paper end"):
		return "load a paper roll"
	case strings.HasPrefix(reason, "cover open"):
		return "close the printer cover"
	case strings.HasPrefix(reason, "cutter"), strings.HasPrefix(reason, "mechanical"):
		return "open the cover, clear the paper path and the cutter, close it"
	case strings.HasPrefix(reason, "unrecoverable"):
		return "power-cycle the printer"
	}
	return "check the printer's status light, paper and cover"
}

// Scanner is the document scanner (*scanner.Scanner).
type Scanner interface {
	// Check looks for the device now.
	Check(ctx context.Context) daemon.Health
	Scan(ctx context.Context, req scanner.ScanRequest, progress func(scanner.Progress)) (*scanner.Document, error)
}

// testScanDPI is the test scan's resolution: the lowest a document scan
// accepts, enough to prove lamp, sensor and transport, and quick.
const testScanDPI = 75

// CheckScanner looks for the scanner and scans one flatbed page at low
// resolution; the page is wiped at once.
func CheckScanner(s Scanner, pres Presence) Check {
	return Check{Name: NameScanner, Run: func(ctx context.Context) Result {
		if !pres.Configured {
			return notConfigured(pres)
		}
		if h := s.Check(ctx); h.State == daemon.StateAbsent {
			return fail(h.Reason, "check the scanner's USB cable and power, and devices.scanner.device; scanimage -L lists what SANE sees")
		}
		doc, err := s.Scan(ctx, scanner.ScanRequest{Pages: 1, DPI: testScanDPI, Source: scanner.Flatbed}, nil)
		if err != nil {
			return fail("test scan failed: "+err.Error(), scannerHint(err))
		}
		defer doc.Wipe()
		if len(doc.Pages) == 0 {
			return fail("test scan returned no page", "see the kioskd journal")
		}
		pg := doc.Pages[0]
		return ok(fmt.Sprintf("test scan: %d×%d pixels at %d dpi", pg.Width, pg.Height, pg.DPI))
	}}
}

func scannerHint(err error) string {
	switch {
	case errors.Is(err, scanner.Absent):
		return "check the scanner's USB cable and power, and devices.scanner.device; scanimage -L lists what SANE sees"
	case errors.Is(err, scanner.Busy):
		return "another program holds the scanner; stop it"
	case errors.Is(err, scanner.AccessDenied):
		return "add the kioskd user to the scanner group"
	case errors.Is(err, scanner.CoverOpen):
		return "close the scanner lid"
	case errors.Is(err, scanner.Jammed):
		return "clear the paper path"
	case errors.Is(err, scanner.Locked):
		return "release the scanner's transport lock"
	case errors.Is(err, scanner.Cancelled):
		return "the scan took too long; see the kioskd journal"
	}
	return "see the kioskd journal; scanimage -T tests the device"
}
