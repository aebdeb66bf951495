package insurance

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/kiosktest"

	"github.com/vnkiosk/kiosk/kiosk/backend"
	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
)

// The staff identity of the test data (fictional).
const (
	staffName = "Nguyễn Thị Hoa"
	staffID   = "001190012345"
)

// gateway is a reference backend serving the insurance gateway over mutual
// TLS on 127.0.0.1, and what a client needs to reach it.
type gateway struct {
	srv *refbackend.Server
	url string
	pki *refbackend.PKI
}

func startGateway(t *testing.T, opt refbackend.Options) *gateway {
	t.Helper()
	pki, err := refbackend.EnsurePKI(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	s, err := refbackend.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Start("127.0.0.1:0", pki)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &gateway{srv: s, url: u, pki: pki}
}

// client returns a Client of g built from the PKI's files, as kioskd builds
// it from its configuration.
func (g *gateway) client(t *testing.T, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		BaseURL: g.url, Username: refbackend.DemoInsuranceUser, Password: refbackend.DemoInsurancePassword,
		CAFile: g.pki.Path(refbackend.CAFile), CertFile: g.pki.Path(refbackend.KioskCertFile), KeyFile: g.pki.Path(refbackend.KioskKeyFile),
		Timeout: 5 * time.Second, StaffName: staffName, StaffID: staffID,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// cardFor is the 15-character test card whose record answers code.
func cardFor(code string) string { return "DN401" + "0000000" + code }

// everyCodeData has one record per maKetQua (054/055 come from the staff
// check) and one of a code nobody knows.
func everyCodeData(t *testing.T) *refbackend.InsuranceData {
	t.Helper()
	d := &refbackend.InsuranceData{Records: map[string]json.RawMessage{},
		Staff: []refbackend.InsuranceStaff{{CCCD: staffID, Name: staffName}}}
	for _, code := range append(Codes(), "999") {
		rec := map[string]any{
			"maKetQua": code, "ghiChu": "ghi chú " + code, "maThe": cardFor(code), "hoTen": "Người Thử", "ngaySinh": "01/02/1990",
			"maDKBD": "01999", "tenDKBD": "Bệnh viện Mẫu", "gtTheTu": "01/01/2026", "gtTheDen": "31/12/2026",
			"ngayDu5Nam": "01/01/2018", "maTheMoi": nil,
			"dsLichSuKCB2018": []map[string]string{
				{"maCSKCB": "01999", "tenCSKCB": "Bệnh viện Mẫu", "tuNgay": "202609150830", "tenBenh": "Viêm họng cấp"},
				{"maCSKCB": "01998", "tuNgay": "202603020915"},
			},
		}
		if code == "003" || code == "004" {
			rec["maTheMoi"], rec["gtTheTuMoi"], rec["gtTheDenMoi"], rec["maDKBDMoi"] = "HT2010000000999", "01/11/2026", "31/10/2027", "01998"
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		d.Records[cardFor(code)] = b
	}
	return d
}

// TestEveryResultCode checks every maKetQua of DOMAIN.md end to end: client,
// mutual TLS, reference gateway, and back into a typed Result.
func TestEveryResultCode(t *testing.T) {
	t.Parallel()
	g := startGateway(t, refbackend.Options{InsuranceData: everyCodeData(t)})
	c := g.client(t, nil)
	type want struct {
		kind      Kind
		retryable bool
		card      bool // card data shown
	}
	kinds := map[string]want{
		"000": {KindOK, false, true}, "001": {KindOtherBranch, false, true}, "002": {KindOtherBranch, false, true},
		"003": {KindNewCard, false, true}, "004": {KindNewCard, false, true}, "010": {KindExpired, false, true},
		"050": {KindNotFound, false, false}, "051": {KindWrongData, false, false}, "052": {KindWrongData, false, false},
		"053": {KindWrongData, false, false}, "054": {KindStaffProblem, true, false}, "055": {KindStaffProblem, true, false},
		"060": {KindWrongData, false, false}, "061": {KindWrongData, false, false}, "070": {KindWrongData, false, false},
		"100": {KindGatewayError, true, false}, "101": {KindGatewayError, true, false}, "110": {KindRevoked, false, false},
		"120": {KindCancelled, false, false}, "121": {KindCancelled, false, false}, "122": {KindCancelled, false, false},
		"123": {KindCancelled, false, false}, "124": {KindCancelled, false, false}, "130": {KindChildNoCard, false, false},
		"205": {KindWrongData, false, false}, "401": {KindGatewayError, true, false}, "500": {KindGatewayError, true, false},
		"999": {KindUnknown, false, false},
	}
	for _, code := range Codes() {
		if _, ok := kinds[code]; !ok {
			t.Errorf("code %s has no expectation here", code)
		}
	}
	if len(Codes()) != 27 {
		t.Errorf("Codes() has %d codes, DOMAIN.md lists 27", len(Codes()))
	}
	// One check at a time: the 401 case counts logins.
	prev := ""
	for _, code := range append(Codes(), "999") {
		w := kinds[code]
		q := Query{CardNumber: cardFor(code), Name: "Người Thử", DOB: "01/02/1990"}
		switch code {
		case "054": // a staff ID the gateway does not know
			q.CardNumber, q.StaffName, q.StaffID = cardFor("000"), staffName, "001190099999"
		case "055": // a known staff ID under another name
			q.CardNumber, q.StaffName, q.StaffID = cardFor("000"), "Trần Văn Khác", staffID
		}
		before := g.srv.InsuranceLogins()
		r, err := c.Check(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		if r.Code != code || r.Kind != w.kind || r.Retryable() != w.retryable {
			t.Errorf("%s: got code %q kind %s retryable %v; want %s %v", code, r.Code, r.Kind, r.Retryable(), w.kind, w.retryable)
		}
		if r.Message.VI == "" || r.Message.EN == "" {
			t.Errorf("%s: empty message %+v", code, r.Message)
		}
		if code == "999" && !strings.Contains(r.Message.VI, "mã 999") {
			t.Errorf("unknown code message %q does not name the code", r.Message.VI)
		}
		if !w.card {
			if r.CardNumber != "" || r.ValidTo != "" || len(r.Visits) != 0 {
				t.Errorf("%s: card data shown for an error answer: %+v", code, r)
			}
		} else {
			if r.CardNumber != cardFor(code) || r.ValidFrom != "2026-01-01" || r.ValidTo != "2026-12-31" || r.FiveYearDate != "2018-01-01" ||
				r.RegisteredFacility != (Facility{"01999", "Bệnh viện Mẫu"}) {
				t.Errorf("%s: card data %+v", code, r)
			}
			if len(r.Visits) != 2 || r.Visits[0] != (Visit{"2026-09-15", "01999", "Bệnh viện Mẫu", "Viêm họng cấp"}) || r.Visits[1].Date != "2026-03-02" {
				t.Errorf("%s: visits %+v", code, r.Visits)
			}
			wantLevel := 4
			if w.kind == KindNewCard {
				wantLevel = 2 // the new card's
				if r.NewCardNumber != "HT2010000000999" || r.NewValidFrom != "2026-11-01" || r.NewValidTo != "2027-10-31" || r.NewRegisteredFacility.Code != "01998" {
					t.Errorf("%s: new card %+v", code, r)
				}
			} else if r.NewCardNumber != "" {
				t.Errorf("%s: new card number %q", code, r.NewCardNumber)
			}
			if r.BenefitLevel == nil || r.BenefitLevel.Level != wantLevel {
				t.Errorf("%s: benefit level %+v, want %d", code, r.BenefitLevel, wantLevel)
			}
		}
		// The first check logs in, and so does the one after a 401, whose
		// fresh token was refused too; a refused token costs exactly one
		// more login, a live one none.
		logins := g.srv.InsuranceLogins() - before
		switch {
		case code == "401" && logins != 1:
			t.Errorf("401: %d logins, want 1 (refresh once, then give up)", logins)
		case code != "401" && before > 0 && prev != "401" && logins != 0:
			t.Errorf("%s: %d logins with a live token", code, logins)
		case prev == "401" && logins != 1:
			t.Errorf("%s: %d logins after a 401, want 1", code, logins)
		}
		prev = code
	}
	// The unknown card, through the fallback rather than a record.
	r, _ := c.Check(context.Background(), Query{CardNumber: "079999012345", Name: "Người Thử", DOB: "1990"})
	if r.Code != "050" || r.Kind != KindNotFound {
		t.Errorf("unknown card: %+v", r)
	}
}

// TestDemoData checks the sample citizens of the built-in data file.
func TestDemoData(t *testing.T) {
	t.Parallel()
	g := startGateway(t, refbackend.Options{}) // nil InsuranceData: the demo file
	c := g.client(t, func(cfg *Config) {
		cfg.StaffName, cfg.StaffID = refbackend.DemoInsuranceStaffName, refbackend.DemoInsuranceStaffID
	})
	for _, tc := range []struct {
		q    Query
		code string
		kind Kind
		card string
		new  string
	}{
		{Query{CardNumber: "001083012345", Name: "Nguyễn Văn An", DOB: "1983-03-15"}, "000", KindOK, "DN4010183012345", ""},
		{Query{CardNumber: "dn4010183012345", Name: "NGUYỄN VĂN AN", DOB: "15/03/1983"}, "000", KindOK, "DN4010183012345", ""},
		{Query{CardNumber: "048048000789", Name: "Lê Văn Thành", DOB: "20/11/1948"}, "004", KindNewCard, "HT3484848000789", "HT2484848000789"},
		{Query{CardNumber: "079307004321", Name: "Trần Thị Mai", DOB: "02/09/2007"}, "010", KindExpired, "HS4797930004321", ""},
		{Query{CardNumber: "GD4797975054321", Name: "Phạm Thị Hồng", DOB: "1975"}, "003", KindNewCard, "GD4797975054321", "GD4797975012345"},
		{Query{CardNumber: "001099012345", Name: "Người Thử", DOB: "1999"}, "050", KindNotFound, "", ""},
	} {
		r, err := c.Check(context.Background(), tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != tc.code || r.Kind != tc.kind || r.CardNumber != tc.card || r.NewCardNumber != tc.new {
			t.Errorf("%s: %+v", tc.code, r)
		}
	}
	r, _ := c.Check(context.Background(), Query{CardNumber: "001083012345", Name: "Nguyễn Văn An", DOB: "15/03/1983"})
	if len(r.Visits) != 2 || r.RegisteredFacility.Name == "" || r.BenefitLevel == nil || r.BenefitLevel.Percent != 80 {
		t.Errorf("demo 000 record: %+v", r)
	}
}

// countingTransport counts requests by path, so a test can see the client
// log in again without a 401 first.
type countingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	path []string
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.path = append(c.path, r.URL.Path)
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func (c *countingTransport) calls() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.Join(c.path, " ")
	c.path = nil
	return strings.NewReplacer(TokenPath, "login", CheckPath, "check").Replace(s)
}

func countingClient(t *testing.T, g *gateway) (*Client, *countingTransport) {
	t.Helper()
	tc, err := backend.LoadTLSConfig(g.pki.Path(refbackend.KioskCertFile), g.pki.Path(refbackend.KioskKeyFile), g.pki.Path(refbackend.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	ct := &countingTransport{next: &http.Transport{TLSClientConfig: tc}}
	c := g.client(t, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: ct} })
	return c, ct
}

// TestTokenExpiryMidSession: a token that expires between two checks is
// replaced before the second (the login answer said when), and one the
// gateway forgets is replaced after its 401, both without the caller seeing.
func TestTokenExpiryMidSession(t *testing.T) {
	t.Parallel()
	g := startGateway(t, refbackend.Options{InsuranceTokenTTL: time.Second})
	c, ct := countingClient(t, g)
	q := Query{CardNumber: "001083012345", Name: "Nguyễn Văn An", DOB: "15/03/1983", StaffName: refbackend.DemoInsuranceStaffName, StaffID: refbackend.DemoInsuranceStaffID}
	check := func(step string) {
		t.Helper()
		r, err := c.Check(context.Background(), q)
		if err != nil || r.Kind != KindOK {
			t.Fatalf("%s: %+v %v", step, r, err)
		}
	}
	check("first")
	check("second, same token")
	if got := ct.calls(); got != "login check check" {
		t.Errorf("first checks made %q", got)
	}
	time.Sleep(1100 * time.Millisecond)
	check("after expiry")
	if got := ct.calls(); got != "login check" {
		t.Errorf("after expiry: %q, want a fresh login before the check", got)
	}
	g.srv.RevokeInsuranceTokens() // the gateway restarts: the client cannot know
	check("after revocation")
	if got := ct.calls(); got != "check login check" {
		t.Errorf("after revocation: %q, want the 401, one login and the check again", got)
	}
	if n := g.srv.InsuranceLogins(); n != 3 {
		t.Errorf("%d logins, want 3", n)
	}
}

func TestOffline(t *testing.T) {
	t.Parallel()
	q := Query{CardNumber: "001083012345", Name: "Nguyễn Văn An", DOB: "15/03/1983"}
	for _, tc := range []struct {
		name string
		opt  refbackend.Options
		cfg  func(*Config)
		kind Kind
		code string
	}{
		{"gateway timeout", refbackend.Options{Latency: 3 * time.Second}, func(c *Config) { c.Timeout = 200 * time.Millisecond }, KindOffline, ""},
		{"HTTP 500", refbackend.Options{ErrorRate: 1}, nil, KindOffline, ""},
		{"connection dropped", refbackend.Options{DropRate: 1}, nil, KindOffline, ""},
		{"wrong password", refbackend.Options{}, func(c *Config) { c.Password = "wrong" }, KindGatewayError, "401"},
		{"untrusted certificate", refbackend.Options{}, func(c *Config) { c.CAFile = "" }, KindOffline, ""},
		{"nothing listening", refbackend.Options{}, func(c *Config) { c.BaseURL = "https://127.0.0.1:1" }, KindOffline, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, tc.opt)
			c := g.client(t, func(c *Config) {
				c.StaffName, c.StaffID = refbackend.DemoInsuranceStaffName, refbackend.DemoInsuranceStaffID
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			began := time.Now()
			r, err := c.Check(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != tc.kind || r.Code != tc.code || !r.Retryable() || r.Message.VI == "" || r.CardNumber != "" {
				t.Errorf("got %+v retryable %v; want kind %s code %q", r, r.Retryable(), tc.kind, tc.code)
			}
			if d := time.Since(began); d > 2*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

// TestCallerDeadline: the caller's context bounds a check too.
func TestCallerDeadline(t *testing.T) {
	t.Parallel()
	g := startGateway(t, refbackend.Options{Latency: 3 * time.Second})
	c := g.client(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	r, err := c.Check(ctx, Query{CardNumber: "001083012345", Name: "Nguyễn Văn An", DOB: "1983"})
	if err != nil || r.Kind != KindOffline {
		t.Fatalf("%+v %v", r, err)
	}
}

// fakeGateway answers the token call properly and the check with answer.
func fakeGateway(t *testing.T, status int, answer string) *Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokenPath, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"maKetQua":"200","APIKey":{"access_token":"a","id_token":"i","expires_in":3600}}`)
	})
	mux.HandleFunc("POST "+CheckPath, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		fmt.Fprint(w, answer)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, Username: "u", Password: "p", HTTPClient: srv.Client(), StaffName: staffName, StaffID: staffID})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMalformedAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		answer string
		kind   Kind
		code   string
	}{
		{"not JSON", 200, "<html>Bad gateway</html>", KindGatewayError, ""},
		{"truncated", 200, `{"maKetQua":"000","maThe":"DN40`, KindGatewayError, ""},
		{"no maKetQua", 200, `{"maThe":"DN4010183012345"}`, KindGatewayError, ""},
		{"maKetQua not a code", 200, `{"maKetQua":"OK"}`, KindGatewayError, ""},
		{"maKetQua an object", 200, `{"maKetQua":{"x":1}}`, KindGatewayError, ""},
		{"an array", 200, `[{"maKetQua":"000"}]`, KindGatewayError, ""},
		{"two objects", 200, `{"maKetQua":"000"}{"maKetQua":"010"}`, KindGatewayError, ""},
		{"HTTP 503", 503, `{"maKetQua":"000"}`, KindOffline, ""},
		{"HTTP 404", 404, `not found`, KindGatewayError, ""},
		{"HTTP 401 twice", 401, ``, KindGatewayError, "401"},
		// Tolerated: numbers and nulls for strings, odd dates, a broken history.
		{"numbers and nulls", 200, `{"maKetQua":"000","maThe":"DN4010183012345","maDKBD":1999,"gtTheTu":null,"gtTheDen":"31/12/2026","ngayDu5Nam":"không rõ","dsLichSuKCB2018":"none"}`, KindOK, "000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := fakeGateway(t, tc.status, tc.answer)
			r, err := c.Check(context.Background(), Query{CardNumber: "001083012345", Name: "Nguyễn Văn An", DOB: "1983"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != tc.kind || r.Code != tc.code {
				t.Errorf("got %s %q, want %s %q", r.Kind, r.Code, tc.kind, tc.code)
			}
			if tc.kind == KindOK && (r.RegisteredFacility.Code != "1999" || r.ValidFrom != "" || r.ValidTo != "2026-12-31" || r.FiveYearDate != "" || r.Visits != nil) {
				t.Errorf("tolerant decode: %+v", r)
			}
		})
	}
}

// TestNoPersonalDataLogged runs checks of every outcome with a logger that
// redacts nothing and greps what it wrote.
func TestNoPersonalDataLogged(t *testing.T) {
	t.Parallel()
	var buf kiosktest.SyncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g := startGateway(t, refbackend.Options{InsuranceData: everyCodeData(t)})
	c := g.client(t, func(c *Config) { c.Log = log })
	var secrets []string
	for _, code := range []string{"000", "003", "010", "054", "401", "999"} {
		q := Query{CardNumber: cardFor(code), Name: "Người Thử", DOB: "01/02/1990"}
		if code == "054" {
			q.StaffName, q.StaffID = "Trần Văn Khác", "001190099999"
			secrets = append(secrets, q.StaffID, "Khác")
		}
		if _, err := c.Check(context.Background(), q); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, q.CardNumber)
	}
	slow := startGateway(t, refbackend.Options{Latency: 2 * time.Second})
	sc := slow.client(t, func(c *Config) { c.Log, c.Timeout = log, 100*time.Millisecond })
	sc.Check(context.Background(), Query{CardNumber: "001083012345", Name: "Nguyễn Văn An", DOB: "1983"})
	bad := g.client(t, func(c *Config) { c.Log, c.Password = log, "wrong-secret" })
	bad.Check(context.Background(), Query{CardNumber: "001083012345", Name: "Nguyễn Văn An", DOB: "1983"})

	out := buf.String()
	if !strings.Contains(out, "result_code=000") || !strings.Contains(out, "kind=offline") || !strings.Contains(out, "duration_ms=") {
		t.Fatalf("the log lacks the result codes:\n%s", out)
	}
	secrets = append(secrets, "token=", "id_token", "password", "username", refbackend.DemoInsurancePassword, "wrong-secret",
		c.passMD5, refbackend.DemoInsuranceUser, "https://", "/api/", "KQNhan", "001083012345", "Người Thử", "Thử", "Nguyễn",
		"1990", "1983", staffID, staffName, "Hoa", "DN4")
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log holds %q:\n%s", s, out)
		}
	}
}

func TestQueryNormalize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      Query
		card    string
		dob     string
		invalid bool
	}{
		{Query{CardNumber: " 001083012345 ", Name: "Nguyễn  Văn An", DOB: "15/03/1983"}, "001083012345", "15/03/1983", false},
		{Query{CardNumber: "dn 401 0183012345", Name: "An", DOB: "1983"}, "DN4010183012345", "1983", false},
		{Query{CardNumber: "001083012345", Name: "An", DOB: "1983-03-15"}, "001083012345", "15/03/1983", false},
		{Query{CardNumber: "00108301234", Name: "An", DOB: "1983"}, "", "", true},
		{Query{CardNumber: "D14010183012345", Name: "An", DOB: "1983"}, "", "", true},
		{Query{CardNumber: "001083012345", Name: "", DOB: "1983"}, "", "", true},
		{Query{CardNumber: "001083012345", Name: "12345", DOB: "1983"}, "", "", true},
		{Query{CardNumber: "001083012345", Name: "An\x00", DOB: "1983"}, "", "", true},
		{Query{CardNumber: "001083012345", Name: "An", DOB: "31/02/1983"}, "", "", true},
		{Query{CardNumber: "001083012345", Name: "An", DOB: "1983/03/15"}, "", "", true},
		{Query{CardNumber: "001083012345", Name: "An", DOB: "0083"}, "", "", true},
		{Query{CardNumber: "001083012345", Name: "An", DOB: "1983", StaffID: "123"}, "", "", true},
	} {
		got, err := tc.in.Normalize()
		if tc.invalid {
			if err == nil {
				t.Errorf("%+v: accepted", tc.in)
			} else if strings.Contains(err.Error(), tc.in.CardNumber) && tc.in.CardNumber != "" {
				t.Errorf("error %q quotes the card number", err)
			}
			continue
		}
		if err != nil || got.CardNumber != tc.card || got.DOB != tc.dob {
			t.Errorf("%+v: %+v %v", tc.in, got, err)
		}
	}
}

// TestStaffIdentity: a query's staff identity wins over the configured one;
// with neither, no lookup is made.
func TestStaffIdentity(t *testing.T) {
	t.Parallel()
	g := startGateway(t, refbackend.Options{})
	none := g.client(t, func(c *Config) { c.StaffName, c.StaffID = "", "" })
	q := Query{CardNumber: "001083012345", Name: "Nguyễn Văn An", DOB: "15/03/1983"}
	r, err := none.Check(context.Background(), q)
	if err != nil || r.Kind != KindStaffProblem || r.Code != "" || !r.Retryable() || g.srv.InsuranceLogins() != 0 {
		t.Fatalf("no staff: %+v %v (logins %d)", r, err, g.srv.InsuranceLogins())
	}
	q.StaffName, q.StaffID = refbackend.DemoInsuranceStaffName, refbackend.DemoInsuranceStaffID
	if r, _ := none.Check(context.Background(), q); r.Kind != KindOK {
		t.Errorf("logged-in staff: %+v", r)
	}
	wrong := g.client(t, func(c *Config) { c.StaffName, c.StaffID = "Trần Văn Khác", "001190099999" })
	q.StaffName, q.StaffID = "", ""
	if r, _ := wrong.Check(context.Background(), q); r.Code != "054" {
		t.Errorf("configured unknown staff: %+v", r)
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{BaseURL: "ftp://x", Username: "u", Password: "p"},
		{BaseURL: "https://u:p@gw.example", Username: "u", Password: "p"},
		{BaseURL: "https://gw.example?token=x", Username: "u", Password: "p"},
		{BaseURL: "https://gw.example", Username: "", Password: "p"},
		{BaseURL: "https://gw.example", Username: "u", Password: "p", StaffID: "12"},
		{BaseURL: "https://gw.example", Username: "u", Password: "p", CAFile: "/nonexistent/ca.pem"},
		{BaseURL: "https://gw.example", Username: "u", Password: "p", CertFile: "/x.pem"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	c, err := New(Config{BaseURL: "https://gw.example/prefix/", Username: "u", Password: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	// MD5("abc"), the gateway's password form.
	if c.passMD5 != "900150983cd24fb0d6963f7d28e17f72" || c.base != "https://gw.example/prefix" {
		t.Errorf("md5 %s base %s", c.passMD5, c.base)
	}
}
