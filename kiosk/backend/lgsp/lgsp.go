// Package lgsp owns the gateway's side of a provincial integration platform
// (LGSP/NGSP) in the style seen in open-source one-stop software: a login
// POST {username, password} → {session, error_code}, then every call a POST
// {session, madonvi, service, ...} answered with error_code "00" on success.
// It covers TraCuuHoSo (lookup), DongBoHoSoMC (submit: an upsert keyed on MaHoSo,
// so the dossier is looked up first to set isUpdating) and CapNhatTienDoHoSoMC
// (progress). The endpoints and the exact answer shape are unverified: they are
// configuration, not code.
package lgsp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Config configures a Client. The password is sent only in the login body.
type Config struct {
	AuthURL    string // login endpoint
	ServiceURL string // endpoint of every service call
	Username   string
	Password   string
	MaDonVi    string       // the agency code sent as madonvi
	HTTP       *http.Client // nil: a client with a 30 s timeout
}

// Dossier is a hồ sơ TTHC as the platform exchanges it. Dates are
// yyyyMMddHHmmss in Vietnam time (see FormatTime).
type Dossier struct {
	MaHoSo        string            `json:"MaHoSo"`
	MaTTHC        string            `json:"MaTTHC"`
	TenTTHC       string            `json:"TenTTHC,omitempty"`
	MaLinhVuc     string            `json:"MaLinhVuc,omitempty"`
	ChuHoSo       string            `json:"ChuHoSo"`
	LoaiDoiTuong  int               `json:"LoaiDoiTuong"` // 1 citizen, 2 business
	SoDienThoai   string            `json:"SoDienThoai,omitempty"`
	TrichYeuHoSo  string            `json:"TrichYeuHoSo,omitempty"`
	NgayTiepNhan  string            `json:"NgayTiepNhan"`
	NgayHenTra    string            `json:"NgayHenTra,omitempty"`
	TrangThaiHoSo int               `json:"TrangThaiHoSo"` // 1–10
	DonViXuLy     string            `json:"DonViXuLy,omitempty"`
	TaiLieuNop    []json.RawMessage `json:"TaiLieuNop,omitempty"`
	DanhSachLePhi []json.RawMessage `json:"DanhSachLePhi,omitempty"`
}

// Progress is one CapNhatTienDoHoSoMC entry.
type Progress struct {
	MaHoSo        string `json:"MaHoSo"`
	TrangThaiHoSo int    `json:"TrangThaiHoSo"`
	NgayXuLy      string `json:"NgayXuLy"` // yyyyMMddHHmmss
	NoiDungXuLy   string `json:"NoiDungXuLy,omitempty"`
}

var vietnam = time.FixedZone("ICT", 7*3600)

// FormatTime renders t as yyyyMMddHHmmss in Vietnam time (UTC+7).
func FormatTime(t time.Time) string { return t.In(vietnam).Format("20060102150405") }

// Error is a platform answer whose error_code is not "00".
type Error struct {
	Service string // "login" for the login
	Code    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("lgsp %s: error_code %q", e.Service, e.Code)
}

// ErrTransport wraps network failures and non-200 HTTP answers: worth retrying.
var ErrTransport = errors.New("lgsp: transport failure")

// Client calls the platform. It logs in on first use and once more when a call
// is refused, in case the session expired. It is safe for concurrent use.
type Client struct {
	cfg     Config
	mu      sync.Mutex
	session string
}

// New returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.AuthURL == "" || cfg.ServiceURL == "" || cfg.Username == "" || cfg.MaDonVi == "" {
		return nil, errors.New("lgsp: auth URL, service URL, username and madonvi are required")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{cfg: cfg}, nil
}

type answer struct {
	ErrorCode string          `json:"error_code"`
	Session   string          `json:"session"`
	Data      json.RawMessage `json:"data"`
}

func (c *Client) post(ctx context.Context, target string, body any) (answer, error) {
	var a answer
	b, err := json.Marshal(body)
	if err != nil {
		return a, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return a, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		// The URL is left out: it may be configured with credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return a, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return a, fmt.Errorf("%w: reading the answer", ErrTransport)
	}
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("%w: HTTP %d", ErrTransport, resp.StatusCode)
	}
	if err := json.Unmarshal(rb, &a); err != nil {
		return a, fmt.Errorf("lgsp: malformed answer: %w", err)
	}
	return a, nil
}

// Login opens a session.
func (c *Client) Login(ctx context.Context) error {
	a, err := c.post(ctx, c.cfg.AuthURL, map[string]string{"username": c.cfg.Username, "password": c.cfg.Password})
	if err != nil {
		return err
	}
	if a.ErrorCode != "00" || a.Session == "" {
		return &Error{Service: "login", Code: a.ErrorCode}
	}
	c.mu.Lock()
	c.session = a.Session
	c.mu.Unlock()
	return nil
}

// Call runs one service with the fields of params added to {session, madonvi,
// service} and returns the answer's data.
func (c *Client) Call(ctx context.Context, service string, params map[string]any) (json.RawMessage, error) {
	for try := 0; ; try++ {
		c.mu.Lock()
		session := c.session
		c.mu.Unlock()
		if session == "" {
			if err := c.Login(ctx); err != nil {
				return nil, err
			}
			continue
		}
		body := map[string]any{}
		for k, v := range params {
			body[k] = v
		}
		body["session"], body["madonvi"], body["service"] = session, c.cfg.MaDonVi, service
		a, err := c.post(ctx, c.cfg.ServiceURL, body)
		if err != nil {
			return nil, err
		}
		if a.ErrorCode == "00" {
			return a.Data, nil
		}
		if try > 0 {
			return nil, &Error{Service: service, Code: a.ErrorCode}
		}
		// Refused: perhaps the session expired. Log in again and retry once;
		// every service used here is a lookup or an upsert, safe to repeat.
		c.mu.Lock()
		if c.session == session {
			c.session = ""
		}
		c.mu.Unlock()
	}
}

// LookupDossier runs TraCuuHoSo; found is false when the platform has no
// dossier of that code.
func (c *Client) LookupDossier(ctx context.Context, maHoSo string) (d Dossier, found bool, err error) {
	data, err := c.Call(ctx, "TraCuuHoSo", map[string]any{"MaHoSo": maHoSo})
	if err != nil {
		return Dossier{}, false, err
	}
	var ds []Dossier
	if len(data) > 0 && string(data) != "null" {
		if err := json.Unmarshal(data, &ds); err != nil {
			return Dossier{}, false, fmt.Errorf("lgsp TraCuuHoSo: malformed data: %w", err)
		}
	}
	for _, x := range ds {
		if x.MaHoSo == maHoSo {
			return x, true, nil
		}
	}
	return Dossier{}, false, nil
}

// SubmitDossier synchronises a dossier with DongBoHoSoMC: it looks the dossier
// up first and sets isUpdating when it exists, so a repeat is an update, never a
// second dossier. updated reports which it was.
func (c *Client) SubmitDossier(ctx context.Context, d Dossier) (updated bool, err error) {
	if d.MaHoSo == "" {
		return false, errors.New("lgsp: dossier without MaHoSo")
	}
	_, found, err := c.LookupDossier(ctx, d.MaHoSo)
	if err != nil {
		return false, err
	}
	_, err = c.Call(ctx, "DongBoHoSoMC", map[string]any{"isUpdating": found, "data": []Dossier{d}})
	return found, err
}

// UpdateProgress reports processing steps with CapNhatTienDoHoSoMC.
func (c *Client) UpdateProgress(ctx context.Context, ps ...Progress) error {
	for _, p := range ps {
		if p.TrangThaiHoSo < 1 || p.TrangThaiHoSo > 10 {
			return fmt.Errorf("lgsp: TrangThaiHoSo %d outside 1–10", p.TrangThaiHoSo)
		}
	}
	_, err := c.Call(ctx, "CapNhatTienDoHoSoMC", map[string]any{"data": ps})
	return err
}
