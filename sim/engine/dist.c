/* dist.c — drawing durations from the scenario's distributions with the
 * engine's PCG32 streams (the math is core/dist.c, shared with models). */
#include "sim_internal.h"

static uint32_t pcg_word(void *ctx)
{
	return au_pcg32_next(ctx);
}

au_time au_dist_sample(const struct au_dist *d, struct au_pcg32 *rng)
{
	return au_dist_draw(d, pcg_word, rng);
}
