package lds

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image/color"
	"image/jpeg"

	"github.com/vnkiosk/kiosk/devices/idcard/tlv"
)

// DG2 template tags (ICAO 9303 Part 10 §4, from ISO/IEC 7816-11 and CBEFF).
const (
	tagBIGT       tlv.Tag = 0x7F61 // biometric information group template
	tagInstances  tlv.Tag = 0x02   // number of biometric information templates
	tagBIT        tlv.Tag = 0x7F60 // biometric information template
	tagBHT        tlv.Tag = 0xA1   // biometric header template
	tagBDB        tlv.Tag = 0x5F2E // biometric data block
	tagBDBEnc     tlv.Tag = 0x7F2E // biometric data block, constructed form
	tagBHTVersion tlv.Tag = 0x80
	tagBHTType    tlv.Tag = 0x81
	tagBHTSubtype tlv.Tag = 0x82
	tagBHTOwner   tlv.Tag = 0x87
	tagBHTFormat  tlv.Tag = 0x88
)

// Media types of the face image, chosen by the image's own signature.
const (
	MIMEJPEG = "image/jpeg" // ISO/IEC 10918 (JFIF or Exif)
	MIMEJP2  = "image/jp2"  // ISO/IEC 15444-1 JP2 file format
	MIMEJ2K  = "image/j2c"  // ISO/IEC 15444-1 raw codestream
)

var (
	magicJPEG = []byte{0xFF, 0xD8, 0xFF}
	magicJP2  = []byte{0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A}
	magicJ2K  = []byte{0xFF, 0x4F, 0xFF, 0x51}
)

// DetectImageMIME returns the media type of an image by its leading signature, or
// "" when it is none of JPEG, JP2 or a JPEG 2000 codestream. The signature is
// trusted over the record's image data type, which some issuers get wrong.
func DetectImageMIME(b []byte) string {
	switch {
	case bytes.HasPrefix(b, magicJPEG):
		return MIMEJPEG
	case bytes.HasPrefix(b, magicJP2):
		return MIMEJP2
	case bytes.HasPrefix(b, magicJ2K):
		return MIMEJ2K
	}
	return ""
}

// ISO/IEC 19794-5:2005 facial record layout (the version ICAO 9303 Part 10 names).
var (
	faceFormatID = []byte("FAC\x00")
	faceVersion  = []byte("010\x00")
)

const (
	faceGeneralHeaderLen = 14 // format id, version, record length (4), image count (2)
	faceInfoLen          = 20 // facial information block, including its own length field
	featurePointLen      = 8
	imageInfoLen         = 12

	// Image data types (19794-5 §5.7.2).
	imageDataJPEG     = 0
	imageDataJPEG2000 = 1

	// Colour spaces (19794-5 §5.7.5).
	ColourSpaceUnspecified = 0
	ColourSpaceRGB24       = 1
	ColourSpaceYUV422      = 2
	ColourSpaceGrey8       = 3

	// FaceImageFullFrontal is the face image type ICAO 9303 requires (19794-5 §5.7.1).
	FaceImageFullFrontal = 1

	sourceDigitalStill = 3 // static photograph from a digital still camera
)

// Face is one facial image from DG2 with the fields of its ISO/IEC 19794-5 image
// information a kiosk can use.
type Face struct {
	Image         []byte // the encoded image, a copy independent of the DG2 bytes
	MIME          string // MIMEJPEG, MIMEJP2 or MIMEJ2K, by the image's signature
	Width, Height int    // as the record declares them
	ImageType     int    // 19794-5 face image type: 0 basic, 1 full frontal, 2 token frontal
	ColourSpace   int    // one of the ColourSpace constants
}

// FaceFromJPEG describes a JPEG for EncodeDG2, reading its dimensions and colour
// model from the JPEG headers.
func FaceFromJPEG(img []byte) (Face, error) {
	if DetectImageMIME(img) != MIMEJPEG {
		return Face{}, errors.New("lds: face image is not a JPEG")
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return Face{}, fmt.Errorf("lds: face image: %w", err)
	}
	cs := ColourSpaceRGB24
	if cfg.ColorModel == color.GrayModel {
		cs = ColourSpaceGrey8
	}
	return Face{Image: img, MIME: MIMEJPEG, Width: cfg.Width, Height: cfg.Height,
		ImageType: FaceImageFullFrontal, ColourSpace: cs}, nil
}

// ParseDG2 returns the facial images of DG2, in card order. Every biometric
// information template must carry an ISO/IEC 19794-5 face record (format owner
// 0101, format type 0008) of version 010 whose images are JPEG or JPEG 2000.
func ParseDG2(b []byte) ([]Face, error) {
	faces, err := parseDG2(b)
	if err != nil {
		return nil, fmt.Errorf("lds: parse EF.DG2: %w", err)
	}
	return faces, nil
}

func parseDG2(b []byte) ([]Face, error) {
	v, err := tlv.Unwrap(b, TagDG2)
	if err != nil {
		return nil, err
	}
	group, err := tlv.Unwrap(v, tagBIGT)
	if err != nil {
		return nil, err
	}
	objs, err := tlv.ParseAll(group)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 || objs[0].Tag != tagInstances || len(objs[0].Value) != 1 {
		return nil, errors.New("biometric group must start with a one-byte instance count")
	}
	count := int(objs[0].Value[0])
	templates := objs[1:]
	if count == 0 || count != len(templates) {
		return nil, fmt.Errorf("instance count %d but %d templates", count, len(templates))
	}
	var faces []Face
	for i, t := range templates {
		if t.Tag != tagBIT {
			return nil, fmt.Errorf("template %d: tag %s, want %s", i+1, t.Tag, tagBIT)
		}
		block, err := parseBIT(t.Value)
		if err != nil {
			return nil, fmt.Errorf("template %d: %w", i+1, err)
		}
		fs, err := parseFaceRecord(block)
		if err != nil {
			return nil, fmt.Errorf("template %d: ISO/IEC 19794-5 record: %w", i+1, err)
		}
		faces = append(faces, fs...)
	}
	return faces, nil
}

// parseBIT checks the biometric header template and returns the data block.
func parseBIT(b []byte) ([]byte, error) {
	objs, err := tlv.ParseAll(b)
	if err != nil {
		return nil, err
	}
	var header, block []byte
	var haveHeader, haveBlock bool
	for _, o := range objs {
		switch o.Tag {
		case tagBHT:
			header, haveHeader = o.Value, true
		case tagBDB, tagBDBEnc:
			// The constructed form 7F2E carries the same record; ICAO lists it for
			// data blocks protected by other means, which a face never is in LDS1.
			block, haveBlock = o.Value, true
		}
	}
	if !haveHeader || !haveBlock {
		return nil, errors.New("biometric header template and data block are both mandatory")
	}
	owner, haveOwner, err := tlv.Find(header, tagBHTOwner)
	if err != nil {
		return nil, fmt.Errorf("biometric header: %w", err)
	}
	format, haveFormat, err := tlv.Find(header, tagBHTFormat)
	if err != nil {
		return nil, fmt.Errorf("biometric header: %w", err)
	}
	if !haveOwner || !haveFormat {
		return nil, errors.New("biometric header lacks format owner or format type")
	}
	if !bytes.Equal(owner, []byte{0x01, 0x01}) || !bytes.Equal(format, []byte{0x00, 0x08}) {
		return nil, fmt.Errorf("biometric format %X/%X is not an ISO/IEC 19794-5 face record (0101/0008)", owner, format)
	}
	return block, nil
}

func parseFaceRecord(b []byte) ([]Face, error) {
	if len(b) < faceGeneralHeaderLen {
		return nil, errors.New("shorter than its general header")
	}
	if !bytes.Equal(b[0:4], faceFormatID) {
		return nil, errors.New(`format identifier is not "FAC"`)
	}
	if !bytes.Equal(b[4:8], faceVersion) {
		return nil, errors.New(`version is not "010"`)
	}
	recordLen := binary.BigEndian.Uint32(b[8:12])
	if recordLen < faceGeneralHeaderLen || uint64(recordLen) > uint64(len(b)) {
		return nil, fmt.Errorf("record length %d outside the %d-byte data block", recordLen, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[12:14]))
	if n == 0 {
		return nil, errors.New("no facial image")
	}
	rest := b[faceGeneralHeaderLen:recordLen]
	faces := make([]Face, 0, n)
	for i := range n {
		if len(rest) < faceInfoLen {
			return nil, fmt.Errorf("image %d: facial information truncated", i+1)
		}
		blockLen := binary.BigEndian.Uint32(rest[0:4])
		points := int(binary.BigEndian.Uint16(rest[4:6]))
		fixed := uint64(faceInfoLen + points*featurePointLen + imageInfoLen)
		if uint64(blockLen) < fixed || uint64(blockLen) > uint64(len(rest)) {
			return nil, fmt.Errorf("image %d: facial record length %d inconsistent with %d remaining bytes", i+1, blockLen, len(rest))
		}
		info := rest[faceInfoLen+points*featurePointLen : fixed]
		img := rest[fixed:blockLen]
		mime := DetectImageMIME(img)
		if mime == "" {
			return nil, fmt.Errorf("image %d: neither JPEG nor JPEG 2000", i+1)
		}
		faces = append(faces, Face{
			Image:       bytes.Clone(img),
			MIME:        mime,
			ImageType:   int(info[0]),
			Width:       int(binary.BigEndian.Uint16(info[2:4])),
			Height:      int(binary.BigEndian.Uint16(info[4:6])),
			ColourSpace: int(info[6]),
		})
		rest = rest[blockLen:]
	}
	return faces, nil
}

// EncodeDG2 encodes faces as a whole DG2 file, one biometric information template
// per face, each with an ISO/IEC 19794-5:2005 record of one image and no feature
// points.
func EncodeDG2(faces ...Face) ([]byte, error) {
	if len(faces) == 0 || len(faces) > 0xFF {
		return nil, fmt.Errorf("lds: encode EF.DG2: %d faces, want 1 to 255", len(faces))
	}
	templates := [][]byte{tlv.Encode(tagInstances, []byte{byte(len(faces))})}
	for i, f := range faces {
		rec, err := encodeFaceRecord(f)
		if err != nil {
			return nil, fmt.Errorf("lds: encode EF.DG2: face %d: %w", i+1, err)
		}
		header := tlv.Encode(tagBHT,
			tlv.Encode(tagBHTVersion, []byte{0x01, 0x01}),
			tlv.Encode(tagBHTType, []byte{0x02}), // face
			tlv.Encode(tagBHTSubtype, []byte{0x00}),
			tlv.Encode(tagBHTOwner, []byte{0x01, 0x01}),
			tlv.Encode(tagBHTFormat, []byte{0x00, 0x08}),
		)
		templates = append(templates, tlv.Encode(tagBIT, header, tlv.Encode(tagBDB, rec)))
	}
	return tlv.Encode(TagDG2, tlv.Encode(tagBIGT, templates...)), nil
}

func encodeFaceRecord(f Face) ([]byte, error) {
	dataType := byte(imageDataJPEG2000)
	switch DetectImageMIME(f.Image) {
	case MIMEJPEG:
		dataType = imageDataJPEG
	case MIMEJP2, MIMEJ2K:
	default:
		return nil, errors.New("image is neither JPEG nor JPEG 2000")
	}
	if f.Width < 0 || f.Width > 0xFFFF || f.Height < 0 || f.Height > 0xFFFF {
		return nil, fmt.Errorf("dimensions %dx%d do not fit the record", f.Width, f.Height)
	}
	for _, v := range []int{f.ImageType, f.ColourSpace} {
		if v < 0 || v > 0xFF {
			return nil, fmt.Errorf("image type or colour space %d out of range", v)
		}
	}
	blockLen := faceInfoLen + imageInfoLen + len(f.Image)
	recordLen := faceGeneralHeaderLen + blockLen
	if uint64(recordLen) > 0xFFFFFFFF {
		return nil, errors.New("image too large")
	}
	rec := make([]byte, 0, recordLen)
	rec = append(rec, faceFormatID...)
	rec = append(rec, faceVersion...)
	rec = binary.BigEndian.AppendUint32(rec, uint32(recordLen))
	rec = binary.BigEndian.AppendUint16(rec, 1)
	// Facial information: length, no feature points, and gender, eye colour, hair
	// colour, property mask, expression, pose angles and their uncertainty all
	// "unspecified" (zero): the chip holds the picture, not claims about it.
	rec = binary.BigEndian.AppendUint32(rec, uint32(blockLen))
	rec = append(rec, make([]byte, faceInfoLen-4)...)
	rec = append(rec, byte(f.ImageType), dataType)
	rec = binary.BigEndian.AppendUint16(rec, uint16(f.Width))
	rec = binary.BigEndian.AppendUint16(rec, uint16(f.Height))
	rec = append(rec, byte(f.ColourSpace), sourceDigitalStill, 0, 0, 0, 0) // device type, quality unspecified
	rec = append(rec, f.Image...)
	return rec, nil
}
