package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnkiosk/kiosk/devices/barcode"
	"github.com/vnkiosk/kiosk/devices/barcode/qrpayload"
	"github.com/vnkiosk/kiosk/devices/cabinet"
	"github.com/vnkiosk/kiosk/devices/printer"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/devices/printer/raster"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/logging"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
	"github.com/vnkiosk/kiosk/kiosk/session"
	"github.com/vnkiosk/kiosk/provisioning/enrol"
	"github.com/vnkiosk/kiosk/ui"
	"github.com/vnkiosk/kiosk/ui/speech"
)

// newSessionMachine plugs the devices and the filing chain into the session
// state machine the touchscreen renders.
func newSessionMachine(cfg *config.Config, devs *kioskDevices, f *kioskFilings, h *kioskHospital, log *slog.Logger, reg prometheus.Registerer, tech session.TechTools) *session.Machine {
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
	o.TechnicianPIN, o.Tech = cfg.Technician.PINHash, tech
	if len(cfg.Site.Procedures) > 0 {
		o.Procedures = nil
		for _, p := range procedure.All() {
			if slices.Contains(cfg.Site.Procedures, p.Code) {
				o.Procedures = append(o.Procedures, p)
			}
		}
	}
	return session.New(o)
}

// techTools are what technician mode on the touchscreen drives. The self-test
// is added where the control API's self-test is built.
func techTools(cfg *config.Config, devs *kioskDevices, recent *logging.Recent, log *slog.Logger) session.TechTools {
	dots, _ := raster.WidthForMM(cfg.Devices.Printer.WidthMM)
	t := session.TechTools{Logs: recent.Lines, PrinterWidthMM: cfg.Devices.Printer.WidthMM, PrinterDots: dots}
	t.Devices = func() []session.TechDevice {
		var out []session.TechDevice
		for _, s := range devs.subsystems() {
			h := s.Health()
			d := session.TechDevice{Name: s.Name(), State: string(h.State), Reason: h.Reason}
			if dev, ok := s.(daemon.Device); ok {
				d.Attached = dev.Attachment()
			}
			out = append(out, d)
		}
		return out
	}
	t.Provision = func(ctx context.Context, p *qrpayload.Provisioning) (session.Text, error) {
		id, err := enrol.Enrol(ctx, enrol.Options{Server: p.ServerURL.String(), Token: p.Token, Site: p.SiteCode,
			KioskID: cfg.Kiosk.ID, CAFingerprint: hex.EncodeToString(p.CAFingerprint[:]), StateDir: cfg.StateDir})
		if err != nil {
			var ee *enrol.Error
			if errors.As(err, &ee) {
				return session.Text{}, errors.New(ee.Message("vi"))
			}
			return session.Text{}, err
		}
		log.Info("kiosk enrolled from a provisioning QR", "site", p.SiteCode, "expires", id.NotAfter().UTC())
		when := id.NotAfter().In(layout.VietnamTime).Format("02/01/2006")
		return session.Text{
			VI: "Đã đăng ký ki-ốt " + id.KioskID() + " với " + p.ServerURL.Host + "; chứng chỉ có hạn đến " + when + ". Khởi động lại kioskd để dùng.",
			EN: "Kiosk " + id.KioskID() + " enrolled with " + p.ServerURL.Host + "; certificate valid until " + when + ". Restart kioskd to use it.",
		}, nil
	}
	return t
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
