/* chaos.h — seeded chaos: fault plans generated from a seed, the sweep
 * runner that runs thousands of them, reproducers and their shrinking.
 *
 * A plan is a list of ordinary `struct au_fault` entries, the same the
 * scenario loader makes from [fault.*] groups.  A chaos run never applies a
 * plan directly: the plan is written into the scenario text as explicit
 * [fault.chaos-NN-KIND] groups with the seed fixed, and that text is
 * loaded and run.  So the reproducer file of a failing seed is, byte for
 * byte, the scenario that failed, and `aureon-sim run` replays it without
 * the generator.
 *
 * Generation follows swarm testing (Groce et al., ISSTA 2012): each seed
 * enables a random subset of the allowed fault kinds, so some runs go deep
 * on a few kinds instead of every run being a thin mix of all of them.
 */
#ifndef AU_CHAOS_H
#define AU_CHAOS_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/engine/sim.h"
#include "sim/scenario/scenario.h"

/* The fault kinds of chaos plans (kinds.c names them).  A kind is what
 * a sweep enables or not per seed; most map to one fault action, some to a
 * pattern of several (torn_write: slow syncs on a node, then its crash). */
enum au_chaos_kind {
	AU_CK_CRASH,
	AU_CK_PARTITION,
	AU_CK_PARTITION_ONEWAY,
	AU_CK_CLOG,
	AU_CK_LOSS,
	AU_CK_DUPLICATE,
	AU_CK_CORRUPT,
	AU_CK_PAUSE,
	AU_CK_SKEW,
	AU_CK_TORN_WRITE,
	AU_CK_SLOW_SYNC,
	AU_CK_READ_ERROR,
	AU_CK_DISK_CORRUPT,
	AU_CK_TRANSFER_LEADER,
	AU_CK_ADD_VOTER,
	AU_CK_REMOVE_VOTER,
	AU_CK_ELECTION_CHURN,
	AU_CK_LEAVE, /* SWIM: a node leaves gracefully */
	AU_CK_DRAIN, /* execution layer: a node gets no new tasks for a while */
	AU_CK_HOLDER_PAUSE, /* execution layer: a lease holder paused around or past its lease */
	AU_CK_HOLDER_CRASH, /* execution layer: a lease holder crashes (for a while or for good) */
	AU_CK_HOLDER_SKEW,  /* execution layer: a lease holder's clock off by more than a lease */
	AU_CK_LOCK_PAUSE,   /* execution layer: a lock holder paused past its lock's TTL */
	AU_CK_CONFIG_RACE, /* Raft: two leaders' membership changes race (Ongaro 2015) */
	AU_CK_SPLIT_VOTE,  /* Raft: two candidates of one term, one voter asked by both */
	AU_CK_FIGURE8,     /* Raft: an old term's entry on a majority, then overwritten */
	AU_CK_DISK_FULL,   /* a node's disk fills up for a while */
	AU_CK_WRITE_ERROR, /* a node's writes fail with I/O errors (all or a share) */
	AU_CK_SYNC_ERROR,  /* a node's syncs fail (all or a share), as Linux reports them */
	AU_CK_COUNT_
};

enum au_chaos_mode {
	AU_CHAOS_SWARM,        /* each seed enables a random subset of `kinds` */
	AU_CHAOS_UNRESTRICTED, /* every kind, no bounds on count, timing or rates */
};

/* [chaos]: the bounds within which `aureon-sim chaos` generates a fault
 * plan per seed (struct au_scenario `chaos`).  Ignored by `run`. */
struct au_chaos_config {
	bool present;          /* the file has a [chaos] group */
	enum au_chaos_mode mode;
	uint32_t max_faults;   /* fault groups per plan, at most */
	uint32_t kinds;        /* bit (1 << enum au_chaos_kind) per allowed kind */
	au_time start;         /* no generated fault before this */
	au_time quiet_period;  /* fault-free end of the run (room for liveness checks) */
	au_time fault_lo_ns, fault_hi_ns; /* length of a lasting fault */
	double max_rate;       /* loss, duplicate, corrupt rates drawn up to this */
	double correlated;     /* chance that a node fault is the start of a correlated
				* chain: the same node hit again (crashed) soon after */
};

/* Read [chaos] with every scenario (its defaults when the group is
 * absent): registers the loader's hook.  Once, before the first load. */
void au_chaos_register(void);

/* Hard cap on the fault groups of one plan (also the bound of max_faults). */
#define AU_CHAOS_MAX_FAULTS 200u
/* Faults per plan in unrestricted mode, at most. */
#define AU_CHAOS_UNRESTRICTED_FAULTS 64u
/* [chaos] correlated when not given: the chance that a fault on one node
 * starts a correlated chain (the node crashed again soon after). */
#define AU_CHAOS_CORRELATED_DEFAULT 0.25

/* Name of a kind ("crash", "partition_oneway", ...); "?" if out of range. */
const char *au_chaos_kind_name(enum au_chaos_kind k);
/* One line saying what kind `k` does ("?" if out of range). */
const char *au_chaos_kind_about(enum au_chaos_kind k);
/* The kind of that name, or -1. */
int au_chaos_kind_from_name(const char *name);
/* "crash, partition, ..." for the kinds in `mask` (caller frees). */
char *au_chaos_kind_list(uint32_t mask);
/* The fewest fault groups one incident of kind `k` takes (1 for most;
 * the Raft order kinds need many).  Against max_faults every group counts
 * one, except that a whole Raft order incident counts one (docs/chaos.md: What a
 * seed's plan is); au_chaos_kind_charge() is what one incident is charged
 * at least. */
uint32_t au_chaos_kind_min_faults(enum au_chaos_kind k);
/* The least one incident of kind `k` is charged against max_faults. */
uint32_t au_chaos_kind_charge(enum au_chaos_kind k);
/* Is `k` one of the Raft order kinds (config_race, split_vote, figure8)? */
bool au_chaos_kind_is_order(enum au_chaos_kind k);
/* Kinds the scenario's services make meaningful (raft ones need raft). */
uint32_t au_chaos_supported_kinds(const struct au_scenario *sc);
/* Kinds a sweep uses when [chaos] kinds is not given: the supported ones
 * minus read_error and disk_corrupt, which destroy synced data and so lie
 * outside the storage model Raft assumes (see docs/chaos.md). */
uint32_t au_chaos_default_kinds(const struct au_scenario *sc);

/* One seed's plan. */
struct au_chaos_plan {
	uint64_t seed;
	uint32_t enabled;          /* kinds enabled for this seed */
	struct au_fault *faults;   /* generated, in firing order; names chaos-NN-KIND */
	uint8_t *kinds;            /* enum au_chaos_kind per fault */
	bool *chained;             /* per fault: a correlated follow-up (named
				    * chaos-NN-KIND-then-crash) on the node an
				    * earlier fault of its chain hit */
	uint32_t n_faults;
	uint32_t charged;          /* what the plan used of max_faults */
	uint32_t chains;           /* correlated chains in the plan */
	bool drop_liveness;        /* unrestricted: no quiet period, so no liveness checks */
};

/* The plan of `seed` for scenario `sc`: a pure function of the two (the
 * generator draws only from the seed's AU_STREAM_CHAOS stream). */
struct au_chaos_plan *au_chaos_plan_new(const struct au_scenario *sc, uint64_t seed);
void au_chaos_plan_free(struct au_chaos_plan *plan);

/* Scenario text for one chaos run: the original text line for line, with
 * [run] seed set to plan->seed, the [chaos] group commented out, and every
 * planned fault appended as a [fault.*] group; `header` (may be NULL) goes
 * first as comment lines.  Caller frees. */
char *au_chaos_render(const struct au_scenario *sc, const struct au_chaos_plan *plan,
		      const char *header);
/* The [fault.*] group text of one fault (caller frees). */
char *au_chaos_fault_text(const char *name, const struct au_fault *f);

/* ---- chaos_ini.c: a scenario file edited as lines ---------------------- */

/* A key file kept as its lines so edits leave everything else verbatim. */
struct au_ini;
struct au_ini *au_ini_parse(const char *text);
struct au_ini *au_ini_copy(const struct au_ini *ini);
void au_ini_free(struct au_ini *ini);
char *au_ini_to_text(const struct au_ini *ini);
bool au_ini_has_group(const struct au_ini *ini, const char *group);
/* Every group header in file order, NULL-terminated (g_strfreev). */
char **au_ini_groups(const struct au_ini *ini);
/* A value without its inline comment, or NULL (caller frees). */
char *au_ini_get(const struct au_ini *ini, const char *group, const char *key);
/* Replace the key's line, or add it to the group (made at the end if
 * missing). */
void au_ini_set(struct au_ini *ini, const char *group, const char *key, const char *value);
void au_ini_remove_key(struct au_ini *ini, const char *group, const char *key);
void au_ini_remove_group(struct au_ini *ini, const char *group);
/* Turn a group's lines into comments, with a note line first. */
void au_ini_comment_group(struct au_ini *ini, const char *group, const char *note);
void au_ini_append(struct au_ini *ini, const char *text);
/* Put `text` first, each line as a "# " comment. */
void au_ini_prepend_comment(struct au_ini *ini, const char *text);

/* The chaos kind of a loaded fault, from its name (chaos-NN-KIND[-part]),
 * or -1 for a fault the scenario had of its own. */
int au_chaos_fault_kind(const char *fault_name);

/* ---- chaos_shrink.c: delta debugging of a failing scenario ------------ */

struct au_shrink_stats {
	uint32_t runs;          /* candidate runs */
	double wall_s;
	bool budget_hit;        /* stopped by the time budget, not by running out of ideas */
	bool reproduced;        /* the original text failed as expected */
	bool timed_out;         /* the original run took longer than the budget */
	uint32_t faults_before, faults_after;
	au_time duration_before, duration_after;
	uint32_t nodes_before, nodes_after;
	uint32_t clients_before, clients_after; /* sum of the *clients keys of the services */
	uint32_t rate_before, rate_after;       /* sum of the rate keys (N/s) */
	/* the smallest failing scenario's run */
	char check[48];
	au_time t_ns;
	char hash[65];
};

/* Shrink scenario `text` that fails `check` ("signal N" for a crash):
 * drop faults (ddmin), shorten the run, remove nodes, lower client counts
 * and rates, keeping each change only if the result still fails the same
 * check.  Every candidate runs in a forked child (a candidate may crash or
 * hang).  Stops after `budget_s` seconds of wall time with the best so
 * far.  Returns 0 with *min_text set (caller frees), or -1 if `text` does
 * not fail that way to begin with (*min_text NULL). */
int au_chaos_shrink(const char *path, const char *text, const char *check, double budget_s,
		    char **min_text, struct au_shrink_stats *st);

/* ---- one run of a scenario text in this process ------------------------ */

/* What a run came to.  rc: 0 pass, 1 a check failed, 2 the text did not
 * load (detail says why). */
struct au_chaos_outcome {
	int rc;
	char check[48];
	au_time t_ns;
	au_node_id node;
	uint64_t record;
	char detail[256];
	char hash[65];
	uint64_t events;
	au_time sim_ns;
	struct au_violation viol; /* the whole violation when a check failed
				   * (viol.check empty otherwise): window, judged time */
};

/* Run a scenario text in a forked child (it may crash or hang): false if it
 * could not be run or took longer than timeout_s.  A child killed by a
 * signal comes back as rc 1 with check "signal N". */
bool au_chaos_probe(const char *path, const char *text, double timeout_s,
		    struct au_chaos_outcome *out);

/* `aureon-sim chaos ...` (sweep.c): argc/argv after "chaos". */
int au_chaos_main(int argc, char **argv);
/* `aureon-sim shrink FILE ...`: shrink any failing scenario file. */
int au_shrink_main(int argc, char **argv);

#endif
