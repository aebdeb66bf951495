package faceimage

/*
#cgo pkg-config: libopenjp2
#include <stdlib.h>
#include "openjp2.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"
)

// decodeOpenJPEG runs libopenjp2 over b in a single cgo call: the Go buffer is
// only borrowed for the duration of that call, as cgo's pointer rules require.
func decodeOpenJPEG(b []byte, jp2 bool) (image.Image, error) {
	if len(b) == 0 {
		return nil, ErrUnsupported
	}
	var errbuf [C.VK_ERRBUF]C.char
	var img *C.opj_image_t
	isJP2 := C.int(0)
	if jp2 {
		isJP2 = 1
	}
	rc := C.vk_decode((*C.uchar)(unsafe.Pointer(&b[0])), C.size_t(len(b)), isJP2,
		C.uint(MaxDimension), C.uint(maxComponents), &img, &errbuf[0])
	switch rc {
	case C.VK_OK:
	case C.VK_ERR_TOO_LARGE:
		return nil, ErrTooLarge
	case C.VK_ERR_COMPONENTS:
		return nil, errors.New("unsupported number of components")
	default:
		msg := C.GoString(&errbuf[0])
		if msg == "" {
			msg = "no detail"
		}
		return nil, fmt.Errorf("libopenjp2 failed (code %d): %s", int(rc), trimNewline(msg))
	}
	defer C.vk_image_destroy(img, 1)

	comps := unsafe.Slice(img.comps, int(img.numcomps))
	planes := make([]plane, len(comps))
	for i, c := range comps {
		if c.data == nil {
			return nil, fmt.Errorf("component %d has no samples", i)
		}
		n := int(c.w) * int(c.h)
		if c.w > MaxDimension || c.h > MaxDimension {
			return nil, ErrTooLarge
		}
		planes[i] = plane{
			// Aliases C memory, read only before vk_image_destroy wipes it.
			samples: unsafe.Slice((*int32)(unsafe.Pointer(c.data)), n),
			w:       int(c.w), h: int(c.h), x0: int(c.x0), y0: int(c.y0),
			dx: int(c.dx), dy: int(c.dy), prec: int(c.prec), signed: c.sgnd != 0,
		}
	}
	return compose(planes, int(img.x0), int(img.y0), int(img.x1-img.x0), int(img.y1-img.y0), int(img.color_space))
}

func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
