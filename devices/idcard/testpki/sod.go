package testpki

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/lds"
)

var (
	oidSignedData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidLDSSecurityObject = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 1}
)

// SODOption changes how SignSOD builds the SignedData.
type SODOption func(*sodOptions)

type sodOptions struct {
	bySubjectKeyID bool
}

// WithSubjectKeyID identifies the signer by subject key identifier (SignerInfo
// version 3) rather than by issuer and serial number (version 1).
func WithSubjectKeyID() SODOption { return func(o *sodOptions) { o.bySubjectKeyID = true } }

// SignSOD returns a whole EF.SOD file (tag 77): a CMS SignedData (RFC 5652) over
// an LDSSecurityObject version 0 with the hash of every data group, signed by ds
// with signed attributes contentType, signingTime and messageDigest, and carrying
// ds's certificate, as ICAO 9303 Part 10 lays out EF.SOD.
func SignSOD(dataGroups map[int][]byte, hash crypto.Hash, ds Credential, opts ...SODOption) ([]byte, error) {
	var o sodOptions
	for _, opt := range opts {
		opt(&o)
	}
	hashOID, ok := hashOIDs[hash]
	if !ok {
		return nil, fmt.Errorf("testpki: unsupported hash %v", hash)
	}
	hashAlg := pkix.AlgorithmIdentifier{Algorithm: hashOID}
	type dgHash struct {
		Number int
		Hash   []byte
	}
	var hashes []dgHash
	for _, n := range slices.Sorted(maps.Keys(dataGroups)) {
		h := hash.New()
		h.Write(dataGroups[n])
		hashes = append(hashes, dgHash{n, h.Sum(nil)})
	}
	lso, err := asn1.Marshal(struct {
		Version int
		HashAlg pkix.AlgorithmIdentifier
		Hashes  []dgHash
	}{0, hashAlg, hashes})
	if err != nil {
		return nil, fmt.Errorf("testpki: LDSSecurityObject: %w", err)
	}

	h := hash.New()
	h.Write(lso)
	attrs, err := signedAttributes(h.Sum(nil))
	if err != nil {
		return nil, err
	}
	sigAlg, err := signatureAlgorithm(ds.Key, hash, ds.PSS)
	if err != nil {
		return nil, err
	}
	sig, err := sign(ds.Key, hash, ds.PSS, attrs)
	if err != nil {
		return nil, err
	}
	info, err := parseCert(ds.Certificate)
	if err != nil {
		return nil, err
	}
	version, sid := 1, asn1.RawValue{}
	if o.bySubjectKeyID {
		version = 3
		sid = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: info.ski}
	} else if sid.FullBytes, err = asn1.Marshal(struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}{asn1.RawValue{FullBytes: info.issuer}, info.serial}); err != nil {
		return nil, err
	}
	// The signed attributes go into SignerInfo as [0] IMPLICIT: the same bytes
	// as the signed SET with the tag changed.
	implicitAttrs := append([]byte{0xA0}, attrs[1:]...)
	signerInfo, err := asn1.Marshal(struct {
		Version     int
		SID         asn1.RawValue
		DigestAlg   pkix.AlgorithmIdentifier
		SignedAttrs asn1.RawValue
		SigAlg      pkix.AlgorithmIdentifier
		Signature   []byte
	}{version, sid, hashAlg, asn1.RawValue{FullBytes: implicitAttrs}, sigAlg, sig})
	if err != nil {
		return nil, err
	}
	certs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: ds.Certificate})
	if err != nil {
		return nil, err
	}
	type encap struct {
		Type    asn1.ObjectIdentifier
		Content []byte `asn1:"explicit,tag:0"`
	}
	sd, err := asn1.Marshal(struct {
		Version     int
		DigestAlgs  []pkix.AlgorithmIdentifier `asn1:"set"`
		Encap       encap
		Certs       asn1.RawValue
		SignerInfos []asn1.RawValue `asn1:"set"`
	}{3, []pkix.AlgorithmIdentifier{hashAlg}, encap{oidLDSSecurityObject, lso},
		asn1.RawValue{FullBytes: certs}, []asn1.RawValue{{FullBytes: signerInfo}}})
	if err != nil {
		return nil, fmt.Errorf("testpki: SignedData: %w", err)
	}
	// encoding/asn1 writes a RawValue's FullBytes verbatim and would drop an
	// explicit tag, so the [0] wrapper is spelled out.
	ci, err := asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{oidSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd}})
	if err != nil {
		return nil, fmt.Errorf("testpki: ContentInfo: %w", err)
	}
	return lds.EncodeSOD(ci)
}

// signedAttributes returns the DER SET OF Attribute that the signature covers,
// sorted as DER requires.
func signedAttributes(digest []byte) ([]byte, error) {
	type attribute struct {
		Type   asn1.ObjectIdentifier
		Values []any `asn1:"set"`
	}
	var encoded [][]byte
	for _, a := range []attribute{
		{oidContentType, []any{oidLDSSecurityObject}},
		{oidSigningTime, []any{time.Now().UTC().Truncate(time.Second)}},
		{oidMessageDigest, []any{digest}},
	} {
		b, err := asn1.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("testpki: signed attributes: %w", err)
		}
		encoded = append(encoded, b)
	}
	slices.SortFunc(encoded, func(a, b []byte) int { return slices.Compare(a, b) })
	var body []byte
	for _, e := range encoded {
		body = append(body, e...)
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: body})
}
