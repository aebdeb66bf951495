package config

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vnkiosk/kiosk/kiosk/staff"
)

// Hospital is what only a hospital kiosk has: the departments it gives queue
// tickets for and the health staff who may log in to check a patient's insurance.
type Hospital struct {
	Departments []Department  `yaml:"departments"`
	Staff       []StaffMember `yaml:"staff"`
}

// Department is a department or clinic a patient can take a ticket for.
type Department struct {
	Code   string `yaml:"code"`    // the queue's key, e.g. KKB; letters, digits, '.', '_' or '-'
	NameVI string `yaml:"name_vi"` // printed on the ticket and shown on screen
	NameEN string `yaml:"name_en"` // shown when the screen is in English; name_vi when empty
	Prefix string `yaml:"prefix"`  // up to 3 capital letters before the number, e.g. K for "K012"
	line   int
}

// StaffMember is one health staff member who may log in (see package staff).
// IDNumber is their own 12-digit ID number: the card they log in with, and the
// checker's ID the insurance gateway asks for. It is personal data: never
// logged, and the audit log keeps only a keyed hash of it.
type StaffMember struct {
	IDNumber string `yaml:"id_number"`
	Name     string `yaml:"name"`
	PINHash  string `yaml:"pin_hash"` // from `kioskctl staff hash-pin`
	Role     string `yaml:"role"`     // nurse, receptionist or technician
	line     int
}

// UnmarshalYAML implements yaml.Unmarshaler, remembering the entry's line so
// that validation can point at it (the line map does not descend into lists).
func (d *Department) UnmarshalYAML(n *yaml.Node) error {
	type plain Department
	if err := n.Decode((*plain)(d)); err != nil {
		return err
	}
	d.line = n.Line
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler; see Department.UnmarshalYAML.
func (s *StaffMember) UnmarshalYAML(n *yaml.Node) error {
	type plain StaffMember
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	s.line = n.Line
	return nil
}

var (
	departmentCodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	prefixRE         = regexp.MustCompile(`^[A-Z]{0,3}$`)
)

// validateHospital checks the hospital: section. A hospital kiosk without the
// section is accepted (it offers neither tickets nor staff mode); once the
// section is there it must name at least one department.
func (c *Config) validateHospital() Errors {
	var es Errors
	h := c.Hospital
	if c.lines["hospital"] == 0 {
		return nil
	}
	if c.Site.Kind != SiteHospital {
		return Errors{c.errf("hospital", "only a kiosk with site kind hospital has a hospital: section; remove it or set site.kind: hospital")}
	}
	at := func(line int, key, format string, args ...any) {
		if line == 0 {
			line = c.lines["hospital"]
		}
		es = append(es, &Error{File: c.Source, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if len(h.Departments) == 0 {
		at(c.lines["hospital.departments"], "hospital.departments", "a hospital kiosk needs at least one department, e.g. - {code: KKB, name_vi: \"Khoa Khám bệnh\", prefix: K}")
	}
	codes, prefixes := map[string]int{}, map[string]int{}
	for i, d := range h.Departments {
		key := fmt.Sprintf("hospital.departments[%d]", i)
		if !departmentCodeRE.MatchString(d.Code) {
			at(d.line, key+".code", "%q is not a department code; use 1 to 32 letters, digits, '.', '_' or '-' such as KKB", d.Code)
		} else if j, dup := codes[d.Code]; dup {
			at(d.line, key+".code", "%q is also the code of department %d; codes must be unique", d.Code, j+1)
		} else {
			codes[d.Code] = i
		}
		if strings.TrimSpace(d.NameVI) == "" {
			at(d.line, key+".name_vi", "missing; give the department's name as printed on the ticket")
		}
		if !prefixRE.MatchString(d.Prefix) {
			at(d.line, key+".prefix", "%q is not a ticket prefix; use up to 3 capital letters such as K", d.Prefix)
		} else if j, dup := prefixes[d.Prefix]; dup && d.Prefix != "" {
			at(d.line, key+".prefix", "%q is also the prefix of department %d; two departments would call the same numbers", d.Prefix, j+1)
		} else {
			prefixes[d.Prefix] = i
		}
	}
	ids := map[string]int{}
	for i, s := range h.Staff {
		key := fmt.Sprintf("hospital.staff[%d]", i)
		// Messages never repeat an ID number: this output is pasted into tickets.
		if len(s.IDNumber) != 12 || strings.Trim(s.IDNumber, "0123456789") != "" {
			at(s.line, key+".id_number", "not an ID number; expected the 12 digits of the staff member's citizen ID card, in quotes")
		} else if j, dup := ids[s.IDNumber]; dup {
			at(s.line, key+".id_number", "the same ID number as staff member %d", j+1)
		} else {
			ids[s.IDNumber] = i
		}
		if strings.TrimSpace(s.Name) == "" {
			at(s.line, key+".name", "missing; give the name shown on screen and in the audit log")
		}
		if err := staff.CheckHash(s.PINHash); err != nil {
			at(s.line, key+".pin_hash", "%v", err)
		}
		if !staff.Role(s.Role).Valid() {
			at(s.line, key+".role", "%q is not a role; expected nurse, receptionist or technician", s.Role)
		}
	}
	return es
}

// ValidateSite checks what a signed site configuration (provisioning/siteconfig)
// brings in place of the file — hospital departments and staff, and the payment
// account — by the same rules as the hospital: and payment: sections. An empty
// Hospital or a zero Payment is not checked (the document leaves that part to
// the file); a zero payment timeout takes the default. source names the
// document in messages, which carry no line numbers.
func ValidateSite(source string, h Hospital, p Payment) error {
	c := Defaults()
	c.Source, c.Kiosk.ID, c.Site = source, "site-config", Site{Kind: SiteHospital, Code: "site-config"}
	c.Hospital, c.lines = h, lineMap{}
	if len(h.Departments) > 0 || len(h.Staff) > 0 {
		c.lines["hospital"] = 1 // validateHospital checks only a section the file has
	}
	if p.Timeout == 0 {
		p.Timeout = c.Payment.Timeout
	}
	c.Payment = p
	es := c.validate()
	if len(es) == 0 {
		return nil
	}
	for _, e := range es {
		e.Line = 0
	}
	return es
}
