package escpos

import (
	"errors"
	"fmt"
	"strings"
)

// StatusKind is the n of DLE EOT n: which status byte the printer transmits.
type StatusKind byte

// The four real-time status bytes.
const (
	PrinterStatus StatusKind = 1 // online/offline
	OfflineCause  StatusKind = 2 // cover, paper-end stop, error
	ErrorCause    StatusKind = 3 // cutter, mechanical, unrecoverable
	PaperStatus   StatusKind = 4 // roll paper sensors
)

// StatusKinds lists the requests in the order a full status read sends them.
var StatusKinds = []StatusKind{PrinterStatus, OfflineCause, ErrorCause, PaperStatus}

// StatusRequest is DLE EOT n. It is a real-time command: the printer answers
// on receipt, ahead of data waiting in its buffer, even while offline.
func StatusRequest(n StatusKind) []byte { return []byte{DLE, EOT, byte(n)} }

// Every DLE EOT answer has bit 1 and bit 4 set and bits 0 and 7 clear.
const (
	statusFixedMask  = 0x93
	statusFixedValue = 0x12
)

// ErrStatusByte reports a byte that is not a valid answer (line noise, a
// non-ESC/POS device, a misrouted byte).
var ErrStatusByte = errors.New("escpos: not a status answer")

// IsStatusAnswer reports whether b has the fixed bits of a DLE EOT answer.
func IsStatusAnswer(b byte) bool { return b&statusFixedMask == statusFixedValue }

// Status is what the four DLE EOT answers say. Zero is a healthy printer.
type Status struct {
	// DLE EOT 1
	Offline         bool // bit 3
	WaitingRecovery bool // bit 5: waiting to come back online after an error
	FeedButton      bool // bit 6: the feed button is held down
	// DLE EOT 2
	CoverOpen     bool // bit 2
	ButtonFeeding bool // bit 3: paper is being fed by the button
	PaperEndStop  bool // bit 5: printing stopped because the paper ran out
	ErrorOccurred bool // bit 6
	// DLE EOT 3
	MechanicalError bool // bit 2 (paper jam, head lever)
	CutterError     bool // bit 3
	Unrecoverable   bool // bit 5: power-cycle the printer
	AutoRecoverable bool // bit 6: head too hot and the like; clears by itself
	// DLE EOT 4
	PaperNearEnd bool // bits 2-3
	PaperEnd     bool // bits 5-6
}

// Decode merges the answer b to DLE EOT n into s.
func (s *Status) Decode(n StatusKind, b byte) error {
	if !IsStatusAnswer(b) {
		return fmt.Errorf("%w: 0x%02x to DLE EOT %d", ErrStatusByte, b, n)
	}
	bit := func(i uint) bool { return b&(1<<i) != 0 }
	switch n {
	case PrinterStatus:
		s.Offline, s.WaitingRecovery, s.FeedButton = bit(3), bit(5), bit(6)
	case OfflineCause:
		s.CoverOpen, s.ButtonFeeding, s.PaperEndStop, s.ErrorOccurred = bit(2), bit(3), bit(5), bit(6)
	case ErrorCause:
		s.MechanicalError, s.CutterError, s.Unrecoverable, s.AutoRecoverable = bit(2), bit(3), bit(5), bit(6)
	case PaperStatus:
		// Both bits of each pair are set by Epson; some clones set only one.
		s.PaperNearEnd, s.PaperEnd = b&0x0C != 0, b&0x60 != 0
	default:
		return fmt.Errorf("escpos: DLE EOT %d is not a status request", n)
	}
	return nil
}

// Answer is the byte a printer in state s transmits for DLE EOT n; the
// simulator answers with it and tests round-trip it through Decode.
func (s Status) Answer(n StatusKind) byte {
	b := byte(statusFixedValue)
	set := func(v bool, mask byte) {
		if v {
			b |= mask
		}
	}
	switch n {
	case PrinterStatus:
		set(s.Offline, 1<<3)
		set(s.WaitingRecovery, 1<<5)
		set(s.FeedButton, 1<<6)
	case OfflineCause:
		set(s.CoverOpen, 1<<2)
		set(s.ButtonFeeding, 1<<3)
		set(s.PaperEndStop, 1<<5)
		set(s.ErrorOccurred, 1<<6)
	case ErrorCause:
		set(s.MechanicalError, 1<<2)
		set(s.CutterError, 1<<3)
		set(s.Unrecoverable, 1<<5)
		set(s.AutoRecoverable, 1<<6)
	case PaperStatus:
		set(s.PaperNearEnd, 0x0C)
		set(s.PaperEnd, 0x60)
	}
	return b
}

// CanPrint reports whether a ticket sent now would print.
func (s Status) CanPrint() bool {
	return !s.Offline && !s.CoverOpen && !s.PaperEnd && !s.PaperEndStop && !s.Faulty()
}

// Faulty reports an error condition: a ticket printed while it held may be
// incomplete or stuck in the cutter.
func (s Status) Faulty() bool {
	return s.ErrorOccurred || s.MechanicalError || s.CutterError || s.Unrecoverable || s.AutoRecoverable
}

// String lists the conditions that are set, or "ok".
func (s Status) String() string {
	var parts []string
	add := func(v bool, name string) {
		if v {
			parts = append(parts, name)
		}
	}
	add(s.Offline, "offline")
	add(s.WaitingRecovery, "waiting-recovery")
	add(s.FeedButton, "feed-button")
	add(s.CoverOpen, "cover-open")
	add(s.ButtonFeeding, "button-feeding")
	add(s.PaperEndStop, "paper-end-stop")
	add(s.ErrorOccurred, "error")
	add(s.MechanicalError, "mechanical-error")
	add(s.CutterError, "cutter-error")
	add(s.Unrecoverable, "unrecoverable-error")
	add(s.AutoRecoverable, "auto-recoverable-error")
	add(s.PaperNearEnd, "paper-near-end")
	add(s.PaperEnd, "paper-end")
	if len(parts) == 0 {
		return "ok"
	}
	return strings.Join(parts, ",")
}

// PaperSensor is the answer to GS r 1.
type PaperSensor struct {
	NearEnd, End bool
}

// IsPaperSensorAnswer reports whether b can be a GS r 1 answer: bits 4 and 7
// are fixed at 0, which no DLE EOT answer has.
func IsPaperSensorAnswer(b byte) bool { return b&0x90 == 0 }

// DecodePaperSensor decodes the answer to GS r 1.
func DecodePaperSensor(b byte) (PaperSensor, error) {
	if !IsPaperSensorAnswer(b) {
		return PaperSensor{}, fmt.Errorf("%w: 0x%02x to GS r 1", ErrStatusByte, b)
	}
	return PaperSensor{NearEnd: b&0x03 != 0, End: b&0x0C != 0}, nil
}

// Answer is the byte a printer transmits for GS r 1.
func (p PaperSensor) Answer() byte {
	var b byte
	if p.NearEnd {
		b |= 0x03
	}
	if p.End {
		b |= 0x0C
	}
	return b
}
