/* wire.h — explicit little-endian encoding and length-checked decoding for
 * messages and on-disk records, plus CRC-32C checksums.  Models encode
 * every message with these so the bytes are the same on any host and a
 * truncated or corrupted message is detected, counted and dropped.
 */
#ifndef AU_WIRE_H
#define AU_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A write cursor over a caller-owned buffer.  Writes past the end set
 * `overflow` instead of writing. */
struct au_wbuf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

/* A read cursor.  Reads past the end set `short_read` and yield zeros. */
struct au_rbuf {
	const uint8_t *p;
	size_t len, pos;
	bool short_read;
};

void au_wbuf_init(struct au_wbuf *w, void *buf, size_t cap);
/* A double as its IEEE-754 bits, little-endian (NaNs and -0.0 kept). */
void au_put_f64(struct au_wbuf *w, double v);
void au_put_bytes(struct au_wbuf *w, const void *src, size_t n);

/* Read len bytes at buf from the start.  Inline: every message received
 * and every record read starts with it. */
static inline void au_rbuf_init(struct au_rbuf *r, const void *buf, size_t len)
{
	*r = (struct au_rbuf){.p = buf, .len = len, .pos = 0, .short_read = false};
}
double au_get_f64(struct au_rbuf *r);
void au_get_bytes(struct au_rbuf *r, void *dst, size_t n);

/* The fixed-width integers are inline: models encode and decode every
 * message and record field with them, and an out-of-line call with a
 * byte loop cost ~8 % of a chaos-raft seed.  On a little-endian host the
 * value is stored as is (one unaligned move); elsewhere byte by byte.
 * Same bytes either way. */
static inline void au_wire_put_le(struct au_wbuf *w, uint64_t v, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	uint8_t *d = w->p + w->len;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(d, &v, n);
#else
	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)(v >> (8 * i));
#endif
	w->len += n;
}

static inline uint64_t au_wire_get_le(struct au_rbuf *r, size_t n)
{
	if (r->short_read || r->len - r->pos < n) {
		r->short_read = true;
		return 0;
	}
	const uint8_t *s = r->p + r->pos;
	uint64_t v = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(&v, s, n);
#else
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)s[i] << (8 * i);
#endif
	r->pos += n;
	return v;
}

static inline void au_put_u8(struct au_wbuf *w, uint8_t v) { au_wire_put_le(w, v, 1); }
static inline void au_put_u16(struct au_wbuf *w, uint16_t v) { au_wire_put_le(w, v, 2); }
static inline void au_put_u32(struct au_wbuf *w, uint32_t v) { au_wire_put_le(w, v, 4); }
static inline void au_put_u64(struct au_wbuf *w, uint64_t v) { au_wire_put_le(w, v, 8); }
static inline uint8_t au_get_u8(struct au_rbuf *r) { return (uint8_t)au_wire_get_le(r, 1); }
static inline uint16_t au_get_u16(struct au_rbuf *r) { return (uint16_t)au_wire_get_le(r, 2); }
static inline uint32_t au_get_u32(struct au_rbuf *r) { return (uint32_t)au_wire_get_le(r, 4); }
static inline uint64_t au_get_u64(struct au_rbuf *r) { return au_wire_get_le(r, 8); }

/* CRC-32C (Castagnoli) of `n` bytes, continuing from `crc` (start at 0). */
uint32_t au_crc32c(uint32_t crc, const void *buf, size_t n);
/* The same CRC by table, whatever the CPU (au_crc32c uses the SSE4.2
 * instruction where the CPU has it): for the test that both agree. */
uint32_t au_crc32c_portable(uint32_t crc, const void *buf, size_t n);

/* Append a CRC-32C of everything written so far. */
void au_wbuf_seal(struct au_wbuf *w);
/* Check and strip a trailing CRC-32C: true if the buffer is at least four
 * bytes long and the checksum matches; then r covers the payload only. */
bool au_rbuf_unseal(struct au_rbuf *r, const void *buf, size_t len);

#endif
