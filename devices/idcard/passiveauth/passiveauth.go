// Package passiveauth owns Passive Authentication of ICAO 9303 Part 11 §5.1 with
// the PKI of Part 12: it parses EF.SOD (a CMS SignedData over the
// LDSSecurityObject) itself, checks the messageDigest attribute and the Document
// Signer's signature (RSA PKCS#1 v1.5, RSA-PSS, ECDSA on NIST and brainpool
// curves), chains the Document Signer to a CSCA of a provisioned trust store with
// validity and CRL checks, and compares the hash of every data group read. It
// reports what it proved in distinct states — a valid signature under an unknown
// CSCA is not "verified" — because Vietnam's CSCA is not in the public master
// lists and kiosks must say exactly which part held. Certificates are parsed here,
// not by crypto/x509, which refuses brainpool keys. Nothing is logged, and reasons
// name structures and algorithms, never card data.
package passiveauth

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Result states.
const (
	// StatusValid: signature, messageDigest and every data group hash are right and
	// the Document Signer chains to a trusted CSCA.
	StatusValid = "valid"
	// StatusInvalid: the SOD is unparsable, or its signature, its messageDigest or
	// a data group hash is wrong. The card's data must not be trusted.
	StatusInvalid = "invalid"
	// StatusUntrustedChain: signature and hashes are right, and the trust store
	// has a CSCA of the issuer's name or key identifier, but the Document Signer
	// certificate does not verify under it, is outside its validity, or is
	// revoked.
	StatusUntrustedChain = "untrusted_chain"
	// StatusUnknownCSCA: signature and hashes are right but no CSCA in the trust
	// store matches the Document Signer's issuer (including an empty store).
	StatusUnknownCSCA = "unknown_csca"
	// StatusAbsent: there was no SOD to check.
	StatusAbsent = "absent"
)

// Per data group results.
const (
	DataGroupOK       = "ok"
	DataGroupMismatch = "mismatch"
)

// Result is the outcome of Passive Authentication, shaped for the filing evidence.
type Result struct {
	Status string
	// SignatureAlgorithm of the SOD signature, e.g. "ecdsa-with-SHA256
	// brainpoolP256r1", "rsassa-pss SHA-256", "sha256WithRSAEncryption".
	SignatureAlgorithm string
	// DataGroups has DataGroupOK or DataGroupMismatch for every data group read;
	// a data group listed in the SOD but not read is not listed, one read but not
	// in the SOD is a mismatch.
	DataGroups map[int]string
	// Reason explains any status but StatusValid, in English, without card data.
	Reason string
	// SODHash is the hex SHA-256 of the EF.SOD file bytes.
	SODHash string
}

// Verify performs Passive Authentication of sod (the whole EF.SOD file, tag 77)
// over dataGroups (whole files by data group number) against ts at time now.
// A nil ts is an empty trust store.
func Verify(sod []byte, dataGroups map[int][]byte, ts *TrustStore, now time.Time) Result {
	if len(sod) == 0 {
		return Result{Status: StatusAbsent, Reason: "no SOD"}
	}
	sum := sha256.Sum256(sod)
	res := Result{SODHash: hex.EncodeToString(sum[:])}
	s, err := ParseSOD(sod)
	if err != nil {
		res.Status, res.Reason = StatusInvalid, err.Error()
		return res
	}
	res.DataGroups = s.compareDataGroups(dataGroups)

	var problems []string
	if err := s.verifySignature(&res); err != nil {
		problems = append(problems, err.Error())
	}
	var bad []string
	for _, n := range slices.Sorted(maps.Keys(res.DataGroups)) {
		if res.DataGroups[n] != DataGroupOK {
			bad = append(bad, fmt.Sprintf("DG%d", n))
		}
	}
	if len(bad) > 0 {
		problems = append(problems, "hash mismatch for "+strings.Join(bad, ", "))
	}
	if len(problems) > 0 {
		res.Status, res.Reason = StatusInvalid, strings.Join(problems, "; ")
		return res
	}
	res.Status, res.Reason = ts.chain(s.DocumentSigner, now)
	return res
}

// compareDataGroups hashes every data group read with the SOD's algorithm.
func (s *SOD) compareDataGroups(dataGroups map[int][]byte) map[int]string {
	out := make(map[int]string, len(dataGroups))
	for n, b := range dataGroups {
		out[n] = DataGroupMismatch
		want, ok := s.DataGroupHashes[n]
		if !ok {
			continue
		}
		h := s.HashAlgorithm.New()
		h.Write(b)
		if bytes.Equal(h.Sum(nil), want) {
			out[n] = DataGroupOK
		}
	}
	return out
}

// verifySignature checks the signed attributes and the Document Signer's
// signature over them (RFC 5652 §5.4, §11), and records the algorithm.
func (s *SOD) verifySignature(res *Result) error {
	sch, err := parseScheme(s.signer.sigAlg, s.signer.digest)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	if s.DocumentSigner == nil {
		res.SignatureAlgorithm = sch.name(nil)
		return errors.New("the SOD does not carry the Document Signer certificate its SignerInfo names")
	}
	res.SignatureAlgorithm = sch.name(s.DocumentSigner.PublicKey)

	ct, err := s.signer.attr(oidContentType)
	if err != nil {
		return err
	}
	var ctOID asn1.ObjectIdentifier
	if err := unmarshalWhole(ct.FullBytes, &ctOID, "contentType attribute"); err != nil {
		return err
	}
	if !ctOID.Equal(s.eContentType) {
		return errors.New("contentType attribute differs from the encapsulated content type")
	}
	md, err := s.signer.attr(oidMessageDigest)
	if err != nil {
		return err
	}
	if md.Class != asn1.ClassUniversal || md.Tag != asn1.TagOctetString || md.IsCompound {
		return errors.New("messageDigest attribute is not an OCTET STRING")
	}
	h := s.signer.digest.New()
	h.Write(s.eContent)
	if !bytes.Equal(h.Sum(nil), md.Bytes) {
		return errors.New("messageDigest does not match the LDSSecurityObject")
	}
	if err := sch.verify(s.DocumentSigner.PublicKey, s.signer.signedAttrs, s.signer.signature); err != nil {
		return errors.New("the Document Signer's signature over the SOD does not verify")
	}
	return nil
}

// chain decides between valid, untrusted_chain and unknown_csca for a Document
// Signer whose signature already verified.
func (ts *TrustStore) chain(ds *Certificate, now time.Time) (string, string) {
	var candidates []*Certificate
	for _, c := range ts.CSCAs() {
		byName := bytes.Equal(c.RawSubject, ds.RawIssuer)
		byKeyID := len(ds.AuthorityKeyID) > 0 && bytes.Equal(c.SubjectKeyID, ds.AuthorityKeyID)
		if byName || byKeyID {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) == 0 {
		return StatusUnknownCSCA, "no CSCA in the trust store matches the Document Signer's issuer"
	}
	if ds.UnhandledCritical {
		return StatusUntrustedChain, "the Document Signer certificate has an unsupported critical extension"
	}
	if ds.KeyUsage != 0 && ds.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return StatusUntrustedChain, "the Document Signer certificate's key usage excludes digital signatures"
	}
	reason := "the Document Signer certificate does not verify under any CSCA of its issuer"
	for _, csca := range candidates {
		if !csca.canSignCertificates() {
			reason = "the matching CSCA certificate is not a CA certificate"
			continue
		}
		if err := ds.checkSignatureFrom(csca); err != nil {
			continue
		}
		switch {
		case now.Before(csca.NotBefore) || now.After(csca.NotAfter):
			return StatusUntrustedChain, "the CSCA certificate is outside its validity period"
		case now.Before(ds.NotBefore):
			return StatusUntrustedChain, "the Document Signer certificate is not yet valid"
		case now.After(ds.NotAfter):
			return StatusUntrustedChain, "the Document Signer certificate has expired"
		case ts.revoked(csca, ds):
			return StatusUntrustedChain, "the Document Signer certificate is revoked by the CSCA's CRL"
		}
		return StatusValid, ""
	}
	return StatusUntrustedChain, reason
}

// canSignCertificates applies basicConstraints and keyUsage when present; old
// CSCA certificates without them are still accepted as the provisioned anchors
// they are.
func (c *Certificate) canSignCertificates() bool {
	if c.UnhandledCritical {
		return false
	}
	if c.HasBasicConstraints && !c.IsCA {
		return false
	}
	return c.KeyUsage == 0 || c.KeyUsage&x509.KeyUsageCertSign != 0
}

// revoked reports whether a CRL of csca, whose signature verifies under csca's
// key, lists ds. A CRL that does not verify is ignored: anyone could forge one.
func (ts *TrustStore) revoked(csca, ds *Certificate) bool {
	for _, crl := range ts.crls {
		if !bytes.Equal(crl.RawIssuer, csca.RawSubject) || !crl.revokes(ds.SerialNumber) {
			continue
		}
		sch, err := parseScheme(crl.sigAlg, 0)
		if err != nil {
			continue
		}
		if sch.verify(csca.PublicKey, crl.rawTBS, crl.sig) == nil {
			return true
		}
	}
	return false
}
