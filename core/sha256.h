/* sha256.h — SHA-256, with the x86 SHA extensions when the CPU has them
 * (the same digest as GLib's G_CHECKSUM_SHA256, several times faster).
 * In core/ so both the engine (the trace hash, taken over every record of
 * every run) and the models (kernel output digests, job input keys, blob
 * digests) use one implementation; aureon-node links it without the
 * engine. */
#ifndef AU_SHA256_H
#define AU_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct au_sha256 {
	uint32_t h[8];
	uint64_t bytes; /* hashed so far */
	uint8_t buf[64];
	uint32_t fill;
};

void au_sha256_init(struct au_sha256 *s);
void au_sha256_update(struct au_sha256 *s, const void *data, size_t len);
/* The digest of what was hashed so far; `s` is left as it was. */
void au_sha256_digest(const struct au_sha256 *s, uint8_t out[32]);
/* The same as 64 lowercase hex digits and a NUL. */
void au_sha256_hex(const struct au_sha256 *s, char out[65]);
/* Whether the hardware path is in use; `portable` true forces the C one
 * (tests run both). */
bool au_sha256_accelerated(void);
void au_sha256_force_portable(bool portable);
/* One-shot: the digest of `len` bytes at `data` into `out`. */
void au_sha256(const void *data, size_t len, uint8_t out[32]);

#endif
