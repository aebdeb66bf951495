package uitest

import (
	"fmt"
	"os"
	"path/filepath"
)

// AxeVersion is the axe-core release the audit is pinned to; `make axe`
// installs exactly this one from npm.
const AxeVersion = "4.10.3"

// AxeViolation is one failed axe-core rule on the current page.
type AxeViolation struct {
	ID      string   // rule id, e.g. "image-alt"
	Impact  string   // minor, moderate, serious or critical
	Help    string   // one-line description of the rule
	HelpURL string   // Deque's page explaining the rule
	Nodes   []string // target selector of each offending element
}

// AxePath returns the axe-core script to inject: $KIOSK_AXE_JS, else
// <module root>/build/npm/node_modules/axe-core/axe.min.js.
func AxePath() (string, error) {
	if p := os.Getenv("KIOSK_AXE_JS"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("uitest: axe-core from KIOSK_AXE_JS: %w", err)
		}
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("uitest: axe-core: %w", err)
	}
	p := filepath.Join(root, "build", "npm", "node_modules", "axe-core", "axe.min.js")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("uitest: axe-core %s not installed (run `make axe`, or set KIOSK_AXE_JS): %w", AxeVersion, err)
	}
	return p, nil
}

// axeRunJS runs the audit and flattens the result to what AxeViolation holds.
// A target is a list of selectors, one per nested document (iframe) and, for
// shadow DOM, a list itself; they are joined so that each node is one string.
const axeRunJS = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl,
  nodes: v.nodes.map(n => n.target.map(t => Array.isArray(t) ? t.join(' >>> ') : String(t)).join(' | ')),
})))`

// Axe injects axe-core into the current page and returns its violations.
// Injection goes through the DevTools protocol, which the page's CSP
// (script-src 'self') does not govern, so the audited page runs with its real
// policy. Call it once the screen under audit is shown.
func (b *Browser) Axe() ([]AxeViolation, error) {
	path, err := AxePath()
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("uitest: axe-core: %w", err)
	}
	var loaded bool
	if err := b.Eval(`typeof window.axe === 'object'`, &loaded); err != nil {
		return nil, fmt.Errorf("uitest: axe-core: %w", err)
	}
	if !loaded {
		if err := b.Eval(string(src)+"\n;true", nil); err != nil {
			return nil, fmt.Errorf("uitest: inject axe-core: %w", err)
		}
	}
	var raw []struct {
		ID      string   `json:"id"`
		Impact  string   `json:"impact"`
		Help    string   `json:"help"`
		HelpURL string   `json:"helpUrl"`
		Nodes   []string `json:"nodes"`
	}
	if err := b.Eval(axeRunJS, &raw); err != nil {
		return nil, fmt.Errorf("uitest: axe.run: %w", err)
	}
	out := make([]AxeViolation, 0, len(raw))
	for _, v := range raw {
		out = append(out, AxeViolation(v))
	}
	return out, nil
}

// SeriousViolations keeps the violations of impact serious or critical, the
// ones an e2e test fails on.
func SeriousViolations(v []AxeViolation) []AxeViolation {
	var out []AxeViolation
	for _, x := range v {
		if x.Impact == "serious" || x.Impact == "critical" {
			out = append(out, x)
		}
	}
	return out
}

// String renders a violation for a test failure message.
func (v AxeViolation) String() string {
	return fmt.Sprintf("%s (%s): %s %v", v.ID, v.Impact, v.Help, v.Nodes)
}
