package outbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/mattn/go-sqlite3"
)

func TestClassifyHTTPStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code      int
		ok        bool
		permanent bool
	}{
		{200, true, false}, {201, true, false}, {204, true, false},
		{400, false, true}, {404, false, true}, {409, false, true}, {422, false, true},
		{408, false, false}, {425, false, false}, {429, false, false}, {401, false, false}, {403, false, false},
		{500, false, false}, {502, false, false}, {503, false, false}, {504, false, false},
		{302, false, false}, {100, false, false},
	}
	for _, tc := range tests {
		err := ClassifyHTTPStatus(tc.code)
		if (err == nil) != tc.ok || IsPermanent(err) != tc.permanent {
			t.Errorf("HTTP %d: err=%v permanent=%v; want ok=%v permanent=%v", tc.code, err, IsPermanent(err), tc.ok, tc.permanent)
		}
	}
}

// TestReasonOfHasNoPersonalData: the reason is stored, shown and logged, so the
// text of an unclassified error (which may quote the backend's answer) must not
// reach it, nor the wrapped cause of a classified one.
func TestReasonOfHasNoPersonalData(t *testing.T) {
	t.Parallel()
	pii := "Nguyễn Văn An 001099012345"
	tests := []struct {
		err  error
		want string
	}{
		{Permanent("validation: MaTTHC unknown", errors.New(pii)), "permanent: validation: MaTTHC unknown"},
		{Retryable("HTTP 503", errors.New(pii)), "retryable: HTTP 503"},
		{fmt.Errorf("post: %w", context.DeadlineExceeded), "retryable: timeout"},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, "retryable: connection refused"},
		{&net.OpError{Op: "read", Err: errors.New(pii)}, "retryable: network error"},
		{errors.New(pii), "retryable: unclassified *errors.errorString"},
	}
	for _, tc := range tests {
		got := reasonOf(tc.err)
		if got != tc.want {
			t.Errorf("reasonOf(%T) = %q, want %q", tc.err, got, tc.want)
		}
		if strings.Contains(got, "Nguyễn") || strings.Contains(got, "001099012345") {
			t.Errorf("reason leaks personal data: %q", got)
		}
	}
	if got := reasonOf(Retryable(strings.Repeat("ệ", 200), nil)); len(got) > 200 || !strings.HasPrefix(got, "retryable: ") || !isValidUTF8(got) {
		t.Errorf("long reason not truncated on a rune boundary: %d bytes", len(got))
	}
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestIsFull(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		full bool
	}{
		{sqlite3.Error{Code: sqlite3.ErrFull}, true},
		{fmt.Errorf("commit: %w", sqlite3.Error{Code: sqlite3.ErrFull}), true},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.ENOSPC}, true},
		{&net.OpError{Err: syscall.ENOSPC}, true},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.EIO}, false},
		{sqlite3.Error{Code: sqlite3.ErrBusy}, false},
		{errors.New("disk full"), false},
	}
	for _, tc := range tests {
		if got := isFull(tc.err); got != tc.full {
			t.Errorf("isFull(%v) = %v, want %v", tc.err, got, tc.full)
		}
		r := refuse("commit", tc.err)
		var re *RefusedError
		if !errors.As(r, &re) || errors.Is(r, ErrStorageFull) != tc.full {
			t.Errorf("refuse(%v) = %v", tc.err, r)
		}
	}
}
