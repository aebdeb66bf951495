package printer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// spool keeps queued jobs on disk so they survive a restart. A job's ESC/POS
// bytes show names and card numbers once printed, so each file is sealed with
// AES-256-GCM; the job ID is the additional data, so a file renamed to another
// job's name does not open. Files are written to a temporary name, fsynced,
// renamed, and the directory fsynced: after a crash a job is either whole or
// absent.
type spool struct {
	dir  string
	aead cipher.AEAD
}

const (
	jobExt   = ".job"
	tmpPref  = ".tmp-"
	idLen    = 24 // 16 hex digits of creation time in ns, 8 of randomness
	fileHead = "KPJ1"
	aadPref  = "vnkiosk printer job v1\x00"
)

// ErrSpoolKey is returned for a key that is not 32 bytes.
var ErrSpoolKey = errors.New("printer: the spool key must be 32 bytes (AES-256)")

func openSpool(dir string, key []byte) (*spool, error) {
	if len(key) != 32 {
		return nil, ErrSpoolKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("printer: spool cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("printer: spool cipher: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("printer: spool directory: %w", err)
	}
	// Best effort: the files are sealed and created 0600 anyway, but the
	// names and times of jobs are nobody else's business either.
	_ = os.Chmod(dir, 0o700)
	s := &spool{dir: dir, aead: aead}
	// Temporary files are writes a crash interrupted; their jobs were never
	// acknowledged to the caller.
	tmps, _ := filepath.Glob(filepath.Join(dir, tmpPref+"*"))
	for _, t := range tmps {
		_ = os.Remove(t)
	}
	return s, nil
}

// newJobID returns an ID that sorts by creation time.
func newJobID(now time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x%s", uint64(now.UnixNano()), hex.EncodeToString(r[:]))
}

// jobTime returns the creation time encoded in a job ID.
func jobTime(id string) (time.Time, bool) {
	if len(id) != idLen || strings.ToLower(id) != id {
		return time.Time{}, false
	}
	b, err := hex.DecodeString(id)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8]))), true
}

func (s *spool) path(id string) string { return filepath.Join(s.dir, id+jobExt) }

func (s *spool) write(id string, data []byte) error {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("printer: spool nonce: %w", err)
	}
	blob := make([]byte, 0, len(fileHead)+len(nonce)+len(data)+s.aead.Overhead())
	blob = append(blob, fileHead...)
	blob = append(blob, nonce...)
	blob = s.aead.Seal(blob, nonce, data, []byte(aadPref+id))

	f, err := os.CreateTemp(s.dir, tmpPref+"*")
	if err != nil {
		return fmt.Errorf("printer: spool job: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(blob)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path(id))
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("printer: spool job: %w", err)
	}
	return nil
}

// errUnreadable marks a spool file that does not decrypt: a different key,
// corruption, or a file that is not a job.
var errUnreadable = errors.New("spooled job cannot be decrypted")

func (s *spool) read(id string) ([]byte, error) {
	blob, err := os.ReadFile(s.path(id))
	if err != nil {
		return nil, fmt.Errorf("printer: read spooled job: %w", err)
	}
	ns := s.aead.NonceSize()
	if len(blob) < len(fileHead)+ns+s.aead.Overhead() || string(blob[:len(fileHead)]) != fileHead {
		return nil, fmt.Errorf("%w: not a job file", errUnreadable)
	}
	nonce := blob[len(fileHead) : len(fileHead)+ns]
	data, err := s.aead.Open(nil, nonce, blob[len(fileHead)+ns:], []byte(aadPref+id))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnreadable, err)
	}
	return data, nil
}

func (s *spool) remove(id string) error {
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("printer: remove spooled job: %w", err)
	}
	return syncDir(s.dir)
}

// list returns the spooled job IDs, oldest first. Files that are not named
// like jobs are not ours and are left alone.
func (s *spool) list() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("printer: list spool: %w", err)
	}
	var ids []string
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), jobExt)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if _, ok := jobTime(id); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
