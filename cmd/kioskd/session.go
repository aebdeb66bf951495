package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnkiosk/kiosk/devices/barcode"
	"github.com/vnkiosk/kiosk/devices/cabinet"
	"github.com/vnkiosk/kiosk/devices/printer"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/session"
	"github.com/vnkiosk/kiosk/ui"
	"github.com/vnkiosk/kiosk/ui/speech"
)

// newSessionMachine plugs the devices and the filing chain into the session
// state machine the touchscreen renders.
func newSessionMachine(cfg *config.Config, devs *kioskDevices, f *kioskFilings, h *kioskHospital, log *slog.Logger, reg prometheus.Registerer) *session.Machine {
	o := session.Options{
		Card: devs.CardReader, Scanner: devs.Scanner, Display: devs.Display, Cabinet: devs.Cabinet,
		Sequence: filing.NewSequence(cfg.StateDir, "mahoso-sequence"),
		Site:     cfg.Site, KioskID: cfg.Kiosk.ID, Payment: cfg.Payment, Language: cfg.UI.Language,
		IdleTimeout: cfg.UI.IdleTimeout.D(), PaymentTimeout: cfg.Payment.Timeout.D(),
		OnHelp: func(on bool) {
			// The front LED blinks while a citizen waits for staff.
			if on {
				devs.Cabinet.SetStatus(cabinet.StatusAttention)
			} else {
				devs.Cabinet.SetStatus(cabinet.StatusOK)
			}
		},
		Log: log.With("subsystem", "session"), Registerer: reg,
	}
	if s, ok := devs.Barcode.(*barcode.Scanner); ok {
		o.Codes = s
	}
	if p, ok := devs.Printer.(*printer.Printer); ok {
		o.Printer = p
	}
	// Interfaces holding a nil pointer are not nil: set them only when present.
	if f.Backend != nil {
		o.Backend = f.Backend
	}
	if f.Intake != nil {
		o.Filings = f.Intake
	}
	o.Departments = cfg.Hospital.Departments
	if h.Insurance != nil {
		o.Insurance = h.Insurance
	}
	if h.Queue != nil {
		o.Queue = h.Queue
	}
	if h.Staff != nil {
		o.Staff = h.Staff
	}
	o.Audit = h.Audit
	return session.New(o)
}

// newSpeaker returns the spoken guidance, or nil (the speaker button then
// answers 503) when espeak-ng is missing: the kiosk still serves.
func newSpeaker(cfg *config.Config, log *slog.Logger) ui.Speaker {
	sp, err := speech.New(speech.Options{CacheDir: filepath.Join(cfg.StateDir, "speech-cache"), Log: log.With("subsystem", "speech")})
	if err != nil {
		log.Warn("spoken guidance off", "err", err)
		return nil
	}
	return sp
}

// uiSecret returns the websocket's per-boot secret, written where the kiosk
// browser's unit reads it. A valid secret already there is kept: /run lives for
// the boot, so a restarted daemon keeps the browser's page connected. The
// demo makes a fresh one each run.
func uiSecret(path string, fresh bool) (string, error) {
	if !fresh {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			if s := strings.TrimSpace(string(b)); len(s) == 64 && strings.Trim(s, "0123456789abcdef") == "" {
				return s, nil
			}
		case !errors.Is(err, os.ErrNotExist):
			return "", fmt.Errorf("read %s: %w", path, err)
		}
	}
	s, err := ui.NewSecret()
	if err != nil {
		return "", err
	}
	if err := ui.WriteSecretFile(path, s); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return s, nil
}
