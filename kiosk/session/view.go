package session

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
)

// view projects the loop's state onto what the screen is sent.
func (m *Machine) view() State {
	st := State{Screen: m.screen, Lang: m.lang, Mode: string(m.opt.Site.Kind), Say: "say." + string(m.screen), Help: m.help, Cue: m.cue}
	if st.Mode == "" {
		st.Mode = "ward"
	}
	if m.staff != nil {
		st.Staff = &StaffView{Name: m.staff.member.Name, Role: string(m.staff.member.Role)}
	}
	if m.tech != nil {
		st.Tech = m.techView()
	}
	s := m.sess
	if s == nil {
		if m.staff != nil && !m.staff.deadline.IsZero() {
			st.Timeout = &Timeout{WarnAt: m.staff.deadline.Add(-m.opt.WarnBefore).UnixMilli(), EndsAt: m.staff.deadline.UnixMilli()}
		}
		return st
	}
	st.Session, st.Busy = s.id, s.busy
	if !s.deadline.IsZero() && !s.busy {
		st.Timeout = &Timeout{WarnAt: s.deadline.Add(-m.opt.WarnBefore).UnixMilli(), EndsAt: s.deadline.UnixMilli()}
	}
	steps, stepOf := m.steps()
	switch m.screen {
	case ScreenCardKey:
		st.CardKey = &CardKeyView{Digits: 6, Error: s.keyError}
	case ScreenReading:
		r := s.reading
		st.Reading = &r
	case ScreenIdentity:
		st.Identity = identityView(s)
	case ScreenServices:
		if m.hospital() {
			for _, d := range m.opt.Departments {
				dv := DepartmentView{Code: d.Code, Name: Text{VI: d.NameVI, EN: d.NameEN}}
				if dv.Name.EN == "" {
					dv.Name.EN = d.NameVI
				}
				st.Departments = append(st.Departments, dv)
			}
			st.Insurance = s.insuranceView(false)
			st.Say = "say.departments"
			break
		}
		for _, p := range m.opt.Procedures {
			sv := ServiceView{Code: p.Code, Name: Text{VI: p.NameVI, EN: p.NameEN}, FeeVND: p.Fee.AmountVND, Days: p.ProcessingDays}
			if p.Fee.AmountVND > 0 {
				sv.Fee = layout.FormatVND(p.Fee.AmountVND)
			}
			st.Services = append(st.Services, sv)
		}
	case ScreenForm:
		fv := &FormView{Code: s.proc.Code, Procedure: Text{VI: s.proc.NameVI, EN: s.proc.NameEN}, Step: stepOf(ScreenForm), Steps: steps}
		for _, f := range s.proc.Fields {
			v := FieldView{Key: f.Key, Label: Text{VI: f.LabelVI, EN: f.LabelEN}, Type: string(f.Type), Value: s.form[f.Key],
				Locked: s.locked(f), Required: f.Required, MaxLength: f.MaxLength, Options: f.Options}
			if v.Locked && (f.Chip == "id_number" || f.Chip == "old_id_number") {
				// The citizen checks it, the filing carries it whole; the
				// screen, seen over a shoulder, does not need all of it.
				v.Value = maskID(v.Value)
			}
			if e, ok := s.fieldErrs[f.Key]; ok {
				v.Error = &e
			}
			fv.Fields = append(fv.Fields, v)
		}
		st.Form = fv
	case ScreenAttachments:
		av := &AttachmentsView{Scanning: s.scanning, Progress: s.scanPct, Error: s.scanErr, Step: stepOf(ScreenAttachments), Steps: steps}
		for _, a := range s.atts {
			av.Items = append(av.Items, AttachmentView{Name: a.name, MinPages: a.minPages, Pages: append([]string{}, a.thumbs...)})
		}
		st.Attachments = av
	case ScreenConsent:
		c := Consent
		c.Step, c.Steps = stepOf(ScreenConsent), steps
		st.Consent = &c
	case ScreenPayment:
		st.Payment = &PaymentView{AmountVND: s.proc.Fee.AmountVND, Amount: layout.FormatVND(s.proc.Fee.AmountVND),
			Purpose: s.proc.Fee.Purpose, Reference: s.maHoSo, Payee: m.opt.Payment.AccountName, QR: s.payQR,
			ExpiresAt: s.payExpires.UnixMilli(), State: s.payState, Step: stepOf(ScreenPayment), Steps: steps}
		if s.payState == "waiting" {
			// The payment's own deadline rules this screen, not inactivity.
			st.Timeout = nil
		}
	case ScreenDone:
		d := *s.done
		d.Print, d.PrintError = s.printState, s.printErr
		st.Done = &d
	case ScreenDossierLookup:
		st.CardKey = nil
		if s.keyError != nil {
			st.Error = &ErrorView{Code: "lookup", Message: *s.keyError}
		}
	case ScreenDossierStatus:
		d := *s.dossier
		st.Dossier = &d
	case ScreenTicket:
		t := *s.ticket
		t.Print, t.PrintError = s.printState, s.printErr
		st.Ticket = &t
	case ScreenStaffPIN:
		st.PIN = &PINView{Name: s.pinName, MinDigits: 4, MaxDigits: 8, Error: s.pinErr}
	case ScreenInsurance:
		st.Insurance = s.insuranceView(true)
	case ScreenError:
		e := *s.err
		st.Error = &e
		st.Say = "say.error"
	}
	return st
}

// steps numbers the screens of the filing flow the chosen procedure has.
func (m *Machine) steps() (int, func(Screen) int) {
	s := m.sess
	flow := []Screen{ScreenForm}
	if s != nil && len(s.atts) > 0 {
		flow = append(flow, ScreenAttachments)
	}
	flow = append(flow, ScreenConsent)
	if s != nil && s.proc != nil && s.proc.Fee.AmountVND > 0 {
		flow = append(flow, ScreenPayment)
	}
	return len(flow), func(sc Screen) int {
		for i, f := range flow {
			if f == sc {
				return i + 1
			}
		}
		return 0
	}
}

func identityView(s *session) *IdentityView {
	d := s.doc
	v := &IdentityView{FullName: str(d.FullName), IDMasked: maskID(str(d.IDNumber)), DateOfBirth: displayDate(str(d.DateOfBirth)),
		Sex: str(d.Sex), Photo: s.photoURL}
	if ver := d.Verification; ver != nil {
		passiveOK := ver.Passive.State == "valid"
		chipOK := ver.ChipAuth.State == idcard.AuthOK || ver.ActiveAuth.State == idcard.AuthOK
		v.Checks = []CheckView{
			{Name: "access", State: ver.Access, OK: true, Label: Text{VI: "Đã mở chip an toàn (" + ver.Access + ")", EN: "Chip opened securely (" + ver.Access + ")"}},
			{Name: "passive", State: ver.Passive.State, OK: passiveOK, Label: passiveLabel(ver.Passive.State)},
			{Name: "chip", State: ver.ChipAuth.State, OK: chipOK, Label: chipLabel(chipOK)},
		}
		v.Trusted = passiveOK && chipOK
	}
	return v
}

func passiveLabel(state string) Text {
	switch state {
	case "valid":
		return Text{VI: "Dữ liệu do Bộ Công an ký, không bị sửa", EN: "Data signed by the issuer, unaltered"}
	case "untrusted_chain", "unknown_csca":
		return Text{VI: "Chưa xác minh được chữ ký của cơ quan cấp", EN: "Issuer signature could not be checked"}
	case "absent":
		return Text{VI: "Thẻ không có chữ ký dữ liệu", EN: "The card has no data signature"}
	}
	return Text{VI: "Chữ ký dữ liệu không hợp lệ", EN: "The data signature is not valid"}
}

func chipLabel(ok bool) Text {
	if ok {
		return Text{VI: "Chip là chip thật", EN: "The chip is genuine"}
	}
	return Text{VI: "Chưa xác thực được chip", EN: "The chip could not be authenticated"}
}

// maskID shows the first 4 and last 4 digits of an ID number: enough for the
// citizen to recognise it, too little for someone looking over a shoulder.
func maskID(id string) string {
	if len(id) < 9 {
		return "****"
	}
	keep := 4 // of a 12-digit number, 4 and 4 show
	if len(id) < 12 {
		keep = 2 // of a 9-digit old one, 2 and 2
	}
	b := []byte(id)
	for i := keep; i < len(b)-keep; i++ {
		b[i] = '*'
	}
	return string(b)
}

// isoDate turns the card's dd/MM/yyyy into YYYY-MM-DD.
func isoDate(s string) string {
	if t, err := time.Parse("02/01/2006", s); err == nil {
		return t.Format(time.DateOnly)
	}
	return s
}

// displayDate writes an ISO date the Vietnamese way, dd/MM/yyyy.
func displayDate(s string) string {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Format("02/01/2006")
	}
	return s
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
