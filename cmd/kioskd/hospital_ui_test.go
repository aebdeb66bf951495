package main

import (
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/cardqr"
	"github.com/vnkiosk/kiosk/devices/idcard/virtualcard"
)

// cardQR is the QR printed on a sample citizen's card.
func cardQR(t *testing.T, sample string) string {
	t.Helper()
	d, err := virtualcard.Sample(sample)
	if err != nil {
		t.Fatal(err)
	}
	dob, err := time.Parse(time.DateOnly, *d.DateOfBirth)
	if err != nil {
		t.Fatal(err)
	}
	return cardqr.Format(&cardqr.Card{IDNumber: *d.IDNumber, FullName: *d.FullName, DateOfBirth: dob, Sex: *d.Sex, Address: "Hà Nội"})
}

// touches counts the taps a page has seen.
const countTouches = `window.__touches = 0; document.addEventListener("touchend", () => window.__touches++, true); true`

// TestTouchscreenHospital runs the hospital kiosk in Chromium: a first-time
// patient places the card, holds its QR to the scanner (so no typing), and has a
// printed queue ticket with the insurance checked in at most three touches;
// then a nurse logs in with her card and PIN, checks another patient's card by
// its QR, sees the new card number the gateway answers, and logs out.
func TestTouchscreenHospital(t *testing.T) {
	t.Parallel()
	k := startDemoKiosk(t, "--demo-site", "hospital")
	p := openKiosk(t, k, 1080, 1920)
	if err := p.Eval(countTouches, nil); err != nil {
		t.Fatal(err)
	}

	k.demo(t, "insert_card", "nguyen-van-an")
	p.screen("card_key")
	k.demo(t, "scan_code", cardQR(t, "nguyen-van-an"))
	p.screen("identity")
	p.tap(`[data-intent="confirm_identity"]`)
	p.screen("services")
	p.waitFor("the insurance check", `!!document.querySelector('[data-insurance="ok"]')`)
	p.Screenshot("services-insured")
	p.tap(`[data-intent="choose_department"][data-code="KKB"]`)
	p.screen("ticket")
	p.waitFor("the printed ticket", `!!document.querySelector('[data-print="printed"]')`)
	var touches int
	if err := p.Eval(`window.__touches`, &touches); err != nil {
		t.Fatal(err)
	}
	if touches > 3 {
		t.Errorf("card to printed ticket took %d touches, the budget is 3", touches)
	}
	if h := p.html(); !strings.Contains(h, "K001") || !strings.Contains(h, "Đã kiểm tra BHYT") {
		t.Errorf("ticket screen: %.1500s", h)
	}
	p.tap(`[data-intent="finish"]`)
	p.screen("goodbye")
	p.noPersonalData("Nguyễn Văn An", "001083012345", "DN4010183012345")
	k.demo(t, "remove_card", "")
	p.screen("idle")

	// Staff mode: the nurse's own card and PIN.
	k.demo(t, "insert_card", "nguyen-thi-hoa")
	p.screen("card_key")
	tapDigits(p, "012345")
	p.tap(`[data-intent="enter_can"]`)
	p.screen("staff_pin")
	tapDigits(p, "1357")
	p.tap(`[data-intent="enter_pin"]`)
	p.screen("staff_home")
	k.demo(t, "remove_card", "")
	k.demo(t, "scan_code", cardQR(t, "le-van-thanh"))
	p.screen("insurance")
	p.waitFor("the check's result", `!!document.querySelector('[data-new-card]')`)
	p.Screenshot("insurance-new-card")
	if h := p.html(); !strings.Contains(h, "Lê Văn Thành") {
		t.Error("the staff screen shows whose card it is")
	}
	p.tap(`[data-intent="next_patient"]`)
	p.screen("staff_home")
	p.noPersonalData("Lê Văn Thành", "079203001234")
	p.tap(`[data-intent="staff_logout"]`)
	p.screen("goodbye")
	if errs := p.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}
