/* dist.h — distributions of durations (network latency, sync latency, task
 * cost), drawn from a stream of 32-bit random words.
 *
 * The scenario loader parses them (`uniform(1ms,5ms)`, `lognormal(50ms,20ms)`,
 * ...); the engine draws with its own PCG32 streams and models draw with
 * their env's stream, through the one implementation below, so the same
 * spec gives the same numbers whoever draws it.
 */
#ifndef AU_DIST_H
#define AU_DIST_H

#include "env.h"

enum au_dist_kind {
	AU_DIST_CONST,       /* const(x) */
	AU_DIST_UNIFORM,     /* uniform(a,b) */
	AU_DIST_NORMAL,      /* normal(mean,sd), truncated at 0 */
	AU_DIST_LOGNORMAL,   /* lognormal(mean,sd): the mean and sd of the delay itself */
	AU_DIST_EXPONENTIAL, /* exponential(mean) or exponential(mean,shift) */
};

struct au_dist {
	enum au_dist_kind kind;
	au_time p1, p2; /* const: x; uniform: a,b; normal/lognormal: mean,sd; exponential: mean */
	au_time shift;  /* added to every draw (exponential only) */
	double mu, sigma; /* lognormal: parameters of the underlying normal */
};

/* A source of uniform 32-bit words. */
typedef uint32_t (*au_dist_word_fn)(void *ctx);

/* A uniform d's value for the 64-bit draw r (the first of its two words
 * the high half); d's span must be nonzero (a zero span draws nothing).
 * Shared by au_dist_draw and the simulator's inline au_dist_sample. */
static inline au_time au_dist_uniform_at(const struct au_dist *d, uint64_t r)
{
	return d->p1 + (au_time)(r % ((uint64_t)(d->p2 - d->p1) + 1));
}

/* One draw of `d` in nanoseconds (never negative), consuming words from
 * next(ctx): uniform uses two, normal and lognormal four, exponential two,
 * const none. */
au_time au_dist_draw(const struct au_dist *d, au_dist_word_fn next, void *ctx);

/* One draw from a model's own stream. */
au_time au_dist_draw_env(const struct au_dist *d, const struct au_env *env);

#endif
