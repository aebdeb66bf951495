package session

import (
	"context"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard"
	"github.com/vnkiosk/kiosk/devices/scanner"
	"github.com/vnkiosk/kiosk/kiosk/insurance"
	"github.com/vnkiosk/kiosk/kiosk/procedure"
)

// session is one citizen's visit: everything personal the kiosk holds, in one
// place, so that ending it can wipe all of it.
type session struct {
	id       string
	ctx      context.Context // cancelled when the session ends: stops its reads, scans, polls
	cancel   context.CancelFunc
	deadline time.Time
	busy     bool // a read, scan, payment wait or submission is running
	fromCard bool // began with a card on the reader: taking it away ends the session

	can      string
	keyError *Text
	reading  ReadingView

	doc      *idcard.Document
	photoURL string

	proc      *procedure.Procedure
	form      map[string]string
	fieldErrs map[string]Text

	atts     []*attachment
	scanning int
	scanPct  int
	scanErr  *Text

	consentAt time.Time

	maHoSo     string
	payPayload string
	payQR      string
	payExpires time.Time
	payState   string
	paidAt     time.Time

	done       *DoneView
	printJobs  map[string]bool // receipt or ticket jobs not yet printed
	printState string          // printing, printed, failed, none
	printErr   *Text

	dossier *DossierView

	// Hospital.
	pinFor, pinName string          // a staff member's card was read: their ID number and name
	pinErr          *Text           //
	techPIN         bool            // the PIN screen asks for the technician PIN
	insQuery        insurance.Query // what the insurance check asked, for a retry
	insName         string          // the name from a scanned card QR (staff mode)
	insState        string          // checking, done, not_configured; "" before any check
	ins             *insurance.Result
	pendingDept     string // the department chosen while the check ran
	ticket          *TicketView

	err   *ErrorView
	retry func() // what the error screen's retry does; nil: no retry
}

// attachment is one required document and the scans of its pages.
type attachment struct {
	name     string
	minPages int
	scans    []*scanner.Document // one per scan_page
	thumbs   []string            // data: URL per page, in order
}

func (a *attachment) pages() int {
	n := 0
	for _, d := range a.scans {
		n += len(d.Pages)
	}
	return n
}

// wipe drops every piece of personal data the session holds. Strings cannot be
// zeroed in Go; dropping the last reference is what leaves them to the
// collector, while byte slices (photo, scans) are zeroed in place.
func (s *session) wipe() {
	s.cancel()
	if s.doc != nil {
		s.doc.Wipe()
	}
	for _, a := range s.atts {
		for _, d := range a.scans {
			d.Wipe()
		}
	}
	clear(s.form)
	*s = session{id: s.id, cancel: s.cancel, ctx: s.ctx, fromCard: s.fromCard}
}
