// Package metrics owns the daemon's observability endpoints on their own loopback
// port, apart from the UI: Prometheus /metrics (with kioskd_build_info and the
// health of each subsystem), /healthz (the daemon's main loop is alive) and /readyz
// (start-up finished, not draining, no subsystem failed). Fleet monitoring scrapes
// this port through the operator's tunnel; it never faces the citizen.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vnkiosk/kiosk/kiosk/version"
)

// NewRegistry returns a registry with the Go runtime, process and build metrics.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	v := version.Get()
	bi := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "kioskd_build_info",
		Help:        "Build of the running kioskd; always 1.",
		ConstLabels: prometheus.Labels{"version": v.Version, "revision": v.Revision, "goversion": v.GoVersion},
	})
	bi.Set(1)
	r.MustRegister(bi)
	return r
}

// Probes answer the health endpoints.
type Probes struct {
	Live  func() error // nil when the main loop is alive
	Ready func() error // nil when ready to serve citizens
}

// Server serves the endpoints.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen binds addr and prepares the handlers.
func Listen(addr string, reg *prometheus.Registry, p Probes) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", probe(p.Live))
	mux.HandleFunc("GET /readyz", probe(p.Ready))
	return &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}, nil
}

func probe(f func() error) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := f(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, "ok")
	}
}

// Addr is the bound address (useful when configured with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops serving.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
