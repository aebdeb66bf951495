package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnkiosk/kiosk/kiosk/backend"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/keystore"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
	"github.com/vnkiosk/kiosk/kiosk/submission"
)

// kioskFilings are the outbox subsystem, the control routes that feed it, and
// — when a backend is configured — the backend client and the intake the
// touchscreen flow files through.
type kioskFilings struct {
	Outbox  daemon.Subsystem
	Routes  func(*http.ServeMux)
	Backend *backend.Client    // nil without a backend
	Intake  *submission.Intake // nil without a backend
}

// newFilings builds the outbox forwarding to the configured backend and the
// intake that feeds it. Without a backend the kiosk cannot promise delivery, so
// it takes no filings and says so.
func newFilings(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*kioskFilings, error) {
	b := cfg.Backend
	if b.URL == "" {
		return &kioskFilings{Outbox: noBackend{}, Routes: func(mux *http.ServeMux) {
			mux.HandleFunc("POST /v1/filings", func(w http.ResponseWriter, _ *http.Request) {
				control.WriteError(w, http.StatusServiceUnavailable, "this kiosk has no backend configured (backend.url), so it takes no filings")
			})
		}}, nil
	}
	client, err := backend.New(backend.Config{BaseURL: b.URL, CertFile: b.CertFile, KeyFile: b.KeyFile, CAFile: b.CAFile,
		Log: log.With("subsystem", "backend")})
	if err != nil {
		return nil, err
	}
	key, err := keystore.Key(cfg.StateDir, "outbox")
	if err != nil {
		return nil, err
	}
	ob, err := outbox.New(outbox.Options{StateDir: cfg.StateDir, Key: key, Forwarder: client, Registerer: reg,
		Log: log.With("subsystem", "outbox")})
	if err != nil {
		return nil, err
	}
	in := &submission.Intake{Outbox: ob}
	return &kioskFilings{Outbox: ob, Routes: in.Routes, Backend: client, Intake: in}, nil
}

// noBackend stands for the outbox when no backend is configured.
type noBackend struct{}

func (noBackend) Name() string                { return "outbox" }
func (noBackend) Start(context.Context) error { return nil }
func (noBackend) Stop(context.Context) error  { return nil }
func (noBackend) Health() daemon.Health {
	return daemon.Health{State: daemon.StateAbsent, Reason: "no backend configured (backend.url): filings are not accepted"}
}
