package refbackend

// This file is the reference backend's EST server (RFC 7030), which issues
// kiosks their client certificates from the test CA of a PKI: GET
// /.well-known/est/cacerts, POST /.well-known/est/simpleenroll with a one-time
// token as HTTP Basic password, and POST /.well-known/est/simplereenroll over
// mutual TLS with the certificate being renewed. The protocol itself
// (encodings, content types, the same-subject rule of re-enrolment) is
// github.com/globalsign/est's server; this file is the CA behind it and the
// token bookkeeping.

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/globalsign/est"
)

// DemoEnrolmentToken is the token Options.DemoEnrolment accepts any number of
// times.
const DemoEnrolmentToken = "demo"

// DefaultESTValidity is how long an EST-issued kiosk certificate is valid.
const DefaultESTValidity = 30 * 24 * time.Hour

// estPrefix is where RFC 7030 puts EST: the endpoints under it do not need a
// client certificate (simplereenroll checks for one itself).
const estPrefix = "/.well-known/est/"

var (
	estKioskIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	estSiteRE    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)
)

// estStatus is an error the EST library answers with its HTTP status.
type estStatus struct {
	code int
	msg  string
}

func (e *estStatus) Error() string   { return e.msg }
func (e *estStatus) StatusCode() int { return e.code }
func (e *estStatus) RetryAfter() int { return 0 }

var errTokenRefused = &estStatus{http.StatusUnauthorized, "enrolment token refused: unknown or already used"}

// estCA signs kiosk certificates with the PKI's CA and spends tokens.
type estCA struct {
	pki      *PKI
	validity time.Duration
	demo     bool

	mu     sync.Mutex
	unused map[string]bool // token → still usable
	log    func(msg string, args ...any)
}

func newESTCA(pki *PKI, opt Options, log func(string, ...any)) *estCA {
	ca := &estCA{pki: pki, validity: opt.ESTValidity, demo: opt.DemoEnrolment, unused: map[string]bool{}, log: log}
	if ca.validity <= 0 {
		ca.validity = DefaultESTValidity
	}
	for _, t := range opt.ESTTokens {
		if t != "" {
			ca.unused[t] = true
		}
	}
	return ca
}

// tokenUsable says whether the token would be accepted, without spending it.
func (ca *estCA) tokenUsable(token string) bool {
	if token == "" {
		return false
	}
	if ca.demo && token == DemoEnrolmentToken {
		return true
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.unused[token]
}

// spend uses the token up; false when it was not (or no longer) usable, which
// settles two concurrent enrolments with one token.
func (ca *estCA) spend(token string) bool {
	if ca.demo && token == DemoEnrolmentToken {
		return true
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if !ca.unused[token] {
		return false
	}
	delete(ca.unused, token)
	return true
}

// checkBasicAuth admits simpleenroll with a usable token, and simplereenroll
// with a client certificate the TLS handshake verified against the CA.
func (ca *estCA) checkBasicAuth(_ context.Context, r *http.Request, _, _, password string) error {
	if strings.HasSuffix(r.URL.Path, "/simplereenroll") {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			return nil
		}
		return errors.New("re-enrolment needs the current client certificate")
	}
	if !ca.tokenUsable(password) {
		ca.log("EST enrolment refused: unknown or spent token")
		return errTokenRefused
	}
	return nil
}

func (ca *estCA) CACerts(context.Context, string, *http.Request) ([]*x509.Certificate, error) {
	cert, _, err := ca.pki.loadCA()
	if err != nil {
		return nil, fmt.Errorf("refbackend: EST: %w", err)
	}
	return []*x509.Certificate{cert}, nil
}

func (ca *estCA) CSRAttrs(context.Context, string, *http.Request) (est.CSRAttrs, error) {
	return est.CSRAttrs{}, nil
}

func (ca *estCA) Enroll(_ context.Context, csr *x509.CertificateRequest, _ string, r *http.Request) (*x509.Certificate, error) {
	if err := checkKioskSubject(csr.Subject); err != nil {
		return nil, err
	}
	_, token, _ := r.BasicAuth()
	if !ca.spend(token) {
		return nil, errTokenRefused
	}
	return ca.sign(csr)
}

// Reenroll issues a new certificate for the subject of the current one (the
// EST library has checked that the request repeats it).
func (ca *estCA) Reenroll(_ context.Context, _ *x509.Certificate, csr *x509.CertificateRequest, _ string, _ *http.Request) (*x509.Certificate, error) {
	if err := checkKioskSubject(csr.Subject); err != nil {
		return nil, err
	}
	return ca.sign(csr)
}

func (ca *estCA) ServerKeyGen(context.Context, *x509.CertificateRequest, string, *http.Request) (*x509.Certificate, []byte, error) {
	return nil, nil, &estStatus{http.StatusNotImplemented, "server-side key generation is not offered: kiosk keys never leave the kiosk"}
}

func (ca *estCA) TPMEnroll(context.Context, *x509.CertificateRequest, []*x509.Certificate, []byte, []byte, string, *http.Request) ([]byte, []byte, []byte, error) {
	return nil, nil, nil, &estStatus{http.StatusNotImplemented, "TPM enrolment is not offered"}
}

// checkKioskSubject admits CN = kiosk id and at most one OU = site code.
func checkKioskSubject(s pkix.Name) error {
	if !estKioskIDRE.MatchString(s.CommonName) {
		return &estStatus{http.StatusBadRequest, "the request's common name must be the kiosk id ([A-Za-z0-9._-], at most 64)"}
	}
	if len(s.OrganizationalUnit) > 1 || (len(s.OrganizationalUnit) == 1 && !estSiteRE.MatchString(s.OrganizationalUnit[0])) {
		return &estStatus{http.StatusBadRequest, "the request's organizational unit must be one site code"}
	}
	return nil
}

func (ca *estCA) sign(csr *x509.CertificateRequest) (*x509.Certificate, error) {
	caCert, caKey, err := ca.pki.loadCA()
	if err != nil {
		return nil, fmt.Errorf("refbackend: EST: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: csr.Subject.CommonName, OrganizationalUnit: csr.Subject.OrganizationalUnit},
		NotBefore:    now.Add(-5 * time.Minute), // the kiosk's clock may run a little behind
		NotAfter:     now.Add(ca.validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, csr.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("refbackend: EST: sign: %w", err)
	}
	return x509.ParseCertificate(der)
}

// withEST serves EST under /.well-known/est/ and api everywhere else, where a
// verified client certificate is required: the listener only asks for one
// (VerifyClientCertIfGiven) so that a kiosk without a certificate can enrol.
func (s *Server) withEST(pki *PKI, api http.Handler) (http.Handler, error) {
	ca := newESTCA(pki, s.opt, func(msg string, args ...any) { s.log.Warn(msg, args...) })
	router, err := est.NewRouter(&est.ServerConfig{CA: ca, CheckBasicAuth: ca.checkBasicAuth, Timeout: 30 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("refbackend: EST: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, estPrefix) {
			router.ServeHTTP(w, r)
			return
		}
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			writeError(w, http.StatusUnauthorized, "client_certificate_required", "this API needs the kiosk's client certificate (mutual TLS)")
			return
		}
		api.ServeHTTP(w, r)
	}), nil
}
