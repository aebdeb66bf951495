package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
)

// crypto/ecdsa offers no encoding for keys on curves it does not implement
// (PublicKey.Bytes, PrivateKey.Bytes and crypto/x509 all refuse brainpool), so the
// functions here reach for the raw coordinates and scalar, the one place this
// package does.

// ecPoint returns the curve and uncompressed point of an EC public key.
func ecPoint(k *ecdsa.PublicKey) (*eccurve.Curve, []byte, error) {
	c, err := eccurve.ByCurve(k.Curve)
	if err != nil {
		return nil, nil, err
	}
	//lint:ignore SA1019 brainpool keys expose their point only through X and Y
	p := eccurve.Point{X: k.X, Y: k.Y}
	return c, c.Marshal(p), nil
}

// ecPrivateKeyASN1 is ECPrivateKey of RFC 5915 §3, without the curve parameters,
// which PKCS#8 carries in its algorithm identifier.
type ecPrivateKeyASN1 struct {
	Version    int
	PrivateKey []byte
	PublicKey  asn1.BitString `asn1:"optional,explicit,tag:1"`
}

type pkcs8ASN1 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}

// marshalPKCS8 encodes a private key as PKCS#8 PrivateKeyInfo (RFC 5208). RSA and
// NIST keys go through crypto/x509; other EC keys are encoded here in the same
// layout, which OpenSSL also reads.
func marshalPKCS8(key crypto.Signer) ([]byte, error) {
	if der, err := x509.MarshalPKCS8PrivateKey(key); err == nil {
		return der, nil
	}
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("testpki: unsupported private key type")
	}
	c, point, err := ecPoint(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	//lint:ignore SA1019 brainpool keys expose their scalar only through D
	d := k.D.FillBytes(make([]byte, (c.Params().N.BitLen()+7)/8))
	inner, err := asn1.Marshal(ecPrivateKeyASN1{Version: 1, PrivateKey: d,
		PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)}})
	if err != nil {
		return nil, err
	}
	curveOID, err := asn1.Marshal(c.OID)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(pkcs8ASN1{
		Algorithm:  pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: curveOID}},
		PrivateKey: inner,
	})
}

// parsePKCS8 decodes what marshalPKCS8 writes.
func parsePKCS8(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		}
		return nil, errors.New("testpki: unsupported private key type")
	}
	var p pkcs8ASN1
	if _, err := asn1.Unmarshal(der, &p); err != nil {
		return nil, fmt.Errorf("testpki: private key: %w", err)
	}
	if !p.Algorithm.Algorithm.Equal(oidECPublicKey) {
		return nil, fmt.Errorf("testpki: private key algorithm %s", p.Algorithm.Algorithm)
	}
	var curveOID asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(p.Algorithm.Parameters.FullBytes, &curveOID); err != nil {
		return nil, fmt.Errorf("testpki: private key curve: %w", err)
	}
	c, err := eccurve.ByOID(curveOID)
	if err != nil {
		return nil, err
	}
	var ek ecPrivateKeyASN1
	if _, err := asn1.Unmarshal(p.PrivateKey, &ek); err != nil {
		return nil, fmt.Errorf("testpki: EC private key: %w", err)
	}
	d := new(big.Int).SetBytes(ek.PrivateKey)
	if d.Sign() <= 0 || d.Cmp(c.Params().N) >= 0 {
		return nil, errors.New("testpki: EC private key out of range")
	}
	pub := c.ScalarBaseMult(ek.PrivateKey)
	return &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: c.Curve, X: pub.X, Y: pub.Y}, D: d}, nil
}
