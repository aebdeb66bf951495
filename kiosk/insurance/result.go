package insurance

import (
	"fmt"
	"slices"
	"strings"
)

// Kind is what a check's outcome means for the citizen in front of the kiosk.
// Several maKetQua share a Kind; the screen and the ticket depend on the Kind,
// the counter staff on the code.
type Kind string

// The kinds of outcome.
const (
	KindOK           Kind = "ok"            // 000: the card is valid
	KindOtherBranch  Kind = "other_branch"  // 001/002: defence or police social security holds the card
	KindNewCard      Kind = "new_card"      // 003/004: a new card was issued; use NewCardNumber
	KindExpired      Kind = "expired"       // 010
	KindNotFound     Kind = "not_found"     // 050
	KindWrongData    Kind = "wrong_data"    // 051–053, 060/061, 070, 205: what was sent does not match
	KindStaffProblem Kind = "staff_problem" // 054/055: the lookup's staff identity is refused
	KindRevoked      Kind = "revoked"       // 110
	KindCancelled    Kind = "cancelled"     // 120–124
	KindChildNoCard  Kind = "child_no_card" // 130
	KindGatewayError Kind = "gateway_error" // 100/101/500, 401 after a fresh login, a malformed answer
	KindOffline      Kind = "offline"       // no answer: network, timeout, HTTP 5xx
	KindUnknown      Kind = "unknown"       // a maKetQua this package does not know
)

// TicketMarkUnchecked is what a queue ticket printed after a Retryable result
// carries, so the counter knows the card still has to be checked.
const TicketMarkUnchecked = "CHƯA KIỂM TRA BHYT"

// Message is a sentence for the screen in both UI languages, saying what
// happened and what to do next. It never holds personal data.
type Message struct {
	VI string `json:"vi"`
	EN string `json:"en"`
}

// Facility is a health facility: its code (maDKBD, maCSKCB) and, when the
// gateway gives it, its name.
type Facility struct {
	Code string `json:"code"`
	Name string `json:"name,omitempty"`
}

// String is "code name", or the code alone.
func (f Facility) String() string {
	return strings.TrimSpace(f.Code + " " + f.Name)
}

// Visit is one entry of the card's recent visit history, as much of it as a
// screen shows.
type Visit struct {
	Date         string `json:"date"` // YYYY-MM-DD, "" when unreadable
	FacilityCode string `json:"facility_code"`
	FacilityName string `json:"facility_name,omitempty"`
	Diagnosis    string `json:"diagnosis,omitempty"`
}

// BenefitLevel is the mức hưởng a card's code gives.
type BenefitLevel struct {
	Level   int    `json:"level"`   // the benefit digit, 1–5
	Percent int    `json:"percent"` // share of the covered cost the fund pays
	VI      string `json:"vi"`
	EN      string `json:"en"`
}

// benefitLevels are the five benefit digits of a 15-character BHYT card code,
// as Quyết định 1351/QĐ-BHXH (2015) defines the code: 2 letters of
// beneficiary group, 1 benefit digit, 2 digits of province, 10 digits of
// social-security number. *Unverified* against rules after 2025; a code
// whose digit is outside 1–5 gives no level rather than a guess.
var benefitLevels = map[byte]BenefitLevel{
	'1': {1, 100, "Mức 1: 100% chi phí khám chữa bệnh, không giới hạn tỷ lệ thanh toán thuốc và kỹ thuật", "Level 1: 100% of costs, no cap on drugs and techniques"},
	'2': {2, 100, "Mức 2: 100% chi phí khám chữa bệnh (có giới hạn một số thuốc, kỹ thuật)", "Level 2: 100% of costs (some drugs and techniques capped)"},
	'3': {3, 95, "Mức 3: 95% chi phí khám chữa bệnh", "Level 3: 95% of costs"},
	'4': {4, 80, "Mức 4: 80% chi phí khám chữa bệnh", "Level 4: 80% of costs"},
	'5': {5, 100, "Mức 5: 100% chi phí khám chữa bệnh, kể cả ngoài phạm vi", "Level 5: 100% of costs, including outside the usual scope"},
}

// BenefitLevelOf reads the benefit digit of a 15-character card code; ok is
// false for a 12-digit ID number or a code whose digit is not 1–5.
func BenefitLevelOf(cardCode string) (BenefitLevel, bool) {
	if !bhytCodeRE.MatchString(cardCode) {
		return BenefitLevel{}, false
	}
	b, ok := benefitLevels[cardCode[2]]
	return b, ok
}

// Result is the outcome of one check. Code is the gateway's maKetQua, or ""
// when no answer came (Offline) or none was asked (a staff identity missing).
type Result struct {
	Code               string        `json:"code"`
	Kind               Kind          `json:"kind"`
	Message            Message       `json:"message"`
	CardNumber         string        `json:"card_number,omitempty"` // maThe as the gateway answered it
	ValidFrom          string        `json:"valid_from,omitempty"`  // YYYY-MM-DD
	ValidTo            string        `json:"valid_to,omitempty"`
	RegisteredFacility Facility      `json:"registered_facility"`      // maDKBD
	FiveYearDate       string        `json:"five_year_date,omitempty"` // ngayDu5Nam, YYYY-MM-DD
	BenefitLevel       *BenefitLevel `json:"benefit_level,omitempty"`  // nil when the card code does not say
	// The new card of a 003/004 answer.
	NewCardNumber         string   `json:"new_card_number,omitempty"`
	NewValidFrom          string   `json:"new_valid_from,omitempty"`
	NewValidTo            string   `json:"new_valid_to,omitempty"`
	NewRegisteredFacility Facility `json:"new_registered_facility"`
	Visits                []Visit  `json:"visits,omitempty"` // newest first, at most MaxVisits
}

// MaxVisits bounds the visit history kept in a Result.
const MaxVisits = 5

// Retryable says the card was not checked through no fault of the citizen's
// data: the kiosk prints the ticket marked TicketMarkUnchecked and staff run
// the check again later. A refused staff identity counts: the citizen's card
// was never looked at.
func (r Result) Retryable() bool {
	switch r.Kind {
	case KindOffline, KindGatewayError, KindStaffProblem:
		return true
	}
	return false
}

// outcome is the meaning of one maKetQua.
type outcome struct {
	kind Kind
	msg  Message
}

var (
	msgOffline = Message{
		VI: "Chưa kết nối được cổng giám định BHYT. Bạn vẫn được lấy số thứ tự; nhân viên sẽ kiểm tra thẻ BHYT tại quầy.",
		EN: "The health insurance gateway cannot be reached. You still get your ticket; staff will check your insurance card at the counter.",
	}
	msgGateway = Message{
		VI: "Cổng giám định BHYT đang gặp lỗi. Bạn vẫn được lấy số thứ tự; nhân viên sẽ kiểm tra lại thẻ BHYT tại quầy.",
		EN: "The health insurance gateway reported an error. You still get your ticket; staff will check your insurance card again at the counter.",
	}
	msgLogin = Message{
		VI: "Kiosk chưa đăng nhập được cổng giám định BHYT. Bạn vẫn được lấy số thứ tự; vui lòng báo kỹ thuật viên kiểm tra tài khoản.",
		EN: "The kiosk cannot log in to the health insurance gateway. You still get your ticket; please ask a technician to check the account.",
	}
	msgStaffMissing = Message{
		VI: "Kiosk chưa được cấu hình cán bộ tra cứu BHYT. Bạn vẫn được lấy số thứ tự; vui lòng báo kỹ thuật viên.",
		EN: "No staff identity is configured for insurance lookups. You still get your ticket; please call a technician.",
	}
	wrongData = func(vi, en string) outcome {
		return outcome{KindWrongData, Message{
			VI: vi + " Vui lòng kiểm tra lại hoặc đến quầy tiếp đón.",
			EN: en + " Please check it or go to the reception counter.",
		}}
	}
	cancelled = outcome{KindCancelled, Message{
		VI: "Thẻ BHYT đã bị báo giảm, không còn giá trị sử dụng. Vui lòng đến quầy tiếp đón để được hướng dẫn.",
		EN: "The insurance card has been cancelled. Please go to the reception counter for help.",
	}}
	gatewayError = outcome{KindGatewayError, msgGateway}
)

// outcomes maps every maKetQua of DOMAIN.md.
var outcomes = map[string]outcome{
	"000": {KindOK, Message{
		VI: "Thẻ BHYT còn giá trị sử dụng. Mời bạn lấy số thứ tự và chờ gọi khám.",
		EN: "Your health insurance card is valid. Take your ticket and wait to be called.",
	}},
	"001": {KindOtherBranch, Message{
		VI: "Thẻ BHYT do Bảo hiểm xã hội Bộ Quốc phòng quản lý. Vui lòng mang thẻ BHYT đến quầy tiếp đón để được kiểm tra.",
		EN: "Your card is managed by the Ministry of Defence's social security. Please bring your insurance card to the reception counter.",
	}},
	"002": {KindOtherBranch, Message{
		VI: "Thẻ BHYT do Bảo hiểm xã hội Bộ Công an quản lý. Vui lòng mang thẻ BHYT đến quầy tiếp đón để được kiểm tra.",
		EN: "Your card is managed by the Ministry of Public Security's social security. Please bring your insurance card to the reception counter.",
	}},
	"003": {KindNewCard, Message{
		VI: "Thẻ cũ đã hết hạn và bạn đã được cấp thẻ mới. Kiosk dùng mã thẻ mới cho lần khám này.",
		EN: "Your old card has expired and a new card has been issued. The kiosk uses the new card code for this visit.",
	}},
	"004": {KindNewCard, Message{
		VI: "Bạn đã được cấp thẻ BHYT mới (thẻ cũ vẫn còn hạn). Kiosk dùng mã thẻ mới cho lần khám này.",
		EN: "A new insurance card has been issued to you (the old one is still valid). The kiosk uses the new card code for this visit.",
	}},
	"010": {KindExpired, Message{
		VI: "Thẻ BHYT đã hết hạn sử dụng. Vui lòng đến quầy tiếp đón để được hướng dẫn gia hạn thẻ hoặc khám dịch vụ.",
		EN: "Your insurance card has expired. Please go to the reception counter to renew it or be seen as a paying patient.",
	}},
	"050": {KindNotFound, Message{
		VI: "Không tìm thấy thông tin thẻ BHYT. Vui lòng kiểm tra lại số thẻ hoặc đến quầy tiếp đón.",
		EN: "No insurance card was found. Please check the number or go to the reception counter.",
	}},
	"051": wrongData("Mã thẻ BHYT không đúng.", "The insurance card code is wrong."),
	"052": wrongData("Mã tỉnh trên thẻ BHYT không đúng.", "The province code on the card is wrong."),
	"053": wrongData("Mã quyền lợi (mức hưởng) trên thẻ BHYT không đúng.", "The benefit code on the card is wrong."),
	"054": {KindStaffProblem, Message{
		VI: "Cán bộ tra cứu của kiosk chưa được đăng ký với cơ quan BHXH. Bạn vẫn được lấy số thứ tự; vui lòng báo kỹ thuật viên.",
		EN: "The kiosk's lookup staff identity is not registered with Vietnam Social Security. You still get your ticket; please call a technician.",
	}},
	"055": {KindStaffProblem, Message{
		VI: "Họ tên cán bộ tra cứu không khớp với số căn cước đã đăng ký. Bạn vẫn được lấy số thứ tự; vui lòng báo kỹ thuật viên.",
		EN: "The lookup staff member's name does not match the registered ID number. You still get your ticket; please call a technician.",
	}},
	"060": wrongData("Họ tên không khớp với thông tin thẻ BHYT.", "The name does not match the insurance card."),
	"061": wrongData("Họ tên không khớp với thông tin thẻ BHYT.", "The name does not match the insurance card."),
	"070": wrongData("Ngày sinh không khớp với thông tin thẻ BHYT.", "The date of birth does not match the insurance card."),
	"100": gatewayError,
	"101": gatewayError,
	"110": {KindRevoked, Message{
		VI: "Thẻ BHYT đã bị thu hồi. Vui lòng đến quầy tiếp đón để được hướng dẫn.",
		EN: "The insurance card has been revoked. Please go to the reception counter for help.",
	}},
	"120": cancelled, "121": cancelled, "122": cancelled, "123": cancelled, "124": cancelled,
	"130": {KindChildNoCard, Message{
		VI: "Trẻ em chưa có thẻ BHYT. Vui lòng mang giấy chứng sinh hoặc giấy khai sinh của trẻ đến quầy tiếp đón.",
		EN: "The child has no insurance card yet. Please bring the child's birth certificate to the reception counter.",
	}},
	"205": wrongData("Thông tin tra cứu chưa đúng định dạng.", "The lookup data is not in the expected format."),
	"401": {KindGatewayError, msgLogin},
	"500": gatewayError,
}

// Codes lists every maKetQua with a meaning of its own, for tests and docs.
func Codes() []string {
	cs := make([]string, 0, len(outcomes))
	for c := range outcomes {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	return cs
}

// resultFor builds the Result of a decoded answer. Card data is taken only
// from answers that are about a card (000–010): an error answer's fields are
// not shown.
func resultFor(a checkAnswer) Result {
	code := string(a.MaKetQua)
	o, known := outcomes[code]
	if !known {
		o = outcome{KindUnknown, Message{
			VI: fmt.Sprintf("Chưa xác định được tình trạng thẻ BHYT (mã %s). Vui lòng đến quầy tiếp đón.", code),
			EN: fmt.Sprintf("The insurance card's status could not be determined (code %s). Please go to the reception counter.", code),
		}}
	}
	r := Result{Code: code, Kind: o.kind, Message: o.msg}
	switch o.kind {
	case KindOK, KindOtherBranch, KindNewCard, KindExpired:
	default:
		return r
	}
	r.CardNumber = strings.ToUpper(strings.TrimSpace(string(a.MaThe)))
	r.ValidFrom, r.ValidTo = isoDate(string(a.GtTheTu)), isoDate(string(a.GtTheDen))
	r.RegisteredFacility = Facility{Code: string(a.MaDKBD), Name: string(a.TenDKBD)}
	r.FiveYearDate = isoDate(string(a.NgayDu5Nam))
	if o.kind == KindNewCard {
		r.NewCardNumber = strings.ToUpper(strings.TrimSpace(string(a.MaTheMoi)))
		r.NewValidFrom, r.NewValidTo = isoDate(string(a.GtTheTuMoi)), isoDate(string(a.GtTheDenMoi))
		r.NewRegisteredFacility = Facility{Code: string(a.MaDKBDMoi), Name: string(a.TenDKBDMoi)}
	}
	// The benefit level is the one of the card the citizen is treated on.
	card := r.CardNumber
	if r.NewCardNumber != "" {
		card = r.NewCardNumber
	}
	if b, ok := BenefitLevelOf(card); ok {
		r.BenefitLevel = &b
	}
	r.Visits = decodeVisits(a.Visits, MaxVisits)
	return r
}

// offlineResult and the others below are results without a gateway verdict.
func offlineResult() Result { return Result{Kind: KindOffline, Message: msgOffline} }

func gatewayErrorResult(code string) Result {
	if code == "401" {
		return Result{Code: code, Kind: KindGatewayError, Message: msgLogin}
	}
	return Result{Code: code, Kind: KindGatewayError, Message: msgGateway}
}

func staffMissingResult() Result { return Result{Kind: KindStaffProblem, Message: msgStaffMissing} }
