package filing

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/procedure"
)

func TestNewMaHoSo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		agency  string
		t       time.Time
		seq     int
		want    string
		wantErr string
	}{
		{"morning in Vietnam", "000.31.20.H29", time.Date(2026, 1, 15, 9, 30, 0, 0, Vietnam), 1, "000.31.20.H29-260115-0001", ""},
		{"23:30 UTC is the next day in Vietnam", "H29", time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC), 42, "H29-270101-0042", ""},
		{"16:59 UTC is still the same day", "H29", time.Date(2026, 3, 9, 16, 59, 59, 0, time.UTC), 9999, "H29-260309-9999", ""},
		{"17:00 UTC is midnight in Vietnam", "H29", time.Date(2026, 3, 9, 17, 0, 0, 0, time.UTC), 10, "H29-260310-0010", ""},
		{"seq zero", "H29", time.Now(), 0, "", "outside 1..9999"},
		{"seq too big", "H29", time.Now(), 10000, "", "outside 1..9999"},
		{"empty agency", "", time.Now(), 1, "", "agency code"},
		{"agency with dash", "H-29", time.Now(), 1, "", "agency code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := NewMaHoSo(tt.agency, tt.t, tt.seq)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestExampleForEveryProcedure(t *testing.T) {
	t.Parallel()
	for _, p := range procedure.All() {
		t.Run(p.Code, func(t *testing.T) {
			t.Parallel()
			f, err := Example(p.Code)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			g, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(Example): %v\n%s", err, b)
			}
			b2, _ := Encode(g)
			if !bytes.Equal(b, b2) {
				t.Errorf("round trip changed the filing:\n%s\n%s", b, b2)
			}
			if g.ProcedureCode != p.Code || g.Fee.AmountVND != p.Fee.AmountVND || len(g.Attachments) != len(p.Attachments) {
				t.Errorf("example %+v does not match procedure %s", g, p.Code)
			}
			if (p.Fee.AmountVND > 0) != (g.Fee.PaidAt != nil) {
				t.Errorf("fee %+v for amount %d", g.Fee, p.Fee.AmountVND)
			}
		})
	}
	if _, err := Example("0.000000"); err == nil {
		t.Error("Example of an unknown procedure succeeded")
	}
}

// exampleJSON returns the judicial-record example as a generic JSON object to
// break in tests.
func exampleJSON(t *testing.T) map[string]any {
	t.Helper()
	f, err := Example("2.001417")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Encode(f)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"unknown top-level field", func(m map[string]any) { m["extra"] = 1 }, `unknown field "extra"`},
		{"unknown nested field", func(m map[string]any) { m["evidence"].(map[string]any)["face_match"] = true }, `unknown field "face_match"`},
		{"missing ma_ho_so", func(m map[string]any) { delete(m, "ma_ho_so") }, `ma_ho_so "" is not`},
		{"bad ma_ho_so date", func(m map[string]any) { m["ma_ho_so"] = "H29-261345-0001" }, "no valid date"},
		{"unknown procedure", func(m map[string]any) { m["procedure_code"] = "9.999999" }, "unknown procedure"},
		{"wrong procedure name", func(m map[string]any) { m["procedure_name"] = "Khác" }, "is not the catalogue's"},
		{"missing applicant id", func(m map[string]any) { delete(m["applicant"].(map[string]any), "id_number") }, "applicant.id_number must be 12 digits"},
		{"missing form field", func(m map[string]any) { delete(m["form"].(map[string]any), "certificate_kind") }, "certificate_kind: Vui lòng nhập loại phiếu."},
		{"form contradicts chip", func(m map[string]any) { m["form"].(map[string]any)["full_name"] = "Người Khác" }, "form.full_name differs from applicant.full_name"},
		{"missing attachment", func(m map[string]any) { m["attachments"] = []any{} }, "needs at least 1 page"},
		{"bad attachment hash", func(m map[string]any) { m["attachments"].([]any)[0].(map[string]any)["sha256"] = "ABC" }, "sha256 must be 64"},
		{"wrong fee", func(m map[string]any) { m["fee"].(map[string]any)["amount_vnd"] = 1000 }, "is not the procedure's fee 200000"},
		{"unpaid fee", func(m map[string]any) { delete(m["fee"].(map[string]any), "paid_at") }, "a paid fee needs reference and paid_at"},
		{"missing consent", func(m map[string]any) { delete(m, "consent") }, "consent: text_version"},
		{"bad evidence", func(m map[string]any) { m["evidence"].(map[string]any)["passive_state"] = "verified" }, `evidence.passive_state "verified"`},
		{"missing kiosk", func(m map[string]any) { m["kiosk_id"] = "" }, "kiosk_id must be"},
		{"missing created_at", func(m map[string]any) { delete(m, "created_at") }, "created_at is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := exampleJSON(t)
			tt.edit(m)
			b, _ := json.Marshal(m)
			f, err := Decode(b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode = %v, %v; want error containing %q", f, err, tt.want)
			}
		})
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	t.Parallel()
	good, _ := Example("1.004873")
	b, _ := Encode(good)
	padded := append(bytes.Repeat([]byte(" "), MaxSize), b...)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"oversize", padded, "over the 65536-byte limit"},
		{"trailing data", append(append([]byte{}, b...), []byte(` {}`)...), "data after"},
		{"not JSON", []byte("<filing/>"), "filing:"},
		{"empty", nil, "filing:"},
		{"null", []byte("null"), "ma_ho_so"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Decode(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Decode(b); err != nil {
		t.Errorf("the unmodified filing fails: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, p := range procedure.All() {
		ex, err := Example(p.Code)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := Encode(ex)
		f.Add(b)
	}
	f.Add([]byte(`{"ma_ho_so":"H29-260101-0001"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := Encode(fl)
		if err != nil {
			t.Fatalf("Encode of a decoded filing: %v", err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(f)): %v\n%s", err, enc)
		}
		enc2, _ := Encode(again)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the filing:\n%s\n%s", enc, enc2)
		}
	})
}
