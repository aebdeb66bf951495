package idcard

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/passiveauth"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

// Service is the card reader as a daemon subsystem: one PC/SC monitor for reader
// hot-plug and card events, the trust store for passive authentication, and
// reads serialised so two flows never talk to the chip at once.
type Service struct {
	log   *slog.Logger
	mon   *pcsc.Monitor
	reads *prometheus.CounterVec
	apdus *prometheus.HistogramVec

	mu      sync.Mutex
	pattern string
	trust   *passiveauth.TrustStore
	trustOK string // why the trust store is empty, when it is

	readMu sync.Mutex // one read at a time
	cancel context.CancelFunc
	done   chan struct{}
}

// NewService returns the card reader subsystem for cfg, registering its metrics.
func NewService(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) *Service {
	s := &Service{log: log, mon: pcsc.NewMonitor(0)}
	s.reads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kioskd_card_reads_total",
		Help: "Chip ID card reads by result (ok, access_denied, card_removed, integrity, ...).",
	}, []string{"result"})
	s.apdus = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kioskd_card_apdu_seconds",
		Help:    "Round trip of each APDU to the chip, by instruction (hex).",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
	}, []string{"ins"})
	if reg != nil {
		reg.MustRegister(s.reads, s.apdus)
	}
	s.apply(cfg)
	return s
}

func (s *Service) apply(cfg *config.Config) {
	cr := cfg.Devices.CardReader
	trust, why := loadTrust(cr.CSCADir)
	s.mu.Lock()
	s.pattern, s.trust, s.trustOK = cr.Reader, trust, why
	s.mu.Unlock()
	if why != "" {
		s.log.Warn("passive authentication has no CSCA trust store; chains will be reported unknown_csca", "reason", why)
	}
}

func loadTrust(dir string) (*passiveauth.TrustStore, string) {
	if dir == "" {
		return passiveauth.NewTrustStore(nil, nil), "devices.card_reader.csca_dir is not set"
	}
	if _, err := os.Stat(dir); err != nil {
		return passiveauth.NewTrustStore(nil, nil), err.Error()
	}
	ts, err := passiveauth.LoadTrustStore(dir)
	if err != nil {
		return passiveauth.NewTrustStore(nil, nil), err.Error()
	}
	return ts, ""
}

// Name implements daemon.Subsystem.
func (s *Service) Name() string { return "card_reader" }

// Start implements daemon.Subsystem: the monitor runs until Stop.
func (s *Service) Start(ctx context.Context) error {
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.mon.Run(mctx); err != nil {
			s.log.Error("card reader monitor stopped", "err", err)
		}
	}()
	return nil
}

// Stop implements daemon.Subsystem: a read in progress finishes first.
func (s *Service) Stop(ctx context.Context) error {
	locked := make(chan struct{})
	go func() { s.readMu.Lock(); close(locked) }()
	select {
	case <-locked:
		defer s.readMu.Unlock()
	case <-ctx.Done():
		return fmt.Errorf("card read still running: %w", ctx.Err())
	}
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	return nil
}

// Attachment implements daemon.Device: the readers the pattern matches now, or
// the pattern itself when none does.
func (s *Service) Attachment() string {
	if rs := s.matchingReaders(); len(rs) > 0 {
		return strings.Join(rs, ", ")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pattern == "" {
		return "any PC/SC reader"
	}
	return "PC/SC reader " + strconv.Quote(s.pattern)
}

// Reload implements daemon.Reloader.
func (s *Service) Reload(_ context.Context, cfg *config.Config) error {
	s.apply(cfg)
	return nil
}

// Health implements daemon.Subsystem.
func (s *Service) Health() daemon.Health {
	h := s.mon.Health()
	if !h.OK {
		return daemon.Health{State: daemon.StateDegraded, Reason: h.Error}
	}
	s.mu.Lock()
	pattern := s.pattern
	s.mu.Unlock()
	if n := len(s.matchingReaders()); n == 0 {
		return daemon.Health{State: daemon.StateAbsent, Reason: fmt.Sprintf("no reader matches %q", pattern)}
	}
	return daemon.Health{State: daemon.StateOK}
}

func (s *Service) matchingReaders() []string {
	s.mu.Lock()
	pattern := s.pattern
	s.mu.Unlock()
	var readers []string
	for _, r := range s.mon.Readers() {
		if pcsc.MatchReader(pattern, r) {
			readers = append(readers, r)
		}
	}
	return readers
}

// Subscribe returns card and reader events for readers matching the configured
// pattern; cancel releases the subscription.
func (s *Service) Subscribe() (<-chan pcsc.Event, func()) {
	in, cancel := s.mon.Subscribe()
	out := make(chan pcsc.Event, pcsc.DefaultBuffer)
	go func() {
		defer close(out)
		for ev := range in {
			s.mu.Lock()
			match := pcsc.MatchReader(s.pattern, ev.Reader)
			s.mu.Unlock()
			if match {
				select {
				case out <- ev:
				default: // the subscriber is not reading; the monitor already bounds loss
				}
			}
		}
	}()
	return out, cancel
}

// Reads is the read counter by result, for tests and the self-test.
func (s *Service) Reads() *prometheus.CounterVec { return s.reads }

// Read reads the card on the configured reader.
func (s *Service) Read(ctx context.Context, key AccessKey, opt Options) (*Document, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.mu.Lock()
	pattern := s.pattern
	if opt.Trust == nil {
		opt.Trust = s.trust
	}
	if opt.Trace == nil {
		opt.Trace = func(t iso7816.Trace) {
			s.apdus.WithLabelValues(fmt.Sprintf("%02X", t.INS)).Observe(t.Duration.Seconds())
		}
	}
	s.mu.Unlock()
	t0 := time.Now()
	doc, reader, err := ReadFromReader(ctx, pattern, key, opt, 0)
	m := Explain(err)
	s.reads.WithLabelValues(m.Code).Inc()
	if err != nil {
		s.log.Warn("card read failed", "result", m.Code, "reader", reader, "err", err, "ms", time.Since(t0).Milliseconds())
		return nil, err
	}
	v := doc.Verification
	s.log.Info("card read", "reader", reader, "access", v.Access, "passive", v.Passive.State,
		"chip_auth", v.ChipAuth.State, "active_auth", v.ActiveAuth.State,
		"apdus", doc.Stats.APDUs, "ms", doc.Stats.DurationMS)
	return doc, nil
}

var (
	_ daemon.Reloader = (*Service)(nil)
	_ daemon.Device   = (*Service)(nil)
)
