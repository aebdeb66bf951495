package passiveauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	_ "crypto/sha1" // SHA-1 is still found in old SODs and CSCA certificates
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
)

// Object identifiers of the digest and signature algorithms ICAO 9303 Part 12
// allows for the SOD and the certificates, from RFC 3279, RFC 4055, RFC 5758
// and BSI TR-03111 (plain ECDSA).
var (
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSASSAPSS     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidSHA1RSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA224RSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 14}
	oidSHA256RSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384RSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512RSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}

	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidPrimeField  = asn1.ObjectIdentifier{1, 2, 840, 10045, 1, 1}
	oidSHA1ECDSA   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidSHA224ECDSA = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}
	oidSHA256ECDSA = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSHA384ECDSA = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidSHA512ECDSA = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}

	oidPlainECDSA = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1} // BSI ecdsa-plain-signatures
)

var hashes = []struct {
	oid  asn1.ObjectIdentifier
	hash crypto.Hash
	name string
}{
	{oidSHA1, crypto.SHA1, "SHA1"},
	{oidSHA224, crypto.SHA224, "SHA224"},
	{oidSHA256, crypto.SHA256, "SHA256"},
	{oidSHA384, crypto.SHA384, "SHA384"},
	{oidSHA512, crypto.SHA512, "SHA512"},
}

// hashByOID returns the hash a digest AlgorithmIdentifier names. Parameters must be
// absent or NULL (RFC 5754 §2 allows both).
func hashByOID(ai pkix.AlgorithmIdentifier) (crypto.Hash, error) {
	if !absentOrNull(ai.Parameters) {
		return 0, fmt.Errorf("digest algorithm %s has parameters", ai.Algorithm)
	}
	for _, h := range hashes {
		if h.oid.Equal(ai.Algorithm) {
			return h.hash, nil
		}
	}
	return 0, fmt.Errorf("unsupported digest algorithm %s", ai.Algorithm)
}

func hashName(h crypto.Hash) string {
	for _, e := range hashes {
		if e.hash == h {
			return e.name
		}
	}
	return h.String()
}

func absentOrNull(v asn1.RawValue) bool {
	return len(v.FullBytes) == 0 || bytes.Equal(v.FullBytes, []byte{asn1.TagNull, 0})
}

// scheme is a signature scheme with its hash, decoded from a signature
// AlgorithmIdentifier.
type scheme struct {
	kind    schemeKind
	hash    crypto.Hash
	saltLen int // RSA-PSS only
}

type schemeKind int

const (
	schemeRSAPKCS1 schemeKind = iota + 1
	schemeRSAPSS
	schemeECDSA      // DER SEQUENCE { r, s }
	schemeECDSAPlain // r || s, BSI TR-03111
)

// parseScheme decodes a signature AlgorithmIdentifier. CMS signers may name only
// the key algorithm (rsaEncryption, id-ecPublicKey) and leave the hash to the
// SignerInfo's digestAlgorithm, passed as digest; 0 means there is none, as in a
// certificate.
func parseScheme(ai pkix.AlgorithmIdentifier, digest crypto.Hash) (scheme, error) {
	oid := ai.Algorithm
	rsaHash := map[string]crypto.Hash{
		oidSHA1RSA.String(): crypto.SHA1, oidSHA224RSA.String(): crypto.SHA224, oidSHA256RSA.String(): crypto.SHA256,
		oidSHA384RSA.String(): crypto.SHA384, oidSHA512RSA.String(): crypto.SHA512,
	}
	ecHash := map[string]crypto.Hash{
		oidSHA1ECDSA.String(): crypto.SHA1, oidSHA224ECDSA.String(): crypto.SHA224, oidSHA256ECDSA.String(): crypto.SHA256,
		oidSHA384ECDSA.String(): crypto.SHA384, oidSHA512ECDSA.String(): crypto.SHA512,
	}
	switch {
	case rsaHash[oid.String()] != 0:
		if !absentOrNull(ai.Parameters) {
			return scheme{}, errors.New("RSA PKCS#1 v1.5 algorithm has parameters")
		}
		return scheme{kind: schemeRSAPKCS1, hash: rsaHash[oid.String()]}, nil
	case ecHash[oid.String()] != 0:
		// RFC 5758 §3.2: the parameters MUST be absent.
		if len(ai.Parameters.FullBytes) != 0 {
			return scheme{}, errors.New("ECDSA algorithm has parameters")
		}
		return scheme{kind: schemeECDSA, hash: ecHash[oid.String()]}, nil
	case oid.Equal(oidRSASSAPSS):
		return parsePSS(ai.Parameters)
	case len(oid) == len(oidPlainECDSA)+1 && oid[:len(oidPlainECDSA)].Equal(oidPlainECDSA):
		plain := map[int]crypto.Hash{1: crypto.SHA1, 2: crypto.SHA224, 3: crypto.SHA256, 4: crypto.SHA384, 5: crypto.SHA512}
		if h := plain[oid[len(oid)-1]]; h != 0 {
			return scheme{kind: schemeECDSAPlain, hash: h}, nil
		}
	case digest != 0 && oid.Equal(oidRSAEncryption) && absentOrNull(ai.Parameters):
		return scheme{kind: schemeRSAPKCS1, hash: digest}, nil
	case digest != 0 && oid.Equal(oidECPublicKey):
		return scheme{kind: schemeECDSA, hash: digest}, nil
	}
	return scheme{}, fmt.Errorf("unsupported signature algorithm %s", oid)
}

// pssParams is RSASSA-PSS-params of RFC 4055 §3.1.
type pssParams struct {
	Hash         pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
	MGF          pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	SaltLength   int                      `asn1:"optional,explicit,tag:2,default:20"`
	TrailerField int                      `asn1:"optional,explicit,tag:3,default:1"`
}

func parsePSS(params asn1.RawValue) (scheme, error) {
	var p pssParams
	if len(params.FullBytes) == 0 {
		return scheme{}, errors.New("RSASSA-PSS without parameters")
	}
	rest, err := asn1.Unmarshal(params.FullBytes, &p)
	if err != nil || len(rest) != 0 {
		return scheme{}, errors.New("RSASSA-PSS parameters malformed")
	}
	// Absent fields take the RFC 4055 defaults: SHA-1 and MGF1 with SHA-1.
	h := crypto.SHA1
	if len(p.Hash.Algorithm) != 0 {
		if h, err = hashByOID(p.Hash); err != nil {
			return scheme{}, fmt.Errorf("RSASSA-PSS: %w", err)
		}
	}
	mgfHash := crypto.SHA1
	if len(p.MGF.Algorithm) != 0 {
		if !p.MGF.Algorithm.Equal(oidMGF1) {
			return scheme{}, fmt.Errorf("RSASSA-PSS: unsupported mask generation function %s", p.MGF.Algorithm)
		}
		var mh pkix.AlgorithmIdentifier
		if rest, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mh); err != nil || len(rest) != 0 {
			return scheme{}, errors.New("RSASSA-PSS: MGF1 parameters malformed")
		}
		if mgfHash, err = hashByOID(mh); err != nil {
			return scheme{}, fmt.Errorf("RSASSA-PSS MGF1: %w", err)
		}
	}
	// crypto/rsa uses the message hash for MGF1 too; no ICAO profile mixes them.
	if mgfHash != h {
		return scheme{}, errors.New("RSASSA-PSS with an MGF1 hash different from the message hash is not supported")
	}
	if p.TrailerField != 1 {
		return scheme{}, errors.New("RSASSA-PSS trailer field is not 1")
	}
	if p.SaltLength < 0 || p.SaltLength > 1024 {
		return scheme{}, errors.New("RSASSA-PSS salt length out of range")
	}
	return scheme{kind: schemeRSAPSS, hash: h, saltLen: p.SaltLength}, nil
}

// name is the algorithm's conventional name, with the curve for ECDSA, as the
// filing evidence records it.
func (s scheme) name(pub crypto.PublicKey) string {
	switch s.kind {
	case schemeRSAPKCS1:
		return strings.ToLower(hashName(s.hash)) + "WithRSAEncryption"
	case schemeRSAPSS:
		return "rsassa-pss " + s.hash.String()
	case schemeECDSA, schemeECDSAPlain:
		n := "ecdsa-with-" + hashName(s.hash)
		if s.kind == schemeECDSAPlain {
			n = "ecdsa-plain-" + hashName(s.hash)
		}
		if k, ok := pub.(*ecdsa.PublicKey); ok {
			if c, err := eccurve.ByCurve(k.Curve); err == nil {
				n += " " + c.Name
			}
		}
		return n
	}
	return "unknown"
}

// verify checks sig over msg with pub under the scheme.
func (s scheme) verify(pub crypto.PublicKey, msg, sig []byte) error {
	h := s.hash.New()
	h.Write(msg)
	digest := h.Sum(nil)
	switch s.kind {
	case schemeRSAPKCS1, schemeRSAPSS:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return errors.New("RSA signature but the key is not RSA")
		}
		if s.kind == schemeRSAPSS {
			return rsa.VerifyPSS(k, s.hash, digest, sig, &rsa.PSSOptions{SaltLength: s.saltLen, Hash: s.hash})
		}
		return rsa.VerifyPKCS1v15(k, s.hash, digest, sig)
	case schemeECDSA:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return errors.New("ECDSA signature but the key is not EC")
		}
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case schemeECDSAPlain:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return errors.New("ECDSA signature but the key is not EC")
		}
		n := (k.Params().N.BitLen() + 7) / 8
		if len(sig) != 2*n {
			return errors.New("plain ECDSA signature has the wrong length")
		}
		r, t := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(k, digest, r, t) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	}
	return errors.New("unknown signature scheme")
}
