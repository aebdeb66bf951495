// Package activeauth owns Active Authentication, ICAO 9303 Part 11 §6.1: the
// terminal sends a random 8-byte challenge with INTERNAL AUTHENTICATE and the chip
// signs it with the private key whose public key is in DG15, which proves the chip
// is not a copy (the key cannot be read out). RSA chips sign with ISO/IEC 9796-2
// digital signature scheme 1 (message recovery, the challenge as the
// non-recoverable part); ECDSA chips give a plain r||s signature (BSI TR-03111)
// with the hash named by the ActiveAuthenticationInfo in DG14. DG15 keys are parsed
// here (via securityinfo for brainpool EC keys, which crypto/x509 rejects). The
// package also holds the card side, signers for the virtual card. A signature that
// does not verify is a Result that failed, not an error: errors are for the card
// refusing the command or for keys this code cannot use.
package activeauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"github.com/vnkiosk/kiosk/devices/idcard/iso7816"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
)

// ChallengeLen is the length of RND.IFD (§6.1.3).
const ChallengeLen = 8

// Result is the outcome of an active authentication that ran to the end.
type Result struct {
	// Algorithm describes the signature scheme, e.g. "RSA-2048 ISO/IEC 9796-2
	// scheme 1" or "ECDSA brainpoolP256r1".
	Algorithm string
	// Hash is the hash the signature used (for RSA, read from the recovered
	// trailer); zero if the signature was too broken to tell.
	Hash crypto.Hash
	// OK is true when the signature over the challenge verifies under the DG15
	// key. Passive authentication must have verified DG15 for this to mean
	// anything.
	OK bool
	// Reason says why OK is false.
	Reason string
}

func (r Result) failed(reason string) Result {
	r.OK = false
	r.Reason = reason
	return r
}

// Authenticate runs active authentication over s (normally the secure messaging
// channel). dg15SPKI is the SubjectPublicKeyInfo inside DG15 (tag 6F removed);
// aaInfo is DG14's ActiveAuthenticationInfo, required for ECDSA keys and ignored
// for RSA. rnd supplies the challenge; nil means crypto/rand.
func Authenticate(ctx context.Context, s iso7816.Sender, dg15SPKI []byte, aaInfo *securityinfo.ActiveAuthenticationInfo, rnd io.Reader) (Result, error) {
	v, err := newVerifier(dg15SPKI, aaInfo)
	if err != nil {
		return Result{}, err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	challenge := make([]byte, ChallengeLen)
	if _, err := io.ReadFull(rnd, challenge); err != nil {
		return Result{}, fmt.Errorf("activeauth: challenge: %w", err)
	}
	resp, err := s.Send(ctx, InternalAuthenticate(challenge))
	if err != nil {
		return Result{}, fmt.Errorf("activeauth: INTERNAL AUTHENTICATE: %w", err)
	}
	if err := resp.Err(); err != nil {
		return Result{}, fmt.Errorf("activeauth: INTERNAL AUTHENTICATE: %w", err)
	}
	return v.verify(challenge, resp.Data), nil
}

// InternalAuthenticate is the command of §6.1.3: the challenge, Le = 256 so that a
// 2048-bit RSA signature fits.
func InternalAuthenticate(challenge []byte) iso7816.Command {
	return iso7816.Command{INS: 0x88, Data: challenge, Ne: iso7816.MaxShortNe}
}

// Verify checks a signature over challenge with the DG15 key, without talking to
// a card.
func Verify(dg15SPKI []byte, aaInfo *securityinfo.ActiveAuthenticationInfo, challenge, signature []byte) (Result, error) {
	v, err := newVerifier(dg15SPKI, aaInfo)
	if err != nil {
		return Result{}, err
	}
	return v.verify(challenge, signature), nil
}

type verifier interface {
	verify(challenge, signature []byte) Result
}

var oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}

// minRSABits is the smallest modulus §6.1 allows for active authentication keys.
const minRSABits = 1024

func newVerifier(spki []byte, aaInfo *securityinfo.ActiveAuthenticationInfo) (verifier, error) {
	var k struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(spki, &k); err != nil || len(rest) > 0 {
		return nil, errors.New("activeauth: DG15 is not a SubjectPublicKeyInfo")
	}
	if k.Algorithm.Algorithm.Equal(oidRSAEncryption) {
		pub, err := x509.ParsePKIXPublicKey(spki)
		if err != nil {
			return nil, fmt.Errorf("activeauth: DG15 RSA key: %w", err)
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("activeauth: DG15 RSA key did not decode as RSA")
		}
		if rk.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("activeauth: DG15 RSA key of %d bits is below %d", rk.N.BitLen(), minRSABits)
		}
		return rsaVerifier{key: rk}, nil
	}
	c, p, err := securityinfo.ParseECPublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("activeauth: DG15 key: %w", err)
	}
	if aaInfo == nil {
		return nil, errors.New("activeauth: ECDSA active authentication needs DG14's ActiveAuthenticationInfo to know the hash")
	}
	h, err := HashForSignatureAlgorithm(aaInfo.SignatureAlgorithm)
	if err != nil {
		return nil, err
	}
	return ecdsaVerifier{curve: c, pub: p, hash: h}, nil
}

// Signature algorithm OIDs an ActiveAuthenticationInfo may name: the plain-format
// ecdsa-plain-* of BSI TR-03111 §5.2.1, which ICAO 9303 specifies, and the X9.62
// ecdsa-with-* some issuers write instead.
var signatureHashes = []struct {
	oid  asn1.ObjectIdentifier
	hash crypto.Hash
}{
	{append(append(asn1.ObjectIdentifier(nil), securityinfo.OIDECPlain...), 1), crypto.SHA1},
	{append(append(asn1.ObjectIdentifier(nil), securityinfo.OIDECPlain...), 2), crypto.SHA224},
	{append(append(asn1.ObjectIdentifier(nil), securityinfo.OIDECPlain...), 3), crypto.SHA256},
	{append(append(asn1.ObjectIdentifier(nil), securityinfo.OIDECPlain...), 4), crypto.SHA384},
	{append(append(asn1.ObjectIdentifier(nil), securityinfo.OIDECPlain...), 5), crypto.SHA512},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, crypto.SHA1},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}, crypto.SHA224},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, crypto.SHA256},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, crypto.SHA384},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, crypto.SHA512},
}

// HashForSignatureAlgorithm maps an ActiveAuthenticationInfo signature algorithm
// to its hash.
func HashForSignatureAlgorithm(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	for _, s := range signatureHashes {
		if s.oid.Equal(oid) {
			return s.hash, nil
		}
	}
	return 0, fmt.Errorf("activeauth: unsupported signature algorithm %s", oid)
}

// PlainSignatureAlgorithm returns the ecdsa-plain-* OID for h, for the
// ActiveAuthenticationInfo of a virtual card.
func PlainSignatureAlgorithm(h crypto.Hash) (asn1.ObjectIdentifier, error) {
	for _, s := range signatureHashes[:5] {
		if s.hash == h {
			return s.oid, nil
		}
	}
	return nil, fmt.Errorf("activeauth: no ecdsa-plain algorithm for %s", h)
}

// Signer is the card side of active authentication.
type Signer interface {
	// Sign returns the signature the chip sends in answer to INTERNAL
	// AUTHENTICATE with challenge.
	Sign(challenge []byte) ([]byte, error)
	// PublicKey returns the SubjectPublicKeyInfo to store in DG15.
	PublicKey() ([]byte, error)
}

// Respond answers an INTERNAL AUTHENTICATE command for the virtual card.
func Respond(s Signer, cmd iso7816.Command) iso7816.Response {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return iso7816.Response{SW: iso7816.SWIncorrectP1P2}
	}
	if len(cmd.Data) != ChallengeLen {
		return iso7816.Response{SW: iso7816.SWWrongLength}
	}
	sig, err := s.Sign(cmd.Data)
	if err != nil {
		return iso7816.Response{SW: iso7816.SWUnknown}
	}
	return iso7816.Response{Data: sig, SW: iso7816.SWOK}
}
