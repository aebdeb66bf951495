package siteconfig

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/provisioning/identity"
)

// Names under the state directory. DirName is a symbolic link to the
// version directory in use ("site-config.v<N>-<random>"), switched by rename so a
// reader sees the old or the new document and trust store, never a mix; the
// version before it stays beside it as the backup.
const (
	DirName     = "site-config"
	DocName     = "site.json"
	SigName     = "site.json.sig"
	CSCADirName = "csca"
)

// ErrNotApplied means no site configuration has been applied in the state
// directory yet (run kioskctl site-config fetch). It wraps fs.ErrNotExist.
var ErrNotApplied = fmt.Errorf("no site configuration applied (run kioskctl site-config fetch): %w", fs.ErrNotExist)

// now is the clock Apply checks the signer's validity with.
var now = time.Now

// Dir is <stateDir>/site-config.
func Dir(stateDir string) string { return filepath.Join(stateDir, DirName) }

// CSCADir is the applied CSCA trust store, for devices.card_reader.csca_dir
// (passiveauth.LoadTrustStore reads its *.pem files).
func CSCADir(stateDir string) string { return filepath.Join(Dir(stateDir), CSCADirName) }

// Pinned returns the CA certificates pinned at enrolment, as a pool, and the
// site the kiosk's certificate was issued for ("" when it names none).
func Pinned(stateDir string) (*x509.CertPool, string, error) {
	b, err := os.ReadFile(filepath.Join(identity.Dir(stateDir), identity.CAName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", identity.ErrNotProvisioned
	}
	if err != nil {
		return nil, "", fmt.Errorf("siteconfig: pinned CA: %w", err)
	}
	cas, err := identity.ParseCertificates(b)
	if err != nil {
		return nil, "", fmt.Errorf("siteconfig: pinned CA: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	site := ""
	if b, err := os.ReadFile(filepath.Join(identity.Dir(stateDir), identity.CertName)); err == nil {
		if chain, err := identity.ParseCertificates(b); err == nil && len(chain[0].Subject.OrganizationalUnit) > 0 {
			site = chain[0].Subject.OrganizationalUnit[0]
		}
	}
	return pool, site, nil
}

// Load reads the applied site configuration and verifies it again against the
// pinned CA: a document, signature or CSCA file changed on disk is refused.
// The signer's certificate is checked as of its own start of validity, not
// now: expiry was checked when the document was fetched, and a kiosk that is
// offline when the signer certificate expires must keep its configuration.
func Load(stateDir string) (*Document, error) {
	// Nothing applied is not an error of the identity: an unprovisioned kiosk
	// simply has no site configuration.
	if _, err := os.Lstat(Dir(stateDir)); errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotApplied
	}
	roots, site, err := Pinned(stateDir)
	if err != nil {
		return nil, err
	}
	dir := Dir(stateDir)
	raw, err := os.ReadFile(filepath.Join(dir, DocName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotApplied
	}
	if err != nil {
		return nil, fmt.Errorf("siteconfig: load: %w", err)
	}
	sig, err := os.ReadFile(filepath.Join(dir, SigName))
	if err != nil {
		return nil, fmt.Errorf("siteconfig: load: %w", err)
	}
	if site == "" {
		// The kiosk's certificate names no site: the document's own, which
		// the signature covers.
		var peek struct {
			Site string `json:"site"`
		}
		_ = json.Unmarshal(raw, &peek)
		site = peek.Site
	}
	doc, err := verify(raw, bytes.TrimSpace(sig), roots, site, func(leaf *x509.Certificate) time.Time { return leaf.NotBefore })
	if err != nil {
		return nil, fmt.Errorf("siteconfig: %s: %w", filepath.Join(dir, DocName), err)
	}
	want := cscaFiles(doc)
	entries, err := os.ReadDir(filepath.Join(dir, CSCADirName))
	if err != nil && !(errors.Is(err, fs.ErrNotExist) && len(want) == 0) {
		return nil, fmt.Errorf("siteconfig: load: %w", err)
	}
	if len(entries) != len(want) {
		return nil, fmt.Errorf("siteconfig: %s: %w: %d files, the document has %d certificates", CSCADir(stateDir), ErrSignature, len(entries), len(want))
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, CSCADirName, e.Name()))
		if w, ok := want[e.Name()]; err != nil || !ok || !bytes.Equal(b, w) {
			return nil, fmt.Errorf("siteconfig: %s: %w: %s is not the signed document's", CSCADir(stateDir), ErrSignature, e.Name())
		}
	}
	return doc, nil
}

// cscaFiles names each CSCA certificate's file: its position and the start
// of its fingerprint, so the directory lists in document order.
func cscaFiles(doc *Document) map[string][]byte {
	m := map[string][]byte{}
	for i, c := range doc.csca {
		fp := sha256Sum(c.Raw)
		m[fmt.Sprintf("csca-%02d-%s.pem", i+1, hex.EncodeToString(fp[:8]))] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return m
}

// Apply makes doc — verified from raw and sig — the site configuration of
// stateDir. It verifies raw and sig again against the pinned CA (so only a
// signed document is ever written) and refuses a version that is not newer
// than the applied one (ErrReplay). The files go to a new version directory,
// written and synced in full, and the DirName link is then switched to it
// with one rename; the previous version directory is kept as the backup and
// older ones are removed. Apply is meant to have one caller at a time
// (kioskctl site-config fetch).
func Apply(stateDir string, doc *Document, raw, sig []byte) error {
	if doc == nil {
		return errors.New("siteconfig: apply: no document")
	}
	roots, site, err := Pinned(stateDir)
	if err != nil {
		return err
	}
	if site != "" && doc.Site != site {
		return fmt.Errorf("siteconfig: apply: %w: the document is for site %q, this kiosk's certificate for %q", ErrWrongSite, doc.Site, site)
	}
	checked, err := Verify(raw, sig, roots, doc.Site, now())
	if err != nil {
		return fmt.Errorf("siteconfig: apply: %w", err)
	}
	if checked.Version != doc.Version {
		return errors.New("siteconfig: apply: the document is not the one the signed bytes hold")
	}
	// A damaged applied copy (Load error other than absence) does not block
	// a verified newer document from replacing it.
	if cur, err := Load(stateDir); err == nil && cur.Version >= doc.Version {
		return fmt.Errorf("siteconfig: apply: %w: version %d, applied %d", ErrReplay, doc.Version, cur.Version)
	}

	// Each Apply writes a directory of its own (version and a random suffix),
	// so repairing a damaged copy of the same version never touches the one
	// the link still points at.
	tmp, err := os.MkdirTemp(stateDir, versionDirName(doc.Version)+"-*.tmp")
	if err != nil {
		return fmt.Errorf("siteconfig: apply: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	files := map[string][]byte{DocName: raw, SigName: append(bytes.TrimSpace(sig), '\n')}
	for name, b := range files {
		// site.json holds staff ID numbers: owner only.
		if err := writeSynced(filepath.Join(tmp, name), b, 0o600); err != nil {
			return err
		}
	}
	if err := os.Mkdir(filepath.Join(tmp, CSCADirName), 0o755); err != nil {
		return fmt.Errorf("siteconfig: apply: %w", err)
	}
	for name, b := range cscaFiles(checked) {
		if err := writeSynced(filepath.Join(tmp, CSCADirName, name), b, 0o644); err != nil {
			return err
		}
	}
	syncDir(filepath.Join(tmp, CSCADirName))
	syncDir(tmp)

	final := strings.TrimSuffix(tmp, ".tmp")
	version := filepath.Base(final)
	prev, _ := os.Readlink(Dir(stateDir))
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("siteconfig: apply: %w", err)
	}
	link := filepath.Join(stateDir, ".site-config-link")
	_ = os.Remove(link)
	if err := os.Symlink(version, link); err != nil {
		return fmt.Errorf("siteconfig: apply: %w", err)
	}
	if err := os.Rename(link, Dir(stateDir)); err != nil {
		os.Remove(link)
		return fmt.Errorf("siteconfig: apply: switch %s to %s: %w", Dir(stateDir), version, err)
	}
	syncDir(stateDir)
	removeOld(stateDir, version, filepath.Base(prev))
	return nil
}

func versionDirName(v int64) string { return DirName + ".v" + strconv.FormatInt(v, 10) }

// removeOld deletes version directories other than the current and the
// backup, and any an Apply cut short left behind.
func removeOld(stateDir string, keep ...string) {
	entries, err := os.ReadDir(stateDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, DirName+".v") && e.IsDir() && !slices.Contains(keep, n) {
			_ = os.RemoveAll(filepath.Join(stateDir, n))
		}
	}
}

func writeSynced(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("siteconfig: apply: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("siteconfig: apply: write %s: %w", filepath.Base(path), err)
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Overlay puts doc over a configuration loaded from the file, whose state_dir
// is where doc was applied: the enabled procedures (site.procedures), a
// hospital kiosk's departments and staff (together, replacing the file's),
// the payment account, and devices.card_reader.csca_dir pointing at the
// applied CSCA trust store. Parts the document leaves empty keep the file's
// values; a ward kiosk takes no hospital section, as in the file. It refuses
// a document for another site than cfg's site.code.
func Overlay(cfg *config.Config, doc *Document) error {
	if doc.Site != cfg.Site.Code {
		return fmt.Errorf("siteconfig: %w: the document is for site %q, the configuration for %q", ErrWrongSite, doc.Site, cfg.Site.Code)
	}
	if len(doc.Procedures) > 0 {
		cfg.Site.Procedures = slices.Clone(doc.Procedures)
	}
	if cfg.Site.Kind == config.SiteHospital && (len(doc.Departments) > 0 || len(doc.Staff) > 0) {
		h := doc.Hospital()
		cfg.Hospital.Departments, cfg.Hospital.Staff = h.Departments, h.Staff
	}
	if doc.Payment != nil {
		p, err := doc.ConfigPayment()
		if err != nil {
			return fmt.Errorf("siteconfig: %w: %w", ErrInvalid, err)
		}
		cfg.Payment.BIN, cfg.Payment.Account, cfg.Payment.AccountName = p.BIN, p.Account, p.AccountName
		if p.Timeout != 0 {
			cfg.Payment.Timeout = p.Timeout
		}
	}
	if len(doc.CSCA) > 0 {
		cfg.Devices.CardReader.CSCADir = CSCADir(cfg.StateDir)
	}
	return nil
}
