package virtualcard

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/pace"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc/pcsctest"
)

// TestThroughPCSCD inserts the card into pcscd's virtual reader and opens it with
// PACE through libpcsclite, as the kiosk does; then the removal fault pulls it
// out in the middle of DG2. It skips without pcscd unless KIOSK_REQUIRE_PCSCD=1.
func TestThroughPCSCD(t *testing.T) {
	t.Parallel()
	s := pcsctest.AcquireAny(t)
	// vpcd notices a pulled card only when it next talks to it: wait until pcscd
	// reports the slot empty, or the new card inherits the old one's state.
	pcsctest.WaitEmpty(t, s.Reader)
	card := newCard(t, Options{AAKey: AAECDSA, Extended: true, Fault: FaultRemoval})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slot, err := Serve(ctx, s.Addr, card)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		slot.Remove()
		if err := slot.Wait(); err != nil {
			t.Errorf("slot: %v", err)
		}
	})
	pc := pcsctest.Connect(t, ctx, s.Reader)
	if !bytes.Equal(pc.ATR(), card.ATR()) || !idcard.ATRAllowsExtended(pc.ATR()) {
		t.Errorf("ATR through pcscd % X, card's % X", pc.ATR(), card.ATR())
	}
	conn := iso7816.NewConn(pc)
	conn.Extended = true
	ch, err := openPACE(ctx, conn, pace.Password{Kind: pace.CAN, Value: card.CAN()})
	if err != nil {
		t.Fatal(err)
	}
	dg1, err := readWhole(ctx, ch, dataGroup(1), 0xFF00)
	if err != nil || !bytes.Equal(dg1, mustFile(t, card, dataGroup(1))) {
		t.Fatalf("DG1 through pcscd: %x %v", dg1, err)
	}
	if _, err := readWhole(ctx, ch, dataGroup(2), 0xFF00); err == nil {
		t.Fatal("DG2 read succeeded although the card pulled itself out")
	}
	select {
	case <-slot.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the slot still serves after the removal fault")
	}
	if card.FaultsFired() != 1 {
		t.Errorf("fault fired %d times", card.FaultsFired())
	}
}
