// Package procedure is the catalogue of public-service procedures (thủ tục hành
// chính) a ward kiosk offers: for each, its national code (MaTTHC), names, field
// (MaLinhVuc), the form the citizen fills in — with the fields the chip ID card
// pre-fills and locks — the attachments it needs, its fee and its processing time.
//
// The catalogue is data, not code: one YAML file per procedure under catalogue/,
// embedded in the binary and checked when the package loads, so a broken file
// stops the program at start with an error naming the file and the field.
package procedure

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/kiosk/vietqr"
)

// FieldType is the kind of value a form field takes.
type FieldType string

// Field types.
const (
	Text   FieldType = "text"
	Date   FieldType = "date"   // YYYY-MM-DD (YYYY-MM or YYYY when the card records no day or month)
	Select FieldType = "select" // one of Options
	Phone  FieldType = "phone"  // Vietnamese number: 0 or +84 then 9 or 10 digits
	Number FieldType = "number" // decimal digits
)

// MaxPurposeLen is the longest fee purpose VietQR carries, in ASCII characters after
// transliteration.
const MaxPurposeLen = 25

// Procedure is one catalogue entry.
type Procedure struct {
	Code           string       `yaml:"code"`    // MaTTHC
	NameVI         string       `yaml:"name_vi"` // TenTTHC
	NameEN         string       `yaml:"name_en"`
	Field          string       `yaml:"field"` // MaLinhVuc
	ProcessingDays int          `yaml:"processing_days"`
	Fee            Fee          `yaml:"fee"`
	Fields         []Field      `yaml:"fields"`
	Attachments    []Attachment `yaml:"attachments"`

	file string // the catalogue file it came from, for error messages
}

// Fee is what the procedure costs, paid by VietQR.
type Fee struct {
	AmountVND int64  `yaml:"amount_vnd"`
	Purpose   string `yaml:"purpose"` // transliterated to at most MaxPurposeLen ASCII characters
}

// Field is one form field.
type Field struct {
	Key       string    `yaml:"key"`
	LabelVI   string    `yaml:"label_vi"`
	LabelEN   string    `yaml:"label_en"`
	Type      FieldType `yaml:"type"`
	Required  bool      `yaml:"required"`
	MaxLength int       `yaml:"max_length"` // in characters; 0 for date and select
	Options   []string  `yaml:"options"`    // select only
	// Chip is the idcard.Document JSON key that fills the field; such fields are
	// locked in the UI.
	Chip string `yaml:"chip"`
	// Example is a fictional value for fields the citizen types in, used by
	// sample filings and checked like any input.
	Example string `yaml:"example"`
}

// Attachment is a document the procedure requires.
type Attachment struct {
	Name     string `yaml:"name"`
	MinPages int    `yaml:"min_pages"`
}

//go:embed catalogue/*.yaml
var embedded embed.FS

var catalogue []*Procedure

func init() {
	sub, err := fs.Sub(embedded, "catalogue")
	if err == nil {
		catalogue, err = Load(sub)
	}
	if err != nil {
		panic("procedure: built-in catalogue is not valid:\n" + err.Error())
	}
}

// All returns the built-in procedures, sorted by file name. The caller must not
// modify them.
func All() []*Procedure { return slices.Clone(catalogue) }

// ErrUnknown is returned by ByCode for a code that is not in the catalogue.
var ErrUnknown = errors.New("unknown procedure")

// ByCode returns the built-in procedure with MaTTHC code.
func ByCode(code string) (*Procedure, error) {
	for _, p := range catalogue {
		if p.Code == code {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknown, code)
}

// Load reads and checks every *.yaml file at the root of fsys. It reports every
// problem found, each prefixed with its file name.
func Load(fsys fs.FS) ([]*Procedure, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("catalogue has no *.yaml files")
	}
	var (
		ps    []*Procedure
		errs  []error
		codes = map[string]string{}
	)
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p, err := parse(name, b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := codes[p.Code]; dup && p.Code != "" {
			errs = append(errs, fmt.Errorf("%s: code %q is already used by %s", name, p.Code, prev))
			continue
		}
		codes[p.Code] = name
		ps = append(ps, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ps, nil
}

func parse(name string, b []byte) (*Procedure, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var p Procedure
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty file")
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.file = path.Base(name)
	if errs := p.check(); len(errs) > 0 {
		for i, e := range errs {
			errs[i] = fmt.Errorf("%s: %w", name, e)
		}
		return nil, errors.Join(errs...)
	}
	return &p, nil
}

var (
	keyRE     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	phoneRE   = regexp.MustCompile(`^(0|\+84)[0-9]{9,10}$`)
	numberRE  = regexp.MustCompile(`^[0-9]+$`)
	chipKeys  = documentStringKeys()
	needsMax  = map[FieldType]bool{Text: true, Phone: true, Number: true}
	knownType = map[FieldType]bool{Text: true, Date: true, Select: true, Phone: true, Number: true}
)

// documentStringKeys returns the JSON keys of idcard.Document's text fields: the
// keys a form field's chip may name.
func documentStringKeys() map[string]int {
	keys := map[string]int{}
	t := reflect.TypeFor[idcard.Document]()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type != reflect.TypeFor[*string]() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag != "" && tag != "-" {
			keys[tag] = i
		}
	}
	return keys
}

func (p *Procedure) check() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, s := range []struct{ name, v string }{{"code", p.Code}, {"name_vi", p.NameVI}, {"name_en", p.NameEN}, {"field", p.Field}} {
		if strings.TrimSpace(s.v) == "" {
			bad("%s is missing", s.name)
		}
	}
	if p.ProcessingDays < 0 {
		bad("processing_days %d is negative", p.ProcessingDays)
	}
	if p.Fee.AmountVND < 0 {
		bad("fee.amount_vnd %d is negative", p.Fee.AmountVND)
	}
	purpose := vietqr.Transliterate(p.Fee.Purpose)
	switch {
	case strings.TrimSpace(purpose) == "":
		bad("fee.purpose is missing")
	case len(purpose) > MaxPurposeLen:
		bad("fee.purpose %q is %d characters after transliteration; VietQR allows %d", purpose, len(purpose), MaxPurposeLen)
	}
	if len(p.Fields) == 0 {
		bad("fields: the form has no fields")
	}
	seen := map[string]bool{}
	for i, f := range p.Fields {
		at := fmt.Sprintf("fields[%d] (%s)", i, f.Key)
		if !keyRE.MatchString(f.Key) {
			bad("%s: key must be lower-case letters, digits and _", at)
		}
		if seen[f.Key] {
			bad("%s: duplicate key", at)
		}
		seen[f.Key] = true
		if strings.TrimSpace(f.LabelVI) == "" || strings.TrimSpace(f.LabelEN) == "" {
			bad("%s: label_vi and label_en are both required", at)
		}
		if !knownType[f.Type] {
			bad("%s: type %q is not one of text, date, select, phone, number", at, f.Type)
		}
		if needsMax[f.Type] && f.MaxLength <= 0 {
			bad("%s: max_length must be positive for type %s", at, f.Type)
		}
		if f.MaxLength < 0 {
			bad("%s: max_length %d is negative", at, f.MaxLength)
		}
		if (f.Type == Select) != (len(f.Options) > 0) {
			bad("%s: options are required for select fields and only for them", at)
		}
		if f.Chip != "" {
			if _, ok := chipKeys[f.Chip]; !ok {
				bad("%s: chip key %q is not a text field of idcard.Document", at, f.Chip)
			}
			if f.Example != "" {
				bad("%s: a chip field takes its value from the card, not an example", at)
			}
			continue
		}
		if f.Example == "" {
			bad("%s: example is required for fields the citizen types in", at)
		} else if msg := f.problem(f.Example); msg != nil {
			bad("%s: example %q: %s", at, f.Example, msg.EN)
		}
	}
	for i, a := range p.Attachments {
		if strings.TrimSpace(a.Name) == "" {
			bad("attachments[%d]: name is missing", i)
		}
		if a.MinPages < 1 {
			bad("attachments[%d] (%s): min_pages must be at least 1", i, a.Name)
		}
	}
	return errs
}

// Prefill returns the form values the chip fills: for every field with a chip
// key, the Document's value when the card has one. Dates are YYYY-MM-DD (or
// YYYY-MM / YYYY when the card records less). Fields the citizen types are absent.
func (p *Procedure) Prefill(doc *idcard.Document) map[string]string {
	values := map[string]string{}
	if doc == nil {
		return values
	}
	v := reflect.ValueOf(doc).Elem()
	for _, f := range p.Fields {
		i, ok := chipKeys[f.Chip]
		if f.Chip == "" || !ok {
			continue
		}
		s, _ := v.Field(i).Interface().(*string)
		if s == nil || *s == "" {
			continue
		}
		val := *s
		if f.Type == Date {
			val = isoDate(val)
		}
		values[f.Key] = val
	}
	return values
}

// isoDate turns the card's dd/MM/yyyy into YYYY-MM-DD and leaves other text as is.
func isoDate(s string) string {
	if t, err := time.Parse("02/01/2006", s); err == nil {
		return t.Format(time.DateOnly)
	}
	return s
}

// Problem is one thing wrong with a form value, said in Vietnamese and English.
type Problem struct {
	Key string
	VI  string
	EN  string
}

// FormError lists every problem of a form.
type FormError struct {
	Procedure string
	Problems  []Problem
}

func (e *FormError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "form for %s has %d problem(s):", e.Procedure, len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s / %s", p.Key, p.VI, p.EN)
	}
	return b.String()
}

// ValidateForm checks values against the form: required fields present, lengths,
// types, options, and no keys the form does not have. It returns a *FormError
// listing every problem, or nil.
func (p *Procedure) ValidateForm(values map[string]string) error {
	var probs []Problem
	known := map[string]bool{}
	for _, f := range p.Fields {
		known[f.Key] = true
		v, ok := values[f.Key]
		if !ok || strings.TrimSpace(v) == "" {
			if f.Required {
				probs = append(probs, Problem{f.Key, "Vui lòng nhập " + strings.ToLower(f.LabelVI) + ".", f.LabelEN + " is required."})
			}
			continue
		}
		if pr := f.problem(v); pr != nil {
			probs = append(probs, *pr)
		}
	}
	var unknown []string
	for k := range values {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		probs = append(probs, Problem{k, "Trường này không có trong tờ khai.", "The form has no such field."})
	}
	if len(probs) > 0 {
		return &FormError{Procedure: p.Code, Problems: probs}
	}
	return nil
}

// problem checks a non-empty value against the field's type and length.
func (f *Field) problem(v string) *Problem {
	if !utf8.ValidString(v) {
		return &Problem{f.Key, "Giá trị chứa ký tự không hợp lệ.", "The value is not valid UTF-8."}
	}
	if f.MaxLength > 0 && utf8.RuneCountInString(v) > f.MaxLength {
		return &Problem{f.Key,
			fmt.Sprintf("%s dài quá %d ký tự.", f.LabelVI, f.MaxLength),
			fmt.Sprintf("%s is longer than %d characters.", f.LabelEN, f.MaxLength)}
	}
	switch f.Type {
	case Date:
		if !validDate(v) {
			return &Problem{f.Key, f.LabelVI + " không đúng định dạng ngày (YYYY-MM-DD).", f.LabelEN + " is not a date (YYYY-MM-DD)."}
		}
	case Select:
		if !slices.Contains(f.Options, v) {
			return &Problem{f.Key,
				f.LabelVI + " phải là một trong: " + strings.Join(f.Options, ", ") + ".",
				f.LabelEN + " must be one of: " + strings.Join(f.Options, ", ") + "."}
		}
	case Phone:
		if !phoneRE.MatchString(v) {
			return &Problem{f.Key, f.LabelVI + " không hợp lệ (ví dụ 0912345678).", f.LabelEN + " is not a valid phone number (e.g. 0912345678)."}
		}
	case Number:
		if !numberRE.MatchString(v) {
			return &Problem{f.Key, f.LabelVI + " phải là số.", f.LabelEN + " must be a number."}
		}
	}
	return nil
}

func validDate(v string) bool {
	for _, layout := range []string{time.DateOnly, "2006-01", "2006"} {
		if len(v) == len(layout) {
			if _, err := time.Parse(layout, v); err == nil {
				return true
			}
		}
	}
	return false
}
