// Package ui owns the local touchscreen server: it serves the embedded web assets
// to the kiosk's Chromium on a loopback address, with a strict Content-Security-
// Policy and a Host check against DNS rebinding, and carries the session state to
// the screen and the citizen's intents back over the kiosk.v1 websocket protocol
// (docs/ws-protocol.md). It also serves the spoken instructions and cue sounds and,
// in demo mode, the demo panel's API. Screens render state the kiosk core sends;
// no business logic lives in the browser and none lives here either.
package ui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/session"
)

//go:embed web
var webFS embed.FS

// CSP forbids everything not served by this server itself; inline scripts and
// styles are not allowed either.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self'; connect-src 'self'; media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Session is the kiosk's session state machine as the UI sees it; the
// integrator's kiosk/session.Machine implements it.
type Session interface {
	// Watch returns a channel that receives a signal (capacity 1, coalesced)
	// each time the state changes, and a function that stops watching.
	Watch() (<-chan struct{}, func())
	// State is the current session.State, JSON-encoded.
	State() []byte
	// Do applies an intent; a refused one returns a *session.IntentError.
	Do(ctx context.Context, in session.Intent) error
}

// Speaker renders spoken instructions and cue sounds.
type Speaker interface {
	// Speak returns the WAV of text in lang (vi or en); the implementation caches.
	Speak(ctx context.Context, lang, text string) ([]byte, error)
	// Cue returns the WAV of a cue sound (card, printed, error, tap).
	Cue(name string) ([]byte, bool)
}

// Options configure a Server.
type Options struct {
	Addr    string       // loopback HOST:PORT; port 0 picks a free one
	Session Session      // nil: /ws answers 503
	Secret  string       // per-boot secret, 64 lower-case hex chars; "" refuses every /ws and demo API call
	Speech  Speaker      // nil: /speech and /sounds answer 503
	Demo    DemoControl  // nil: no /demo routes (404)
	Log     *slog.Logger // nil: discard
}

// Server is the UI HTTP server, run as a daemon subsystem.
type Server struct {
	opt Options
	log *slog.Logger

	// Liveness timings; fields rather than constants so tests can shrink them.
	pingInterval  time.Duration // server websocket ping period, and heartbeat_ms in hello
	readTimeout   time.Duration // a connection silent this long is closed
	writeTimeout  time.Duration // deadline of every write
	intentTimeout time.Duration // deadline of Session.Do
	closeGrace    time.Duration // how long a closing connection waits for the peer's close frame

	i18n    map[string]map[string]string
	i18nErr error
	handler http.Handler

	mu       sync.Mutex
	ln       net.Listener
	srv      *http.Server
	conns    map[*wsConn]struct{}
	stopping bool
	connWG   sync.WaitGroup
	connSeq  atomic.Uint64
	err      atomic.Value // string: why serving stopped
}

// New returns a UI server; Start binds it.
func New(o Options) *Server {
	s := &Server{
		opt:           o,
		log:           o.Log,
		pingInterval:  10 * time.Second,
		readTimeout:   30 * time.Second,
		writeTimeout:  5 * time.Second,
		intentTimeout: 5 * time.Second,
		closeGrace:    time.Second,
		conns:         make(map[*wsConn]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.i18n, s.i18nErr = loadI18n()
	if s.i18nErr != nil {
		// A broken catalogue only silences speech; the screens still work.
		s.log.Error("ui: i18n.json unreadable; speech disabled", "err", s.i18nErr)
	}
	s.handler = s.routes()
	return s
}

// Name implements daemon.Subsystem.
func (s *Server) Name() string { return "ui" }

// Handler returns the server's HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

func loadI18n() (map[string]map[string]string, error) {
	b, err := webFS.ReadFile("web/i18n.json")
	if err != nil {
		return nil, fmt.Errorf("read embedded i18n.json: %w", err)
	}
	var m map[string]map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse embedded i18n.json: %w", err)
	}
	return m, nil
}

func (s *Server) routes() http.Handler {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	mux := http.NewServeMux()
	mux.Handle("GET /", s.static(files))
	mux.HandleFunc("GET /ws", s.serveWS)
	mux.HandleFunc("GET /i18n.json", s.serveI18n)
	mux.HandleFunc("GET /speech/{lang}/{file}", s.serveSpeech)
	mux.HandleFunc("GET /sounds/{file}", s.serveSound)
	if s.opt.Demo != nil {
		mux.HandleFunc("GET /demo", s.serveDemoPage)
		mux.HandleFunc("GET /demo/api/state", s.serveDemoState)
		mux.HandleFunc("POST /demo/api/action", s.serveDemoAction)
	}
	return secure(mux)
}

// static serves the embedded assets, except the demo panel's outside demo mode.
func (s *Server) static(files http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opt.Demo == nil && strings.HasPrefix(r.URL.Path, "/demo") {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func (s *Server) serveI18n(w http.ResponseWriter, r *http.Request) {
	b, err := webFS.ReadFile("web/i18n.json")
	if err != nil {
		http.Error(w, "i18n unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
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

// allowedOrigin reports whether origin is this server's own: a loopback name and
// the port the request arrived on. The port comes from the accepted connection,
// so the check also holds behind httptest and with port 0.
func (s *Server) allowedOrigin(r *http.Request, origin string) bool {
	port := ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			port = p
		}
	}
	if port == "" {
		s.mu.Lock()
		if s.ln != nil {
			_, port, _ = net.SplitHostPort(s.ln.Addr().String())
		}
		s.mu.Unlock()
	}
	if port == "" || port == "0" {
		return false
	}
	for _, host := range []string{"127.0.0.1", "localhost", "[::1]"} {
		if origin == "http://"+host+":"+port {
			return true
		}
	}
	return false
}

// Start implements daemon.Subsystem.
func (s *Server) Start(context.Context) error {
	host, _, err := net.SplitHostPort(s.opt.Addr)
	if err != nil {
		return fmt.Errorf("UI listen address %q: %w", s.opt.Addr, err)
	}
	if !loopbackHost(host) {
		// The UI carries personal data and has no TLS: it must never face a network.
		return fmt.Errorf("UI listen address %q is not a loopback address", s.opt.Addr)
	}
	if s.opt.Secret == "" {
		s.log.Warn("ui: no per-boot secret configured; every websocket connection will be refused")
	}
	ln, err := net.Listen("tcp", s.opt.Addr)
	if err != nil {
		return fmt.Errorf("UI listener on %s: %w", s.opt.Addr, err)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	s.ln, s.srv = ln, srv
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err.Store(err.Error())
		}
	}()
	s.log.Info("ui listening", "addr", ln.Addr().String())
	return nil
}

// URL is the server's root, "http://127.0.0.1:PORT/" once started.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return "http://" + s.ln.Addr().String() + "/"
	}
	return "http://" + s.opt.Addr + "/"
}

// KioskURL is what the kiosk browser opens: the page, with the secret in the
// fragment so it never reaches a server or a log.
func (s *Server) KioskURL() string { return s.URL() + "#k=" + s.opt.Secret }

// DemoURL is the demo panel's address, with the secret in the fragment.
func (s *Server) DemoURL() string { return s.URL() + "demo#k=" + s.opt.Secret }

// Stop implements daemon.Subsystem: it closes every websocket with 1001 (going
// away), waits for them to end, and shuts the HTTP server down.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	srv := s.srv
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(closeGoingAway, "server shutting down")
	}
	var err error
	if srv != nil {
		if e := srv.Shutdown(ctx); e != nil {
			err = fmt.Errorf("UI server shutdown: %w", e)
		}
	}
	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		for _, c := range conns {
			c.abort()
		}
		<-done
		if err == nil {
			err = fmt.Errorf("UI websockets did not close in time: %w", ctx.Err())
		}
	}
	return err
}

// Health implements daemon.Subsystem.
func (s *Server) Health() daemon.Health {
	if e, _ := s.err.Load().(string); e != "" {
		return daemon.Health{State: daemon.StateFailed, Reason: e}
	}
	s.mu.Lock()
	started := s.srv != nil
	s.mu.Unlock()
	switch {
	case !started:
		return daemon.Health{State: daemon.StateStarting}
	case s.opt.Session == nil:
		return daemon.Health{State: daemon.StateDegraded, Reason: "no session machine attached"}
	case s.i18nErr != nil:
		return daemon.Health{State: daemon.StateDegraded, Reason: "i18n catalogue unreadable, speech disabled"}
	}
	return daemon.Health{State: daemon.StateOK}
}
