// Package outboxtest owns what the outbox's tests and benchmarks forward to: a
// loopback HTTP backend that, like the real one, treats a filing as an upsert (here
// keyed on the idempotency key) and records every delivery, with faults it can
// inject (5xx, lost answers, dropped connections); and an HTTP Forwarder for it.
// It stands in for the provincial backend across a real TCP boundary.
package outboxtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"sync"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/outbox"
)

// The test wire format is multipart/form-data, as a scan upload would be: a
// "meta" part (JSON: MaHoSo and procedure code), a "body" part (the filing's JSON
// as is) and one "attachment" part per page with its file name and content type.
type wireMeta struct {
	MaHoSo    string `json:"ma_ho_so"`
	Procedure string `json:"ma_tthc"`
}

// ContentHash is a hash of everything a filing carries to the backend (not its
// created time, which Enqueue may set), hex-encoded.
func ContentHash(f outbox.Filing) string {
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	field([]byte(f.MaHoSo))
	field([]byte(f.ProcedureCode))
	field(f.Body)
	for _, a := range f.Attachments {
		field([]byte(a.Name))
		field([]byte(a.ContentType))
		field(a.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readWire decodes a request body of the wire format.
func readWire(r *http.Request) (outbox.Filing, error) {
	var f outbox.Filing
	mr, err := r.MultipartReader()
	if err != nil {
		return f, err
	}
	seenMeta := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return f, err
		}
		data, err := io.ReadAll(io.LimitReader(p, 64<<20))
		if err != nil {
			return f, err
		}
		switch p.FormName() {
		case "meta":
			var m wireMeta
			if err := json.Unmarshal(data, &m); err != nil {
				return f, fmt.Errorf("meta: %w", err)
			}
			f.MaHoSo, f.ProcedureCode, seenMeta = m.MaHoSo, m.Procedure, true
		case "body":
			f.Body = data
		case "attachment":
			f.Attachments = append(f.Attachments, outbox.Attachment{Name: p.FileName(), ContentType: p.Header.Get("Content-Type"), Data: data})
		default:
			return f, fmt.Errorf("unknown part %q", p.FormName())
		}
	}
	if !seenMeta {
		return f, errors.New("no meta part")
	}
	return f, nil
}

// Faults are the probabilities (0..1) of each injected failure per request.
type Faults struct {
	Unavailable float64 // answer 503 without storing
	LostAnswer  float64 // store, then answer 503: the kiosk must retry, and the retry is a duplicate
	Drop        float64 // store, then close the connection without an answer
	Delay       time.Duration
}

// Record is what the server holds for one idempotency key.
type Record struct {
	Hash       string
	Deliveries int // every request that carried the key, duplicates included
	Conflicts  int // deliveries whose content differed from the first
}

// Server is the recording backend.
type Server struct {
	URL string
	srv *httptest.Server

	mu      sync.Mutex
	faults  Faults
	rng     *rand.Rand
	records map[string]*Record
	status  int // when non-zero, every request is answered with it, unstored
}

// NewServer starts a server on 127.0.0.1.
func NewServer(f Faults, seed uint64) *Server {
	s := &Server{faults: f, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), records: map[string]*Record{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// SetStatus makes every following request answer code without storing (0 to
// return to normal).
func (s *Server) SetStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

// Records returns a copy of what was stored, by idempotency key.
func (s *Server) Records() map[string]Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Record, len(s.records))
	for k, r := range s.records {
		out[k] = *r
	}
	return out
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	f, err := readWire(r)
	if err != nil || key == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	status := s.status
	roll := s.rng.Float64()
	faults := s.faults
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	if roll < faults.Unavailable {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	roll -= faults.Unavailable
	s.store(key, ContentHash(f))
	if faults.Delay > 0 {
		time.Sleep(faults.Delay)
	}
	switch {
	case roll < faults.LostAnswer:
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	case roll < faults.LostAnswer+faults.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"error_code":"00"}`)
	}
}

// store is the upsert: the first delivery of a key takes effect, later ones
// only count.
func (s *Server) store(key, hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[key]
	if !ok {
		s.records[key] = &Record{Hash: hash, Deliveries: 1}
		return
	}
	rec.Deliveries++
	if rec.Hash != hash {
		rec.Conflicts++
	}
}

// Forwarder posts deliveries to a Server (or anything speaking its wire format).
type Forwarder struct {
	URL    string
	Client *http.Client
}

// Forward implements outbox.Forwarder.
func (f *Forwarder) Forward(ctx context.Context, d outbox.Delivery) error {
	body, ctype, err := encodeWire(&d.Filing)
	if err != nil {
		return outbox.Permanent("cannot encode filing", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL+"/filings", bytes.NewReader(body))
	if err != nil {
		return outbox.Permanent("cannot build request", err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Idempotency-Key", d.IdempotencyKey)
	req.Header.Set("X-Attempt", fmt.Sprint(d.Attempt))
	c := f.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return outbox.Retryable("network", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return outbox.ClassifyHTTPStatus(resp.StatusCode)
}

func encodeWire(f *outbox.Filing) ([]byte, string, error) {
	size := len(f.Body) + 1024
	for _, a := range f.Attachments {
		size += len(a.Data) + 256
	}
	var buf bytes.Buffer
	buf.Grow(size)
	mw := multipart.NewWriter(&buf)
	meta, err := json.Marshal(wireMeta{MaHoSo: f.MaHoSo, Procedure: f.ProcedureCode})
	if err != nil {
		return nil, "", err
	}
	part := func(h textproto.MIMEHeader, data []byte) error {
		w, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	if err := part(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="meta"`}, "Content-Type": {"application/json"}}, meta); err != nil {
		return nil, "", err
	}
	if err := part(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="body"`}, "Content-Type": {"application/json"}}, f.Body); err != nil {
		return nil, "", err
	}
	for _, a := range f.Attachments {
		h := textproto.MIMEHeader{
			"Content-Disposition": {mime.FormatMediaType("form-data", map[string]string{"name": "attachment", "filename": a.Name})},
			"Content-Type":        {a.ContentType},
		}
		if err := part(h, a.Data); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}
