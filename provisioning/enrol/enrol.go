// Package enrol owns getting and keeping the kiosk's client certificate over
// EST (RFC 7030, github.com/globalsign/est's client): first enrolment with a
// one-time token against a CA pinned by fingerprint or by a CA file, renewal
// over mutual TLS with the current certificate (simplereenroll, same key,
// same subject), and the daemon subsystem that renews before expiry and
// exports kioskd_cert_expiry_timestamp_seconds. The device key and the files
// belong to package identity; this package only talks to the EST server.
//
// The certificate request carries the kiosk id as common name and the site
// code as the one organizational unit (OU); the EST server copies both into
// the certificate.
package enrol

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/globalsign/est"

	"github.com/vnkiosk/kiosk/provisioning/identity"
)

// Error is an enrolment failure a person has to act on, in English and
// Vietnamese, one sentence each.
type Error struct {
	EN, VI string
}

func (e *Error) Error() string { return e.EN }

// Message is the sentence in lang ("vi" or anything else for English).
func (e *Error) Message(lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "vi") {
		return e.VI
	}
	return e.EN
}

var (
	// ErrTokenRefused: the EST server answered 401 to simpleenroll.
	ErrTokenRefused = &Error{
		EN: "the enrolment token was refused: it is wrong or has already been used; ask for a new token",
		VI: "mã đăng ký bị từ chối: mã sai hoặc đã được dùng; hãy xin một mã mới",
	}
	// ErrCAMismatch: the server's CA is not the pinned one.
	ErrCAMismatch = &Error{
		EN: "the enrolment server's CA certificate does not match the pinned CA: check the fingerprint (or CA file) and the server address",
		VI: "chứng thư CA của máy chủ đăng ký không khớp với CA đã ghim: hãy kiểm tra dấu vân tay (hoặc tệp CA) và địa chỉ máy chủ",
	}
)

// Options are one enrolment.
type Options struct {
	// Server is the EST server's base URL, https://host:port.
	Server string
	// Token is the one-time enrolment token, sent as the HTTP Basic password
	// of simpleenroll only.
	Token string
	// Site is the site code, put in the request's OU.
	Site string
	// KioskID is the certificate's common name; empty derives
	// "kiosk-<site>-<8 hex of the device key's hash>", stable for a kiosk
	// because its key is never replaced.
	KioskID string
	// CAFingerprint pins the CA: SHA-256 of its DER, hex, colons and case
	// ignored. Either it or CAFile is required.
	CAFingerprint string
	// CAFile pins the CA(s) in a PEM file instead.
	CAFile string
	// StateDir holds the identity (StateDir/identity).
	StateDir string
}

var (
	siteRE    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)
	kioskIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// estCalls serializes the EST client's calls: it decodes PKCS#7 answers with
// go.mozilla.org/pkcs7, whose BER decoder updates a package-level counter
// without a lock, so two concurrent calls in one process are a data race.
var estCalls sync.Mutex

func caCerts(ctx context.Context, cl *est.Client) ([]*x509.Certificate, error) {
	estCalls.Lock()
	defer estCalls.Unlock()
	return cl.CACerts(ctx)
}

func enroll(ctx context.Context, cl *est.Client, csr *x509.CertificateRequest, renew bool) (*x509.Certificate, error) {
	estCalls.Lock()
	defer estCalls.Unlock()
	if renew {
		return cl.Reenroll(ctx, csr)
	}
	return cl.Enroll(ctx, csr)
}

// ParseFingerprint reads a SHA-256 fingerprint in hex, with or without colons
// (or spaces), in either case.
func ParseFingerprint(s string) ([]byte, error) {
	clean := strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(clean)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("enrol: CA fingerprint %q is not a SHA-256 in hex (64 hex digits, colons optional)", s)
	}
	return b, nil
}

// estHost turns the base URL into the EST client's host:port.
func estHost(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
		return "", fmt.Errorf("enrol: server %q must be https://HOST[:PORT] without a path or credentials", server)
	}
	return u.Host, nil
}

// DefaultKioskID derives a kiosk id from the site and the device key.
func DefaultKioskID(site string, key crypto.Signer) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(spki)
	return "kiosk-" + strings.ToLower(site) + "-" + hex.EncodeToString(sum[:4]), nil
}

// Enrol provisions the kiosk: it fetches the EST server's CA certificates,
// checks them against the pin, creates the device key if there is none yet,
// asks for a certificate with the token and stores the result. Nothing is
// stored unless the whole exchange succeeded.
func Enrol(ctx context.Context, opt Options) (*identity.Identity, error) {
	host, err := estHost(opt.Server)
	if err != nil {
		return nil, err
	}
	switch {
	case opt.Token == "":
		return nil, errors.New("enrol: an enrolment token is required")
	case !siteRE.MatchString(opt.Site):
		return nil, fmt.Errorf("enrol: site code %q is invalid (letters, digits, '.', '_', '-'; at most 32)", opt.Site)
	case opt.StateDir == "":
		return nil, errors.New("enrol: a state directory is required")
	case opt.KioskID != "" && !kioskIDRE.MatchString(opt.KioskID):
		return nil, fmt.Errorf("enrol: kiosk id %q is invalid (letters, digits, '.', '_', '-'; at most 64)", opt.KioskID)
	case (opt.CAFingerprint == "") == (opt.CAFile == ""):
		return nil, errors.New("enrol: give exactly one of a CA fingerprint and a CA file to trust the enrolment server")
	}

	ca, intermediates, err := pinnedCA(ctx, host, opt)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range ca {
		pool.AddCert(c)
	}

	key, err := identity.EnsureKey(opt.StateDir)
	if err != nil {
		return nil, err
	}
	kioskID := opt.KioskID
	if kioskID == "" {
		if kioskID, err = DefaultKioskID(opt.Site, key); err != nil {
			return nil, fmt.Errorf("enrol: %w", err)
		}
	}
	csr, err := newCSR(key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: kioskID, OrganizationalUnit: []string{opt.Site}}})
	if err != nil {
		return nil, err
	}
	// From here on TLS verifies the server against the pinned CA, so the
	// token only ever goes to the right server.
	cl := &est.Client{Host: host, ExplicitAnchor: pool, Username: kioskID, Password: opt.Token, DisableKeepAlives: true}
	cert, err := enroll(ctx, cl, csr, false)
	if err != nil {
		return nil, classify("simpleenroll", opt.Server, err)
	}
	chain, err := checkIssued(cert, key, pool, intermediates)
	if err != nil {
		return nil, err
	}
	if err := identity.Store(opt.StateDir, chain, ca); err != nil {
		return nil, err
	}
	return identity.Load(opt.StateDir)
}

// pinnedCA fetches /cacerts and returns the pinned CA certificates and any
// intermediates the server sent.
func pinnedCA(ctx context.Context, host string, opt Options) (ca, intermediates []*x509.Certificate, err error) {
	cl := &est.Client{Host: host, DisableKeepAlives: true}
	if opt.CAFile != "" {
		b, err := os.ReadFile(opt.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("enrol: CA file: %w", err)
		}
		if ca, err = identity.ParseCertificates(b); err != nil {
			return nil, nil, fmt.Errorf("enrol: CA file %s: %w", opt.CAFile, err)
		}
		cl.ExplicitAnchor = x509.NewCertPool()
		for _, c := range ca {
			cl.ExplicitAnchor.AddCert(c)
		}
	} else {
		// The CA is not known yet: this one request is unverified, and the
		// fingerprint check below is what decides whether to go on.
		cl.InsecureSkipVerify = true
	}
	certs, err := caCerts(ctx, cl)
	if err != nil {
		return nil, nil, classify("cacerts", opt.Server, err)
	}
	if opt.CAFile == "" {
		want, err := ParseFingerprint(opt.CAFingerprint)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range certs {
			if sum := sha256.Sum256(c.Raw); bytes.Equal(sum[:], want) {
				ca = []*x509.Certificate{c}
			}
		}
		if ca == nil {
			return nil, nil, fmt.Errorf("%w (server offered %s)", ErrCAMismatch, fingerprints(certs))
		}
	}
	for _, c := range certs {
		if c.CheckSignatureFrom(c) != nil { // not self-signed: an intermediate
			intermediates = append(intermediates, c)
		}
	}
	return ca, intermediates, nil
}

func fingerprints(certs []*x509.Certificate) string {
	var s []string
	for _, c := range certs {
		s = append(s, identity.Fingerprint(c))
	}
	return strings.Join(s, ", ")
}

func newCSR(key crypto.Signer, tmpl *x509.CertificateRequest) (*x509.CertificateRequest, error) {
	tmpl.SignatureAlgorithm = x509.ECDSAWithSHA256
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("enrol: certificate request: %w", err)
	}
	return x509.ParseCertificateRequest(der)
}

// checkIssued makes sure the certificate is for our key, chains to the pinned
// CA and is usable as a TLS client certificate, and returns the chain to
// store (leaf first, then intermediates).
func checkIssued(cert *x509.Certificate, key crypto.Signer, roots *x509.CertPool, intermediates []*x509.Certificate) ([]*x509.Certificate, error) {
	if pub, ok := key.Public().(*ecdsa.PublicKey); !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("enrol: the server issued a certificate for another key")
	}
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("enrol: the issued certificate does not chain to the pinned CA: %w", err)
	}
	return append([]*x509.Certificate{cert}, intermediates...), nil
}

// classify turns the EST client's errors into ErrTokenRefused, ErrCAMismatch
// or a wrapped error naming the operation and server.
func classify(op, server string, err error) error {
	var ee est.Error
	if errors.As(err, &ee) {
		if ee.StatusCode() == http.StatusUnauthorized && op == "simpleenroll" {
			return ErrTokenRefused
		}
		return fmt.Errorf("enrol: %s at %s: HTTP %d: %s", op, server, ee.StatusCode(), strings.TrimSpace(ee.Error()))
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return fmt.Errorf("%w (%s at %s: %v)", ErrCAMismatch, op, server, err)
	}
	return fmt.Errorf("enrol: %s at %s: %w", op, server, err)
}

// RenewOptions are one renewal.
type RenewOptions struct {
	// Server is the EST server's base URL (the backend's URL).
	Server string
}

// Renew asks for a new certificate for the same key and subject with
// simplereenroll, authenticated by the current certificate over mutual TLS,
// stores it and returns the reloaded identity.
func Renew(ctx context.Context, id *identity.Identity, opt RenewOptions) (*identity.Identity, error) {
	host, err := estHost(opt.Server)
	if err != nil {
		return nil, err
	}
	// RFC 7030 4.2.2: the subject must repeat the current certificate's
	// byte for byte, so copy it rather than rebuild it.
	csr, err := newCSR(id.PrivateKey(), &x509.CertificateRequest{RawSubject: id.Certificate().RawSubject})
	if err != nil {
		return nil, err
	}
	cl := &est.Client{Host: host, ExplicitAnchor: id.CAPool(), Certificates: id.Chain(), PrivateKey: id.PrivateKey(), DisableKeepAlives: true}
	cert, err := enroll(ctx, cl, csr, true)
	if err != nil {
		return nil, classify("simplereenroll", opt.Server, err)
	}
	chain, err := checkIssued(cert, id.PrivateKey(), id.CAPool(), id.Chain()[1:])
	if err != nil {
		return nil, err
	}
	stateDir := filepath.Dir(id.Dir())
	if err := identity.Store(stateDir, chain, id.CACertificates()); err != nil {
		return nil, err
	}
	return identity.Load(stateDir)
}
