package main

import (
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
)

func TestFilingExample(t *testing.T) {
	t.Parallel()
	first := procedure.All()[0].Code
	tests := []struct {
		name     string
		args     []string
		code     int
		wantCode string // procedure of the printed filing
		errOut   string
	}{
		{"default procedure", []string{"filing", "example"}, 0, first, ""},
		{"judicial record", []string{"filing", "example", "--procedure", "2.001417"}, 0, "2.001417", ""},
		{"unknown procedure", []string{"filing", "example", "--procedure", "9.999999"}, 1, "", `unknown procedure "9.999999"`},
		{"bad flag", []string{"filing", "example", "--bogus"}, 2, "", ""},
		{"extra argument", []string{"filing", "example", "x"}, 2, "", `unexpected argument "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.errOut) {
				t.Fatalf("exit %d stderr %q; want %d and %q", code, errOut, tt.code, tt.errOut)
			}
			if tt.wantCode == "" {
				return
			}
			if !strings.Contains(out, "\n  \"ma_ho_so\": ") {
				t.Errorf("output is not indented JSON:\n%s", out)
			}
			f, err := filing.Decode([]byte(out))
			if err != nil {
				t.Fatalf("printed filing does not decode: %v\n%s", err, out)
			}
			if f.ProcedureCode != tt.wantCode {
				t.Errorf("procedure %q, want %q", f.ProcedureCode, tt.wantCode)
			}
		})
	}
}

func TestProcedures(t *testing.T) {
	t.Parallel()
	code, out, errOut := run("procedures")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(procedure.All())+1 || !strings.HasPrefix(lines[0], "CODE") {
		t.Fatalf("output:\n%s", out)
	}
	for _, want := range []string{"2.001417", "Cấp Phiếu lý lịch tư pháp", "200000", "Đăng ký khai sinh"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := run("procedures", "extra"); code != 2 {
		t.Errorf("extra argument exit %d", code)
	}
}
