package session

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"time"

	"golang.org/x/image/draw"

	"github.com/vnkiosk/kiosk/devices/barcode/qrpayload"
	"github.com/vnkiosk/kiosk/devices/printer/layout"
	"github.com/vnkiosk/kiosk/devices/scanner"
	"github.com/vnkiosk/kiosk/kiosk/backend"
	"github.com/vnkiosk/kiosk/kiosk/filing"
	"github.com/vnkiosk/kiosk/kiosk/outbox"
	"github.com/vnkiosk/kiosk/kiosk/submission"
	"github.com/vnkiosk/kiosk/kiosk/vietqr"
)

// The background work of a session: scanning, paying, filing, looking up. Each
// runs in its own goroutine under the session's context and reports back to
// the loop, which drops the report when its session has ended.

func (m *Machine) scanPage(data json.RawMessage) error {
	var d struct {
		Attachment int `json:"attachment"`
	}
	if err := decode(data, &d); err != nil {
		return err
	}
	s := m.sess
	if d.Attachment < 0 || d.Attachment >= len(s.atts) {
		return invalid("no attachment %d", d.Attachment)
	}
	if m.opt.Scanner == nil {
		s.scanErr = &Text{VI: "Ki-ốt này không có máy quét tài liệu. Vui lòng nộp giấy tờ tại quầy.", EN: "This kiosk has no document scanner. Please hand in your documents at the counter."}
		return nil
	}
	s.busy, s.scanning, s.scanPct, s.scanErr = true, d.Attachment, 0, nil
	a := s.atts[d.Attachment]
	go func() {
		doc, err := m.opt.Scanner.Scan(s.ctx, scanner.ScanRequest{Pages: 1, DPI: 150}, func(p scanner.Progress) {
			pct := int(p.Overall() * 100)
			select {
			case m.post <- func() {
				if m.sess == s && s.scanning >= 0 && pct > s.scanPct {
					s.scanPct = pct
				}
			}:
			default:
			}
		})
		var thumbs []string
		if err == nil {
			for _, p := range doc.Pages {
				t, terr := thumbnail(p.JPEG)
				if terr != nil {
					err = terr
					break
				}
				thumbs = append(thumbs, t)
			}
		}
		m.run(func() {
			if m.sess != s {
				doc.Wipe()
				return
			}
			s.busy, s.scanning = false, -1
			m.touch()
			if err != nil {
				doc.Wipe()
				msg := scanner.Explain(err)
				s.scanErr = &Text{VI: msg.VI, EN: msg.EN}
				m.playCue("error")
				return
			}
			a.scans = append(a.scans, doc)
			a.thumbs = append(a.thumbs, thumbs...)
		})
	}()
	return nil
}

// thumbnail shrinks a scanned page to a preview the screen can show in a
// state frame without sending the full page.
func thumbnail(jpg []byte) (string, error) {
	src, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		return "", errors.New("scanned page: not a JPEG the kiosk can preview")
	}
	const width = 240
	b := src.Bounds()
	h := max(1, b.Dy()*width/max(1, b.Dx()))
	dst := image.NewRGBA(image.Rect(0, 0, width, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 70}); err != nil {
		return "", err
	}
	return "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(out.Bytes()), nil
}

func (m *Machine) removePage(data json.RawMessage) error {
	var d struct {
		Attachment int `json:"attachment"`
		Page       int `json:"page"`
	}
	if err := decode(data, &d); err != nil {
		return err
	}
	s := m.sess
	if d.Attachment < 0 || d.Attachment >= len(s.atts) {
		return invalid("no attachment %d", d.Attachment)
	}
	a := s.atts[d.Attachment]
	if d.Page < 0 || d.Page >= a.pages() {
		return invalid("attachment %d has no page %d", d.Attachment, d.Page)
	}
	// Each scan_page scan holds one page, so page i is scan i.
	n := 0
	for i, sc := range a.scans {
		if k := len(sc.Pages); d.Page < n+k {
			sc.Wipe()
			a.scans = append(a.scans[:i], a.scans[i+1:]...)
			a.thumbs = append(a.thumbs[:n], a.thumbs[n+k:]...)
			break
		}
		n += len(sc.Pages)
	}
	return nil
}

func (m *Machine) attachmentsDone() error {
	for i, a := range m.sess.atts {
		if a.pages() < a.minPages {
			return invalid("attachment %d (%s) needs %d page(s), has %d", i, a.name, a.minPages, a.pages())
		}
	}
	m.screen = ScreenConsent
	return nil
}

// allocate gives the filing its dossier code once, the first time it is
// needed (payment reference or submission).
func (m *Machine) allocate() error {
	s := m.sess
	if s.maHoSo != "" {
		return nil
	}
	if m.opt.Sequence == nil {
		return errors.New("no dossier numbering configured")
	}
	now := m.opt.Now()
	n, err := m.opt.Sequence.Next(now)
	if err != nil {
		return err
	}
	id, err := filing.NewMaHoSo(m.opt.Site.Code, now, n)
	if err != nil {
		return err
	}
	s.maHoSo = id
	return nil
}

// startPayment shows a dynamic VietQR for the procedure's fee and waits for
// the backend to confirm it.
func (m *Machine) startPayment() {
	s := m.sess
	m.screen = ScreenPayment
	s.payState, s.payQR, s.payPayload = "unavailable", "", ""
	p := m.opt.Payment
	if p.BIN == "" || m.opt.Backend == nil {
		m.log.Warn("payment impossible", "why", "no payment account or backend configured")
		return
	}
	if err := m.allocate(); err != nil {
		m.log.Error("dossier code", "err", err)
		return
	}
	payload, err := vietqr.Encode(vietqr.Payment{BIN: p.BIN, Account: p.Account, Service: vietqr.ServiceToAccount,
		Amount: s.proc.Fee.AmountVND, Purpose: vietqr.Transliterate(s.proc.Fee.Purpose), BillNumber: s.maHoSo})
	if err != nil {
		m.log.Error("VietQR payload", "err", err)
		return
	}
	png, err := vietqr.PNG(payload, 400)
	if err != nil {
		m.log.Error("VietQR image", "err", err)
		return
	}
	s.payPayload, s.payQR = payload, "data:image/png;base64,"+base64.StdEncoding.EncodeToString(png)
	s.payExpires = m.opt.Now().Add(m.opt.PaymentTimeout)
	s.payState, s.busy = "waiting", true
	if d := m.opt.Display; d != nil && d.ShowsPaymentQR() {
		if err := d.ShowPaymentQR(payload, s.proc.Fee.AmountVND, s.payExpires); err != nil {
			m.log.Warn("customer display", "err", err)
		}
	}
	ref := s.maHoSo
	ctx, cancel := context.WithDeadline(s.ctx, s.payExpires)
	go func() {
		defer cancel()
		pay, err := m.opt.Backend.WaitPayment(ctx, ref)
		m.run(func() { m.onPaymentDone(s, pay, err) })
	}()
}

func (m *Machine) onPaymentDone(s *session, pay backend.Payment, err error) {
	if m.sess != s || m.screen != ScreenPayment {
		return
	}
	s.busy = false
	m.touch()
	if d := m.opt.Display; d != nil && d.ShowsPaymentQR() {
		_ = d.ShowIdle()
	}
	switch {
	case err == nil && pay.Status == backend.PaymentPaid:
		s.payState, s.paidAt = "paid", pay.PaidAt
		if s.paidAt.IsZero() {
			s.paidAt = m.opt.Now()
		}
		m.playCue("printed")
		m.startSubmit()
	case err == nil || errors.Is(err, context.DeadlineExceeded):
		s.payState = "expired"
		m.playCue("error")
	default:
		m.log.Warn("payment confirmation", "err", err)
		s.payState = "unavailable"
		m.playCue("error")
	}
}

// startSubmit builds the filing and hands it to the outbox; the citizen is
// told "filed" only once it is durable.
func (m *Machine) startSubmit() {
	s := m.sess
	m.screen = ScreenSubmitting
	if m.opt.Filings == nil {
		m.fail("no_backend", Text{VI: "Chưa nộp được hồ sơ", EN: "The application could not be filed"},
			Text{VI: "Ki-ốt này chưa được kết nối với hệ thống tiếp nhận hồ sơ. Vui lòng nộp tại quầy.", EN: "This kiosk is not connected to the filing system. Please file at the counter."},
			nil, "restart", "help")
		return
	}
	if err := m.allocate(); err != nil {
		m.log.Error("dossier code", "err", err)
		m.fail("numbering", Text{VI: "Chưa nộp được hồ sơ", EN: "The application could not be filed"},
			Text{VI: "Ki-ốt không cấp được mã hồ sơ. Vui lòng gọi nhân viên.", EN: "The kiosk could not number the application. Please call staff."},
			m.startSubmit, "retry", "help")
		return
	}
	now := m.opt.Now()
	f, atts, err := m.buildFiling(now)
	if err != nil {
		m.log.Error("build filing", "err", err)
		m.fail("filing_invalid", Text{VI: "Chưa nộp được hồ sơ", EN: "The application could not be filed"},
			Text{VI: "Hồ sơ chưa đủ thông tin hợp lệ. Vui lòng làm lại hoặc gọi nhân viên.", EN: "The application is incomplete. Please start again or call staff."},
			nil, "restart", "help")
		return
	}
	raw, err := filing.Encode(f)
	if err != nil {
		m.log.Error("encode filing", "err", err)
		m.fail("filing_invalid", Text{VI: "Chưa nộp được hồ sơ", EN: "The application could not be filed"},
			Text{VI: "Hồ sơ chưa đủ thông tin hợp lệ. Vui lòng làm lại hoặc gọi nhân viên.", EN: "The application is incomplete. Please start again or call staff."},
			nil, "restart", "help")
		return
	}
	s.busy = true
	go func() {
		// The outbox write is short and must not be abandoned half way when the
		// card is pulled: the session's end does not cancel it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 30*time.Second)
		defer cancel()
		rec, err := m.opt.Filings.Submit(ctx, raw, atts)
		clear(raw)
		for i := range atts {
			clear(atts[i].Data)
		}
		m.run(func() { m.onSubmitted(s, f, rec, err) })
	}()
}

// buildFiling assembles the filing from the session, and the attachments' PDFs.
func (m *Machine) buildFiling(now time.Time) (*filing.Filing, []submission.Attachment, error) {
	s := m.sess
	d := s.doc
	f := &filing.Filing{
		MaHoSo: s.maHoSo, ProcedureCode: s.proc.Code, ProcedureName: s.proc.NameVI,
		Applicant: filing.Applicant{IDNumber: str(d.IDNumber), FullName: str(d.FullName),
			DateOfBirth: isoDate(str(d.DateOfBirth)), Sex: str(d.Sex), Phone: s.form["phone"]},
		Form:      map[string]string{},
		Fee:       filing.Fee{AmountVND: s.proc.Fee.AmountVND},
		Consent:   filing.Consent{TextVersion: Consent.Version, AcceptedAt: s.consentAt},
		KioskID:   m.opt.KioskID,
		CreatedAt: now,
	}
	for k, v := range s.form {
		f.Form[k] = v
	}
	if s.proc.Fee.AmountVND > 0 {
		paid := s.paidAt
		f.Fee.Reference, f.Fee.PaidAt = s.maHoSo, &paid
	}
	if v := d.Verification; v != nil {
		f.Evidence = filing.Evidence{Access: v.Access, PassiveState: v.Passive.State, SODSHA256: v.Passive.SODHash,
			ChipAuth: v.ChipAuth.State, ActiveAuth: v.ActiveAuth.State}
	}
	var atts []submission.Attachment
	for _, a := range s.atts {
		doc, err := scanner.Join(now, a.scans...)
		if err != nil {
			return nil, nil, err
		}
		sum := sha256Hex(doc.PDF)
		f.Attachments = append(f.Attachments, filing.Attachment{Name: a.name, ContentType: "application/pdf", SHA256: sum, Pages: len(doc.Pages)})
		atts = append(atts, submission.Attachment{Name: a.name, ContentType: "application/pdf", Data: doc.PDF})
		for i := range doc.Pages {
			clear(doc.Pages[i].JPEG)
		}
	}
	return f, atts, nil
}

func (m *Machine) onSubmitted(s *session, f *filing.Filing, rec submission.Receipt, err error) {
	if m.sess != s {
		if err == nil {
			// Filed, but the citizen left first: the receipt still prints, so the
			// dossier code is not lost.
			m.printReceipts(nil, f, rec)
		}
		return
	}
	s.busy = false
	m.touch()
	if err != nil {
		m.log.Error("filing not queued", "err", err)
		msg := Text{VI: "Ki-ốt không lưu được hồ sơ. Hồ sơ chưa được nộp; vui lòng thử lại hoặc gọi nhân viên.",
			EN: "The kiosk could not store the application. It has not been filed; please try again or call staff."}
		var refused *outbox.RefusedError
		if errors.As(err, &refused) {
			msg = Text{VI: refused.Vietnamese(), EN: refused.English()}
		}
		m.fail("filing_not_stored", Text{VI: "Chưa nộp được hồ sơ", EN: "The application could not be filed"}, msg,
			m.startSubmit, "retry", "help")
		m.playCue("error")
		return
	}
	m.log.Info("filing queued", "outbox_id", rec.OutboxID, "procedure", f.ProcedureCode)
	s.done = &DoneView{MaHoSo: rec.MaHoSo, Procedure: Text{VI: s.proc.NameVI, EN: s.proc.NameEN}, Days: s.proc.ProcessingDays, Print: "none"}
	m.screen = ScreenDone
	m.printReceipts(s, f, rec)
}

// printReceipts prints the dossier receipt, and the fee's e-receipt when a fee
// was paid. s is nil when the session has already ended.
func (m *Machine) printReceipts(s *session, f *filing.Filing, rec submission.Receipt) {
	qr, err := qrpayload.FormatReceipt(qrpayload.Receipt{DossierCode: rec.MaHoSo, AgencyCode: m.opt.Site.Code, Received: f.CreatedAt.In(filing.Vietnam)})
	if err != nil {
		m.log.Error("receipt QR", "err", err)
		qr = rec.MaHoSo
	}
	pages := []layout.Page{}
	dr, err := layout.DossierReceipt{Site: m.opt.Site.Name, Code: rec.MaHoSo, QR: qr, Procedure: f.ProcedureName,
		ReceivedAt: f.CreatedAt, Appointment: workingDaysAfter(f.CreatedAt, s.procDays(f))}.Page()
	if err == nil {
		pages = append(pages, dr)
	}
	if f.Fee.AmountVND > 0 && f.Fee.PaidAt != nil {
		if fr, err := (layout.FeeReceipt{Site: m.opt.Site.Name, Description: f.ProcedureName, Amount: f.Fee.AmountVND,
			Reference: f.Fee.Reference, PaidAt: *f.Fee.PaidAt}).Page(); err == nil {
			pages = append(pages, fr)
		}
	}
	m.printPages(s, pages, Text{VI: "Không in được phiếu. Vui lòng ghi lại mã hồ sơ trên màn hình hoặc gọi nhân viên.",
		EN: "The receipt could not be printed. Please note the application code on the screen or call staff."})
}

// printPages queues pages at the printer and follows them for the screen; s is
// nil when nobody is left to tell. failed is what the screen says if the
// printer refuses them.
func (m *Machine) printPages(s *session, pages []layout.Page, failed Text) {
	if m.opt.Printer == nil {
		if s != nil {
			s.printState = "none"
		}
		return
	}
	if s != nil {
		s.printJobs = map[string]bool{}
		s.printState = "printing"
	}
	for _, p := range pages {
		id, err := m.opt.Printer.Submit(context.Background(), p)
		if err != nil {
			m.log.Warn("not printed", "err", err)
			if s != nil {
				s.printState, s.printErr = "failed", &failed
			}
			return
		}
		if s != nil {
			s.printJobs[id] = true
		}
	}
}

func (s *session) procDays(f *filing.Filing) int {
	if s != nil && s.proc != nil {
		return s.proc.ProcessingDays
	}
	return 0
}

// workingDaysAfter is the appointment day: n working days (Monday to Friday)
// after t. Public holidays are the agency's to add when it confirms.
func workingDaysAfter(t time.Time, n int) time.Time {
	if n <= 0 {
		return time.Time{}
	}
	d := t.In(filing.Vietnam)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return d
}

func (m *Machine) lookupDossier(data json.RawMessage) error {
	var d struct {
		MaHoSo string `json:"ma_ho_so"`
	}
	if len(bytes.TrimSpace(data)) > 0 && string(bytes.TrimSpace(data)) != "{}" {
		if err := decode(data, &d); err != nil {
			return err
		}
	}
	if m.sess == nil {
		m.startSession(m.ctx)
	}
	if d.MaHoSo == "" {
		m.screen = ScreenDossierLookup
		m.sess.dossier, m.sess.keyError = nil, nil
		return nil
	}
	code, err := cleanText(d.MaHoSo, 64)
	if err != nil {
		return err
	}
	if _, err := qrpayload.FormatReceipt(qrpayload.Receipt{DossierCode: code, AgencyCode: "x", Received: m.opt.Now()}); err != nil {
		return invalid("%s is not a dossier code", quote(code))
	}
	m.startLookup(code)
	return nil
}

// startLookup asks the backend for a dossier's status.
func (m *Machine) startLookup(code string) {
	s := m.sess
	m.screen = ScreenDossierLookup
	s.keyError = nil
	if m.opt.Backend == nil {
		s.keyError = &Text{VI: "Ki-ốt này chưa kết nối hệ thống tra cứu. Vui lòng hỏi tại quầy.", EN: "This kiosk cannot look up applications. Please ask at the counter."}
		return
	}
	s.busy = true
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
		defer cancel()
		st, err := m.opt.Backend.Status(ctx, code)
		m.run(func() {
			if m.sess != s {
				return
			}
			s.busy = false
			m.touch()
			switch {
			case err == nil:
				s.dossier = &DossierView{MaHoSo: code, Found: true, StatusCode: st.TrangThaiHoSo,
					Status: Text{VI: st.Label, EN: statusEN(st.TrangThaiHoSo)}}
				m.screen = ScreenDossierStatus
			case errors.Is(err, backend.ErrNotFound):
				s.dossier = &DossierView{MaHoSo: code, Found: false}
				m.screen = ScreenDossierStatus
			default:
				m.log.Warn("dossier lookup", "err", err)
				s.keyError = &Text{VI: "Chưa tra cứu được: không kết nối được hệ thống. Vui lòng thử lại sau.", EN: "The lookup failed: the filing system cannot be reached. Please try again later."}
				m.playCue("error")
			}
		})
	}()
}

// statusEN are the English labels of TrangThaiHoSo 1–10.
func statusEN(code int) string {
	labels := [...]string{"", "Newly received", "Received", "Refused", "Being processed", "More documents needed",
		"Awaiting fee payment", "Withdrawn by the citizen", "Processing stopped", "Decided", "Result handed over"}
	if code > 0 && code < len(labels) {
		return labels[code]
	}
	return "Unknown status"
}
