// Command kioskd is the kiosk appliance daemon: it reads the chip ID card, drives
// the printer, scanners and display, serves the touchscreen UI and forwards filings
// to the provincial backend. Under systemd it runs from /etc/kioskd/kioskd.yaml;
// `kioskd --demo` runs it with simulated devices from a built-in configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
	"github.com/vnkiosk/kiosk/devices/idcard/virtualcard"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/logging"
	"github.com/vnkiosk/kiosk/kiosk/metrics"
	"github.com/vnkiosk/kiosk/kiosk/version"
	"github.com/vnkiosk/kiosk/ui"
)

const defaultConfig = "/etc/kioskd/kioskd.yaml"

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("kioskd", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (default "+defaultConfig+"; with --demo, the built-in demo configuration)")
	demo := fs.Bool("demo", false, "run with simulated devices and the reference backend")
	stateDir := fs.String("state-dir", "", "state directory; with --demo, keeps state across restarts instead of a temporary directory")
	uiListen := fs.String("ui-listen", "", "override ui.listen (loopback HOST:PORT; port 0 picks a free one)")
	metricsListen := fs.String("metrics-listen", "", "override metrics.listen (loopback HOST:PORT)")
	controlSocket := fs.String("control-socket", "", "override control.socket; with --demo, instead of the per-user demo socket kioskctl finds by itself")
	demoVPCD := fs.String("demo-vpcd", vpcdReader0, "with --demo: the vpcd address the demo panel inserts cards at")
	demoReader := fs.String("demo-reader", "Virtual PCD 00 00", "with --demo: the PC/SC reader the kiosk reads (the one --demo-vpcd feeds)")
	demoBackend := fs.String("backend", "", "with --demo: use the reference backend at this https URL (kioskctl sim backend --demo-enrolment) instead of one inside kioskd")
	demoBackendCA := fs.String("backend-ca", "", "with --demo --backend: the backend's CA certificate (PEM); the kiosk enrols there over EST")
	demoSite := fs.String("demo-site", "ward", "with --demo: ward (dossiers and fees) or hospital (insurance check, queue tickets, staff mode)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if *showVersion {
		v := version.Get()
		fmt.Println("kioskd", v.Version, v.Revision, v.GoVersion)
		return 0
	}

	cfg, loadConfig, err := loadConfiguration(*cfgPath, *demo)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cleanup := func() {}
	var sims *demoSimulators
	if *demo {
		cfg.Devices.CardReader.Reader = *demoReader
		switch *demoSite {
		case "ward":
		case "hospital":
			if err := makeDemoHospital(cfg); err != nil {
				fmt.Fprintln(os.Stderr, "kioskd --demo:", err)
				return 1
			}
		default:
			fmt.Fprintf(os.Stderr, "kioskd: --demo-site %q: expected ward or hospital\n", *demoSite)
			return 2
		}
		if err := setDemoTechnicianPIN(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "kioskd --demo:", err)
			return 1
		}
		if cleanup, err = prepareDemo(cfg, *stateDir, *controlSocket); err != nil {
			fmt.Fprintln(os.Stderr, "kioskd --demo:", err)
			return 1
		}
		if *demoBackend != "" {
			if err = useExternalBackend(context.Background(), cfg, *demoBackend, *demoBackendCA); err != nil {
				fmt.Fprintln(os.Stderr, "kioskd --demo:", err)
				return 1
			}
		}
		if sims, err = startDemoSimulators(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "kioskd --demo:", err)
			return 1
		}
		if cfg.Site.Kind == config.SiteHospital {
			if err := useDemoGateway(cfg); err != nil {
				fmt.Fprintln(os.Stderr, "kioskd --demo:", err)
				return 1
			}
		}
	} else {
		if *demoBackend != "" || *demoBackendCA != "" {
			fmt.Fprintln(os.Stderr, "kioskd: --backend and --backend-ca only go with --demo (configure backend: in the configuration file)")
			return 2
		}
		if *stateDir != "" {
			cfg.StateDir = *stateDir
		}
		if *controlSocket != "" {
			cfg.Control.Socket = *controlSocket
		}
		// The signed site configuration the kiosk fetched overlays the file,
		// at start and on every reload; a reload that fails to verify it keeps
		// the running configuration.
		if err := overlaySiteConfig(cfg); err != nil {
			// Started on the configuration file alone, and said loudly: the
			// logger does not exist yet, and stderr goes to the journal.
			fmt.Fprintln(os.Stderr, "kioskd: site configuration not applied, running on the configuration file alone:", err)
		}
		fileLoad := loadConfig
		loadConfig = func() (*config.Config, error) {
			c, err := fileLoad()
			if err != nil {
				return nil, err
			}
			if *stateDir != "" {
				c.StateDir = *stateDir
			}
			if *controlSocket != "" {
				c.Control.Socket = *controlSocket
			}
			if err := overlaySiteConfig(c); err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	defer cleanup()
	defer sims.stop()
	if *uiListen != "" {
		cfg.UI.Listen = *uiListen
	}
	if *metricsListen != "" {
		cfg.Metrics.Listen = *metricsListen
	}

	level, _ := logging.ParseLevel(cfg.Logging.Level)
	// The latest lines, after redaction, for the technician screen.
	recentLog := logging.NewRecent(200)
	log := logging.New(io.MultiWriter(os.Stderr, recentLog), level)
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		log.Error("state directory", "err", err)
		return 1
	}

	reg := metrics.NewRegistry()
	filings, err := newFilings(cfg, log, reg)
	if err != nil {
		log.Error("outbox", "err", err)
		return 1
	}
	devs, err := newDevices(cfg, log, reg)
	if err != nil {
		log.Error("devices", "err", err)
		return 1
	}
	secret, err := uiSecret(cfg.UI.SecretFile, *demo)
	if err != nil {
		log.Error("UI secret", "err", err)
		return 1
	}
	hosp, err := newHospital(cfg, log)
	if err != nil {
		log.Error("hospital", "err", err)
		return 1
	}
	defer hosp.close()
	renewer, err := newRenewer(cfg, log, reg)
	if err != nil {
		log.Error("certificate renewal", "err", err)
		return 1
	}
	selftests := &selfTester{cfg: cfg, devs: devs, f: filings, log: log}
	tools := techTools(cfg, devs, recentLog, log)
	tools.SelfTest = selftests.forTechnician
	sessions := newSessionMachine(cfg, devs, filings, hosp, log, reg, tools)
	uiOpt := ui.Options{Addr: cfg.UI.Listen, Session: sessions, Secret: secret, Speech: newSpeaker(cfg, log), Log: log.With("subsystem", "ui")}
	var panel *demoPanel
	if *demo {
		if panel, err = newDemoPanel(cfg, sims, *demoVPCD, log.With("subsystem", "demo")); err != nil {
			log.Error("demo panel", "err", err)
			return 1
		}
		defer panel.close()
		uiOpt.Demo = panel
	}
	uiServer := ui.New(uiOpt)
	opt := daemon.Options{
		Registry:   reg,
		Config:     cfg,
		ConfigPath: *cfgPath,
		Demo:       *demo,
		UIURL:      uiServer.URL,
		Log:        log,
		Subsystems: subsystems(devs.subsystems(), renewer, filings.Outbox, sessions, uiServer),
		Routes: func(mux *http.ServeMux) {
			filings.Routes(mux)
			hosp.routes(mux)
			selftests.routes(mux)
		},
		LoadConfig: loadConfig,
		Started: func(socket, metricsAddr string) {
			if *demo {
				fmt.Printf("kioskd demo (%s) is running.\n  UI:         %s\n  demo panel: %s\n  control:    %s (kioskctl finds it)\n  metrics:    http://%s/metrics\n  state:      %s\n",
					cfg.Site.Kind, uiServer.KioskURL(), uiServer.DemoURL(), socket, metricsAddr, cfg.StateDir)
				if cfg.Site.Kind == config.SiteHospital {
					fmt.Printf("  staff:      the sample card nguyen-thi-hoa with PIN %s opens staff mode\n", demoStaffPIN)
				}
				fmt.Printf("  technician: the idle screen's \"Kỹ thuật\" button, PIN %s\n", demoTechnicianPIN)
				fmt.Println("Press Ctrl+C to stop.")
			}
		},
	}
	if err := daemon.Run(context.Background(), opt); err != nil {
		log.Error("kioskd exiting", "err", err)
		return 1
	}
	return 0
}

// subsystems lists the daemon's subsystems in start order, leaving out the
// optional ones that are nil.
func subsystems(devs []daemon.Subsystem, more ...daemon.Subsystem) []daemon.Subsystem {
	out := devs
	for _, s := range more {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

func loadConfiguration(path string, demo bool) (*config.Config, func() (*config.Config, error), error) {
	if demo && path == "" {
		c, err := config.Demo()
		return c, nil, err
	}
	if path == "" {
		path = defaultConfig
	}
	load := func() (*config.Config, error) { return config.Load(path) }
	c, err := load()
	return c, load, err
}

// prepareDemo points the demo at a private state directory and the per-user demo
// control socket, so kioskctl finds it and nothing touches /var or /run.
func prepareDemo(cfg *config.Config, stateDir, socket string) (func(), error) {
	cleanup := func() {}
	if stateDir == "" {
		d, err := os.MkdirTemp("", "kioskd-demo-state-")
		if err != nil {
			return nil, err
		}
		stateDir = d
		cleanup = func() { os.RemoveAll(d) }
	}
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, err
	}
	cfg.StateDir = abs
	cfg.Control.Socket = control.DemoSocket()
	if socket != "" {
		cfg.Control.Socket = socket
	}
	// Trust the test PKI `kioskctl sim card` signs its cards with by default.
	if cfg.Devices.CardReader.CSCADir == "" {
		dir, err := virtualcard.DefaultPKIDir(testpki.RSA)
		if err != nil {
			return nil, err
		}
		if _, err := virtualcard.EnsurePKI(dir, testpki.RSA); err != nil {
			return nil, fmt.Errorf("demo test PKI: %w", err)
		}
		cfg.Devices.CardReader.CSCADir = virtualcard.TrustDir(dir)
	}
	cfg.Control.Group = ""
	cfg.UI.SecretFile = filepath.Join(filepath.Dir(cfg.Control.Socket), "ui-secret")
	if err := os.MkdirAll(filepath.Dir(cfg.Control.Socket), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	return cleanup, nil
}
