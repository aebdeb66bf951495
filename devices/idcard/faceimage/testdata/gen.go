//go:build ignore

// gen writes the source images from which the JPEG 2000 test files are made; see
// README.md. The pictures are synthetic colour blocks, not faces.
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
)

const w, h = 64, 80

// quadrant colours, top-left, top-right, bottom-left, bottom-right.
var colours = [4]color.RGBA{
	{220, 30, 30, 255}, {30, 200, 60, 255}, {40, 60, 210, 255}, {200, 200, 200, 255},
}

var greys = [4]uint8{40, 100, 160, 220}

func quadrant(x, y int) int {
	q := 0
	if x >= w/2 {
		q++
	}
	if y >= h/2 {
		q += 2
	}
	return q
}

func main() {
	rgb := image.NewRGBA(image.Rect(0, 0, w, h))
	grey := image.NewGray(image.Rect(0, 0, w, h))
	// Planar 8-bit YCbCr 4:2:0, for the raw-input route of opj_compress.
	yuv := make([]byte, 0, w*h*3/2)
	cb := make([]byte, 0, w*h/4)
	cr := make([]byte, 0, w*h/4)
	for y := range h {
		for x := range w {
			c := colours[quadrant(x, y)]
			rgb.Set(x, y, c)
			grey.SetGray(x, y, color.Gray{greys[quadrant(x, y)]})
			yy, _, _ := color.RGBToYCbCr(c.R, c.G, c.B)
			yuv = append(yuv, yy)
			if x%2 == 0 && y%2 == 0 {
				_, u, v := color.RGBToYCbCr(c.R, c.G, c.B)
				cb, cr = append(cb, u), append(cr, v)
			}
		}
	}
	yuv = append(append(yuv, cb...), cr...)
	for name, m := range map[string]image.Image{"face.png": rgb, "face-grey.png": grey} {
		f, err := os.Create(name)
		if err != nil {
			log.Fatal(err)
		}
		if err := png.Encode(f, m); err != nil {
			log.Fatal(err)
		}
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
	}
	if err := os.WriteFile("face-420.yuv", yuv, 0o644); err != nil {
		log.Fatal(err)
	}
}
