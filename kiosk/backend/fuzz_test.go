package backend

import (
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary answers to every decoder of network input: none
// may panic, and whatever they accept must hold the invariants the kiosk relies
// on.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"ma_ho_so":"A-1","received_at":"2026-01-01T08:00:00Z"}`,
		`{"ma_ho_so":"A-1","trang_thai_ho_so":4,"label":"x"}`,
		`{"ma_ho_so":"A-1","trang_thai_ho_so":11}`,
		`{"ref":"A-1","status":"paid","paid_at":"2026-01-01T08:00:00Z"}`,
		`{"ref":"A-1","status":"paid"}`,
		`{"ref":"A-1","status":"pending","paid_at":"2026-01-01T08:00:00Z"}`,
		`{"code":"validation","message":"Nguyễn"}`,
		`{"code":"Bad Code"}`,
		`null`, `[]`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := decodeAck(b, "A-1"); err == nil {
			if a.MaHoSo != "A-1" || a.ReceivedAt.IsZero() {
				t.Fatalf("accepted ack %+v", a)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("ack error not ErrMalformed: %v", err)
		}
		if s, err := decodeStatus(b, "A-1"); err == nil {
			want, ok := TrangThaiLabel(s.TrangThaiHoSo)
			if !ok || s.Label != want || s.MaHoSo != "A-1" {
				t.Fatalf("accepted status %+v", s)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("status error not ErrMalformed: %v", err)
		}
		if p, err := decodePayment(b, "A-1"); err == nil {
			switch {
			case p.Ref != "A-1":
				t.Fatalf("accepted payment %+v", p)
			case p.Status == PaymentPaid && p.PaidAt.IsZero():
				t.Fatalf("paid without time: %+v", p)
			case p.Status != PaymentPaid && (p.Status != PaymentPending && p.Status != PaymentExpired || !p.PaidAt.IsZero()):
				t.Fatalf("accepted payment %+v", p)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("payment error not ErrMalformed: %v", err)
		}
		code := errorCode(b)
		if len(code) > 32 {
			t.Fatalf("error code %q too long", code)
		}
		for _, c := range code {
			if (c < 'a' || c > 'z') && c != '_' {
				t.Fatalf("error code %q", code)
			}
		}
	})
}

func TestTrangThaiLabel(t *testing.T) {
	for code := range 12 {
		l, ok := TrangThaiLabel(code)
		if ok != (code >= 1 && code <= 10) || ok == (l == "") {
			t.Errorf("TrangThaiLabel(%d) = %q, %v", code, l, ok)
		}
	}
	if l, _ := TrangThaiLabel(9); l != "Đã giải quyết xong" {
		t.Errorf("label of 9: %q", l)
	}
}
