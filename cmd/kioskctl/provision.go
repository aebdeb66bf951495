package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vnkiosk/kiosk/provisioning/enrol"
	"github.com/vnkiosk/kiosk/provisioning/identity"
)

func init() {
	register("provision", "enrol this kiosk with the provincial backend over EST with a one-time token", runProvision)
}

func runProvision(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("provision", stderr)
	server := fs.String("server", "", "the backend's EST base URL, https://HOST[:PORT]")
	token := fs.String("token", "", "the one-time enrolment token")
	site := fs.String("site", "", "the site code this kiosk serves")
	fingerprint := fs.String("ca-fingerprint", "", "SHA-256 of the backend CA certificate's DER, in hex (colons optional)")
	caFile := fs.String("ca-file", "", "the backend CA certificate (PEM), instead of --ca-fingerprint")
	kioskID := fs.String("kiosk-id", "", "the kiosk id for the certificate's common name (default: derived from the site and the device key)")
	stateDir := fs.String("state-dir", "/var/lib/kioskd", "kioskd's state directory; the identity goes to STATE_DIR/identity")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *server == "" || *token == "" || *site == "":
		return usageError{"--server, --token and --site are required"}
	case (*fingerprint == "") == (*caFile == ""):
		return usageError{"give exactly one of --ca-fingerprint and --ca-file"}
	}
	if *fingerprint != "" {
		if _, err := enrol.ParseFingerprint(*fingerprint); err != nil {
			return usageError{err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	id, err := enrol.Enrol(ctx, enrol.Options{Server: *server, Token: *token, Site: *site, KioskID: *kioskID,
		CAFingerprint: *fingerprint, CAFile: *caFile, StateDir: *stateDir})
	var ee *enrol.Error
	if errors.As(err, &ee) && errors.Is(err, enrol.ErrTokenRefused) {
		return ee // the one sentence, nothing around it
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kiosk: %s\n", id.KioskID())
	fmt.Fprintf(stdout, "site: %s\n", id.Site())
	fmt.Fprintf(stdout, "certificate expires: %s\n", id.NotAfter().UTC().Format(time.RFC3339))
	fmt.Fprintf(stdout, "identity: %s\n", id.Dir())
	fmt.Fprintf(stdout, "device key: %s\n", id.KeyStorage())
	fmt.Fprintf(stdout, "for kioskd.yaml: backend: {ca_file: %s, cert_file: %s, key_file: %s}\n", id.CAFile(), id.CertFile(), id.KeyFile())
	return nil
}

// repeatedFlag collects every value of a flag given more than once
// (`sim backend --est-token`).
type repeatedFlag []string

func (r *repeatedFlag) String() string     { return fmt.Sprint([]string(*r)) }
func (r *repeatedFlag) Set(s string) error { *r = append(*r, s); return nil }

// caFingerprint is what an operator passes to provision --ca-fingerprint,
// or the error when the file cannot be read.
func caFingerprint(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	certs, err := identity.ParseCertificates(b)
	if err != nil {
		return err.Error()
	}
	return identity.Fingerprint(certs[0])
}
