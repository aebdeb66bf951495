// Package filing is the dossier (hồ sơ) a kiosk submits for a procedure: who
// applies, the form as the citizen confirmed it, the attachments' metadata (their
// bytes travel separately in the outbox), the fee paid by VietQR, the consent
// given, and the chip's verification results as evidence. Decode is strict: a
// filing is accepted only when it is complete for its procedure in the catalogue.
package filing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
)

// Filing is one dossier as the kiosk submits it.
type Filing struct {
	MaHoSo        string            `json:"ma_ho_so"`
	ProcedureCode string            `json:"procedure_code"` // MaTTHC
	ProcedureName string            `json:"procedure_name"` // TenTTHC, as in the catalogue
	Applicant     Applicant         `json:"applicant"`
	Form          map[string]string `json:"form"`
	Attachments   []Attachment      `json:"attachments"`
	Fee           Fee               `json:"fee"`
	Consent       Consent           `json:"consent"`
	Evidence      Evidence          `json:"evidence"`
	KioskID       string            `json:"kiosk_id"`
	CreatedAt     time.Time         `json:"created_at"`
}

// Applicant is the citizen filing (ChuHoSo), as read from the chip.
type Applicant struct {
	IDNumber    string `json:"id_number"` // 12 digits
	FullName    string `json:"full_name"`
	DateOfBirth string `json:"date_of_birth"` // YYYY-MM-DD, YYYY-MM or YYYY
	Sex         string `json:"sex"`
	Phone       string `json:"phone,omitempty"` // SoDienThoai
}

// Attachment describes one attached document; its bytes travel in the outbox.
type Attachment struct {
	Name        string `json:"name"` // as the procedure names it
	ContentType string `json:"content_type"`
	SHA256      string `json:"sha256"` // lower-case hex
	Pages       int    `json:"pages"`
}

// Fee is the payment made by VietQR. A procedure without a fee has amount 0 and no
// reference or time.
type Fee struct {
	AmountVND int64      `json:"amount_vnd"`
	Reference string     `json:"reference,omitempty"`
	PaidAt    *time.Time `json:"paid_at,omitempty"`
}

// Consent records the explicit consent to process personal data.
type Consent struct {
	TextVersion string    `json:"text_version"`
	AcceptedAt  time.Time `json:"accepted_at"`
}

// Evidence is the chip verification results, each reported on its own.
type Evidence struct {
	Access       string `json:"access"`        // PACE-CAN, PACE-MRZ or BAC
	PassiveState string `json:"passive_state"` // valid, invalid, untrusted_chain, unknown_csca or absent
	SODSHA256    string `json:"sod_sha256,omitempty"`
	ChipAuth     string `json:"chip_auth"`   // ok, failed or not_supported
	ActiveAuth   string `json:"active_auth"` // ok, failed or not_supported
}

// MaxSize bounds an encoded filing: it holds metadata only.
const MaxSize = 64 << 10

// ContentTypes are the attachment formats a filing may carry.
var ContentTypes = []string{"application/pdf", "image/jpeg", "image/png"}

var (
	accessStates  = []string{"PACE-CAN", "PACE-MRZ", "BAC"}
	passiveStates = []string{"valid", "invalid", "untrusted_chain", "unknown_csca", "absent"}
	authStates    = []string{idcard.AuthOK, idcard.AuthFailed, idcard.AuthNotSupported}

	agencyRE = regexp.MustCompile(`^[A-Za-z0-9.]{1,32}$`)
	maHoSoRE = regexp.MustCompile(`^([A-Za-z0-9.]{1,32})-([0-9]{6})-([0-9]{4})$`)
	idRE     = regexp.MustCompile(`^[0-9]{12}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	dateRE   = regexp.MustCompile(`^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$`)
	phoneRE  = regexp.MustCompile(`^(0|\+84)[0-9]{9,10}$`)
)

const (
	maxShort       = 64 // kiosk_id, fee.reference, consent.text_version
	maxAttachments = 50
)

// Vietnam is Vietnam time (UTC+7, no daylight saving), in which MaHoSo dates are
// written.
var Vietnam = time.FixedZone("ICT", 7*60*60)

// NewMaHoSo returns the dossier code `<agency>-<yyMMdd>-<NNNN>`, the date being
// t's day in Vietnam and seq (1..9999) the day's sequence number.
func NewMaHoSo(agency string, t time.Time, seq int) (string, error) {
	if !agencyRE.MatchString(agency) {
		return "", fmt.Errorf("agency code %q: want 1 to 32 letters, digits and dots", agency)
	}
	if seq < 1 || seq > 9999 {
		return "", fmt.Errorf("sequence number %d is outside 1..9999", seq)
	}
	return fmt.Sprintf("%s-%s-%04d", agency, t.In(Vietnam).Format("060102"), seq), nil
}

// Encode returns f as JSON, with HTML characters left as they are.
func Encode(f *Filing) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Decode parses a filing strictly — unknown fields, trailing data and input over
// MaxSize are rejected — and checks it against its procedure.
func Decode(b []byte) (*Filing, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("filing is %d bytes, over the %d-byte limit", len(b), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f Filing
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("filing: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("filing: data after the JSON object")
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Validate checks that f is complete for its procedure and reports every problem.
func (f *Filing) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if m := maHoSoRE.FindStringSubmatch(f.MaHoSo); m == nil {
		bad("ma_ho_so %q is not <agency>-<yyMMdd>-<NNNN>", f.MaHoSo)
	} else if _, err := time.Parse("060102", m[2]); err != nil || m[3] == "0000" {
		bad("ma_ho_so %q has no valid date or sequence number", f.MaHoSo)
	}
	p, err := procedure.ByCode(f.ProcedureCode)
	if err != nil {
		bad("procedure_code: %v", err)
	} else if f.ProcedureName != p.NameVI {
		bad("procedure_name %q is not the catalogue's %q", f.ProcedureName, p.NameVI)
	}

	a := f.Applicant
	if !idRE.MatchString(a.IDNumber) {
		bad("applicant.id_number must be 12 digits")
	}
	if strings.TrimSpace(a.FullName) == "" || utf8.RuneCountInString(a.FullName) > 100 {
		bad("applicant.full_name must be 1 to 100 characters")
	}
	if !dateRE.MatchString(a.DateOfBirth) {
		bad("applicant.date_of_birth must be YYYY-MM-DD, YYYY-MM or YYYY")
	}
	if a.Phone != "" && !phoneRE.MatchString(a.Phone) {
		bad("applicant.phone is not a phone number")
	}
	if a.Sex != "Nam" && a.Sex != "Nữ" {
		bad("applicant.sex must be Nam or Nữ")
	}

	if f.Form == nil {
		bad("form is missing")
	}
	if p != nil {
		if err := p.ValidateForm(f.Form); err != nil {
			errs = append(errs, err)
		}
		// The chip fields must say what the applicant's chip says.
		chip := map[string]string{"id_number": a.IDNumber, "full_name": a.FullName, "date_of_birth": a.DateOfBirth, "sex": a.Sex}
		for _, fl := range p.Fields {
			if want, ok := chip[fl.Chip]; ok && f.Form[fl.Key] != "" && f.Form[fl.Key] != want {
				bad("form.%s differs from applicant.%s", fl.Key, fl.Chip)
			}
		}
		f.checkAttachments(p, bad)
		if f.Fee.AmountVND != p.Fee.AmountVND {
			bad("fee.amount_vnd %d is not the procedure's fee %d", f.Fee.AmountVND, p.Fee.AmountVND)
		}
	}
	if f.Fee.AmountVND > 0 && (f.Fee.Reference == "" || f.Fee.PaidAt == nil || f.Fee.PaidAt.IsZero()) {
		bad("fee: a paid fee needs reference and paid_at")
	}
	if f.Fee.AmountVND == 0 && (f.Fee.Reference != "" || f.Fee.PaidAt != nil) {
		bad("fee: no fee, yet a payment is recorded")
	}

	if len(f.Fee.Reference) > maxShort {
		bad("fee.reference is longer than %d bytes", maxShort)
	}
	if strings.TrimSpace(f.Consent.TextVersion) == "" || len(f.Consent.TextVersion) > maxShort || f.Consent.AcceptedAt.IsZero() {
		bad("consent: text_version (at most %d bytes) and accepted_at are required", maxShort)
	}
	ev := f.Evidence
	if !slices.Contains(accessStates, ev.Access) {
		bad("evidence.access %q is not one of %v", ev.Access, accessStates)
	}
	if !slices.Contains(passiveStates, ev.PassiveState) {
		bad("evidence.passive_state %q is not one of %v", ev.PassiveState, passiveStates)
	}
	if ev.PassiveState != "absent" && !sha256RE.MatchString(ev.SODSHA256) {
		bad("evidence.sod_sha256 must be 64 lower-case hex digits")
	}
	if !slices.Contains(authStates, ev.ChipAuth) || !slices.Contains(authStates, ev.ActiveAuth) {
		bad("evidence.chip_auth and active_auth must be one of %v", authStates)
	}
	if strings.TrimSpace(f.KioskID) == "" || len(f.KioskID) > maxShort {
		bad("kiosk_id must be 1 to %d bytes", maxShort)
	}
	if f.CreatedAt.IsZero() {
		bad("created_at is missing")
	}
	if len(errs) > 0 {
		return fmt.Errorf("filing %s: %w", f.MaHoSo, errors.Join(errs...))
	}
	return nil
}

func (f *Filing) checkAttachments(p *procedure.Procedure, bad func(string, ...any)) {
	if len(f.Attachments) > maxAttachments {
		bad("attachments: more than %d", maxAttachments)
		return
	}
	got := map[string]int{}
	for i, at := range f.Attachments {
		if !slices.ContainsFunc(p.Attachments, func(pa procedure.Attachment) bool { return pa.Name == at.Name }) {
			bad("attachments[%d]: %q is not an attachment of procedure %s", i, at.Name, p.Code)
		}
		if !slices.Contains(ContentTypes, at.ContentType) {
			bad("attachments[%d]: content_type %q is not one of %v", i, at.ContentType, ContentTypes)
		}
		if !sha256RE.MatchString(at.SHA256) {
			bad("attachments[%d]: sha256 must be 64 lower-case hex digits", i)
		}
		if at.Pages < 1 {
			bad("attachments[%d]: pages must be at least 1", i)
		}
		got[at.Name] += at.Pages
	}
	for _, pa := range p.Attachments {
		if got[pa.Name] < pa.MinPages {
			bad("attachments: %q needs at least %d page(s)", pa.Name, pa.MinPages)
		}
	}
}
