package session

import (
	"context"
	"encoding/hex"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vnkiosk/kiosk/devices/barcode"
	"github.com/vnkiosk/kiosk/devices/barcode/qrpayload"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/kiosk/staff"
)

func TestTechnicianMode(t *testing.T) {
	t.Parallel()
	hash, err := staff.HashPIN("2468")
	if err != nil {
		t.Fatal(err)
	}
	var provisioned atomic.Value
	r := newRig(t, func(o *Options) {
		o.TechnicianPIN = hash
		o.Tech = TechTools{
			SelfTest: func(context.Context) ([]TechCheck, error) {
				return []TechCheck{{Name: "printer", Status: "ok", Reason: "ready"}, {Name: "disk", Status: "warn", Reason: "400 MB free", Hint: "clean up"}}, nil
			},
			Devices: func() []TechDevice {
				return []TechDevice{{Name: "printer", State: "ok", Attached: "tcp://127.0.0.1:9100"}}
			},
			Logs: func() []string { return []string{`{"msg":"kioskd ready"}`} },
			Provision: func(_ context.Context, p *qrpayload.Provisioning) (Text, error) {
				provisioned.Store(p.SiteCode)
				return Text{VI: "Đã đăng ký.", EN: "Enrolled."}, nil
			},
			PrinterWidthMM: 80, PrinterDots: 576,
		}
	})
	r.do(t, IntentTechnicianLogin, nil)
	st := r.waitScreen(t, ScreenStaffPIN)
	if st.PIN.Name != techName {
		t.Fatalf("technician PIN screen: %+v", st.PIN)
	}
	r.do(t, IntentEnterPIN, map[string]string{"pin": "1111"})
	if st := r.state(t); st.PIN == nil || st.PIN.Error == nil {
		t.Fatalf("wrong technician PIN accepted: %s", r.m.State())
	}
	r.do(t, IntentEnterPIN, map[string]string{"pin": "2468"})
	st = r.waitScreen(t, ScreenTechnician)
	if st.Tech == nil || st.Tech.Panel != "selftest" || st.Staff == nil {
		t.Fatalf("technician screen: %s", r.m.State())
	}
	r.do(t, IntentRunSelftest, nil)
	st = r.waitFor(t, "self-test results", func(st State) bool { return st.Tech != nil && !st.Tech.Running && len(st.Tech.Checks) == 2 })
	if st.Tech.Checks[1].Status != "warn" {
		t.Errorf("checks: %+v", st.Tech.Checks)
	}
	r.do(t, IntentTechPanel, map[string]string{"panel": "devices"})
	if st := r.state(t); len(st.Tech.Devices) != 1 {
		t.Errorf("devices panel: %+v", st.Tech)
	}
	r.do(t, IntentTechPanel, map[string]string{"panel": "logs"})
	if st := r.state(t); len(st.Tech.Logs) != 1 {
		t.Errorf("logs panel: %+v", st.Tech)
	}
	if err := r.try(IntentTechPanel, map[string]string{"panel": "shell"}); intentCode(err) != "bad_data" {
		t.Errorf("unknown panel: %v", err)
	}
	r.do(t, IntentPrintTest, nil)
	r.print.mu.Lock()
	printed := len(r.print.pages)
	r.print.mu.Unlock()
	if printed != 1 || !r.state(t).Tech.OK {
		t.Errorf("test print: %d pages, %s", printed, r.m.State())
	}
	// A card on the reader is a technician's test, not a visit.
	r.card.events <- pcsc.Event{Kind: pcsc.CardInserted}
	u, _ := url.Parse("https://kiosk-gw.example.gov.vn")
	fp := make([]byte, 32)
	payload, err := qrpayload.FormatProvisioning(qrpayload.Provisioning{ServerURL: u, Token: "one-time-token-0123456789abcdef", SiteCode: "79001", CAFingerprint: [32]byte(fp)})
	if err != nil {
		t.Fatalf("%v (fingerprint %s)", err, hex.EncodeToString(fp))
	}
	r.codes.ch <- barcode.Scan{Payload: payload, Kind: qrpayload.KindProvisioning, Content: qrpayload.Parse(payload)}
	st = r.waitFor(t, "enrolled", func(st State) bool {
		return st.Tech != nil && st.Tech.Panel == "provision" && !st.Tech.Running && st.Tech.Message != nil
	})
	if !st.Tech.OK || provisioned.Load() != "79001" || st.Screen != ScreenTechnician {
		t.Errorf("provisioning: %s", r.m.State())
	}
	if strings.Contains(string(r.m.State()), "one-time-token-0123456789abcdef") {
		t.Error("the enrolment token reached the screen")
	}
	r.do(t, IntentStaffLogout, nil)
	st = r.waitScreen(t, ScreenGoodbye)
	if st.Tech != nil || st.Staff != nil {
		t.Errorf("technician mode outlived the logout: %s", r.m.State())
	}
}

func TestTechnicianPINLockout(t *testing.T) {
	t.Parallel()
	hash, err := staff.HashPIN("2468")
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, func(o *Options) { o.TechnicianPIN = hash })
	if err := r.try(IntentTechnicianLogin, nil); err != nil {
		t.Fatal(err)
	}
	for range staff.MaxFailures {
		r.do(t, IntentEnterPIN, map[string]string{"pin": "0000"})
	}
	r.do(t, IntentEnterPIN, map[string]string{"pin": "2468"})
	if st := r.state(t); st.Screen != ScreenStaffPIN || st.PIN.Error == nil || !strings.Contains(st.PIN.Error.EN, "Too many") {
		t.Errorf("the right PIN during the lockout: %s", r.m.State())
	}
	// Without a configured PIN there is no PIN path.
	r2 := newRig(t, nil)
	if err := r2.try(IntentTechnicianLogin, nil); intentCode(err) != "invalid" {
		t.Errorf("technician login without a PIN configured: %v", err)
	}
}
