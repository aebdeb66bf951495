package uitest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// moduleRoot walks up from the working directory (a test's package
// directory) to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("uitest: module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("uitest: module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// ArtefactDir is where screenshots go: $KIOSK_ARTEFACTS, else
// <module root>/build/artefacts. When neither can be found it falls back to
// build/artefacts under the working directory.
func ArtefactDir() string {
	if d := os.Getenv("KIOSK_ARTEFACTS"); d != "" {
		return d
	}
	root, err := moduleRoot()
	if err != nil {
		return filepath.Join("build", "artefacts")
	}
	return filepath.Join(root, "build", "artefacts")
}

// unsafeName matches what must not appear in one path segment of an artefact.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// artefactPath maps a test name (subtests become subdirectories) and an
// artefact name to a path under ArtefactDir.
func artefactPath(testName, name, ext string) string {
	parts := []string{ArtefactDir()}
	for _, seg := range strings.Split(testName, "/") {
		parts = append(parts, cleanSegment(seg))
	}
	parts = append(parts, cleanSegment(name)+ext)
	return filepath.Join(parts...)
}

func cleanSegment(s string) string {
	s = unsafeName.ReplaceAllString(s, "_")
	s = strings.Trim(s, ".")
	if s == "" {
		return "_"
	}
	return s
}

// Screenshot saves a full-page PNG as ArtefactDir()/<TestName>/<name>.png and
// returns its path. Subtests get nested directories; characters other than
// letters, digits, '.', '_' and '-' become '_'. When a test fails, cleanup
// saves one named "failure" by itself.
func (b *Browser) Screenshot(name string) (string, error) {
	ctx, cancel := b.ctx(true)
	defer cancel()
	return b.screenshot(ctx, name)
}

func (b *Browser) screenshot(ctx context.Context, name string) (string, error) {
	png, err := chromedp.Run(ctx, fullPage)
	if err != nil {
		return "", fmt.Errorf("uitest: screenshot %s: %w", name, err)
	}
	path := artefactPath(b.tb.Name(), name, ".png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("uitest: screenshot %s: %w", name, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", fmt.Errorf("uitest: screenshot %s: %w", name, err)
	}
	return path, nil
}

// fullPage captures the whole document, not just the viewport: a screen that
// overflows the kiosk display is itself a finding the artefact must show.
func fullPage(ctx context.Context, t *chromedp.Target) ([]byte, error) {
	m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, fmt.Errorf("layout metrics: %w", err)
	}
	var w, h float64
	if v := m.CSSLayoutViewport; v != nil {
		w, h = float64(v.ClientWidth), float64(v.ClientHeight)
	}
	if c := m.CSSContentSize; c != nil {
		w, h = math.Max(w, c.Width), math.Max(h, c.Height)
	}
	beyond := true
	r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		Clip:                  &page.Viewport{Width: math.Ceil(w), Height: math.Ceil(h), Scale: 1},
		CaptureBeyondViewport: &beyond,
	})
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	return r.Data, nil
}
