package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"regexp"
	"strings"
	"time"
)

// Insurance is the social-security gateway hospital kiosks check health
// insurance (BHYT) cards with. The section is optional: without a url the
// kiosk makes no insurance checks. The gateway password is never in this
// file: password_file names a file (readable by kioskd only) holding it.
type Insurance struct {
	URL          string `yaml:"url"`           // https://host[:port][/prefix], no credentials
	Username     string `yaml:"username"`      // the facility's gateway account
	PasswordFile string `yaml:"password_file"` // absolute path; its first line is the password
	CAFile       string `yaml:"ca_file"`       // pinned CA; "" = system roots
	// CertFile and KeyFile are a client certificate, for a gateway behind
	// mutual TLS (the reference backend in demos); usually empty.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// StaffName and StaffID are the registered staff identity (hoTenCb,
	// cccdCb) lookups are made under when no staff member is logged in.
	StaffName string   `yaml:"staff_name"`
	StaffID   string   `yaml:"staff_id"`
	Timeout   Duration `yaml:"timeout"` // one gateway request; 0 = DefaultInsuranceTimeout
}

// DefaultInsuranceTimeout bounds one gateway request when timeout is not set.
const DefaultInsuranceTimeout = 10 * time.Second

// Enabled says whether the kiosk checks insurance cards.
func (i Insurance) Enabled() bool { return i.URL != "" }

// RequestTimeout is Timeout, or DefaultInsuranceTimeout when unset.
func (i Insurance) RequestTimeout() time.Duration {
	if i.Timeout == 0 {
		return DefaultInsuranceTimeout
	}
	return i.Timeout.D()
}

// Password reads the gateway password from PasswordFile: its first line,
// without the line ending. A file others may read is refused, since the
// password is the facility's account.
func (i Insurance) Password() (string, error) {
	st, err := os.Stat(i.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("insurance password file: %w", err)
	}
	if st.Mode().Perm()&0o007 != 0 {
		return "", fmt.Errorf("insurance password file %s is readable by others; chmod o-rwx it", i.PasswordFile)
	}
	b, err := os.ReadFile(i.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("insurance password file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", errors.New("insurance password file " + i.PasswordFile + " is empty")
	}
	return pw, nil
}

var staffIDRE = regexp.MustCompile(`^[0-9]{12}$`)

// validateInsurance checks the insurance: section.
func (c *Config) validateInsurance() Errors {
	var es Errors
	add := func(e *Error) { es = append(es, e) }
	in := c.Insurance
	if !in.Enabled() {
		if in != (Insurance{}) {
			add(c.errf("insurance.url", "missing; the insurance: section needs the gateway's url, e.g. https://egw.baohiemxahoi.gov.vn"))
		}
		return es
	}
	u, err := url.Parse(in.URL)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "":
		add(c.errf("insurance.url", "%q is not a gateway URL; expected https://host[:port]", in.URL))
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		add(c.errf("insurance.url", "must not carry credentials or a query; put the account in username and password_file"))
	}
	if in.Username == "" {
		add(c.errf("insurance.username", "missing; expected the facility's gateway account name"))
	}
	if in.PasswordFile == "" {
		add(c.errf("insurance.password_file", "missing; expected the absolute path of a file holding the gateway password (never the password itself)"))
	}
	for _, k := range []struct{ key, v string }{
		{"insurance.password_file", in.PasswordFile}, {"insurance.ca_file", in.CAFile},
		{"insurance.cert_file", in.CertFile}, {"insurance.key_file", keyPath(in.KeyFile)},
	} {
		if k.v != "" && !path.IsAbs(k.v) {
			add(c.errf(k.key, "%q is not an absolute path", k.v))
		}
	}
	if (in.CertFile == "") != (in.KeyFile == "") {
		add(c.errf("insurance.cert_file", "cert_file and key_file go together; give both or neither"))
	}
	if (in.StaffName == "") != (in.StaffID == "") {
		add(c.errf("insurance.staff_id", "staff_name and staff_id go together; give both or neither"))
	}
	if in.StaffID != "" && !staffIDRE.MatchString(in.StaffID) {
		// The value is a citizen ID number: the message does not repeat it.
		add(c.errf("insurance.staff_id", "not a citizen ID number; expected 12 digits, in quotes"))
	}
	if d := in.Timeout.D(); in.Timeout != 0 && (d < time.Second || d > 2*time.Minute) {
		add(c.errf("insurance.timeout", "%s is out of range; expected between 1s and 2m", d))
	}
	return es
}
