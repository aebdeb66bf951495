// Package staff owns the identities of a hospital's health staff at the kiosk and
// how they prove them: a staff member logs in with their own chip ID card (which
// gives their 12-digit ID number) plus a 4–8 digit PIN. The package hashes PINs
// with argon2id into the standard PHC string that goes into the configuration,
// verifies them in constant time, and keeps the directory of configured staff with
// an in-memory lockout after repeated wrong PINs. It keeps no record of who logged
// in: that is the audit package's job, and staff ID numbers reach it only hashed.
package staff

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters new PIN hashes are made with: argon2id, 64 MiB, 2 passes, 2 lanes,
// a 16-byte salt and a 32-byte hash. On the kiosk's 2-core reference machine one
// hash takes about 80 ms (measured: m=64 MiB,t=2,p=2 81 ms; t=3 148 ms), short
// enough for a staff member at the counter, long enough that guessing costs real
// work. A PIN has at most 10^8 values, so no parameters make a leaked hash safe
// against a determined attacker: what protects PINs is the configuration file's
// permissions and the lockout (Directory.Login); the hash keeps a PIN from being
// read off a copied config at a glance and makes each guess cost 80 ms.
const (
	Memory  = 64 * 1024 // KiB
	Time    = 2
	Threads = 2
	saltLen = 16
	keyLen  = 32
)

// The weakest and strongest parameters VerifyPIN accepts. The floor is OWASP's
// minimum for argon2id (19 MiB, 2 passes); the ceiling keeps a mistyped config
// from making every login allocate gigabytes.
const (
	minMemory  = 19 * 1024
	maxMemory  = 1024 * 1024
	minTime    = 2
	maxTime    = 16
	maxThreads = 16
)

// ErrBadHash says an encoded PIN hash is not an argon2id PHC string this package
// accepts.
var ErrBadHash = errors.New("not an argon2id PIN hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash); make one with 'kioskctl staff hash-pin'")

// CheckPIN says whether pin is acceptable: 4 to 8 ASCII digits.
func CheckPIN(pin string) error {
	if len(pin) < 4 || len(pin) > 8 || strings.Trim(pin, "0123456789") != "" {
		return errors.New("a PIN is 4 to 8 digits")
	}
	return nil
}

// HashPIN hashes pin with argon2id and a random salt and returns the PHC string
// ($argon2id$v=19$m=65536,t=2,p=2$salt$hash, base64 without padding).
func HashPIN(pin string) (string, error) {
	if err := CheckPIN(pin); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("PIN salt: %w", err)
	}
	p := phc{memory: Memory, time: Time, threads: Threads, salt: salt}
	p.hash = argon2.IDKey([]byte(pin), salt, p.time, p.memory, p.threads, keyLen)
	return p.String(), nil
}

// VerifyPIN says whether pin matches the encoded hash. The comparison of the
// hashes is constant-time. A malformed encoding, or one made with parameters
// weaker than the floor above, is an error wrapping ErrBadHash, never a match.
func VerifyPIN(encoded, pin string) (bool, error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pin), p.salt, p.time, p.memory, p.threads, uint32(len(p.hash)))
	return subtle.ConstantTimeCompare(got, p.hash) == 1, nil
}

// CheckHash says whether encoded is a PIN hash VerifyPIN accepts, without the
// cost of hashing; the configuration uses it.
func CheckHash(encoded string) error {
	_, err := parsePHC(encoded)
	return err
}

type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	hash    []byte
}

var b64 = base64.RawStdEncoding

func (p phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(p.salt), b64.EncodeToString(p.hash))
}

func parsePHC(s string) (phc, error) {
	var p phc
	bad := func(why string) (phc, error) { return phc{}, fmt.Errorf("%w: %s", ErrBadHash, why) }
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return bad("expected six $-separated fields starting with $argon2id")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version " + f[2])
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(f[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || seen[k] {
			return bad("bad parameter " + strconv.Quote(kv))
		}
		seen[k] = true
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return bad("too many lanes")
			}
			p.threads = uint8(n)
		default:
			return bad("unknown parameter " + strconv.Quote(k))
		}
	}
	if len(seen) != 3 {
		return bad("expected parameters m, t and p")
	}
	switch {
	case p.memory < minMemory || p.time < minTime || p.threads < 1:
		return bad(fmt.Sprintf("parameters m=%d,t=%d,p=%d are weaker than m=%d,t=%d,p=1", p.memory, p.time, p.threads, minMemory, minTime))
	case p.memory > maxMemory || p.time > maxTime || p.threads > maxThreads:
		return bad(fmt.Sprintf("parameters m=%d,t=%d,p=%d are beyond m=%d,t=%d,p=%d", p.memory, p.time, p.threads, maxMemory, maxTime, maxThreads))
	case p.memory < 8*uint32(p.threads):
		return bad("memory below 8 KiB per lane")
	}
	var err error
	if p.salt, err = b64.DecodeString(f[4]); err != nil || len(p.salt) < 8 {
		return bad("salt is not base64 of at least 8 bytes")
	}
	if p.hash, err = b64.DecodeString(f[5]); err != nil || len(p.hash) < 16 || len(p.hash) > 64 {
		return bad("hash is not base64 of 16 to 64 bytes")
	}
	return p, nil
}
