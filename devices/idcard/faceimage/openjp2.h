// Decoding JPEG 2000 from memory with libopenjp2; see openjp2.go.
#ifndef VNKIOSK_FACEIMAGE_OPENJP2_H
#define VNKIOSK_FACEIMAGE_OPENJP2_H

#include <stddef.h>
#include <openjpeg.h>

enum {
	VK_OK = 0,
	VK_ERR_INTERNAL = 1,
	VK_ERR_HEADER = 2,
	VK_ERR_TOO_LARGE = 3,
	VK_ERR_COMPONENTS = 4,
	VK_ERR_DECODE = 5,
};

#define VK_ERRBUF 256

int vk_decode(const unsigned char *data, size_t len, int jp2, unsigned max_dim,
	unsigned max_comps, opj_image_t **out, char *errbuf);
void vk_image_destroy(opj_image_t *img, int wipe);

#endif
