/* dist.c — drawing durations from the scenario's distributions. */
#include <math.h>

#include "sim_internal.h"

/* A standard normal deviate (Box–Muller; uses exactly two draws). */
static double std_normal(struct au_pcg32 *rng)
{
	double u1 = 1.0 - au_pcg32_unit(rng); /* (0, 1] */
	double u2 = au_pcg32_unit(rng);
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

au_time au_dist_sample(const struct au_dist *d, struct au_pcg32 *rng)
{
	switch (d->kind) {
	case AU_DIST_CONST:
		return d->p1;
	case AU_DIST_UNIFORM: {
		uint64_t span = (uint64_t)(d->p2 - d->p1);
		if (span == 0)
			return d->p1;
		uint64_t r = ((uint64_t)au_pcg32_next(rng) << 32) | au_pcg32_next(rng);
		return d->p1 + (au_time)(r % (span + 1));
	}
	case AU_DIST_NORMAL:
		return to_ns((double)d->p1 + (double)d->p2 * std_normal(rng));
	case AU_DIST_LOGNORMAL:
		return to_ns(exp(d->mu + d->sigma * std_normal(rng)));
	case AU_DIST_EXPONENTIAL: {
		double u = 1.0 - au_pcg32_unit(rng);
		return d->shift + to_ns(-(double)d->p1 * log(u));
	}
	}
	return d->p1;
}
