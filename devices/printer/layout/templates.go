package layout

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// VietnamTime is UTC+7 (Vietnam keeps no daylight saving time); tickets show
// local time whatever zone the kiosk's clock is set to, without tzdata.
var VietnamTime = time.FixedZone("ICT", 7*60*60)

// Insurance check states as printed on a queue ticket.
const (
	InsuranceChecked    = "Đã kiểm tra BHYT"
	InsuranceNotChecked = "Chưa kiểm tra BHYT"
)

// ErrMissingField is returned when a template lacks a field it cannot print
// without.
var ErrMissingField = errors.New("layout: missing field")

func missing(what string) error { return errors.Join(ErrMissingField, errors.New(what)) }

// header is the site name every ticket starts with.
func header(p *Page, site string) {
	if site != "" {
		p.Add(Text{Text: site, Size: Large, Bold: true, Align: Center})
	}
	p.Add(Rule{})
}

func clock(t time.Time) string { return t.In(VietnamTime).Format("15:04 02/01/2006") }
func date(t time.Time) string  { return t.In(VietnamTime).Format("02/01/2006") }

// QueueTicket is the numbered ticket a citizen or patient waits with. It holds
// no personal data: it is left on chairs and in bins.
type QueueTicket struct {
	Site       string // site name, e.g. "BỆNH VIỆN ĐA KHOA TỈNH"
	Number     string // e.g. "A012"
	Department string // e.g. "Khoa Khám bệnh"
	Counter    string // optional, e.g. "Quầy 3"
	IssuedAt   time.Time
	// InsuranceChecked says whether the health insurance (BHYT) card was
	// checked at the kiosk (hospitals); nil leaves the line out (wards).
	InsuranceChecked *bool
	// InsuranceNote, when set, replaces the checked / not checked line: a card
	// that was checked and found wanting ("BHYT hết hạn").
	InsuranceNote string
	QR            string // optional payload, e.g. a link to follow the queue
}

// Page lays out the ticket.
func (t QueueTicket) Page() (Page, error) {
	if strings.TrimSpace(t.Number) == "" {
		return Page{}, missing("queue ticket: Number")
	}
	var p Page
	header(&p, t.Site)
	p.Add(Text{Text: "SỐ THỨ TỰ", Bold: true, Align: Center},
		Text{Text: t.Number, Size: Huge, Bold: true, Align: Center})
	if t.Department != "" {
		p.Add(Text{Text: t.Department, Size: Large, Bold: true, Align: Center})
	}
	if t.Counter != "" {
		p.Add(Text{Text: t.Counter, Align: Center})
	}
	switch {
	case t.InsuranceNote != "":
		p.Add(Space{Dots: 8}, Text{Text: t.InsuranceNote, Bold: true, Align: Center})
	case t.InsuranceChecked != nil:
		s := InsuranceNotChecked
		if *t.InsuranceChecked {
			s = InsuranceChecked
		}
		p.Add(Space{Dots: 8}, Text{Text: s, Bold: true, Align: Center})
	}
	if t.QR != "" {
		p.Add(QR{Payload: t.QR})
	} else {
		p.Add(Space{Dots: 16})
	}
	if !t.IssuedAt.IsZero() {
		p.Add(Text{Text: "Lấy số lúc " + clock(t.IssuedAt), Size: Small, Align: Center})
	}
	p.Add(Text{Text: "Vui lòng chờ đến lượt được gọi số", Size: Small, Align: Center})
	return p, nil
}

// DossierReceipt acknowledges a public-service filing (hồ sơ TTHC). The QR
// holds the dossier code, which the citizen tracks the filing by.
type DossierReceipt struct {
	Site        string
	Code        string // MaHoSo
	Procedure   string // TenTTHC
	Applicant   string // ChuHoSo: personal data
	ReceivedAt  time.Time
	Appointment time.Time // NgayHenTra: the day to collect the result
	QR          string    // the receipt QR's payload (qrpayload.FormatReceipt); Code when empty
}

// Page lays out the receipt.
func (r DossierReceipt) Page() (Page, error) {
	if strings.TrimSpace(r.Code) == "" {
		return Page{}, missing("dossier receipt: Code")
	}
	var p Page
	header(&p, r.Site)
	p.Add(Text{Text: "GIẤY TIẾP NHẬN HỒ SƠ", Size: Large, Bold: true, Align: Center},
		Text{Text: "Mã hồ sơ", Align: Center},
		Text{Text: r.Code, Size: Large, Bold: true, Align: Center},
		Space{Dots: 8})
	if r.Procedure != "" {
		p.Add(Text{Text: "Thủ tục: " + r.Procedure})
	}
	if r.Applicant != "" {
		p.Add(Text{Text: "Người nộp: " + r.Applicant})
	}
	if !r.ReceivedAt.IsZero() {
		p.Add(Text{Text: "Tiếp nhận lúc: " + clock(r.ReceivedAt)})
	}
	if !r.Appointment.IsZero() {
		p.Add(Text{Text: "Ngày hẹn trả kết quả: " + date(r.Appointment), Bold: true})
	}
	qr := r.QR
	if qr == "" {
		qr = r.Code
	}
	p.Add(QR{Payload: qr},
		Text{Text: "Quét mã để tra cứu tiến độ giải quyết hồ sơ", Size: Small, Align: Center})
	return p, nil
}

// FeeReceipt is the electronic receipt of a cashless fee payment (VietQR).
type FeeReceipt struct {
	Site        string
	Description string // what was paid for
	Amount      int64  // VND
	Reference   string // the payment's reference
	PaidAt      time.Time
	QR          string // where the e-receipt can be fetched; the reference if empty
}

// Page lays out the receipt.
func (r FeeReceipt) Page() (Page, error) {
	if strings.TrimSpace(r.Reference) == "" {
		return Page{}, missing("fee receipt: Reference")
	}
	var p Page
	header(&p, r.Site)
	p.Add(Text{Text: "BIÊN NHẬN THANH TOÁN", Size: Large, Bold: true, Align: Center})
	if r.Description != "" {
		p.Add(Text{Text: "Nội dung: " + r.Description})
	}
	p.Add(Text{Text: "Số tiền", Align: Center},
		Text{Text: FormatVND(r.Amount), Size: Large, Bold: true, Align: Center},
		Text{Text: "Mã giao dịch: " + r.Reference})
	if !r.PaidAt.IsZero() {
		p.Add(Text{Text: "Thanh toán lúc: " + clock(r.PaidAt)})
	}
	qr := r.QR
	if qr == "" {
		qr = r.Reference
	}
	p.Add(QR{Payload: qr},
		Text{Text: "Biên lai điện tử: quét mã để tra cứu", Size: Small, Align: Center})
	return p, nil
}

// InsuranceSummary is the result of a health insurance (BHYT) card check.
type InsuranceSummary struct {
	Site         string
	CardNumber   string // maThe: personal data
	Holder       string // hoTen, optional: personal data
	ValidFrom    time.Time
	ValidTo      time.Time
	FacilityCode string // maDKBD
	FacilityName string
	CheckedAt    time.Time
}

// Page lays out the summary.
func (s InsuranceSummary) Page() (Page, error) {
	if strings.TrimSpace(s.CardNumber) == "" {
		return Page{}, missing("insurance summary: CardNumber")
	}
	var p Page
	header(&p, s.Site)
	p.Add(Text{Text: "THÔNG TIN THẺ BHYT", Size: Large, Bold: true, Align: Center},
		Text{Text: "Mã thẻ: " + s.CardNumber, Bold: true})
	if s.Holder != "" {
		p.Add(Text{Text: "Họ tên: " + s.Holder})
	}
	if !s.ValidFrom.IsZero() || !s.ValidTo.IsZero() {
		v := "Giá trị sử dụng:"
		if !s.ValidFrom.IsZero() {
			v += " từ " + date(s.ValidFrom)
		}
		if !s.ValidTo.IsZero() {
			v += " đến " + date(s.ValidTo)
		}
		p.Add(Text{Text: v})
	}
	if s.FacilityName != "" || s.FacilityCode != "" {
		f := s.FacilityName
		if s.FacilityCode != "" {
			f = strings.TrimSpace(f + " (" + s.FacilityCode + ")")
		}
		p.Add(Text{Text: "Nơi đăng ký KCB ban đầu: " + f})
	}
	if !s.CheckedAt.IsZero() {
		p.Add(Text{Text: "Tra cứu lúc " + clock(s.CheckedAt), Size: Small, Align: Center})
	}
	p.Add(Space{Dots: 16})
	return p, nil
}

// FormatVND writes an amount of đồng the Vietnamese way: "10.000 ₫".
func FormatVND(amount int64) string {
	neg := amount < 0
	u := uint64(amount)
	if neg {
		u = -u
	}
	digits := strconv.FormatUint(u, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(d)
	}
	b.WriteString(" ₫")
	return b.String()
}

// TestTicket is the printer test: Vietnamese text with every diacritic the
// raster font must draw, the paper width, the time and a QR, so a technician
// sees at a glance that text, width and codes come out right.
type TestTicket struct {
	Text    string // a sentence to print; a default one when empty
	QR      string // a QR payload; none when empty
	WidthMM int
	Dots    int
	At      time.Time
}

// Page lays out the test ticket.
func (t TestTicket) Page() (Page, error) {
	text := t.Text
	if text == "" {
		text = "Kiểm tra máy in — Bộ phận tiếp nhận và trả kết quả. Chữ có dấu: ệ ẫ ặ ộ ừ ỵ Ơ Ư Đ."
	}
	var p Page
	p.Add(Text{Text: "PHIẾU IN THỬ", Size: Large, Bold: true, Align: Center},
		Text{Text: "TEST TICKET", Size: Small, Align: Center},
		Rule{},
		Text{Text: text},
		Text{Text: "ĂÂĐÊÔƠƯ ăâđêôơư áàảãạ ẤẦẨẪẬ ếềểễệ", Size: Small},
		Text{Text: fmt.Sprintf("Khổ giấy %d mm (%d điểm) · Paper %d mm (%d dots)", t.WidthMM, t.Dots, t.WidthMM, t.Dots), Size: Small},
		Text{Text: t.At.In(VietnamTime).Format("15:04:05 02/01/2006"), Size: Small})
	if t.QR != "" {
		p.Add(QR{Payload: t.QR})
	}
	return p, nil
}
