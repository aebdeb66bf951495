package refbackend

// The reference social-security (VSS) health-insurance gateway: the two calls a
// hospital kiosk makes (DOMAIN.md, "Health insurance (BHYT) check"), answered
// from a data file instead of the national card database. In reality the
// gateway is another service with its own host; serving it beside the kiosk
// gateway keeps the demo to one process, and it then shares that listener's
// mutual TLS and fault injection (so the demo's "backend down" switch takes
// the insurance check offline too).

import (
	"crypto/md5"
	crand "crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// The demo gateway login, used when Options leave InsuranceUser and
// InsurancePassword empty.
const (
	DemoInsuranceUser     = "kiosk-demo"
	DemoInsurancePassword = "demo-insurance"
)

// The staff identity listed in DemoInsuranceData (fictional, like the sample
// citizens): a demo kiosk configured with it gets answers, any other gets 054.
const (
	DemoInsuranceStaffName = "Nguyễn Thị Hoa"
	DemoInsuranceStaffID   = "001190012345"
)

//go:embed testdata/insurance.json
var demoInsuranceJSON []byte

// InsuranceStaff is one registered staff identity of the data file's "staff"
// key: the lookups the gateway answers are tied to one of them.
type InsuranceStaff struct {
	CCCD string `json:"cccdCb"`
	Name string `json:"hoTenCb"`
}

// InsuranceData is what the reference gateway answers from: maThe (a 12-digit
// ID number or a 15-character BHYT code) → the full KQNhanLichSuKCB2024 answer
// object, sent verbatim whatever its maKetQua, and the registered staff.
type InsuranceData struct {
	Records map[string]json.RawMessage
	Staff   []InsuranceStaff
}

// ParseInsuranceData parses a data file: one JSON object whose "staff" key is
// the array of registered staff and whose every other key is a maThe mapped to
// an answer object carrying at least maKetQua.
func ParseInsuranceData(b []byte) (*InsuranceData, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("refbackend: insurance data: %w", err)
	}
	d := &InsuranceData{Records: map[string]json.RawMessage{}}
	for k, v := range top {
		if k == "staff" {
			if err := json.Unmarshal(v, &d.Staff); err != nil {
				return nil, fmt.Errorf("refbackend: insurance data: \"staff\" must be an array of {\"cccdCb\",\"hoTenCb\"}: %w", err)
			}
			for i, s := range d.Staff {
				if s.CCCD == "" || s.Name == "" {
					return nil, fmt.Errorf("refbackend: insurance data: staff entry %d lacks cccdCb or hoTenCb", i)
				}
			}
			continue
		}
		var ans struct {
			MaKetQua *string `json:"maKetQua"`
		}
		if err := json.Unmarshal(v, &ans); err != nil || ans.MaKetQua == nil {
			return nil, fmt.Errorf("refbackend: insurance data: entry %q is not an answer object with a maKetQua string", k)
		}
		d.Records[strings.ToUpper(k)] = v
	}
	return d, nil
}

// LoadInsuranceData reads and parses a data file (kioskctl sim backend
// --insurance-data).
func LoadInsuranceData(path string) (*InsuranceData, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("refbackend: insurance data: %w", err)
	}
	return ParseInsuranceData(b)
}

// DemoInsuranceData is the built-in data file (testdata/insurance.json):
// answers for the virtual card's sample citizens (000, 004, 010), a card
// replaced after expiry (003), an explicit 050, and one registered staff
// member (DemoInsuranceStaffName, DemoInsuranceStaffID).
func DemoInsuranceData() *InsuranceData {
	d, err := ParseInsuranceData(demoInsuranceJSON)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return d
}

// DemoInsuranceJSON is the text of the built-in data file.
func DemoInsuranceJSON() []byte { return append([]byte(nil), demoInsuranceJSON...) }

// insuranceGateway is the gateway's state: its data and the tokens issued.
type insuranceGateway struct {
	data          *InsuranceData
	user, passMD5 string
	ttl           time.Duration

	mu     sync.Mutex
	tokens map[string]insuranceToken // access_token → token
	logins int
}

type insuranceToken struct {
	idToken string
	expires time.Time
}

func newInsuranceGateway(opt Options) *insuranceGateway {
	g := &insuranceGateway{data: opt.InsuranceData, user: opt.InsuranceUser, ttl: opt.InsuranceTokenTTL,
		tokens: map[string]insuranceToken{}}
	if g.data == nil {
		g.data = DemoInsuranceData()
	}
	pass := opt.InsurancePassword
	if g.user == "" && pass == "" {
		g.user, pass = DemoInsuranceUser, DemoInsurancePassword
	}
	sum := md5.Sum([]byte(pass))
	g.passMD5 = hex.EncodeToString(sum[:])
	if g.ttl <= 0 {
		g.ttl = 30 * time.Minute
	}
	return g
}

// insuranceRoutes adds the gateway's two calls, behind the same fault
// injection as /v1/.
func (s *Server) insuranceRoutes(mux *http.ServeMux) {
	mux.Handle("POST /api/token/take", s.faults(http.HandlerFunc(s.ins.takeToken)))
	mux.Handle("POST /api/egw/KQNhanLichSuKCB2024", s.faults(http.HandlerFunc(s.ins.lichSuKCB)))
}

// InsuranceLogins counts the tokens the gateway issued (tests see a client
// log in again).
func (s *Server) InsuranceLogins() int {
	s.ins.mu.Lock()
	defer s.ins.mu.Unlock()
	return s.ins.logins
}

// RevokeInsuranceTokens forgets every token issued, as a gateway restart
// does: the next lookup with an old token is answered 401.
func (s *Server) RevokeInsuranceTokens() {
	s.ins.mu.Lock()
	defer s.ins.mu.Unlock()
	clear(s.ins.tokens)
}

// gatewayAnswer writes the gateway's answer: always HTTP 200, the outcome is
// in maKetQua.
func gatewayAnswer(w http.ResponseWriter, v any) {
	writeJSON(w, http.StatusOK, v)
}

func gatewayCode(w http.ResponseWriter, code, note string) {
	gatewayAnswer(w, map[string]string{"maKetQua": code, "ghiChu": note})
}

func (g *insuranceGateway) credentialsOK(user, passMD5 string) bool {
	return user == g.user && strings.EqualFold(passMD5, g.passMD5)
}

func randomToken() string {
	var b [24]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (g *insuranceGateway) takeToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		gatewayCode(w, "205", "Sai định dạng tham số")
		return
	}
	if !g.credentialsOK(req.Username, req.Password) {
		gatewayCode(w, "401", "Sai tên đăng nhập hoặc mật khẩu")
		return
	}
	access, id := randomToken(), randomToken()
	expires := time.Now().Add(g.ttl)
	g.mu.Lock()
	now := time.Now()
	for k, t := range g.tokens { // expired tokens do not pile up in a long demo
		if now.After(t.expires) {
			delete(g.tokens, k)
		}
	}
	g.tokens[access] = insuranceToken{idToken: id, expires: expires}
	g.logins++
	g.mu.Unlock()
	gatewayAnswer(w, map[string]any{
		"maKetQua": "200",
		"APIKey": map[string]string{
			"access_token": access,
			"id_token":     id,
			"token_type":   "Bearer",
			"username":     req.Username,
			"expires_in":   expires.In(vietnam).Format(time.RFC3339Nano),
		},
	})
}

// vietnam is UTC+7, the gateway's clock.
var vietnam = time.FixedZone("ICT", 7*3600)

var (
	cardCodeRE = regexp.MustCompile(`^(?:[0-9]{12}|[A-Z]{2}[0-9]{13})$`)
	birthRE    = regexp.MustCompile(`^(?:[0-9]{2}/[0-9]{2}/[0-9]{4}|[0-9]{4})$`)
)

// sameName compares names as a clerk would: case and spacing aside.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

func (g *insuranceGateway) lichSuKCB(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	g.mu.Lock()
	t, ok := g.tokens[q.Get("token")]
	g.mu.Unlock()
	if !ok || t.idToken != q.Get("id_token") || time.Now().After(t.expires) || !g.credentialsOK(q.Get("username"), q.Get("password")) {
		gatewayCode(w, "401", "Token không hợp lệ hoặc đã hết hạn")
		return
	}
	var req struct {
		MaThe, HoTen, NgaySinh, HoTenCb, CccdCb string
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 8192))
	if err := dec.Decode(&req); err != nil {
		gatewayCode(w, "205", "Sai định dạng tham số")
		return
	}
	req.MaThe = strings.ToUpper(strings.TrimSpace(req.MaThe))
	if !cardCodeRE.MatchString(req.MaThe) || strings.TrimSpace(req.HoTen) == "" || !birthRE.MatchString(req.NgaySinh) {
		gatewayCode(w, "205", "Sai định dạng tham số")
		return
	}
	staff, found := InsuranceStaff{}, false
	for _, s := range g.data.Staff {
		if s.CCCD == strings.TrimSpace(req.CccdCb) {
			staff, found = s, true
			break
		}
	}
	switch {
	case !found:
		gatewayCode(w, "054", "Số CCCD của cán bộ tra cứu chưa được đăng ký")
		return
	case !sameName(staff.Name, req.HoTenCb):
		gatewayCode(w, "055", "Họ tên cán bộ tra cứu không khớp với số CCCD đã đăng ký")
		return
	}
	ans, ok := g.data.Records[req.MaThe]
	if !ok {
		gatewayCode(w, "050", "Không có thông tin thẻ")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ans)
}
