package session

import (
	"context"
	"encoding/json"
	"time"

	"github.com/vnkiosk/kiosk/devices/barcode/qrpayload"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/kiosk/audit"
	"github.com/vnkiosk/kiosk/kiosk/staff"
)

// Technician mode: the same self-test as `kioskctl selftest`, device health,
// the latest (redacted) log lines, a test print and re-provisioning by
// scanning a provisioning QR — on the touchscreen, for the technician standing
// at the kiosk with no laptop. It is entered with the technician PIN from the
// idle screen, or with a staff card whose member has the technician role.

// TechTools are what technician mode drives; each may be nil.
type TechTools struct {
	SelfTest  func(ctx context.Context) ([]TechCheck, error)
	Devices   func() []TechDevice
	Logs      func() []string
	Provision func(ctx context.Context, p *qrpayload.Provisioning) (Text, error)
	// PrinterWidth is the paper width and head in dots, for the test print.
	PrinterWidthMM, PrinterDots int
}

// techName is who the audit log names for a PIN-only technician login.
const techName = "Kỹ thuật viên"

// techMode is technician mode's own state; personal data never enters it.
type techMode struct {
	panel   string
	running bool
	checks  []TechCheck
	message *Text
	ok      bool
	tick    *time.Ticker // refreshes the devices and logs panels
}

func (m *Machine) technicianLogin() error {
	if m.opt.TechnicianPIN == "" {
		return invalid("no technician PIN is configured; a technician logs in with their staff card")
	}
	s := m.startSession(m.ctx)
	s.techPIN, s.pinName = true, techName
	m.screen = ScreenStaffPIN
	return nil
}

// checkTechPIN verifies the technician PIN, locking it for LockoutFor after
// staff.MaxFailures wrong ones, as staff PINs are.
func (m *Machine) checkTechPIN(pin string) *Text {
	now := m.opt.Now()
	if now.Before(m.techLockUntil) {
		return &Text{VI: "Đã nhập sai quá nhiều lần. Vui lòng thử lại sau " + m.techLockUntil.In(layout.VietnamTime).Format("15:04") + ".",
			EN: "Too many wrong PINs. Try again after " + m.techLockUntil.In(layout.VietnamTime).Format("15:04") + "."}
	}
	ok, err := staff.VerifyPIN(m.opt.TechnicianPIN, pin)
	if err == nil && ok {
		m.techFails = 0
		return nil
	}
	m.techFails++
	if m.techFails >= staff.MaxFailures {
		m.techFails, m.techLockUntil = 0, now.Add(staff.LockoutFor)
	}
	return &Text{VI: staff.ErrWrongPIN.VI, EN: staff.ErrWrongPIN.EN}
}

// enterTechnician opens technician mode for member.
func (m *Machine) enterTechnician(member staff.Member) {
	m.staff = &staffMode{member: member}
	m.endSession("")
	m.tech = &techMode{panel: "selftest", tick: time.NewTicker(2 * time.Second)}
	m.screen = ScreenTechnician
	m.log.Info("technician mode opened")
	m.touch()
}

// leaveTechnician closes technician mode.
func (m *Machine) leaveTechnician() {
	if m.tech == nil {
		return
	}
	m.tech.tick.Stop()
	m.tech = nil
}

func (m *Machine) techPanel(data json.RawMessage) error {
	var d struct {
		Panel string `json:"panel"`
	}
	if err := decode(data, &d); err != nil {
		return err
	}
	switch d.Panel {
	case "selftest", "devices", "logs", "provision":
		m.tech.panel, m.tech.message = d.Panel, nil
		return nil
	}
	return &IntentError{Code: "bad_data", Message: "panel must be selftest, devices, logs or provision"}
}

func (m *Machine) runSelftest() error {
	t := m.tech
	if t.running {
		return invalid("a self-test or test print is running")
	}
	if m.opt.Tech.SelfTest == nil {
		t.message, t.ok = &Text{VI: "Ki-ốt này không có tự kiểm tra.", EN: "This kiosk has no self-test."}, false
		return nil
	}
	t.running, t.panel, t.message = true, "selftest", nil
	go func() {
		ctx, cancel := context.WithTimeout(m.ctx, 2*time.Minute)
		defer cancel()
		checks, err := m.opt.Tech.SelfTest(ctx)
		m.run(func() {
			if m.tech != t {
				return
			}
			t.running, t.checks = false, checks
			if err != nil {
				t.message, t.ok = &Text{VI: "Tự kiểm tra không chạy được: " + err.Error(), EN: "The self-test did not run: " + err.Error()}, false
			}
			m.touch()
		})
	}()
	return nil
}

func (m *Machine) printTest() error {
	t := m.tech
	if m.opt.Printer == nil {
		t.message, t.ok = &Text{VI: "Ki-ốt này không có máy in.", EN: "This kiosk has no printer."}, false
		return nil
	}
	page, err := layout.TestTicket{WidthMM: m.opt.Tech.PrinterWidthMM, Dots: m.opt.Tech.PrinterDots, At: m.opt.Now(), QR: "https://dichvucong.gov.vn"}.Page()
	if err == nil {
		_, err = m.opt.Printer.Submit(context.Background(), page)
	}
	if err != nil {
		t.message, t.ok = &Text{VI: "Không gửi được phiếu thử: " + err.Error(), EN: "The test ticket was not sent: " + err.Error()}, false
		return nil
	}
	t.message, t.ok = &Text{VI: "Đã gửi phiếu in thử tới máy in.", EN: "The test ticket went to the printer."}, true
	return nil
}

// onProvisioningCode enrols the kiosk with a scanned provisioning QR.
func (m *Machine) onProvisioningCode(p *qrpayload.Provisioning) {
	t := m.tech
	t.panel = "provision"
	if m.opt.Tech.Provision == nil {
		t.message, t.ok = &Text{VI: "Ki-ốt này không tự đăng ký được.", EN: "This kiosk cannot enrol itself."}, false
		return
	}
	if t.running {
		return
	}
	t.running, t.message = true, nil
	go func() {
		ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
		defer cancel()
		msg, err := m.opt.Tech.Provision(ctx, p)
		m.run(func() {
			if m.tech != t {
				return
			}
			t.running = false
			if err != nil {
				t.message, t.ok = &Text{VI: "Không đăng ký được: " + err.Error(), EN: "Enrolment failed: " + err.Error()}, false
				m.playCue("error")
			} else {
				t.message, t.ok = &msg, true
				m.playCue("printed")
			}
			m.touch()
		})
	}()
}

// techView is what technician mode shows.
func (m *Machine) techView() *TechView {
	t := m.tech
	v := &TechView{Panel: t.panel, Running: t.running, Checks: t.checks, Message: t.message, OK: t.ok}
	switch t.panel {
	case "devices":
		if m.opt.Tech.Devices != nil {
			v.Devices = m.opt.Tech.Devices()
		}
	case "logs":
		if m.opt.Tech.Logs != nil {
			lines := m.opt.Tech.Logs()
			v.Logs = lines[max(0, len(lines)-100):]
		}
	}
	return v
}

// auditTech records a technician login attempt.
func (m *Machine) auditTech(ok bool) {
	e := audit.Entry{At: m.opt.Now(), StaffName: techName, Action: audit.ActionLogin, Result: "ok"}
	if !ok {
		e.Action, e.Result = audit.ActionLoginFailed, "wrong_pin"
	}
	m.audit(e)
}
