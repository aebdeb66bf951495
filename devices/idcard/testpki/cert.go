package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

var (
	oidSHA256           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA1             = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA384           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidRSASSAPSS        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidECPublicKey      = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidExtSubjectKeyID  = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtBasicConstr   = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidExtCRLNumber     = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidExtAuthorityKeyI = asn1.ObjectIdentifier{2, 5, 29, 35}
)

var hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA1: oidSHA1, crypto.SHA224: oidSHA224, crypto.SHA256: oidSHA256,
	crypto.SHA384: oidSHA384, crypto.SHA512: oidSHA512,
}

// signatureAlgorithm returns the AlgorithmIdentifier for signing with key and hash.
func signatureAlgorithm(key crypto.Signer, hash crypto.Hash, pss bool) (pkix.AlgorithmIdentifier, error) {
	hashOID, ok := hashOIDs[hash]
	if !ok {
		return pkix.AlgorithmIdentifier{}, fmt.Errorf("testpki: unsupported hash %v", hash)
	}
	last := map[crypto.Hash]int{crypto.SHA1: 5, crypto.SHA224: 14, crypto.SHA256: 11, crypto.SHA384: 12, crypto.SHA512: 13}
	switch key.Public().(type) {
	case *rsa.PublicKey:
		if pss {
			hashAlg := pkix.AlgorithmIdentifier{Algorithm: hashOID, Parameters: asn1.NullRawValue}
			mgfParams, err := asn1.Marshal(hashAlg)
			if err != nil {
				return pkix.AlgorithmIdentifier{}, err
			}
			params, err := asn1.Marshal(struct {
				Hash       pkix.AlgorithmIdentifier `asn1:"explicit,tag:0"`
				MGF        pkix.AlgorithmIdentifier `asn1:"explicit,tag:1"`
				SaltLength int                      `asn1:"explicit,tag:2"`
			}{hashAlg, pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: mgfParams}}, hash.Size()})
			if err != nil {
				return pkix.AlgorithmIdentifier{}, err
			}
			return pkix.AlgorithmIdentifier{Algorithm: oidRSASSAPSS, Parameters: asn1.RawValue{FullBytes: params}}, nil
		}
		// RFC 4055 §5: PKCS#1 v1.5 identifiers carry NULL parameters.
		return pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, last[hash]}, Parameters: asn1.NullRawValue}, nil
	case *ecdsa.PublicKey:
		ec := map[crypto.Hash]asn1.ObjectIdentifier{
			crypto.SHA1: {1, 2, 840, 10045, 4, 1}, crypto.SHA224: {1, 2, 840, 10045, 4, 3, 1},
			crypto.SHA256: {1, 2, 840, 10045, 4, 3, 2}, crypto.SHA384: {1, 2, 840, 10045, 4, 3, 3},
			crypto.SHA512: {1, 2, 840, 10045, 4, 3, 4},
		}
		// RFC 5758 §3.2: ECDSA identifiers have no parameters.
		return pkix.AlgorithmIdentifier{Algorithm: ec[hash]}, nil
	}
	return pkix.AlgorithmIdentifier{}, errors.New("testpki: unsupported key type")
}

// sign hashes msg and signs it with key under the scheme signatureAlgorithm names.
func sign(key crypto.Signer, hash crypto.Hash, pss bool, msg []byte) ([]byte, error) {
	h := hash.New()
	h.Write(msg)
	var opts crypto.SignerOpts = hash
	if pss {
		opts = &rsa.PSSOptions{SaltLength: hash.Size(), Hash: hash}
	}
	sig, err := key.Sign(rand.Reader, h.Sum(nil), opts)
	if err != nil {
		return nil, fmt.Errorf("testpki: sign: %w", err)
	}
	return sig, nil
}

// marshalSPKI encodes the SubjectPublicKeyInfo of pub. EC keys name their curve
// by OID (ICAO 9303 Part 12 allows explicit parameters too; named is the norm).
func marshalSPKI(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return x509.MarshalPKIXPublicKey(k)
	case *ecdsa.PublicKey:
		c, point, err := ecPoint(k)
		if err != nil {
			return nil, err
		}
		curveOID, err := asn1.Marshal(c.OID)
		if err != nil {
			return nil, err
		}
		return asn1.Marshal(struct {
			Algorithm pkix.AlgorithmIdentifier
			PublicKey asn1.BitString
		}{
			pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: curveOID}},
			asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
		})
	}
	return nil, errors.New("testpki: unsupported public key type")
}

// subjectKeyID is RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.
func subjectKeyID(spki []byte) ([]byte, error) {
	var s struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &s); err != nil {
		return nil, err
	}
	sum := sha1.Sum(s.PublicKey.Bytes)
	return sum[:], nil
}

type tbsCertificate struct {
	Version    int `asn1:"explicit,tag:0"`
	Serial     *big.Int
	SigAlg     pkix.AlgorithmIdentifier
	Issuer     asn1.RawValue
	Validity   validity
	Subject    asn1.RawValue
	SPKI       asn1.RawValue
	Extensions []pkix.Extension `asn1:"explicit,tag:3"`
}

type validity struct {
	NotBefore, NotAfter asn1.RawValue
}

// marshalTime follows RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime
// from 2050.
func marshalTime(t time.Time) (asn1.RawValue, error) {
	t = t.UTC().Truncate(time.Second)
	params := "utc"
	if t.Year() >= 2050 {
		params = "generalized"
	}
	b, err := asn1.MarshalWithParams(t, params)
	return asn1.RawValue{FullBytes: b}, err
}

func marshalName(cn string) ([]byte, error) {
	return asn1.Marshal(pkix.Name{
		Country:      []string{"VN"},
		Organization: []string{"vnkiosk test PKI"},
		CommonName:   cn,
	}.ToRDNSequence())
}

// certificate assembles and signs a certificate.
func certificate(signer Credential, flavourPSS bool, issuerName []byte, issuerKeyID []byte,
	subject crypto.Signer, subjectCN string, notBefore, notAfter time.Time, ca bool) ([]byte, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	sigAlg, err := signatureAlgorithm(signer.Key, crypto.SHA256, flavourPSS)
	if err != nil {
		return nil, err
	}
	subjectName, err := marshalName(subjectCN)
	if err != nil {
		return nil, err
	}
	if issuerName == nil {
		issuerName = subjectName
	}
	spki, err := marshalSPKI(subject.Public())
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(spki)
	if err != nil {
		return nil, err
	}
	if issuerKeyID == nil {
		issuerKeyID = ski
	}
	nb, err := marshalTime(notBefore)
	if err != nil {
		return nil, err
	}
	na, err := marshalTime(notAfter)
	if err != nil {
		return nil, err
	}
	exts, err := extensions(ski, issuerKeyID, ca)
	if err != nil {
		return nil, err
	}
	tbs, err := asn1.Marshal(tbsCertificate{
		Version: 2, Serial: serial, SigAlg: sigAlg,
		Issuer: asn1.RawValue{FullBytes: issuerName}, Validity: validity{nb, na},
		Subject: asn1.RawValue{FullBytes: subjectName}, SPKI: asn1.RawValue{FullBytes: spki},
		Extensions: exts,
	})
	if err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	return signed(tbs, sigAlg, signer.Key, flavourPSS)
}

// signed wraps a TBS structure with its algorithm and signature, the layout of
// both Certificate and CertificateList.
func signed(tbs []byte, sigAlg pkix.AlgorithmIdentifier, key crypto.Signer, pss bool) ([]byte, error) {
	sig, err := sign(key, crypto.SHA256, pss, tbs)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		TBS    asn1.RawValue
		SigAlg pkix.AlgorithmIdentifier
		Sig    asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, sigAlg, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
}

// extensions follows the ICAO 9303 Part 12 profiles: a CSCA has critical
// basicConstraints (cA, path length 0) and keyUsage keyCertSign|cRLSign; a
// Document Signer has critical keyUsage digitalSignature. Both carry SKI and AKI.
func extensions(ski, aki []byte, ca bool) ([]pkix.Extension, error) {
	var exts []pkix.Extension
	add := func(oid asn1.ObjectIdentifier, critical bool, v any) error {
		b, err := asn1.Marshal(v)
		if err != nil {
			return err
		}
		exts = append(exts, pkix.Extension{Id: oid, Critical: critical, Value: b})
		return nil
	}
	var errs []error
	errs = append(errs, add(oidExtAuthorityKeyI, false, struct {
		KeyID []byte `asn1:"tag:0"`
	}{aki}))
	errs = append(errs, add(oidExtSubjectKeyID, false, ski))
	if ca {
		errs = append(errs, add(oidExtKeyUsage, true, asn1.BitString{Bytes: []byte{0x06}, BitLength: 7})) // keyCertSign, cRLSign
		errs = append(errs, add(oidExtBasicConstr, true, struct {
			IsCA       bool
			MaxPathLen int
		}{true, 0}))
	} else {
		errs = append(errs, add(oidExtKeyUsage, true, asn1.BitString{Bytes: []byte{0x80}, BitLength: 1})) // digitalSignature
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("testpki: %w", err)
	}
	return exts, nil
}

func selfSigned(f Flavour, key crypto.Signer, cn string, notBefore, notAfter time.Time) (Credential, error) {
	pss := f == RSAPSS
	der, err := certificate(Credential{Key: key}, pss, nil, nil, key, cn, notBefore, notAfter, true)
	if err != nil {
		return Credential{}, err
	}
	return Credential{Certificate: der, Key: key, PSS: pss}, nil
}

func issue(f Flavour, issuer Credential, key crypto.Signer, cn string, notBefore, notAfter time.Time, ca bool) (Credential, error) {
	info, err := parseCert(issuer.Certificate)
	if err != nil {
		return Credential{}, err
	}
	pss := f == RSAPSS
	der, err := certificate(issuer, pss, info.subject, info.ski, key, cn, notBefore, notAfter, ca)
	if err != nil {
		return Credential{}, err
	}
	return Credential{Certificate: der, Key: key, PSS: pss}, nil
}

// certInfo is what issuing needs from an existing certificate.
type certInfo struct {
	serial  *big.Int
	issuer  []byte
	subject []byte
	ski     []byte
	sigAlg  pkix.AlgorithmIdentifier
}

func parseCert(der []byte) (certInfo, error) {
	var c struct {
		TBS struct {
			Version    int `asn1:"optional,explicit,default:0,tag:0"`
			Serial     *big.Int
			SigAlg     pkix.AlgorithmIdentifier
			Issuer     asn1.RawValue
			Validity   asn1.RawValue
			Subject    asn1.RawValue
			SPKI       asn1.RawValue
			Extensions []pkix.Extension `asn1:"optional,explicit,tag:3"`
		}
		SigAlg pkix.AlgorithmIdentifier
		Sig    asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &c); err != nil {
		return certInfo{}, fmt.Errorf("testpki: parse certificate: %w", err)
	}
	info := certInfo{serial: c.TBS.Serial, issuer: c.TBS.Issuer.FullBytes, subject: c.TBS.Subject.FullBytes, sigAlg: c.SigAlg}
	for _, e := range c.TBS.Extensions {
		if e.Id.Equal(oidExtSubjectKeyID) {
			if _, err := asn1.Unmarshal(e.Value, &info.ski); err != nil {
				return certInfo{}, fmt.Errorf("testpki: parse certificate: %w", err)
			}
		}
	}
	return info, nil
}

// RevocationList returns a CRL (RFC 5280 §5, version 2) of the CSCA listing the
// given serial numbers, valid from now for 30 days.
func (p *PKI) RevocationList(revoked ...*big.Int) ([]byte, error) {
	info, err := parseCert(p.CSCA.Certificate)
	if err != nil {
		return nil, err
	}
	sigAlg, err := signatureAlgorithm(p.CSCA.Key, crypto.SHA256, p.CSCA.PSS)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	thisUpdate, err := marshalTime(now.Add(-time.Hour))
	if err != nil {
		return nil, err
	}
	nextUpdate, err := marshalTime(now.Add(30 * 24 * time.Hour))
	if err != nil {
		return nil, err
	}
	type entry struct {
		Serial *big.Int
		Date   asn1.RawValue
	}
	var entries []entry
	for _, s := range revoked {
		entries = append(entries, entry{s, thisUpdate})
	}
	aki, err := asn1.Marshal(struct {
		KeyID []byte `asn1:"tag:0"`
	}{info.ski})
	if err != nil {
		return nil, err
	}
	number, err := asn1.Marshal(big.NewInt(now.Unix()))
	if err != nil {
		return nil, err
	}
	tbs, err := asn1.Marshal(struct {
		Version    int
		SigAlg     pkix.AlgorithmIdentifier
		Issuer     asn1.RawValue
		ThisUpdate asn1.RawValue
		NextUpdate asn1.RawValue
		Revoked    []entry          `asn1:"optional,omitempty"`
		Extensions []pkix.Extension `asn1:"explicit,tag:0"`
	}{1, sigAlg, asn1.RawValue{FullBytes: info.subject}, thisUpdate, nextUpdate, entries, []pkix.Extension{
		{Id: oidExtAuthorityKeyI, Value: aki},
		{Id: oidExtCRLNumber, Value: number},
	}})
	if err != nil {
		return nil, fmt.Errorf("testpki: CRL: %w", err)
	}
	return signed(tbs, sigAlg, p.CSCA.Key, p.CSCA.PSS)
}
