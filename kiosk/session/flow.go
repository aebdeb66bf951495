package session

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vnkiosk/kiosk/devices/barcode/qrpayload"
	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/devices/printer"
	"github.com/vnkiosk/kiosk/kiosk/insurance"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
)

// Consent is the text a citizen accepts before anything is filed; its version
// is recorded with the filing, so a change of wording gets a new version.
var Consent = ConsentView{
	Version: "2026-01",
	Text: Text{
		VI: "Tôi đồng ý để ki-ốt này và cơ quan tiếp nhận hồ sơ xử lý thông tin cá nhân của tôi đọc từ thẻ căn cước " +
			"(họ tên, số định danh, ngày sinh, giới tính, nơi thường trú, ảnh chân dung) cùng các thông tin và giấy tờ tôi khai, " +
			"chỉ để giải quyết thủ tục hành chính tôi đã chọn, theo Luật Bảo vệ dữ liệu cá nhân số 91/2025/QH15. " +
			"Ki-ốt không lưu ảnh chân dung sau phiên làm việc; hồ sơ được mã hoá và xoá khỏi ki-ốt ngay khi cơ quan tiếp nhận đã nhận. " +
			"Tôi có thể rút lại sự đồng ý bằng cách bấm Không đồng ý; khi đó hồ sơ không được gửi.",
		EN: "I agree that this kiosk and the receiving agency process my personal data read from my ID card " +
			"(name, personal identification number, date of birth, sex, permanent residence, portrait) and the information and documents I provide, " +
			"only to handle the procedure I chose, under the Personal Data Protection Law 91/2025/QH15. " +
			"The kiosk keeps no portrait after the session; the filing is encrypted and deleted from the kiosk as soon as the agency has received it. " +
			"I can withhold consent by pressing Decline; then nothing is filed.",
	},
}

func (m *Machine) setLanguage(data json.RawMessage) error {
	var d struct {
		Lang string `json:"lang"`
	}
	if err := decode(data, &d); err != nil {
		return err
	}
	if d.Lang != "vi" && d.Lang != "en" {
		return &IntentError{Code: "bad_data", Message: "lang must be vi or en"}
	}
	m.lang = d.Lang
	return nil
}

func (m *Machine) setHelp(data json.RawMessage, on bool) error {
	if err := noData(func(*Machine) error { return nil })(m, data); err != nil {
		return err
	}
	m.callStaff(on)
	return nil
}

// callStaff raises or lowers the help request, from the screen or the
// cabinet's button.
func (m *Machine) callStaff(on bool) {
	if m.help == on {
		return
	}
	m.help = on
	if on {
		m.helps.Inc()
		m.log.Info("citizen called staff", "screen", string(m.screen))
	}
	if m.opt.OnHelp != nil {
		m.opt.OnHelp(on)
	}
}

// startSession begins a visit.
func (m *Machine) startSession(ctx context.Context) *session {
	m.endSession("")
	c, cancel := context.WithCancel(ctx)
	m.sess = &session{id: newID(), ctx: c, cancel: cancel, scanning: -1}
	if m.goodbye != nil {
		m.goodbye.Stop()
		m.goodbye = nil
	}
	m.touch()
	return m.sess
}

// endSession wipes the session and shows the goodbye screen (idle when there
// was none). reason "" ends silently, for a session replaced by a new one.
func (m *Machine) endSession(reason string) {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	if m.sess == nil {
		return
	}
	lookup := m.sess.doc == nil && (m.screen == ScreenDossierLookup || m.screen == ScreenDossierStatus)
	m.sess.wipe()
	m.sess = nil
	if m.opt.Display != nil && m.opt.Display.ShowsPaymentQR() {
		if err := m.opt.Display.ShowIdle(); err != nil {
			m.log.Warn("customer display", "err", err)
		}
	}
	if reason == "" {
		return
	}
	m.sessions.WithLabelValues(reason).Inc()
	m.log.Info("session ended", "end", reason)
	if m.staff != nil && reason != "shutdown" {
		// A patient's session inside staff mode: back to waiting for the next.
		m.screen = ScreenStaffHome
		m.touch()
		return
	}
	m.lang = m.opt.Language
	m.callStaff(false)
	if lookup || reason == "shutdown" {
		m.screen = ScreenIdle
		return
	}
	m.screen = ScreenGoodbye
	m.goodbye = time.NewTimer(m.opt.GoodbyeFor)
}

func (m *Machine) finishReason() string {
	switch m.screen {
	case ScreenDone:
		return "filed"
	case ScreenTicket:
		return "ticket"
	}
	return "looked_up"
}

func (m *Machine) onTimeout(context.Context) {
	if m.sess == nil {
		if m.staff != nil {
			m.logoutStaff("timeout")
		}
		return
	}
	if m.sess.busy {
		m.touch() // never end a session under a running read or filing
		return
	}
	m.endSession("timeout")
}

func (m *Machine) onCardEvent(ctx context.Context, ev pcsc.Event) {
	switch ev.Kind {
	case pcsc.CardInserted:
		m.card = true
	case pcsc.CardRemoved, pcsc.ReaderRemoved:
		m.card = false
	}
	if m.tech != nil {
		return // a technician tests the reader with cards; that is not a visit
	}
	switch ev.Kind {
	case pcsc.CardInserted:
		switch m.screen {
		case ScreenIdle, ScreenGoodbye, ScreenDossierLookup, ScreenDossierStatus, ScreenStaffHome:
			m.startSession(ctx).fromCard = true
			m.screen = ScreenCardKey
			m.playCue("card")
		}
	case pcsc.CardRemoved, pcsc.ReaderRemoved:
		switch {
		case m.sess != nil && m.sess.fromCard:
			m.endSession("card_removed")
		case m.sess == nil && m.screen == ScreenGoodbye && m.goodbye == nil:
			// The goodbye screen waited for the card to be taken.
			m.screen = ScreenIdle
		}
	}
}

func (m *Machine) onCode(ctx context.Context, sc barcodeScan) {
	c := sc.Content
	switch {
	case m.tech != nil:
		if c.Kind == qrpayload.KindProvisioning && c.Provisioning != nil {
			m.onProvisioningCode(c.Provisioning)
		} else if c.Kind == qrpayload.KindProvisioning {
			m.tech.panel, m.tech.ok = "provision", false
			m.tech.message = &Text{VI: "Mã QR cấp phép không hợp lệ: " + c.Err.Error(), EN: "The provisioning QR is not valid: " + c.Err.Error()}
		}
	case m.screen == ScreenStaffHome && m.sess == nil && c.Card != nil:
		m.lookupByCardQR(c.Card)
		m.touch()
	case m.screen == ScreenCardKey && c.CAN != "":
		// The QR printed on the card carries the ID number, whose last six digits
		// are the CAN: no typing needed.
		m.startRead(c.CAN)
	case c.Kind == qrpayload.KindReceipt && c.Receipt != nil &&
		(m.screen == ScreenIdle || m.screen == ScreenGoodbye || m.screen == ScreenDossierLookup || m.screen == ScreenDossierStatus):
		if m.sess == nil {
			m.startSession(ctx)
		}
		m.startLookup(c.Receipt.DossierCode)
	case m.screen == ScreenDossierLookup:
		m.sess.dossier = nil
		m.sess.keyError = &Text{VI: "Mã này không phải mã QR trên phiếu hẹn của ki-ốt.", EN: "This code is not the QR of a kiosk receipt."}
		m.playCue("error")
	}
}

func (m *Machine) onPrinterEvent(ev printer.Event) {
	if ev.JobID == "" && (ev.Kind == printer.EventStatus || ev.Kind == printer.EventDisconnected || ev.Kind == printer.EventConnected) {
		// The printer's condition, to say why a receipt waits.
		m.printerNotice = ev.Notice
		if ev.Kind == printer.EventDisconnected && ev.Notice.IsZero() {
			m.printerNotice = printer.NoticeUnreachable
		}
	}
	s := m.sess
	if s != nil && len(s.printJobs) > 0 && s.printState == "printing" && ev.JobID == "" &&
		(ev.Kind == printer.EventDisconnected || ev.Kind == printer.EventStatus && !ev.Status.CanPrint()) {
		// The printer stopped while our receipt waits in its queue.
		m.receiptWaits(s)
		return
	}
	if s == nil || !s.printJobs[ev.JobID] {
		return
	}
	switch ev.Kind {
	case printer.EventJobQueued:
		if ev.Notice.IsZero() {
			return
		}
		m.receiptWaits(s)
	case printer.EventJobPrinted:
		delete(s.printJobs, ev.JobID)
		if len(s.printJobs) == 0 {
			s.printState, s.printErr = "printed", nil
			m.playCue("printed")
		}
	case printer.EventJobStalled, printer.EventJobDropped:
		s.printState = "failed"
		n := ev.Notice
		if n.IsZero() {
			n = printer.NoticeStalled
		}
		s.printErr = &Text{VI: n.VI, EN: n.EN}
		m.playCue("error")
	case printer.EventJobRetry:
		s.printState = "printing"
	}
}

// receiptWaits tells the citizen their receipt is queued behind a printer
// that cannot print now: it prints later, from the encrypted spool, but they
// should not wait for it.
func (m *Machine) receiptWaits(s *session) {
	why := m.printerNotice
	s.printState = "failed"
	s.printErr = &Text{
		VI: join(why.VI, "Phiếu sẽ được in khi máy in sẵn sàng; vui lòng ghi lại mã hồ sơ trên màn hình."),
		EN: join(why.EN, "The receipt will print when the printer is ready; please note the application code on the screen."),
	}
	m.playCue("error")
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

func (m *Machine) enterCAN(data json.RawMessage) error {
	var d struct {
		CAN string `json:"can"`
	}
	if err := decode(data, &d); err != nil {
		return err
	}
	if _, err := idcard.KeyFromCAN(d.CAN); err != nil {
		return invalid("%v", err)
	}
	m.startRead(d.CAN)
	return nil
}

// startRead reads the chip in the background; progress and the result come
// back to the loop.
func (m *Machine) startRead(can string) {
	s := m.sess
	key, err := idcard.KeyFromCAN(can)
	if err != nil || s == nil {
		return
	}
	s.can, s.keyError, s.busy = can, nil, true
	s.reading = ReadingView{Step: "access", Percent: 2}
	m.screen = ScreenReading
	progress := func(p idcard.Progress) {
		select {
		case m.post <- func() { m.onReadProgress(s, p) }:
		default: // progress is advisory; the result is not dropped
		}
	}
	go func() {
		doc, err := m.opt.Card.Read(s.ctx, key, idcard.Options{Progress: progress})
		m.run(func() { m.onReadDone(s, doc, err) })
	}()
}

// readBytes is about what a full CCCD read transfers (DG2's photo dominates),
// for a progress bar that moves smoothly without knowing file sizes in advance.
const readBytes = 26000

func (m *Machine) onReadProgress(s *session, p idcard.Progress) {
	if m.sess != s || m.screen != ScreenReading {
		return
	}
	pct := s.reading.Percent
	switch p.Step {
	case "access":
		pct = max(pct, 5)
	case "chip_auth":
		pct = max(pct, 15)
	case "read":
		pct = max(pct, 15+min(75, 75*p.BytesRead/readBytes))
	case "active_auth":
		pct = max(pct, 92)
	case "passive_auth":
		pct = max(pct, 96)
	case "done":
		pct = 100
	}
	s.reading = ReadingView{Step: p.Step, Percent: pct}
}

func (m *Machine) onReadDone(s *session, doc *idcard.Document, err error) {
	if m.sess != s {
		if doc != nil {
			doc.Wipe() // the session ended while the chip was being read
		}
		return
	}
	s.busy = false
	m.touch()
	if err != nil {
		msg := idcard.Explain(err)
		switch msg.Code {
		case "access_denied":
			m.screen = ScreenCardKey
			s.keyError = &Text{VI: "Số vừa nhập không mở được thẻ. Vui lòng kiểm tra 6 số cuối của số căn cước rồi nhập lại.",
				EN: "That number did not open the card. Check the last 6 digits of your ID number and type them again."}
		case "card_removed":
			m.endSession("card_removed")
			return
		default:
			can := s.can
			m.fail(msg.Code, Text{VI: "Không đọc được thẻ", EN: "The card could not be read"}, Text{VI: msg.VI, EN: msg.EN},
				func() { m.startRead(can) }, "retry", "restart", "help")
		}
		m.playCue("error")
		return
	}
	if doc.Verification != nil && doc.Verification.Passive.State == "invalid" {
		doc.Wipe()
		m.fail("card_not_genuine", Text{VI: "Thẻ không hợp lệ", EN: "The card is not valid"},
			Text{VI: "Dữ liệu trên chip không khớp với chữ ký của cơ quan cấp thẻ, nên không thể dùng thẻ này để nộp hồ sơ. Vui lòng đến quầy tiếp nhận.",
				EN: "The chip's data does not match the issuer's signature, so this card cannot be used to file. Please go to the counter."},
			nil, "restart", "help", "remove_card")
		return
	}
	s.doc = doc
	if doc.Photo != nil && len(doc.Photo.Data) > 0 {
		s.photoURL = "data:" + doc.Photo.MIME + ";base64," + base64.StdEncoding.EncodeToString(doc.Photo.Data)
	}
	s.reading = ReadingView{Step: "done", Percent: 100}
	m.playCue("card")
	if m.afterRead(s) {
		return
	}
	m.screen = ScreenIdentity
}

// fail shows the error screen; retry (nil for none) is what its retry button
// does.
func (m *Machine) fail(code string, title, msg Text, retry func(), actions ...string) {
	if m.sess == nil {
		return
	}
	m.sess.err = &ErrorView{Code: code, Title: title, Message: msg, Actions: actions}
	m.sess.retry = retry
	m.screen = ScreenError
}

func (m *Machine) retry() error {
	s := m.sess
	if m.screen == ScreenPayment {
		if s.payState != "expired" && s.payState != "unavailable" {
			return invalid("the payment is still running")
		}
		m.startPayment()
		return nil
	}
	if s.retry == nil {
		return invalid("this error has no retry")
	}
	f := s.retry
	s.err, s.retry = nil, nil
	f()
	return nil
}

func (m *Machine) confirmIdentity() error {
	m.screen = ScreenServices
	if m.hospital() {
		d := m.sess.doc
		m.startInsurance(insurance.Query{CardNumber: str(d.IDNumber), Name: str(d.FullName), DOB: str(d.DateOfBirth)})
	}
	return nil
}

func (m *Machine) back() error {
	s := m.sess
	switch m.screen {
	case ScreenServices:
		m.screen = ScreenIdentity
	case ScreenForm:
		m.screen = ScreenServices
	case ScreenAttachments:
		m.screen = ScreenForm
	case ScreenPayment:
		// Only once the QR has expired or failed: a waiting payment is busy.
		m.screen = ScreenConsent
	case ScreenConsent:
		if len(s.atts) > 0 {
			m.screen = ScreenAttachments
		} else {
			m.screen = ScreenForm
		}
	}
	return nil
}

func (m *Machine) chooseService(data json.RawMessage) error {
	var d struct {
		Code string `json:"code"`
	}
	if err := decode(data, &d); err != nil {
		return err
	}
	if m.hospital() {
		return invalid("a hospital kiosk offers departments, not procedures")
	}
	var p *procedure.Procedure
	for _, q := range m.opt.Procedures {
		if q.Code == d.Code {
			p = q
		}
	}
	if p == nil {
		return invalid("no procedure %s at this kiosk", quote(d.Code))
	}
	s := m.sess
	if s.proc != p {
		for _, a := range s.atts {
			for _, sc := range a.scans {
				sc.Wipe()
			}
		}
		s.proc, s.form, s.fieldErrs, s.atts = p, p.Prefill(s.doc), map[string]Text{}, nil
		for _, a := range p.Attachments {
			s.atts = append(s.atts, &attachment{name: a.Name, minPages: max(1, a.MinPages)})
		}
	}
	m.screen = ScreenForm
	return nil
}

// locked reports a field the chip filled: the citizen cannot change it.
func (s *session) locked(f procedure.Field) bool {
	if f.Chip == "" || s.doc == nil {
		return false
	}
	_, ok := s.proc.Prefill(s.doc)[f.Key]
	return ok
}

func (m *Machine) setField(data json.RawMessage) error {
	var d struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	if err := decode(data, &d); err != nil {
		return err
	}
	s := m.sess
	for _, f := range s.proc.Fields {
		if f.Key != d.Key {
			continue
		}
		if s.locked(f) {
			return invalid("%s comes from the chip and cannot be changed", f.Key)
		}
		limit := f.MaxLength
		if limit <= 0 {
			limit = 64
		}
		v, err := cleanText(d.Value, limit)
		if err != nil {
			return err
		}
		if v == "" {
			delete(s.form, f.Key)
		} else {
			s.form[f.Key] = v
		}
		delete(s.fieldErrs, f.Key)
		return nil
	}
	return &IntentError{Code: "bad_data", Message: "the form has no field " + quote(d.Key)}
}

func (m *Machine) submitForm() error {
	s := m.sess
	clear(s.fieldErrs)
	if err := s.proc.ValidateForm(s.form); err != nil {
		var fe *procedure.FormError
		if !errors.As(err, &fe) {
			return fmt.Errorf("validate form: %w", err)
		}
		for _, p := range fe.Problems {
			s.fieldErrs[p.Key] = Text{VI: p.VI, EN: p.EN}
		}
		m.playCue("error")
		return nil // the screen shows the field errors
	}
	if len(s.atts) > 0 {
		m.screen = ScreenAttachments
	} else {
		m.screen = ScreenConsent
	}
	return nil
}

func (m *Machine) acceptConsent(data json.RawMessage) error {
	var d struct {
		Version string `json:"version"`
	}
	if err := decode(data, &d); err != nil {
		return err
	}
	if d.Version != Consent.Version {
		return invalid("consent version %s is not the one shown (%s)", quote(d.Version), Consent.Version)
	}
	s := m.sess
	s.consentAt = m.opt.Now()
	if s.proc.Fee.AmountVND > 0 {
		m.startPayment()
	} else {
		m.startSubmit()
	}
	return nil
}
