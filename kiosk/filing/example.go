package filing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
)

// SampleDocument returns the built-in sample citizen: fictional data, the same as
// the virtual card's nguyen-van-an profile.
func SampleDocument() *idcard.Document {
	s := func(v string) *string { return &v }
	return &idcard.Document{
		IDNumber:            s("001083012345"),
		DocumentNumber:      s("083012345"),
		FullName:            s("Nguyễn Văn An"),
		DateOfBirth:         s("1983-03-15"),
		Sex:                 s("Nam"),
		Nationality:         s("Việt Nam"),
		Ethnicity:           s("Kinh"),
		Religion:            s("Không"),
		PlaceOfOrigin:       s("Xã Mẫu Thủy, Huyện Ví Dụ, Hà Nội"),
		PlaceOfResidence:    s("Số 12 ngõ Ví Dụ, Phường Hàng Bạc, Quận Hoàn Kiếm, Hà Nội"),
		IdentifyingFeatures: s("Nốt ruồi C:1cm trên trước đầu mày phải"),
		DateOfIssue:         s("2021-04-10"),
		DateOfExpiry:        s("2043-03-15"),
		FatherName:          s("Nguyễn Văn Bình"),
		MotherName:          s("Lê Thị Cúc"),
		SpouseName:          s("Trần Thị Dung"),
		OldIDNumber:         s("012345678"),
	}
}

// Example returns a complete, valid filing for the procedure with code, built from
// the sample citizen, the catalogue's example values, and fixed fictional times,
// agency, kiosk and hashes.
func Example(code string) (*Filing, error) {
	p, err := procedure.ByCode(code)
	if err != nil {
		return nil, err
	}
	doc := SampleDocument()
	form := p.Prefill(doc)
	for _, fl := range p.Fields {
		if fl.Chip == "" {
			form[fl.Key] = fl.Example
		}
	}
	created := time.Date(2026, 1, 15, 9, 30, 0, 0, Vietnam)
	id, err := NewMaHoSo("000.31.20.H29", created, 1)
	if err != nil {
		return nil, err
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	f := &Filing{
		MaHoSo:        id,
		ProcedureCode: p.Code,
		ProcedureName: p.NameVI,
		Applicant: Applicant{
			IDNumber: *doc.IDNumber, FullName: *doc.FullName, DateOfBirth: *doc.DateOfBirth, Sex: *doc.Sex,
			Phone: form["phone"],
		},
		Form:      form,
		Fee:       Fee{AmountVND: p.Fee.AmountVND},
		Consent:   Consent{TextVersion: "2026-01", AcceptedAt: created.Add(-5 * time.Minute)},
		Evidence:  Evidence{Access: "PACE-CAN", PassiveState: "valid", SODSHA256: sum("sample SOD"), ChipAuth: idcard.AuthOK, ActiveAuth: idcard.AuthNotSupported},
		KioskID:   "KIOSK-HB-01",
		CreatedAt: created,
	}
	for i, a := range p.Attachments {
		f.Attachments = append(f.Attachments, Attachment{
			Name: a.Name, ContentType: "application/pdf", Pages: a.MinPages,
			SHA256: sum(fmt.Sprintf("sample attachment %d", i)),
		})
	}
	if p.Fee.AmountVND > 0 {
		paid := created.Add(-2 * time.Minute)
		f.Fee.Reference = "VQR" + id
		f.Fee.PaidAt = &paid
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("example filing is not valid: %w", err)
	}
	return f, nil
}
