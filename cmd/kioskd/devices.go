package main

import (
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnkiosk/kiosk/devices/barcode"
	"github.com/vnkiosk/kiosk/devices/cabinet"
	"github.com/vnkiosk/kiosk/devices/display"
	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/printer"
	"github.com/vnkiosk/kiosk/devices/scanner"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/keystore"
)

// kioskDevices are the device subsystems kioskd runs, in start order.
type kioskDevices struct {
	CardReader *idcard.Service
	Printer    daemon.Subsystem // *printer.Printer when configured
	Scanner    *scanner.Scanner
	Barcode    daemon.Subsystem
	Display    *display.Display
	Cabinet    *cabinet.Cabinet
}

// newDevices builds every device family from the configuration. A family the
// configuration leaves out is listed as absent rather than left out, so a
// technician sees what is missing.
func newDevices(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*kioskDevices, error) {
	d := &kioskDevices{CardReader: idcard.NewService(cfg, log.With("subsystem", "card_reader"), reg)}
	if pc := cfg.Devices.Printer; pc.URI != "" {
		key, err := keystore.Key(cfg.StateDir, "printer-spool")
		if err != nil {
			return nil, err
		}
		p, err := printer.New(printer.Options{URI: pc.URI, WidthMM: pc.WidthMM, SpoolDir: filepath.Join(cfg.StateDir, "printer-spool"),
			SpoolKey: key, Log: log.With("subsystem", "printer")})
		if err != nil {
			return nil, err
		}
		d.Printer = p
	} else {
		d.Printer = daemon.NotConfigured{DeviceName: "printer", Key: "devices.printer.uri"}
	}
	sc, err := scanner.New(scanner.Options{Device: cfg.Devices.Scanner.Device, ConfigDir: cfg.Devices.Scanner.ConfigDir,
		WorkDir: filepath.Join(cfg.StateDir, "scan"), Log: log.With("subsystem", "scanner")})
	if err != nil {
		return nil, err
	}
	d.Scanner = sc
	if p := cfg.Devices.BarcodeScanner.Path; p != "" {
		s, err := barcode.New(barcode.Options{Path: p, Log: log.With("subsystem", "barcode_scanner")})
		if err != nil {
			return nil, err
		}
		d.Barcode = s
	} else {
		d.Barcode = daemon.NotConfigured{DeviceName: "barcode_scanner", Key: "devices.barcode_scanner.path"}
	}
	dc := cfg.Devices.Display
	d.Display = display.New(display.Options{Kind: dc.Kind, SPIBus: dc.SPIBus, I2CBus: dc.I2CBus, DCPin: dc.DCPin, ResetPin: dc.ResetPin,
		Log: log.With("subsystem", "customer_display")})
	gc := cfg.Devices.GPIO
	cabLog := log.With("subsystem", "cabinet")
	d.Cabinet = cabinet.New(cabinet.Options{HelpButton: gc.HelpButton, StatusLED: gc.StatusLED, TamperSwitch: gc.TamperSwitch,
		LockOnTamper: gc.LockOnTamper, Log: cabLog,
		// Until the audit log lands (provisioning issue), the journal is the audit
		// trail of cabinet openings.
		OnTamper: func(ev cabinet.Event) { cabLog.Warn("cabinet tamper switch", "event", string(ev.Kind), "pin", ev.Pin) }})
	return d, nil
}

// subsystems lists them for the daemon.
func (d *kioskDevices) subsystems() []daemon.Subsystem {
	return []daemon.Subsystem{d.CardReader, d.Printer, d.Scanner, d.Barcode, d.Display, d.Cabinet}
}
