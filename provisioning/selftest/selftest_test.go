package selftest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/provisioning/identity"
)

// want checks a result's status and that its reason and hint hold the
// given parts.
func want(t *testing.T, r Result, status Status, reason, hint string) {
	t.Helper()
	if r.Status != status || !strings.Contains(r.Reason, reason) || !strings.Contains(r.Hint, hint) {
		t.Errorf("got %s %q (hint %q); want %s with %q (hint %q)", r.Status, r.Reason, r.Hint, status, reason, hint)
	}
	if r.Status != OK && r.Hint == "" {
		t.Errorf("%s result without a hint: %q", r.Status, r.Reason)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	sleep := func(name string, d time.Duration, s Status) Check {
		return Check{Name: name, Run: func(ctx context.Context) Result {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
			return Result{Status: s, Reason: name, Hint: "h"}
		}}
	}
	checks := []Check{
		sleep("slow", 300*time.Millisecond, OK),
		sleep("fast", 0, Warn),
		{Name: "hangs", Run: func(context.Context) Result { time.Sleep(time.Hour); return Result{} }},
		{Name: "hangs too", Run: func(context.Context) Result { time.Sleep(time.Hour); return Result{} }},
		{Name: "panics", Run: func(context.Context) Result { panic("boom") }},
		{Name: "no verdict", Run: func(context.Context) Result { return Result{Reason: "?"} }},
		sleep("slow too", 300*time.Millisecond, OK),
	}
	t0 := time.Now()
	rep := run(context.Background(), checks, 500*time.Millisecond)
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("took %s: the checks did not run concurrently or the hanging one was waited for", d)
	}
	if len(rep.Checks) != len(checks) {
		t.Fatalf("%d results for %d checks", len(rep.Checks), len(checks))
	}
	for i, c := range checks {
		if rep.Checks[i].Name != c.Name {
			t.Errorf("result %d is %q, want %q: results must keep the checks' order", i, rep.Checks[i].Name, c.Name)
		}
	}
	want(t, rep.Checks[0], OK, "slow", "")
	want(t, rep.Checks[1], Warn, "fast", "h")
	want(t, rep.Checks[2], Fail, "did not finish within 500ms", "journalctl")
	want(t, rep.Checks[3], Fail, "did not finish within 500ms", "journalctl")
	want(t, rep.Checks[4], Fail, "crashed: boom", "bug")
	want(t, rep.Checks[5], Fail, "no verdict", "bug")
	want(t, rep.Checks[6], OK, "slow too", "")
	if !rep.Failed() {
		t.Error("Failed() is false with failed checks")
	}
	if (Report{Checks: []Result{{Status: OK}, {Status: Warn}}}).Failed() {
		t.Error("Failed() is true with ok and warn only")
	}
}

// health is a device whose health a test sets; after starting for
// startingCalls calls it reports h.
type health struct {
	h             daemon.Health
	startingCalls atomic.Int32
}

func (d *health) Health() daemon.Health {
	if d.startingCalls.Add(-1) >= 0 {
		return daemon.Health{State: daemon.StateStarting}
	}
	return d.h
}

func TestCheckDevice(t *testing.T) {
	t.Parallel()
	configured := Presence{Configured: true, Key: "devices.x"}
	for _, tc := range []struct {
		name     string
		h        daemon.Health
		starting int32
		p        Presence
		status   Status
		reason   string
		hint     string
	}{
		{name: "not configured, not needed", p: Presence{Key: "devices.display.kind"}, status: OK, reason: "not configured (devices.display.kind); this site needs none"},
		{name: "not configured, needed", p: Presence{Key: "devices.x", Required: true}, status: Fail, reason: "not configured (devices.x), and this site needs it", hint: "set devices.x"},
		{name: "ok", h: daemon.Health{State: daemon.StateOK}, p: configured, status: OK, reason: "present"},
		{name: "ok after starting", h: daemon.Health{State: daemon.StateOK}, starting: 3, p: configured, status: OK, reason: "present"},
		{name: "degraded", h: daemon.Health{State: daemon.StateDegraded, Reason: "panel slow"}, p: configured, status: Warn, reason: "panel slow", hint: "the hint"},
		{name: "absent", h: daemon.Health{State: daemon.StateAbsent, Reason: "no such device"}, p: configured, status: Fail, reason: "no such device", hint: "the hint"},
		{name: "failed", h: daemon.Health{State: daemon.StateFailed, Reason: "broken"}, p: configured, status: Fail, reason: "broken", hint: "the hint"},
		{name: "still starting", starting: 1 << 30, p: configured, status: Warn, reason: "still starting", hint: "again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &health{h: tc.h}
			d.startingCalls.Store(tc.starting)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			want(t, CheckDevice("x", d, tc.p, "the hint").Run(ctx), tc.status, tc.reason, tc.hint)
		})
	}
}

// pinger answers Ping with a scripted clock offset or error and counts calls.
type pinger struct {
	offset time.Duration
	noDate bool
	err    error
	calls  atomic.Int32
}

func (p *pinger) Ping(context.Context) (time.Time, error) {
	p.calls.Add(1)
	if p.err != nil || p.noDate {
		return time.Time{}, p.err
	}
	// Date headers carry whole seconds, truncated.
	return time.Now().Add(p.offset).Truncate(time.Second), nil
}

func TestCheckBackend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                     string
		p                        *pinger
		reach, clock             Status
		reachReason, clockReason string
		reachHint, clockHint     string
	}{
		{name: "in step", p: &pinger{}, reach: OK, reachReason: "reachable over mutual TLS", clock: OK, clockReason: "within 1s of the backend's clock"},
		{name: "3 min behind", p: &pinger{offset: 3 * time.Minute}, reach: OK, clock: Warn, clockReason: "the clock is 3m0s behind the backend's", clockHint: "timedatectl"},
		{name: "11 min ahead", p: &pinger{offset: -11 * time.Minute}, reach: OK, clock: Fail, clockReason: "the clock is 11m0s ahead of the backend's; TLS", clockHint: "timedatectl set-ntp true"},
		{name: "no Date", p: &pinger{noDate: true}, reach: OK, clock: Warn, clockReason: "no Date header", clockHint: "NTP"},
		{name: "refused", p: &pinger{err: fmt.Errorf("backend ping: dial tcp 127.0.0.1:1: connect: %w", syscall.ECONNREFUSED)},
			reach: Fail, reachReason: "the backend refused the connection", reachHint: "is the backend up",
			clock: Warn, clockReason: "not compared: the backend was not reached", clockHint: "NTP"},
		{name: "certificate refused", p: &pinger{err: fmt.Errorf("backend ping: answered 403: %w", backend.ErrRefused)},
			reach: Fail, reachReason: "refused the kiosk's client certificate", reachHint: "kioskctl provision", clock: Warn, clockReason: "not compared"},
		{name: "certificate expired", p: &pinger{err: fmt.Errorf("backend ping: %w", x509.CertificateInvalidError{Reason: x509.Expired})},
			reach: Fail, reachReason: "expired or not yet valid", reachHint: "clock",
			clock: Warn, clockReason: "a wrong clock causes", clockHint: "timedatectl"},
		{name: "unknown CA", p: &pinger{err: fmt.Errorf("backend ping: %w", x509.UnknownAuthorityError{})},
			reach: Fail, reachReason: "does not chain to the pinned CA", reachHint: "backend.ca_file", clock: Warn},
		{name: "timeout", p: &pinger{err: fmt.Errorf("backend ping: %w", context.DeadlineExceeded)},
			reach: Fail, reachReason: "no answer from the backend in time", reachHint: "firewall", clock: Warn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reach, clock := CheckBackend(tc.p, nil)
			rep := Run(context.Background(), []Check{reach, clock})
			if reach.Name != NameBackend || clock.Name != NameClock {
				t.Errorf("names %q, %q", reach.Name, clock.Name)
			}
			want(t, rep.Checks[0], tc.reach, tc.reachReason, tc.reachHint)
			want(t, rep.Checks[1], tc.clock, tc.clockReason, tc.clockHint)
			if n := tc.p.calls.Load(); n != 1 {
				t.Errorf("%d pings for the two checks, want 1", n)
			}
		})
	}
	t.Run("no backend", func(t *testing.T) {
		t.Parallel()
		reach, clock := CheckBackend(nil, nil)
		want(t, reach.Run(context.Background()), Fail, "no backend configured (backend.url)", "kioskctl provision")
		want(t, clock.Run(context.Background()), Warn, "no backend configured", "NTP")
	})
}

func TestCheckDisk(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		free   uint64
		err    error
		status Status
		reason string
	}{
		{free: 50 << 20, status: Fail, reason: "50 MiB free in /state; below 100 MiB"},
		{free: 100<<20 - 1, status: Fail, reason: "99 MiB free"},
		{free: 100 << 20, status: Warn, reason: "100 MiB free in /state; below 500 MiB"},
		{free: 499 << 20, status: Warn, reason: "499 MiB"},
		{free: 500 << 20, status: OK, reason: "500 MiB free in /state"},
		{free: 20 << 30, status: OK, reason: "20 GiB free in /state"},
		{err: syscall.ENOENT, status: Fail, reason: "cannot read the free space of the state directory"},
	} {
		t.Run(fmt.Sprint(tc.free, tc.err), func(t *testing.T) {
			t.Parallel()
			free := func(dir string) (uint64, error) {
				if dir != "/state" {
					t.Errorf("asked about %q", dir)
				}
				return tc.free, tc.err
			}
			r := CheckDisk("/state", free).Run(context.Background())
			if r.Status != tc.status || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("%d bytes free: %s %q; want %s %q", tc.free, r.Status, r.Reason, tc.status, tc.reason)
			}
		})
	}
	t.Run("statfs", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if r := CheckDisk(dir, nil).Run(context.Background()); r.Status == Fail && strings.Contains(r.Reason, "cannot read") {
			t.Errorf("statfs of %s: %q", dir, r.Reason)
		}
		want(t, CheckDisk(filepath.Join(dir, "missing"), nil).Run(context.Background()), Fail, "no such file", "exists")
	})
}

// certificate returns a self-signed certificate valid from notBefore to
// notAfter.
func certificate(t *testing.T, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "KIOSK-1"}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckCertificate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name         string
		from, to     time.Time
		err          error
		status       Status
		reason, hint string
	}{
		{name: "a year left", from: now.Add(-day), to: now.Add(365 * day), status: OK, reason: "valid until 2027-06-01T12:00:00Z (365 days)"},
		{name: "30 days left", from: now.Add(-day), to: now.Add(30 * day), status: OK, reason: "(30 days)"},
		{name: "29 days left", from: now.Add(-day), to: now.Add(29 * day), status: Warn, reason: "expires in 29 days", hint: "renews it by itself"},
		{name: "7 days left", from: now.Add(-day), to: now.Add(7 * day), status: Warn, reason: "expires in 7 days"},
		{name: "6 days left", from: now.Add(-day), to: now.Add(6 * day), status: Fail, reason: "expires in 144h0m0s", hint: "kioskctl provision"},
		{name: "expired", from: now.Add(-30 * day), to: now.Add(-time.Minute), status: Fail, reason: "expired at 2026-06-01T11:59:00Z", hint: "kioskctl provision"},
		{name: "not yet valid", from: now.Add(time.Hour), to: now.Add(365 * day), status: Fail, reason: "is the clock right?", hint: "timedatectl"},
		{name: "not provisioned", err: identity.ErrNotProvisioned, status: Warn, reason: "not provisioned", hint: "kioskctl provision"},
		{name: "unreadable", err: errors.New("backend.cert_file: bad PEM"), status: Fail, reason: "cannot be read: backend.cert_file: bad PEM", hint: "kioskctl provision"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := func() (*x509.Certificate, error) {
				if tc.err != nil {
					return nil, tc.err
				}
				return certificate(t, tc.from, tc.to), nil
			}
			want(t, CheckCertificate(src, func() time.Time { return now }).Run(context.Background()), tc.status, tc.reason, tc.hint)
		})
	}
}

func TestClientCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := ClientCertificate(dir, "")(); !errors.Is(err, identity.ErrNotProvisioned) {
		t.Errorf("empty state directory, no cert_file: %v; want ErrNotProvisioned", err)
	}
	c := certificate(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	file := filepath.Join(dir, "kiosk.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ClientCertificate(dir, file)()
	if err != nil || !got.Equal(c) {
		t.Errorf("cert_file: %v, %v", got, err)
	}
	if _, err := ClientCertificate(dir, filepath.Join(dir, "missing.pem"))(); err == nil || !strings.Contains(err.Error(), "backend.cert_file") {
		t.Errorf("missing cert_file: %v", err)
	}
}
