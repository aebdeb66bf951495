package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"github.com/vnkiosk/kiosk/devices/barcode/scannersim"
	"github.com/vnkiosk/kiosk/devices/printer/printersim"
	"github.com/vnkiosk/kiosk/devices/scanner/sanesim"
	"github.com/vnkiosk/kiosk/kiosk/config"
)

// demoSimulators are the simulated devices `kioskd --demo` plugs in, each
// speaking its device's real protocol, so the daemon drives them through the
// same drivers as on a kiosk.
type demoSimulators struct {
	Barcode *scannersim.Scanner // a serial QR scanner on a pseudo-terminal
	Printer *printersim.Printer // an ESC/POS printer on loopback TCP, pages as PNG
	cancel  context.CancelFunc
}

// startDemoSimulators plugs the simulators and points the configuration at them.
// The virtual card readers come from pcscd with vpcd; cards are inserted with
// `kioskctl sim card`.
func startDemoSimulators(cfg *config.Config) (*demoSimulators, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &demoSimulators{cancel: cancel}
	pages := filepath.Join(cfg.StateDir, "printed")
	ps, err := printersim.New(printersim.Options{OutDir: pages})
	if err != nil {
		return nil, fmt.Errorf("simulated printer: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulated printer: %w", err)
	}
	go ps.Serve(ctx, ln)
	s.Printer = ps
	cfg.Devices.Printer.URI = "tcp://" + ln.Addr().String()

	// SANE's test backend, with a configuration naming only it, stands in for
	// the document scanner.
	saneDir := filepath.Join(cfg.StateDir, "sane-sim")
	if err := sanesim.Write(saneDir, sanesim.Config{}); err != nil {
		s.stop()
		return nil, fmt.Errorf("simulated document scanner: %w", err)
	}
	cfg.Devices.Scanner.Device, cfg.Devices.Scanner.ConfigDir = "test", saneDir

	bc, err := scannersim.Plug(scannersim.Options{Link: filepath.Join(cfg.StateDir, "qr-scanner")})
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("simulated QR scanner: %w", err)
	}
	s.Barcode = bc
	cfg.Devices.BarcodeScanner.Path = "serial:" + bc.DevicePath()
	return s, nil
}

func (s *demoSimulators) stop() {
	if s == nil {
		return
	}
	if s.Barcode != nil {
		s.Barcode.Unplug()
	}
	s.cancel()
}
