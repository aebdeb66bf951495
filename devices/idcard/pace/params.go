package pace

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/vnkiosk/kiosk/devices/idcard/eccurve"
	"github.com/vnkiosk/kiosk/devices/idcard/securemessaging"
	"github.com/vnkiosk/kiosk/devices/idcard/securityinfo"
	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// PasswordKind is the password PACE runs on; its value is the password reference
// of MSE:Set AT (§4.4.4.1, tag 83).
type PasswordKind byte

// Passwords an eMRTD accepts for PACE.
const (
	MRZ PasswordKind = 1
	CAN PasswordKind = 2
)

func (k PasswordKind) String() string {
	switch k {
	case MRZ:
		return "MRZ"
	case CAN:
		return "CAN"
	}
	return fmt.Sprintf("PasswordKind(%d)", byte(k))
}

// Password is the shared secret π of §4.4.2. For MRZ, Value is the BAC key input:
// document number, date of birth and date of expiry, each followed by its check
// digit; for CAN it is the card access number's digits. Its String never shows the
// value.
type Password struct {
	Kind  PasswordKind
	Value string
}

func (p Password) String() string { return p.Kind.String() + " (hidden)" }

// key derives K from π (§4.4.2.1 / §9.7.3): SHA-1 of the MRZ information, the CAN
// as its ISO 8859-1 bytes.
func (p Password) key() ([]byte, error) {
	switch p.Kind {
	case MRZ:
		if p.Value == "" {
			return nil, errors.New("pace: empty MRZ key input")
		}
		for _, c := range []byte(p.Value) {
			if c < 0x20 || c > 0x7E {
				return nil, errors.New("pace: MRZ key input is not printable ASCII")
			}
		}
		h := sha1.Sum([]byte(p.Value))
		return h[:], nil
	case CAN:
		if p.Value == "" {
			return nil, errors.New("pace: empty CAN")
		}
		for _, c := range []byte(p.Value) {
			if c < '0' || c > '9' {
				return nil, errors.New("pace: the CAN must be digits only")
			}
		}
		return []byte(p.Value), nil
	}
	return nil, fmt.Errorf("pace: unsupported password kind %d", byte(p.Kind))
}

// params is what a PACEInfo resolves to.
type params struct {
	info     securityinfo.PACEInfo
	oidBytes []byte // DER content of the protocol OID, as tag 80 and 06 carry it
	curve    *eccurve.Curve
	alg      securemessaging.Algorithm
}

// paceVersion is the only PACE version ICAO 9303 Part 11 §9.2.1 defines.
const paceVersion = 2

func resolve(info securityinfo.PACEInfo) (*params, error) {
	proto, err := info.PACEProtocol()
	if err != nil {
		return nil, err
	}
	if proto.KeyAgreement != securityinfo.ECDH || proto.Mapping != securityinfo.GenericMapping {
		return nil, fmt.Errorf("pace: %s not supported (ECDH generic mapping only)", proto)
	}
	if info.Version != paceVersion {
		return nil, fmt.Errorf("pace: PACE version %d not supported", info.Version)
	}
	if info.ParameterID == nil {
		return nil, errors.New("pace: PACEInfo has no standardized domain parameter id")
	}
	c, err := eccurve.ByParameterID(*info.ParameterID)
	if err != nil {
		return nil, fmt.Errorf("pace: %w", err)
	}
	var alg securemessaging.Algorithm
	switch proto.Cipher {
	case securityinfo.TripleDES:
		alg = securemessaging.TripleDES
	case securityinfo.AES128:
		alg = securemessaging.AES128
	case securityinfo.AES192:
		alg = securemessaging.AES192
	case securityinfo.AES256:
		alg = securemessaging.AES256
	default:
		return nil, fmt.Errorf("pace: cipher %s not supported", proto.Cipher)
	}
	der, err := asn1.Marshal(info.Protocol)
	if err != nil {
		return nil, fmt.Errorf("pace: protocol OID: %w", err)
	}
	o, _, err := tlv.Next(der)
	if err != nil {
		return nil, fmt.Errorf("pace: protocol OID: %w", err)
	}
	return &params{info: info, oidBytes: o.Value, curve: c, alg: alg}, nil
}

// Supported reports why info cannot be used by Establish, or nil.
func Supported(info securityinfo.PACEInfo) error {
	_, err := resolve(info)
	return err
}

// Select picks the PACEInfo to run from EF.CardAccess: among those this package
// supports, the one with the strongest cipher, then the largest curve.
func Select(infos []securityinfo.PACEInfo) (securityinfo.PACEInfo, error) {
	var best *params
	for _, info := range infos {
		p, err := resolve(info)
		if err != nil {
			continue
		}
		if best == nil || p.alg > best.alg || (p.alg == best.alg && p.curve.Params().BitSize > best.curve.Params().BitSize) {
			best = p
		}
	}
	if best == nil {
		return securityinfo.PACEInfo{}, errors.New("pace: EF.CardAccess offers no supported PACE protocol")
	}
	return best.info, nil
}

// blockCipher returns the cipher the nonce is encrypted with (§4.4.3.1):
// AES with K_π, or 2-key 3DES.
func (p *params) blockCipher(key []byte) (cipher.Block, error) {
	if p.alg == securemessaging.TripleDES {
		k := make([]byte, 0, 24)
		k = append(append(k, key[:16]...), key[:8]...)
		return des.NewTripleDESCipher(k)
	}
	return aes.NewCipher(key)
}

// maxNonceLen bounds the encrypted nonce a card may send; ICAO nonces are one
// block (8 or 16 bytes).
const maxNonceLen = 64

// decryptNonce is s = D(K_π, z) in CBC mode with a zero IV (§4.4.3.1).
func (p *params) decryptNonce(k, z []byte) ([]byte, error) {
	kpi := securemessaging.KDF(p.alg, k, securemessaging.CounterPI)
	b, err := p.blockCipher(kpi)
	if err != nil {
		return nil, err
	}
	if len(z) == 0 || len(z) > maxNonceLen || len(z)%b.BlockSize() != 0 {
		return nil, fmt.Errorf("pace: encrypted nonce of %d bytes", len(z))
	}
	s := make([]byte, len(z))
	cipher.NewCBCDecrypter(b, make([]byte, b.BlockSize())).CryptBlocks(s, z)
	return s, nil
}

func (p *params) encryptNonce(k, s []byte) ([]byte, error) {
	kpi := securemessaging.KDF(p.alg, k, securemessaging.CounterPI)
	b, err := p.blockCipher(kpi)
	if err != nil {
		return nil, err
	}
	z := make([]byte, len(s))
	cipher.NewCBCEncrypter(b, make([]byte, b.BlockSize())).CryptBlocks(z, s)
	return z, nil
}

// nonceLen is one cipher block.
func (p *params) nonceLen() int { return p.alg.BlockSize() }

// mapGeneric is the generic mapping of §4.4.3.3.1: G' = s·G + H with
// H = sk_map·PK_map of the other side. A result at infinity (H = -s·G, possible
// only if the other side chose its key to force it) is refused.
func (p *params) mapGeneric(s, skMap []byte, peerMap eccurve.Point) (eccurve.Point, error) {
	c := p.curve
	h := c.ScalarMult(peerMap, skMap)
	if !c.IsOnCurve(h) {
		return eccurve.Point{}, errors.New("pace: mapping produced the point at infinity")
	}
	g := c.Add(c.ScalarBaseMult(s), h)
	if !c.IsOnCurve(g) {
		return eccurve.Point{}, errors.New("pace: mapped generator is the point at infinity")
	}
	return g, nil
}

// sharedSecret is the x-coordinate of sk·PK, padded to the field size (§9.6).
func (p *params) sharedSecret(sk []byte, peer eccurve.Point) ([]byte, error) {
	k := p.curve.ScalarMult(peer, sk)
	if !p.curve.IsOnCurve(k) {
		return nil, errors.New("pace: key agreement produced the point at infinity")
	}
	return k.X.FillBytes(make([]byte, p.curve.ByteLen())), nil
}

// token is the authentication token of §4.4.3.4: MAC(KS_MAC, 7F49{06 OID,
// 86 public key}) over the other side's ephemeral public key.
func (p *params) token(ksMAC []byte, pub eccurve.Point) ([]byte, error) {
	data := tlv.Encode(0x7F49, tlv.Encode(0x06, p.oidBytes), tlv.Encode(0x86, p.curve.Marshal(pub)))
	return securemessaging.MAC(p.alg, ksMAC, data)
}

func equalTokens(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func samePoint(a, b eccurve.Point) bool { return a.X.Cmp(b.X) == 0 && a.Y.Cmp(b.Y) == 0 }

// sessionKeys derives KS_Enc and KS_MAC from the shared secret (§9.7.1).
func (p *params) sessionKeys(secret []byte) (enc, mac []byte) {
	return securemessaging.KDF(p.alg, secret, securemessaging.CounterEnc), securemessaging.KDF(p.alg, secret, securemessaging.CounterMAC)
}
