package outbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"

	"github.com/mattn/go-sqlite3"
)

// ForwardError is how a Forwarder classifies a failed delivery. Reason is shown in
// `kioskctl outbox`, kept in the database and logged, so it must be a short fact
// free of personal data ("HTTP 503", "timeout", "validation: MaTTHC unknown");
// Err is the cause, kept for errors.Is/As and never stored or logged, since a
// backend's answer may quote the filing back.
type ForwardError struct {
	Permanent bool
	Reason    string
	Err       error
}

func (e *ForwardError) Error() string {
	kind := "retryable"
	if e.Permanent {
		kind = "permanent"
	}
	if e.Err == nil {
		return kind + ": " + e.Reason
	}
	return kind + ": " + e.Reason + ": " + e.Err.Error()
}

func (e *ForwardError) Unwrap() error { return e.Err }

// Retryable marks a failure worth retrying later: the network, a timeout, a 5xx.
func Retryable(reason string, err error) error {
	return &ForwardError{Reason: reason, Err: err}
}

// Permanent marks a failure that retrying cannot fix, such as a 4xx validation
// answer: the filing goes straight to the dead letters for an operator.
func Permanent(reason string, err error) error {
	return &ForwardError{Permanent: true, Reason: reason, Err: err}
}

// IsPermanent reports whether err was classified Permanent. Unclassified errors
// are retryable: when in doubt the filing is kept and tried again.
func IsPermanent(err error) bool {
	var fe *ForwardError
	return errors.As(err, &fe) && fe.Permanent
}

// ClassifyHTTPStatus turns a backend's HTTP status into nil (2xx), Permanent (4xx,
// except 408 Request Timeout, 425 Too Early and 429 Too Many Requests, which say
// "later", and 401/403, which refuse the kiosk rather than the filing: an
// expired or missing client certificate is fixed on the kiosk and the filing
// then goes through) or Retryable (everything else: 5xx, and 1xx/3xx a
// forwarder did not expect).
func ClassifyHTTPStatus(code int) error {
	reason := fmt.Sprintf("HTTP %d", code)
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests,
		code == http.StatusUnauthorized, code == http.StatusForbidden:
		return Retryable(reason, nil)
	case code >= 400 && code < 500:
		return Permanent(reason, nil)
	default:
		return Retryable(reason, nil)
	}
}

// reasonOf is the personal-data-free text recorded for a failed delivery.
func reasonOf(err error) string {
	var fe *ForwardError
	if errors.As(err, &fe) {
		kind := "retryable"
		if fe.Permanent {
			kind = "permanent"
		}
		return truncate(kind+": "+fe.Reason, 200)
	}
	// Unclassified: name the kind of failure, never its text.
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "retryable: timeout"
	case errors.Is(err, context.Canceled):
		return "retryable: cancelled (kioskd stopping)"
	case errors.As(err, &ne) && ne.Timeout():
		return "retryable: network timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "retryable: connection refused"
	case errors.As(err, &ne):
		return "retryable: network error"
	}
	return fmt.Sprintf("retryable: unclassified %T", err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the reason stays valid UTF-8.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Citizen-facing text for a refused filing. It tells the citizen the filing was
// not submitted and where to go instead; it names no cause they could act on.
const (
	RefusedMessageVI = "Máy kiosk này tạm thời không nhận được hồ sơ. Hồ sơ của Quý vị CHƯA được gửi. " +
		"Xin mời Quý vị đến quầy tiếp nhận để được hỗ trợ."
	RefusedMessageEN = "This kiosk cannot accept filings right now. Your filing has NOT been submitted. " +
		"Please go to the reception counter for help."
)

// Causes of a refused filing, for errors.Is.
var (
	// ErrStorageFull: the disk (or the database's page limit) is full.
	ErrStorageFull = errors.New("outbox storage full")
	// ErrNotRunning: Enqueue before Start or after Stop.
	ErrNotRunning = errors.New("outbox not running")
)

// RefusedError is returned by Enqueue when the filing was not stored, for any
// reason other than the caller's own invalid input: the citizen must not be told
// "submitted". Nothing already queued is affected.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return "filing refused: " + e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Vietnamese is the message for the citizen in Vietnamese.
func (e *RefusedError) Vietnamese() string { return RefusedMessageVI }

// English is the message for the citizen in English.
func (e *RefusedError) English() string { return RefusedMessageEN }

// isFull reports whether a database error means there is no room to write:
// SQLITE_FULL (disk full, or max_page_count reached) or ENOSPC from the OS,
// which SQLite may also surface as an I/O error.
func isFull(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrFull || se.SystemErrno == syscall.ENOSPC) {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}

// refuse wraps a storage failure of Enqueue.
func refuse(op string, err error) error {
	if isFull(err) {
		return &RefusedError{Err: fmt.Errorf("%s: %w: %w", op, ErrStorageFull, err)}
	}
	return &RefusedError{Err: fmt.Errorf("%s: %w", op, err)}
}

// Errors of the operator calls.
var (
	ErrNotFound      = errors.New("no such outbox entry")
	ErrNotDeadLetter = errors.New("outbox entry is not dead-lettered")
	// ErrInvalidFiling is wrapped by Enqueue's input checks.
	ErrInvalidFiling = errors.New("invalid filing")
)
