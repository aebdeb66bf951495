package pcsc

import (
	"errors"
	"fmt"

	"github.com/ebfe/scard"
)

// Sentinel errors, testable with errors.Is. The messages are plain English so
// the daemon can show them to a technician as they are.
var (
	// ErrCardRemoved: the card left the reader (or was never there).
	ErrCardRemoved = errors.New("the card was removed from the reader")
	// ErrReaderGone: the reader is unplugged or unknown to pcscd.
	ErrReaderGone = errors.New("the card reader is not available")
	// ErrNoService: pcscd is not running or stopped while we used it.
	ErrNoService = errors.New("the smart card service (pcscd) is not running")
	// ErrCardReset: another application reset the card; any secure messaging
	// session on it is gone and the read must start again.
	ErrCardReset = errors.New("the card was reset by another application")
	// ErrNoReader: no reader matched the configured name pattern.
	ErrNoReader = errors.New("no card reader matches the configured name")
	// ErrClosed: the card handle was used after Close.
	ErrClosed = errors.New("the card connection is closed")
)

// Error is a failed PC/SC call. It matches one of the sentinel errors with
// errors.Is when the PC/SC code belongs to that class, and unwraps to the
// scard.Error code.
type Error struct {
	Op     string // the PC/SC call, e.g. "transmit"
	Reader string // empty for calls not tied to a reader
	Code   scard.Error
}

func (e *Error) Error() string {
	where := "pcsc: " + e.Op
	if e.Reader != "" {
		where += fmt.Sprintf(" on %q", e.Reader)
	}
	return fmt.Sprintf("%s: %s (%s)", where, describe(e.Code), codeName(e.Code))
}

// Is reports whether the code belongs to the class of target.
func (e *Error) Is(target error) bool {
	k := kind(e.Code)
	return k != nil && k == target
}

// Unwrap returns the PC/SC code.
func (e *Error) Unwrap() error { return e.Code }

// wrap turns an error from the scard package into an *Error; other errors pass
// through with context.
func wrap(op, reader string, err error) error {
	if err == nil {
		return nil
	}
	var code scard.Error
	if errors.As(err, &code) {
		return &Error{Op: op, Reader: reader, Code: code}
	}
	if reader != "" {
		return fmt.Errorf("pcsc: %s on %q: %w", op, reader, err)
	}
	return fmt.Errorf("pcsc: %s: %w", op, err)
}

func kind(c scard.Error) error {
	switch c {
	case scard.ErrRemovedCard, scard.ErrNoSmartcard:
		return ErrCardRemoved
	case scard.ErrReaderUnavailable, scard.ErrUnknownReader:
		return ErrReaderGone
	case scard.ErrNoService, scard.ErrServiceStopped:
		return ErrNoService
	case scard.ErrResetCard:
		return ErrCardReset
	case scard.ErrNoReadersAvailable:
		return ErrNoReader
	}
	return nil
}

// serviceLost reports codes after which the PC/SC context is useless and must
// be established again.
func serviceLost(err error) bool {
	var c scard.Error
	if !errors.As(err, &c) {
		return false
	}
	switch c {
	case scard.ErrNoService, scard.ErrServiceStopped, scard.ErrInvalidHandle,
		scard.ErrCommError, scard.ErrInternalError, scard.ErrNoMemory:
		return true
	}
	return false
}

// codes gives the codes a kiosk meets their symbolic name and a sentence a
// technician understands; others print as hex.
var codes = map[scard.Error]struct{ name, text string }{
	scard.ErrRemovedCard:        {"SCARD_W_REMOVED_CARD", "the card was removed"},
	scard.ErrNoSmartcard:        {"SCARD_E_NO_SMARTCARD", "no card in the reader"},
	scard.ErrReaderUnavailable:  {"SCARD_E_READER_UNAVAILABLE", "the reader is unavailable (unplugged?)"},
	scard.ErrUnknownReader:      {"SCARD_E_UNKNOWN_READER", "no reader with this name"},
	scard.ErrNoService:          {"SCARD_E_NO_SERVICE", "pcscd is not running"},
	scard.ErrServiceStopped:     {"SCARD_E_SERVICE_STOPPED", "pcscd stopped"},
	scard.ErrResetCard:          {"SCARD_W_RESET_CARD", "another application reset the card"},
	scard.ErrNoReadersAvailable: {"SCARD_E_NO_READERS_AVAILABLE", "no reader is connected"},
	scard.ErrSharingViolation:   {"SCARD_E_SHARING_VIOLATION", "another application holds the card exclusively"},
	scard.ErrUnresponsiveCard:   {"SCARD_W_UNRESPONSIVE_CARD", "the card does not answer (mute card)"},
	scard.ErrUnpoweredCard:      {"SCARD_W_UNPOWERED_CARD", "the card is not powered"},
	scard.ErrUnsupportedCard:    {"SCARD_W_UNSUPPORTED_CARD", "the card's ATR is not supported"},
	scard.ErrTimeout:            {"SCARD_E_TIMEOUT", "timed out"},
	scard.ErrCancelled:          {"SCARD_E_CANCELLED", "cancelled"},
	scard.ErrNotTransacted:      {"SCARD_E_NOT_TRANSACTED", "the command could not be sent to the card"},
	scard.ErrProtoMismatch:      {"SCARD_E_PROTO_MISMATCH", "the card speaks neither T=0 nor T=1"},
	scard.ErrInvalidHandle:      {"SCARD_E_INVALID_HANDLE", "the PC/SC handle is no longer valid"},
	scard.ErrCommError:          {"SCARD_F_COMM_ERROR", "communication with pcscd failed"},
	scard.ErrInternalError:      {"SCARD_F_INTERNAL_ERROR", "internal PC/SC error"},
}

func describe(c scard.Error) string {
	if d, ok := codes[c]; ok {
		return d.text
	}
	return "PC/SC error"
}

func codeName(c scard.Error) string {
	if d, ok := codes[c]; ok {
		return d.name
	}
	return fmt.Sprintf("0x%08X", uint32(c))
}
