package escpos

import (
	"bytes"
	"errors"
	"testing"
)

func TestEncoderBytes(t *testing.T) {
	t.Parallel()
	img := Raster{Width: 16, Height: 3, Bits: []byte{0x80, 0x01, 0xFF, 0x00, 0x10, 0x04}}
	tests := []struct {
		name  string
		build func(e *Encoder)
		want  []byte
	}{
		{"init", func(e *Encoder) { e.Init() }, []byte{0x1B, 0x40}},
		{"align center", func(e *Encoder) { e.Align(Center) }, []byte{0x1B, 0x61, 0x01}},
		{"align right", func(e *Encoder) { e.Align(Right) }, []byte{0x1B, 0x61, 0x02}},
		{"feed 3", func(e *Encoder) { e.Feed(3) }, []byte{0x1B, 0x64, 0x03}},
		{"feed 0 sends nothing", func(e *Encoder) { e.Feed(0) }, nil},
		{"feed 300 splits", func(e *Encoder) { e.Feed(300) }, []byte{0x1B, 0x64, 0xFF, 0x1B, 0x64, 0x2D}},
		{"partial cut after feed", func(e *Encoder) { e.Cut(PartialCutAfterFeed) }, []byte{0x1D, 0x56, 0x42, 0x00}},
		{"partial cut", func(e *Encoder) { e.Cut(PartialCut) }, []byte{0x1D, 0x56, 0x01}},
		{"paper sensor fence", func(e *Encoder) { e.PaperSensorRequest() }, []byte{0x1D, 0x72, 0x01}},
		{"raster one band", func(e *Encoder) { e.Raster(img) },
			[]byte{0x1D, 0x76, 0x30, 0x00, 0x02, 0x00, 0x03, 0x00, 0x80, 0x01, 0xFF, 0x00, 0x10, 0x04}},
		{"raster bands of 2 rows", func(e *Encoder) { e.BandRows = 2; e.Raster(img) },
			[]byte{0x1D, 0x76, 0x30, 0x00, 0x02, 0x00, 0x02, 0x00, 0x80, 0x01, 0xFF, 0x00,
				0x1D, 0x76, 0x30, 0x00, 0x02, 0x00, 0x01, 0x00, 0x10, 0x04}},
		{"empty raster sends nothing", func(e *Encoder) { e.Raster(Raster{Width: 8}) }, nil},
		{"native QR", func(e *Encoder) { e.QR([]byte("AB1"), 6) }, []byte{
			0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00, // model 2
			0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06, // module 6
			0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31, // level M
			0x1D, 0x28, 0x6B, 0x06, 0x00, 0x31, 0x50, 0x30, 'A', 'B', '1', // store
			0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30, // print
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var e Encoder
			tt.build(&e)
			got, err := e.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("got  % X\nwant % X", got, tt.want)
			}
		})
	}
}

func TestEncoderQRLengthPrefix(t *testing.T) {
	t.Parallel()
	var e Encoder
	data := bytes.Repeat([]byte{'x'}, 300)
	e.QR(data, 4)
	b, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	// The store command's pL pH is len+3 = 303 = 0x012F.
	store := []byte{0x1D, 0x28, 0x6B, 0x2F, 0x01, 0x31, 0x50, 0x30}
	i := bytes.Index(b, store)
	if i < 0 || !bytes.Equal(b[i+len(store):i+len(store)+300], data) {
		t.Fatalf("store command not found or data wrong in % X", b[:60])
	}
}

func TestEncoderErrorsStick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		build func(e *Encoder)
	}{
		{"raster width not multiple of 8", func(e *Encoder) { e.Raster(Raster{Width: 12, Height: 1, Bits: []byte{0, 0}}) }},
		{"raster short bits", func(e *Encoder) { e.Raster(Raster{Width: 16, Height: 2, Bits: []byte{0, 0}}) }},
		{"raster zero width", func(e *Encoder) { e.Raster(Raster{}) }},
		{"QR empty", func(e *Encoder) { e.QR(nil, 4) }},
		{"QR too long", func(e *Encoder) { e.QR(make([]byte, MaxQRBytes+1), 4) }},
		{"QR module 0", func(e *Encoder) { e.QR([]byte("x"), 0) }},
		{"QR module 17", func(e *Encoder) { e.QR([]byte("x"), 17) }},
		{"align 3", func(e *Encoder) { e.Align(3) }},
		{"negative feed", func(e *Encoder) { e.Feed(-1) }},
		{"unknown cut", func(e *Encoder) { e.Cut(7) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var e Encoder
			e.Init()
			tt.build(&e)
			e.Feed(1)
			if b, err := e.Bytes(); err == nil {
				t.Fatalf("no error; bytes % X", b)
			}
			e.Reset()
			e.Init()
			if b, err := e.Bytes(); err != nil || !bytes.Equal(b, []byte{ESC, '@'}) {
				t.Fatalf("after Reset: % X, %v", b, err)
			}
		})
	}
}

func TestStatusRequest(t *testing.T) {
	t.Parallel()
	for n := StatusKind(1); n <= 4; n++ {
		if got := StatusRequest(n); !bytes.Equal(got, []byte{0x10, 0x04, byte(n)}) {
			t.Errorf("DLE EOT %d: % X", n, got)
		}
	}
}

// Answers as the Epson command reference tabulates them for DLE EOT n.
func TestStatusDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		answers [4]byte // to n = 1..4
		want    Status
		print   bool
	}{
		{"healthy", [4]byte{0x12, 0x12, 0x12, 0x12}, Status{}, true},
		{"drawer pin high is not a problem", [4]byte{0x16, 0x12, 0x12, 0x12}, Status{}, true},
		{"near end prints", [4]byte{0x12, 0x12, 0x12, 0x1E}, Status{PaperNearEnd: true}, true},
		{"near end, one bit (clone)", [4]byte{0x12, 0x12, 0x12, 0x16}, Status{PaperNearEnd: true}, true},
		{"paper end", [4]byte{0x1A, 0x32, 0x12, 0x7E},
			Status{Offline: true, PaperEndStop: true, PaperNearEnd: true, PaperEnd: true}, false},
		{"paper end, one bit (clone)", [4]byte{0x12, 0x12, 0x12, 0x32}, Status{PaperEnd: true}, false},
		{"cover open", [4]byte{0x1A, 0x16, 0x12, 0x12}, Status{Offline: true, CoverOpen: true}, false},
		{"cutter error", [4]byte{0x3A, 0x52, 0x1A, 0x12},
			Status{Offline: true, WaitingRecovery: true, ErrorOccurred: true, CutterError: true}, false},
		{"unrecoverable", [4]byte{0x1A, 0x52, 0x32, 0x12}, Status{Offline: true, ErrorOccurred: true, Unrecoverable: true}, false},
		{"head too hot", [4]byte{0x1A, 0x52, 0x52, 0x12}, Status{Offline: true, ErrorOccurred: true, AutoRecoverable: true}, false},
		{"mechanical", [4]byte{0x1A, 0x52, 0x16, 0x12}, Status{Offline: true, ErrorOccurred: true, MechanicalError: true}, false},
		{"feed button", [4]byte{0x52, 0x1A, 0x12, 0x12}, Status{FeedButton: true, ButtonFeeding: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s Status
			for i, b := range tt.answers {
				if err := s.Decode(StatusKind(i+1), b); err != nil {
					t.Fatal(err)
				}
			}
			if s != tt.want {
				t.Errorf("got %v, want %v", s, tt.want)
			}
			if s.CanPrint() != tt.print {
				t.Errorf("CanPrint = %v", s.CanPrint())
			}
		})
	}
}

func TestStatusDecodeRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, b := range []byte{0x00, 0xFF, 0x10, 0x02, 0x92, 0x13, 0x0C} {
		var s Status
		if err := s.Decode(PrinterStatus, b); !errors.Is(err, ErrStatusByte) {
			t.Errorf("0x%02X: %v", b, err)
		}
	}
	var s Status
	if err := s.Decode(5, 0x12); err == nil {
		t.Error("DLE EOT 5 decoded")
	}
}

// Every status byte that passes the fixed-bit check decodes and re-encodes to
// the bits Status models, so the simulator answers what the decoder reads.
func TestStatusAnswerRoundTrip(t *testing.T) {
	t.Parallel()
	modelled := map[StatusKind]byte{PrinterStatus: 0x68, OfflineCause: 0x6C, ErrorCause: 0x6C, PaperStatus: 0x6C}
	for _, n := range StatusKinds {
		for b := range 256 {
			if !IsStatusAnswer(byte(b)) {
				continue
			}
			var s Status
			if err := s.Decode(n, byte(b)); err != nil {
				t.Fatalf("0x%02X: %v", b, err)
			}
			got := s.Answer(n)
			want := byte(b) & (modelled[n] | 0x12)
			if n == PaperStatus {
				// Either bit of a pair means the condition; Answer sets both.
				want = 0x12
				if b&0x0C != 0 {
					want |= 0x0C
				}
				if b&0x60 != 0 {
					want |= 0x60
				}
			}
			if got != want {
				t.Errorf("DLE EOT %d: 0x%02X decoded as %v re-encodes to 0x%02X, want 0x%02X", n, b, s, got, want)
			}
		}
	}
}

func TestPaperSensor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		b    byte
		want PaperSensor
		ok   bool
	}{
		{0x00, PaperSensor{}, true},
		{0x03, PaperSensor{NearEnd: true}, true},
		{0x0C, PaperSensor{End: true}, true},
		{0x0F, PaperSensor{NearEnd: true, End: true}, true},
		{0x12, PaperSensor{}, false}, // a DLE EOT answer: bit 4 set
		{0x80, PaperSensor{}, false},
	}
	for _, tt := range tests {
		got, err := DecodePaperSensor(tt.b)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("0x%02X: %v, %v", tt.b, got, err)
		}
		if tt.ok && got.Answer() != tt.b {
			t.Errorf("0x%02X re-encodes to 0x%02X", tt.b, got.Answer())
		}
	}
}

func TestStatusString(t *testing.T) {
	t.Parallel()
	if s := (Status{}).String(); s != "ok" {
		t.Errorf("zero: %q", s)
	}
	if s := (Status{CoverOpen: true, PaperNearEnd: true}).String(); s != "cover-open,paper-near-end" {
		t.Errorf("got %q", s)
	}
}
