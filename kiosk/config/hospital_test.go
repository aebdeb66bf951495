package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// pinHash is HashPIN("1357").
const pinHash = "$argon2id$v=19$m=65536,t=2,p=2$ejk6fqgnYbUOw9U8/gtIOg$4IMraMNfRY103FslYBk1KKBCMaVQhIHnXPFWDY2dIWI"

const hospitalYAML = minimal + `hospital:
  departments:
    - code: KKB
      name_vi: "Khoa Khám bệnh"
      name_en: "Outpatient clinic"
      prefix: K
    - code: NHI
      name_vi: "Khoa Nhi"
  staff:
    - id_number: "001090000001"
      name: "Y tá Lan"
      pin_hash: "` + pinHash + `"
      role: nurse
`

func TestHospitalSection(t *testing.T) {
	t.Parallel()
	c, err := Parse("k.yaml", []byte(hospitalYAML))
	if err != nil {
		t.Fatal(err)
	}
	h := c.Hospital
	if len(h.Departments) != 2 || h.Departments[0].Code != "KKB" || h.Departments[0].Prefix != "K" || h.Departments[1].NameVI != "Khoa Nhi" {
		t.Errorf("departments %+v", h.Departments)
	}
	if len(h.Staff) != 1 || h.Staff[0].IDNumber != "001090000001" || h.Staff[0].Role != "nurse" || h.Staff[0].PINHash != pinHash {
		t.Errorf("staff %+v", h.Staff)
	}
	// A hospital without the section is still valid (no tickets, no staff mode).
	if _, err := Parse("k.yaml", []byte(minimal)); err != nil {
		t.Errorf("hospital without section: %v", err)
	}
}

func TestHospitalSectionErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, from, to string
		want           []string
	}{
		{"duplicate code", "code: NHI", "code: KKB", []string{`k.yaml:14: hospital.departments[1].code: "KKB" is also the code of department 1`}},
		{"bad code", "code: NHI", "code: \"N H\"", []string{`k.yaml:14: hospital.departments[1].code: "N H" is not a department code`}},
		{"no name", `name_vi: "Khoa Nhi"`, `name_en: "Paediatrics"`, []string{`k.yaml:14: hospital.departments[1].name_vi: missing`}},
		{"bad prefix", "prefix: K", "prefix: k1", []string{`k.yaml:10: hospital.departments[0].prefix: "k1" is not a ticket prefix`}},
		{"unknown key in a list entry", "prefix: K", "prefix: K\n      colour: red", []string{`k.yaml:14: hospital.departments[0]: unknown key "colour"; expected one of code, name_en, name_vi, prefix`}},
		{"short ID", `"001090000001"`, `"0010900"`, []string{`k.yaml:17: hospital.staff[0].id_number: not an ID number`}},
		{"raw PIN", pinHash, "1357", []string{`k.yaml:17: hospital.staff[0].pin_hash: not an argon2id PIN hash`}},
		{"weak hash", "m=65536,t=2", "m=1024,t=2", []string{`hospital.staff[0].pin_hash: not an argon2id PIN hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash); make one with 'kioskctl staff hash-pin': parameters m=1024`}},
		{"bad role", "role: nurse", "role: doctor", []string{`k.yaml:17: hospital.staff[0].role: "doctor" is not a role`}},
		{"no departments", "  departments:\n    - code: KKB\n      name_vi: \"Khoa Khám bệnh\"\n      name_en: \"Outpatient clinic\"\n      prefix: K\n    - code: NHI\n      name_vi: \"Khoa Nhi\"\n", "  departments: []\n", []string{`k.yaml:9: hospital.departments: a hospital kiosk needs at least one department`}},
		{"ward with hospital section", "kind: hospital", "kind: ward", []string{`k.yaml:8: hospital: only a kiosk with site kind hospital`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			text := strings.Replace(hospitalYAML, tc.from, tc.to, 1)
			if text == hospitalYAML {
				t.Fatalf("replacement of %q did not apply", tc.from)
			}
			_, err := Parse("k.yaml", []byte(text))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors lack %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "001090000001") || strings.Contains(err.Error(), "0010900") {
				t.Errorf("an error repeats the ID number:\n%v", err)
			}
		})
	}
}

func TestHospitalDuplicateStaff(t *testing.T) {
	t.Parallel()
	second := `    - id_number: "001090000001"
      name: "Y tá Hoa"
      pin_hash: "` + pinHash + `"
      role: receptionist
`
	_, err := Parse("k.yaml", []byte(hospitalYAML+second))
	if err == nil || !strings.Contains(err.Error(), "k.yaml:21: hospital.staff[1].id_number: the same ID number as staff member 1") {
		t.Errorf("duplicate staff: %v", err)
	}
}

// TestExampleHospitalBlockParses keeps the commented hospital: block in
// example.yaml valid: uncommented into a hospital config, it must parse.
func TestExampleHospitalBlockParses(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "\n#hospital:\n")
	if !ok {
		t.Fatal("example.yaml has no commented hospital: block")
	}
	text := "hospital:\n"
	for _, line := range strings.Split(block, "\n") {
		if !strings.HasPrefix(line, "#  ") {
			break
		}
		text += strings.TrimPrefix(line, "#") + "\n"
	}
	c, err := Parse("example hospital block", []byte(minimal+text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if len(c.Hospital.Departments) != 2 || len(c.Hospital.Staff) != 1 {
		t.Errorf("parsed %+v", c.Hospital)
	}
}
