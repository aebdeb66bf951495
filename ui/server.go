// Package ui owns the local touchscreen server: it serves the embedded web assets
// to the kiosk's Chromium on a loopback address, with a strict Content-Security-
// Policy and a Host check against DNS rebinding, so that no page, font or script is
// ever fetched from outside the machine and no other site can drive the kiosk.
// Screens render state the kiosk core sends; no business logic lives in the browser.
package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

//go:embed web
var webFS embed.FS

// CSP forbids everything not served by this server itself; inline scripts and
// styles are not allowed either.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self'; connect-src 'self'; media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Server is the UI HTTP server, run as a daemon subsystem.
type Server struct {
	Addr string
	srv  *http.Server
	ln   net.Listener
	err  atomic.Value // string: why serving stopped
}

// New returns a UI server for the loopback address addr.
func New(addr string) *Server { return &Server{Addr: addr} }

// Name implements daemon.Subsystem.
func (s *Server) Name() string { return "ui" }

// Handler returns the HTTP handler; exposed for tests.
func Handler() http.Handler {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	mux := http.NewServeMux()
	mux.Handle("GET /", files)
	return secure(mux)
}

func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			http.Error(w, "forbidden host", http.StatusForbidden)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// loopbackHost accepts only names that resolve to this machine without DNS: a
// rebinding attack reaches us with the attacker's host name in Host.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Start implements daemon.Subsystem.
func (s *Server) Start(context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("UI listener on %s: %w", s.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: Handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err.Store(err.Error())
		}
	}()
	return nil
}

// URL is the address the kiosk browser opens.
func (s *Server) URL() string {
	if s.ln != nil {
		return "http://" + s.ln.Addr().String() + "/"
	}
	return "http://" + s.Addr + "/"
}

// Stop implements daemon.Subsystem.
func (s *Server) Stop(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

// Health implements daemon.Subsystem.
func (s *Server) Health() daemon.Health {
	if e, _ := s.err.Load().(string); e != "" {
		return daemon.Health{State: daemon.StateFailed, Reason: e}
	}
	if s.srv == nil {
		return daemon.Health{State: daemon.StateStarting}
	}
	return daemon.Health{State: daemon.StateOK}
}
