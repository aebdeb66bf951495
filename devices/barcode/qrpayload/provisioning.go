package qrpayload

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

const (
	provisioningTag     = "KIOSKPROV"
	provisioningVersion = 1
	maxServerURL        = 512
)

// Provisioning is a technician's set-up code: where the provisioning server is,
// the one-time token that enrols this kiosk, the site it is enrolled into, and the
// CA the server's certificate must chain to.
type Provisioning struct {
	ServerURL     *url.URL
	Token         string // one-time enrolment secret: never log it
	SiteCode      string
	CAFingerprint [32]byte // SHA-256 of the provisioning CA certificate (DER)
}

// LogValue hides the token: a provisioning code is logged by the site it enrols.
func (p Provisioning) LogValue() slog.Value {
	host := ""
	if p.ServerURL != nil {
		host = p.ServerURL.Host
	}
	return slog.GroupValue(slog.String("server_host", host), slog.String("site", p.SiteCode),
		slog.String("ca_sha256", hex.EncodeToString(p.CAFingerprint[:])))
}

// ParseProvisioning decodes
// "KIOSKPROV1|<https URL>|<token>|<site code>|<64 hex digits>" and says which field
// is wrong (without quoting the token).
func ParseProvisioning(s string) (*Provisioning, error) {
	if !hasVersionTag(s, provisioningTag) {
		return nil, errors.New("provisioning QR: does not start with KIOSKPROV<version>|")
	}
	f, err := checkVersion(s, provisioningTag, provisioningVersion, "provisioning QR")
	if err != nil {
		return nil, err
	}
	if len(f) != 4 {
		return nil, fmt.Errorf("provisioning QR: %d fields after KIOSKPROV1, expected 4 (server URL, token, site code, CA fingerprint)", len(f))
	}
	u, err := parseServerURL(f[0])
	if err != nil {
		return nil, fmt.Errorf("provisioning QR: server URL: %w", err)
	}
	if !tokenChars(f[1]) {
		return nil, errors.New("provisioning QR: the token is not 22 to 256 base64url characters")
	}
	if !codeChars(f[2], 64) {
		return nil, errors.New("provisioning QR: the site code is not 1 to 64 characters of A-Z a-z 0-9 . _ -")
	}
	p := &Provisioning{ServerURL: u, Token: f[1], SiteCode: f[2]}
	if len(f[3]) != 64 {
		return nil, fmt.Errorf("provisioning QR: the CA fingerprint has %d characters, expected 64 hex digits (SHA-256)", len(f[3]))
	}
	if _, err := hex.Decode(p.CAFingerprint[:], []byte(f[3])); err != nil {
		return nil, errors.New("provisioning QR: the CA fingerprint is not hexadecimal")
	}
	return p, nil
}

// FormatProvisioning writes a provisioning code, refusing what ParseProvisioning
// would refuse.
func FormatProvisioning(p Provisioning) (string, error) {
	if p.ServerURL == nil {
		return "", errors.New("provisioning QR: no server URL")
	}
	s := strings.Join([]string{provisioningTag + strconv.Itoa(provisioningVersion), p.ServerURL.String(), p.Token, p.SiteCode,
		hex.EncodeToString(p.CAFingerprint[:])}, "|")
	if _, err := ParseProvisioning(s); err != nil {
		return "", err
	}
	return s, nil
}

func parseServerURL(s string) (*url.URL, error) {
	if len(s) > maxServerURL {
		return nil, fmt.Errorf("%d characters, at most %d", len(s), maxServerURL)
	}
	u, err := url.Parse(s)
	if err != nil {
		// Not wrapped: url's errors quote the input, which may hold a password.
		return nil, errors.New("not a valid URL")
	}
	switch {
	case u.Scheme != "https":
		return nil, errors.New("not https")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("no host")
	case u.User != nil:
		return nil, errors.New("carries a user name or password")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("carries a query; the token has its own field")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, errors.New("carries a fragment")
	}
	return u, nil
}

func tokenChars(s string) bool {
	if len(s) < 22 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
