package idcard

import (
	"context"
	"errors"

	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
)

// Message is a sentence for the person at the kiosk, in Vietnamese and English.
type Message struct {
	Code string `json:"code"` // stable, for the UI and metrics
	VI   string `json:"vi"`
	EN   string `json:"en"`
}

// Explain turns a read error into one sentence saying what happened and what to
// do next.
func Explain(err error) Message {
	switch {
	case err == nil:
		return Message{Code: "ok", VI: "Đã đọc thẻ.", EN: "The card was read."}
	case errors.Is(err, ErrAccessDenied):
		return Message{Code: "access_denied",
			VI: "Thẻ không chấp nhận mã truy cập. Vui lòng kiểm tra 6 số CAN (6 số cuối của số căn cước) rồi thử lại.",
			EN: "The card refused the access key. Check the 6-digit CAN (the last 6 digits of the ID number) and try again."}
	case errors.Is(err, pcsc.ErrCardRemoved):
		return Message{Code: "card_removed",
			VI: "Thẻ đã bị rút ra trong khi đọc. Vui lòng đặt lại thẻ lên đầu đọc và giữ yên.",
			EN: "The card was removed during the read. Place it on the reader again and keep it still."}
	case errors.Is(err, pcsc.ErrCardReset):
		return Message{Code: "card_reset",
			VI: "Việc đọc thẻ bị gián đoạn. Vui lòng thử lại.",
			EN: "The read was interrupted. Please try again."}
	case errors.Is(err, pcsc.ErrNoReader), errors.Is(err, pcsc.ErrReaderGone):
		return Message{Code: "no_reader",
			VI: "Không tìm thấy đầu đọc thẻ. Vui lòng gọi nhân viên hỗ trợ.",
			EN: "The card reader is not connected. Please call staff."}
	case errors.Is(err, pcsc.ErrNoService):
		return Message{Code: "no_service",
			VI: "Dịch vụ đọc thẻ chưa chạy. Vui lòng gọi nhân viên hỗ trợ.",
			EN: "The smart card service (pcscd) is not running. Please call staff."}
	case errors.Is(err, ErrNoCard):
		return Message{Code: "no_card",
			VI: "Chưa có thẻ trên đầu đọc. Vui lòng đặt thẻ căn cước lên đầu đọc.",
			EN: "There is no card on the reader. Place the ID card on the reader."}
	case errors.Is(err, ErrNotEMRTD), errors.Is(err, ErrNoAccessPath):
		return Message{Code: "unsupported_card",
			VI: "Thẻ này không phải thẻ căn cước gắn chip hoặc không được hỗ trợ.",
			EN: "This card is not a chip ID card, or it is not supported."}
	case errors.Is(err, securemessaging.ErrMAC), errors.Is(err, securemessaging.ErrMalformed),
		errors.Is(err, securemessaging.ErrAborted), errors.Is(err, securemessaging.ErrClosed):
		return Message{Code: "integrity",
			VI: "Dữ liệu từ thẻ không toàn vẹn. Vui lòng đặt lại thẻ và thử lại.",
			EN: "The card's answer failed its integrity check. Place the card again and retry."}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return Message{Code: "timeout",
			VI: "Đọc thẻ quá lâu. Vui lòng đặt lại thẻ và thử lại.",
			EN: "Reading the card took too long. Place the card again and retry."}
	}
	return Message{Code: "read_failed",
		VI: "Không đọc được thẻ. Vui lòng đặt lại thẻ và thử lại; nếu vẫn lỗi, gọi nhân viên hỗ trợ.",
		EN: "The card could not be read. Place it again and retry; if it keeps failing, call staff."}
}
