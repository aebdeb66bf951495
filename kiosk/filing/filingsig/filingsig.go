// Package filingsig signs a filing with the kiosk's device key, so a backend can
// check the filer (the chip evidence inside the filing) and the kiosk that took
// it independently of the transport. A signature is a compact JWS (RFC 7515)
// with a detached payload: "<header>..<signature>", where the payload is the
// filing JSON bytes exactly as they travel, the header is
// {"alg":"ES256","kid":"<hex SHA-256 of the key's SubjectPublicKeyInfo>"}
// and the signature is the raw 64-byte r||s over
// base64url(header) "." base64url(payload). The unencoded-payload option of
// RFC 7797 ("b64": false) is not used and is rejected.
package filingsig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strings"
)

// HeaderName is the HTTP header of POST /v1/filings that carries the JWS.
const HeaderName = "Filing-Signature"

// Alg is the only JWS algorithm produced and accepted.
const Alg = "ES256"

// maxJWS bounds a signature string: header (kid, and an x5c chain at most) and
// a 64-byte signature.
const maxJWS = 16 << 10

var kidRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

var b64 = base64.RawURLEncoding.Strict()

// header is the protected JWS header. Unknown members (crit, b64, jku, …) are
// rejected.
type header struct {
	Alg string   `json:"alg"`
	Kid string   `json:"kid"`
	Typ string   `json:"typ,omitempty"`
	X5C []string `json:"x5c,omitempty"` // accepted, not trusted: the key comes from the caller
}

// KeyID is the kid of pub: the lower-case hex SHA-256 of its DER
// SubjectPublicKeyInfo, the same as of the certificate that certifies it. It is
// "" for a key that cannot be encoded.
func KeyID(pub *ecdsa.PublicKey) string {
	if pub == nil {
		return ""
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func checkCurve(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve != elliptic.P256() {
		return errors.New("key is not ECDSA P-256")
	}
	return nil
}

// Sign returns the compact detached JWS of filingJSON by key (ECDSA P-256: an
// *ecdsa.PrivateKey, or a key held in a TPM) under kid, which must be
// KeyID of the key's public key.
func Sign(filingJSON []byte, key crypto.Signer, kid string) (string, error) {
	if key == nil {
		return "", errors.New("filingsig: no key")
	}
	pub, _ := key.Public().(*ecdsa.PublicKey)
	if err := checkCurve(pub); err != nil {
		return "", fmt.Errorf("filingsig: %w", err)
	}
	if !kidRE.MatchString(kid) {
		return "", fmt.Errorf("filingsig: kid %q is not 64 lower-case hex digits", kid)
	}
	if kid != KeyID(pub) {
		return "", errors.New("filingsig: kid is not the key's SubjectPublicKeyInfo hash")
	}
	hb, err := json.Marshal(header{Alg: Alg, Kid: kid})
	if err != nil {
		return "", err
	}
	h := b64.EncodeToString(hb)
	digest := sha256.Sum256(signingInput(h, filingJSON))
	der, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("filingsig: %w", err)
	}
	// crypto.Signer gives ASN.1; JWS wants r and s as two 32-byte integers.
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 || rs.R == nil || rs.S == nil ||
		rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
		return "", errors.New("filingsig: the key's signature is not an ECDSA P-256 signature")
	}
	sig := make([]byte, 64)
	rs.R.FillBytes(sig[:32])
	rs.S.FillBytes(sig[32:])
	return h + ".." + b64.EncodeToString(sig), nil
}

func signingInput(encodedHeader string, payload []byte) []byte {
	in := make([]byte, 0, len(encodedHeader)+1+b64.EncodedLen(len(payload)))
	in = append(in, encodedHeader...)
	in = append(in, '.')
	return b64.AppendEncode(in, payload)
}

// Verify checks that jws is a detached ES256 JWS of exactly filingJSON by pub,
// whose kid names pub. It rejects every other algorithm ("none" included),
// unknown header members, a kid of the wrong shape or for another key, an
// embedded payload, a signature that is not raw r||s of 64 bytes, and any
// change to the payload or the header.
func Verify(filingJSON []byte, jws string, pub *ecdsa.PublicKey) error {
	if err := checkCurve(pub); err != nil {
		return err
	}
	if len(jws) > maxJWS {
		return errors.New("signature too long")
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return errors.New("not a compact JWS (want header..signature)")
	}
	if parts[1] != "" {
		return errors.New("payload is not detached")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return errors.New("header is not base64url")
	}
	var h header
	dec := json.NewDecoder(bytes.NewReader(hb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("header: data after the JSON object")
	}
	if h.Alg != Alg {
		return fmt.Errorf("algorithm %q is not %s", h.Alg, Alg)
	}
	if !kidRE.MatchString(h.Kid) {
		return errors.New("kid is not 64 lower-case hex digits")
	}
	if h.Kid != KeyID(pub) {
		return errors.New("kid names another key")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return errors.New("signature is not base64url")
	}
	if len(sig) != 64 {
		return fmt.Errorf("signature is %d bytes, not raw r||s of 64", len(sig))
	}
	digest := sha256.Sum256(signingInput(parts[0], filingJSON))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return errors.New("signature does not match the filing")
	}
	return nil
}

// Signer signs filings for the kiosk's backend client.
type Signer struct {
	Key   crypto.Signer // the device key: ECDSA P-256, in memory or in a TPM
	KeyID string        // KeyID of Key's public key; computed when empty
}

// Header returns the HTTP header (HeaderName and its JWS) to send with a POST
// /v1/filings whose "filing" member is filingJSON. The JWS covers the bytes the
// server receives: the client encodes backend.FilingRequest with json.Marshal,
// which compacts a json.RawMessage and escapes <, > and & in it, so Header
// signs WireForm(filingJSON), not filingJSON as given.
func (s Signer) Header(filingJSON []byte) (name, value string, err error) {
	kid := s.KeyID
	if kid == "" && s.Key != nil {
		pub, _ := s.Key.Public().(*ecdsa.PublicKey)
		kid = KeyID(pub)
	}
	wire, err := WireForm(filingJSON)
	if err != nil {
		return "", "", err
	}
	v, err := Sign(wire, s.Key, kid)
	if err != nil {
		return "", "", err
	}
	return HeaderName, v, nil
}

// WireForm returns filingJSON as json.Marshal writes it when it is a
// json.RawMessage field: compacted, with <, > and & escaped. It is idempotent.
func WireForm(filingJSON []byte) ([]byte, error) {
	b, err := json.Marshal(json.RawMessage(filingJSON))
	if err != nil {
		return nil, fmt.Errorf("filingsig: filing is not JSON: %w", err)
	}
	return b, nil
}
