package refbackend

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// gatewayCall posts body to path and decodes the gateway's answer.
func gatewayCall(t *testing.T, hc *http.Client, u string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	code, ans := post(t, hc, u, "", string(b))
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, ans)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(ans), &m); err != nil {
		t.Fatalf("%v: %s", err, ans)
	}
	return m
}

func TestInsuranceGateway(t *testing.T) {
	t.Parallel()
	pki, err := EnsurePKI(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Seed: 1, InsuranceUser: "bv-mau", InsurancePassword: "s3cret", InsuranceTokenTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Start("127.0.0.1:0", pki)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	hc := client(t, pki)

	if m := gatewayCall(t, hc, base+"/api/token/take", map[string]string{"username": "bv-mau", "password": md5hex("wrong")}); m["maKetQua"] != "401" {
		t.Errorf("wrong password: %v", m)
	}
	if m := gatewayCall(t, hc, base+"/api/token/take", map[string]string{"username": "bv-mau", "password": "s3cret"}); m["maKetQua"] != "401" {
		t.Errorf("plain password accepted: %v", m)
	}
	m := gatewayCall(t, hc, base+"/api/token/take", map[string]string{"username": "bv-mau", "password": strings.ToUpper(md5hex("s3cret"))})
	key, _ := m["APIKey"].(map[string]any)
	if m["maKetQua"] != "200" || key == nil {
		t.Fatalf("login: %v", m)
	}
	exp, err := time.Parse(time.RFC3339Nano, key["expires_in"].(string))
	if err != nil || time.Until(exp) > time.Second || !strings.HasSuffix(key["expires_in"].(string), "+07:00") {
		t.Errorf("expires_in %v (%v)", key["expires_in"], err)
	}
	qs := url.Values{"token": {key["access_token"].(string)}, "id_token": {key["id_token"].(string)}, "username": {"bv-mau"}, "password": {md5hex("s3cret")}}
	check := base + "/api/egw/KQNhanLichSuKCB2024?" + qs.Encode()
	an := map[string]string{"maThe": "001083012345", "hoTen": "Nguyễn Văn An", "ngaySinh": "15/03/1983", "hoTenCb": DemoInsuranceStaffName, "cccdCb": DemoInsuranceStaffID}
	with := func(k, v string) map[string]string {
		c := map[string]string{}
		for a, b := range an {
			c[a] = b
		}
		c[k] = v
		return c
	}
	for _, tc := range []struct {
		name string
		url  string
		body any
		code string
	}{
		{"demo record", check, an, "000"},
		{"BHYT code, lower case", check, with("maThe", "dn4010183012345"), "000"},
		{"staff ID not registered", check, with("cccdCb", "001190099999"), "054"},
		{"no staff", check, with("cccdCb", ""), "054"},
		{"staff name mismatch", check, with("hoTenCb", "Trần Văn Khác"), "055"},
		{"staff name, other case and spacing", check, with("hoTenCb", " nguyễn  THỊ hoa "), "000"},
		{"unknown card", check, with("maThe", "079999012345"), "050"},
		{"bad card format", check, with("maThe", "12345"), "205"},
		{"bad birth date format", check, with("ngaySinh", "1983-03-15"), "205"},
		{"not JSON", check, "x", "205"},
		{"no token", base + "/api/egw/KQNhanLichSuKCB2024", an, "401"},
		{"wrong id_token", strings.Replace(check, "id_token=", "id_token=x", 1), an, "401"},
		{"wrong password", strings.Replace(check, "password=", "password=0", 1), an, "401"},
	} {
		m := gatewayCall(t, hc, tc.url, tc.body)
		if m["maKetQua"] != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, m["maKetQua"], tc.code)
		}
	}
	// The record is sent verbatim: fields the client ignores included.
	m = gatewayCall(t, hc, check, an)
	if m["diaChi"] == nil || m["maSoBHXH"] != "0183012345" || len(m["dsLichSuKCB2018"].([]any)) != 2 {
		t.Errorf("record not verbatim: %v", m)
	}
	time.Sleep(1100 * time.Millisecond)
	if m := gatewayCall(t, hc, check, an); m["maKetQua"] != "401" {
		t.Errorf("expired token: %v", m)
	}
	if n := s.InsuranceLogins(); n != 1 {
		t.Errorf("%d logins", n)
	}
}

func TestInsuranceData(t *testing.T) {
	t.Parallel()
	d := DemoInsuranceData()
	codes := map[string]bool{}
	for k, rec := range d.Records {
		var a struct{ MaKetQua string }
		if err := json.Unmarshal(rec, &a); err != nil {
			t.Fatal(err)
		}
		codes[a.MaKetQua] = true
		if !cardCodeRE.MatchString(k) {
			t.Errorf("demo key %q is not a maThe", k)
		}
	}
	for _, c := range []string{"000", "003", "004", "010", "050"} {
		if !codes[c] {
			t.Errorf("demo data lacks a %s record", c)
		}
	}
	if len(d.Staff) != 1 || d.Staff[0] != (InsuranceStaff{DemoInsuranceStaffID, DemoInsuranceStaffName}) {
		t.Errorf("demo staff %+v", d.Staff)
	}
	// The sample citizens of the virtual card (devices/idcard/virtualcard).
	for _, id := range []string{"001083012345", "048048000789", "079307004321"} {
		if d.Records[id] == nil {
			t.Errorf("no record for sample citizen %s", id)
		}
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "ins.json")
	os.WriteFile(file, DemoInsuranceJSON(), 0o600)
	if got, err := LoadInsuranceData(file); err != nil || len(got.Records) != len(d.Records) {
		t.Errorf("load: %v", err)
	}
	if _, err := LoadInsuranceData(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file loaded")
	}
	for _, bad := range []string{
		`[]`,
		`{"staff": {"cccdCb": "1"}}`,
		`{"staff": [{"cccdCb": "001190012345"}]}`,
		`{"001083012345": {"ghiChu": "no code"}}`,
		`{"001083012345": "000"}`,
		`{"001083012345": {"maKetQua": 0}}`,
	} {
		if _, err := ParseInsuranceData([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	got, err := ParseInsuranceData([]byte(`{"dn4010183012345": {"maKetQua": "999"}}`))
	if err != nil || got.Records["DN4010183012345"] == nil || len(got.Staff) != 0 {
		t.Errorf("lower-case key: %+v %v", got, err)
	}
}
