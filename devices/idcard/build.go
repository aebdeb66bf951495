package idcard

import (
	"fmt"

	"github.com/vnkiosk/kiosk/devices/idcard/faceimage"
	"github.com/vnkiosk/kiosk/devices/idcard/lds"
	"github.com/vnkiosk/kiosk/devices/idcard/mrz"
)

// buildDocument turns the data groups read into a Document. Fields come from DG13
// (the Vietnamese details) and the MRZ in DG1; DG13 wins where both say the same
// thing, since it carries the full name with diacritics.
func buildDocument(files map[int][]byte) (*Document, error) {
	d := &Document{}
	if b, ok := files[1]; ok {
		text, err := lds.ParseDG1(b)
		if err != nil {
			return nil, fmt.Errorf("DG1: %w", err)
		}
		m, err := mrz.Parse(text)
		if err != nil {
			return nil, fmt.Errorf("DG1: %w", err)
		}
		d.MRZ = m.Lines
		d.DocumentNumber = ptr(m.DocumentNumber)
		if id, ok := m.IDNumber(); ok {
			d.IDNumber = ptr(id)
		}
	}
	if b, ok := files[13]; ok {
		g, err := lds.ParseDG13(b)
		if err != nil {
			return nil, fmt.Errorf("DG13: %w", err)
		}
		fromDG13(d, g)
	}
	if b, ok := files[2]; ok {
		faces, err := lds.ParseDG2(b)
		if err != nil {
			return nil, fmt.Errorf("DG2: %w", err)
		}
		if len(faces) > 0 {
			img, err := faceimage.ToJPEG(faces[0].Image)
			if err != nil {
				return nil, fmt.Errorf("DG2 face image: %w", err)
			}
			d.Photo = &Photo{MIME: "image/jpeg", Data: img}
		}
	}
	return d, nil
}

func fromDG13(d *Document, g *lds.DG13) {
	if g.IDNumber != nil {
		d.IDNumber = g.IDNumber
	}
	d.FullName = g.FullName
	d.DateOfBirth = dateString(g.DateOfBirth)
	d.Sex = g.Sex
	d.Nationality = g.Nationality
	d.Ethnicity = g.Ethnicity
	d.Religion = g.Religion
	d.PlaceOfOrigin = g.PlaceOfOrigin
	d.PlaceOfResidence = g.PlaceOfResidence
	d.IdentifyingFeatures = g.IdentifyingFeatures
	d.DateOfIssue = dateString(g.DateOfIssue)
	if e := g.DateOfExpiry; e != nil {
		if e.None {
			d.DateOfExpiry = ptr(NoExpiry)
		} else {
			d.DateOfExpiry = ptr(e.Date.String())
		}
	}
	if p := g.Parents; p != nil {
		d.FatherName, d.MotherName = p.Father, p.Mother
	}
	d.SpouseName = g.Spouse
	d.OldIDNumber = g.OldIDNumber
}

func dateString(p *lds.Date) *string {
	if p == nil {
		return nil
	}
	return ptr(p.String())
}

func ptr(s string) *string { return &s }
