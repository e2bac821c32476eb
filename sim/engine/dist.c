/* dist.c — drawing durations from the scenario's distributions with the
 * engine's PCG32 streams (the math is core/dist.c, shared with models). */
#include "sim_internal.h"

static uint32_t pcg_word(void *ctx)
{
	return au_pcg32_next(ctx);
}

/* Constant and uniform (network latency, disk times: one draw per message
 * and per sync) draw with the inline PCG32 step, not through pcg_word;
 * the same words, in the same order, and the same math as au_dist_draw
 * (tests/test_sim.c compares them). */
au_time au_dist_sample(const struct au_dist *d, struct au_pcg32 *rng)
{
	if (d->kind == AU_DIST_CONST)
		return d->p1;
	if (d->kind == AU_DIST_UNIFORM) {
		uint64_t span = (uint64_t)(d->p2 - d->p1);
		if (span == 0)
			return d->p1;
		uint64_t hi = au_pcg32_next(rng);
		return au_dist_uniform_at(d, hi << 32 | au_pcg32_next(rng));
	}
	return au_dist_draw(d, pcg_word, rng);
}
