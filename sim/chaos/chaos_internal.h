/* chaos_internal.h — what the files of `aureon-sim chaos` share: the jobs
 * the parent hands its forked workers and the results they send back
 * (worker.c), the situations a run's trace is watched for (coverage.c),
 * the per-seed records and the sweep that collects them (sweep.c), and
 * the reports made from them (report.c).  Not for use outside sim/chaos.
 */
#ifndef AU_CHAOS_INTERNAL_H
#define AU_CHAOS_INTERNAL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "chaos.h"
#include "sim/engine/sim.h"

enum { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define MAX_SEEDS 10000000u
/* Checks reported per run: every checker the engine has fits (check_bits
 * keeps them in 16 bits). */
#define MAX_CHECKS 16

/* Situations worth counting, seen in the trace of a run (bit per entry). */
enum combo {
	CB_LEADER_CRASH,
	CB_LEADER_CRASH_MEMBERSHIP,
	CB_CRASH_IN_PARTITION,
	CB_LEADER_MINORITY,
	CB_LEADER_PAUSED,
	CB_LEADER_SKEWED,
	CB_TORN_WRITE,
	CB_LOST_WRITE,
	CB_MEMBERSHIP_CHANGE,
	CB_TRANSFER,
	CB_SNAPSHOT_INSTALL,
	CB_BAD_DISK_RECORD,
	CB_OVERLAPPING_FAULTS,
	CB_UNREADABLE_BOOT,
	CB_HOLDER_PAUSED_PAST_LEASE,
	CB_RECLAIMED_DEAD,
	CB_REVOKED_REBOOT,
	CB_STALE_ACK,
	CB_LOCK_FENCED,
	CB_HOLDER_SKEWED,
	CB_TWO_CANDIDATES,
	CB_CHANGE_BEFORE_COMMIT,
	CB_LEADER_CRASH_EARLY,
	CB_PAUSED_HOLDER_CRASH,
	CB_CRASH_AFTER_RESTART,
	CB_LEFT_CRASH,
	CB_DRAINED_CRASH,
	CB_SKEWED_CRASH,
	CB_COUNT_
};

/* The execution layer's [aureon]/[workload] settings, or NULL where it
 * does not run (kinds.c). */
struct au_orch_config;
const struct au_orch_config *au_chaos_orch_config(const struct au_scenario *sc);

/* ---- coverage.c: the situations of one run ------------------------------ */

/* What a run's trace showed, watched as an engine observer. */
struct au_chaos_cov;
struct au_chaos_cov *au_chaos_cov_new(const struct au_scenario *sc);
void au_chaos_cov_free(struct au_chaos_cov *c);
/* The observer (sim.h au_sim_observer) that feeds `c` (the ctx). */
void au_chaos_cov_observe(void *c, au_time t, au_node_id node, uint16_t kind, int64_t a,
			  int64_t b, int64_t cc);
/* The situations seen (bit per enum combo). */
uint32_t au_chaos_cov_combos(const struct au_chaos_cov *c);
/* Did fault `idx`'s operator command (transfer, add/remove voter, leave,
 * drain) fail when it fired? */
bool au_chaos_cov_admin_failed(const struct au_chaos_cov *c, uint32_t idx);
/* How situation `c` is named in reports. */
extern const char *const au_chaos_combo_names[CB_COUNT_];
/* Is situation `c` one this scenario's services can produce? */
bool au_chaos_combo_listed(const struct au_scenario *sc, int c);

/* ---- worker.c: jobs, results, the worker pool --------------------------- */

/* A check's verdict in one run (check.h AU_VERDICT_*), as a number. */
enum verdict { V_PASS, V_FAIL, V_NOT_RUN, V_UNKNOWN, V_COUNT_ };
/* AU_VERDICT_* by enum verdict. */
extern const char *const au_chaos_verdict_names[V_COUNT_];

enum job_type { JOB_RUN = 1, JOB_RERUN, JOB_DIAG, JOB_SHRINK };

struct job {
	uint32_t type;
	uint32_t index;   /* into the batch */
	uint64_t seed;
	uint32_t attempt; /* JOB_DIAG: 0 or 1 */
	char want[48];    /* JOB_SHRINK: the check to keep failing */
};

/* What a worker sends back: fixed size, one write (atomic below PIPE_BUF). */
struct result {
	uint32_t type, index;
	uint64_t seed;
	int32_t rc; /* 0 pass, 1 check failed, 2 did not load, 3 crashed, 4 timed out */
	struct au_chaos_outcome out;
	uint32_t enabled, planned, applied, n_faults;
	uint8_t chains_planned, chains_applied; /* a correlated chain was in the plan / applied */
	uint32_t combos;
	uint32_t n_checks;
	char check_names[MAX_CHECKS][24];
	uint8_t check_verdict[MAX_CHECKS];   /* enum verdict */
	char check_reason[MAX_CHECKS][80];   /* not run / unknown: why */
	struct au_shrink_stats shrink;
	int32_t shrink_rc;
	double cpu_s; /* CPU time the worker spent on this job */
	char message[200]; /* JOB_SHRINK / JOB_DIAG: a file written, or why not */
};
_Static_assert(sizeof(struct result) <= 4096, "one atomic pipe write");
_Static_assert(CB_COUNT_ <= 32, "situations are bits of a uint32_t");

/* What the parent keeps per seed (the full result only for failures). */
struct seed_rec {
	uint64_t seed;
	int8_t rc;
	bool done;
	uint8_t hash[32];
	uint32_t enabled, planned, applied, combos;
	bool chains_planned, chains_applied;
	uint16_t checks[V_COUNT_];          /* per verdict: bits into runner.check_names */
	struct result *full;                /* failures, and runs with a check without a verdict */
};

struct runner {
	struct au_scenario *sc;
	const char *path;
	char *out_dir;
	bool verbose;
	bool perturb_test; /* AU_CHAOS_TEST_NONDET: re-runs get an extra fault */
	double shrink_budget_s, timeout_s;
	char *check_names[16];
	uint32_t n_check_names;
};

/* The verdict of that name; one this sweep does not know is no verdict. */
enum verdict au_chaos_verdict_of(const char *name);

/* The text a seed runs: the scenario with its plan (and, for the
 * determinism self-test only, an extra heal half way).  *plan_out (may be
 * NULL) gets the plan.  Caller frees. */
char *au_chaos_seed_text(const struct runner *R, uint64_t seed, bool perturb,
			 struct au_chaos_plan **plan_out);
/* OUT_DIR/repro-SEED.SUFFIX (caller frees). */
char *au_chaos_repro_path(const struct runner *R, uint64_t seed, const char *suffix);

struct worker {
	pid_t pid;
	int to, from;
	bool busy;
	struct job job;
	double started;
};

/* Forked workers, each running one job at a time. */
struct pool {
	struct runner *R;
	struct worker *w;
	uint32_t n;
	/* Optional: called about every 100 ms of waiting for results, so a
	 * sweep can print a heartbeat while slow seeds run. */
	void (*tick)(void *ctx);
	void *tick_ctx;
};

bool au_chaos_pool_start(struct pool *P, struct runner *R, uint32_t n);
void au_chaos_pool_stop(struct pool *P);
typedef void (*on_result_fn)(void *ctx, const struct result *res);
/* Run a batch of jobs on the pool; on_result sees each result as it comes
 * (in completion order).  A dead or overdue worker fails its job with rc
 * 3 or 4 and is replaced.  False if workers could not be started. */
bool au_chaos_run_batch(struct pool *P, struct job *jobs, uint32_t n, double limit_s,
			on_result_fn on_result, void *ctx);

/* ---- sweep.c: the sweep ------------------------------------------------- */

struct sweep {
	struct runner *R;
	struct seed_rec *recs;
	uint32_t n;
	uint32_t done, failed;
	double cpu_s; /* workers' CPU time on the seeds (phase 1) */
	uint32_t emitted; /* results printed in seed order up to here */
	double t0;
	bool progress, json, tty_out;
	double last_draw;
	double heartbeat_s, last_beat; /* a line on stderr every heartbeat_s (0: none) */
	int io_error;
	/* determinism */
	uint32_t *det_idx, n_det, det_mismatch;
	GString *det_report;
	/* diag results */
	struct result *diag;
	/* for the reports */
	uint32_t jobs;
	uint64_t shard_k, shard_n;
	double det_pct;  /* 0: no determinism phase */
	double wall_s;   /* of phase 1 */
	uint32_t n_shrink;
	uint32_t *shrink_idx; /* [n_shrink]: into recs */
	struct result *shrunk; /* [n_shrink] */
};

/* ---- report.c: the summaries -------------------------------------------- */

/* The summary as one JSON object on stdout (--json). */
void au_chaos_report_json(const struct sweep *S);
/* The summary as text: the counts, determinism, shrinks, coverage. */
void au_chaos_report_text(const struct sweep *S);
/* JUnit XML: a test case per seed (with a failure element if it failed),
 * and a skipped test case per check a run did not judge. */
bool au_chaos_write_junit(const struct sweep *S, const char *path, double wall);
/* TAP (version 13): a test point per seed, "not ok" with the failure as a
 * YAML block, checks without a verdict as comments. */
bool au_chaos_write_tap(const struct sweep *S, const char *path);

#endif
