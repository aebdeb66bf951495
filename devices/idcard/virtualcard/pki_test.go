package virtualcard

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/idcard/lds"
	"github.com/vnkiosk/kiosk/devices/idcard/passiveauth"
	"github.com/vnkiosk/kiosk/devices/idcard/testpki"
)

func TestEnsurePKI(t *testing.T) {
	t.Parallel()
	for _, flavour := range []testpki.Flavour{testpki.RSA, testpki.ECDSABrainpool} {
		t.Run(string(flavour), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "pki")
			p, err := EnsurePKI(dir, flavour)
			if err != nil {
				t.Fatal(err)
			}
			if p.Flavour != flavour {
				t.Errorf("flavour %s, want %s", p.Flavour, flavour)
			}
			again, err := EnsurePKI(dir, testpki.RSA)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.CSCA.Certificate, p.CSCA.Certificate) || !bytes.Equal(again.DS.Certificate, p.DS.Certificate) {
				t.Error("second EnsurePKI made a new PKI instead of loading the stored one")
			}
			entries, err := os.ReadDir(TrustDir(dir))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if want := []string{testpki.FileCRL, testpki.FileCSCA}; !slices.Equal(names, want) {
				t.Errorf("trust dir holds %v, want %v", names, want)
			}
			ts, err := passiveauth.LoadTrustStore(TrustDir(dir))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(ts.CSCAs()); n != 1 {
				t.Errorf("trust store has %d certificates, want the CSCA only", n)
			}

			// A card signed by this PKI passes passive authentication with the
			// trust dir, read in full under PACE.
			c := newCard(t, Options{PKI: p, AAKey: AAECDSA})
			_, ch := mustPACE(t, c, false)
			files := map[int][]byte{}
			for _, n := range []int{1, 2, 13, 14, 15} {
				if files[n], err = readWhole(context.Background(), ch, dataGroup(n), ch.MaxShortRead()); err != nil {
					t.Fatal(err)
				}
			}
			sod, err := readWhole(context.Background(), ch, lds.FileSOD, ch.MaxShortRead())
			if err != nil {
				t.Fatal(err)
			}
			if res := passiveauth.Verify(sod, files, ts, time.Now()); res.Status != passiveauth.StatusValid {
				t.Errorf("passive authentication %s: %s", res.Status, res.Reason)
			}
			// Another PKI's CSCA does not vouch for it.
			other := passiveauth.NewTrustStore([]*passiveauth.Certificate{mustCert(t, testPKI(t, otherFlavour(flavour)).CSCA.Certificate)}, nil)
			if res := passiveauth.Verify(sod, files, other, time.Now()); res.Status == passiveauth.StatusValid {
				t.Error("passive authentication valid under an unrelated CSCA")
			}
		})
	}
	t.Run("incomplete", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, testpki.FileCSCA), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := EnsurePKI(dir, testpki.RSA); err == nil {
			t.Error("EnsurePKI overwrote or accepted a directory with a lone csca.pem")
		}
	})
}

func otherFlavour(f testpki.Flavour) testpki.Flavour {
	if f == testpki.RSA {
		return testpki.ECDSABrainpool
	}
	return testpki.RSA
}
