// Package siteconfig owns the kiosk's site configuration: the part of its
// configuration the provincial backend decides rather than the technician —
// the procedures a ward kiosk offers, a hospital's departments and staff, the
// payment account, the receipt template and the CSCA trust store passive
// authentication checks ID cards against. The backend serves it as a JSON
// document (GET /v1/site-config/{site}, over the kiosk's mutual TLS) with a
// detached ES256 JWS in the Site-Config-Signature header whose x5c
// certificate must chain to the CA the kiosk pinned at enrolment and be the
// backend's site-configuration signer (common name SignerCommonName, extended
// key usage code signing), so a network attacker, a compromised proxy or a
// kiosk's own client certificate cannot forge one. A document is applied only
// when it is newer than the one in use, written to <state dir>/site-config
// all at once (a symbolic link switched by rename), and re-verified every time
// it is loaded, so a file edited on disk is refused like a tampered download.
package siteconfig

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
)

// Errors a document is refused with; every refusal wraps one of them.
var (
	// ErrSignature: the signature does not cover these bytes (tampered or
	// corrupted), or is not a well-formed ES256 JWS.
	ErrSignature = errors.New("site configuration signature does not verify")
	// ErrSigner: the signing certificate does not chain to the pinned CA or
	// is not the site-configuration signer.
	ErrSigner = errors.New("site configuration is not signed by the backend's site-configuration signer")
	// ErrWrongSite: the document is for another site.
	ErrWrongSite = errors.New("site configuration is for another site")
	// ErrReplay: the document is not newer than the one applied.
	ErrReplay = errors.New("site configuration is not newer than the one applied")
	// ErrInvalid: the signed document's content breaks a rule.
	ErrInvalid = errors.New("site configuration is invalid")
)

// Templates are the receipt templates a document may name; the first is
// the default.
var Templates = []string{"default", "compact"}

// maxDocument bounds a document: a few hundred staff and CSCA certificates
// fit in far less.
const maxDocument = 4 << 20

// Document is one site configuration. Empty parts (no departments and no
// staff, no payment, no procedures, no CSCA certificates) leave the
// configuration file's own values in place; see Overlay.
type Document struct {
	Version     int64         `json:"version"` // increases with every change the backend makes
	Site        string        `json:"site"`
	IssuedAt    time.Time     `json:"issued_at"`
	Procedures  []string      `json:"procedures,omitempty"` // enabled MaTTHC codes
	Departments []Department  `json:"departments,omitempty"`
	Staff       []StaffMember `json:"staff,omitempty"`
	Payment     *Payment      `json:"payment,omitempty"`
	Printer     Printer       `json:"printer"`
	CSCA        []string      `json:"csca,omitempty"` // PEM certificates

	csca []*x509.Certificate
}

// Department is config.Department in the document.
type Department struct {
	Code   string `json:"code"`
	NameVI string `json:"name_vi"`
	NameEN string `json:"name_en,omitempty"`
	Prefix string `json:"prefix,omitempty"`
}

// StaffMember is config.StaffMember in the document. IDNumber is personal
// data: never printed or logged.
type StaffMember struct {
	IDNumber string `json:"id_number"`
	Name     string `json:"name"`
	PINHash  string `json:"pin_hash"`
	Role     string `json:"role"`
}

// Payment is config.Payment in the document; Timeout is a duration such as
// "5m", empty to keep the file's.
type Payment struct {
	BIN         string `json:"bin"`
	Account     string `json:"account"`
	AccountName string `json:"account_name,omitempty"`
	Timeout     string `json:"timeout,omitempty"`
}

// Printer is the receipt layout; kept for the printer to use.
type Printer struct {
	Template string `json:"template"`
}

// CSCACertificates are the parsed CSCA certificates, in document order.
func (d *Document) CSCACertificates() []*x509.Certificate { return slices.Clone(d.csca) }

// Hospital returns the departments and staff as kiosk/config has them.
func (d *Document) Hospital() config.Hospital {
	var h config.Hospital
	for _, x := range d.Departments {
		h.Departments = append(h.Departments, config.Department{Code: x.Code, NameVI: x.NameVI, NameEN: x.NameEN, Prefix: x.Prefix})
	}
	for _, s := range d.Staff {
		h.Staff = append(h.Staff, config.StaffMember{IDNumber: s.IDNumber, Name: s.Name, PINHash: s.PINHash, Role: s.Role})
	}
	return h
}

// ConfigPayment returns the payment account as kiosk/config has it (zero when
// the document has none).
func (d *Document) ConfigPayment() (config.Payment, error) {
	if d.Payment == nil {
		return config.Payment{}, nil
	}
	p := config.Payment{BIN: d.Payment.BIN, Account: d.Payment.Account, AccountName: d.Payment.AccountName}
	if d.Payment.Timeout != "" {
		t, err := time.ParseDuration(d.Payment.Timeout)
		if err != nil {
			return p, fmt.Errorf("payment.timeout %q is not a duration such as 5m", d.Payment.Timeout)
		}
		p.Timeout = config.Duration(t)
	}
	return p, nil
}

// Parse decodes a document strictly (unknown members and trailing data are
// errors) and checks its content; it does not check a signature. Verify is
// what the kiosk calls.
func Parse(raw []byte) (*Document, error) {
	if len(raw) > maxDocument {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, maxDocument)
	}
	var d Document
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: not a site configuration document: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &d, nil
}

// check applies the content rules; departments, staff and payment go
// through kiosk/config's own validation.
func (d *Document) check() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if d.Version < 1 {
		add("version must be a positive whole number")
	}
	if d.Site == "" {
		add("site is missing")
	}
	if d.IssuedAt.IsZero() {
		add("issued_at is missing")
	}
	seen := map[string]bool{}
	for _, code := range d.Procedures {
		if _, err := procedure.ByCode(code); err != nil {
			add("procedure %q is not in this kiosk's catalogue", code)
		} else if seen[code] {
			add("procedure %q is listed twice", code)
		}
		seen[code] = true
	}
	switch {
	case d.Printer.Template == "":
		d.Printer.Template = Templates[0]
	case !slices.Contains(Templates, d.Printer.Template):
		add("printer.template %q is not one of %s", d.Printer.Template, strings.Join(Templates, ", "))
	}
	p, err := d.ConfigPayment()
	if err != nil {
		add("%v", err)
	} else if err := config.ValidateSite("site.json", d.Hospital(), p); err != nil {
		add("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	fps := map[[32]byte]bool{}
	for i, s := range d.CSCA {
		c, err := parseOnePEM(s)
		if err != nil {
			add("csca[%d]: %v", i, err)
			continue
		}
		if !c.IsCA || !c.BasicConstraintsValid {
			add("csca[%d]: %q is not a CA certificate", i, c.Subject.CommonName)
		}
		fp := sha256Sum(c.Raw)
		if fps[fp] {
			add("csca[%d]: the same certificate twice", i)
		}
		fps[fp] = true
		d.csca = append(d.csca, c)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func parseOnePEM(s string) (*x509.Certificate, error) {
	blk, rest := pem.Decode([]byte(s))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("more than one PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return c, nil
}
