package ui

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"strings"
	"testing"
)

// assetBytes gzips the embedded JavaScript and CSS as a browser fetches them.
func assetBytes(tb testing.TB) (raw, gz int) {
	tb.Helper()
	err := fs.WalkDir(webFS, "web", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".css")) {
			return err
		}
		b, err := fs.ReadFile(webFS, path)
		if err != nil {
			return err
		}
		var out bytes.Buffer
		w, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
		w.Write(b)
		w.Close()
		raw += len(b)
		gz += out.Len()
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return raw, gz
}

// The budget for all JS and CSS is 150 KB gzipped: a size, not a
// timing, so it is a test.
func TestAssetBudget(t *testing.T) {
	t.Parallel()
	if _, gz := assetBytes(t); gz > 150<<10 || gz == 0 {
		t.Errorf("JS + CSS are %d bytes gzipped; the budget is 150 KB", gz)
	}
}

// BenchmarkAssetSize reports the JS and CSS the kiosk browser loads, gzipped
// file by file (target ≤ 150 KB, issue 5).
func BenchmarkAssetSize(b *testing.B) {
	var raw, gz int
	for b.Loop() {
		raw, gz = assetBytes(b)
	}
	b.ReportMetric(float64(gz)/1024, "KB-gzip")
	b.ReportMetric(float64(raw)/1024, "KB-raw")
}
