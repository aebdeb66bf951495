package qrpayload

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const (
	cardQR      = "079203012345|025123456|Nguyễn Văn An|15031990|Nam|12 Lê Lợi, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh|01072021"
	cardQR6     = "001304012345||Trần Thị Bình|02112004|Nữ|Xã Đông Anh, Hà Nội"
	vietQRACB   = "00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA53037045405100005802VN62150811Chuyen tien630453E6"
	fingerprint = "3f1c6a0b5d2e4f8899aabbccddeeff00112233445566778899aabbccddeeff01"
	token       = "q7W2-xZ_9kLmN0pQrStUvA"
	provQR      = "KIOSKPROV1|https://prov.example.vn/enrol|" + token + "|79001|" + fingerprint
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		kind    Kind
		wantErr string // substring of Err; "" for valid
		can     string
	}{
		{"card seven fields", cardQR, KindCard, "", "012345"},
		{"card six fields with scanner CRLF", cardQR6 + "\r\n", KindCard, "", "012345"},
		// A keyboard-wedge scanner dropped "ữ": the card is damaged but its CAN is not.
		{"card from keyboard wedge", "001304012345||Trn Th Bnh|02112004|N|X ng Anh, H Ni", KindCard, "neither Nam nor Nữ", "012345"},
		{"card with a bad date", "079203012345||A|31021990|Nam|X|01072021", KindCard, "date of birth", "012345"},
		{"card with too many fields", "079203012345||A|15031990|Nam|X|01072021|extra", KindCard, "8 fields", "012345"},
		{"receipt", "HS1|H29.22-250315-0042|H29.22|250315", KindReceipt, "", ""},
		{"receipt newer version", "HS2|H29.22-250315-0042|H29.22|250315|more", KindReceipt, "version 2 is newer", ""},
		{"receipt missing date", "HS1|H29.22-250315-0042|H29.22", KindReceipt, "2 fields", ""},
		{"receipt bad dossier code", "HS1|H29 22/0042|H29.22|250315", KindReceipt, "dossier code", ""},
		{"receipt empty agency", "HS1|X-1||250315", KindReceipt, "agency code", ""},
		{"receipt 30 February", "HS1|X-1|A|250230", KindReceipt, "calendar date", ""},
		{"provisioning", provQR, KindProvisioning, "", ""},
		{"provisioning over http", strings.Replace(provQR, "https:", "http:", 1), KindProvisioning, "not https", ""},
		{"provisioning URL with password", strings.Replace(provQR, "https://", "https://tech:s3cret@", 1), KindProvisioning, "user name or password", ""},
		{"provisioning URL with query", strings.Replace(provQR, "/enrol", "/enrol?token=x", 1), KindProvisioning, "query", ""},
		{"provisioning URL without host", strings.Replace(provQR, "https://prov.example.vn/enrol", "https:///enrol", 1), KindProvisioning, "no host", ""},
		{"provisioning short token", strings.Replace(provQR, token, "abc", 1), KindProvisioning, "token", ""},
		{"provisioning token with padding", strings.Replace(provQR, token, token+"==", 1), KindProvisioning, "token", ""},
		{"provisioning bad site", strings.Replace(provQR, "|79001|", "|79 001|", 1), KindProvisioning, "site code", ""},
		{"provisioning short fingerprint", strings.Replace(provQR, fingerprint, fingerprint[:40], 1), KindProvisioning, "40 characters", ""},
		{"provisioning fingerprint not hex", strings.Replace(provQR, fingerprint, "zz"+fingerprint[2:], 1), KindProvisioning, "not hexadecimal", ""},
		{"provisioning newer version", "KIOSKPROV2|whatever", KindProvisioning, "version 2 is newer", ""},
		{"provisioning version 0", "KIOSKPROV0|whatever", KindProvisioning, "never defined", ""},
		{"VietQR", vietQRACB, KindPayment, "", ""},
		{"URL", "https://dichvucong.gov.vn/", KindUnknown, "", ""},
		{"EAN-13", "8934563138164", KindUnknown, "", ""},
		{"HS without version", "HS|x|y|250101", KindUnknown, "", ""},
		{"bare ID number", "079203012345", KindUnknown, "", ""},
		{"empty", "", KindUnknown, "", ""},
		{"binary", "\x00\xff\xfe|\x80", KindUnknown, "", ""},
		{"too long", strings.Repeat("9", MaxLen+1), KindUnknown, "longer than any QR", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Parse(tt.in)
			if c.Kind != tt.kind {
				t.Fatalf("kind %q, want %q (err %v)", c.Kind, tt.kind, c.Err)
			}
			switch {
			case tt.wantErr == "" && c.Err != nil:
				t.Fatalf("unexpected error: %v", c.Err)
			case tt.wantErr != "" && (c.Err == nil || !strings.Contains(c.Err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", c.Err, tt.wantErr)
			}
			if c.CAN != tt.can {
				t.Errorf("CAN %q, want %q", c.CAN, tt.can)
			}
			set, wantSet := 0, 0
			for _, p := range []bool{c.Card != nil, c.Receipt != nil, c.Provisioning != nil} {
				if p {
					set++
				}
			}
			if c.Err == nil && c.Kind != KindPayment && c.Kind != KindUnknown {
				wantSet = 1
			}
			if set != wantSet {
				t.Errorf("%d decoded values set, want %d", set, wantSet)
			}
		})
	}
}

func TestParseDecodesFields(t *testing.T) {
	t.Parallel()
	c := Parse(cardQR)
	if c.Card == nil || c.Card.FullName != "Nguyễn Văn An" || c.Card.CAN() != "012345" {
		t.Errorf("card: %+v", c.Card)
	}

	r := Parse("HS1|H29.22-991231-0001|H29.22|991231").Receipt
	if r == nil || r.DossierCode != "H29.22-991231-0001" || r.AgencyCode != "H29.22" ||
		!r.Received.Equal(time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("receipt: %+v", r)
	}

	p := Parse(provQR).Provisioning
	if p == nil {
		t.Fatal("provisioning did not parse")
	}
	if p.ServerURL.String() != "https://prov.example.vn/enrol" || p.Token != token || p.SiteCode != "79001" ||
		fmt.Sprintf("%x", p.CAFingerprint) != fingerprint {
		t.Errorf("provisioning: %+v", p)
	}
	upper := Parse(strings.Replace(provQR, fingerprint, strings.ToUpper(fingerprint), 1)).Provisioning
	if upper == nil || upper.CAFingerprint != p.CAFingerprint {
		t.Error("an upper-case fingerprint is the same fingerprint")
	}
}

func TestFormatRoundTrip(t *testing.T) {
	t.Parallel()
	r := Receipt{DossierCode: "000.00.12.H29-250315-0042", AgencyCode: "000.00.12.H29", Received: time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)}
	s, err := FormatReceipt(r)
	if err != nil {
		t.Fatal(err)
	}
	if s != "HS1|000.00.12.H29-250315-0042|000.00.12.H29|250315" {
		t.Errorf("receipt code %q", s)
	}
	if got, err := ParseReceipt(s); err != nil || *got != r {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []Receipt{
		{DossierCode: "a|b", AgencyCode: "X", Received: r.Received},
		{DossierCode: "X", AgencyCode: "X", Received: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)},
		{AgencyCode: "X", Received: r.Received},
	} {
		if s, err := FormatReceipt(bad); err == nil {
			t.Errorf("FormatReceipt(%+v) = %q, want an error", bad, s)
		}
	}

	p, err := ParseProvisioning(provQR)
	if err != nil {
		t.Fatal(err)
	}
	s, err = FormatProvisioning(*p)
	if err != nil || s != provQR {
		t.Errorf("provisioning: %q, %v", s, err)
	}
	if _, err := FormatProvisioning(Provisioning{Token: token}); err == nil {
		t.Error("formatted a provisioning code without a server")
	}
}

// TestLogValueHidesSecrets logs whole values the way a careless caller would.
func TestLogValueHidesSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	c := Parse(cardQR)
	p := Parse(provQR)
	log.Info("scanned", "content", c, "prov", p, "p", *p.Provisioning)
	out := buf.String()
	for _, secret := range []string{"079203012345", "012345", "Nguyễn", token} {
		if strings.Contains(out, secret) {
			t.Errorf("log line carries %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, `"kind":"card"`) || !strings.Contains(out, `"server_host":"prov.example.vn"`) {
		t.Errorf("log line lost the useful part: %s", out)
	}
}

func TestDescribeIsBilingual(t *testing.T) {
	t.Parallel()
	for _, in := range []string{cardQR, "079203012345|x", "HS1|A|B|250101", "HS1|", "HS9|x", provQR, "KIOSKPROV1|", vietQRACB, "hello"} {
		m := Parse(in).Describe()
		if m.VI == "" || m.EN == "" || m.VI == m.EN {
			t.Errorf("%q: %+v", in, m)
		}
	}
	if a, b := Parse("HS1|A|B|250101").Describe(), Parse("HS1|").Describe(); a == b {
		t.Error("a valid and a broken receipt read the same to the citizen")
	}
	if !errors.Is(Parse("HS9|x").Err, ErrNewerVersion) {
		t.Error("HS9 is not reported as a newer version")
	}
}

// FuzzParse: nothing panics, the kind agrees with the decoded value, and every
// accepted receipt or provisioning code formats back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{cardQR, cardQR6, vietQRACB, provQR, "HS1|H29.22-250315-0042|H29.22|250315", "HS12|", "KIOSKPROV1|https://a/|" + token + "|s|" + fingerprint, "\xff|", "000201"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Parse(s)
		if c.Err != nil && c.Err.Error() == "" {
			t.Fatal("empty error text")
		}
		switch c.Kind {
		case KindCard:
			if len(c.CAN) != 6 || !allDigits(c.CAN) {
				t.Fatalf("card CAN %q", c.CAN)
			}
			if (c.Card == nil) != (c.Err != nil) {
				t.Fatalf("card %v with err %v", c.Card, c.Err)
			}
		case KindReceipt:
			if (c.Receipt == nil) != (c.Err != nil) {
				t.Fatalf("receipt %v with err %v", c.Receipt, c.Err)
			}
			if c.Receipt != nil {
				out, err := FormatReceipt(*c.Receipt)
				if err != nil || out != strings.TrimRight(s, "\r\n") {
					t.Fatalf("receipt %q formats back as %q, %v", s, out, err)
				}
			}
		case KindProvisioning:
			if (c.Provisioning == nil) != (c.Err != nil) {
				t.Fatalf("provisioning %v with err %v", c.Provisioning, c.Err)
			}
			if c.Provisioning != nil {
				out, err := FormatProvisioning(*c.Provisioning)
				if err != nil {
					t.Fatalf("provisioning %q does not format: %v", s, err)
				}
				again, err := ParseProvisioning(out)
				if err != nil || again.ServerURL.String() != c.Provisioning.ServerURL.String() || again.Token != c.Provisioning.Token ||
					again.SiteCode != c.Provisioning.SiteCode || again.CAFingerprint != c.Provisioning.CAFingerprint {
					t.Fatalf("provisioning %q re-parses as %+v, %v", s, again, err)
				}
			}
		case KindPayment, KindUnknown:
			if c.Card != nil || c.Receipt != nil || c.Provisioning != nil {
				t.Fatalf("%s with a decoded value", c.Kind)
			}
		default:
			t.Fatalf("kind %q", c.Kind)
		}
	})
}
