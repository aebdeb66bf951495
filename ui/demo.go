package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/session"
)

// DemoControl drives the demo's simulated devices (kioskd --demo).
type DemoControl interface {
	DemoState(ctx context.Context) (DemoState, error)
	// DemoAction performs insert_card (arg: card name), remove_card, pay or
	// fault (arg: fault name, toggled). It returns an error wrapping
	// ErrDemoNotFound for an unknown sample card or fault, ErrDemoRefused when
	// the action is not possible now (pay with nothing pending).
	DemoAction(ctx context.Context, action, arg string) error
}

// DemoState is what the demo panel shows.
type DemoState struct {
	Cards          []DemoCard  `json:"cards"`
	Inserted       string      `json:"inserted"` // name of the card on the reader, "" when none
	Faults         []DemoFault `json:"faults"`
	PendingPayment string      `json:"pending_payment"` // VietQR reference awaiting payment, "" when none
}

// DemoCard is one sample citizen card.
type DemoCard struct {
	Name  string `json:"name"`  // e.g. nguyen-van-an
	Label string `json:"label"` // e.g. Nguyễn Văn An (a fictitious sample)
}

// DemoFault is one device fault the panel can toggle.
type DemoFault struct {
	Name  string       `json:"name"` // e.g. printer_paper_out
	Label session.Text `json:"label"`
	On    bool         `json:"on"`
}

// demoActions are the demo API's actions, and whether each takes an arg.
var demoActions = map[string]bool{
	"insert_card": true,  // arg: sample card name
	"remove_card": false, // no arg
	"pay":         false, // pays the pending VietQR fee
	"fault":       true,  // arg: fault name; toggles it
	"scan_code":   true,  // arg: the text a code holds; the simulated QR scanner reads it
}

// Errors DemoControl implementations wrap so the API answers with the right status.
var (
	ErrDemoNotFound = errors.New("demo: no such card or fault")   // 404
	ErrDemoRefused  = errors.New("demo: action not possible now") // 400
)

const (
	maxDemoBody    = 4 << 10
	demoKeyHeader  = "X-Kiosk-Key"
	demoAPITimeout = 10 * time.Second
)

type demoActionRequest struct {
	Action string `json:"action"`
	Arg    string `json:"arg"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func demoError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (s *Server) serveDemoPage(w http.ResponseWriter, r *http.Request) {
	b, err := webFS.ReadFile("web/demo.html")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b)
}

// demoKeyOK checks the X-Kiosk-Key header in constant time.
func (s *Server) demoKeyOK(w http.ResponseWriter, r *http.Request) bool {
	if keyMatches(r.Header.Get(demoKeyHeader), s.opt.Secret) {
		return true
	}
	s.log.Warn("ui: demo API refused", "status", http.StatusUnauthorized, "reason", "missing or wrong key", "remote", r.RemoteAddr)
	demoError(w, http.StatusUnauthorized, "missing or wrong X-Kiosk-Key")
	return false
}

func (s *Server) serveDemoState(w http.ResponseWriter, r *http.Request) {
	if !s.demoKeyOK(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), demoAPITimeout)
	defer cancel()
	st, err := s.opt.Demo.DemoState(ctx)
	if err != nil {
		s.log.Warn("ui: demo state", "err", err)
		demoError(w, http.StatusInternalServerError, "demo state unavailable")
		return
	}
	// The panel iterates these; it should see [] rather than null.
	if st.Cards == nil {
		st.Cards = []DemoCard{}
	}
	if st.Faults == nil {
		st.Faults = []DemoFault{}
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) serveDemoAction(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || !s.allowedOrigin(r, origin) {
		s.log.Warn("ui: demo API refused", "status", http.StatusForbidden, "reason", "missing or foreign Origin", "remote", r.RemoteAddr)
		demoError(w, http.StatusForbidden, "forbidden origin")
		return
	}
	if !s.demoKeyOK(w, r) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDemoBody+1))
	if err != nil {
		demoError(w, http.StatusBadRequest, "unreadable body")
		return
	}
	if len(body) > maxDemoBody {
		demoError(w, http.StatusBadRequest, "body over 4 KiB")
		return
	}
	var req demoActionRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		demoError(w, http.StatusBadRequest, "malformed body: "+err.Error())
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		demoError(w, http.StatusBadRequest, "body must hold exactly one JSON object")
		return
	}
	needsArg, known := demoActions[req.Action]
	switch {
	case !known:
		demoError(w, http.StatusBadRequest, "unknown action")
		return
	case needsArg && req.Arg == "":
		demoError(w, http.StatusBadRequest, "action needs an arg")
		return
	case !needsArg && req.Arg != "":
		demoError(w, http.StatusBadRequest, "action takes no arg")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), demoAPITimeout)
	defer cancel()
	switch err := s.opt.Demo.DemoAction(ctx, req.Action, req.Arg); {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case errors.Is(err, ErrDemoNotFound):
		demoError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrDemoRefused):
		demoError(w, http.StatusBadRequest, err.Error())
	default:
		s.log.Warn("ui: demo action failed", "action", req.Action, "err", err)
		demoError(w, http.StatusInternalServerError, "demo action failed")
	}
}
