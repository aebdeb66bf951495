// Package tpmkey owns the kiosk's device key when the kiosk has a TPM 2.0: an
// ECDSA P-256 signing key that the TPM derives and uses but never reveals,
// exposed as a crypto.Signer so TLS client authentication, the EST CSR and
// signed filings use it exactly as they would a key read from the 0600 file.
// Nothing is stored: the key is a primary key of the owner hierarchy, which
// the TPM computes from the hierarchy's secret seed and a fixed template, so
// the same TPM yields the same key on every boot.
package tpmkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpmutil"
)

// DevicePath is the kernel's TPM 2.0 resource manager. We use it rather than
// /dev/tpm0 so that other TPM users (the kernel's IMA, tpm2-tools during
// support) cannot collide with our transient handle.
const DevicePath = "/dev/tpmrm0"

// template is the kiosk key's public template. It must never change: the TPM
// derives the primary key from the owner seed and these exact bytes, so any
// edit (an attribute, the scheme, the name algorithm) silently gives every
// kiosk a new key that the backend does not know.
//
// The key is unrestricted so it can sign arbitrary digests (TLS handshakes,
// CSRs, filings); fixedTPM and fixedParent keep it from being duplicated off
// this TPM; sensitiveDataOrigin means the TPM, not we, chose the secret;
// userWithAuth with an empty auth value lets the kiosk service use it without
// a password, which is what a file key of mode 0600 allows too.
var template = tpm2.Public{
	Type:    tpm2.AlgECC,
	NameAlg: tpm2.AlgSHA256,
	Attributes: tpm2.FlagSign | tpm2.FlagFixedTPM | tpm2.FlagFixedParent |
		tpm2.FlagSensitiveDataOrigin | tpm2.FlagUserWithAuth,
	ECCParameters: &tpm2.ECCParams{
		Sign:    &tpm2.SigScheme{Alg: tpm2.AlgECDSA, Hash: tpm2.AlgSHA256},
		CurveID: tpm2.CurveNISTP256,
	},
}

// scheme is the signing scheme Sign asks for; it matches the template's so
// the TPM accepts it.
var scheme = tpm2.SigScheme{Alg: tpm2.AlgECDSA, Hash: tpm2.AlgSHA256}

// ErrClosed is returned by Sign after Close.
var ErrClosed = errors.New("tpmkey: key is closed")

// Key is the kiosk's device key held in a TPM. It implements crypto.Signer
// and is safe for concurrent use: the TPM runs one command at a time, so
// signatures are serialised.
type Key struct {
	mu     sync.Mutex
	rw     io.ReadWriteCloser // nil once closed
	handle tpmutil.Handle
	pub    *ecdsa.PublicKey
}

var _ crypto.Signer = (*Key)(nil)

// Present reports whether this machine exposes a TPM 2.0 resource manager.
func Present() bool {
	_, err := os.Stat(DevicePath)
	return err == nil
}

// OpenDevice opens the TPM at path (normally DevicePath) and loads the kiosk
// key from it.
func OpenDevice(path string) (*Key, error) {
	rw, err := tpm2.OpenTPM(path)
	if err != nil {
		return nil, fmt.Errorf("tpmkey: open %s: %w", path, err)
	}
	return Open(rw)
}

// Open loads the kiosk key from the TPM behind rw, which must carry raw TPM
// 2.0 commands and return each response whole in one Read (as /dev/tpmrm0
// does). Open takes ownership of rw: Close closes it, and so does Open if it
// fails.
//
// The key is created with TPM2_CreatePrimary under the owner hierarchy. A
// primary key's secret is derived inside the TPM from the hierarchy's primary
// seed and the template, so the same owner seed and the same template give
// the same key every time, with no key blob to store, back up or lose.
// Clearing the TPM (TPM2_Clear, or "clear TPM" in firmware setup) replaces
// the owner seed and therefore the key: the kiosk must then be provisioned
// again, as it must when its key file is lost.
func Open(rw io.ReadWriteCloser) (*Key, error) {
	var handle tpmutil.Handle
	var pub crypto.PublicKey
	err := retry(func() (err error) {
		handle, pub, err = tpm2.CreatePrimary(rw, tpm2.HandleOwner, tpm2.PCRSelection{}, "", "", template)
		return err
	})
	if err != nil {
		rw.Close()
		return nil, fmt.Errorf("tpmkey: create primary key: %w", err)
	}
	ecPub, ok := pub.(*ecdsa.PublicKey)
	if !ok || ecPub.Curve != elliptic.P256() {
		_ = tpm2.FlushContext(rw, handle)
		rw.Close()
		return nil, fmt.Errorf("tpmkey: TPM returned a %T, want an ECDSA P-256 public key", pub)
	}
	return &Key{rw: rw, handle: handle, pub: ecPub}, nil
}

// Public returns the key's *ecdsa.PublicKey on P-256.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Sign signs a SHA-256 digest in the TPM and returns the ASN.1 DER
// ECDSA-Sig-Value (r, s), the encoding crypto/ecdsa produces, so callers
// cannot tell this key from a file key. rand is unused: the TPM supplies its
// own nonce. Only SHA-256 is accepted because the key's scheme fixes it and a
// P-256 signature over another hash would be weaker or rejected by peers.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if h := opts.HashFunc(); h != crypto.SHA256 {
		return nil, fmt.Errorf("tpmkey: sign: hash %v not supported, only SHA-256", h)
	}
	if len(digest) != 32 {
		return nil, fmt.Errorf("tpmkey: sign: digest is %d bytes, want 32 (SHA-256)", len(digest))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.rw == nil {
		return nil, ErrClosed
	}
	var sig *tpm2.Signature
	err := retry(func() (err error) {
		sig, err = tpm2.Sign(k.rw, k.handle, "", digest, nil, &scheme)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tpmkey: sign: %w", err)
	}
	if sig.ECC == nil || sig.ECC.R == nil || sig.ECC.S == nil {
		return nil, fmt.Errorf("tpmkey: sign: TPM returned a non-ECDSA signature (alg %v)", sig.Alg)
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{sig.ECC.R, sig.ECC.S})
	if err != nil {
		return nil, fmt.Errorf("tpmkey: sign: encode signature: %w", err)
	}
	return der, nil
}

// Close flushes the key's transient handle (TPM object slots are few) and
// closes the TPM connection. Closing twice is harmless.
func (k *Key) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.rw == nil {
		return nil
	}
	ferr := tpm2.FlushContext(k.rw, k.handle)
	cerr := k.rw.Close()
	k.rw = nil
	if ferr != nil {
		return fmt.Errorf("tpmkey: flush key handle: %w", ferr)
	}
	if cerr != nil {
		return fmt.Errorf("tpmkey: close TPM: %w", cerr)
	}
	return nil
}

// retry runs a TPM command until the TPM stops answering with a warning that
// asks for the command to be resent. TPM 2.0 Part 1 (§6.6, response codes)
// lets a TPM decline to start a command with TPM_RC_RETRY, TPM_RC_YIELDED or
// TPM_RC_TESTING and expects the caller to send it again; swtpm 0.7.1 does so
// with TPM_RC_RETRY on the first TPM2_Sign of a run. The attempts are bounded
// so a TPM stuck in self-test fails the operation instead of hanging it.
func retry(cmd func() error) error {
	const attempts = 10
	var err error
	for i := range attempts {
		if err = cmd(); !resend(err) {
			return err
		}
		time.Sleep(time.Duration(i+1) * 10 * time.Millisecond)
	}
	return fmt.Errorf("TPM still busy after %d attempts: %w", attempts, err)
}

func resend(err error) bool {
	var w tpm2.Warning
	if !errors.As(err, &w) {
		return false
	}
	switch w.Code {
	case tpm2.RCRetry, tpm2.RCYielded, tpm2.RCTesting:
		return true
	}
	return false
}

// RefPrefix marks a key reference to a TPM: "tpm:/dev/tpmrm0" stands where
// a key file's path would (backend.key_file, the identity's KeyFile).
const RefPrefix = "tpm:"

// IsRef reports whether keyRef names a TPM rather than a key file.
func IsRef(keyRef string) bool { return strings.HasPrefix(keyRef, RefPrefix) }

var (
	devicesMu sync.Mutex
	devices   = map[string]*Key{}
)

// Device returns the kiosk key of the TPM at path, opened once per process
// and shared: the TLS clients, the enrolment and the filing signer all sign
// through one connection, which Key serialises.
func Device(path string) (*Key, error) {
	devicesMu.Lock()
	defer devicesMu.Unlock()
	if k := devices[path]; k != nil {
		return k, nil
	}
	k, err := OpenDevice(path)
	if err != nil {
		return nil, err
	}
	devices[path] = k
	return k, nil
}

// FromRef is Device for a key reference "tpm:PATH".
func FromRef(keyRef string) (*Key, error) {
	if !IsRef(keyRef) {
		return nil, fmt.Errorf("tpmkey: %q is not a TPM key reference (%sPATH)", keyRef, RefPrefix)
	}
	return Device(strings.TrimPrefix(keyRef, RefPrefix))
}
