package printer

import "github.com/vnkiosk/kiosk/devices/printer/escpos"

// Notice is a message for a citizen or technician in Vietnamese and English.
type Notice struct {
	VI, EN string
}

// IsZero reports an empty notice: nothing to tell.
func (n Notice) IsZero() bool { return n.VI == "" && n.EN == "" }

// Notices the printer reports.
var (
	NoticeNotConfigured = Notice{"Ki-ốt này không có máy in.", "This kiosk has no printer."}
	NoticeUnreachable   = Notice{"Không kết nối được máy in. Vui lòng báo nhân viên.", "The printer cannot be reached. Please tell a staff member."}
	NoticeNoStatus      = Notice{"Máy in không trả lời. Vui lòng báo nhân viên.", "The printer does not answer. Please tell a staff member."}
	NoticePaperEnd      = Notice{"Máy in hết giấy. Vui lòng báo nhân viên.", "The printer is out of paper. Please tell a staff member."}
	NoticePaperNearEnd  = Notice{"Máy in sắp hết giấy.", "The printer is running out of paper."}
	NoticeCoverOpen     = Notice{"Nắp máy in đang mở.", "The printer cover is open."}
	NoticeCutterError   = Notice{"Dao cắt giấy của máy in bị kẹt. Vui lòng báo nhân viên.", "The printer's paper cutter is jammed. Please tell a staff member."}
	NoticeFault         = Notice{"Máy in đang báo lỗi. Vui lòng báo nhân viên.", "The printer reports an error. Please tell a staff member."}
	NoticeOffline       = Notice{"Máy in đang tạm dừng.", "The printer is offline."}
	NoticeStalled       = Notice{"Máy in dừng giữa chừng: kiểm tra giấy và nắp máy.", "The printer stopped in the middle of a ticket: check the paper and the cover."}
	NoticeQueued        = Notice{"Phiếu sẽ được in ngay khi máy in sẵn sàng.", "Your ticket will print as soon as the printer is ready."}
	NoticePrinted       = Notice{"Đã in xong. Vui lòng nhận phiếu.", "Printed. Please take your ticket."}
	NoticeReprint       = Notice{"Máy in gặp lỗi sau khi in; phiếu sẽ được in lại.", "The printer reported an error after printing; the ticket will print again."}
	NoticeDropped       = Notice{"Không in được phiếu. Vui lòng báo nhân viên.", "The ticket could not be printed. Please tell a staff member."}
)

// StatusNotice explains a printer status; the zero Notice when it can print
// and has nothing to report.
func StatusNotice(st escpos.Status) Notice {
	switch {
	case st.CutterError:
		return NoticeCutterError
	case st.Faulty():
		return NoticeFault
	case st.CoverOpen:
		return NoticeCoverOpen
	case st.PaperEnd || st.PaperEndStop:
		return NoticePaperEnd
	case st.Offline:
		return NoticeOffline
	case st.PaperNearEnd:
		return NoticePaperNearEnd
	}
	return Notice{}
}
