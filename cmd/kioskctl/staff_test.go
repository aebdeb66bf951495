package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/kiosk/staff"
)

func TestStaffHashPINFromPipe(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if err := staffHashPIN(context.Background(), strings.NewReader("2468\n"), nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	enc := strings.TrimSpace(out.String())
	if ok, err := staff.VerifyPIN(enc, "2468"); !ok || err != nil {
		t.Errorf("printed hash %q does not verify: %v %v", enc, ok, err)
	}
	if ok, _ := staff.VerifyPIN(enc, "2469"); ok {
		t.Error("printed hash verifies another PIN")
	}
	if strings.Contains(out.String()+errOut.String(), "2468") {
		t.Error("the PIN was printed")
	}
}

func TestStaffHashPINRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "\n", "12\n", "12345678901\n", "abcd\n"} {
		var out, errOut bytes.Buffer
		if err := staffHashPIN(context.Background(), strings.NewReader(in), nil, &out, &errOut); err == nil || out.Len() != 0 {
			t.Errorf("stdin %q: err %v, out %q", in, err, out.String())
		}
	}
	if code, _, _ := run("staff", "hash-pin", "1234"); code != 2 {
		t.Errorf("PIN as an argument: exit %d, want 2", code)
	}
}
