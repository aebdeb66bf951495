package scanner

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// option is one backend option as `scanimage -d DEV -A` lists it, e.g.
//
//	--mode Gray|Color [Gray]
//	--resolution 75|150|300|600dpi [75]
//	-x 0..215.9mm (in steps of 0.1) [215.9]
//	--source Flatbed|ADF|ADF Duplex [Flatbed]
type option struct {
	name     string   // without dashes: "mode", "resolution", "x"
	values   []string // a list constraint, units stripped
	min, max float64  // a range constraint
	step     float64  // 0 when the range has no quantisation
	isRange  bool
	current  string
	inactive bool
}

// capabilities are the options of one device.
type capabilities map[string]option

// optionFlags are the bracketed words scanimage appends that are not values.
var optionFlags = map[string]bool{"inactive": true, "advanced": true, "read-only": true, "hardware": true, "software": true, "emulated": true, "automatic": true}

// parseCapabilities parses `scanimage -A` output. Lines it does not understand
// are skipped: the output is for people, and backends put anything in it.
func parseCapabilities(text string) capabilities {
	caps := capabilities{}
	for _, line := range strings.Split(text, "\n") {
		if o, ok := parseOptionLine(line); ok {
			caps[o.name] = o
		}
	}
	return caps
}

func parseOptionLine(line string) (option, bool) {
	var o option
	// Option lines are indented; the help text under them is indented further
	// and does not start with a dash.
	t := strings.TrimSpace(line)
	if t == line || !strings.HasPrefix(t, "-") || len(t) > maxLine {
		return o, false
	}
	nameEnd := strings.IndexAny(t, " [")
	if nameEnd < 0 {
		nameEnd = len(t)
	}
	o.name = strings.TrimLeft(t[:nameEnd], "-")
	if o.name == "" {
		return o, false
	}
	rest := t[nameEnd:]
	if strings.HasPrefix(rest, "[=") {
		return o, false // a boolean: the scanner never needs one set
	}
	rest, groups := trailingBrackets(strings.TrimSpace(rest))
	for _, g := range groups {
		switch {
		case g == "inactive":
			o.inactive = true
		case optionFlags[g]:
		case o.current == "":
			o.current = g
		}
	}
	rest = strings.TrimSpace(rest)
	if strings.Contains(rest, ",...") || strings.HasPrefix(rest, "<") {
		return o, true // arrays and unconstrained values: nothing to choose from
	}
	if lo, hi, ok := strings.Cut(rest, ".."); ok && !strings.Contains(rest, "|") {
		hi, stepText, _ := strings.Cut(hi, " (in steps of ")
		min, err1 := strconv.ParseFloat(lo, 64)
		max, err2 := strconv.ParseFloat(stripUnit(hi), 64)
		if err1 != nil || err2 != nil || !finite(min) || !finite(max) || min > max {
			return o, false
		}
		o.isRange, o.min, o.max = true, min, max
		if s, err := strconv.ParseFloat(strings.TrimSuffix(stepText, ")"), 64); err == nil && finite(s) && s > 0 {
			o.step = s
		}
		return o, true
	}
	if rest != "" {
		o.values = strings.Split(rest, "|")
		last := len(o.values) - 1
		if _, err := strconv.ParseFloat(o.values[0], 64); err == nil {
			o.values[last] = stripUnit(o.values[last]) // "75|150|300dpi"
		}
	}
	return o, true
}

// trailingBrackets splits "Gray|Color [Gray] [advanced]" into "Gray|Color" and
// ["Gray", "advanced"], matching brackets so that values holding brackets
// ("Gray[Error Diffusion]") stay whole. A group counts only when a space
// precedes it.
func trailingBrackets(s string) (string, []string) {
	var groups []string
	for strings.HasSuffix(s, "]") {
		depth, i := 0, len(s)-1
		for ; i >= 0; i-- {
			if s[i] == ']' {
				depth++
			} else if s[i] == '[' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		if i <= 0 || s[i-1] != ' ' {
			break
		}
		groups = append([]string{s[i+1 : len(s)-1]}, groups...)
		s = strings.TrimSpace(s[:i])
	}
	return s, groups
}

func stripUnit(s string) string {
	for _, u := range []string{"dpi", "mm", "pel", "%", "us", "bit"} {
		if v, ok := strings.CutSuffix(s, u); ok {
			return v
		}
	}
	return s
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func (c capabilities) active(name string) (option, bool) {
	o, ok := c[name]
	return o, ok && !o.inactive
}

// chooseMode picks the device's mode for a colour or grey scan. ok is false
// when the device has no mode option (it scans what it scans). Grey asked of a
// device without a true grey mode gets its colour mode: the page is converted
// after the scan, so a grey request always yields grey pages.
func (c capabilities) chooseMode(colour bool) (mode string, ok bool) {
	o, found := c.active("mode")
	if !found || len(o.values) == 0 {
		return "", false
	}
	// Exact names first, then the words backends use; dithered or halftoned
	// greys are for line art, not documents people read back.
	var prefs []func(v string) bool
	if colour {
		prefs = []func(string) bool{
			func(v string) bool { return strings.EqualFold(v, "Color") || strings.EqualFold(v, "Colour") },
			func(v string) bool { return strings.Contains(strings.ToLower(v), "24bit color") },
			func(v string) bool {
				l := strings.ToLower(v)
				return (strings.Contains(l, "color") || strings.Contains(l, "colour")) && !strings.Contains(l, "48")
			},
		}
	} else {
		prefs = []func(string) bool{
			func(v string) bool { return strings.EqualFold(v, "Gray") || strings.EqualFold(v, "Grey") },
			func(v string) bool { return strings.EqualFold(v, "Grayscale") || strings.EqualFold(v, "True Gray") },
			func(v string) bool {
				l := strings.ToLower(v)
				return (strings.Contains(l, "gray") || strings.Contains(l, "grey")) &&
					!strings.Contains(l, "diffusion") && !strings.Contains(l, "halftone") && !strings.Contains(l, "dither")
			},
		}
	}
	for _, pref := range prefs {
		if i := slices.IndexFunc(o.values, pref); i >= 0 {
			return o.values[i], true
		}
	}
	if !colour {
		// No true grey: scan in colour and convert.
		return c.chooseMode(true)
	}
	return "", false
}

// chooseSource picks the source value for the flatbed or the feeder. ok is
// false when the device has no source option. err is a NoFeeder fault when the
// device lists sources and none fits.
func (c capabilities) chooseSource(src Source) (value string, ok bool, err error) {
	o, found := c.active("source")
	if !found || len(o.values) == 0 {
		return "", false, nil
	}
	var prefs []func(string) bool
	if src == Feeder {
		prefs = []func(string) bool{
			func(v string) bool { return v == "ADF" || v == "Automatic Document Feeder" || v == "ADF Front" },
			func(v string) bool {
				l := strings.ToLower(v)
				return (strings.Contains(l, "adf") || strings.Contains(l, "feeder")) && !strings.Contains(l, "duplex") && !strings.Contains(l, "back")
			},
		}
	} else {
		prefs = []func(string) bool{
			func(v string) bool { return strings.EqualFold(v, "Flatbed") },
			func(v string) bool {
				l := strings.ToLower(v)
				return strings.Contains(l, "flatbed") || strings.Contains(l, "platen") || strings.Contains(l, "glass") || strings.Contains(l, "document table")
			},
		}
	}
	for _, pref := range prefs {
		if i := slices.IndexFunc(o.values, pref); i >= 0 {
			return o.values[i], true, nil
		}
	}
	return "", false, &Error{Fault: NoFeeder, Detail: fmt.Sprintf("no %s among sources %q", src, o.values)}
}

// chooseResolution returns the supported resolution nearest to dpi (the higher
// one on a tie, since legibility matters more than bytes). ok is false when the
// device has no resolution option.
func (c capabilities) chooseResolution(dpi int) (int, bool) {
	o, found := c.active("resolution")
	if !found {
		return 0, false
	}
	want := float64(dpi)
	if o.isRange {
		v := min(max(want, o.min), o.max)
		if o.step > 0 {
			v = o.min + math.Round((v-o.min)/o.step)*o.step
			v = min(v, o.max)
		}
		r := math.Round(v)
		return int(r), r >= 1 && r <= 100000
	}
	best, bestDist := 0, math.Inf(1)
	for _, s := range o.values {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 1 || f > 100000 {
			continue
		}
		if d := math.Abs(f - want); d < bestDist || (d == bestDist && int(f) > best) {
			best, bestDist = int(math.Round(f)), d
		}
	}
	return best, best > 0
}

// maxExtent returns the largest value of a geometry option ("x" or "y", in mm),
// or 0 when the device has none.
func (c capabilities) maxExtent(name string) float64 {
	o, found := c.active(name)
	if !found || !o.isRange {
		return 0
	}
	return o.max
}

// hasValue reports whether a list option offers value v.
func (c capabilities) hasValue(name, v string) bool {
	o, found := c.active(name)
	return found && slices.Contains(o.values, v)
}
