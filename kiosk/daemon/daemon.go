// Package daemon owns kioskd's lifecycle: it starts the subsystems in order, tells
// systemd READY=1 only once every one of them is up, pings the watchdog from the
// main loop (so a wedged loop gets the daemon restarted), reloads the configuration
// on SIGHUP, and on SIGTERM drains — each subsystem finishes what it is doing (the
// ticket being printed, the filing being written) — within a bounded time. It also
// serves the control socket's status call and the metrics and health endpoints,
// since both report on the subsystems it runs.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/metrics"
	"github.com/vnkiosk/kiosk/kiosk/version"
)

// State is a subsystem's health.
type State string

// Health states. Absent and degraded keep the kiosk ready (a kiosk without a
// printer still serves citizens); failed does not.
const (
	StateStarting State = "starting"
	StateOK       State = "ok"
	StateDegraded State = "degraded"
	StateAbsent   State = "absent"
	StateFailed   State = "failed"
	StateStopped  State = "stopped"
)

// Health is a state with the reason, in plain English, when not ok.
type Health struct {
	State  State
	Reason string
}

// Subsystem is one part of the daemon: a device family, the UI server, the outbox.
type Subsystem interface {
	Name() string
	// Start brings the subsystem up and returns once it is ready. ctx lives until
	// the daemon has drained; background work should stop when it ends.
	Start(ctx context.Context) error
	// Stop finishes in-flight work and releases resources before ctx's deadline.
	Stop(ctx context.Context) error
	Health() Health
}

// Device is a subsystem that drives hardware. `kioskctl devices` lists them with
// what they are attached as.
type Device interface {
	Subsystem
	// Attachment says what the device is reached through (a reader name, a
	// printer URI); never personal data.
	Attachment() string
}

// Reloader is a subsystem that applies a new configuration on SIGHUP.
type Reloader interface {
	Reload(ctx context.Context, c *config.Config) error
}

// Notifier sends sd_notify states; the systemd implementation is SystemdNotifier.
type Notifier interface {
	Notify(state string) error
}

// Options configure a daemon run.
type Options struct {
	Config     *config.Config
	ConfigPath string // "" when running from the built-in demo config
	Demo       bool
	UIURL      func() string // the address the kiosk browser opens, known once the UI listens
	Log        *slog.Logger
	Subsystems []Subsystem
	Notifier   Notifier
	Registry   *prometheus.Registry
	// Routes adds control API handlers beside /v1/status.
	Routes func(mux *http.ServeMux)
	// LoadConfig rereads the configuration on SIGHUP; nil disables reload.
	LoadConfig func() (*config.Config, error)
	// DrainTimeout bounds the SIGTERM drain (default 10s).
	DrainTimeout time.Duration
	// StartTimeout bounds each subsystem's Start (default 30s).
	StartTimeout time.Duration
	// Started is called once READY=1 was sent (tests, and --demo to print the URL).
	Started func(controlSocket, metricsAddr string)
	// Signals replaces the process's SIGTERM/SIGINT/SIGHUP (tests inject them).
	Signals <-chan os.Signal
}

// Daemon is a running kioskd.
type Daemon struct {
	opt       Options
	started   time.Time
	ready     atomic.Bool
	draining  atomic.Bool
	lastBeat  atomic.Int64 // unix nanos of the main loop's last turn
	mu        sync.Mutex
	cfg       *config.Config
	startedOK []Subsystem
}

// Run runs the daemon until a termination signal or ctx ends, then drains.
func Run(ctx context.Context, opt Options) error {
	if opt.DrainTimeout == 0 {
		opt.DrainTimeout = 10 * time.Second
	}
	if opt.StartTimeout == 0 {
		opt.StartTimeout = 30 * time.Second
	}
	if opt.Notifier == nil {
		opt.Notifier = SystemdNotifier{}
	}
	if opt.Registry == nil {
		opt.Registry = metrics.NewRegistry()
	}
	d := &Daemon{opt: opt, started: time.Now(), cfg: opt.Config}
	d.lastBeat.Store(time.Now().UnixNano())
	opt.Registry.MustRegister(healthCollector{d})
	return d.run(ctx)
}

func (d *Daemon) run(ctx context.Context) error {
	log := d.opt.Log
	sigs := d.opt.Signals
	if sigs == nil {
		c := make(chan os.Signal, 4)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		defer signal.Stop(c)
		sigs = c
	}

	// Subsystems see runCtx, which ends only after the drain, so a subsystem that
	// is finishing a print job is not cancelled under its feet.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()

	ctl, err := d.startControl()
	if err != nil {
		return err
	}
	ms, err := metrics.Listen(d.cfg.Metrics.Listen, d.opt.Registry, metrics.Probes{Live: d.live, Ready: d.readyErr})
	if err != nil {
		ctl.Close()
		return err
	}
	go func() {
		if err := ms.Serve(); err != nil {
			log.Error("metrics server stopped", "err", err)
		}
	}()

	startErr := d.startAll(runCtx)
	if startErr == nil {
		d.ready.Store(true)
		if err := d.opt.Notifier.Notify("READY=1\nSTATUS=serving"); err != nil {
			log.Warn("sd_notify READY failed", "err", err)
		}
		log.Info("kioskd ready", "version", version.Get().Version, "startup_ms", time.Since(d.started).Milliseconds(),
			"control_socket", d.cfg.Control.Socket, "metrics", ms.Addr())
		if d.opt.Started != nil {
			d.opt.Started(d.cfg.Control.Socket, ms.Addr())
		}
	}

	var watchdog <-chan time.Time
	if iv := watchdogInterval(); iv > 0 && startErr == nil {
		t := time.NewTicker(iv / 2)
		defer t.Stop()
		watchdog = t.C
	}
	beat := time.NewTicker(time.Second)
	defer beat.Stop()

loop:
	for startErr == nil {
		select {
		case <-ctx.Done():
			break loop
		case s := <-sigs:
			if s == syscall.SIGHUP {
				d.reload(runCtx)
				continue
			}
			log.Info("termination signal, draining", "signal", s.String())
			break loop
		case <-watchdog:
			// Sent from the main loop itself: if the loop wedges, pings stop and
			// systemd restarts the daemon.
			d.lastBeat.Store(time.Now().UnixNano())
			_ = d.opt.Notifier.Notify("WATCHDOG=1")
		case <-beat.C:
			d.lastBeat.Store(time.Now().UnixNano())
		}
	}

	d.draining.Store(true)
	d.ready.Store(false)
	_ = d.opt.Notifier.Notify("STOPPING=1\nSTATUS=draining")
	drainCtx, cancel := context.WithTimeout(context.Background(), d.opt.DrainTimeout)
	defer cancel()
	drainErr := d.stopAll(drainCtx)
	cancelRun()
	_ = ms.Shutdown(drainCtx)
	ctl.Close()
	if startErr != nil {
		return startErr
	}
	if drainErr != nil {
		return drainErr
	}
	log.Info("kioskd stopped", "uptime_s", int(time.Since(d.started).Seconds()))
	return nil
}

func (d *Daemon) startAll(ctx context.Context) error {
	for _, s := range d.opt.Subsystems {
		t0 := time.Now()
		// Start gets the run context, which lives until the drain is over, so
		// subsystems may hang background work on it; the start timeout is
		// enforced here instead of through that context.
		errc := make(chan error, 1)
		go func() { errc <- s.Start(ctx) }()
		var err error
		select {
		case err = <-errc:
		case <-time.After(d.opt.StartTimeout):
			err = fmt.Errorf("did not start within %s", d.opt.StartTimeout)
		}
		if err != nil {
			d.opt.Log.Error("subsystem failed to start", "subsystem", s.Name(), "err", err)
			return fmt.Errorf("start %s: %w", s.Name(), err)
		}
		d.mu.Lock()
		d.startedOK = append(d.startedOK, s)
		d.mu.Unlock()
		h := s.Health()
		d.opt.Log.Info("subsystem started", "subsystem", s.Name(), "state", string(h.State), "reason", h.Reason,
			"ms", time.Since(t0).Milliseconds())
	}
	return nil
}

// stopAll stops in reverse start order so that, say, the UI stops taking intents
// before the outbox closes.
func (d *Daemon) stopAll(ctx context.Context) error {
	d.mu.Lock()
	started := append([]Subsystem(nil), d.startedOK...)
	d.mu.Unlock()
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		s := started[i]
		t0 := time.Now()
		if err := s.Stop(ctx); err != nil {
			d.opt.Log.Error("subsystem did not drain cleanly", "subsystem", s.Name(), "err", err)
			errs = append(errs, fmt.Errorf("stop %s: %w", s.Name(), err))
			continue
		}
		d.opt.Log.Info("subsystem stopped", "subsystem", s.Name(), "ms", time.Since(t0).Milliseconds())
	}
	return errors.Join(errs...)
}

func (d *Daemon) reload(ctx context.Context) {
	log := d.opt.Log
	if d.opt.LoadConfig == nil {
		log.Warn("SIGHUP ignored: running from the built-in configuration")
		return
	}
	_ = d.opt.Notifier.Notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	defer d.opt.Notifier.Notify("READY=1")
	c, err := d.opt.LoadConfig()
	if err != nil {
		// The old configuration stays: a typo must not take a working kiosk down.
		log.Error("configuration reload rejected, keeping the running one", "err", err)
		return
	}
	for _, s := range d.opt.Subsystems {
		if r, ok := s.(Reloader); ok {
			if err := r.Reload(ctx, c); err != nil {
				log.Error("subsystem reload failed", "subsystem", s.Name(), "err", err)
			}
		}
	}
	d.mu.Lock()
	d.cfg = c
	d.mu.Unlock()
	log.Info("configuration reloaded", "path", d.opt.ConfigPath)
}

func (d *Daemon) live() error {
	if age := time.Since(time.Unix(0, d.lastBeat.Load())); age > 5*time.Second {
		return fmt.Errorf("main loop silent for %s", age.Round(time.Second))
	}
	return nil
}

func (d *Daemon) readyErr() error {
	switch {
	case d.draining.Load():
		return errors.New("draining")
	case !d.ready.Load():
		return errors.New("starting")
	}
	for _, s := range d.opt.Subsystems {
		if h := s.Health(); h.State == StateFailed {
			return fmt.Errorf("%s failed: %s", s.Name(), h.Reason)
		}
	}
	return nil
}

// Status builds the control API status.
func (d *Daemon) Status() control.Status {
	v := version.Get()
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	st := control.Status{
		Version: v.Version, Revision: v.Revision, StartedAt: d.started.UTC(),
		UptimeSec: time.Since(d.started).Seconds(), ConfigPath: d.opt.ConfigPath,
		KioskID: cfg.Kiosk.ID, SiteKind: string(cfg.Site.Kind), SiteCode: cfg.Site.Code,
		Demo: d.opt.Demo, Ready: d.readyErr() == nil,
	}
	if d.opt.UIURL != nil {
		st.UIURL = d.opt.UIURL()
	}
	if st.ConfigPath == "" {
		st.ConfigPath = cfg.Source
	}
	for _, s := range d.opt.Subsystems {
		h := s.Health()
		st.Subsystems = append(st.Subsystems, control.Subsystem{Name: s.Name(), State: string(h.State), Reason: h.Reason})
	}
	return st
}

// Devices lists the hardware subsystems and their health.
func (d *Daemon) Devices() []control.Device {
	out := []control.Device{}
	for _, s := range d.opt.Subsystems {
		if dev, ok := s.(Device); ok {
			h := dev.Health()
			out = append(out, control.Device{Name: dev.Name(), State: string(h.State), Reason: h.Reason, Attachment: dev.Attachment()})
		}
	}
	return out
}

// healthCollector reports each subsystem's health when Prometheus scrapes, so
// the metric is never staler than the scrape.
type healthCollector struct{ d *Daemon }

var (
	healthDesc = prometheus.NewDesc("kioskd_subsystem_health",
		"Health of each subsystem: 1 for the state it is in, 0 for the others.", []string{"subsystem", "state"}, nil)
	readyDesc = prometheus.NewDesc("kioskd_ready", "1 when kioskd serves citizens (what /readyz says).", nil, nil)
	allStates = []State{StateStarting, StateOK, StateDegraded, StateAbsent, StateFailed, StateStopped}
)

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- healthDesc; ch <- readyDesc }

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.d.opt.Subsystems {
		h := s.Health()
		for _, x := range allStates {
			v := 0.0
			if x == h.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(healthDesc, prometheus.GaugeValue, v, s.Name(), string(x))
		}
	}
	ready := 0.0
	if c.d.readyErr() == nil {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, ready)
}

type controlServer struct {
	srv *http.Server
	ln  net.Listener
}

func (c *controlServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.srv.Shutdown(ctx)
	_ = os.Remove(c.ln.Addr().String())
}

func (d *Daemon) startControl() (*controlServer, error) {
	ln, err := control.Listen(d.cfg.Control.Socket, d.cfg.Control.Group)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		control.WriteJSON(w, http.StatusOK, d.Status())
	})
	mux.HandleFunc("GET /v1/devices", func(w http.ResponseWriter, _ *http.Request) {
		control.WriteJSON(w, http.StatusOK, d.Devices())
	})
	if d.opt.Routes != nil {
		d.opt.Routes(mux)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		control.WriteError(w, http.StatusNotFound, fmt.Sprintf("kioskd has no %s %s; is kioskctl newer than kioskd?", r.Method, r.URL.Path))
	})
	cs := &controlServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := cs.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.opt.Log.Error("control socket stopped", "err", err)
		}
	}()
	return cs, nil
}

// NotConfigured stands for a device family the configuration leaves out, so
// `kioskctl devices` and /metrics still list it, as absent, with the key that
// would configure it.
type NotConfigured struct {
	DeviceName string // the subsystem name the driver would have
	Key        string // the configuration key, e.g. devices.printer.uri
}

// Name implements Subsystem.
func (n NotConfigured) Name() string { return n.DeviceName }

// Start implements Subsystem.
func (NotConfigured) Start(context.Context) error { return nil }

// Stop implements Subsystem.
func (NotConfigured) Stop(context.Context) error { return nil }

// Health implements Subsystem.
func (n NotConfigured) Health() Health {
	return Health{State: StateAbsent, Reason: "not configured (" + n.Key + ")"}
}

// Attachment implements Device.
func (NotConfigured) Attachment() string { return "" }
