package virtualcard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
)

// TrustSubdir is the subdirectory of an EnsurePKI directory that holds only the
// trust anchor — csca.pem and crl.pem — for passiveauth.LoadTrustStore. The PKI
// directory itself also holds ds.pem, which LoadTrustStore would list among the
// CSCAs (harmlessly, as it is not a CA), and the private keys: give readers the
// subdirectory.
const TrustSubdir = "csca"

// DefaultPKIDir is where `kioskctl sim card` and `kioskd --demo` keep the test PKI
// of a flavour when told nothing else, so the simulator's cards and the demo
// daemon's trust store agree: kiosk/testpki-FLAVOUR in the user cache directory.
func DefaultPKIDir(flavour testpki.Flavour) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("virtualcard: no user cache directory for the test PKI: %w", err)
	}
	return filepath.Join(cache, "kiosk", "testpki-"+string(flavour)), nil
}

// TrustDir returns the trust store directory to give a reader for the PKI in dir.
func TrustDir(dir string) string { return filepath.Join(dir, TrustSubdir) }

// EnsurePKI returns the test PKI stored in dir, generating one of the given
// flavour and writing it there (testpki file names) when dir holds none. It also
// (re)writes TrustDir(dir) with the CSCA certificate and CRL. A PKI found in dir
// is used whatever its flavour: check PKI.Flavour if it matters. NOT FOR
// PRODUCTION: the keys are written unencrypted.
func EnsurePKI(dir string, flavour testpki.Flavour) (*testpki.PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("virtualcard: %w", err)
	}
	// Two simulators starting together must not both generate a PKI and mix
	// their files.
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("virtualcard: lock %s: %w", dir, err)
	}
	defer unlock()
	p, err := testpki.Load(dir)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		if _, statErr := os.Stat(filepath.Join(dir, testpki.FileCSCA)); statErr == nil {
			return nil, fmt.Errorf("virtualcard: %s holds an incomplete test PKI: %w", dir, err)
		}
		if p, err = testpki.Generate(dir, flavour); err != nil {
			return nil, fmt.Errorf("virtualcard: %w", err)
		}
	default:
		return nil, fmt.Errorf("virtualcard: %w", err)
	}
	trust := TrustDir(dir)
	if err := os.MkdirAll(trust, 0o755); err != nil {
		return nil, fmt.Errorf("virtualcard: %w", err)
	}
	for _, name := range []string{testpki.FileCSCA, testpki.FileCRL} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) && name == testpki.FileCRL {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("virtualcard: %w", err)
		}
		if err := writeFileAtomic(filepath.Join(trust, name), b); err != nil {
			return nil, fmt.Errorf("virtualcard: %w", err)
		}
	}
	return p, nil
}

// writeFileAtomic replaces file with b so that a reader loading the trust store
// at the same time never sees half a certificate.
func writeFileAtomic(file string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
