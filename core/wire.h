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
void au_put_u8(struct au_wbuf *w, uint8_t v);
void au_put_u16(struct au_wbuf *w, uint16_t v);
void au_put_u32(struct au_wbuf *w, uint32_t v);
void au_put_u64(struct au_wbuf *w, uint64_t v);
/* A double as its IEEE-754 bits, little-endian (NaNs and -0.0 kept). */
void au_put_f64(struct au_wbuf *w, double v);
void au_put_bytes(struct au_wbuf *w, const void *src, size_t n);

void au_rbuf_init(struct au_rbuf *r, const void *buf, size_t len);
uint8_t au_get_u8(struct au_rbuf *r);
uint16_t au_get_u16(struct au_rbuf *r);
uint32_t au_get_u32(struct au_rbuf *r);
uint64_t au_get_u64(struct au_rbuf *r);
double au_get_f64(struct au_rbuf *r);
void au_get_bytes(struct au_rbuf *r, void *dst, size_t n);

/* CRC-32C (Castagnoli) of `n` bytes, continuing from `crc` (start at 0). */
uint32_t au_crc32c(uint32_t crc, const void *buf, size_t n);

/* Append a CRC-32C of everything written so far. */
void au_wbuf_seal(struct au_wbuf *w);
/* Check and strip a trailing CRC-32C: true if the buffer is at least four
 * bytes long and the checksum matches; then r covers the payload only. */
bool au_rbuf_unseal(struct au_rbuf *r, const void *buf, size_t len);

#endif
