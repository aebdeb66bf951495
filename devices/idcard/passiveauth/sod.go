package passiveauth

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/vnkiosk/kiosk/devices/idcard/lds"
)

// CMS and ICAO object identifiers (RFC 5652, ICAO 9303 Part 10 EF.SOD).
var (
	oidSignedData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidLDSSecurityObject = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 1}
)

// SOD is the Document Security Object (EF.SOD) of ICAO 9303 Part 10: a CMS
// SignedData whose content is the LDSSecurityObject, the list of data group hashes.
type SOD struct {
	HashAlgorithm   crypto.Hash    // of the data group hashes
	DataGroupHashes map[int][]byte // by data group number
	// DocumentSigner is the certificate in SignedData that the SignerInfo names;
	// nil if the SOD does not carry it.
	DocumentSigner *Certificate

	eContent     []byte // the LDSSecurityObject DER, what messageDigest covers
	eContentType asn1.ObjectIdentifier
	signer       signerInfo
}

// signerInfo holds the parts of RFC 5652 SignerInfo the verification needs.
type signerInfo struct {
	digest      crypto.Hash
	sigAlg      pkix.AlgorithmIdentifier
	signature   []byte
	signedAttrs []byte // the DER SET OF Attribute, tag rewritten to SET as §5.4 requires
	attrs       []attributeASN1
}

type contentInfoASN1 struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT; encoding/asn1 keeps the wrapper in a RawValue
}

type signedDataASN1 struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo struct {
		EContentType asn1.ObjectIdentifier
		EContent     []byte `asn1:"explicit,tag:0"`
	}
	Certificates asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs         asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos  []asn1.RawValue `asn1:"set"`
}

type signerInfoASN1 struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type attributeASN1 struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

type issuerAndSerialASN1 struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type ldsSecurityObjectASN1 struct {
	Version         int
	HashAlgorithm   pkix.AlgorithmIdentifier
	DataGroupHashes []dataGroupHashASN1
	LDSVersionInfo  asn1.RawValue `asn1:"optional"`
}

type dataGroupHashASN1 struct {
	Number int
	Hash   []byte
}

// ParseSOD parses a whole EF.SOD file (tag 77). It checks structure only;
// Verify checks signatures and hashes.
func ParseSOD(file []byte) (*SOD, error) {
	s, err := parseSOD(file)
	if err != nil {
		return nil, fmt.Errorf("passiveauth: parse SOD: %w", err)
	}
	return s, nil
}

func unmarshalWhole(b []byte, v any, what string) error {
	rest, err := asn1.Unmarshal(b, v)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%s: trailing bytes", what)
	}
	return nil
}

func parseSOD(file []byte) (*SOD, error) {
	ciDER, err := lds.ParseSOD(file)
	if err != nil {
		return nil, err
	}
	var ci contentInfoASN1
	if err := unmarshalWhole(ciDER, &ci, "ContentInfo"); err != nil {
		return nil, err
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("content type %s is not SignedData", ci.ContentType)
	}
	if ci.Content.Class != asn1.ClassContextSpecific || ci.Content.Tag != 0 || !ci.Content.IsCompound {
		return nil, errors.New("ContentInfo content is not [0] EXPLICIT")
	}
	var sd signedDataASN1
	if err := unmarshalWhole(ci.Content.Bytes, &sd, "SignedData"); err != nil {
		return nil, err
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidLDSSecurityObject) {
		return nil, fmt.Errorf("encapsulated content %s is not an LDSSecurityObject", sd.EncapContentInfo.EContentType)
	}
	// ICAO 9303 Part 10 recommends a single SignerInfo; with several it would
	// be ambiguous whose chain the result vouches for, so they are refused.
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("%d SignerInfos, want 1", len(sd.SignerInfos))
	}
	s := &SOD{
		eContent:     sd.EncapContentInfo.EContent,
		eContentType: sd.EncapContentInfo.EContentType,
	}
	var lso ldsSecurityObjectASN1
	if err := unmarshalWhole(s.eContent, &lso, "LDSSecurityObject"); err != nil {
		return nil, err
	}
	if lso.Version != 0 && lso.Version != 1 {
		return nil, fmt.Errorf("LDSSecurityObject version %d", lso.Version)
	}
	if s.HashAlgorithm, err = hashByOID(lso.HashAlgorithm); err != nil {
		return nil, fmt.Errorf("LDSSecurityObject: %w", err)
	}
	if len(lso.DataGroupHashes) < 2 || len(lso.DataGroupHashes) > 16 {
		return nil, fmt.Errorf("LDSSecurityObject lists %d data groups, want 2 to 16", len(lso.DataGroupHashes))
	}
	s.DataGroupHashes = make(map[int][]byte, len(lso.DataGroupHashes))
	for _, h := range lso.DataGroupHashes {
		if h.Number < 1 || h.Number > 16 {
			return nil, fmt.Errorf("LDSSecurityObject lists data group %d", h.Number)
		}
		if _, dup := s.DataGroupHashes[h.Number]; dup {
			return nil, fmt.Errorf("LDSSecurityObject lists data group %d twice", h.Number)
		}
		if len(h.Hash) != s.HashAlgorithm.Size() {
			return nil, fmt.Errorf("hash of data group %d has %d bytes, want %d", h.Number, len(h.Hash), s.HashAlgorithm.Size())
		}
		s.DataGroupHashes[h.Number] = h.Hash
	}
	var certs []*Certificate
	if len(sd.Certificates.FullBytes) != 0 {
		if !sd.Certificates.IsCompound {
			return nil, errors.New("certificates is not a SET")
		}
		for b := sd.Certificates.Bytes; len(b) > 0; {
			var raw asn1.RawValue
			if b, err = asn1.Unmarshal(b, &raw); err != nil {
				return nil, fmt.Errorf("certificates: %w", err)
			}
			// Other CertificateChoices (attribute certificates and the like)
			// have context tags; only plain certificates can be the signer.
			if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence {
				continue
			}
			c, err := parseCertificate(raw.FullBytes)
			if err != nil {
				return nil, fmt.Errorf("certificates: %w", err)
			}
			certs = append(certs, c)
		}
	}
	var si signerInfoASN1
	if err := unmarshalWhole(sd.SignerInfos[0].FullBytes, &si, "SignerInfo"); err != nil {
		return nil, err
	}
	if s.signer, err = parseSignerInfo(si); err != nil {
		return nil, fmt.Errorf("SignerInfo: %w", err)
	}
	if s.DocumentSigner, err = findSigner(si, certs); err != nil {
		return nil, fmt.Errorf("SignerInfo: %w", err)
	}
	return s, nil
}

func parseSignerInfo(si signerInfoASN1) (signerInfo, error) {
	var out signerInfo
	var err error
	if out.digest, err = hashByOID(si.DigestAlgorithm); err != nil {
		return out, err
	}
	// The ICAO 9303 Part 10 SOD profile makes signed attributes mandatory;
	// without them the signature would cover the eContent directly, a path no
	// issuer uses.
	if len(si.SignedAttrs.FullBytes) == 0 {
		return out, errors.New("no signed attributes")
	}
	if !si.SignedAttrs.IsCompound {
		return out, errors.New("signed attributes are not constructed")
	}
	// RFC 5652 §5.4: the signature covers the DER of SET OF Attribute, that is
	// the [0] IMPLICIT bytes as received with the tag replaced by SET.
	out.signedAttrs = bytes.Clone(si.SignedAttrs.FullBytes)
	out.signedAttrs[0] = 0x31
	rest, err := asn1.UnmarshalWithParams(out.signedAttrs, &out.attrs, "set")
	if err != nil {
		return out, fmt.Errorf("signed attributes: %w", err)
	}
	if len(rest) != 0 {
		return out, errors.New("signed attributes: trailing bytes")
	}
	out.sigAlg = si.SignatureAlgorithm
	out.signature = si.Signature
	return out, nil
}

// attr returns the single value of a signed attribute. RFC 5652 §11 requires
// contentType and messageDigest to appear once with one value.
func (si signerInfo) attr(oid asn1.ObjectIdentifier) (asn1.RawValue, error) {
	var found []asn1.RawValue
	for _, a := range si.attrs {
		if a.Type.Equal(oid) {
			found = append(found, a.Values...)
			if len(a.Values) != 1 {
				return asn1.RawValue{}, fmt.Errorf("attribute %s has %d values", oid, len(a.Values))
			}
		}
	}
	if len(found) != 1 {
		return asn1.RawValue{}, fmt.Errorf("attribute %s appears %d times, want once", oid, len(found))
	}
	return found[0], nil
}

// findSigner returns the certificate the SignerInfo's sid designates: by issuer
// and serial number (version 1) or by subject key identifier (version 3).
func findSigner(si signerInfoASN1, certs []*Certificate) (*Certificate, error) {
	sid := si.SID
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias issuerAndSerialASN1
		if err := unmarshalWhole(sid.FullBytes, &ias, "issuerAndSerialNumber"); err != nil {
			return nil, err
		}
		for _, c := range certs {
			if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && c.SerialNumber.Cmp(ias.Serial) == 0 {
				return c, nil
			}
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 && !sid.IsCompound:
		for _, c := range certs {
			if c.SubjectKeyID != nil && bytes.Equal(c.SubjectKeyID, sid.Bytes) {
				return c, nil
			}
		}
	default:
		return nil, errors.New("signer identifier is neither issuerAndSerialNumber nor subjectKeyIdentifier")
	}
	return nil, nil
}
