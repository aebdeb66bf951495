package barcode

import (
	"context"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/daemon"
)

const (
	cardQR    = "079203012345|025123456|Nguyễn Văn An|15031990|Nam|12 Lê Lợi, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh|01072021"
	receiptQR = "HS1|H29.22-250315-0042|H29.22|250315"
	vietQR    = "00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA53037045405100005802VN62150811Chuyen tien630453E6"
)

func nextScan(t *testing.T, scans <-chan Scan) Scan {
	t.Helper()
	select {
	case sc, ok := <-scans:
		if !ok {
			t.Fatal("scan channel closed")
		}
		return sc
	case <-time.After(5 * time.Second):
		t.Fatal("no scan within 5s")
	}
	return Scan{}
}

func noScan(t *testing.T, scans <-chan Scan, within time.Duration) {
	t.Helper()
	select {
	case sc := <-scans:
		t.Fatalf("unexpected scan %q", sc.Payload)
	case <-time.After(within):
	}
}

func waitHealth(t *testing.T, s *Scanner, want daemon.State) daemon.Health {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h := s.Health()
		if h.State == want {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %+v, want %s", h, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stop(t *testing.T, s *Scanner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
