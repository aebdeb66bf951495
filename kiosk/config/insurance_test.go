package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInsuranceSection(t *testing.T) {
	t.Parallel()
	c, err := Parse("k.yaml", []byte(minimal+`insurance:
  url: https://egw.example.gov.vn
  username: "79001_BV"
  password_file: /etc/kioskd/insurance-password
  staff_name: "Nguyễn Thị Hoa"
  staff_id: "001190012345"
  timeout: 5s
`))
	if err != nil {
		t.Fatal(err)
	}
	in := c.Insurance
	if !in.Enabled() || in.Username != "79001_BV" || in.StaffID != "001190012345" || in.RequestTimeout() != 5*time.Second {
		t.Errorf("decoded %+v", in)
	}
	c, err = Parse("k.yaml", []byte(minimal))
	if err != nil || c.Insurance.Enabled() || c.Insurance.RequestTimeout() != DefaultInsuranceTimeout {
		t.Errorf("absent section: %+v %v", c, err)
	}
}

func TestInsuranceErrors(t *testing.T) {
	t.Parallel()
	// The insurance: line follows minimal; key n of the section is n lines below.
	at := func(n int) int { return strings.Count(minimal, "\n") + 1 + n }
	const ok = "  url: https://egw.example\n  username: u\n  password_file: /p\n"
	for _, tc := range []struct {
		name, section string
		line          int // of the key at fault, within the section; 0: the section's own line
		want          string
	}{
		{"no url", "  username: u\n", 0, "insurance.url: missing"},
		{"http", "  url: http://egw.example\n  username: u\n  password_file: /p\n", 1, `insurance.url: "http://egw.example" is not a gateway URL`},
		{"credentials in url", "  url: https://egw.example/?password=x\n  username: u\n  password_file: /p\n", 1, "insurance.url: must not carry credentials"},
		{"no username", "  url: https://egw.example\n  password_file: /p\n", 0, "insurance.username: missing"},
		{"no password file", "  url: https://egw.example\n  username: u\n", 0, "insurance.password_file: missing"},
		{"relative password file", "  url: https://egw.example\n  username: u\n  password_file: pw.txt\n", 3, `insurance.password_file: "pw.txt" is not an absolute path`},
		{"relative CA", ok + "  ca_file: ca.pem\n", 4, `insurance.ca_file: "ca.pem" is not an absolute path`},
		{"cert without key", ok + "  cert_file: /c.pem\n", 4, "insurance.cert_file: cert_file and key_file go together"},
		{"staff name alone", ok + "  staff_name: Hoa\n", 0, "insurance.staff_id: staff_name and staff_id go together"},
		{"staff id not 12 digits", ok + "  staff_name: Hoa\n  staff_id: \"0011900123\"\n", 5, "insurance.staff_id: not a citizen ID number"},
		{"timeout", ok + "  timeout: 5m\n", 4, "insurance.timeout: 5m0s is out of range"},
		{"password in the file", ok + "  password: x\n", 4, `insurance: unknown key "password"`},
	} {
		_, err := Parse("k.yaml", []byte(minimal+"insurance:\n"+tc.section))
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		want := tc.want
		if tc.line > 0 {
			want = fmt.Sprintf("k.yaml:%d: %s", at(tc.line), tc.want)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v\nlacks %q", tc.name, err, want)
		}
		if strings.Contains(err.Error(), "0011900123") {
			t.Errorf("%s: the error repeats the staff ID: %v", tc.name, err)
		}
	}
}

func TestInsurancePassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) Insurance {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return Insurance{PasswordFile: p}
	}
	if pw, err := write("ok", "s3cret pass\r\nignored\n", 0o600).Password(); err != nil || pw != "s3cret pass" {
		t.Errorf("%q %v", pw, err)
	}
	if pw, err := write("nonl", "s3cret", 0o640).Password(); err != nil || pw != "s3cret" {
		t.Errorf("%q %v", pw, err)
	}
	for _, tc := range []struct {
		in   Insurance
		want string
	}{
		{write("world", "x\n", 0o644), "readable by others"},
		{write("empty", "\n", 0o600), "is empty"},
		{Insurance{PasswordFile: filepath.Join(dir, "missing")}, "no such file"},
	} {
		if _, err := tc.in.Password(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.in.PasswordFile, err)
		}
	}
}

// TestExampleInsuranceBlockParses keeps the commented insurance: block in
// example.yaml valid.
func TestExampleInsuranceBlockParses(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "\n#insurance:\n")
	if !ok {
		t.Fatal("example.yaml has no commented insurance: block")
	}
	text := "insurance:\n"
	for _, line := range strings.Split(block, "\n") {
		if !strings.HasPrefix(line, "#  ") {
			break
		}
		text += strings.TrimPrefix(line, "#") + "\n"
	}
	c, err := Parse("example insurance block", []byte(minimal+text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if !c.Insurance.Enabled() || c.Insurance.StaffID == "" || c.Insurance.RequestTimeout() != 10*time.Second {
		t.Errorf("parsed %+v", c.Insurance)
	}
}
