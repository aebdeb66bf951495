package backend_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/backend/refbackend"
)

// TestPing: the reference backend answers the ping with its clock; a server of
// another CA is a TLS error that does not name the URL; a 5xx is an error.
func TestPing(t *testing.T) {
	t.Parallel()
	srv, pki := startBackend(t, refbackend.Options{})
	other, err := refbackend.EnsurePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	before := time.Now().Truncate(time.Second)
	at, err := newClient(t, srv.URL(), pki, pki, 5*time.Second).Ping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if at.Before(before) || at.After(time.Now()) {
		t.Errorf("server time %v; want between %v and now", at, before)
	}
	if n := len(srv.Filings()); n != 0 {
		t.Errorf("a ping stored %d filings", n)
	}

	_, err = newClient(t, srv.URL(), pki, other, 5*time.Second).Ping(ctx)
	var ve *tls.CertificateVerificationError
	if !errors.As(err, &ve) || strings.Contains(err.Error(), srv.URL()) {
		t.Errorf("ping of a server of another CA: %v; want a TLS verification error without the URL", err)
	}

	failing, fpki := startBackend(t, refbackend.Options{ErrorRate: 1})
	if _, err := newClient(t, failing.URL(), fpki, fpki, 5*time.Second).Ping(ctx); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("ping of a backend answering 500: %v", err)
	}
}
