/* plan_internal.h — the plan generator's state (struct gen) and the draws
 * and placements (gen.c) that plan.c (every kind) and orders.c (the Raft
 * orders of events: config_race, split_vote, figure8) share.
 */
#ifndef AU_CHAOS_PLAN_INTERNAL_H
#define AU_CHAOS_PLAN_INTERNAL_H

#include <glib.h>

#include "chaos.h"
#include "pcg32.h"

struct span {
	au_time from, to; /* inclusive; to = INT64_MAX: until the end */
};

struct gen {
	const struct au_scenario *sc;
	struct au_pcg32 rng;
	bool raft;
	bool unrestricted;
	uint32_t servers;
	au_time lo, hi;         /* `at` in [lo, hi); lasting faults end by hi */
	au_time len_lo, len_hi; /* lasting fault lengths */
	uint32_t rate_hi;       /* thousandths */
	au_time el_lo, el_hi;   /* Raft's election timeout range (for election_churn) */
	au_time lease, lock_ttl; /* [aureon] lease, [workload] lock_ttl (holder_* kinds) */
	au_time hop;            /* a slow one-way message: the scenario's latency bound */
	au_time orders_until;   /* a Raft order of events is being played until then */
	uint32_t down_for_good; /* holder crashes without restart (and, with aureon, leaves) planned so far */
	bool lease_layer;       /* the scenario runs aureon (a task queue) */
	au_time hb;             /* Raft's heartbeat period */
	au_time sync_hi;        /* a slow sync: the scenario's sync latency bound */
	GArray *faults;         /* struct au_fault */
	GArray *kinds;          /* uint8_t */
	GArray *chained;        /* uint8_t: 1 for a correlated follow-up */
	uint32_t correlated_pm; /* [chaos] correlated, in thousandths */
	uint32_t chains;        /* correlated chains placed */
	GArray **busy;          /* per server: struct span of explicit crash/pause */
};

/* gen.c: the next 64 random bits; a uniform draw in [0, n) (0 if n is 0). */
uint64_t au_gen_next64(struct gen *g);
uint32_t au_gen_below(struct gen *g, uint32_t n);
/* True with probability percent / 100. */
bool au_gen_chance(struct gen *g, uint32_t percent);
/* Uniform on the 1 ms grid in [lo, hi]; lo if hi <= lo. */
au_time au_gen_time_in(struct gen *g, au_time lo, au_time hi);
/* Is node n down or paused by an explicit fault at some time in [from, to]? */
bool au_gen_busy_at(struct gen *g, au_node_id n, au_time from, au_time to);
void au_gen_mark_busy(struct gen *g, au_node_id n, au_time from, au_time to);
/* A random server. */
au_node_id au_gen_any_node(struct gen *g);
/* Append a fault of `kind` to the plan (its other fields to fill in). */
struct au_fault *au_gen_add_fault(struct gen *g, enum au_chaos_kind kind,
				  enum au_fault_action action, au_time at);

/* orders.c: a partition fault between the `n_a` nodes `a` (group 1) and
 * the `n_b` nodes `b` (group 2); an empty side is every other server.
 * One-way: group 1 cannot send to group 2. */
struct au_fault *au_gen_add_cut(struct gen *g, enum au_chaos_kind kind, au_time at,
				au_time until, const au_node_id *a, uint32_t n_a,
				const au_node_id *b, uint32_t n_b, bool oneway);
/* orders.c: one incident of a Raft order at `at`, in at most `room` fault
 * groups; returns the groups used (0: it did not fit). */
uint32_t au_gen_config_race(struct gen *g, au_time at, uint32_t room);
uint32_t au_gen_split_vote(struct gen *g, au_time at, uint32_t room);
uint32_t au_gen_figure8(struct gen *g, au_time at, uint32_t room);

#endif
