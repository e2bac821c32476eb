/* wire.c — little-endian cursors (CRC-32C and sealing: crc32c.c). */
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
