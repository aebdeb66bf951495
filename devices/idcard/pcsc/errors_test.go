package pcsc

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/ebfe/scard"
)

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	sentinels := []error{ErrCardRemoved, ErrReaderGone, ErrNoService, ErrCardReset, ErrNoReader}
	tests := []struct {
		code scard.Error
		want error // nil: no class
		text string
	}{
		{scard.ErrRemovedCard, ErrCardRemoved, "the card was removed (SCARD_W_REMOVED_CARD)"},
		{scard.ErrNoSmartcard, ErrCardRemoved, "no card in the reader (SCARD_E_NO_SMARTCARD)"},
		{scard.ErrReaderUnavailable, ErrReaderGone, "reader is unavailable"},
		{scard.ErrUnknownReader, ErrReaderGone, "no reader with this name"},
		{scard.ErrNoService, ErrNoService, "pcscd is not running (SCARD_E_NO_SERVICE)"},
		{scard.ErrServiceStopped, ErrNoService, "pcscd stopped"},
		{scard.ErrResetCard, ErrCardReset, "another application reset the card"},
		{scard.ErrNoReadersAvailable, ErrNoReader, "no reader is connected"},
		{scard.ErrSharingViolation, nil, "holds the card exclusively"},
		{scard.Error(0x80100099), nil, "PC/SC error (0x80100099)"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%08X", uint32(tc.code)), func(t *testing.T) {
			t.Parallel()
			err := fmt.Errorf("read DG1: %w", wrap("transmit", "Virtual PCD 00 00", tc.code))
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tc.want) {
					t.Errorf("errors.Is(%v, %q) = %v", err, s, got)
				}
			}
			var code scard.Error
			if !errors.As(err, &code) || code != tc.code {
				t.Errorf("errors.As scard.Error = %v, want %v", code, tc.code)
			}
			msg := err.Error()
			if !strings.Contains(msg, `transmit on "Virtual PCD 00 00"`) || !strings.Contains(msg, tc.text) {
				t.Errorf("message %q lacks the call, the reader or %q", msg, tc.text)
			}
		})
	}
}

func TestWrapOther(t *testing.T) {
	t.Parallel()
	if wrap("x", "", nil) != nil {
		t.Error("wrap(nil) != nil")
	}
	err := wrap("transmit", "R", context.Canceled)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrCardRemoved) {
		t.Errorf("wrap kept the wrong identity: %v", err)
	}
	if !serviceLost(wrap("get status change", "", scard.ErrNoService)) || serviceLost(err) {
		t.Error("serviceLost misclassifies")
	}
}

func TestMatchReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, reader string
		want            bool
	}{
		{"", "anything 00 00", true},
		{"Virtual PCD*", "Virtual PCD 00 01", true},
		{"Virtual PCD 00 0?", "Virtual PCD 00 01", true},
		{"Virtual PCD 00 00", "Virtual PCD 00 01", false},
		{"ACS ACR1252*PICC*", "ACS ACR1252 Dual Reader [ACR1252 Dual Reader PICC] 00 01", true},
		{"*", "a/b", false}, // path.Match: * stops at /
		{"[", "[", false},   // malformed pattern matches nothing
	}
	for _, tc := range tests {
		if got := MatchReader(tc.pattern, tc.reader); got != tc.want {
			t.Errorf("MatchReader(%q, %q) = %v, want %v", tc.pattern, tc.reader, got, tc.want)
		}
	}
}

func TestListReadersBadPattern(t *testing.T) {
	t.Parallel()
	// The pattern is checked before pcscd is asked, so no service is needed.
	var c Context
	if _, err := c.ListReaders("Virtual[PCD"); !errors.Is(err, path.ErrBadPattern) {
		t.Errorf("ListReaders(bad pattern) = %v, want path.ErrBadPattern", err)
	}
}

// TestTransmitRejects checks what must never reach libpcsclite: scard.Card
// panics on an empty command, and a closed card has no handle.
func TestTransmitRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		card *Card
		cmd  []byte
	}{
		{"empty", &Card{}, nil},
		{"shorter than a header", &Card{}, []byte{0x00, 0xA4, 0x04}},
		{"longer than pcsc-lite takes", &Card{}, make([]byte, maxCommand+1)},
		{"closed", &Card{closed: true}, []byte{0x00, 0xA4, 0x04, 0x0C}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tc.card.Transmit(ctx, tc.cmd); err == nil {
				t.Error("Transmit succeeded")
			}
		})
	}
	stranded := &Card{}
	stranded.stranded.Store(true)
	if err := stranded.Transaction(ctx, func() error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Transaction on a stranded card = %v, want ErrClosed", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (&Card{}).Transmit(cancelled, []byte{0, 0xA4, 0, 0}); !errors.Is(err, context.Canceled) {
		t.Errorf("Transmit with a cancelled context = %v", err)
	}
}
