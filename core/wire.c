/* wire.c — little-endian cursors and CRC-32C. */
#include "wire.h"

#include <string.h>

void au_wbuf_init(struct au_wbuf *w, void *buf, size_t cap)
{
	w->p = buf;
	w->len = 0;
	w->cap = cap;
	w->overflow = false;
}

void au_put_f64(struct au_wbuf *w, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	au_put_u64(w, bits);
}

void au_put_bytes(struct au_wbuf *w, const void *src, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	if (n)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

void au_rbuf_init(struct au_rbuf *r, const void *buf, size_t len)
{
	r->p = buf;
	r->len = len;
	r->pos = 0;
	r->short_read = false;
}

double au_get_f64(struct au_rbuf *r)
{
	uint64_t bits = au_get_u64(r);
	double v;
	memcpy(&v, &bits, sizeof(v));
	return v;
}

void au_get_bytes(struct au_rbuf *r, void *dst, size_t n)
{
	if (r->short_read || r->len - r->pos < n) {
		r->short_read = true;
		memset(dst, 0, n);
		return;
	}
	if (n)
		memcpy(dst, r->p + r->pos, n);
	r->pos += n;
}

/* Table for the reflected Castagnoli polynomial 0x82F63B78, built on first
 * use (a pure function of the constant, so it is deterministic). */
static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_table_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
	crc_table_ready = 1;
}

static uint32_t crc32c_table(uint32_t crc, const uint8_t *p, size_t n)
{
	if (!crc_table_ready)
		crc_table_build();
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
/* The SSE4.2 crc32 instruction computes the same CRC-32C, ~20x faster;
 * chosen at run time, so results never depend on the machine. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
							   size_t n)
{
	uint64_t c = crc;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		n -= 8;
	}
	crc = (uint32_t)c;
	while (n--)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}
#endif

uint32_t au_crc32c_portable(uint32_t crc, const void *buf, size_t n)
{
	return ~crc32c_table(~crc, buf, n);
}

uint32_t au_crc32c(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
#if defined(__x86_64__)
	static int hw = -1;
	if (hw < 0)
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	if (hw)
		return ~crc32c_hw(~crc, p, n);
#endif
	return au_crc32c_portable(crc, p, n);
}

void au_wbuf_seal(struct au_wbuf *w)
{
	if (w->overflow)
		return;
	au_put_u32(w, au_crc32c(0, w->p, w->len));
}

bool au_rbuf_unseal(struct au_rbuf *r, const void *buf, size_t len)
{
	au_rbuf_init(r, buf, 0);
	if (len < 4)
		return false;
	const uint8_t *p = buf;
	uint32_t want = (uint32_t)p[len - 4] | (uint32_t)p[len - 3] << 8 |
			(uint32_t)p[len - 2] << 16 | (uint32_t)p[len - 1] << 24;
	if (au_crc32c(0, buf, len - 4) != want)
		return false;
	au_rbuf_init(r, buf, len - 4);
	return true;
}
