/* digest.h — 64-bit hashes for the state digests that Raft state machines
 * keep so replicas can be compared (raft.h, struct au_raft_machine.digest;
 * the replicas_agree check).
 *
 * A machine's digest is the wrapping sum of one hash per record (a KV pair,
 * a task, a lock, ...), so it is independent of the order records were
 * added in and O(1) to update: subtract a record's hash before changing it,
 * add the new one after.  A sum, not a xor, so two equal records do not
 * cancel out.  The scalars of a machine (counters, next ids) are folded in
 * when the digest is read.  Not a cryptographic hash: it finds replicas
 * that differ by accident, not by design.
 */
#ifndef AU_DIGEST_H
#define AU_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hashes.h"

#define AU_DIGEST_P1 UINT64_C(0x9e3779b185ebca87)
#define AU_DIGEST_P2 UINT64_C(0xc2b2ae3d27d4eb4f)

/* Fold one value into a running record hash: h = au_digest_add(h, field).
 * One mix per field; the odd multiplier and the constant make the step a
 * bijection of v that moves 0 too, so no field value leaves h as it was. */
static inline uint64_t au_digest_add(uint64_t h, uint64_t v)
{
	return au_hash_mix64(h ^ (v * AU_DIGEST_P2 + AU_DIGEST_P1));
}

/* Bulk hashing: four independent lanes (as in xxHash64), so long blobs and
 * vectors cost about a cycle or two per 8 bytes rather than a dependent
 * chain of multiplies per word; the lanes are mixed together at the end.
 * Blobs shorter than 32 bytes take the plain chain (fewer mixes). */
static inline uint64_t au_digest_lane(uint64_t acc, uint64_t w)
{
	acc += w * AU_DIGEST_P2;
	acc = (acc << 31) | (acc >> 33);
	return acc * AU_DIGEST_P1;
}

struct au_digest_lanes {
	uint64_t v[4];
	uint64_t n; /* words fed */
};

static inline void au_digest_lanes_init(struct au_digest_lanes *l, uint64_t seed, uint64_t len)
{
	uint64_t s = au_digest_add(seed, len);
	l->v[0] = s + AU_DIGEST_P1;
	l->v[1] = s ^ AU_DIGEST_P2;
	l->v[2] = s;
	l->v[3] = s - AU_DIGEST_P1;
	l->n = 0;
}

static inline void au_digest_lanes_feed(struct au_digest_lanes *l, uint64_t w)
{
	l->v[l->n & 3] = au_digest_lane(l->v[l->n & 3], w);
	l->n++;
}

static inline uint64_t au_digest_lanes_end(const struct au_digest_lanes *l)
{
	uint64_t h = au_digest_add(l->v[0], l->v[1]);
	h = au_digest_add(h, l->v[2]);
	return au_digest_add(h, l->v[3]);
}

/* Hash of `n` bytes (little-endian 8-byte words, then the tail), seeded.
 * The length is folded in, so a blob and its zero-padded extension differ. */
static inline uint64_t au_digest_bytes(uint64_t seed, const void *p, size_t n)
{
	const uint8_t *b = p;
	if (n < 32) {
		uint64_t h = au_digest_add(seed, (uint64_t)n);
		for (size_t i = 0; i < n; i += 8) {
			uint64_t w = 0;
			for (size_t k = 0; k < 8 && i + k < n; k++)
				w |= (uint64_t)b[i + k] << (8 * k);
			h = au_digest_add(h, w);
		}
		return h;
	}
	struct au_digest_lanes l;
	au_digest_lanes_init(&l, seed, (uint64_t)n);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w = 0;
		for (int k = 0; k < 8; k++)
			w |= (uint64_t)b[i + k] << (8 * k);
		au_digest_lanes_feed(&l, w);
	}
	if (i < n) {
		uint64_t w = 0;
		for (int k = 0; i + (size_t)k < n; k++)
			w |= (uint64_t)b[i + k] << (8 * k);
		au_digest_lanes_feed(&l, w);
	}
	return au_digest_lanes_end(&l);
}

/* Hash of `n` doubles by their IEEE bits (so -0.0, 0.0 and NaNs differ). */
static inline uint64_t au_digest_f64s(uint64_t seed, const double *v, size_t n)
{
	struct au_digest_lanes l;
	au_digest_lanes_init(&l, seed, (uint64_t)n);
	size_t i = 0;
	/* four at a time, so the lanes are independent for the compiler too */
	for (; i + 4 <= n; i += 4) {
		uint64_t w[4];
		memcpy(w, &v[i], sizeof(w));
		for (int k = 0; k < 4; k++)
			l.v[k] = au_digest_lane(l.v[k], w[k]);
	}
	l.n = i;
	for (; i < n; i++) {
		uint64_t w;
		memcpy(&w, &v[i], sizeof(w));
		au_digest_lanes_feed(&l, w);
	}
	return au_digest_lanes_end(&l);
}

#endif
