package backend

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The wire types of the kiosk gateway API (docs/backend-api.md). The reference
// backend (package refbackend) uses the same types, so client and server cannot
// drift apart.

// FilingRequest is the body of POST /v1/filings.
type FilingRequest struct {
	MaHoSo      string           `json:"ma_ho_so"`
	MaTTHC      string           `json:"ma_tthc"`
	CreatedAt   time.Time        `json:"created_at"`
	Filing      json.RawMessage  `json:"filing"`      // the dossier JSON, untouched
	Attachments []AttachmentWire `json:"attachments"` // may be empty
}

// AttachmentWire is one document of a filing; Data is base64 on the wire.
type AttachmentWire struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

// FilingAck is the answer of POST /v1/filings (201 first time, 200 on a repeat).
type FilingAck struct {
	MaHoSo     string    `json:"ma_ho_so"`
	ReceivedAt time.Time `json:"received_at"`
}

// DossierStatus is the answer of GET /v1/filings/{ma_ho_so}.
type DossierStatus struct {
	MaHoSo        string `json:"ma_ho_so"`
	TrangThaiHoSo int    `json:"trang_thai_ho_so"` // 1–10
	Label         string `json:"label"`            // Vietnamese label of the code
}

// PaymentState is the state of a fee payment.
type PaymentState string

// Payment states.
const (
	PaymentPending PaymentState = "pending"
	PaymentPaid    PaymentState = "paid"
	PaymentExpired PaymentState = "expired"
)

// Payment is the answer of GET /v1/payments/{ref}.
type Payment struct {
	Ref    string       `json:"ref"`
	Status PaymentState `json:"status"`
	PaidAt time.Time    `json:"paid_at,omitzero"` // set when Status is paid
}

// ErrorBody is the body of every 4xx/5xx answer. Code is a short machine word
// (validation, conflict, not_found, too_large, internal); Message is for
// operators and may quote the request, so the client never logs or stores it.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// trangThaiLabels are the Vietnamese labels of TrangThaiHoSo 1–10.
var trangThaiLabels = [...]string{
	1:  "Mới tiếp nhận",
	2:  "Đã tiếp nhận",
	3:  "Từ chối tiếp nhận",
	4:  "Đang xử lý",
	5:  "Yêu cầu bổ sung hồ sơ",
	6:  "Chờ nộp phí, lệ phí",
	7:  "Công dân rút hồ sơ",
	8:  "Dừng xử lý",
	9:  "Đã giải quyết xong",
	10: "Đã trả kết quả",
}

// TrangThaiLabel returns the Vietnamese label of a TrangThaiHoSo code, and false
// for a code outside 1–10.
func TrangThaiLabel(code int) (string, bool) {
	if code < 1 || code >= len(trangThaiLabels) {
		return "", false
	}
	return trangThaiLabels[code], true
}

// errMalformed is wrapped by every decoder below.
var errMalformed = errors.New("malformed answer from backend")

// decodeAck parses a FilingAck and checks it names the dossier sent.
func decodeAck(b []byte, maHoSo string) (FilingAck, error) {
	var a FilingAck
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if a.MaHoSo != maHoSo {
		return a, fmt.Errorf("%w: acknowledgement names another dossier", errMalformed)
	}
	if a.ReceivedAt.IsZero() {
		return a, fmt.Errorf("%w: no received_at", errMalformed)
	}
	return a, nil
}

// decodeStatus parses a DossierStatus; the label is taken from the code, not
// from the answer, so a backend cannot put arbitrary text on the screen.
func decodeStatus(b []byte, maHoSo string) (DossierStatus, error) {
	var s DossierStatus
	if err := json.Unmarshal(b, &s); err != nil {
		return DossierStatus{}, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if s.MaHoSo != maHoSo {
		return DossierStatus{}, fmt.Errorf("%w: status names another dossier", errMalformed)
	}
	label, ok := TrangThaiLabel(s.TrangThaiHoSo)
	if !ok {
		return DossierStatus{}, fmt.Errorf("%w: TrangThaiHoSo %d outside 1–10", errMalformed, s.TrangThaiHoSo)
	}
	s.Label = label
	return s, nil
}

// decodePayment parses a Payment and checks its state is one of the three.
func decodePayment(b []byte, ref string) (Payment, error) {
	var p Payment
	if err := json.Unmarshal(b, &p); err != nil {
		return Payment{}, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if p.Ref != ref {
		return Payment{}, fmt.Errorf("%w: payment names another reference", errMalformed)
	}
	switch p.Status {
	case PaymentPending, PaymentExpired:
		p.PaidAt = time.Time{}
	case PaymentPaid:
		if p.PaidAt.IsZero() {
			return Payment{}, fmt.Errorf("%w: paid without paid_at", errMalformed)
		}
	default:
		return Payment{}, fmt.Errorf("%w: unknown payment status", errMalformed)
	}
	return p, nil
}

// errorCode extracts the machine code of an error answer when it is a short
// lower-case word, and "" otherwise: it ends up in outbox reasons, which must be
// free of personal data.
func errorCode(b []byte) string {
	var e ErrorBody
	if json.Unmarshal(b, &e) != nil || len(e.Code) == 0 || len(e.Code) > 32 {
		return ""
	}
	for _, c := range e.Code {
		if (c < 'a' || c > 'z') && c != '_' {
			return ""
		}
	}
	return e.Code
}
