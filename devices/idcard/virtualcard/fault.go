package virtualcard

import (
	"fmt"
	"strings"
)

// Fault is a way for the card to misbehave, so that the kiosk's error paths can
// be tested end to end. Every fault but FaultSlow strikes the READ BINARY that
// carries the middle byte of DG2 — the longest read, where a real card is most
// likely to be moved — and strikes every time that read happens: a card made with
// a fault never reads correctly, and "the next card reads fine" means a new Card
// without the fault. A read that skips the photo never meets the fault.
// Card.FaultsFired counts the strikes.
type Fault string

// Faults.
const (
	FaultNone Fault = ""
	// FaultWrongMAC corrupts the MAC (DO'8E') of the protected answer.
	FaultWrongMAC Fault = "wrong-mac"
	// FaultTruncated cuts the protected answer in half, losing DO'99' and DO'8E'.
	FaultTruncated Fault = "truncated"
	// FaultRemoval pulls the card out instead of answering: through vpcd the slot
	// is removed (pcscd reports the card gone), through Transport the command
	// fails with ErrRemoved. The card stays out until powered on again.
	FaultRemoval Fault = "removal"
	// FaultSlow delays every answer by Options.SlowDelay (DefaultSlowDelay).
	FaultSlow Fault = "slow"
	// FaultGarbage answers with random bytes of the protected answer's length and
	// status 9000.
	FaultGarbage Fault = "garbage"
)

// Faults lists every fault, for help texts.
func Faults() []Fault {
	return []Fault{FaultWrongMAC, FaultTruncated, FaultRemoval, FaultSlow, FaultGarbage}
}

// ParseFault checks a fault name from the command line; "" and "none" are
// FaultNone.
func ParseFault(s string) (Fault, error) {
	if s == "" || s == "none" {
		return FaultNone, nil
	}
	names := make([]string, 0, 5)
	for _, f := range Faults() {
		if string(f) == s {
			return f, nil
		}
		names = append(names, string(f))
	}
	return "", fmt.Errorf("virtualcard: unknown fault %q (want one of %s)", s, strings.Join(names, ", "))
}

// strikesReads reports whether the fault acts on a READ BINARY answer.
func (f Fault) strikesReads() bool {
	return f != FaultNone && f != FaultSlow
}
