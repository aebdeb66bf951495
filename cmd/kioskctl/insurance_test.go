package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
	"github.com/vnkiosk/kiosk/kiosk/insurance"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
)

// insuranceDaemon serves the control route of kiosk/insurance, as kioskd
// does, backed by a client of a reference gateway with the demo records.
func insuranceDaemon(t *testing.T, opt refbackend.Options) string {
	t.Helper()
	pki, err := refbackend.EnsurePKI(filepath.Join(t.TempDir(), "tls"))
	if err != nil {
		t.Fatal(err)
	}
	opt.Seed = 1
	gw, err := refbackend.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	u, err := gw.Start("127.0.0.1:0", pki)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	c, err := insurance.New(insurance.Config{
		BaseURL: u, Username: refbackend.DemoInsuranceUser, Password: refbackend.DemoInsurancePassword,
		CAFile: pki.Path(refbackend.CAFile), CertFile: pki.Path(refbackend.KioskCertFile), KeyFile: pki.Path(refbackend.KioskKeyFile),
		StaffName: refbackend.DemoInsuranceStaffName, StaffID: refbackend.DemoInsuranceStaffID,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return serveControlRoutes(t, insurance.Routes(c))
}

func serveControlRoutes(t *testing.T, routes func(*http.ServeMux)) string {
	t.Helper()
	sock := filepath.Join(kiosktest.ShortTempDir(t), "c.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	routes(mux)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestInsuranceCheck(t *testing.T) {
	t.Parallel()
	sock := insuranceDaemon(t, refbackend.Options{})
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"valid card", []string{"--id", "001083012345", "--name", "Nguyễn Văn An", "--dob", "15/03/1983"}, []string{
			"Kết quả:", "000 (ok)", "Thẻ BHYT còn giá trị sử dụng", "Mã thẻ:", "DN4010183012345",
			"01/01/2026 – 31/12/2026", "01999 Bệnh viện Đa khoa Mẫu Hà Nội", "Đủ 5 năm liên tục từ:  01/01/2018"}},
		{"new card", []string{"--id", "048048000789", "--name", "Lê Văn Thành", "--dob", "20/11/1948"}, []string{
			"004 (new_card)", "Mã thẻ mới:", "HT2484848000789"}},
		{"expired", []string{"--id", "079307004321", "--name", "Trần Thị Mai", "--dob", "02/09/2007"}, []string{
			"010 (expired)", "hết hạn", "01/01/2025 – 31/12/2025"}},
		{"not found", []string{"--id", "001099012345", "--name", "Người Thử", "--dob", "1999"}, []string{"050 (not_found)"}},
		{"staff refused", []string{"--id", "001083012345", "--name", "Nguyễn Văn An", "--dob", "15/03/1983", "--staff-name", "Trần Văn Khác", "--staff-id", "001190099999"}, []string{
			"054 (staff_problem)", "kỹ thuật viên", `Chưa kiểm tra được:  in phiếu ghi "CHƯA KIỂM TRA BHYT"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(append([]string{"insurance", "check", "--socket", sock}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.name != "new card" && strings.Contains(out, "Mã thẻ mới") {
				t.Errorf("a new card line without a new card:\n%s", out)
			}
		})
	}
}

func TestInsuranceCheckJSON(t *testing.T) {
	t.Parallel()
	sock := insuranceDaemon(t, refbackend.Options{})
	code, out, errOut := run("insurance", "check", "--socket", sock, "--json", "--id", "GD4797975054321", "--name", "Phạm Thị Hồng", "--dob", "1975")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	want := map[string]any{
		"result_code": "003", "card_number": "GD4797975054321", "valid_from": "2025-01-01", "valid_to": "2025-12-31",
		"registered_facility": "79999 Bệnh viện Mẫu Quận 1", "five_year_date": "2024-01-01", "new_card_number": "GD4797975012345",
		"kind": "new_card", "retryable": false,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != 11 || got["message"] == "" || got["message_en"] == "" {
		t.Errorf("keys: %v", got)
	}
	if !strings.Contains(out, "Bệnh viện") {
		t.Errorf("JSON escapes Vietnamese:\n%s", out)
	}
}

// TestInsuranceCheckOffline: the gateway down still gives an answer, which
// says to print the ticket unchecked.
func TestInsuranceCheckOffline(t *testing.T) {
	t.Parallel()
	sock := insuranceDaemon(t, refbackend.Options{ErrorRate: 1})
	code, out, errOut := run("insurance", "check", "--socket", sock, "--id", "001083012345", "--name", "Nguyễn Văn An", "--dob", "15/03/1983")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{"Kết quả:", "— (offline)", "Chưa kết nối được cổng giám định BHYT", "CHƯA KIỂM TRA BHYT"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "Mã thẻ:") {
		t.Errorf("card data without an answer:\n%s", out)
	}
}

func TestInsuranceCheckUsage(t *testing.T) {
	t.Parallel()
	notConfigured := serveControlRoutes(t, insurance.Routes(nil))
	ok := []string{"--id", "001083012345", "--name", "Nguyễn Văn An", "--dob", "15/03/1983"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no flags", nil, 2, "missing --id, --name, --dob"},
		{"no dob", []string{"--id", "001083012345", "--name", "An"}, 2, "missing --dob"},
		{"short id", []string{"--id", "00108301234", "--name", "An", "--dob", "1983"}, 2, "12-digit ID number or a 15-character BHYT code"},
		{"bad date", []string{"--id", "001083012345", "--name", "An", "--dob", "1983-15-03"}, 2, "DD/MM/YYYY or YYYY"},
		{"staff name alone", append(ok, "--staff-name", "Hoa"), 2, "--staff-name and --staff-id go together"},
		{"bad staff id", append(ok, "--staff-name", "Hoa", "--staff-id", "12"), 2, "staff ID must be a 12-digit"},
		{"stray argument", append(ok, "x"), 2, `unexpected argument "x"`},
		{"no daemon", append(ok, "--socket", filepath.Join(t.TempDir(), "none.sock")), 1, "kioskd is not answering"},
		{"not configured", append(ok, "--socket", notConfigured), 1, "insurance checks are not configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(append([]string{"insurance", "check"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d stderr %q; want %d and %q", code, errOut, tc.code, tc.want)
			}
			if out != "" {
				t.Errorf("stdout %q on failure", out)
			}
			if strings.Contains(errOut, "001083012345") && tc.name != "stray argument" {
				t.Errorf("stderr repeats the ID number: %q", errOut)
			}
		})
	}
}

// TestSimBackendInsuranceData runs `kioskctl sim backend` with its own
// insurance data file and gateway login, and checks a card against it.
func TestSimBackendInsuranceData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "ins.json")
	os.WriteFile(data, []byte(`{"staff":[{"cccdCb":"001190054321","hoTenCb":"Lê Thị Mẫu"}],
		"TE1797922012345":{"maKetQua":"130","ghiChu":"Trẻ em chưa có thẻ"}}`), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	var out backendOutput
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"sim", "backend", "--listen", "127.0.0.1:0", "--tls-dir", filepath.Join(dir, "tls"),
			"--insurance-data", data, "--insurance-user", "bv-79", "--insurance-password", "pw-79"}, &out, &errOut)
	}()
	for deadline := time.Now().Add(10 * time.Second); out.field("kiosk key") == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed; stderr %q", errOut.String())
		}
	}
	c, err := insurance.New(insurance.Config{BaseURL: out.field("backend"), Username: "bv-79", Password: "pw-79",
		CAFile: out.field("ca"), CertFile: out.field("kiosk certificate"), KeyFile: out.field("kiosk key"),
		StaffName: "Lê Thị Mẫu", StaffID: "001190054321"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Check(context.Background(), insurance.Query{CardNumber: "TE1797922012345", Name: "Bé Thử", DOB: "01/06/2022"})
	if err != nil || r.Code != "130" || r.Kind != insurance.KindChildNoCard {
		t.Errorf("check: %+v %v", r, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}

	os.WriteFile(data, []byte(`{"001083012345": "000"}`), 0o600)
	if code, _, errOut := run("sim", "backend", "--listen", "127.0.0.1:0", "--tls-dir", filepath.Join(dir, "tls"), "--insurance-data", data); code != 1 || !strings.Contains(errOut, "insurance data") {
		t.Errorf("bad data file: exit %d %q", code, errOut)
	}
}
