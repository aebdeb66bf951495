package procedure

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vnkiosk/kiosk/devices/idcard"
)

func TestCatalogueComplete(t *testing.T) {
	t.Parallel()
	all := All()
	if len(all) < 5 {
		t.Fatalf("catalogue has %d procedures, want at least 5", len(all))
	}
	wantNames := []string{"tình trạng hôn nhân", "khai sinh", "thường trú", "trích lục hộ tịch", "lý lịch tư pháp"}
	for _, want := range wantNames {
		found := false
		for _, p := range all {
			found = found || strings.Contains(p.NameVI, want)
		}
		if !found {
			t.Errorf("no procedure named like %q", want)
		}
	}
	for _, p := range all {
		t.Run(p.Code, func(t *testing.T) {
			t.Parallel()
			if p.Code == "" || p.NameVI == "" || p.NameEN == "" || p.Field == "" || len(p.Fields) == 0 || len(p.Attachments) == 0 {
				t.Errorf("incomplete: %+v", p)
			}
			got, err := ByCode(p.Code)
			if err != nil || got != p {
				t.Errorf("ByCode(%q) = %v, %v", p.Code, got, err)
			}
			chip := 0
			for _, f := range p.Fields {
				if f.Chip != "" {
					chip++
				}
			}
			if chip == 0 {
				t.Error("no field is filled from the chip")
			}
			// Chip values plus examples make a valid form.
			values := p.Prefill(sampleDoc())
			for _, f := range p.Fields {
				if f.Chip == "" {
					values[f.Key] = f.Example
				}
			}
			if err := p.ValidateForm(values); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestByCodeUnknown(t *testing.T) {
	t.Parallel()
	if _, err := ByCode("9.999999"); !errors.Is(err, ErrUnknown) {
		t.Errorf("err = %v", err)
	}
}

const goodYAML = `code: "1.000001"
name_vi: Thủ tục thử
name_en: Test procedure
field: HOTICH
processing_days: 1
fee: {amount_vnd: 5000, purpose: Lệ phí thử}
fields:
  - {key: full_name, label_vi: Họ tên, label_en: Full name, type: text, required: true, max_length: 100, chip: full_name}
  - {key: phone, label_vi: Số điện thoại, label_en: Phone, type: phone, max_length: 12, example: "0912345678"}
attachments:
  - {name: Tờ khai, min_pages: 1}
`

func TestLoadRejectsBadCatalogue(t *testing.T) {
	t.Parallel()
	repl := func(old, new string) string {
		if !strings.Contains(goodYAML, old) {
			panic("test YAML lacks " + old)
		}
		return strings.Replace(goodYAML, old, new, 1)
	}
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"duplicate code", map[string]string{"a.yaml": goodYAML, "b.yaml": goodYAML}, []string{`b.yaml: code "1.000001" is already used by a.yaml`}},
		{"unknown chip key", map[string]string{"a.yaml": repl("chip: full_name", "chip: name")}, []string{`a.yaml: fields[0] (full_name): chip key "name" is not a text field of idcard.Document`}},
		{"chip key of non-text field", map[string]string{"a.yaml": repl("chip: full_name", "chip: photo")}, []string{`chip key "photo"`}},
		{"bad type", map[string]string{"a.yaml": repl("type: phone", "type: email")}, []string{`fields[1] (phone): type "email" is not one of`}},
		{"purpose too long", map[string]string{"a.yaml": repl("purpose: Lệ phí thử", "purpose: Lệ phí đăng ký thường trú mới")}, []string{`fee.purpose "Le phi dang ky thuong tru moi" is 29 characters`}},
		{"missing max length", map[string]string{"a.yaml": repl("max_length: 100, ", "")}, []string{"max_length must be positive for type text"}},
		{"invalid example", map[string]string{"a.yaml": repl(`example: "0912345678"`, `example: "12ab"`)}, []string{`example "12ab"`}},
		{"missing example", map[string]string{"a.yaml": repl(`, example: "0912345678"`, "")}, []string{"example is required"}},
		{"unknown yaml key", map[string]string{"a.yaml": goodYAML + "colour: red\n"}, []string{"a.yaml:", "colour"}},
		{"no attachments pages", map[string]string{"a.yaml": repl("min_pages: 1", "min_pages: 0")}, []string{"min_pages must be at least 1"}},
		{"duplicate yaml key", map[string]string{"a.yaml": goodYAML + "processing_days: 2\n"}, []string{"a.yaml:", "already"}},
		{"missing name and negative values", map[string]string{"a.yaml": strings.NewReplacer("name_en: Test procedure", `name_en: ""`, "processing_days: 1", "processing_days: -1", "amount_vnd: 5000", "amount_vnd: -5").Replace(goodYAML)},
			[]string{"name_en is missing", "processing_days -1 is negative", "fee.amount_vnd -5 is negative"}},
		{"several problems reported together", map[string]string{"a.yaml": repl("field: HOTICH", `field: ""`), "b.yaml": strings.Replace(repl("type: phone", "type: tel"), "1.000001", "1.000002", 1)},
			[]string{"a.yaml: field is missing", `b.yaml: fields[1] (phone): type "tel"`}},
		{"empty catalogue", map[string]string{"x.txt": "nothing"}, []string{"no *.yaml files"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := fstest.MapFS{}
			for n, s := range tt.files {
				fsys[n] = &fstest.MapFile{Data: []byte(s)}
			}
			ps, err := Load(fsys)
			if err == nil {
				t.Fatalf("Load accepted it: %+v", ps)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadGood(t *testing.T) {
	t.Parallel()
	ps, err := Load(fstest.MapFS{"a.yaml": {Data: []byte(goodYAML)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Code != "1.000001" || ps[0].Fee.AmountVND != 5000 || ps[0].Fields[1].Type != Phone {
		t.Errorf("loaded %+v", ps[0])
	}
}

func ptr(s string) *string { return &s }

func sampleDoc() *idcard.Document {
	return &idcard.Document{
		IDNumber:         ptr("001083012345"),
		FullName:         ptr("Nguyễn Văn An"),
		DateOfBirth:      ptr("1983-03-15"),
		Sex:              ptr("Nam"),
		PlaceOfOrigin:    ptr("Xã Mẫu Thủy, Huyện Ví Dụ, Hà Nội"),
		PlaceOfResidence: ptr("Số 12 ngõ Ví Dụ, Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội"),
		FatherName:       ptr("Nguyễn Văn Bình"),
		MotherName:       ptr("Lê Thị Cúc"),
	}
}

func TestPrefill(t *testing.T) {
	t.Parallel()
	p, err := ByCode("2.001417") // judicial record: many chip fields
	if err != nil {
		t.Fatal(err)
	}
	doc := sampleDoc()
	doc.DateOfBirth = ptr("15/03/1983") // the card's own format is converted
	got := p.Prefill(doc)
	want := map[string]string{
		"id_number": "001083012345", "full_name": "Nguyễn Văn An", "date_of_birth": "1983-03-15", "sex": "Nam",
		"place_of_origin": "Xã Mẫu Thủy, Huyện Ví Dụ, Hà Nội", "place_of_residence": "Số 12 ngõ Ví Dụ, Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội",
		"father_name": "Nguyễn Văn Bình", "mother_name": "Lê Thị Cúc",
	}
	if len(got) != len(want) {
		t.Errorf("Prefill = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// A field keyed differently from its chip key, and an absent chip value.
	rp, _ := ByCode("1.004194")
	doc.PlaceOfResidence = nil
	if got := rp.Prefill(doc); got["current_residence"] != "" || got["full_name"] != "Nguyễn Văn An" {
		t.Errorf("residence Prefill = %v", got)
	}
	doc.PlaceOfResidence = ptr("X")
	if got := rp.Prefill(doc); got["current_residence"] != "X" {
		t.Errorf("current_residence = %q", got["current_residence"])
	}
	if got := p.Prefill(nil); len(got) != 0 {
		t.Errorf("Prefill(nil) = %v", got)
	}
}

func TestValidateForm(t *testing.T) {
	t.Parallel()
	m, _ := ByCode("1.004873") // marital status: text, date, select, phone
	base := func() map[string]string {
		v := m.Prefill(sampleDoc())
		v["purpose"] = "Kết hôn"
		v["phone"] = "0912345678"
		return v
	}
	tests := []struct {
		name string
		edit func(map[string]string)
		want []string // keys with problems, in order
		text string
	}{
		{"valid", func(map[string]string) {}, nil, ""},
		{"valid +84 phone and partial date", func(v map[string]string) { v["phone"] = "+84912345678"; v["date_of_birth"] = "1983" }, nil, ""},
		{"missing required", func(v map[string]string) { delete(v, "full_name"); v["phone"] = " " }, []string{"full_name", "phone"}, "Full name is required."},
		{"too long", func(v map[string]string) { v["full_name"] = strings.Repeat("ắ", 101) }, []string{"full_name"}, "longer than 100 characters"},
		{"bad date", func(v map[string]string) { v["date_of_birth"] = "1983-02-30" }, []string{"date_of_birth"}, "không đúng định dạng ngày"},
		{"bad option", func(v map[string]string) { v["purpose"] = "Du lịch" }, []string{"purpose"}, "must be one of: Kết hôn"},
		{"bad phone", func(v map[string]string) { v["phone"] = "12345" }, []string{"phone"}, "not a valid phone number"},
		{"unknown key", func(v map[string]string) { v["zz"] = "1"; v["aa"] = "2" }, []string{"aa", "zz"}, "The form has no such field."},
		{"every problem", func(v map[string]string) { v["phone"] = "x"; v["sex"] = "?"; delete(v, "id_number") }, []string{"id_number", "sex", "phone"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := base()
			tt.edit(v)
			err := m.ValidateForm(v)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *FormError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v", err)
			}
			var keys []string
			for _, p := range fe.Problems {
				keys = append(keys, p.Key)
				if p.VI == "" || p.EN == "" {
					t.Errorf("problem %+v lacks a sentence", p)
				}
			}
			if strings.Join(keys, ",") != strings.Join(tt.want, ",") {
				t.Errorf("problem keys %v, want %v", keys, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q lacks %q", err, tt.text)
			}
		})
	}
	// Number fields.
	c, _ := ByCode("2.000635")
	v := c.Prefill(sampleDoc())
	for _, f := range c.Fields {
		if f.Chip == "" {
			v[f.Key] = f.Example
		}
	}
	v["copies"] = "2a"
	if err := c.ValidateForm(v); err == nil || !strings.Contains(err.Error(), "copies: Số bản sao phải là số.") {
		t.Errorf("number: %v", err)
	}
}
