/* reclog.c — the record log's codec (see reclog.h). */
#include "reclog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static void grow(struct au_reclog_buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		abort();
	b->p = p;
	b->cap = cap;
}

void au_reclog_buf_free(struct au_reclog_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void au_reclog_put_u8(struct au_reclog_buf *b, uint8_t v)
{
	grow(b, 1);
	b->p[b->len++] = v;
}

void au_reclog_put_uv(struct au_reclog_buf *b, uint64_t v)
{
	grow(b, 10);
	while (v >= 0x80) {
		b->p[b->len++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b->p[b->len++] = (uint8_t)v;
}

void au_reclog_put_sv(struct au_reclog_buf *b, int64_t v)
{
	au_reclog_put_uv(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void au_reclog_put_bytes(struct au_reclog_buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	grow(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void au_reclog_put_blob(struct au_reclog_buf *b, const void *p, size_t n)
{
	au_reclog_put_uv(b, n);
	au_reclog_put_bytes(b, p, n);
}

uint8_t au_reclog_get_u8(struct au_reclog_cur *c)
{
	if (c->bad || c->pos >= c->len) {
		c->bad = true;
		return 0;
	}
	return c->p[c->pos++];
}

uint64_t au_reclog_get_uv(struct au_reclog_cur *c)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (c->bad || c->pos >= c->len)
			break;
		uint8_t byte = c->p[c->pos++];
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

int64_t au_reclog_get_sv(struct au_reclog_cur *c)
{
	uint64_t u = au_reclog_get_uv(c);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

const uint8_t *au_reclog_get_blob(struct au_reclog_cur *c, size_t *n)
{
	uint64_t len = au_reclog_get_uv(c);
	if (c->bad || len > c->len - c->pos) {
		c->bad = true;
		*n = 0;
		return NULL;
	}
	const uint8_t *p = c->p + c->pos;
	c->pos += (size_t)len;
	*n = (size_t)len;
	return p;
}

void au_reclog_digest_op(struct au_reclog_digest *d, uint8_t op, uint32_t svc, uint64_t a, uint64_t b,
			 uint64_t c, const void *bytes, size_t n)
{
	uint8_t f[29];
	f[0] = op;
	for (int i = 0; i < 4; i++)
		f[1 + i] = (uint8_t)(svc >> (8 * i));
	for (int i = 0; i < 8; i++) {
		f[5 + i] = (uint8_t)(a >> (8 * i));
		f[13 + i] = (uint8_t)(b >> (8 * i));
		f[21 + i] = (uint8_t)(c >> (8 * i));
	}
	d->crc = au_crc32c(d->crc, f, sizeof(f));
	if (n)
		d->crc = au_crc32c(d->crc, bytes, n);
	d->ops++;
}

uint64_t au_reclog_digest_value(const struct au_reclog_digest *d)
{
	return ((uint64_t)d->crc << 32) ^ d->ops;
}

void au_reclog_frame(struct au_reclog_buf *out, const void *payload, size_t len)
{
	uint8_t h[AU_RECLOG_FRAME_HDR];
	uint32_t crc = au_crc32c(0, payload, len);
	for (int i = 0; i < 4; i++) {
		h[i] = (uint8_t)(len >> (8 * i));
		h[4 + i] = (uint8_t)(crc >> (8 * i));
	}
	au_reclog_put_bytes(out, h, sizeof(h));
	au_reclog_put_bytes(out, payload, len);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int au_reclog_next_frame(const uint8_t *img, size_t len, size_t off, const uint8_t **payload,
			 size_t *plen, char *why, size_t whylen)
{
	if (off == len)
		return 0;
	if (len - off < AU_RECLOG_FRAME_HDR) {
		snprintf(why, whylen, "truncated frame header (%zu of %u bytes)", len - off, AU_RECLOG_FRAME_HDR);
		return -1;
	}
	uint32_t n = le32(img + off), crc = le32(img + off + 4);
	if (n == 0 || n > AU_RECLOG_FRAME_MAX) {
		snprintf(why, whylen, "bad frame length %u", n);
		return -1;
	}
	if (len - off - AU_RECLOG_FRAME_HDR < n) {
		snprintf(why, whylen, "truncated frame (%zu of %u payload bytes)",
			 len - off - AU_RECLOG_FRAME_HDR, n);
		return -1;
	}
	const uint8_t *p = img + off + AU_RECLOG_FRAME_HDR;
	uint32_t got = au_crc32c(0, p, n);
	if (got != crc) {
		snprintf(why, whylen, "CRC mismatch (stored %08x, computed %08x)", crc, got);
		return -1;
	}
	*payload = p;
	*plen = n;
	return 1;
}

const char *au_reclog_type_name(unsigned type)
{
	static const char *const names[] = {NULL,      "header",  "boot",       "recv", "timer",
					    "persisted", "control", "checkpoint", "stop", "stray"};
	return type < AU_REC_TYPES_ && names[type] ? names[type] : "unknown";
}

const char *au_reclog_answer_name(unsigned tag)
{
	static const char *const names[] = {"end", "now", "read", "size", "write", "trunc", "send", "counts"};
	return tag < sizeof(names) / sizeof(names[0]) ? names[tag] : "unknown";
}
