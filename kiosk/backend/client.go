// Package backend owns the kiosk's side of the kiosk gateway API, the JSON API
// over mutually authenticated TLS through which a kiosk hands filings to the
// provincial backend, looks up a dossier's status and waits for a fee payment
// (docs/backend-api.md). Its Client implements outbox.Forwarder. The server's
// certificate must chain to one pinned CA (no system roots) and the kiosk proves
// itself with its own client certificate. The reference server lives in
// subpackage refbackend.
package backend

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/vnkiosk/kiosk/internal/certreload"

	"github.com/vnkiosk/kiosk/kiosk/filing/filingsig"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
	"github.com/vnkiosk/kiosk/kiosk/version"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the gateway, https://host[:port], without credentials.
	BaseURL string
	// CertFile and KeyFile are the kiosk's client certificate and key (PEM).
	CertFile, KeyFile string
	// CAFile is the pinned CA (PEM): the server certificate must chain to a
	// certificate in it; system roots are not used.
	CAFile string
	// Timeout bounds one request, answer body included (30s). A payment
	// long-poll gets PollWait on top.
	Timeout time.Duration
	// PollWait is the ?wait= of a payment long-poll (30s).
	PollWait time.Duration
	Log      *slog.Logger // nil discards
}

// Client talks to the kiosk gateway. It is safe for concurrent use.
type Client struct {
	signer   *filingsig.Signer // nil when the client key cannot sign (not ECDSA P-256)
	base     *url.URL
	hc       *http.Client
	ua       string
	timeout  time.Duration
	pollWait time.Duration
	log      *slog.Logger
}

// Errors for errors.Is.
var (
	// ErrNotFound: the backend knows no such dossier or payment.
	ErrNotFound = errors.New("backend: not found")
	// ErrMalformed: the backend answered something the client cannot accept.
	ErrMalformed = errMalformed
)

// maxAnswer bounds what the client reads of any answer.
const maxAnswer = 1 << 20

// LoadTLSConfig builds the client side of mutual TLS: the certificate and key
// as the kiosk's identity, and a root pool holding only the pinned CA file. The
// certificate is read again when its file changes, so a renewed certificate
// (provisioning/enrol) is used from the next connection without a restart.
func LoadTLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cr, err := certreload.New(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("backend: pinned CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("backend: pinned CA %s holds no certificate", caFile)
	}
	return &tls.Config{
		MinVersion:           tls.VersionTLS12,
		GetClientCertificate: cr.GetClientCertificate,
		RootCAs:              pool,
		NextProtos:           []string{"http/1.1"},
	}, nil
}

// ClientKey is the private key of the TLS configuration's client certificate.
func ClientKey(tc *tls.Config) (crypto.PrivateKey, error) {
	c, err := tc.GetClientCertificate(nil)
	if err != nil {
		return nil, err
	}
	return c.PrivateKey, nil
}

// New loads the certificates and returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("backend: base URL must be https://host[:port]")
	}
	if u.User != nil || u.RawQuery != "" {
		return nil, errors.New("backend: base URL must not carry credentials or a query")
	}
	tc, err := LoadTLSConfig(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		Proxy:                 nil, // a kiosk talks to its gateway directly
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout + cfg.PollWait,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   2,
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	// Filings are signed with the key of the kiosk's client certificate, so the
	// backend checks the signer against the identity it authenticated: the
	// evidence inside a filing then stands on its own, whatever carried it.
	var signer *filingsig.Signer
	key, err := ClientKey(tc)
	if err != nil {
		return nil, err
	}
	// The device key signs the filings too, wherever it lives (a file, a TPM).
	if k, ok := key.(crypto.Signer); ok {
		if pub, ok := k.Public().(*ecdsa.PublicKey); ok && pub.Curve == elliptic.P256() {
			signer = &filingsig.Signer{Key: k}
		}
	}
	return &Client{
		signer: signer,
		base:   u, hc: &http.Client{Transport: tr}, timeout: cfg.Timeout, pollWait: cfg.PollWait,
		ua: "kioskd/" + version.Get().Version, log: cfg.Log,
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// do sends one request under its own deadline and returns the status and the
// (bounded) answer body.
func (c *Client) do(ctx context.Context, timeout time.Duration, method, path string, query url.Values, body []byte, hdr http.Header) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	target := c.base.String() + path // path segments are escaped by the caller
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, b, nil
}

// classifyTransport turns a failed exchange into a retryable outbox error
// whose reason names only the kind of failure (error text may hold the URL).
func classifyTransport(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return outbox.Retryable("timeout", err)
	case errors.Is(err, context.Canceled):
		return outbox.Retryable("cancelled", err)
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return outbox.Retryable("TLS: server certificate not trusted", err)
	}
	return outbox.Retryable("network", err)
}

// statusError classifies a non-2xx answer with outbox.ClassifyHTTPStatus,
// adding the answer's machine code to the reason.
func statusError(code int, body []byte) error {
	err := outbox.ClassifyHTTPStatus(code)
	var fe *outbox.ForwardError
	if errors.As(err, &fe) {
		if ec := errorCode(body); ec != "" {
			fe.Reason += ": " + ec
		}
		if code == http.StatusNotFound {
			fe.Err = ErrNotFound
		}
	}
	return err
}

// Forward implements outbox.Forwarder: POST /v1/filings with the delivery's
// idempotency key. nil means the backend stored the filing (201) or had it
// already under this key (200). 4xx answers are permanent, except 408/425/429
// and 401/403 (those refuse the kiosk, not the filing); 5xx, network failures
// and timeouts are retryable.
func (c *Client) Forward(ctx context.Context, d outbox.Delivery) error {
	_, err := c.Submit(ctx, d)
	return err
}

// Submit is Forward that also returns the backend's acknowledgement.
func (c *Client) Submit(ctx context.Context, d outbox.Delivery) (FilingAck, error) {
	f := &d.Filing
	req := FilingRequest{MaHoSo: f.MaHoSo, MaTTHC: f.ProcedureCode, CreatedAt: f.CreatedAt, Filing: f.Body,
		Attachments: make([]AttachmentWire, 0, len(f.Attachments))}
	for _, a := range f.Attachments {
		req.Attachments = append(req.Attachments, AttachmentWire{Name: a.Name, ContentType: a.ContentType, Data: a.Data})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return FilingAck{}, outbox.Permanent("cannot encode filing", err)
	}
	hdr := http.Header{"Idempotency-Key": {d.IdempotencyKey}}
	if c.signer != nil {
		name, value, err := c.signer.Header(f.Body)
		if err != nil {
			return FilingAck{}, outbox.Permanent("cannot sign filing", err)
		}
		hdr.Set(name, value)
	}
	code, answer, err := c.do(ctx, c.timeout, http.MethodPost, "/v1/filings", nil, body, hdr)
	clear(body) // it holds personal data
	if err != nil {
		ferr := classifyTransport(err)
		c.log.Warn("filing not delivered", "outbox_id", d.OutboxID, "attempt", d.Attempt, "err", ferr.(*outbox.ForwardError).Reason)
		return FilingAck{}, ferr
	}
	if code != http.StatusOK && code != http.StatusCreated {
		err := statusError(code, answer)
		c.log.Warn("filing not accepted", "outbox_id", d.OutboxID, "attempt", d.Attempt, "status", code)
		return FilingAck{}, err
	}
	ack, err := decodeAck(answer, f.MaHoSo)
	if err != nil {
		// Stored or not, the kiosk cannot tell: keep it and send it again.
		return FilingAck{}, outbox.Retryable("malformed acknowledgement", err)
	}
	c.log.Info("filing delivered", "outbox_id", d.OutboxID, "attempt", d.Attempt, "status", code)
	return ack, nil
}

// Status looks up a dossier's processing status (GET /v1/filings/{ma_ho_so}).
// An unknown dossier gives an error wrapping ErrNotFound.
func (c *Client) Status(ctx context.Context, maHoSo string) (DossierStatus, error) {
	if maHoSo == "" {
		return DossierStatus{}, errors.New("backend: empty MaHoSo")
	}
	code, answer, err := c.do(ctx, c.timeout, http.MethodGet, "/v1/filings/"+url.PathEscape(maHoSo), nil, nil, nil)
	if err != nil {
		return DossierStatus{}, fmt.Errorf("backend status: %w", classifyTransport(err))
	}
	if code != http.StatusOK {
		return DossierStatus{}, fmt.Errorf("backend status: %w", statusError(code, answer))
	}
	return decodeStatus(answer, maHoSo)
}

// PollPayment asks once for a payment's state, letting the backend hold the
// answer up to PollWait while it is pending (GET /v1/payments/{ref}?wait=).
func (c *Client) PollPayment(ctx context.Context, ref string) (Payment, error) {
	if ref == "" {
		return Payment{}, errors.New("backend: empty payment reference")
	}
	q := url.Values{"wait": {c.pollWait.String()}}
	code, answer, err := c.do(ctx, c.timeout+c.pollWait, http.MethodGet, "/v1/payments/"+url.PathEscape(ref), q, nil, nil)
	if err != nil {
		return Payment{}, fmt.Errorf("backend payment: %w", classifyTransport(err))
	}
	if code != http.StatusOK {
		return Payment{}, fmt.Errorf("backend payment: %w", statusError(code, answer))
	}
	return decodePayment(answer, ref)
}

// WaitPayment long-polls until the payment is paid or expired, or ctx ends.
// Retryable failures (network, 5xx) are retried a second apart; a permanent one
// (unknown reference, 4xx, a malformed answer) is returned.
func (c *Client) WaitPayment(ctx context.Context, ref string) (Payment, error) {
	for {
		began := time.Now()
		p, err := c.PollPayment(ctx, ref)
		switch {
		case err == nil && p.Status != PaymentPending:
			return p, nil
		case err != nil && (outbox.IsPermanent(err) || errors.Is(err, ErrMalformed)):
			return Payment{}, err
		}
		if ctx.Err() != nil {
			return Payment{}, ctx.Err()
		}
		// A backend that answers "pending" at once, or fails, is not hammered.
		if wait := time.Second - time.Since(began); wait > 0 {
			select {
			case <-ctx.Done():
				return Payment{}, ctx.Err()
			case <-time.After(wait):
			}
		}
	}
}

// ErrRefused: the backend answered 401 or 403 — it does not take this kiosk's
// client certificate.
var ErrRefused = errors.New("backend: the backend refused this kiosk (401/403)")

// pingPath asks for a dossier code that cannot exist: the answer, 404 as a
// rule, costs the backend one lookup and changes nothing.
const pingPath = "/v1/filings/selftest"

// Ping proves the kiosk reaches the backend — network, pinned CA, client
// certificate — with one request that changes nothing, and returns the
// backend's clock from the answer's Date header (zero when there is none or
// it does not parse). Any answer below 500 counts, except 401 and 403
// (ErrRefused); 5xx and transport failures are errors. No error names the URL.
func (c *Client) Ping(ctx context.Context) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+pingPath, nil)
	if err != nil {
		return time.Time{}, err
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return time.Time{}, fmt.Errorf("backend ping: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return time.Time{}, fmt.Errorf("backend ping: answered %d: %w", resp.StatusCode, ErrRefused)
	case resp.StatusCode >= 500:
		return time.Time{}, fmt.Errorf("backend ping: answered %d %s", resp.StatusCode, errorCode(b))
	}
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return time.Time{}, nil
	}
	return date, nil
}
