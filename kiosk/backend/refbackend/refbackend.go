// Package refbackend owns the reference kiosk gateway: a server of the API in
// docs/backend-api.md over mutual TLS, for tests, `kioskctl sim backend` and demo
// mode. It keeps filings in memory (optionally in a JSON file written
// atomically), upserts them on MaHoSo, deduplicates repeats by idempotency key
// and counts every delivery; it answers dossier status and payment long-polls;
// and it injects faults (latency, 500s, dropped connections) at rates drawn from
// a seeded generator. Test-only endpoints live under /_sim/. It also issues
// kiosks their client certificates over EST with one-time tokens (est.go).
package refbackend

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vnkiosk/kiosk/internal/atomicfile"

	"github.com/vnkiosk/kiosk/kiosk/backend"
)

// Options configure a Server. Zero values take the defaults named.
type Options struct {
	// DB, when set, is a JSON file the filings are loaded from and saved to
	// (atomically: temporary file, fsync, rename) after every change.
	DB string
	// Latency is added before every /v1/ answer (0..1m).
	Latency time.Duration
	// ErrorRate is the probability (0..1) that a /v1/ request is answered 500
	// without effect.
	ErrorRate float64
	// DropRate is the probability (0..1) that a /v1/ request takes effect but its
	// connection is closed without an answer. ErrorRate+DropRate ≤ 1.
	DropRate float64
	// Seed seeds the fault generator; 0 picks a random seed.
	Seed uint64
	// AutoPay, when positive, marks a payment paid this long after it is first
	// asked about (demo mode).
	AutoPay time.Duration
	// PaymentTTL is how long a payment stays pending before it expires (15m).
	PaymentTTL time.Duration
	// RequireSignature rejects a filing without a Filing-Signature header (a
	// present one is always verified; see checkFilingSignature). Off by default
	// until the kiosk's backend client sends the header.
	RequireSignature bool
	Log              *slog.Logger // nil discards
	// ESTTokens are one-time enrolment tokens for EST simpleenroll (est.go):
	// each issues one certificate; a replay is answered 401.
	ESTTokens []string
	// DemoEnrolment makes the well-known token "demo" work any number of
	// times. ANYONE WHO CAN REACH THE BACKEND CAN THEN GET A CLIENT
	// CERTIFICATE: it exists only for `kioskd --demo --backend URL`, never for
	// a backend real kiosks use.
	DemoEnrolment bool
	// ESTValidity is how long EST-issued certificates are valid (30 days).
	ESTValidity time.Duration
	// InsuranceData is what the health-insurance gateway (insurance.go)
	// answers from; nil serves DemoInsuranceData().
	InsuranceData *InsuranceData
	// InsuranceUser and InsurancePassword (plain) are the gateway login; both
	// empty take DemoInsuranceUser and DemoInsurancePassword.
	InsuranceUser, InsurancePassword string
	// InsuranceTokenTTL is how long a gateway token lasts (30m).
	InsuranceTokenTTL time.Duration
	// SiteConfigs are the site configuration documents served by site code
	// (siteconfig.go), signed as given; other sites get DemoSiteConfig.
	SiteConfigs map[string]json.RawMessage
}

// MaxBody bounds a filing request (attachments in base64 included).
const MaxBody = 64 << 20

// SimFiling is one entry of GET /_sim/filings.
type SimFiling struct {
	MaHoSo         string `json:"ma_ho_so"`
	IdempotencyKey string `json:"idempotency_key"`
	SHA256         string `json:"sha256"` // of the filing body (the dossier JSON)
	Deliveries     int    `json:"deliveries"`
}

// record is one stored dossier.
type record struct {
	MaHoSo         string          `json:"ma_ho_so"`
	MaTTHC         string          `json:"ma_tthc"`
	IdempotencyKey string          `json:"idempotency_key"`
	SHA256         string          `json:"sha256"`
	Content        string          `json:"content"` // hash of everything sent, for conflict detection
	Deliveries     int             `json:"deliveries"`
	ReceivedAt     time.Time       `json:"received_at"`
	Status         int             `json:"trang_thai_ho_so"`
	Filing         json.RawMessage `json:"filing"`
	Attachments    int             `json:"attachments"`
}

type dbFile struct {
	Filings []*record         `json:"filings"`
	Keys    map[string]string `json:"keys"` // idempotency key → MaHoSo
}

type payment struct {
	status  backend.PaymentState
	paidAt  time.Time
	expires time.Time
	changed chan struct{} // closed and replaced on every change
}

// Server is the reference backend.
type Server struct {
	opt Options
	log *slog.Logger

	mu       sync.Mutex
	rng      *rand.Rand
	filings  map[string]*record
	keys     map[string]string
	payments map[string]*payment
	timers   []*time.Timer

	srv *http.Server
	url string

	counts FaultCounts

	ins *insuranceGateway // the health-insurance gateway (insurance.go)

	site *siteConfigs // signed site configurations (siteconfig.go)
}

// FaultCounts counts /v1/ requests and the faults injected into them.
type FaultCounts struct {
	Requests, Errors, Drops int
}

// SetErrorRate changes ErrorRate while serving (the demo panel's "backend
// down" switch); it is clamped so ErrorRate+DropRate stays ≤ 1.
func (s *Server) SetErrorRate(p float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.ErrorRate = max(0, min(p, 1-s.opt.DropRate))
}

// ErrorRate returns the current ErrorRate.
func (s *Server) ErrorRate() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opt.ErrorRate
}

// PendingPayments lists the references of payments still waiting, oldest
// first.
func (s *Server) PendingPayments() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	type pending struct {
		ref     string
		expires time.Time
	}
	var ps []pending
	now := time.Now()
	for ref, p := range s.payments {
		if p.status == backend.PaymentPending && now.Before(p.expires) {
			ps = append(ps, pending{ref, p.expires})
		}
	}
	slices.SortFunc(ps, func(a, b pending) int { return a.expires.Compare(b.expires) })
	refs := make([]string, len(ps))
	for i, p := range ps {
		refs[i] = p.ref
	}
	return refs
}

// Faults returns the counts so far.
func (s *Server) Faults() FaultCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// New validates the options and loads the database file if there is one.
func New(opt Options) (*Server, error) {
	switch {
	case opt.Latency < 0 || opt.Latency > time.Minute:
		return nil, errors.New("refbackend: latency must be within 0..1m")
	case !(opt.ErrorRate >= 0 && opt.ErrorRate <= 1), !(opt.DropRate >= 0 && opt.DropRate <= 1):
		return nil, errors.New("refbackend: error and drop rates must be within 0..1")
	case opt.ErrorRate+opt.DropRate > 1:
		return nil, errors.New("refbackend: error rate + drop rate exceeds 1")
	}
	if opt.PaymentTTL <= 0 {
		opt.PaymentTTL = 15 * time.Minute
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	seed := opt.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	s := &Server{opt: opt, log: opt.Log, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		filings: map[string]*record{}, keys: map[string]string{}, payments: map[string]*payment{}}
	s.ins = newInsuranceGateway(opt)
	var err error
	if s.site, err = newSiteConfigs(opt); err != nil {
		return nil, err
	}
	if opt.DB != "" {
		b, err := os.ReadFile(opt.DB)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("refbackend: %w", err)
		default:
			var db dbFile
			if err := json.Unmarshal(b, &db); err != nil {
				return nil, fmt.Errorf("refbackend: database %s: %w", opt.DB, err)
			}
			for _, r := range db.Filings {
				s.filings[r.MaHoSo] = r
			}
			for k, m := range db.Keys {
				s.keys[k] = m
			}
		}
	}
	return s, nil
}

// Handler serves the API and the /_sim/ endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/filings", s.faults(http.HandlerFunc(s.postFiling)))
	mux.Handle("GET /v1/filings/{ma}", s.faults(http.HandlerFunc(s.getFiling)))
	mux.Handle("GET /v1/payments/{ref}", s.faults(http.HandlerFunc(s.getPayment)))
	mux.Handle("GET /v1/site-config/{site}", s.faults(http.HandlerFunc(s.getSiteConfig)))
	mux.HandleFunc("GET /_sim/filings", s.simFilings)
	mux.HandleFunc("POST /_sim/payments/{ref}/pay", s.simPay)
	mux.HandleFunc("POST /_sim/filings/{ma}/status", s.simStatus)
	s.insuranceRoutes(mux)
	return mux
}

// Start listens on addr with mutual TLS from pki and serves in the background;
// it returns the base URL.
func (s *Server) Start(addr string, pki *PKI) (string, error) {
	tc, err := pki.ServerTLSConfig()
	if err != nil {
		return "", err
	}
	if err := s.site.start(pki); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	s.url = "https://" + net.JoinHostPort(host, port)
	h, err := s.withEST(pki, s.Handler())
	if err != nil {
		ln.Close()
		return "", err
	}
	s.srv = &http.Server{Handler: h, TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	return s.url, nil
}

// URL is the base URL once started.
func (s *Server) URL() string { return s.url }

// Close stops serving and the auto-pay timers.
func (s *Server) Close() error {
	s.mu.Lock()
	for _, t := range s.timers {
		t.Stop()
	}
	s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

// Filings lists the stored filings, ordered by MaHoSo.
func (s *Server) Filings() []SimFiling {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SimFiling, 0, len(s.filings))
	for _, r := range s.filings {
		out = append(out, SimFiling{MaHoSo: r.MaHoSo, IdempotencyKey: r.IdempotencyKey, SHA256: r.SHA256, Deliveries: r.Deliveries})
	}
	slices.SortFunc(out, func(a, b SimFiling) int { return strings.Compare(a.MaHoSo, b.MaHoSo) })
	return out
}

// Pay marks a payment paid (creating it if it was never asked about).
func (s *Server) Pay(ref string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.paymentLocked(ref)
	if p.status == backend.PaymentPending {
		p.status, p.paidAt = backend.PaymentPaid, time.Now().UTC()
		close(p.changed)
		p.changed = make(chan struct{})
	}
}

// SetStatus sets a stored dossier's TrangThaiHoSo.
func (s *Server) SetStatus(maHoSo string, code int) error {
	if _, ok := backend.TrangThaiLabel(code); !ok {
		return fmt.Errorf("refbackend: TrangThaiHoSo %d outside 1–10", code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.filings[maHoSo]
	if !ok {
		return errors.New("refbackend: no such dossier")
	}
	r.Status = code
	return s.saveLocked()
}

// faults wraps a /v1/ handler with the injected latency, 500s and drops.
func (s *Server) faults(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		roll := s.rng.Float64()
		errRate, dropRate := s.opt.ErrorRate, s.opt.DropRate
		s.counts.Requests++
		switch {
		case roll < errRate:
			s.counts.Errors++
		case roll < errRate+dropRate:
			s.counts.Drops++
		}
		s.mu.Unlock()
		if d := s.opt.Latency; d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case roll < errRate:
			writeError(w, http.StatusInternalServerError, "internal", "injected fault")
		case roll < errRate+dropRate:
			h.ServeHTTP(&discard{h: http.Header{}}, r) // the request takes effect …
			if hj, ok := w.(http.Hijacker); ok {       // … and its answer is lost
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, ec, msg string) {
	writeJSON(w, code, backend.ErrorBody{Code: ec, Message: msg})
}

var (
	maHoSoRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	keyRE    = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)
)

func (s *Server) postFiling(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if !keyRE.MatchString(key) {
		writeError(w, http.StatusBadRequest, "validation", "Idempotency-Key missing or invalid")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "filing exceeds the size limit")
			return
		}
		writeError(w, http.StatusBadRequest, "validation", "unreadable body")
		return
	}
	var req backend.FilingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "validation", "body is not a filing")
		return
	}
	if msg := validateFiling(&req); msg != "" {
		writeError(w, http.StatusBadRequest, "validation", msg)
		return
	}
	if err := s.checkFilingSignature(r, req.Filing); err != nil {
		writeSignatureError(w, err)
		return
	}
	content := contentHash(&req)
	sum := sha256.Sum256(req.Filing)

	s.mu.Lock()
	defer s.mu.Unlock()
	if ma, ok := s.keys[key]; ok {
		rec := s.filings[ma]
		if rec == nil || ma != req.MaHoSo || rec.Content != content {
			writeError(w, http.StatusConflict, "conflict", "idempotency key reused for different content")
			return
		}
		rec.Deliveries++
		if err := s.saveLocked(); err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "cannot save")
			return
		}
		writeJSON(w, http.StatusOK, backend.FilingAck{MaHoSo: rec.MaHoSo, ReceivedAt: rec.ReceivedAt})
		return
	}
	rec, exists := s.filings[req.MaHoSo]
	if !exists {
		rec = &record{MaHoSo: req.MaHoSo, ReceivedAt: time.Now().UTC().Truncate(time.Millisecond), Status: 1}
		s.filings[req.MaHoSo] = rec
	}
	// Upsert on MaHoSo: a new key for a known dossier replaces its content.
	rec.MaTTHC, rec.IdempotencyKey, rec.SHA256, rec.Content = req.MaTTHC, key, hex.EncodeToString(sum[:]), content
	rec.Filing, rec.Attachments = bytes.Clone(req.Filing), len(req.Attachments)
	rec.Deliveries++
	s.keys[key] = req.MaHoSo
	if err := s.saveLocked(); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "cannot save")
		return
	}
	code := http.StatusCreated
	if exists {
		code = http.StatusOK
	}
	w.Header().Set("Location", "/v1/filings/"+req.MaHoSo)
	writeJSON(w, code, backend.FilingAck{MaHoSo: rec.MaHoSo, ReceivedAt: rec.ReceivedAt})
}

func validateFiling(req *backend.FilingRequest) string {
	switch {
	case !maHoSoRE.MatchString(req.MaHoSo):
		return "ma_ho_so missing or invalid"
	case req.MaTTHC == "" || len(req.MaTTHC) > 64:
		return "ma_tthc missing or invalid"
	case len(req.Filing) == 0 || req.Filing[0] != '{':
		return "filing must be a JSON object"
	}
	for _, a := range req.Attachments {
		if a.Name == "" || a.ContentType == "" {
			return "attachment without name or content type"
		}
	}
	return ""
}

// contentHash covers everything a filing carries except its creation time.
func contentHash(req *backend.FilingRequest) string {
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	field([]byte(req.MaHoSo))
	field([]byte(req.MaTTHC))
	field(req.Filing)
	for _, a := range req.Attachments {
		field([]byte(a.Name))
		field([]byte(a.ContentType))
		field(a.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) getFiling(w http.ResponseWriter, r *http.Request) {
	ma := r.PathValue("ma")
	s.mu.Lock()
	rec, ok := s.filings[ma]
	var st backend.DossierStatus
	if ok {
		label, _ := backend.TrangThaiLabel(rec.Status)
		st = backend.DossierStatus{MaHoSo: rec.MaHoSo, TrangThaiHoSo: rec.Status, Label: label}
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such dossier")
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// paymentLocked returns the payment, creating a pending one on first sight.
func (s *Server) paymentLocked(ref string) *payment {
	p, ok := s.payments[ref]
	if !ok {
		p = &payment{status: backend.PaymentPending, expires: time.Now().Add(s.opt.PaymentTTL), changed: make(chan struct{})}
		s.payments[ref] = p
		if s.opt.AutoPay > 0 {
			s.timers = append(s.timers, time.AfterFunc(s.opt.AutoPay, func() { s.Pay(ref) }))
		}
	}
	if p.status == backend.PaymentPending && !time.Now().Before(p.expires) {
		p.status = backend.PaymentExpired
		close(p.changed)
		p.changed = make(chan struct{})
	}
	return p
}

// MaxWait bounds a payment long-poll.
const MaxWait = 60 * time.Second

func (s *Server) getPayment(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	if ref == "" || len(ref) > 64 {
		writeError(w, http.StatusBadRequest, "validation", "invalid payment reference")
		return
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, "validation", "invalid wait")
			return
		}
		wait = min(d, MaxWait)
	}
	deadline := time.Now().Add(wait)
	for {
		s.mu.Lock()
		p := s.paymentLocked(ref)
		ans := backend.Payment{Ref: ref, Status: p.status, PaidAt: p.paidAt}
		changed, expires := p.changed, p.expires
		s.mu.Unlock()
		left := time.Until(deadline)
		if ans.Status != backend.PaymentPending || left <= 0 {
			writeJSON(w, http.StatusOK, ans)
			return
		}
		t := time.NewTimer(min(left, time.Until(expires)+time.Millisecond))
		select {
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
		t.Stop()
	}
}

func (s *Server) simFilings(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Filings())
}

func (s *Server) simPay(w http.ResponseWriter, r *http.Request) {
	s.Pay(r.PathValue("ref"))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) simStatus(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err == nil {
		err = s.SetStatus(r.PathValue("ma"), code)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "validation", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// saveLocked writes the database file atomically, when there is one.
func (s *Server) saveLocked() error {
	if s.opt.DB == "" {
		return nil
	}
	db := dbFile{Keys: s.keys}
	for _, r := range s.filings {
		db.Filings = append(db.Filings, r)
	}
	slices.SortFunc(db.Filings, func(a, b *record) int { return strings.Compare(a.MaHoSo, b.MaHoSo) })
	b, err := json.Marshal(db)
	if err != nil {
		return err
	}
	return atomicfile.Write(s.opt.DB, b, 0o600)
}
