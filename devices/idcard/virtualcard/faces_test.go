package virtualcard

import (
	"bytes"
	"flag"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vnkiosk/kiosk/devices/idcard/lds"
)

// The sample citizens' face images are synthetic portraits drawn by this file.
// They are committed under profiles/ because image/jpeg's output may change
// between Go releases; regenerate them with
//
//	go test ./devices/idcard/virtualcard -run TestSampleFaces -update
//
// Each is 480×600, JPEG quality 85, with a film-grain texture whose strength is
// searched so that the file lands near 18 KB, the size of a real ICAO face image
// that the read benchmarks need.
var update = flag.Bool("update", false, "rewrite the sample face images under profiles/")

const (
	faceWidth    = 480
	faceHeight   = 600
	faceQuality  = 85
	faceTarget   = 18 * 1024
	faceSlack    = 1024 // accepted distance from faceTarget
	faceMinBytes = faceTarget - faceSlack
	faceMaxBytes = faceTarget + faceSlack
)

// faceStyle is what tells the portraits apart.
type faceStyle struct {
	skin, hair, clothes, background color.RGBA
	longHair                        bool
	glasses                         bool
	age                             float64 // 0 young .. 1 old: wrinkles and a higher hairline
}

var faceStyles = map[string]faceStyle{
	"nguyen-van-an": {
		skin: color.RGBA{224, 182, 150, 255}, hair: color.RGBA{28, 24, 22, 255},
		clothes: color.RGBA{40, 60, 110, 255}, background: color.RGBA{226, 232, 240, 255},
	},
	"tran-thi-mai": {
		skin: color.RGBA{236, 196, 168, 255}, hair: color.RGBA{20, 16, 16, 255},
		clothes: color.RGBA{235, 235, 235, 255}, background: color.RGBA{214, 226, 242, 255},
		longHair: true,
	},
	"nguyen-thi-hoa": {
		skin: color.RGBA{230, 188, 158, 255}, hair: color.RGBA{48, 32, 26, 255},
		clothes: color.RGBA{250, 250, 252, 255}, background: color.RGBA{220, 236, 228, 255},
		age: 0.3,
	},
	"le-van-thanh": {
		skin: color.RGBA{206, 160, 126, 255}, hair: color.RGBA{200, 200, 196, 255},
		clothes: color.RGBA{90, 80, 70, 255}, background: color.RGBA{232, 232, 232, 255},
		glasses: true, age: 1,
	},
}

// drawFace paints a stylised head-and-shoulders portrait, with grain of the given
// strength (standard deviation in grey levels).
func drawFace(seed string, st faceStyle, grain float64) *image.RGBA {
	h := fnv.New64a()
	h.Write([]byte(seed))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x5eed))
	img := image.NewRGBA(image.Rect(0, 0, faceWidth, faceHeight))
	const cx = faceWidth / 2
	inEllipse := func(x, y, ex, ey, rx, ry float64) float64 { // <1 inside
		dx, dy := (x-ex)/rx, (y-ey)/ry
		return dx*dx + dy*dy
	}
	mix := func(a, b color.RGBA, t float64) [3]float64 {
		t = math.Max(0, math.Min(1, t))
		return [3]float64{
			float64(a.R)*(1-t) + float64(b.R)*t,
			float64(a.G)*(1-t) + float64(b.G)*t,
			float64(a.B)*(1-t) + float64(b.B)*t,
		}
	}
	scale := func(c [3]float64, f float64) [3]float64 { return [3]float64{c[0] * f, c[1] * f, c[2] * f} }
	lips := color.RGBA{170, 90, 90, 255}
	white := color.RGBA{245, 245, 240, 255}
	iris := color.RGBA{45, 30, 25, 255}
	buf := make([][3]float64, faceWidth*faceHeight)
	for y := 0; y < faceHeight; y++ {
		for x := 0; x < faceWidth; x++ {
			fx, fy := float64(x), float64(y)
			// Background: a soft vertical gradient.
			c := mix(st.background, color.RGBA{255, 255, 255, 255}, 0.3-0.3*fy/faceHeight)
			// Long hair falls behind the neck and shoulders.
			if st.longHair && inEllipse(fx, fy, cx, 300, 150, 220) < 1 && fy > 200 && fy < 480 {
				c = mix(st.hair, white, 0.1+0.08*math.Sin(fx*0.15))
			}
			// Neck, down into the collar.
			if math.Abs(fx-cx) < 52 && fy > 360 {
				c = mix(st.skin, color.RGBA{0, 0, 0, 255}, 0.18+0.1*math.Abs(fx-cx)/52)
			}
			// Shoulders and clothes with a woven texture, open in a V at the neck.
			if d := inEllipse(fx, fy, cx, 680, 260, 200); d < 1 && math.Abs(fx-cx) >= (600-fy)*0.45 {
				weave := 0.03 * math.Sin(fx*0.3) * math.Sin(fy*0.3)
				c = scale(mix(st.clothes, color.RGBA{0, 0, 0, 255}, 0.25*d), 1+weave)
			}
			// Ears.
			for _, ex := range []float64{cx - 118, cx + 118} {
				if inEllipse(fx, fy, ex, 275, 20, 36) < 1 {
					c = mix(st.skin, color.RGBA{0, 0, 0, 255}, 0.15)
				}
			}
			// Head, shaded towards the edges.
			if d := inEllipse(fx, fy, cx, 255, 118, 150); d < 1 {
				c = mix(st.skin, color.RGBA{80, 40, 30, 255}, 0.35*d*d)
				if st.age > 0 && fy > 160 && fy < 200 && math.Mod(fy, 9) < 1.2 && math.Abs(fx-cx) < 60 {
					c = scale(c, 0.9) // forehead lines
				}
				// Eyes, brows, glasses, nose, mouth.
				for _, ex := range []float64{cx - 45, cx + 45} {
					if inEllipse(fx, fy, ex, 245, 24, 10) < 1 {
						c = mix(white, iris, 0)
						if inEllipse(fx, fy, ex, 245, 9, 9) < 1 {
							c = mix(iris, color.RGBA{0, 0, 0, 255}, 0.3)
						}
					}
					if inEllipse(fx, fy, ex, 220, 30, 6) < 1 && fy < 222 {
						c = mix(st.hair, st.skin, 0.2)
					}
					if st.glasses {
						r := math.Sqrt(inEllipse(fx, fy, ex, 245, 36, 28))
						if r > 0.93 && r < 1.04 {
							c = [3]float64{60, 55, 50}
						}
					}
					if st.age > 0 && inEllipse(fx, fy, ex, 268, 22, 6) < 1 && inEllipse(fx, fy, ex, 266, 22, 6) >= 1 {
						c = scale(c, 0.88) // bags under the eyes
					}
				}
				if st.glasses && math.Abs(fx-cx) < 9 && math.Abs(fy-242) < 2 {
					c = [3]float64{60, 55, 50}
				}
				if math.Abs(fx-cx-6) < 3 && fy > 250 && fy < 305 {
					c = scale(c, 0.9)
				}
				if inEllipse(fx, fy, cx, 312, 22, 8) < 1 {
					c = mix(st.skin, color.RGBA{0, 0, 0, 255}, 0.2)
				}
				if inEllipse(fx, fy, cx, 345, 38, 11) < 1 {
					c = mix(lips, color.RGBA{0, 0, 0, 255}, 0.25*math.Abs(fy-345)/11)
				}
			}
			// Hair: the top of a larger ellipse, above a hairline that rises with age,
			// and down the temples to the ears.
			hairline := 175 - 25*st.age - 18*math.Cos((fx-cx)/118*math.Pi/2)
			if inEllipse(fx, fy, cx, 240, 128, 165) < 1 && (fy < hairline || (math.Abs(fx-cx) > 95 && fy < 250)) {
				c = mix(st.hair, white, 0.12+0.1*math.Sin(fx*0.2+fy*0.03))
			}
			buf[y*faceWidth+x] = c
		}
	}
	// Soften the drawn edges as a lens would (two 3×3 box blurs), then add grain.
	for range 2 {
		buf = boxBlur(buf)
	}
	for y := 0; y < faceHeight; y++ {
		for x := 0; x < faceWidth; x++ {
			c := buf[y*faceWidth+x]
			n := rng.NormFloat64() * grain
			px := img.PixOffset(x, y)
			for i := 0; i < 3; i++ {
				img.Pix[px+i] = uint8(math.Max(0, math.Min(255, c[i]+n)))
			}
			img.Pix[px+3] = 255
		}
	}
	return img
}

// boxBlur averages each pixel with its 3×3 neighbourhood, clamped at the edges.
func boxBlur(in [][3]float64) [][3]float64 {
	out := make([][3]float64, len(in))
	for y := 0; y < faceHeight; y++ {
		for x := 0; x < faceWidth; x++ {
			var sum [3]float64
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := min(max(x+dx, 0), faceWidth-1), min(max(y+dy, 0), faceHeight-1)
					for i, v := range in[yy*faceWidth+xx] {
						sum[i] += v
					}
				}
			}
			out[y*faceWidth+x] = [3]float64{sum[0] / 9, sum[1] / 9, sum[2] / 9}
		}
	}
	return out
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: faceQuality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// makeFace searches the grain strength that puts the JPEG closest to faceTarget.
func makeFace(t *testing.T, name string, st faceStyle) []byte {
	lo, hi := 0.0, 40.0
	var best []byte
	for range 20 {
		g := (lo + hi) / 2
		b := encodeJPEG(t, drawFace(name, st, g))
		if best == nil || abs(len(b)-faceTarget) < abs(len(best)-faceTarget) {
			best = b
		}
		if len(b) < faceTarget {
			lo = g
		} else {
			hi = g
		}
	}
	return best
}

func abs(n int) int { return max(n, -n) }

func TestSampleFaces(t *testing.T) {
	for name, st := range faceStyles {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join("profiles", name+".jpg")
			if *update {
				if err := os.WriteFile(file, makeFace(t, name, st), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to draw it)", err)
			}
			if len(b) < faceMinBytes || len(b) > faceMaxBytes {
				t.Errorf("%s is %d bytes, want %d±%d", file, len(b), faceTarget, faceSlack)
			}
			f, err := lds.FaceFromJPEG(b)
			if err != nil {
				t.Fatal(err)
			}
			if f.Width != faceWidth || f.Height != faceHeight || f.ColourSpace != lds.ColourSpaceRGB24 {
				t.Errorf("%s: %dx%d colour space %d, want %dx%d RGB", file, f.Width, f.Height, f.ColourSpace, faceWidth, faceHeight)
			}
		})
	}
}
