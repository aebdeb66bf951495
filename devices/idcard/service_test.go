package idcard_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc/pcsctest"
	"github.com/vnkiosk/kiosk/devices/idcard/virtualcard"
	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/logging"
)

// TestService runs the daemon's card_reader subsystem against pcscd: health
// follows the reader pattern, card events reach a subscriber, and a read through
// the service is counted by result.
func TestService(t *testing.T) {
	s := pcsctest.AcquireAny(t)
	pcsctest.WaitEmpty(t, s.Reader)
	cfg, err := config.Parse("t.yaml", []byte("kiosk:\n  id: T\nsite:\n  code: X\ndevices:\n  card_reader:\n    reader: \""+s.Reader+"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	var logs strings.Builder
	svc := idcard.NewService(cfg, logging.New(&logs, nil), reg)
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer svc.Stop(context.Background())
	waitHealth(t, svc, daemon.StateOK)

	events, cancel := svc.Subscribe()
	defer cancel()
	card := newCard(t, virtualcard.Options{})
	insert(t, s, card)
	waitEvent(t, events, pcsc.CardInserted, s.Reader)

	key, _ := idcard.KeyFromCAN(card.CAN())
	doc, err := svc.Read(context.Background(), key, idcard.Options{NoPhoto: true})
	if err != nil {
		t.Fatal(err)
	}
	if doc.FullName == nil {
		t.Error("no name read")
	}
	bad, _ := idcard.KeyFromCAN("999999")
	if _, err := svc.Read(context.Background(), bad, idcard.Options{}); err == nil {
		t.Error("wrong CAN read")
	}
	if n := testutil.ToFloat64(svc.Reads().WithLabelValues("ok")); n != 1 {
		t.Errorf("ok reads counted %v", n)
	}
	if n := testutil.ToFloat64(svc.Reads().WithLabelValues("access_denied")); n != 1 {
		t.Errorf("access_denied reads counted %v", n)
	}
	if n, err := testutil.GatherAndCount(reg, "kioskd_card_apdu_seconds"); err != nil || n == 0 {
		t.Errorf("no APDU latency series (%d, %v)", n, err)
	}
	// The service logs each read without personal data.
	for _, secret := range []string{*doc.FullName, *doc.IDNumber, card.CAN()} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains personal data %q:\n%s", secret, logs.String())
		}
	}

	cfg.Devices.CardReader.Reader = "No Such Reader*"
	if err := svc.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, svc, daemon.StateAbsent)
}

func waitHealth(t *testing.T, svc *idcard.Service, want daemon.State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h := svc.Health()
		if h.State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %+v, want %s", h, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitEvent(t *testing.T, ch <-chan pcsc.Event, kind pcsc.EventKind, reader string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Kind == kind && ev.Reader == reader {
				return
			}
		case <-timeout:
			t.Fatalf("no %s on %q", kind, reader)
		}
	}
}
