package session

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/cardqr"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/kiosk/audit"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/insurance"
	"github.com/vnkiosk/kiosk/kiosk/queue"
	"github.com/vnkiosk/kiosk/kiosk/staff"
)

// The hospital kiosk: a patient's card gives an insurance (BHYT) check and a
// queue ticket; a staff member's card and PIN open staff mode, where each
// patient's card (or its QR) gets the full check. Every check is audited with
// a keyed hash of the patient's ID number; nothing else of the patient is kept.

// InsuranceChecker is the social-security gateway (*insurance.Client).
type InsuranceChecker interface {
	Check(ctx context.Context, q insurance.Query) (insurance.Result, error)
}

// TicketQueue numbers queue tickets (*queue.Queue).
type TicketQueue interface {
	Next(ctx context.Context, department string, now time.Time) (queue.Ticket, error)
}

// AuditLog records staff logins and insurance checks (*audit.Log).
type AuditLog interface {
	Record(ctx context.Context, e audit.Entry) error
}

// StaffDirectory knows the health staff who may log in (*staff.Directory).
type StaffDirectory interface {
	Name(idNumber string) (string, bool)
	Login(idNumber, pin string, now time.Time) (*staff.Member, error)
}

// selfService names the checker in the audit log when a patient checks their
// own card: the kiosk's configured staff identity made the gateway call.
const selfService = "ki-ốt tự phục vụ"

// staffMode is a logged-in staff member; it outlives the patients' sessions.
type staffMode struct {
	member   staff.Member
	deadline time.Time
}

// hospital reports a hospital kiosk.
func (m *Machine) hospital() bool { return m.opt.Site.Kind == config.SiteHospital }

// afterRead routes a verified card on a hospital kiosk: a staff member's card
// to the PIN, a patient's card in staff mode straight to the check.
func (m *Machine) afterRead(s *session) bool {
	if !m.hospital() {
		return false
	}
	id := str(s.doc.IDNumber)
	if m.staff == nil && m.opt.Staff != nil {
		if name, ok := m.opt.Staff.Name(id); ok {
			// The staff member's own data is not needed beyond their ID number.
			s.pinFor, s.pinName = id, name
			s.doc.Wipe()
			s.doc, s.photoURL = nil, ""
			m.screen = ScreenStaffPIN
			return true
		}
	}
	if m.staff != nil {
		m.startInsurance(insurance.Query{CardNumber: id, Name: str(s.doc.FullName), DOB: str(s.doc.DateOfBirth)})
		m.screen = ScreenInsurance
		return true
	}
	return false
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (m *Machine) enterPIN(data json.RawMessage) error {
	var d struct {
		PIN string `json:"pin"`
	}
	if err := decode(data, &d); err != nil {
		return err
	}
	s := m.sess
	if s.techPIN {
		if e := m.checkTechPIN(d.PIN); e != nil {
			m.auditTech(false)
			s.pinErr = e
			m.playCue("error")
			return nil
		}
		m.auditTech(true)
		m.enterTechnician(staff.Member{Name: techName, Role: staff.Technician})
		return nil
	}
	if s.pinFor == "" || m.opt.Staff == nil {
		return invalid("no staff card was read")
	}
	now := m.opt.Now()
	member, err := m.opt.Staff.Login(s.pinFor, d.PIN, now)
	entry := audit.Entry{At: now, StaffName: s.pinName, StaffIDNumber: s.pinFor, Action: audit.ActionLogin, Result: "ok"}
	if err != nil {
		var se *staff.Error
		if !errors.As(err, &se) {
			return err
		}
		entry.Action, entry.Result = audit.ActionLoginFailed, se.Code
		m.audit(entry)
		s.pinErr = &Text{VI: se.VI, EN: se.EN}
		m.playCue("error")
		return nil
	}
	m.audit(entry)
	m.log.Info("staff logged in", "role", string(member.Role))
	if member.Role == staff.Technician {
		m.enterTechnician(*member)
		return nil
	}
	m.staff = &staffMode{member: *member}
	// The staff card's session ends quietly; staff mode carries on without it.
	m.endSession("")
	m.screen = ScreenStaffHome
	m.touch()
	return nil
}

// audit records an entry; a failure is logged, never shown to the patient.
func (m *Machine) audit(e audit.Entry) {
	if m.opt.Audit == nil {
		return
	}
	if err := m.opt.Audit.Record(context.Background(), e); err != nil {
		m.log.Error("audit log", "err", err, "action", e.Action)
	}
}

func (m *Machine) staffLogout() error {
	if m.staff == nil {
		return invalid("no staff member is logged in")
	}
	m.logoutStaff("logout")
	return nil
}

func (m *Machine) logoutStaff(why string) {
	st := m.staff
	m.staff = nil
	m.leaveTechnician()
	m.audit(audit.Entry{At: m.opt.Now(), StaffName: st.member.Name, StaffIDNumber: st.member.IDNumber, Action: audit.ActionLogout, Result: why})
	m.log.Info("staff logged out", "why", why)
	if m.sess != nil {
		m.endSession("staff_" + why)
	} else {
		m.screen = ScreenGoodbye
		m.goodbye = time.NewTimer(m.opt.GoodbyeFor)
		m.lang = m.opt.Language
		m.callStaff(false)
	}
}

func (m *Machine) nextPatient() error {
	if m.sess != nil {
		m.endSession("checked")
	}
	return nil
}

// startInsurance runs a check in the background; its result comes back to the
// loop, is audited, and is shown.
func (m *Machine) startInsurance(q insurance.Query) {
	s := m.sess
	s.insQuery, s.ins = q, nil
	if m.opt.Insurance == nil {
		s.insState = "not_configured"
		return
	}
	s.insState = "checking"
	staffName, staffID := selfService, ""
	if m.staff != nil {
		q.StaffName, q.StaffID = m.staff.member.Name, m.staff.member.IDNumber
		staffName, staffID = m.staff.member.Name, m.staff.member.IDNumber
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 20*time.Second)
		defer cancel()
		r, err := m.opt.Insurance.Check(ctx, q)
		m.run(func() {
			code := r.Code
			if err != nil {
				code = "invalid_query"
			} else if code == "" {
				code = string(r.Kind)
			}
			m.audit(audit.Entry{At: m.opt.Now(), StaffName: staffName, StaffIDNumber: staffID, Action: audit.ActionInsuranceCheck,
				PatientIDNumber: q.CardNumber, Result: code})
			kind := string(r.Kind)
			if err != nil {
				kind = "invalid_query"
			}
			m.insurance.WithLabelValues(kind).Inc()
			if m.sess != s {
				return
			}
			if err != nil {
				m.log.Warn("insurance query not sent", "err", err)
				r = insurance.Result{Kind: insurance.KindWrongData, Message: insurance.Message{
					VI: "Thông tin trên thẻ không đủ để tra cứu BHYT. Vui lòng đến quầy tiếp đón.",
					EN: "The card's details are not enough to look up the insurance. Please go to the reception desk."}}
			}
			s.ins, s.insState = &r, "done"
			if s.pendingDept != "" {
				m.issueTicket(s.pendingDept)
			}
		})
	}()
}

func (m *Machine) retryInsurance() error {
	s := m.sess
	if s.insState == "checking" {
		return invalid("the check is still running")
	}
	if s.insQuery.CardNumber == "" {
		return invalid("no card to check")
	}
	m.startInsurance(s.insQuery)
	return nil
}

// lookupByCardQR checks the insurance of the card whose QR staff scanned: the
// QR carries ID number, name and birth date, all the gateway asks for.
func (m *Machine) lookupByCardQR(c *cardqr.Card) {
	m.startSession(m.ctx)
	m.screen = ScreenInsurance
	m.startInsurance(insurance.Query{CardNumber: c.IDNumber, Name: c.FullName, DOB: c.DateOfBirth.Format("02/01/2006")})
	m.sess.insName = c.FullName
}

func (m *Machine) chooseDepartment(data json.RawMessage) error {
	var d struct {
		Code string `json:"code"`
	}
	if err := decode(data, &d); err != nil {
		return err
	}
	if _, ok := m.department(d.Code); !ok {
		return invalid("no department %s at this kiosk", quote(d.Code))
	}
	s := m.sess
	if s.insState == "checking" {
		// The ticket says whether the card was checked: it waits for the check,
		// which the gateway client bounds.
		s.pendingDept, s.busy = d.Code, true
		return nil
	}
	m.issueTicket(d.Code)
	return nil
}

func (m *Machine) department(code string) (config.Department, bool) {
	for _, d := range m.opt.Departments {
		if d.Code == code {
			return d, true
		}
	}
	return config.Department{}, false
}

// issueTicket numbers and prints the ticket, and shows it.
func (m *Machine) issueTicket(code string) {
	s := m.sess
	s.pendingDept, s.busy = "", false
	dep, _ := m.department(code)
	if m.opt.Queue == nil {
		m.fail("no_queue", Text{VI: "Chưa lấy được số", EN: "No ticket"},
			Text{VI: "Ki-ốt này chưa cấp số thứ tự. Vui lòng đến quầy tiếp đón.", EN: "This kiosk does not give queue numbers. Please go to the reception desk."},
			nil, "restart", "help")
		return
	}
	now := m.opt.Now()
	t, err := m.opt.Queue.Next(context.Background(), code, now)
	if err != nil {
		m.log.Error("queue number", "err", err)
		m.fail("queue", Text{VI: "Chưa lấy được số", EN: "No ticket"},
			Text{VI: "Ki-ốt không cấp được số thứ tự. Vui lòng thử lại hoặc gọi nhân viên.", EN: "The kiosk could not give a number. Please try again or call staff."},
			func() { m.issueTicket(code) }, "retry", "help")
		return
	}
	tv := &TicketView{Number: t.Label(dep.Prefix), Department: Text{VI: dep.NameVI, EN: dep.NameEN}, IssuedAt: t.IssuedAt.In(layout.VietnamTime).Format("15:04")}
	if tv.Department.EN == "" {
		tv.Department.EN = dep.NameVI
	}
	page := layout.QueueTicket{Site: m.opt.Site.Name, Number: tv.Number, Department: dep.NameVI, IssuedAt: t.IssuedAt}
	checked := false
	switch r := s.ins; {
	case r != nil && r.Kind == insurance.KindOK:
		tv.Insurance, checked = "checked", true
	case r == nil || r.Retryable():
		tv.Insurance = "not_checked"
	default:
		tv.Insurance = "problem"
		tv.Note = &Text{VI: r.Message.VI, EN: r.Message.EN}
		page.InsuranceNote = ticketNote(r.Kind)
	}
	page.InsuranceChecked = &checked
	s.ticket = tv
	m.screen = ScreenTicket
	m.log.Info("queue ticket", "department", code, "insurance", tv.Insurance)
	m.tickets.WithLabelValues(tv.Insurance).Inc()
	m.printPages(s, []layout.Page{mustPage(page.Page())}, Text{
		VI: "Không in được phiếu. Vui lòng nhớ số " + tv.Number + " hoặc gọi nhân viên.",
		EN: "The ticket could not be printed. Please remember number " + tv.Number + " or call staff."})
}

func mustPage(p layout.Page, err error) layout.Page {
	if err != nil {
		panic(err) // the ticket always has its number
	}
	return p
}

// ticketNote is the short line a ticket prints for a card found wanting.
func ticketNote(k insurance.Kind) string {
	switch k {
	case insurance.KindExpired:
		return "BHYT HẾT HẠN – ĐẾN QUẦY"
	case insurance.KindNewCard:
		return "BHYT: DÙNG MÃ THẺ MỚI"
	}
	return "BHYT: CẦN KIỂM TRA TẠI QUẦY"
}

// insuranceView projects a check for the screen; full adds the staff-only
// details.
func (s *session) insuranceView(full bool) *InsuranceView {
	v := &InsuranceView{State: s.insState}
	if s.insState == "not_configured" {
		v.Message = Text{VI: "Ki-ốt chưa kết nối cổng giám định BHYT.", EN: "This kiosk is not connected to the insurance gateway."}
	}
	r := s.ins
	if r == nil {
		return v
	}
	v.Kind, v.Code, v.OK, v.Retryable = string(r.Kind), r.Code, r.Kind == insurance.KindOK, r.Retryable()
	v.Message = Text{VI: r.Message.VI, EN: r.Message.EN}
	v.ValidTo = displayDate(r.ValidTo)
	if r.BenefitLevel != nil {
		v.BenefitLevel = &Text{VI: r.BenefitLevel.VI, EN: r.BenefitLevel.EN}
	}
	if !full {
		return v
	}
	v.FullName = s.insName
	if s.doc != nil {
		v.FullName = str(s.doc.FullName)
	}
	v.CardNumber, v.ValidFrom = r.CardNumber, displayDate(r.ValidFrom)
	v.RegisteredFacility, v.FiveYearDate, v.NewCardNumber = r.RegisteredFacility.String(), displayDate(r.FiveYearDate), r.NewCardNumber
	for _, vis := range r.Visits {
		f := vis.FacilityName
		if f == "" {
			f = vis.FacilityCode
		}
		v.Visits = append(v.Visits, VisitView{Date: displayDate(vis.Date), Facility: f, Diagnosis: vis.Diagnosis})
	}
	return v
}
