// Package pdfpages reads back what a scanned-document PDF contains: the page
// tree's count, each page's media box, and each image a page draws with where it
// lands on the page. It parses the PDF object syntax itself, so the scanner's
// tests check a document independently of the library that wrote it. It reads
// classic PDFs with cross-reference tables and direct stream lengths (what fpdf
// writes), not every PDF: object streams, xref streams and encryption are out of
// scope and reported as errors. Garbage input returns an error, never a panic.
package pdfpages

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrMalformed means the bytes are not a PDF this package reads.
var ErrMalformed = errors.New("pdfpages: malformed PDF")

// Document is the page structure of a PDF.
type Document struct {
	Count int // /Count of the root page tree node
	Pages []Page
}

// Page is one leaf of the page tree.
type Page struct {
	MediaBox [4]float64 // llx lly urx ury, in points
	Images   []Image    // in the order the content stream draws them
}

// Width is the media box width in points.
func (p Page) Width() float64 { return p.MediaBox[2] - p.MediaBox[0] }

// Height is the media box height in points.
func (p Page) Height() float64 { return p.MediaBox[3] - p.MediaBox[1] }

// Image is an image XObject drawn on a page.
type Image struct {
	Name             string // resource name, e.g. "I1"
	Width, Height    int    // pixels
	ColorSpace       string // "DeviceGray", "DeviceRGB", ...
	BitsPerComponent int
	Filter           string // "DCTDecode" for JPEG
	Data             []byte // the stream as stored (a JPEG file for DCTDecode)
	// CTM is the transformation in force when the image was drawn: the image's
	// unit square lands at (E, F) with size (A, D) points when B and C are zero.
	CTM [6]float64
}

// Limits that keep hostile input cheap.
const (
	maxDepth          = 32       // nesting of arrays and dictionaries
	maxContentBytes   = 16 << 20 // an inflated content stream
	maxPageTreeLevels = 32
)

type (
	name  string
	ref   struct{ num, gen int }
	dict  map[name]any
	array []any
)

type object struct {
	value  any
	stream []byte // nil when the object is not a stream
}

// Parse reads the page structure of a PDF.
func Parse(b []byte) (*Document, error) {
	if !bytes.HasPrefix(b, []byte("%PDF-")) {
		return nil, fmt.Errorf("%w: no %%PDF- header", ErrMalformed)
	}
	objs, trailer, err := readObjects(b)
	if err != nil {
		return nil, err
	}
	if _, ok := trailer["Encrypt"]; ok {
		return nil, fmt.Errorf("%w: encrypted", ErrMalformed)
	}
	r := resolver{objs: objs}
	catalog, ok := r.dict(trailer["Root"])
	if !ok {
		return nil, fmt.Errorf("%w: trailer has no /Root catalog", ErrMalformed)
	}
	root, ok := r.dict(catalog["Pages"])
	if !ok {
		return nil, fmt.Errorf("%w: catalog has no /Pages", ErrMalformed)
	}
	count, ok := r.number(root["Count"])
	if !ok {
		return nil, fmt.Errorf("%w: page tree root has no /Count", ErrMalformed)
	}
	d := &Document{Count: int(count)}
	if err := r.walk(root, inherited{}, 0, d); err != nil {
		return nil, err
	}
	return d, nil
}

// inherited holds the attributes a page takes from its ancestors.
type inherited struct {
	mediaBox  any
	resources any
}

func (r *resolver) walk(node dict, inh inherited, level int, d *Document) error {
	if level > maxPageTreeLevels {
		return fmt.Errorf("%w: page tree deeper than %d", ErrMalformed, maxPageTreeLevels)
	}
	if v, ok := node["MediaBox"]; ok {
		inh.mediaBox = v
	}
	if v, ok := node["Resources"]; ok {
		inh.resources = v
	}
	typ, _ := r.resolve(node["Type"]).(name)
	switch typ {
	case "Pages":
		kids, ok := r.resolve(node["Kids"]).(array)
		if !ok {
			return fmt.Errorf("%w: /Pages node without /Kids", ErrMalformed)
		}
		for _, k := range kids {
			kid, ok := r.dict(k)
			if !ok {
				return fmt.Errorf("%w: page tree kid is not a dictionary", ErrMalformed)
			}
			if err := r.walk(kid, inh, level+1, d); err != nil {
				return err
			}
		}
		return nil
	case "Page":
		p, err := r.page(node, inh)
		if err != nil {
			return fmt.Errorf("page %d: %w", len(d.Pages)+1, err)
		}
		d.Pages = append(d.Pages, p)
		return nil
	}
	return fmt.Errorf("%w: page tree node of type %q", ErrMalformed, typ)
}

func (r *resolver) page(node dict, inh inherited) (Page, error) {
	var p Page
	box, ok := r.resolve(inh.mediaBox).(array)
	if !ok || len(box) != 4 {
		return p, fmt.Errorf("%w: no /MediaBox", ErrMalformed)
	}
	for i, v := range box {
		if p.MediaBox[i], ok = r.number(v); !ok {
			return p, fmt.Errorf("%w: /MediaBox holds %T", ErrMalformed, v)
		}
	}
	xobjects := dict{}
	if res, ok := r.dict(inh.resources); ok {
		if x, ok := r.dict(res["XObject"]); ok {
			xobjects = x
		}
	}
	content, err := r.contents(node["Contents"])
	if err != nil {
		return p, err
	}
	draws, err := imageDraws(content)
	if err != nil {
		return p, err
	}
	for _, dr := range draws {
		x, ok := xobjects[name(dr.name)].(ref)
		if !ok {
			return p, fmt.Errorf("%w: content draws /%s, which the resources do not name", ErrMalformed, dr.name)
		}
		o, ok := r.objs[x]
		if !ok || o.stream == nil {
			return p, fmt.Errorf("%w: /%s is not a stream", ErrMalformed, dr.name)
		}
		sd, _ := o.value.(dict)
		if sub, _ := r.resolve(sd["Subtype"]).(name); sub != "Image" {
			continue // a form XObject: not a scanned page
		}
		im := Image{Name: dr.name, Data: o.stream, CTM: dr.ctm}
		w, _ := r.number(sd["Width"])
		h, _ := r.number(sd["Height"])
		bpc, _ := r.number(sd["BitsPerComponent"])
		im.Width, im.Height, im.BitsPerComponent = int(w), int(h), int(bpc)
		cs, _ := r.resolve(sd["ColorSpace"]).(name)
		f, _ := r.resolve(sd["Filter"]).(name)
		im.ColorSpace, im.Filter = string(cs), string(f)
		p.Images = append(p.Images, im)
	}
	return p, nil
}

// contents returns a page's content stream, inflated, the parts of an array
// joined as the specification says.
func (r *resolver) contents(v any) ([]byte, error) {
	var refs []any
	switch c := v.(type) {
	case ref:
		refs = []any{c}
		if a, ok := r.objs[c].value.(array); ok && r.objs[c].stream == nil {
			refs = a
		}
	case array:
		refs = c
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("%w: /Contents is %T", ErrMalformed, v)
	}
	var out []byte
	for _, x := range refs {
		rf, ok := x.(ref)
		o, found := r.objs[rf]
		if !ok || !found || o.stream == nil {
			return nil, fmt.Errorf("%w: /Contents is not a stream", ErrMalformed)
		}
		sd, _ := o.value.(dict)
		data := o.stream
		switch f := r.resolve(sd["Filter"]).(type) {
		case nil:
		case name:
			if f != "FlateDecode" {
				return nil, fmt.Errorf("%w: content stream filter /%s", ErrMalformed, f)
			}
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("%w: content stream: %w", ErrMalformed, err)
			}
			data, err = io.ReadAll(io.LimitReader(zr, maxContentBytes+1))
			if err != nil {
				return nil, fmt.Errorf("%w: content stream: %w", ErrMalformed, err)
			}
			if len(data) > maxContentBytes {
				return nil, fmt.Errorf("%w: content stream over %d bytes", ErrMalformed, maxContentBytes)
			}
		default:
			return nil, fmt.Errorf("%w: content stream filter %v", ErrMalformed, f)
		}
		out = append(append(out, data...), '\n')
	}
	return out, nil
}

type draw struct {
	name string
	ctm  [6]float64
}

// imageDraws runs the graphics-state part of a content stream (q, Q, cm) and
// records each XObject drawn with Do. Every other operator is skipped.
func imageDraws(content []byte) ([]draw, error) {
	p := parser{b: content}
	ctm := [6]float64{1, 0, 0, 1, 0, 0}
	var stack [][6]float64
	var operands []any
	var draws []draw
	for {
		p.skipSpace()
		if p.pos >= len(p.b) {
			return draws, nil
		}
		if isRegular(p.b[p.pos]) && !isNumberStart(p.b[p.pos]) {
			op := p.keyword()
			switch op {
			case "q":
				if len(stack) >= 64 {
					return nil, fmt.Errorf("%w: graphics state nested deeper than 64", ErrMalformed)
				}
				stack = append(stack, ctm)
			case "Q":
				if len(stack) > 0 {
					ctm, stack = stack[len(stack)-1], stack[:len(stack)-1]
				}
			case "cm":
				var m [6]float64
				if len(operands) != 6 {
					return nil, fmt.Errorf("%w: cm with %d operands", ErrMalformed, len(operands))
				}
				for i, o := range operands {
					f, ok := o.(float64)
					if !ok {
						return nil, fmt.Errorf("%w: cm operand %T", ErrMalformed, o)
					}
					m[i] = f
				}
				ctm = multiply(m, ctm)
			case "Do":
				if len(operands) != 1 {
					return nil, fmt.Errorf("%w: Do with %d operands", ErrMalformed, len(operands))
				}
				n, ok := operands[0].(name)
				if !ok {
					return nil, fmt.Errorf("%w: Do operand %T", ErrMalformed, operands[0])
				}
				draws = append(draws, draw{name: string(n), ctm: ctm})
			case "BI":
				return nil, fmt.Errorf("%w: inline images are not read", ErrMalformed)
			case "":
				return nil, fmt.Errorf("%w: content stream byte %q at %d", ErrMalformed, p.b[p.pos], p.pos)
			}
			operands = operands[:0]
			continue
		}
		v, err := p.value(0)
		if err != nil {
			return nil, err
		}
		operands = append(operands, v)
	}
}

// multiply returns m×n for PDF's row-vector matrices [a b c d e f].
func multiply(m, n [6]float64) [6]float64 {
	return [6]float64{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

type resolver struct{ objs map[ref]object }

// resolve follows references (a bounded number of times: a cycle is garbage).
func (r *resolver) resolve(v any) any {
	for range 8 {
		x, ok := v.(ref)
		if !ok {
			return v
		}
		v = r.objs[x].value
	}
	return nil
}

func (r *resolver) dict(v any) (dict, bool) {
	d, ok := r.resolve(v).(dict)
	return d, ok
}

func (r *resolver) number(v any) (float64, bool) {
	f, ok := r.resolve(v).(float64)
	return f, ok
}

// readObjects reads every "N G obj ... endobj" from the body in order, then the
// trailer dictionary.
func readObjects(b []byte) (map[ref]object, dict, error) {
	p := parser{b: b}
	p.skipLine() // %PDF-x.y
	objs := map[ref]object{}
	for {
		p.skipSpace()
		if p.pos >= len(p.b) {
			return nil, nil, fmt.Errorf("%w: no xref table or trailer", ErrMalformed)
		}
		if p.hasKeyword("xref") || p.hasKeyword("trailer") {
			break
		}
		num, gen, err := p.objHeader()
		if err != nil {
			return nil, nil, err
		}
		v, err := p.value(0)
		if err != nil {
			return nil, nil, fmt.Errorf("object %d: %w", num, err)
		}
		o := object{value: v}
		p.skipSpace()
		if p.hasKeyword("stream") {
			if o.stream, err = p.stream(v, objs); err != nil {
				return nil, nil, fmt.Errorf("object %d: %w", num, err)
			}
			p.skipSpace()
		}
		if !p.hasKeyword("endobj") {
			return nil, nil, fmt.Errorf("%w: object %d not closed by endobj", ErrMalformed, num)
		}
		p.pos += len("endobj")
		objs[ref{num, gen}] = o
	}
	i := bytes.LastIndex(p.b, []byte("trailer"))
	if i < 0 {
		return nil, nil, fmt.Errorf("%w: no trailer", ErrMalformed)
	}
	p.pos = i + len("trailer")
	v, err := p.value(0)
	if err != nil {
		return nil, nil, fmt.Errorf("trailer: %w", err)
	}
	t, ok := v.(dict)
	if !ok {
		return nil, nil, fmt.Errorf("%w: trailer is %T", ErrMalformed, v)
	}
	return objs, t, nil
}

type parser struct {
	b   []byte
	pos int
}

func isWhite(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isDelimiter(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c byte) bool { return !isWhite(c) && !isDelimiter(c) }

func isNumberStart(c byte) bool { return c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9') }

func (p *parser) skipSpace() {
	for p.pos < len(p.b) {
		switch c := p.b[p.pos]; {
		case isWhite(c):
			p.pos++
		case c == '%':
			p.skipLine()
		default:
			return
		}
	}
}

func (p *parser) skipLine() {
	for p.pos < len(p.b) && p.b[p.pos] != '\n' && p.b[p.pos] != '\r' {
		p.pos++
	}
}

// hasKeyword reports whether the keyword kw starts at pos and ends there.
func (p *parser) hasKeyword(kw string) bool {
	end := p.pos + len(kw)
	return end <= len(p.b) && string(p.b[p.pos:end]) == kw && (end == len(p.b) || !isRegular(p.b[end]))
}

func (p *parser) keyword() string {
	start := p.pos
	for p.pos < len(p.b) && isRegular(p.b[p.pos]) {
		p.pos++
	}
	return string(p.b[start:p.pos])
}

func (p *parser) objHeader() (int, int, error) {
	var n [2]int
	for i := range n {
		p.skipSpace()
		v, err := p.value(maxDepth)
		f, ok := v.(float64)
		if err != nil || !ok || f < 0 || f != float64(int(f)) {
			return 0, 0, fmt.Errorf("%w: expected an object header at %d", ErrMalformed, p.pos)
		}
		n[i] = int(f)
	}
	p.skipSpace()
	if !p.hasKeyword("obj") {
		return 0, 0, fmt.Errorf("%w: expected obj at %d", ErrMalformed, p.pos)
	}
	p.pos += len("obj")
	return n[0], n[1], nil
}

// stream reads the data of a stream whose dictionary is v, with p at "stream".
func (p *parser) stream(v any, objs map[ref]object) ([]byte, error) {
	d, ok := v.(dict)
	if !ok {
		return nil, fmt.Errorf("%w: stream without a dictionary", ErrMalformed)
	}
	p.pos += len("stream")
	// The keyword is followed by CRLF or LF, then the data.
	if p.pos < len(p.b) && p.b[p.pos] == '\r' {
		p.pos++
	}
	if p.pos >= len(p.b) || p.b[p.pos] != '\n' {
		return nil, fmt.Errorf("%w: stream keyword not followed by an end of line", ErrMalformed)
	}
	p.pos++
	lv := d["Length"]
	if r, ok := lv.(ref); ok {
		if o, seen := objs[r]; seen {
			lv = o.value
		} else {
			lv = p.lookAhead(r)
		}
	}
	l, ok := lv.(float64)
	if !ok || l < 0 || l != float64(int(l)) || int(l) > len(p.b)-p.pos {
		return nil, fmt.Errorf("%w: stream /Length %v", ErrMalformed, d["Length"])
	}
	data := p.b[p.pos : p.pos+int(l)]
	p.pos += int(l)
	p.skipSpace()
	if !p.hasKeyword("endstream") {
		return nil, fmt.Errorf("%w: stream data not followed by endstream", ErrMalformed)
	}
	p.pos += len("endstream")
	return data, nil
}

// lookAhead finds and parses object r further on, for a stream length written
// after its stream; the stream itself is parsed later in order.
func (p *parser) lookAhead(r ref) any {
	hdr := []byte(fmt.Sprintf("%d %d obj", r.num, r.gen))
	for off := p.pos; ; {
		i := bytes.Index(p.b[off:], hdr)
		if i < 0 {
			return nil
		}
		at := off + i
		off = at + len(hdr)
		if at > 0 && isRegular(p.b[at-1]) {
			continue // "11 0 obj" inside "111 0 obj"
		}
		q := parser{b: p.b, pos: off}
		v, err := q.value(0)
		if err != nil {
			return nil
		}
		return v
	}
}

// value parses one object: number, reference, name, string, array, dictionary,
// boolean or null.
func (p *parser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrMalformed, maxDepth)
	}
	p.skipSpace()
	if p.pos >= len(p.b) {
		return nil, fmt.Errorf("%w: unexpected end", ErrMalformed)
	}
	switch c := p.b[p.pos]; {
	case c == '/':
		p.pos++
		return name(p.keyword()), nil
	case c == '<' && p.pos+1 < len(p.b) && p.b[p.pos+1] == '<':
		p.pos += 2
		d := dict{}
		for {
			p.skipSpace()
			if p.pos+1 < len(p.b) && p.b[p.pos] == '>' && p.b[p.pos+1] == '>' {
				p.pos += 2
				return d, nil
			}
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			kn, ok := k.(name)
			if !ok {
				return nil, fmt.Errorf("%w: dictionary key %T", ErrMalformed, k)
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			d[kn] = v
		}
	case c == '<':
		end := bytes.IndexByte(p.b[p.pos:], '>')
		if end < 0 {
			return nil, fmt.Errorf("%w: unterminated hex string", ErrMalformed)
		}
		s := p.b[p.pos+1 : p.pos+end]
		p.pos += end + 1
		return []byte(s), nil
	case c == '[':
		p.pos++
		var a array
		for {
			p.skipSpace()
			if p.pos < len(p.b) && p.b[p.pos] == ']' {
				p.pos++
				return a, nil
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	case c == '(':
		return p.literalString()
	case isNumberStart(c):
		f, err := p.number()
		if err != nil {
			return nil, err
		}
		// "N G R" is a reference: look ahead without committing.
		if f >= 0 && f == float64(int(f)) {
			save := p.pos
			p.skipSpace()
			if p.pos < len(p.b) && p.b[p.pos] >= '0' && p.b[p.pos] <= '9' {
				if g, err := p.number(); err == nil && g == float64(int(g)) {
					p.skipSpace()
					if p.hasKeyword("R") {
						p.pos++
						return ref{int(f), int(g)}, nil
					}
				}
			}
			p.pos = save
		}
		return f, nil
	case isRegular(c):
		switch kw := p.keyword(); kw {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		default:
			return nil, fmt.Errorf("%w: unexpected %q at %d", ErrMalformed, kw, p.pos-len(kw))
		}
	}
	return nil, fmt.Errorf("%w: unexpected byte %q at %d", ErrMalformed, p.b[p.pos], p.pos)
}

func (p *parser) number() (float64, error) {
	start := p.pos
	for p.pos < len(p.b) && (isNumberStart(p.b[p.pos])) {
		p.pos++
	}
	f, err := strconv.ParseFloat(string(p.b[start:p.pos]), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: number %q", ErrMalformed, p.b[start:p.pos])
	}
	return f, nil
}

// literalString reads a (string) with balanced parentheses; escapes are kept
// as written, since no caller needs string values.
func (p *parser) literalString() ([]byte, error) {
	start := p.pos
	depth := 0
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case '\\':
			p.pos++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				p.pos++
				return p.b[start+1 : p.pos-1], nil
			}
		}
		p.pos++
	}
	return nil, fmt.Errorf("%w: unterminated string", ErrMalformed)
}
