package refbackend

// This file serves kiosks their site configuration (provisioning/siteconfig):
// GET /v1/site-config/{site}, over mutual TLS like the rest of /v1/, answers
// the document bytes with their detached JWS in the Site-Config-Signature
// header, signed at request time with the PKI's site-configuration signer — a
// certificate from the same CA with common name siteconfig.SignerCommonName
// and the code-signing extended key usage, kept as site-config.pem and
// site-config-key.pem beside the CA. A site without a document in
// Options.SiteConfigs gets DemoSiteConfig. Tests change documents while
// serving with SetSiteConfig and corrupt answers with TamperSiteConfig.

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/procedure"
	"github.com/vnkiosk/kiosk/provisioning/siteconfig"
)

// Files of the site-configuration signer in a PKI directory.
const (
	SiteConfigCertFile    = "site-config.pem"
	siteConfigKeyFile     = "site-config-key.pem"
	siteConfigSignerValid = 2 * 365 * 24 * time.Hour
)

// SiteConfigSigner returns the site-configuration signing key and certificate,
// issuing them from the CA the first time.
func (p *PKI) SiteConfigSigner() (*ecdsa.PrivateKey, *x509.Certificate, error) {
	if _, err := os.Stat(p.Path(SiteConfigCertFile)); errors.Is(err, os.ErrNotExist) {
		if err := p.issueSiteConfigSigner(); err != nil {
			return nil, nil, fmt.Errorf("refbackend: issue the site-configuration signer: %w", err)
		}
	}
	pair, err := tls.LoadX509KeyPair(p.Path(SiteConfigCertFile), p.Path(siteConfigKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("refbackend: site-configuration signer: %w", err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("refbackend: site-configuration signer key is not ECDSA")
	}
	return key, pair.Leaf, nil
}

func (p *PKI) issueSiteConfigSigner() error {
	return p.issueLeaf(SiteConfigCertFile, siteConfigKeyFile, &x509.Certificate{
		Subject:     pkix.Name{CommonName: siteconfig.SignerCommonName},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(siteConfigSignerValid),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	})
}

// DemoSiteConfig is the document a site without one in Options.SiteConfigs
// gets: version 1, every procedure of the catalogue, two hospital
// departments (used only by hospital kiosks), the demo payment account of
// kiosk/config's demo.yaml, the default receipt template, and no staff or
// CSCA certificates (the kiosk keeps its own).
func DemoSiteConfig(site string, issued time.Time) (json.RawMessage, error) {
	doc := siteconfig.Document{
		Version:  1,
		Site:     site,
		IssuedAt: issued.UTC().Truncate(time.Second),
		Departments: []siteconfig.Department{
			{Code: "KKB", NameVI: "Khoa Khám bệnh", NameEN: "Outpatient Clinic", Prefix: "K"},
			{Code: "XN", NameVI: "Khoa Xét nghiệm", NameEN: "Laboratory", Prefix: "X"},
		},
		Payment: &siteconfig.Payment{BIN: "970436", Account: "0011009999999", AccountName: "UBND PHUONG TRINH DIEN", Timeout: "3m"},
		Printer: siteconfig.Printer{Template: "default"},
	}
	for _, p := range procedure.All() {
		doc.Procedures = append(doc.Procedures, p.Code)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// siteConfigs is the state behind GET /v1/site-config/{site}.
type siteConfigs struct {
	issued time.Time // of the demo documents

	mu     sync.Mutex
	docs   map[string]json.RawMessage
	key    *ecdsa.PrivateKey
	chain  []*x509.Certificate
	tamper func(site string, body []byte) []byte
}

func newSiteConfigs(opt Options) (*siteConfigs, error) {
	sc := &siteConfigs{issued: time.Now(), docs: map[string]json.RawMessage{}}
	for site, doc := range opt.SiteConfigs {
		if !json.Valid(doc) {
			return nil, fmt.Errorf("refbackend: site configuration of %q is not JSON", site)
		}
		sc.docs[site] = json.RawMessage(append([]byte(nil), doc...))
	}
	return sc, nil
}

// start loads (or issues) the signer when the server starts with its PKI.
func (sc *siteConfigs) start(pki *PKI) error {
	key, cert, err := pki.SiteConfigSigner()
	if err != nil {
		return err
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.key, sc.chain = key, []*x509.Certificate{cert}
	return nil
}

// SetSiteConfig replaces the document served for site (nil: back to the demo
// document). The bytes are served and signed exactly as given.
func (s *Server) SetSiteConfig(site string, doc json.RawMessage) {
	s.site.mu.Lock()
	defer s.site.mu.Unlock()
	if doc == nil {
		delete(s.site.docs, site)
		return
	}
	s.site.docs[site] = append(json.RawMessage(nil), doc...)
}

// TamperSiteConfig makes the server pass every answer's body through f after
// signing it, to test that kiosks refuse what the signature does not cover;
// nil stops it.
func (s *Server) TamperSiteConfig(f func(site string, body []byte) []byte) {
	s.site.mu.Lock()
	defer s.site.mu.Unlock()
	s.site.tamper = f
}

func (s *Server) getSiteConfig(w http.ResponseWriter, r *http.Request) {
	site := r.PathValue("site")
	if !estSiteRE.MatchString(site) {
		writeError(w, http.StatusBadRequest, "validation", "invalid site code")
		return
	}
	// A kiosk certificate issued for one site (its OU) reads only that
	// site's configuration: it names the site's staff.
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		if ou := r.TLS.VerifiedChains[0][0].Subject.OrganizationalUnit; len(ou) > 0 && ou[0] != site {
			writeError(w, http.StatusForbidden, "forbidden", "this kiosk's certificate is for another site")
			return
		}
	}
	sc := s.site
	sc.mu.Lock()
	doc, ok := sc.docs[site]
	key, chain, tamper := sc.key, sc.chain, sc.tamper
	sc.mu.Unlock()
	if key == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "no site-configuration signer (the server was not started with a PKI)")
		return
	}
	if !ok {
		var err error
		if doc, err = DemoSiteConfig(site, sc.issued); err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "cannot build the demo site configuration")
			return
		}
	}
	sig, err := siteconfig.Sign(doc, key, chain)
	if err != nil {
		s.log.Error("site configuration: sign", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "cannot sign the site configuration")
		return
	}
	body := []byte(doc)
	if tamper != nil {
		body = tamper(site, append([]byte(nil), doc...))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(siteconfig.HeaderName, sig)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
