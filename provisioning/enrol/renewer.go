package enrol

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/provisioning/identity"
)

// ExpiryWarning is how close to expiry the identity reports degraded.
const ExpiryWarning = 7 * 24 * time.Hour

// RenewerOptions configure a Renewer.
type RenewerOptions struct {
	StateDir string
	// Server is the EST server's base URL (the backend's).
	Server string
	// Registerer gets kioskd_cert_expiry_timestamp_seconds; nil registers
	// nothing.
	Registerer prometheus.Registerer
	// CheckInterval is how often renewal is considered (1h).
	CheckInterval time.Duration
	// Now is the clock (time.Now); tests move it.
	Now func() time.Time
	// OnRenew is called with every renewed identity, for clients that keep
	// the certificate in memory.
	OnRenew func(*identity.Identity)
	Log     *slog.Logger // nil discards
}

// Renewer is kioskd's "identity" subsystem: it renews the client certificate
// once two thirds of its lifetime have passed and reports how long it has
// left.
type Renewer struct {
	opt    RenewerOptions
	expiry prometheus.Gauge

	checkMu sync.Mutex // one renewal at a time
	mu      sync.Mutex
	id      *identity.Identity
	lastErr error

	cancel context.CancelFunc
	done   chan struct{}
}

// NewRenewer registers the expiry gauge.
func NewRenewer(opt RenewerOptions) (*Renewer, error) {
	if opt.CheckInterval <= 0 {
		opt.CheckInterval = time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if _, err := estHost(opt.Server); err != nil {
		return nil, err
	}
	r := &Renewer{opt: opt, expiry: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kioskd_cert_expiry_timestamp_seconds",
		Help: "When the kiosk's client certificate expires (Unix seconds).",
	})}
	if opt.Registerer != nil {
		if err := opt.Registerer.Register(r.expiry); err != nil {
			return nil, fmt.Errorf("enrol: register expiry gauge: %w", err)
		}
	}
	return r, nil
}

// Name implements daemon.Subsystem.
func (r *Renewer) Name() string { return "identity" }

// Start loads the identity and starts checking; it fails when the kiosk is
// not provisioned.
func (r *Renewer) Start(ctx context.Context) error {
	id, err := identity.Load(r.opt.StateDir)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	r.set(id, nil)
	r.opt.Log.Info("device identity", "status", id.Status())
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go r.loop(ctx)
	return nil
}

// Stop ends the checks; a renewal in flight is abandoned (the files are only
// replaced once a new certificate is in hand).
func (r *Renewer) Stop(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Renewer) loop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.opt.CheckInterval)
	defer t.Stop()
	for {
		r.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RenewDue says whether two thirds of the certificate's lifetime have passed
// at now.
func RenewDue(id *identity.Identity, now time.Time) bool {
	life := id.NotAfter().Sub(id.NotBefore())
	return !now.Before(id.NotBefore().Add(life * 2 / 3))
}

// Check renews the certificate if it is due, and returns the renewal's error.
func (r *Renewer) Check(ctx context.Context) error {
	r.checkMu.Lock()
	defer r.checkMu.Unlock()
	id := r.Identity()
	if id == nil || !RenewDue(id, r.opt.Now()) {
		return nil
	}
	nid, err := Renew(ctx, id, RenewOptions{Server: r.opt.Server})
	if err != nil {
		if ctx.Err() == nil {
			r.opt.Log.Warn("certificate renewal failed; will retry", "err", err, "expires", id.NotAfter().UTC())
			r.set(id, err)
		}
		return err
	}
	r.set(nid, nil)
	r.opt.Log.Info("certificate renewed", "status", nid.Status())
	if r.opt.OnRenew != nil {
		r.opt.OnRenew(nid)
	}
	return nil
}

func (r *Renewer) set(id *identity.Identity, err error) {
	r.mu.Lock()
	r.id, r.lastErr = id, err
	r.mu.Unlock()
	r.expiry.Set(float64(id.NotAfter().Unix()))
}

// Identity is the current identity (nil before Start).
func (r *Renewer) Identity() *identity.Identity {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.id
}

// Health implements daemon.Subsystem: failed once the certificate has
// expired (the backend refuses the kiosk), degraded within ExpiryWarning of
// expiry or while renewal fails.
func (r *Renewer) Health() daemon.Health {
	r.mu.Lock()
	id, lastErr := r.id, r.lastErr
	r.mu.Unlock()
	if id == nil {
		return daemon.Health{State: daemon.StateStarting}
	}
	left := id.NotAfter().Sub(r.opt.Now())
	switch {
	case left <= 0:
		return daemon.Health{State: daemon.StateFailed, Reason: "the client certificate expired at " + id.NotAfter().UTC().Format(time.RFC3339) + "; provision the kiosk again"}
	case left < ExpiryWarning:
		reason := fmt.Sprintf("the client certificate expires in %s", left.Round(time.Minute))
		if lastErr != nil {
			reason += "; renewal is failing"
		}
		return daemon.Health{State: daemon.StateDegraded, Reason: reason}
	case lastErr != nil:
		return daemon.Health{State: daemon.StateDegraded, Reason: "certificate renewal is failing; retrying"}
	}
	return daemon.Health{State: daemon.StateOK}
}

var _ daemon.Subsystem = (*Renewer)(nil)
