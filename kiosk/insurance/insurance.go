// Package insurance owns the hospital kiosk's health-insurance (BHYT) check: a
// client of the Vietnam Social Security gateway that logs in for a token
// (POST /api/token/take, the password as MD5 hex), keeps and refreshes it, and
// asks KQNhanLichSuKCB2024 about a card by the citizen's ID number or BHYT code
// on behalf of a registered staff identity. Every maKetQua becomes a typed
// Result with a plain Vietnamese (and English) sentence saying what to do next;
// a gateway that cannot answer gives a Retryable result, so the kiosk still
// prints the queue ticket, marked unchecked, and staff retry later. The gateway
// wants credentials in the query string, so this package never logs a URL, and
// it logs no card number, name or date of birth either: only the result code,
// its kind and the time taken. It also serves the check on the control socket
// (Routes, CheckVia) for kioskctl.
package insurance

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vnkiosk/kiosk/internal/certreload"

	"github.com/vnkiosk/kiosk/kiosk/version"
)

// The gateway's paths.
const (
	TokenPath = "/api/token/take"
	CheckPath = "/api/egw/KQNhanLichSuKCB2024"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the gateway, https://host[:port][/prefix], without
	// credentials or a query.
	BaseURL string
	// Username and Password log in to the gateway. Password is plain here and
	// MD5 hex on the wire, as the gateway wants.
	Username, Password string
	// HTTPClient, when set, is used as is (tests, a shared transport); its
	// redirects should be off, since a redirect would carry the credentials
	// in the query string elsewhere. Otherwise the client is built from the
	// files below.
	HTTPClient *http.Client
	// CAFile pins the CA the gateway's certificate must chain to; "" uses the
	// system roots (the national gateway has a public certificate).
	CAFile string
	// CertFile and KeyFile are a client certificate, for a gateway behind
	// mutual TLS (the reference backend).
	CertFile, KeyFile string
	// Timeout bounds one request to the gateway (10s); a check may make
	// three (login, lookup, and after a refused token login and lookup again).
	Timeout time.Duration
	// StaffName and StaffID are the registered staff identity (hoTenCb,
	// cccdCb) used when a Query names none.
	StaffName, StaffID string
	Log                *slog.Logger // nil discards
}

// Client checks cards against the gateway. It is safe for concurrent use.
type Client struct {
	base               string
	user, passMD5      string
	hc                 *http.Client
	timeout            time.Duration
	staffName, staffID string
	log                *slog.Logger
	ua                 string
	now                func() time.Time

	mu  sync.Mutex
	tok *token
}

// token is a gateway login.
type token struct {
	access, id string
	expires    time.Time // zero: the gateway did not say
}

// Query is one lookup.
type Query struct {
	// CardNumber is maThe: the 12-digit ID number or the 15-character BHYT
	// card code.
	CardNumber string
	Name       string // hoTen, as on the card
	// DOB is ngaySinh: dd/MM/yyyy or yyyy; YYYY-MM-DD (as the chip card
	// gives it) is converted.
	DOB string
	// StaffName and StaffID are the staff member doing the lookup (the one
	// logged in at the kiosk); empty takes the Config's.
	StaffName, StaffID string
}

// ErrInvalidQuery is wrapped by Check's error for a query it will not send.
var ErrInvalidQuery = errors.New("insurance: invalid query")

var (
	idNumberRE = regexp.MustCompile(`^[0-9]{12}$`)
	bhytCodeRE = regexp.MustCompile(`^[A-Z]{2}[0-9]{13}$`)
	yearRE     = regexp.MustCompile(`^[0-9]{4}$`)
)

// Normalize checks a query and puts it in the gateway's form: card number
// upper-cased, spaces collapsed, the date of birth as dd/MM/yyyy or yyyy. The
// staff identity is checked only when given. Errors wrap ErrInvalidQuery and
// quote nothing of the query.
func (q Query) Normalize() (Query, error) {
	q.CardNumber = strings.ToUpper(strings.Join(strings.Fields(q.CardNumber), ""))
	q.Name = strings.Join(strings.Fields(q.Name), " ")
	q.DOB = strings.TrimSpace(q.DOB)
	q.StaffName = strings.Join(strings.Fields(q.StaffName), " ")
	q.StaffID = strings.TrimSpace(q.StaffID)
	switch {
	case !idNumberRE.MatchString(q.CardNumber) && !bhytCodeRE.MatchString(q.CardNumber):
		return q, fmt.Errorf("%w: the card number must be a 12-digit ID number or a 15-character BHYT code", ErrInvalidQuery)
	case !plausibleName(q.Name):
		return q, fmt.Errorf("%w: the name is missing or not a name", ErrInvalidQuery)
	case q.StaffName != "" && !plausibleName(q.StaffName):
		return q, fmt.Errorf("%w: the staff name is not a name", ErrInvalidQuery)
	case q.StaffID != "" && !idNumberRE.MatchString(q.StaffID):
		return q, fmt.Errorf("%w: the staff ID must be a 12-digit ID number", ErrInvalidQuery)
	}
	dob, ok := gatewayDOB(q.DOB)
	if !ok {
		return q, fmt.Errorf("%w: the date of birth must be DD/MM/YYYY or YYYY", ErrInvalidQuery)
	}
	q.DOB = dob
	return q, nil
}

// plausibleName accepts 1–100 characters with a letter and no control
// characters.
func plausibleName(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 100 {
		return false
	}
	letter := false
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
		letter = letter || unicode.IsLetter(r)
	}
	return letter
}

// gatewayDOB turns dd/MM/yyyy, yyyy or YYYY-MM-DD into the gateway's form.
func gatewayDOB(s string) (string, bool) {
	if yearRE.MatchString(s) {
		return s, s >= "1900"
	}
	for _, l := range []string{"02/01/2006", time.DateOnly} {
		if t, err := time.Parse(l, s); err == nil && t.Year() >= 1900 {
			return t.Format("02/01/2006"), true
		}
	}
	return "", false
}

// New returns a Client; it loads the certificate files but does not contact
// the gateway.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("insurance: the gateway URL must be https://host[:port][/prefix]")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("insurance: the gateway URL must not carry credentials or a query")
	}
	if cfg.Username == "" || cfg.Password == "" {
		return nil, errors.New("insurance: the gateway username and password are required")
	}
	if cfg.StaffID != "" && !idNumberRE.MatchString(cfg.StaffID) {
		return nil, errors.New("insurance: the staff ID must be a 12-digit ID number")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		if hc, err = newHTTPClient(cfg); err != nil {
			return nil, err
		}
	}
	sum := md5.Sum([]byte(cfg.Password))
	return &Client{
		base: strings.TrimSuffix(u.String(), "/"), user: cfg.Username, passMD5: hex.EncodeToString(sum[:]),
		hc: hc, timeout: cfg.Timeout, staffName: strings.Join(strings.Fields(cfg.StaffName), " "), staffID: cfg.StaffID,
		log: cfg.Log, ua: "kioskd/" + version.Get().Version, now: time.Now,
	}, nil
}

func newHTTPClient(cfg Config) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("insurance: gateway CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("insurance: gateway CA %s holds no certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("insurance: a client certificate needs both CertFile and KeyFile")
	}
	if cfg.CertFile != "" {
		// The kiosk's certificate, renewed over the same files, is picked up
		// at the next handshake.
		cr, err := certreload.New(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("insurance: %w", err)
		}
		tc.GetClientCertificate = cr.GetClientCertificate
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // the kiosk talks to the gateway directly
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     tc,
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     90 * time.Second,
			MaxIdleConnsPerHost: 2,
		},
		// The credentials travel in the query string: never to another URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Check looks up one card. The error is non-nil only for a query that cannot
// be sent (it wraps ErrInvalidQuery); every gateway outcome, a failure to reach
// it included, is a Result.
func (c *Client) Check(ctx context.Context, q Query) (Result, error) {
	q, err := q.Normalize()
	if err != nil {
		return Result{}, err
	}
	if q.StaffName == "" && q.StaffID == "" {
		q.StaffName, q.StaffID = c.staffName, c.staffID
	}
	began := time.Now()
	var r Result
	var reason string
	if q.StaffName == "" || q.StaffID == "" {
		r, reason = staffMissingResult(), "no staff identity"
	} else {
		r, reason = c.check(ctx, q)
	}
	attrs := []any{"result_code", r.Code, "kind", string(r.Kind), "duration_ms", time.Since(began).Milliseconds()}
	if reason != "" {
		c.log.Warn("insurance check not answered", append(attrs, "reason", reason)...)
	} else {
		c.log.Info("insurance check", attrs...)
	}
	return r, nil
}

// checkBody is the body of KQNhanLichSuKCB2024.
type checkBody struct {
	MaThe    string `json:"maThe"`
	HoTen    string `json:"hoTen"`
	NgaySinh string `json:"ngaySinh"`
	HoTenCb  string `json:"hoTenCb"`
	CccdCb   string `json:"cccdCb"`
}

// check runs the lookup, logging in first when there is no live token and
// once more when the gateway refuses the token it had. reason is a fixed
// phrase for the log when the gateway gave no verdict.
func (c *Client) check(ctx context.Context, q Query) (Result, string) {
	body, err := json.Marshal(checkBody{MaThe: q.CardNumber, HoTen: q.Name, NgaySinh: q.DOB, HoTenCb: q.StaffName, CccdCb: q.StaffID})
	if err != nil {
		return gatewayErrorResult(""), "cannot encode"
	}
	defer clear(body) // it holds personal data
	for attempt := 0; ; attempt++ {
		tok, r, reason := c.token(ctx)
		if tok == nil {
			return r, reason
		}
		qs := url.Values{"token": {tok.access}, "id_token": {tok.id}, "username": {c.user}, "password": {c.passMD5}}
		status, answer, err := c.post(ctx, CheckPath, qs, body)
		if err != nil {
			return offlineResult(), transportReason(err)
		}
		refused := status == http.StatusUnauthorized
		var a checkAnswer
		if !refused {
			switch {
			case status >= 500:
				return offlineResult(), fmt.Sprintf("HTTP %d", status)
			case status != http.StatusOK:
				return gatewayErrorResult(""), fmt.Sprintf("HTTP %d", status)
			}
			if a, err = decodeCheckAnswer(answer); err != nil {
				return gatewayErrorResult(""), "malformed answer"
			}
			refused = a.MaKetQua == "401"
		}
		if !refused {
			return resultFor(a), ""
		}
		c.dropToken(tok)
		if attempt > 0 {
			return gatewayErrorResult("401"), "token refused after a fresh login"
		}
	}
}

// refreshMargin is how long before its stated expiry a token is replaced:
// a tenth of its life, at most a minute, so a lookup never races the expiry.
func refreshMargin(life time.Duration) time.Duration {
	return min(life/10, time.Minute)
}

// token returns a live token, logging in when there is none. Logins are
// serialised: concurrent checks share one.
func (c *Client) token(ctx context.Context) (*token, Result, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if t := c.tok; t != nil && (t.expires.IsZero() || now.Before(t.expires)) {
		return t, Result{}, ""
	}
	c.tok = nil
	body, _ := json.Marshal(map[string]string{"username": c.user, "password": c.passMD5})
	status, answer, err := c.post(ctx, TokenPath, nil, body)
	switch {
	case err != nil:
		return nil, offlineResult(), "login: " + transportReason(err)
	case status >= 500:
		return nil, offlineResult(), fmt.Sprintf("login: HTTP %d", status)
	case status == http.StatusUnauthorized:
		return nil, gatewayErrorResult("401"), "login refused"
	case status != http.StatusOK:
		return nil, gatewayErrorResult(""), fmt.Sprintf("login: HTTP %d", status)
	}
	a, err := decodeTokenAnswer(answer)
	if err != nil {
		return nil, gatewayErrorResult(""), "login: malformed answer"
	}
	if a.MaKetQua != "200" {
		code := string(a.MaKetQua)
		if code != "401" && outcomes[code].kind != KindGatewayError {
			code = "" // not a login outcome: say only that the gateway failed
		}
		return nil, gatewayErrorResult(code), "login refused"
	}
	t := &token{access: string(a.APIKey.AccessToken), id: string(a.APIKey.IDToken)}
	if exp := parseExpiry(string(a.APIKey.ExpiresIn), now); !exp.IsZero() {
		t.expires = exp.Add(-refreshMargin(exp.Sub(now)))
	}
	c.tok = t
	c.log.Info("insurance gateway login")
	return t, Result{}, ""
}

// dropToken forgets t unless another check has already replaced it.
func (c *Client) dropToken(t *token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == t {
		c.tok = nil
	}
}

// maxAnswer bounds what is read of a gateway answer; a visit history is
// long but not megabytes.
const maxAnswer = 2 << 20

// post sends one JSON request under the client's timeout. Its errors never
// hold the URL (url.Error is unwrapped): the query string is credentials.
func (c *Client) post(ctx context.Context, path string, qs url.Values, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target := c.base + path
	if len(qs) > 0 {
		target += "?" + qs.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, errors.New("insurance: cannot build the request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, stripURL(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, stripURL(err)
	}
	return resp.StatusCode, b, nil
}

// stripURL removes the *url.Error layer, whose text is the full URL.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// transportReason names a failed exchange in a fixed phrase for the log.
func transportReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return "TLS: gateway certificate not trusted"
	}
	return "network"
}
