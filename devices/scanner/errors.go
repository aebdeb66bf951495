package scanner

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Fault is what went wrong with a scan, in the terms the person at the kiosk
// acts on. Faults are errors so that errors.Is(err, scanner.Jammed) works on
// whatever Scan returns.
type Fault string

// Faults. The SANE status each comes from is in parentheses.
const (
	Jammed       Fault = "jammed"         // paper jam in the feeder (SANE_STATUS_JAMMED)
	NoDocuments  Fault = "no_documents"   // nothing in the feeder, or it ran out early (SANE_STATUS_NO_DOCS)
	Busy         Fault = "busy"           // another program holds the scanner (SANE_STATUS_DEVICE_BUSY)
	Absent       Fault = "absent"         // no such device, unplugged, or scanimage missing
	CoverOpen    Fault = "cover_open"     // SANE_STATUS_COVER_OPEN
	AccessDenied Fault = "access_denied"  // permissions (SANE_STATUS_ACCESS_DENIED)
	WarmingUp    Fault = "warming_up"     // lamp not ready (SANE_STATUS_WARMING_UP)
	Locked       Fault = "locked"         // transport lock on (SANE_STATUS_HW_LOCKED)
	NoFeeder     Fault = "no_feeder"      // the request needs a source the scanner lacks
	TooManyPages Fault = "too_many_pages" // the feeder held more than Options.MaxPages
	Cancelled    Fault = "cancelled"      // ctx ended, or NextPage gave up
	DeviceError  Fault = "device_error"   // I/O error, backend crash, unreadable output
)

func (f Fault) Error() string { return "scanner: " + strings.ReplaceAll(string(f), "_", " ") }

// Error is a failed scan: the fault, the SANE call and message behind it, and
// how far the scan got.
type Error struct {
	Fault  Fault
	Op     string // "open", "start", "read" (the SANE call), or "" when not SANE's
	Detail string // scanimage's or the backend's message, English
	Pages  int    // pages scanned before the fault
	Wanted int    // pages requested; 0 when scanning until the feeder is empty
	Err    error  // the cause underneath (exit status, context error), if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Fault.Error())
	if e.Op != "" {
		fmt.Fprintf(&b, ": sane_%s", e.Op)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	if e.Pages > 0 || e.Wanted > 0 {
		fmt.Fprintf(&b, " (after %d page(s)", e.Pages)
		if e.Wanted > 0 {
			fmt.Fprintf(&b, " of %d", e.Wanted)
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap lets errors.Is find both the Fault and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Fault}
	}
	return []error{e.Fault, e.Err}
}

// ErrBadRequest wraps a ScanRequest the scanner cannot honour as asked.
var ErrBadRequest = errors.New("scanner: bad scan request")

// Message is a sentence for the person at the kiosk, in Vietnamese and English,
// saying what happened and what to do.
type Message struct {
	Code string `json:"code"` // stable, for the UI and metrics
	VI   string `json:"vi"`
	EN   string `json:"en"`
}

// Explain turns a Scan result into one message for the screen.
func Explain(err error) Message {
	var se *Error
	errors.As(err, &se)
	switch {
	case err == nil:
		return Message{Code: "ok", VI: "Đã quét xong tài liệu.", EN: "The document has been scanned."}
	case errors.Is(err, Jammed):
		return Message{Code: string(Jammed),
			VI: "Giấy bị kẹt trong máy quét. Vui lòng mở nắp khay nạp giấy, nhẹ nhàng kéo tờ giấy bị kẹt ra, xếp lại tài liệu vào khay rồi quét lại.",
			EN: "Paper is jammed in the scanner. Open the feeder cover, gently pull out the stuck sheet, put the pages back in the feeder and scan again."}
	case errors.Is(err, NoDocuments) && se != nil && se.Pages > 0:
		return Message{Code: "feeder_ran_out",
			VI: fmt.Sprintf("Khay nạp giấy đã hết sau %d trang, ít hơn số trang cần quét (%d). Vui lòng đặt toàn bộ tài liệu vào khay nạp rồi quét lại.", se.Pages, se.Wanted),
			EN: fmt.Sprintf("The feeder ran out after %d page(s), fewer than the %d asked for. Put the whole document in the feeder and scan again.", se.Pages, se.Wanted)}
	case errors.Is(err, NoDocuments):
		return Message{Code: string(NoDocuments),
			VI: "Chưa có tài liệu trong máy quét. Vui lòng đặt các trang vào khay nạp giấy theo hình hướng dẫn trên khay (hoặc đặt trang lên mặt kính) rồi quét lại.",
			EN: "There is no document in the scanner. Put the pages in the feeder as the picture on the tray shows (or the page on the glass) and scan again."}
	case errors.Is(err, Busy):
		return Message{Code: string(Busy),
			VI: "Máy quét đang bận. Vui lòng đợi một lát rồi thử lại.",
			EN: "The scanner is busy. Please wait a moment and try again."}
	case errors.Is(err, CoverOpen):
		return Message{Code: string(CoverOpen),
			VI: "Nắp máy quét đang mở. Vui lòng đóng nắp lại rồi quét lại.",
			EN: "The scanner cover is open. Close it and scan again."}
	case errors.Is(err, WarmingUp):
		return Message{Code: string(WarmingUp),
			VI: "Máy quét đang khởi động. Vui lòng đợi vài giây rồi quét lại.",
			EN: "The scanner is warming up. Wait a few seconds and scan again."}
	case errors.Is(err, Absent):
		return Message{Code: string(Absent),
			VI: "Không tìm thấy máy quét. Vui lòng gọi nhân viên hỗ trợ.",
			EN: "The scanner is not connected. Please call staff."}
	case errors.Is(err, AccessDenied):
		return Message{Code: string(AccessDenied),
			VI: "Kiosk không được phép dùng máy quét. Vui lòng gọi nhân viên hỗ trợ.",
			EN: "The kiosk is not allowed to use the scanner (permissions). Please call staff."}
	case errors.Is(err, Locked):
		return Message{Code: string(Locked),
			VI: "Máy quét đang bật khóa vận chuyển. Vui lòng gọi nhân viên hỗ trợ để mở khóa.",
			EN: "The scanner's transport lock is on. Please call staff to release it."}
	case errors.Is(err, NoFeeder):
		return Message{Code: string(NoFeeder),
			VI: "Máy quét này không có khay nạp giấy tự động. Vui lòng đặt từng trang lên mặt kính.",
			EN: "This scanner has no document feeder. Place each page on the glass."}
	case errors.Is(err, TooManyPages):
		return Message{Code: string(TooManyPages),
			VI: "Tài liệu có quá nhiều trang cho một lần quét. Vui lòng chia tài liệu thành nhiều phần và quét từng phần.",
			EN: "The document has too many pages for one scan. Split it and scan each part."}
	case errors.Is(err, Cancelled), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Message{Code: string(Cancelled),
			VI: "Đã dừng quét. Không có trang nào được lưu.",
			EN: "Scanning was stopped. No page was kept."}
	case errors.Is(err, ErrBadRequest):
		return Message{Code: "bad_request",
			VI: "Máy quét không thực hiện được yêu cầu này. Vui lòng gọi nhân viên hỗ trợ.",
			EN: "The scanner cannot do what was asked. Please call staff."}
	}
	return Message{Code: string(DeviceError),
		VI: "Máy quét gặp lỗi. Vui lòng quét lại; nếu vẫn lỗi, gọi nhân viên hỗ trợ.",
		EN: "The scanner reported an error. Scan again; if it keeps failing, please call staff."}
}
