// Package pcsctest owns what integration tests need to reach pcscd and its two
// vpcd virtual readers: the skip-or-fail policy when pcscd is absent, the name
// and card-side address of each slot, a cross-process lock per slot so the
// repository's test binaries (which `go test ./...` runs in parallel) never put
// two cards into one slot, and helpers to insert a virtual card and connect to
// it once pcscd has powered it.
package pcsctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"
	"github.com/vnkiosk/kiosk/devices/idcard/pcsc"
	"github.com/vnkiosk/kiosk/devices/idcard/vpcd"
)

// EnvRequire names the environment variable that turns a missing pcscd from a
// skip into a failure; `make test` sets it to 1 after starting pcscd, so CI can
// never pass by skipping every integration test.
const EnvRequire = "KIOSK_REQUIRE_PCSCD"

// Slot is one vpcd virtual reader: the PC/SC reader name and the TCP address
// the virtual card dials.
type Slot struct {
	Index  int
	Reader string
	Addr   string
}

// Slots are the two readers vsmartcard-vpcd registers in pcscd (reader.conf
// CHANNELID 0x8C7B = port 35963; the second slot listens on the next port).
var Slots = [2]Slot{
	{Index: 0, Reader: "Virtual PCD 00 00", Addr: "127.0.0.1:35963"},
	{Index: 1, Reader: "Virtual PCD 00 01", Addr: "127.0.0.1:35964"},
}

// Require skips the test when pcscd or its virtual readers are not reachable,
// or fails it when EnvRequire is "1". The check runs once per process.
func Require(tb testing.TB) {
	tb.Helper()
	if err := check(); err != nil {
		if os.Getenv(EnvRequire) == "1" {
			tb.Fatalf("pcscd with vpcd is required (%s=1): %v", EnvRequire, err)
		}
		tb.Skipf("pcscd with vpcd not reachable (set %s=1 to fail instead): %v", EnvRequire, err)
	}
}

var check = sync.OnceValue(func() error {
	c, err := pcsc.Establish()
	if err != nil {
		return err
	}
	defer c.Release()
	for _, s := range Slots {
		if _, err := c.ListReaders(s.Reader); err != nil {
			return fmt.Errorf("vpcd reader %q: %w", s.Reader, err)
		}
	}
	return nil
})

// Acquire calls Require, then takes slot index for the rest of the test,
// waiting while a test in this or another process holds it. The lock is a
// flock(2) on a file in os.TempDir(), so the kernel releases it even when a test
// binary crashes. A test that needs both slots takes 0 before 1, so two such
// tests cannot deadlock; AcquireAny holds one slot only.
func Acquire(tb testing.TB, index int) Slot {
	tb.Helper()
	Require(tb)
	if index < 0 || index >= len(Slots) {
		tb.Fatalf("pcsctest: no slot %d", index)
	}
	return acquire(tb, []int{index})
}

// AcquireAny is Acquire for whichever slot frees up first.
func AcquireAny(tb testing.TB) Slot {
	tb.Helper()
	Require(tb)
	return acquire(tb, []int{0, 1})
}

func acquire(tb testing.TB, indexes []int) Slot {
	tb.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if t, ok := d.Deadline(); ok && t.Add(-10*time.Second).Before(deadline) {
			deadline = t.Add(-10 * time.Second)
		}
	}
	for {
		for _, i := range indexes {
			f, err := tryLock(i)
			if err != nil {
				tb.Fatalf("pcsctest: lock slot %d: %v", i, err)
			}
			if f != nil {
				tb.Cleanup(func() { f.Close() }) // closing drops the flock
				return Slots[i]
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pcsctest: slots %v still held by other tests at the deadline", indexes)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// LockPath is the lock file of slot index.
func LockPath(index int) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("kiosk-vpcd-slot-%d.lock", index))
}

// tryLock returns the locked file, or nil when another holder has it.
func tryLock(index int) (*os.File, error) {
	f, err := os.OpenFile(LockPath(index), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, nil
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Insert puts card into s until the test ends, failing the test if the slot
// stopped with an error other than a deliberate removal. It first waits until
// pcscd reports the reader empty: vpcd only notices that a card went away when
// it next talks to it, so a card inserted right after another was pulled would
// inherit the old card's state in pcscd (never powered, stale ATR). It returns
// once pcscd reports a card with card's ATR in the reader, and fails the test
// if another card shows up there: something inserted a card without holding
// the slot.
func Insert(tb testing.TB, s Slot, card vpcd.Card, opt ...vpcd.Option) *vpcd.Slot {
	tb.Helper()
	WaitEmpty(tb, s.Reader)
	vs, err := vpcd.Insert(context.Background(), s.Addr, card, opt...)
	if err != nil {
		tb.Fatalf("pcsctest: insert card into %q: %v", s.Reader, err)
	}
	tb.Cleanup(func() {
		vs.Remove()
		if err := vs.Wait(); err != nil {
			tb.Errorf("pcsctest: virtual card in %q: %v", s.Reader, err)
		}
	})
	waitATR(tb, s.Reader, card.ATR())
	return vs
}

// waitATR waits until pcscd reports a card in reader and checks its ATR. It
// connects with SCARD_LEAVE_CARD only, for the reason WaitEmpty gives.
func waitATR(tb testing.TB, reader string, want []byte) {
	tb.Helper()
	c, err := scard.EstablishContext()
	if err != nil {
		tb.Fatalf("pcsctest: wait for the card in %q: %v", reader, err)
	}
	defer c.Release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, err := c.Connect(reader, scard.ShareShared, scard.ProtocolAny)
		if err == nil {
			st, serr := h.Status()
			h.Disconnect(scard.LeaveCard)
			if serr == nil {
				if !bytes.Equal(st.Atr, want) {
					tb.Fatalf("pcsctest: %q holds a card with ATR % X, not ours (% X): "+
						"something inserted a card without pcsctest.Acquire", reader, st.Atr, want)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pcsctest: pcscd never saw the card in %q: %v", reader, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitEmpty waits until pcscd reports no card in reader. It only connects
// and disconnects with SCARD_LEAVE_CARD, never resets: resetting a card whose
// vpcd connection is already gone fails inside pcscd, which then marks the
// reader empty without its event thread noticing, and the next virtual card
// in that slot is never seen.
func WaitEmpty(tb testing.TB, reader string) {
	tb.Helper()
	c, err := scard.EstablishContext()
	if err != nil {
		tb.Fatalf("pcsctest: wait for %q to be empty: %v", reader, err)
	}
	defer c.Release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, err := c.Connect(reader, scard.ShareShared, scard.ProtocolAny)
		if errors.Is(err, scard.ErrNoSmartcard) {
			return
		}
		if err == nil {
			h.Disconnect(scard.LeaveCard)
		} else if !transientWhileSwapping(err) {
			tb.Fatalf("pcsctest: wait for %q to be empty: %v", reader, err)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pcsctest: %q still holds a card; did a test leave one inserted?", reader)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// transientWhileSwapping reports the errors pcscd gives while it has not yet
// caught up with a card that vpcd dropped: a mute or unpowered card, a protocol
// mismatch against the old card's negotiated protocol, a removal or reset in
// flight. They clear on their own, so waiting goes on.
func transientWhileSwapping(err error) bool {
	for _, e := range []error{scard.ErrUnresponsiveCard, scard.ErrUnpoweredCard, scard.ErrProtoMismatch,
		scard.ErrRemovedCard, scard.ErrResetCard} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Connect connects to the card in reader, retrying while pcscd has not yet
// noticed the insertion (vpcd polls for it), and closes it when the test ends.
func Connect(tb testing.TB, ctx context.Context, reader string) *pcsc.Card {
	tb.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		c, err := pcsc.Connect(ctx, reader)
		if err == nil {
			tb.Cleanup(func() { c.Close() })
			return c
		}
		if !errors.Is(err, pcsc.ErrCardRemoved) {
			tb.Fatalf("pcsctest: connect to %q: %v", reader, err)
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("pcsctest: no card seen in %q: %v", reader, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
