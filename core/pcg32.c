/* pcg32.c — PCG32 seeding and per-component streams (the draws are inline
 * in pcg32.h). */
#include "pcg32.h"

#include "hash.h"

void au_pcg32_seed(struct au_pcg32 *rng, uint64_t initstate, uint64_t initseq)
{
	rng->state = 0u;
	rng->inc = (initseq << 1u) | 1u;
	(void)au_pcg32_next(rng);
	rng->state += initstate;
	(void)au_pcg32_next(rng);
}

void au_pcg32_stream(struct au_pcg32 *rng, uint64_t run_seed, uint32_t component,
		     uint32_t node)
{
	uint64_t key = ((uint64_t)component << 32) | node;
	uint64_t initstate = au_hash_mix64(run_seed ^ au_hash_mix64(key));
	/* The sequence constant depends on (component, node) only through a
	 * bijection, so two streams never share an increment. */
	uint64_t initseq = au_hash_mix64(key ^ UINT64_C(0x5851f42d4c957f2d)) ^ (run_seed << 1);
	au_pcg32_seed(rng, initstate, initseq);
}
