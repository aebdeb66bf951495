package selftest

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/vnkiosk/kiosk/provisioning/identity"
)

// Certificate validity limits. Renewal (provisioning/enrol) happens at two
// thirds of the lifetime, so a certificate this close to expiry means
// renewal is failing.
const (
	CertFail = 7 * 24 * time.Hour
	CertWarn = 30 * 24 * time.Hour
)

// CertificateSource loads the client certificate the kiosk presents to the
// backend; identity.ErrNotProvisioned when there is none yet.
type CertificateSource func() (*x509.Certificate, error)

// ClientCertificate is the certificate the backend client uses: certFile
// (backend.cert_file) when the configuration names one, otherwise the
// provisioned identity in stateDir.
func ClientCertificate(stateDir, certFile string) CertificateSource {
	return func() (*x509.Certificate, error) {
		if certFile == "" {
			id, err := identity.Load(stateDir)
			if err != nil {
				return nil, err
			}
			return id.Certificate(), nil
		}
		b, err := os.ReadFile(certFile)
		if err != nil {
			return nil, fmt.Errorf("backend.cert_file: %w", err)
		}
		certs, err := identity.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("backend.cert_file %s: %w", certFile, err)
		}
		return certs[0], nil
	}
}

// CheckCertificate checks the client certificate's validity at now
// (time.Now when nil).
func CheckCertificate(src CertificateSource, now func() time.Time) Check {
	if now == nil {
		now = time.Now
	}
	return Check{Name: NameCertificate, Run: func(context.Context) Result {
		c, err := src()
		switch {
		case errors.Is(err, identity.ErrNotProvisioned):
			return warn("not provisioned: the kiosk has no client certificate of its own", "run kioskctl provision")
		case err != nil:
			return fail("the client certificate cannot be read: "+err.Error(), "provision the kiosk again: kioskctl provision")
		}
		t := now()
		left := c.NotAfter.Sub(t)
		until := c.NotAfter.UTC().Format(time.RFC3339)
		const renew = "kioskd renews it by itself (backend.est_url); see the identity line of kioskctl status, or provision again: kioskctl provision"
		switch {
		case t.Before(c.NotBefore):
			return fail("the client certificate is not valid before "+c.NotBefore.UTC().Format(time.RFC3339)+"; is the clock right?",
				"check the time: timedatectl")
		case left <= 0:
			return fail("the client certificate expired at "+until, "provision the kiosk again: kioskctl provision")
		case left < CertFail:
			return fail(fmt.Sprintf("the client certificate expires in %s (%s)", left.Round(time.Minute), until), renew)
		case left < CertWarn:
			return warn(fmt.Sprintf("the client certificate expires in %d days (%s)", int(left.Hours()/24), until), renew)
		}
		return ok(fmt.Sprintf("valid until %s (%d days)", until, int(left.Hours()/24)))
	}}
}
