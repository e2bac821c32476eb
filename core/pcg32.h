/* pcg32.h — the PCG32 random number generator (O'Neill, 2014:
 * pcg32_random_r, XSH-RR output over a 64-bit LCG) and the derivation of
 * independent streams per (component, node) from a run seed.  Used by the
 * simulator and the shim; the only source of randomness in Aureon.
 */
#ifndef AU_PCG32_H
#define AU_PCG32_H

#include <stdint.h>

struct au_pcg32 {
	uint64_t state;
	uint64_t inc; /* always odd: selects the stream */
};

/* Components that own streams.  Appending a component never changes the
 * streams of the others. */
enum au_stream_component {
	AU_STREAM_NET = 1,      /* per sender node: latency, loss, ... */
	AU_STREAM_DISK = 2,     /* per node: sync latency, torn writes */
	AU_STREAM_FAULT = 3,    /* node 0: fault targets (random) */
	AU_STREAM_WORKLOAD = 4, /* per client */
	AU_STREAM_CHAOS = 5,    /* node 0: chaos fault plans */
	AU_STREAM_SERVICE = 64, /* + service index: per node model stream */
};

/* Seed a generator: the published pcg32_srandom_r(initstate, initseq). */
void au_pcg32_seed(struct au_pcg32 *rng, uint64_t initstate, uint64_t initseq);

/* Next 32-bit output (pcg32_random_r). */
static inline uint32_t au_pcg32_next(struct au_pcg32 *rng)
{
	uint64_t old = rng->state;
	rng->state = old * UINT64_C(6364136223846793005) + rng->inc;
	uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
	uint32_t rot = (uint32_t)(old >> 59u);
	return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

/* Unbiased draw in [0, bound), bound > 0 (pcg32_boundedrand_r).  Inline:
 * with a constant bound (R-MAT's 100 per level) both divisions become
 * multiplications. */
static inline uint32_t au_pcg32_below(struct au_pcg32 *rng, uint32_t bound)
{
	/* Reject the low (2^32 mod bound) outputs so every residue is equally
	 * likely. */
	uint32_t threshold = (uint32_t)(-bound) % bound;
	for (;;) {
		uint32_t r = au_pcg32_next(rng);
		if (r >= threshold)
			return r % bound;
	}
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double au_pcg32_unit(struct au_pcg32 *rng)
{
	uint64_t hi = au_pcg32_next(rng) >> 5; /* 27 bits */
	uint64_t lo = au_pcg32_next(rng) >> 6; /* 26 bits */
	return (double)((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

/* The stream of (component, node) under `run_seed`: a pure function of the
 * three, so adding nodes, services or workloads shifts no other stream. */
void au_pcg32_stream(struct au_pcg32 *rng, uint64_t run_seed, uint32_t component,
		     uint32_t node);

#endif
