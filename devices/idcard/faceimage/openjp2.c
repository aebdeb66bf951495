// Decoding JPEG 2000 from memory with libopenjp2. The photo is personal data: it
// is read from the caller's buffer through stream callbacks, never a temporary
// file, and the decoded samples are wiped before the image is freed.
#include <string.h>
#include "openjp2.h"

typedef struct {
	const OPJ_BYTE *data;
	OPJ_SIZE_T len;
	OPJ_SIZE_T pos;
} memstream;

static OPJ_SIZE_T ms_read(void *buf, OPJ_SIZE_T n, void *user) {
	memstream *s = user;
	if (s->pos >= s->len) {
		return (OPJ_SIZE_T)-1; // end of stream, as libopenjp2 expects
	}
	OPJ_SIZE_T left = s->len - s->pos;
	if (n > left) {
		n = left;
	}
	memcpy(buf, s->data + s->pos, n);
	s->pos += n;
	return n;
}

static OPJ_OFF_T ms_skip(OPJ_OFF_T n, void *user) {
	memstream *s = user;
	if (n < 0) {
		if ((OPJ_UINT64)(-n) > s->pos) {
			return -1;
		}
		s->pos -= (OPJ_SIZE_T)(-n);
		return n;
	}
	if ((OPJ_UINT64)n > s->len - s->pos) {
		s->pos = s->len;
		return -1;
	}
	s->pos += (OPJ_SIZE_T)n;
	return n;
}

static OPJ_BOOL ms_seek(OPJ_OFF_T n, void *user) {
	memstream *s = user;
	if (n < 0 || (OPJ_UINT64)n > s->len) {
		return OPJ_FALSE;
	}
	s->pos = (OPJ_SIZE_T)n;
	return OPJ_TRUE;
}

// on_error keeps the library's first error message for the Go error. The
// messages describe the codestream, not the picture.
static void on_error(const char *msg, void *user) {
	char *buf = user;
	if (buf[0] == 0 && msg != NULL) {
		strncpy(buf, msg, VK_ERRBUF - 1);
		buf[VK_ERRBUF - 1] = 0;
	}
}

static void quiet(const char *msg, void *user) {
	(void)msg;
	(void)user;
}

int vk_decode(const unsigned char *data, size_t len, int jp2, unsigned max_dim,
	unsigned max_comps, opj_image_t **out, char *errbuf) {
	*out = NULL;
	errbuf[0] = 0;
	memstream ms = {data, len, 0};
	opj_codec_t *codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
	if (codec == NULL) {
		return VK_ERR_INTERNAL;
	}
	opj_set_error_handler(codec, on_error, errbuf);
	opj_set_warning_handler(codec, quiet, NULL);
	opj_set_info_handler(codec, quiet, NULL);
	opj_dparameters_t params;
	opj_set_default_decoder_parameters(&params);
	if (!opj_setup_decoder(codec, &params)) {
		opj_destroy_codec(codec);
		return VK_ERR_INTERNAL;
	}
	opj_stream_t *st = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
	if (st == NULL) {
		opj_destroy_codec(codec);
		return VK_ERR_INTERNAL;
	}
	opj_stream_set_user_data(st, &ms, NULL);
	opj_stream_set_user_data_length(st, len);
	opj_stream_set_read_function(st, ms_read);
	opj_stream_set_skip_function(st, ms_skip);
	opj_stream_set_seek_function(st, ms_seek);

	opj_image_t *img = NULL;
	int rc = VK_OK;
	if (!opj_read_header(st, codec, &img) || img == NULL) {
		rc = VK_ERR_HEADER;
	} else if (img->x1 <= img->x0 || img->y1 <= img->y0 ||
		img->x1 - img->x0 > max_dim || img->y1 - img->y0 > max_dim) {
		// Checked before opj_decode allocates the sample buffers.
		rc = VK_ERR_TOO_LARGE;
	} else if (img->numcomps == 0 || img->numcomps > max_comps) {
		rc = VK_ERR_COMPONENTS;
	} else if (!opj_decode(codec, st, img) || !opj_end_decompress(codec, st)) {
		rc = VK_ERR_DECODE;
	}
	opj_stream_destroy(st);
	opj_destroy_codec(codec);
	if (rc != VK_OK) {
		vk_image_destroy(img, 0);
		return rc;
	}
	*out = img;
	return VK_OK;
}

// vk_image_destroy frees img, first zeroing the samples when wipe is set (only
// after a successful decode, when every component holds w*h samples).
void vk_image_destroy(opj_image_t *img, int wipe) {
	if (img == NULL) {
		return;
	}
	if (wipe) {
		for (OPJ_UINT32 i = 0; i < img->numcomps; i++) {
			opj_image_comp_t *c = &img->comps[i];
			if (c->data != NULL) {
				memset(c->data, 0, (size_t)c->w * c->h * sizeof(OPJ_INT32));
			}
		}
	}
	opj_image_destroy(img);
}
