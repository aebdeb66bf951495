package siteconfig

// The signature is the detached compact JWS of kiosk/filing/filingsig — ES256,
// "<header>..<signature>", raw r||s over base64url(header) "." base64url(the
// document bytes) — with two more protected header members: typ
// (SignatureType, so a filing signature is never taken for a site
// configuration's) and x5c, the signer's certificate chain (leaf first,
// standard base64 DER, RFC 7515 §4.1.6). filingsig.Verify checks the
// algorithm, the kid and the signature against the x5c leaf's key; this file
// decides whether that leaf is to be trusted.

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/filing/filingsig"
)

// HeaderName is the HTTP header of GET /v1/site-config/{site} that carries
// the JWS.
const HeaderName = "Site-Config-Signature"

// SignatureType is the JWS typ of a site-configuration signature.
const SignatureType = "kiosk-site-config+jws"

// SignerCommonName is the common name of the backend's site-configuration
// signing certificate, which must also carry the code-signing extended key
// usage. Kiosk client certificates (client auth only) and the backend's TLS
// certificate (server auth only) chain to the same CA but cannot sign.
const SignerCommonName = "site-config"

// jwsHeader is the protected header; its members are the ones filingsig's
// decoder admits.
type jwsHeader struct {
	Alg string   `json:"alg"`
	Kid string   `json:"kid"`
	Typ string   `json:"typ"`
	X5C []string `json:"x5c"`
}

var b64url = base64.RawURLEncoding.Strict()

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// Sign returns the detached JWS of raw by key, whose certificate is chain[0]
// (the rest of chain are intermediates; the pinned CA need not be included).
// It is the backend's side, here so that the format has one definition.
func Sign(raw []byte, key *ecdsa.PrivateKey, chain []*x509.Certificate) (string, error) {
	if key == nil || len(chain) == 0 {
		return "", errors.New("siteconfig: sign: no key or certificate")
	}
	if !key.PublicKey.Equal(chain[0].PublicKey) {
		return "", errors.New("siteconfig: sign: the certificate is not for the key")
	}
	h := jwsHeader{Alg: filingsig.Alg, Kid: filingsig.KeyID(&key.PublicKey), Typ: SignatureType}
	for _, c := range chain {
		h.X5C = append(h.X5C, base64.StdEncoding.EncodeToString(c.Raw))
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	eh := b64url.EncodeToString(hb)
	in := b64url.AppendEncode([]byte(eh+"."), raw)
	digest := sha256.Sum256(in)
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", fmt.Errorf("siteconfig: sign: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return eh + ".." + b64url.EncodeToString(sig), nil
}

// Verify checks that sig is the backend's signature of exactly raw, made with
// a site-configuration signer that chains to roots (the CA pinned at
// enrolment) and is valid at now, and that raw is a valid document for site.
// Whether it is newer than the one applied is Apply's check.
func Verify(raw, sig []byte, roots *x509.CertPool, site string, now time.Time) (*Document, error) {
	return verify(raw, sig, roots, site, func(*x509.Certificate) time.Time { return now })
}

// verify is Verify with the time the chain must be valid at chosen from the
// signer's certificate (Load's use).
func verify(raw, sig []byte, roots *x509.CertPool, site string, at func(leaf *x509.Certificate) time.Time) (*Document, error) {
	if roots == nil {
		return nil, fmt.Errorf("%w: no pinned CA to verify with", ErrSigner)
	}
	chain, err := signerChain(string(sig))
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at(leaf),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSigner, err)
	}
	if leaf.Subject.CommonName != SignerCommonName {
		return nil, fmt.Errorf("%w: the certificate's common name is %q, not %q", ErrSigner, leaf.Subject.CommonName, SignerCommonName)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the signer's key is not ECDSA", ErrSigner)
	}
	if err := filingsig.Verify(raw, string(sig), pub); err != nil {
		// filingsig words its mismatch for filings; say what was refused here.
		msg := strings.Replace(err.Error(), "does not match the filing", "does not match the document (tampered or corrupted)", 1)
		return nil, fmt.Errorf("%w: %s", ErrSignature, msg)
	}
	doc, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	if doc.Site != site {
		return nil, fmt.Errorf("%w: the document is for site %q, this kiosk is at %q", ErrWrongSite, doc.Site, site)
	}
	return doc, nil
}

// signerChain reads the x5c chain out of the protected header, checking the
// shape only: trust is decided by the caller.
func signerChain(jws string) ([]*x509.Certificate, error) {
	enc, _, ok := strings.Cut(jws, ".")
	if !ok {
		return nil, fmt.Errorf("%w: not a compact JWS (want header..signature)", ErrSignature)
	}
	hb, err := b64url.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrSignature)
	}
	var h jwsHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrSignature, err)
	}
	if h.Typ != SignatureType {
		return nil, fmt.Errorf("%w: typ %q is not %q", ErrSignature, h.Typ, SignatureType)
	}
	if len(h.X5C) == 0 || len(h.X5C) > 4 {
		return nil, fmt.Errorf("%w: the header must carry the signer's certificate chain (x5c, 1 to 4 certificates)", ErrSigner)
	}
	var chain []*x509.Certificate
	for i, s := range h.X5C {
		der, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d] is not base64", ErrSigner, i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d]: %w", ErrSigner, i, err)
		}
		chain = append(chain, c)
	}
	return chain, nil
}

// Fetch asks the backend at baseURL (https://host[:port]) for site's
// configuration: GET /v1/site-config/{site}, answered with the document as
// the body and its signature in HeaderName. client must present the kiosk's
// certificate and trust the pinned CA. Nothing is checked but the transport:
// pass the result to Verify.
func Fetch(ctx context.Context, client *http.Client, baseURL, site string) (raw, sig []byte, err error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, nil, fmt.Errorf("siteconfig: backend URL %q is not https://HOST[:PORT]", baseURL)
	}
	endpoint := strings.TrimSuffix(baseURL, "/") + "/v1/site-config/" + url.PathEscape(site)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("siteconfig: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("siteconfig: fetch: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, nil, fmt.Errorf("siteconfig: fetch: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &eb)
		return nil, nil, fmt.Errorf("siteconfig: fetch: HTTP %d: %s", resp.StatusCode, cmp.Or(eb.Message, http.StatusText(resp.StatusCode)))
	}
	if len(body) > maxDocument {
		return nil, nil, fmt.Errorf("siteconfig: fetch: document larger than %d bytes", maxDocument)
	}
	sig = []byte(resp.Header.Get(HeaderName))
	if len(sig) == 0 {
		return nil, nil, fmt.Errorf("siteconfig: fetch: %w: the answer has no %s header", ErrSignature, HeaderName)
	}
	return body, sig, nil
}
