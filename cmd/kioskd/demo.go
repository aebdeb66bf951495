package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/vnkiosk/kiosk/devices/barcode/scannersim"
	"github.com/vnkiosk/kiosk/devices/printer/printersim"
	"github.com/vnkiosk/kiosk/devices/scanner/sanesim"
	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/provisioning/enrol"
	"github.com/vnkiosk/kiosk/provisioning/identity"
)

// demoSimulators are the simulated devices `kioskd --demo` plugs in, each
// speaking its device's real protocol, so the daemon drives them through the
// same drivers as on a kiosk.
type demoSimulators struct {
	Barcode *scannersim.Scanner // a serial QR scanner on a pseudo-terminal
	Printer *printersim.Printer // an ESC/POS printer on loopback TCP, pages as PNG
	Backend *refbackend.Server  // the reference provincial backend, mTLS on loopback
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

	// The reference backend with its own test CA; it pays a pending VietQR fee
	// a few seconds after it is first asked about.
	if cfg.Backend.URL == "" {
		pki, err := refbackend.EnsurePKI(filepath.Join(cfg.StateDir, "backend-tls"))
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("reference backend: %w", err)
		}
		rb, err := refbackend.New(refbackend.Options{DB: filepath.Join(cfg.StateDir, "backend-filings.json"), AutoPay: 5 * time.Second, RequireSignature: true})
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("reference backend: %w", err)
		}
		url, err := rb.Start("127.0.0.1:0", pki)
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("reference backend: %w", err)
		}
		s.Backend = rb
		cfg.Backend.URL, cfg.Backend.CAFile = url, pki.Path(refbackend.CAFile)
		cfg.Backend.CertFile, cfg.Backend.KeyFile = pki.Path(refbackend.KioskCertFile), pki.Path(refbackend.KioskKeyFile)
	}

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
	if s.Backend != nil {
		s.Backend.Close()
	}
	s.cancel()
}

// useExternalBackend points `kioskd --demo --backend URL --backend-ca FILE`
// at a reference backend running elsewhere (`kioskctl sim backend
// --demo-enrolment`), so no backend starts inside kioskd. The demo kiosk gets
// its client certificate from that backend over EST with the well-known token
// "demo", trusting the CA in caFile, and keeps it in the state directory: an
// identity already there and still valid is reused.
func useExternalBackend(ctx context.Context, cfg *config.Config, url, caFile string) error {
	if caFile == "" {
		return errors.New("--backend needs --backend-ca, the backend's CA certificate")
	}
	id, err := identity.Load(cfg.StateDir)
	if err != nil || !time.Now().Before(id.NotAfter()) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		id, err = enrol.Enrol(ctx, enrol.Options{Server: url, Token: refbackend.DemoEnrolmentToken, Site: cfg.Site.Code,
			KioskID: cfg.Kiosk.ID, CAFile: caFile, StateDir: cfg.StateDir})
		if err != nil {
			return fmt.Errorf("enrolment with %s: %w", url, err)
		}
	}
	cfg.Backend.URL, cfg.Backend.CAFile = url, id.CAFile()
	cfg.Backend.CertFile, cfg.Backend.KeyFile = id.CertFile(), id.KeyFile()
	return nil
}
