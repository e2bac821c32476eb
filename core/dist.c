/* dist.c — drawing durations from distributions (see dist.h). */
#include "dist.h"

#include <math.h>

/* Uniform double in [0, 1) with 53 random bits (as au_pcg32_unit). */
static double unit(au_dist_word_fn next, void *ctx)
{
	uint64_t hi = next(ctx) >> 5; /* 27 bits */
	uint64_t lo = next(ctx) >> 6; /* 26 bits */
	return (double)((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

/* A standard normal deviate (Box–Muller; uses exactly two units). */
static double std_normal(au_dist_word_fn next, void *ctx)
{
	double u1 = 1.0 - unit(next, ctx); /* (0, 1] */
	double u2 = unit(next, ctx);
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Round a non-negative double of nanoseconds, truncating negatives at 0 and
 * saturating absurdly large draws. */
static au_time to_ns(double x)
{
	if (!(x > 0.0))
		return 0;
	if (x > 9.0e18)
		return INT64_C(9000000000000000000);
	return (au_time)(x + 0.5);
}

au_time au_dist_draw(const struct au_dist *d, au_dist_word_fn next, void *ctx)
{
	switch (d->kind) {
	case AU_DIST_CONST:
		return d->p1;
	case AU_DIST_UNIFORM: {
		uint64_t span = (uint64_t)(d->p2 - d->p1);
		if (span == 0)
			return d->p1;
		uint64_t hi = next(ctx); /* the first word is the high half */
		return au_dist_uniform_at(d, hi << 32 | next(ctx));
	}
	case AU_DIST_NORMAL:
		return to_ns((double)d->p1 + (double)d->p2 * std_normal(next, ctx));
	case AU_DIST_LOGNORMAL:
		return to_ns(exp(d->mu + d->sigma * std_normal(next, ctx)));
	case AU_DIST_EXPONENTIAL: {
		double u = 1.0 - unit(next, ctx);
		return d->shift + to_ns(-(double)d->p1 * log(u));
	}
	}
	return d->p1;
}

static uint32_t env_word(void *ctx)
{
	return au_random((const struct au_env *)ctx);
}

au_time au_dist_draw_env(const struct au_dist *d, const struct au_env *env)
{
	return au_dist_draw(d, env_word, (void *)env);
}
