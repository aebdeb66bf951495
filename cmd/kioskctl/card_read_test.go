package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/pcsc/pcsctest"
	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
	"github.com/vnkiosk/kiosk/devices/idcard/virtualcard"
)

// TestCardRead runs `kioskctl card read` against the virtual card through pcscd
// and checks the JSON contract of issue 3 and the one-sentence failures.
func TestCardRead(t *testing.T) {
	s := pcsctest.AcquireAny(t)
	pcsctest.WaitEmpty(t, s.Reader)
	dir := filepath.Join(t.TempDir(), "pki")
	pki, err := virtualcard.EnsurePKI(dir, testpki.ECDSABrainpool)
	if err != nil {
		t.Fatal(err)
	}
	card, err := virtualcard.New(virtualcard.Options{PKI: pki, AAKey: virtualcard.AAECDSA})
	if err != nil {
		t.Fatal(err)
	}
	slot, err := virtualcard.Serve(context.Background(), s.Addr, card)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { slot.Remove(); _ = slot.Wait() }()

	code, out, errOut := run("card", "read", "--reader", s.Reader, "--can", card.CAN(), "--csca", virtualcard.TrustDir(dir), "--json", "--wait", "5s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"id_number", "document_number", "full_name", "date_of_birth", "sex", "nationality", "ethnicity",
		"religion", "place_of_origin", "place_of_residence", "identifying_features", "date_of_issue", "date_of_expiry",
		"father_name", "mother_name", "spouse_name", "old_id_number", "mrz", "photo", "verification", "stats"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	p := card.Profile()
	if doc["full_name"] != *p.FullName || doc["date_of_birth"] != *p.DateOfBirth {
		t.Errorf("name/date %v %v", doc["full_name"], doc["date_of_birth"])
	}
	v := doc["verification"].(map[string]any)
	passive := v["passive"].(map[string]any)
	if v["access"] != "PACE-CAN" || passive["state"] != "valid" || passive["data_groups"].(map[string]any)["DG13"] != "ok" {
		t.Errorf("verification %v", v)
	}
	if photo := doc["photo"].(map[string]any); photo["mime"] != "image/jpeg" || len(photo["base64"].(string)) < 20000 {
		t.Errorf("photo %v bytes", len(photo["base64"].(string)))
	}
	stats := doc["stats"].(map[string]any)
	for _, k := range []string{"apdus", "bytes_in", "bytes_out", "duration_ms"} {
		if _, ok := stats[k]; !ok {
			t.Errorf("stats lacks %q", k)
		}
	}

	code, out, _ = run("card", "read", "--reader", s.Reader, "--mrz", strings.Join(p.MRZ, "\n"), "--no-photo")
	if code != 0 || !strings.Contains(out, "PACE-MRZ") || !strings.Contains(out, *p.FullName) {
		t.Errorf("text output (exit %d):\n%s", code, out)
	}

	wrong := "000000"
	if card.CAN() == wrong {
		wrong = "111111"
	}
	code, _, errOut = run("card", "read", "--reader", s.Reader, "--can", wrong)
	if code != 1 || !strings.Contains(errOut, "The card refused the access key") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("wrong CAN: exit %d, %q", code, errOut)
	}
}

func TestCardReadUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"card", "read"},
		{"card", "read", "--can", "123456", "--qr", "x"},
		{"card", "read", "--doc", "C1"},
		{"card", "read", "--can", "12345"},
		{"card", "read", "--can", "123456", "--extended", "maybe"},
	} {
		if code, _, errOut := run(args...); code == 0 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
