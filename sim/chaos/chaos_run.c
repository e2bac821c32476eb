/* chaos_run.c — `aureon-sim chaos`: seeded sweeps over a scenario.
 *
 * For every seed: generate the plan (chaos.c), write it into the scenario
 * text, load that text and run it with every checker on.  Seeds are run by
 * forked workers that the parent feeds one job at a time over pipes; every
 * run depends only on (scenario, seed), and results are reported in seed
 * order, so the output is the same for any --jobs.  A worker that dies (a
 * crash in the code under test) or overruns --timeout fails that seed and
 * is replaced.
 *
 * Phases: (1) the seeds; (2) with --check-determinism, a sample of seeds
 * again, comparing trace hashes (a mismatch is run twice more with record
 * dumps to name the first divergent record); (3) the first --shrink
 * failures are shrunk (chaos_shrink.c).  Then the summary, the coverage
 * table, --json and --junit.
 */
#include "chaos.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "orchestrator.h"
#include "trace_kinds.h"
#include "sim/check/check.h"
#include "sim/engine/sim.h"
#include "sim/report/report.h"

enum { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char *const usage_chaos =
	"usage: aureon-sim chaos SCENARIO --seeds A-B|LIST [options]\n"
	"\n"
	"Runs SCENARIO once per seed, each time with a fault plan generated from\n"
	"the seed within the scenario's [chaos] bounds, every checker on.\n"
	"\n"
	"  --seeds A-B|LIST       seeds to run: 1-1000, or 3,17,40-50 (seeds >= 1)\n"
	"  --jobs N               worker processes (default: online CPUs); results do\n"
	"                         not depend on N\n"
	"  --shard K/N            run only every N-th seed of the list, starting at\n"
	"                         the K-th (1 <= K <= N): split a sweep over machines\n"
	"  --out DIR              reproducers go here (default chaos-out)\n"
	"  --json                 one JSON summary object on stdout instead of text\n"
	"  --junit FILE           JUnit XML report (one test case per seed)\n"
	"  --check-determinism[=PCT]  re-run PCT %% of the seeds (default 5) and\n"
	"                         compare trace hashes\n"
	"  --shrink N             shrink the first N failures (default 3; 0: none)\n"
	"  --no-shrink            same as --shrink 0\n"
	"  --shrink-time S        wall-time budget per shrink, seconds (default 60)\n"
	"  --timeout S            wall-time limit per seed, seconds (default 300)\n"
	"  --unrestricted         ignore the [chaos] bounds: every kind, any number\n"
	"                         and timing of faults, no liveness checks\n"
	"  --quiet                no progress bar on a terminal\n"
	"  --verbose              keep the workers' stderr (checker explanations)\n"
	"\n"
	"Exit: 0 every seed passed (and hashes matched), 1 a seed failed or a\n"
	"re-run differed, 2 usage, scenario or I/O error.  Failing seeds leave\n"
	"DIR/repro-SEED.ini (replay: aureon-sim run DIR/repro-SEED.ini) and, when\n"
	"shrunk, DIR/repro-SEED.min.ini.\n";

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

static const char *const combo_names[CB_COUNT_] = {
	[CB_LEADER_CRASH] = "a leader crashed",
	[CB_LEADER_CRASH_MEMBERSHIP] = "a leader crashed during a membership change",
	[CB_CRASH_IN_PARTITION] = "a node crashed while a partition was up",
	[CB_LEADER_MINORITY] = "a partition left the leader in a minority",
	[CB_LEADER_PAUSED] = "the leader was paused",
	[CB_LEADER_SKEWED] = "the leader's clock jumped or drifted",
	[CB_TORN_WRITE] = "a crash tore an unsynced write",
	[CB_LOST_WRITE] = "a crash lost an unsynced write",
	[CB_MEMBERSHIP_CHANGE] = "a membership change started",
	[CB_TRANSFER] = "leadership was transferred",
	[CB_SNAPSHOT_INSTALL] = "a node installed a snapshot",
	[CB_BAD_DISK_RECORD] = "a node found a bad record on disk",
	[CB_OVERLAPPING_FAULTS] = "two lasting faults overlapped",
	[CB_UNREADABLE_BOOT] = "a node restarted onto an unreadable disk",
	[CB_HOLDER_PAUSED_PAST_LEASE] = "a paused lease holder lost a lease",
	[CB_RECLAIMED_DEAD] = "a lease was reclaimed from a dead node",
	[CB_REVOKED_REBOOT] = "a rebooted holder's lease was revoked",
	[CB_STALE_ACK] = "a stale ack was rejected",
	[CB_LOCK_FENCED] = "a lock holder's write was fenced",
	[CB_HOLDER_SKEWED] = "a lease holder's clock jumped past a lease",
	[CB_TWO_CANDIDATES] = "a voter following its term's leader was asked by another candidate",
	[CB_CHANGE_BEFORE_COMMIT] = "a membership change reached a leader before it committed in its term",
	[CB_LEADER_CRASH_EARLY] = "a leader crashed before it committed in its term",
	[CB_PAUSED_HOLDER_CRASH] = "a paused lease holder crashed",
	[CB_CRASH_AFTER_RESTART] = "a node crashed within a second of its restart",
	[CB_LEFT_CRASH] = "a node that had left crashed",
	[CB_DRAINED_CRASH] = "a draining node crashed",
	[CB_SKEWED_CRASH] = "a node whose clock was off crashed",
};

/* Situations that only Raft produces (not listed for other services). */
#define RAFT_COMBOS                                                                    \
	((1u << CB_LEADER_CRASH) | (1u << CB_LEADER_CRASH_MEMBERSHIP) |                \
	 (1u << CB_LEADER_MINORITY) | (1u << CB_LEADER_PAUSED) | (1u << CB_LEADER_SKEWED) | \
	 (1u << CB_MEMBERSHIP_CHANGE) | (1u << CB_TRANSFER) | (1u << CB_SNAPSHOT_INSTALL) | \
	 (1u << CB_BAD_DISK_RECORD) | (1u << CB_UNREADABLE_BOOT) | (1u << CB_TWO_CANDIDATES) | \
	 (1u << CB_CHANGE_BEFORE_COMMIT) | (1u << CB_LEADER_CRASH_EARLY))

/* Situations of the execution layer (listed only where it runs). */
#define EXEC_COMBOS                                                                    \
	((1u << CB_HOLDER_PAUSED_PAST_LEASE) | (1u << CB_RECLAIMED_DEAD) |                  \
	 (1u << CB_REVOKED_REBOOT) | (1u << CB_STALE_ACK) |                                     \
	 (1u << CB_LOCK_FENCED) | (1u << CB_HOLDER_SKEWED) | (1u << CB_PAUSED_HOLDER_CRASH) |   \
	 (1u << CB_DRAINED_CRASH))

/* Situations of SWIM (listed only where it runs). */
#define SWIM_COMBOS (1u << CB_LEFT_CRASH)

/* ---- jobs and results ---------------------------------------------------- */

/* A check's verdict in one run (sim.h AU_VERDICT_*), as a number. */
enum verdict { V_PASS, V_FAIL, V_NOT_RUN, V_UNKNOWN, V_COUNT_ };
static const char *const verdict_names[V_COUNT_] = {AU_VERDICT_PASS, AU_VERDICT_FAIL,
						     AU_VERDICT_NOT_RUN, AU_VERDICT_UNKNOWN};

static enum verdict verdict_of(const char *name)
{
	for (int v = 0; v < V_COUNT_; v++)
		if (strcmp(name, verdict_names[v]) == 0)
			return (enum verdict)v;
	return V_UNKNOWN; /* a verdict this sweep does not know is no verdict */
}

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

/* ---- coverage: watching one run's trace ----------------------------------- */

/* What coverage remembers of one node's votes. */
struct voter {
	int64_t voted_term;    /* the term of its latest granted vote */
	au_node_id voted_for;
	int64_t followed_term; /* the latest term in which it followed a leader */
};

struct cov {
	const struct au_scenario *sc;
	uint32_t combos;
	au_node_id leader;
	int64_t leader_term;
	bool change_pending;
	au_node_id change_leader;
	int64_t change_index;
	int32_t partitions, links, disks, down, paused;
	uint8_t *node_paused; /* [nodes+1] */
	uint8_t *admin_failed; /* [n_faults] */
	uint8_t *admin_seen;   /* [n_faults]: its first ADMIN record was traced */
	/* per node [nodes+1], for the correlated situations */
	au_time *restarted_at; /* its latest restart, or -1 */
	uint8_t *left;         /* it left SWIM (since its latest restart) */
	uint8_t *draining;     /* a drain of it is in force */
	uint8_t *clock_off;    /* its clock was ever jumped or drifted */
	/* execution layer: who was granted which lease token, tokens whose
	 * results were accepted, tasks each node's worker runs */
	GHashTable *granted;   /* token -> node */
	GHashTable *acked;     /* token */
	uint32_t *running;     /* [nodes+1] */
	au_time lease;
	bool leader_committed; /* `leader` committed an entry of its term */
	struct voter *voters;  /* [nodes+1] */
};

static int32_t lasting(const struct cov *c)
{
	return c->partitions + c->links + c->disks + c->down + c->paused;
}

/* Is the leader in a group smaller than a majority of the servers? */
static bool leader_in_minority(const struct cov *c, const struct au_fault *f)
{
	uint32_t servers = c->sc->cluster.nodes, size[8] = {0}, rest_group = 0, leader_group = 0, named = 0;
	for (uint32_t m = 0; m < f->n_members; m++) {
		const struct au_group_member *gm = &f->members[m];
		uint32_t g = gm->group < 8 ? gm->group : 7;
		if (gm->who.kind == AU_TARGET_REST)
			rest_group = g;
		else if (gm->who.kind == AU_TARGET_LEADER || (gm->who.kind == AU_TARGET_NODE && gm->who.node == c->leader))
			leader_group = g;
		if (gm->who.kind == AU_TARGET_NODE || gm->who.kind == AU_TARGET_LEADER) {
			size[g]++;
			named++;
		}
	}
	if (rest_group && named < servers)
		size[rest_group] += servers - named;
	if (!leader_group)
		leader_group = rest_group;
	return leader_group && size[leader_group] * 2 <= servers;
}

/* The execution layer's [aureon] lease, or 0 where it does not run. */
static au_time exec_lease(const struct au_scenario *sc)
{
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (strcmp(sc->cluster.services[i]->name, "aureon") == 0 && sc->cluster.service_config[i])
			return ((const struct au_orch_config *)sc->cluster.service_config[i])->lease_ns;
	return 0;
}

/* The execution layer's situations.  Queue and lock effects are traced by
 * every replica as it applies: the first copy decides, later ones change
 * nothing. */
static void observe_exec(struct cov *c, au_node_id node, uint16_t kind, int64_t a, int64_t b,
			 int64_t cc)
{
	(void)a;
	bool ok_node = node <= c->sc->cluster.nodes;
	switch (kind) {
	case AU_TR_TASKQ_GRANT:
		if (!g_hash_table_contains(c->granted, &b))
			g_hash_table_insert(c->granted, g_memdup2(&b, sizeof(b)),
					    GUINT_TO_POINTER((guint)cc));
		break;
	case AU_TR_TASKQ_ACK:
		if (!g_hash_table_contains(c->acked, &b))
			g_hash_table_add(c->acked, g_memdup2(&b, sizeof(b)));
		break;
	case AU_TR_TASKQ_ACK_STALE:
		/* Not a repeat of the ack that was accepted: a stale holder's. */
		if (!g_hash_table_contains(c->acked, &b))
			c->combos |= 1u << CB_STALE_ACK;
		break;
	case AU_TR_TASKQ_EXPIRE: {
		au_node_id holder = GPOINTER_TO_UINT(g_hash_table_lookup(c->granted, &b));
		if (holder && holder <= c->sc->cluster.nodes && c->node_paused[holder])
			c->combos |= 1u << CB_HOLDER_PAUSED_PAST_LEASE;
		if (cc == 1)
			c->combos |= 1u << CB_RECLAIMED_DEAD;
		else if (cc == 2)
			c->combos |= 1u << CB_REVOKED_REBOOT;
		break;
	}
	case AU_TR_LOCK_WRITE:
		if (cc == 0)
			c->combos |= 1u << CB_LOCK_FENCED;
		break;
	case AU_TR_ORCH_START:
		if (ok_node)
			c->running[node]++;
		break;
	case AU_TR_ORCH_FINISH:
	case AU_TR_ORCH_ABANDON:
		if (ok_node && c->running[node])
			c->running[node]--;
		break;
	case AU_TR_ORCH_BOOT:
		if (ok_node)
			c->running[node] = 0;
		break;
	default:
		break;
	}
}

static void observe(void *ctx, au_time t, au_node_id node, uint16_t kind, int64_t a, int64_t b,
		    int64_t cc)
{
	struct cov *c = ctx;
	switch (kind) {
	case AU_TR_RAFT_ROLE:
		if (b == 3 && a >= c->leader_term) { /* as sim.c: stale leaders do not count */
			c->leader = node;
			c->leader_term = a;
			c->leader_committed = false;
		} else if (b != 3 && c->leader == node)
			c->leader = 0;
		if (b == 0 && cc && node <= c->sc->cluster.nodes)
			c->voters[node].followed_term = a;
		break;
	case AU_TR_RAFT_VOTE:
		/* The order VOTEDFOR_CLEARED needs: a voter granted a vote in a
		 * term, followed that term's leader, and is then asked (not
		 * pre-vote) by another candidate of the same term. */
		if (node <= c->sc->cluster.nodes && !(cc & 2)) {
			struct voter *v = &c->voters[node];
			if (a == v->voted_term && b != v->voted_for && a == v->followed_term)
				c->combos |= 1u << CB_TWO_CANDIDATES;
			if ((cc & 1) && a >= v->voted_term) {
				v->voted_term = a;
				v->voted_for = (au_node_id)b;
			}
		}
		break;
	case AU_TR_NODE_CRASH:
		if (node == c->leader && node) {
			c->combos |= 1u << CB_LEADER_CRASH;
			if (!c->leader_committed)
				c->combos |= 1u << CB_LEADER_CRASH_EARLY;
			if (c->change_pending)
				c->combos |= 1u << CB_LEADER_CRASH_MEMBERSHIP;
			c->leader = 0;
		}
		if (c->partitions > 0)
			c->combos |= 1u << CB_CRASH_IN_PARTITION;
		if (node && node <= c->sc->cluster.nodes) {
			/* the same node hit again: what correlated chains aim at */
			if (c->node_paused[node] && c->running[node])
				c->combos |= 1u << CB_PAUSED_HOLDER_CRASH;
			if (c->restarted_at[node] >= 0 && t - c->restarted_at[node] <= AU_NS_PER_S)
				c->combos |= 1u << CB_CRASH_AFTER_RESTART;
			if (c->left[node])
				c->combos |= 1u << CB_LEFT_CRASH;
			if (c->draining[node])
				c->combos |= 1u << CB_DRAINED_CRASH;
			if (c->clock_off[node])
				c->combos |= 1u << CB_SKEWED_CRASH;
		}
		if (node <= c->sc->cluster.nodes && c->node_paused[node]) {
			c->node_paused[node] = 0;
			c->paused--;
		}
		c->down++;
		if (node && node <= c->sc->cluster.nodes)
			c->running[node] = 0;
		break;
	case AU_TR_NODE_RESTART:
		c->down--;
		if (node && node <= c->sc->cluster.nodes) {
			c->restarted_at[node] = t;
			c->left[node] = 0;
		}
		break;
	case AU_TR_NODE_PAUSE:
		if (node == c->leader && node)
			c->combos |= 1u << CB_LEADER_PAUSED;
		if (node <= c->sc->cluster.nodes && !c->node_paused[node]) {
			c->node_paused[node] = 1;
			c->paused++;
		}
		break;
	case AU_TR_NODE_RESUME:
		if (node <= c->sc->cluster.nodes && c->node_paused[node]) {
			c->node_paused[node] = 0;
			c->paused--;
		}
		break;
	case AU_TR_CLOCK_SKEW:
		if (node == c->leader && node && (a || b))
			c->combos |= 1u << CB_LEADER_SKEWED;
		/* a jump stays, and so does what a drift added */
		if (node && node <= c->sc->cluster.nodes && (a || b))
			c->clock_off[node] = 1;
		if (node && node <= c->sc->cluster.nodes && c->running[node] && c->lease &&
		    (a >= c->lease || a <= -c->lease))
			c->combos |= 1u << CB_HOLDER_SKEWED;
		break;
	case AU_TR_PARTITION_START:
		c->partitions++;
		if (c->leader && a >= 0 && (uint64_t)a < c->sc->n_faults &&
		    leader_in_minority(c, &c->sc->faults[a]))
			c->combos |= 1u << CB_LEADER_MINORITY;
		break;
	case AU_TR_PARTITION_END:
		c->partitions--;
		break;
	case AU_TR_LINK_FAULT_START:
		c->links++;
		break;
	case AU_TR_LINK_FAULT_END:
		c->links--;
		break;
	case AU_TR_DISK_FAULT_START:
		if (b != AU_DISK_CORRUPT) /* a flipped bit has no end */
			c->disks++;
		break;
	case AU_TR_DISK_FAULT_END:
		c->disks--;
		break;
	case AU_TR_DISK_CRASH:
		if (b > 0)
			c->combos |= 1u << CB_TORN_WRITE;
		if (cc > 0)
			c->combos |= 1u << CB_LOST_WRITE;
		break;
	case AU_TR_ADMIN:
		if (a >= 0 && (uint64_t)a < c->sc->n_faults) {
			enum au_fault_action act = c->sc->faults[a].action;
			if ((act == AU_FAULT_ADD_VOTER || act == AU_FAULT_REMOVE_VOTER) && node &&
			    node == c->leader && !c->leader_committed)
				c->combos |= 1u << CB_CHANGE_BEFORE_COMMIT;
			/* leave: traced by the node that left; drain: by the
			 * leader, once when it starts and once when it ends */
			au_node_id who = b > 0 && (uint64_t)b <= c->sc->cluster.nodes ? (au_node_id)b : 0;
			if (act == AU_FAULT_LEAVE && who && cc == 0)
				c->left[who] = 1;
			if (act == AU_FAULT_DRAIN && who)
				c->draining[who] = !c->admin_seen[a] && cc == 0;
			c->admin_seen[a] = 1;
			if (cc != 0)
				c->admin_failed[a] = 1;
			else if (act == AU_FAULT_ADD_VOTER || act == AU_FAULT_REMOVE_VOTER) {
				c->combos |= 1u << CB_MEMBERSHIP_CHANGE;
				c->change_pending = true;
				c->change_leader = node;
				c->change_index = 0;
			}
		}
		break;
	case AU_TR_RAFT_CONFIG:
		if (c->change_pending && node == c->change_leader && c->change_index == 0)
			c->change_index = a;
		break;
	case AU_TR_RAFT_COMMIT:
		if (node == c->leader && b == c->leader_term)
			c->leader_committed = true;
		if (c->change_pending && c->change_index > 0 && a >= c->change_index)
			c->change_pending = false;
		break;
	case AU_TR_RAFT_TRANSFER:
		if (cc == 0)
			c->combos |= 1u << CB_TRANSFER;
		break;
	case AU_TR_RAFT_INSTALL:
		c->combos |= 1u << CB_SNAPSHOT_INSTALL;
		break;
	case AU_TR_RAFT_BAD_DISK:
		c->combos |= 1u << (a == 5 ? CB_UNREADABLE_BOOT : CB_BAD_DISK_RECORD);
		break;
	default:
		observe_exec(c, node, kind, a, b, cc);
		break;
	}
	if (lasting(c) >= 2)
		c->combos |= 1u << CB_OVERLAPPING_FAULTS;
}

/* ---- one run (in a worker) ----------------------------------------------- */

/* The text a seed runs: the scenario with its plan (and, for the
 * determinism self-test only, an extra heal half way). */
static char *seed_text(const struct runner *R, uint64_t seed, bool perturb,
		       struct au_chaos_plan **plan_out)
{
	struct au_chaos_plan *plan = au_chaos_plan_new(R->sc, seed);
	char *text = au_chaos_render(R->sc, plan, NULL);
	if (perturb) {
		char at[40];
		au_format_duration(R->sc->duration / 2, at, sizeof(at));
		char *more = g_strdup_printf("%s\n[fault.nondeterminism-self-test]\nat = %s\naction = heal\n",
					     text, at);
		g_free(text);
		text = more;
	}
	if (plan_out)
		*plan_out = plan;
	else
		au_chaos_plan_free(plan);
	return text;
}

static void run_seed(const struct runner *R, uint64_t seed, bool perturb, const char *records,
		     struct result *res)
{
	struct au_chaos_plan *plan = NULL;
	g_autofree char *text = seed_text(R, seed, perturb, &plan);
	res->enabled = plan->enabled;
	res->n_faults = plan->n_faults;
	res->chains_planned = plan->chains > 0;
	au_chaos_plan_free(plan);
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(R->path, text, &err);
	if (!sc) {
		res->rc = 2;
		res->out.rc = 2;
		g_snprintf(res->out.detail, sizeof(res->out.detail), "generated scenario did not load: %s",
			   err);
		g_free(err);
		return;
	}
	FILE *dump = records ? fopen(records, "w") : NULL;
	struct cov cov = {.sc = sc};
	cov.node_paused = g_new0(uint8_t, (gsize)sc->cluster.nodes + 1);
	cov.admin_failed = g_new0(uint8_t, sc->n_faults ? sc->n_faults : 1);
	cov.admin_seen = g_new0(uint8_t, sc->n_faults ? sc->n_faults : 1);
	cov.restarted_at = g_new(au_time, (gsize)sc->cluster.nodes + 1);
	for (uint32_t i = 0; i <= sc->cluster.nodes; i++)
		cov.restarted_at[i] = -1;
	cov.left = g_new0(uint8_t, (gsize)sc->cluster.nodes + 1);
	cov.draining = g_new0(uint8_t, (gsize)sc->cluster.nodes + 1);
	cov.clock_off = g_new0(uint8_t, (gsize)sc->cluster.nodes + 1);
	cov.granted = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	cov.acked = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	cov.running = g_new0(uint32_t, (gsize)sc->cluster.nodes + 1);
	cov.lease = exec_lease(sc);
	cov.voters = g_new0(struct voter, (gsize)sc->cluster.nodes + 1);
	struct au_sim *sim = au_sim_new(sc, seed);
	au_sim_set_observer(sim, observe, &cov);
	au_sim_set_record_dump(sim, dump);
	int rc = au_sim_run(sim, sc->duration);
	if (rc == 0)
		rc = au_sim_finish(sim);
	res->rc = rc;
	res->out.rc = rc;
	const struct au_violation *v = au_sim_violation(sim);
	if (v) {
		g_strlcpy(res->out.check, v->check, sizeof(res->out.check));
		res->out.t_ns = v->t_ns;
		res->out.node = v->node;
		res->out.record = v->record;
		g_strlcpy(res->out.detail, v->detail, sizeof(res->out.detail));
	}
	au_sim_trace_hash(sim, res->out.hash);
	res->out.events = au_sim_stats(sim)->events;
	res->out.sim_ns = au_sim_stats(sim)->sim_time_ns;
	for (uint32_t i = 0; i < sc->n_faults; i++) {
		int k = au_chaos_fault_kind(sc->faults[i].name);
		if (k < 0)
			continue;
		res->planned |= 1u << k;
		bool applied = au_sim_fault_outcome(sim, i) == AU_FAULT_WAS_APPLIED && !cov.admin_failed[i];
		if (applied)
			res->applied |= 1u << k;
		if (applied && g_str_has_suffix(sc->faults[i].name, "-then-crash"))
			res->chains_applied = 1;
	}
	res->combos = cov.combos;
	const char *names[MAX_CHECKS], *results[MAX_CHECKS];
	size_t n = au_check_results(sim, names, results, MAX_CHECKS);
	res->n_checks = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		g_strlcpy(res->check_names[i], names[i], sizeof(res->check_names[i]));
		res->check_verdict[i] = (uint8_t)verdict_of(results[i]);
		au_check_reason(sim, i, res->check_reason[i], sizeof(res->check_reason[i]));
	}
	au_sim_free(sim);
	if (dump)
		fclose(dump);
	g_free(cov.node_paused);
	g_free(cov.admin_failed);
	g_free(cov.admin_seen);
	g_free(cov.restarted_at);
	g_free(cov.left);
	g_free(cov.draining);
	g_free(cov.clock_off);
	g_hash_table_destroy(cov.granted);
	g_hash_table_destroy(cov.acked);
	g_free(cov.running);
	g_free(cov.voters);
	au_scenario_free(sc);
}

static char *repro_path(const struct runner *R, uint64_t seed, const char *suffix)
{
	return g_strdup_printf("%s/repro-%" G_GUINT64_FORMAT "%s", R->out_dir, seed, suffix);
}

static void fmt_time(au_time t, char *buf, size_t len)
{
	g_snprintf(buf, len, "%" G_GINT64_FORMAT ".%09" G_GINT64_FORMAT "s", t / AU_NS_PER_S,
		   t % AU_NS_PER_S);
}

static void shrink_seed(const struct runner *R, const struct job *j, struct result *res)
{
	g_autofree char *text = seed_text(R, j->seed, false, NULL);
	char *min = NULL;
	res->shrink_rc = au_chaos_shrink(R->path, text, j->want, R->shrink_budget_s, &min, &res->shrink);
	if (res->shrink_rc != 0) {
		if (res->shrink.timed_out)
			g_snprintf(res->message, sizeof(res->message),
				   "one run takes longer than --shrink-time; try aureon-sim shrink "
				   "with a larger --time");
		else
			g_snprintf(res->message, sizeof(res->message),
				   "the reproducer did not fail %s again in a fresh process (%s)", j->want,
				   res->shrink.check[0] ? res->shrink.check : "it passed");
		return;
	}
	const struct au_shrink_stats *st = &res->shrink;
	char t[40], d0[32], d1[32];
	fmt_time(st->t_ns, t, sizeof(t));
	au_format_duration(st->duration_before, d0, sizeof(d0));
	au_format_duration(st->duration_after, d1, sizeof(d1));
	g_autofree char *file = repro_path(R, j->seed, ".min.ini");
	g_autofree char *base = g_path_get_basename(file);
	g_autofree char *header = g_strdup_printf(
		"aureon-sim chaos reproducer, shrunk: scenario %s (%s), seed %" G_GUINT64_FORMAT "\n"
		"Fails %s at t=%s; trace hash %s\n"
		"Replay: aureon-sim run %s\n"
		"Shrunk from %u to %u faults, %s to %s, %u to %u nodes, clients %u to %u, rates %u/s to\n"
		"%u/s (%u candidate runs, %.1f s%s).\n",
		R->sc->name, R->path, j->seed, st->check, t, st->hash, base, st->faults_before,
		st->faults_after, d0, d1, st->nodes_before, st->nodes_after, st->clients_before,
		st->clients_after, st->rate_before, st->rate_after, st->runs, st->wall_s,
		st->budget_hit ? ", stopped by the time budget" : "");
	struct au_ini *ini = au_ini_parse(min);
	au_ini_prepend_comment(ini, header);
	g_autofree char *out = au_ini_to_text(ini);
	au_ini_free(ini);
	g_free(min);
	GError *gerr = NULL;
	if (!g_file_set_contents(file, out, -1, &gerr)) {
		g_snprintf(res->message, sizeof(res->message), "%s", gerr->message);
		g_error_free(gerr);
		res->shrink_rc = -2;
		return;
	}
	g_strlcpy(res->message, file, sizeof(res->message));
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read exactly len bytes; false on EOF or error. */
static bool read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void worker_main(const struct runner *R, int in, int out)
{
	struct job j;
	while (read_all(in, &j, sizeof(j))) {
		struct timespec c0, c1;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
		struct result *res = g_new0(struct result, 1);
		res->type = j.type;
		res->index = j.index;
		res->seed = j.seed;
		switch (j.type) {
		case JOB_RUN:
			run_seed(R, j.seed, false, NULL, res);
			break;
		case JOB_RERUN:
			run_seed(R, j.seed, R->perturb_test, NULL, res);
			break;
		case JOB_DIAG: {
			g_autofree char *rec = g_strdup_printf("%s/nondet-%" G_GUINT64_FORMAT "-%c.records",
							       R->out_dir, j.seed, 'a' + (int)j.attempt);
			run_seed(R, j.seed, R->perturb_test && j.attempt == 1, rec, res);
			g_strlcpy(res->message, rec, sizeof(res->message));
			break;
		}
		case JOB_SHRINK:
			shrink_seed(R, &j, res);
			break;
		default:
			break;
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
		res->cpu_s = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
		bool ok = write_all(out, res, sizeof(*res));
		g_free(res);
		if (!ok)
			break;
	}
}

/* ---- the worker pool --------------------------------------------------- */

struct worker {
	pid_t pid;
	int to, from;
	bool busy;
	struct job job;
	double started;
};

struct pool {
	struct runner *R;
	struct worker *w;
	uint32_t n;
};

static bool spawn(struct pool *P, uint32_t i)
{
	int down[2], up[2];
	if (pipe(down) != 0)
		return false;
	if (pipe(up) != 0) {
		close(down[0]);
		close(down[1]);
		return false;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(down[0]);
		close(down[1]);
		close(up[0]);
		close(up[1]);
		return false;
	}
	if (pid == 0) {
		/* Only this worker's own ends stay open: a dead worker's pipe must
		 * reach EOF in the parent. */
		for (uint32_t k = 0; k < P->n; k++) {
			if (k == i || P->w[k].pid <= 0)
				continue;
			close(P->w[k].to);
			close(P->w[k].from);
		}
		close(down[1]);
		close(up[0]);
		signal(SIGPIPE, SIG_DFL);
		if (!P->R->verbose) {
			FILE *null = freopen("/dev/null", "w", stderr);
			(void)null;
		}
		worker_main(P->R, down[0], up[1]);
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	P->w[i] = (struct worker){.pid = pid, .to = down[1], .from = up[0]};
	return true;
}

static void reap(struct pool *P, uint32_t i, int *status)
{
	struct worker *w = &P->w[i];
	close(w->to);
	close(w->from);
	int st = 0;
	while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (status)
		*status = st;
	w->pid = -1;
}

static bool pool_start(struct pool *P, struct runner *R, uint32_t n)
{
	P->R = R;
	P->n = n;
	P->w = g_new0(struct worker, n);
	for (uint32_t i = 0; i < n; i++)
		P->w[i].pid = -1;
	for (uint32_t i = 0; i < n; i++)
		if (!spawn(P, i))
			return false;
	return true;
}

static void pool_stop(struct pool *P)
{
	for (uint32_t i = 0; i < P->n; i++)
		if (P->w[i].pid > 0)
			reap(P, i, NULL); /* closing its job pipe ends its loop */
	g_free(P->w);
}

typedef void (*on_result_fn)(void *ctx, const struct result *res);

/* Run a batch of jobs on the pool; on_result sees each result as it comes
 * (in completion order).  A dead or overdue worker fails its job with rc
 * 3 or 4 and is replaced.  False if workers could not be started. */
static bool run_batch(struct pool *P, struct job *jobs, uint32_t n, double limit_s,
		      on_result_fn on_result, void *ctx)
{
	uint32_t next = 0, done = 0;
	struct pollfd *pfd = g_new(struct pollfd, P->n);
	struct result *res = g_new0(struct result, 1);
	bool ok = true;
	while (done < n && ok) {
		for (uint32_t i = 0; i < P->n && next < n; i++) {
			struct worker *w = &P->w[i];
			if (w->pid <= 0 && !spawn(P, i)) {
				ok = false;
				break;
			}
			if (w->busy)
				continue;
			if (!write_all(w->to, &jobs[next], sizeof(jobs[next]))) {
				reap(P, i, NULL); /* died idle; respawn on the next pass */
				continue;
			}
			w->busy = true;
			w->job = jobs[next++];
			w->started = au_report_wall_seconds();
		}
		uint32_t np = 0;
		for (uint32_t i = 0; i < P->n; i++) {
			pfd[i].fd = P->w[i].busy ? P->w[i].from : -1;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			np += P->w[i].busy;
		}
		if (np == 0)
			continue;
		int pr = poll(pfd, P->n, 100);
		if (pr < 0 && errno != EINTR) {
			ok = false;
			break;
		}
		double t = au_report_wall_seconds();
		for (uint32_t i = 0; i < P->n; i++) {
			struct worker *w = &P->w[i];
			if (!w->busy)
				continue;
			bool ready = pfd[i].revents & (POLLIN | POLLHUP | POLLERR);
			bool overdue = t - w->started > limit_s;
			if (!ready && !overdue)
				continue;
			memset(res, 0, sizeof(*res));
			if (ready && read_all(w->from, res, sizeof(*res))) {
				w->busy = false;
			} else {
				int status = 0;
				if (overdue && !ready)
					kill(w->pid, SIGKILL);
				reap(P, i, &status);
				memset(res, 0, sizeof(*res));
				res->type = w->job.type;
				res->index = w->job.index;
				res->seed = w->job.seed;
				if (overdue && !ready) {
					res->rc = 4;
					g_strlcpy(res->out.check, "timeout", sizeof(res->out.check));
					g_snprintf(res->out.detail, sizeof(res->out.detail),
						   "no result after %.0f s of wall time (--timeout)", limit_s);
				} else {
					res->rc = 3;
					int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
					g_snprintf(res->out.check, sizeof(res->out.check), "signal %d", sig);
					g_snprintf(res->out.detail, sizeof(res->out.detail),
						   "the run crashed: %s (exit status %d)",
						   sig ? strsignal(sig) : "worker ended", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
				}
				res->out.rc = 1;
				res->shrink_rc = -1;
				w->busy = false;
			}
			done++;
			on_result(ctx, res);
		}
	}
	g_free(res);
	g_free(pfd);
	return ok;
}

/* ---- parsing ------------------------------------------------------------- */

/* "1-1000" or "3,17,40-50" into a list; *why says what is wrong. */
static GArray *parse_seeds(const char *spec, const char **why)
{
	GArray *seeds = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	g_auto(GStrv) items = g_strsplit(spec, ",", -1);
	for (gsize i = 0; items[i]; i++) {
		char *item = g_strstrip(items[i]);
		uint64_t a, b;
		char *dash = strchr(item, '-');
		if (dash) {
			*dash = '\0';
			if (!au_parse_u64(item, &a) || !au_parse_u64(dash + 1, &b)) {
				*why = "a range is A-B with whole numbers A <= B";
				goto bad;
			}
		} else if (!au_parse_u64(item, &a)) {
			*why = "seeds are whole numbers, ranges A-B, separated by commas";
			goto bad;
		} else {
			b = a;
		}
		if (a == 0) {
			*why = "seeds start at 1 (seed 0 means 'not set' in a scenario file)";
			goto bad;
		}
		if (b < a) {
			*why = "a range A-B needs A <= B";
			goto bad;
		}
		if (b - a >= MAX_SEEDS || seeds->len + (b - a + 1) > MAX_SEEDS) {
			*why = "more than 10,000,000 seeds in one sweep (split it with --shard)";
			goto bad;
		}
		for (uint64_t s = a;; s++) {
			g_array_append_val(seeds, s);
			if (s == b)
				break;
		}
	}
	if (seeds->len == 0) {
		*why = "no seeds given";
		goto bad;
	}
	return seeds;
bad:
	g_array_free(seeds, TRUE);
	return NULL;
}

static int usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "aureon-sim chaos: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n\n%s", usage_chaos);
	va_end(ap);
	return EXIT_USAGE;
}

/* A fixed pseudo-random pick of PCT % of the seeds (SplitMix64 of the
 * seed), the same whatever the shard or job count. */
static bool sampled(uint64_t seed, double pct)
{
	uint64_t z = au_hash_mix64(seed);
	return (double)(z % 1000000) < pct * 10000.0;
}

/* ---- the sweep ------------------------------------------------------------ */

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
	int io_error;
	/* determinism */
	uint32_t *det_idx, n_det, det_mismatch;
	GString *det_report;
	/* diag results */
	struct result *diag;
};

static void hex_to_bin(const char *hex, uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v = 0;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void bin_to_hex(const uint8_t in[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		g_snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* The checks of a run (all of them, or those with one verdict) as bits
 * into R->check_names, which learns names as they come. */
static uint16_t check_bits(struct runner *R, const struct result *res, int verdict)
{
	uint16_t bits = 0;
	for (uint32_t i = 0; i < res->n_checks && i < MAX_CHECKS; i++) {
		if (verdict >= 0 && res->check_verdict[i] != verdict)
			continue;
		uint32_t k = 0;
		while (k < R->n_check_names && strcmp(R->check_names[k], res->check_names[i]) != 0)
			k++;
		if (k == R->n_check_names && k < 16)
			R->check_names[R->n_check_names++] = g_strdup(res->check_names[i]);
		if (k < 16)
			bits |= (uint16_t)(1u << k);
	}
	return bits;
}

static void clear_progress(struct sweep *S)
{
	if (S->progress)
		fprintf(stderr, "\r%78s\r", "");
}

static void draw_progress(struct sweep *S, bool force)
{
	double t = au_report_wall_seconds();
	if (!S->progress || (!force && t - S->last_draw < 0.1))
		return;
	S->last_draw = t;
	double el = t - S->t0, rate = el > 0 ? S->done / el : 0;
	double eta = rate > 0 ? (S->n - S->done) / rate : 0;
	char bar[21];
	uint32_t fill = S->n ? (uint32_t)((uint64_t)S->done * 20 / S->n) : 20;
	for (uint32_t i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[20] = '\0';
	fprintf(stderr, "\r[%s] %u/%u seeds, %u failed, %.1f seeds/s, ETA %dm%02ds ", bar, S->done,
		S->n, S->failed, rate, (int)eta / 60, (int)eta % 60);
}

/* " on nK", or nothing for checks that fail on no node (end of run). */
static const char *on_node(au_node_id n)
{
	static char buf[24];
	if (!n)
		return "";
	g_snprintf(buf, sizeof(buf), " on n%u", n);
	return buf;
}

static void write_repro(struct sweep *S, const struct result *res)
{
	struct runner *R = S->R;
	char t[40];
	fmt_time(res->out.t_ns, t, sizeof(t));
	g_autofree char *file = repro_path(R, res->seed, ".ini");
	g_autofree char *base = g_path_get_basename(file);
	g_autofree char *kinds = au_chaos_kind_list(res->enabled);
	g_autofree char *header = g_strdup_printf(
		"aureon-sim chaos reproducer: scenario %s (%s), seed %" G_GUINT64_FORMAT "\n"
		"Every generated fault is spelled out below as a [fault.chaos-*] group.\n"
		"Replay: aureon-sim run %s\n"
		"Fails: %s at t=%s%s, trace record %" G_GUINT64_FORMAT ": %s\n"
		"Trace hash: %s\n"
		"Fault kinds on for this seed: %s\n",
		R->sc->name, R->path, res->seed, base, res->out.check, t, on_node(res->out.node),
		res->out.record, res->out.detail, res->rc == 1 ? res->out.hash : "(none: the run crashed)",
		kinds);
	g_autofree char *text = seed_text(R, res->seed, false, NULL);
	struct au_ini *ini = au_ini_parse(text);
	au_ini_prepend_comment(ini, header);
	g_autofree char *out = au_ini_to_text(ini);
	au_ini_free(ini);
	GError *err = NULL;
	if (!g_file_set_contents(file, out, -1, &err)) {
		fprintf(stderr, "aureon-sim chaos: %s\n", err->message);
		g_error_free(err);
		S->io_error = 1;
	}
}

/* A passing run whose checks did not all reach a verdict: one line per
 * such check, so a pass never hides what it did not cover. */
static void emit_no_verdict(struct sweep *S, const struct seed_rec *r)
{
	const struct result *res = r->full;
	for (uint32_t i = 0; i < res->n_checks && i < MAX_CHECKS; i++) {
		if (res->check_verdict[i] != V_NOT_RUN && res->check_verdict[i] != V_UNKNOWN)
			continue;
		clear_progress(S);
		printf("NO VERDICT seed %" G_GUINT64_FORMAT ": %s %s (%s)\n", r->seed,
		       res->check_names[i], verdict_names[res->check_verdict[i]], res->check_reason[i]);
	}
	fflush(stdout);
}

/* Print failures (and passes without every verdict) in seed order, as far
 * as results are in. */
static void emit_in_order(struct sweep *S)
{
	while (S->emitted < S->n && S->recs[S->emitted].done) {
		struct seed_rec *r = &S->recs[S->emitted++];
		if (!r->full)
			continue;
		if (r->rc == 0) {
			if (!S->json)
				emit_no_verdict(S, r);
			continue;
		}
		const struct result *res = r->full;
		write_repro(S, res);
		if (S->json)
			continue;
		clear_progress(S);
		char t[40];
		fmt_time(res->out.t_ns, t, sizeof(t));
		g_autofree char *file = repro_path(S->R, r->seed, ".ini");
		if (res->rc == 1)
			printf("FAIL seed %" G_GUINT64_FORMAT ": %s at t=%s%s (trace record %" G_GUINT64_FORMAT
			       "): %s\n     reproducer: %s\n",
			       r->seed, res->out.check, t, on_node(res->out.node), res->out.record,
			       res->out.detail, file);
		else
			printf("FAIL seed %" G_GUINT64_FORMAT ": %s\n     reproducer: %s\n", r->seed,
			       res->out.detail, file);
		fflush(stdout);
	}
}

static void on_run_result(void *ctx, const struct result *res)
{
	struct sweep *S = ctx;
	struct seed_rec *r = &S->recs[res->index];
	r->done = true;
	S->cpu_s += res->cpu_s;
	r->rc = (int8_t)res->rc;
	r->enabled = res->enabled;
	r->planned = res->planned;
	r->applied = res->applied;
	r->chains_planned = res->chains_planned;
	r->chains_applied = res->chains_applied;
	r->combos = res->combos;
	(void)check_bits(S->R, res, -1); /* learn new names in the run's order */
	for (int v = 0; v < V_COUNT_; v++)
		r->checks[v] = check_bits(S->R, res, v);
	if (res->rc <= 1)
		hex_to_bin(res->out.hash, r->hash);
	if (res->rc != 0 || r->checks[V_NOT_RUN] || r->checks[V_UNKNOWN])
		r->full = g_memdup2(res, sizeof(*res));
	if (res->rc != 0)
		S->failed++;
	if (res->rc == 2) { /* a generator bug: say so at once */
		clear_progress(S);
		fprintf(stderr, "aureon-sim chaos: seed %" G_GUINT64_FORMAT ": %s\n", res->seed,
			res->out.detail);
	}
	S->done++;
	emit_in_order(S);
	draw_progress(S, false);
}

static void on_rerun_result(void *ctx, const struct result *res)
{
	struct sweep *S = ctx;
	struct seed_rec *r = &S->recs[S->det_idx[res->index]];
	char h0[65];
	bin_to_hex(r->hash, h0);
	if (res->rc > 1 || strcmp(h0, res->out.hash) != 0) {
		S->det_mismatch++;
		g_string_append_printf(S->det_report, "seed %" G_GUINT64_FORMAT ": trace hash %s, re-run %s\n",
				       r->seed, h0, res->rc > 1 ? res->out.detail : res->out.hash);
		/* Remember which seeds to diagnose: reuse the index slot. */
		S->det_idx[res->index] |= 0x80000000u;
	}
}

static void on_diag_result(void *ctx, const struct result *res)
{
	struct sweep *S = ctx;
	S->diag[res->index] = *res;
}

static void on_shrink_result(void *ctx, const struct result *res)
{
	struct sweep *S = ctx;
	S->diag[res->index] = *res;
}

/* First differing line of two record dumps, as a report. */
static char *first_divergence(const char *a, const char *b)
{
	FILE *f[2] = {fopen(a, "r"), fopen(b, "r")};
	if (!f[0] || !f[1]) {
		if (f[0])
			fclose(f[0]);
		if (f[1])
			fclose(f[1]);
		return g_strdup("(record dumps could not be read)");
	}
	char *line[2] = {NULL, NULL};
	size_t cap[2] = {0, 0};
	char *out = NULL;
	for (uint64_t i = 0;; i++) {
		ssize_t n0 = getline(&line[0], &cap[0], f[0]);
		ssize_t n1 = getline(&line[1], &cap[1], f[1]);
		if (n0 < 0 && n1 < 0) {
			out = g_strdup_printf("the two record dumps are identical (%" G_GUINT64_FORMAT " records)", i);
			break;
		}
		if (n0 < 0 || n1 < 0 || strcmp(line[0], line[1]) != 0) {
			out = g_strdup_printf("first divergent record %" G_GUINT64_FORMAT ":\n    A: %s    B: %s", i,
					      n0 < 0 ? "(ended)\n" : line[0], n1 < 0 ? "(ended)\n" : line[1]);
			break;
		}
	}
	free(line[0]);
	free(line[1]);
	fclose(f[0]);
	fclose(f[1]);
	return out;
}

/* ---- reports -------------------------------------------------------------- */

static void xml_str(GString *o, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '<': g_string_append(o, "&lt;"); break;
		case '>': g_string_append(o, "&gt;"); break;
		case '&': g_string_append(o, "&amp;"); break;
		case '"': g_string_append(o, "&quot;"); break;
		default:
			if (*p < 0x20 && *p != '\n' && *p != '\t')
				g_string_append_c(o, ' ');
			else
				g_string_append_c(o, (char)*p);
		}
	}
}

struct totals {
	uint32_t enabled[AU_CK_COUNT_], planned[AU_CK_COUNT_], applied[AU_CK_COUNT_];
	uint32_t combos[CB_COUNT_];
	uint32_t chains_planned, chains_applied;
	uint32_t ran[16], verdicts[V_COUNT_][16]; /* runs a check was on in; per verdict */
	uint32_t order[16]; /* check names sorted */
};

static gint name_cmp(gconstpointer a, gconstpointer b, gpointer names)
{
	char **n = names;
	return strcmp(n[*(const uint32_t *)a], n[*(const uint32_t *)b]);
}

static void tally(const struct sweep *S, struct totals *T)
{
	memset(T, 0, sizeof(*T));
	for (uint32_t i = 0; i < S->n; i++) {
		const struct seed_rec *r = &S->recs[i];
		for (int k = 0; k < AU_CK_COUNT_; k++) {
			T->enabled[k] += (r->enabled >> k) & 1u;
			T->planned[k] += (r->planned >> k) & 1u;
			T->applied[k] += (r->applied >> k) & 1u;
		}
		for (int c = 0; c < CB_COUNT_; c++)
			T->combos[c] += (r->combos >> c) & 1u;
		T->chains_planned += r->chains_planned;
		T->chains_applied += r->chains_applied;
		for (uint32_t c = 0; c < S->R->n_check_names; c++)
			for (int v = 0; v < V_COUNT_; v++) {
				T->ran[c] += (r->checks[v] >> c) & 1u;
				T->verdicts[v][c] += (r->checks[v] >> c) & 1u;
			}
	}
	for (uint32_t c = 0; c < 16; c++)
		T->order[c] = c;
	g_qsort_with_data(T->order, (gint)S->R->n_check_names, sizeof(uint32_t), name_cmp,
			  S->R->check_names);
}

static bool runs_service(const struct au_scenario *sc, const char *name)
{
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (strcmp(sc->cluster.services[i]->name, name) == 0)
			return true;
	return false;
}

/* Is situation `c` one this scenario's services can produce? */
static bool combo_listed(const struct au_scenario *sc, int c)
{
	return (runs_service(sc, "raft") || !(RAFT_COMBOS & (1u << c))) &&
	       (exec_lease(sc) || !(EXEC_COMBOS & (1u << c))) &&
	       (runs_service(sc, "swim") || !(SWIM_COMBOS & (1u << c)));
}

static void print_coverage(const struct sweep *S, const struct totals *T, uint32_t kinds_allowed)
{
	printf("coverage over %u runs (blind spots marked <-- never)\n", S->n);
	printf("  %-18s %8s %8s %8s\n", "fault kind", "enabled", "planned", "applied");
	for (int k = 0; k < AU_CK_COUNT_; k++) {
		if (!(kinds_allowed & (1u << k)))
			continue;
		printf("  %-18s %8u %8u %8u%s\n", au_chaos_kind_name((enum au_chaos_kind)k), T->enabled[k],
		       T->planned[k], T->applied[k], T->applied[k] ? "" : "  <-- never");
	}
	/* Correlated chains ([chaos] correlated): on in every run where the
	 * chance is above 0, planned where a plan holds one, applied where one
	 * of its follow-up crashes was. */
	if (S->R->sc->chaos->correlated > 0)
		printf("  %-18s %8u %8u %8u%s\n", "correlated", S->n, T->chains_planned,
		       T->chains_applied, T->chains_applied ? "" : "  <-- never");
	printf("  %-48s %8s\n", "situation", "runs");
	for (int c = 0; c < CB_COUNT_; c++)
		if (combo_listed(S->R->sc, c))
			printf("  %-48s %8u%s\n", combo_names[c], T->combos[c],
			       T->combos[c] ? "" : "  <-- never");
	/* ran: runs the check was on in; not run: its judgement never came
	 * (mostly: another check stopped the run first); unknown: it could not
	 * decide (linearizable_kv's search budget). */
	if (S->R->n_check_names == 0)
		printf("  (no checker runs for these services)\n");
	else
		printf("  %-24s %8s %8s %8s %8s\n", "check", "ran", "failed", "not run", "unknown");
	for (uint32_t i = 0; i < S->R->n_check_names; i++) {
		uint32_t c = T->order[i];
		printf("  %-24s %8u %8u %8u %8u\n", S->R->check_names[c], T->ran[c],
		       T->verdicts[V_FAIL][c], T->verdicts[V_NOT_RUN][c], T->verdicts[V_UNKNOWN][c]);
	}
}

/* Skipped test cases "seed N: CHECK", one per check of the run that reached
 * no verdict, so CI tools show what a run did not judge; returns how many. */
static uint32_t junit_no_verdict(const struct sweep *S, const struct seed_rec *r, GString *o)
{
	uint32_t n = 0;
	const struct result *res = r->full;
	for (uint32_t i = 0; res && i < res->n_checks && i < MAX_CHECKS; i++) {
		if (res->check_verdict[i] != V_NOT_RUN && res->check_verdict[i] != V_UNKNOWN)
			continue;
		n++;
		if (!o)
			continue;
		g_string_append(o, "    <testcase classname=\"chaos.");
		xml_str(o, S->R->sc->name);
		g_string_append_printf(o, "\" name=\"seed %" G_GUINT64_FORMAT ": ", r->seed);
		xml_str(o, res->check_names[i]);
		g_autofree char *msg = g_strdup_printf("%s: %s", verdict_names[res->check_verdict[i]],
						       res->check_reason[i]);
		g_string_append(o, "\">\n      <skipped message=\"");
		xml_str(o, msg);
		g_string_append(o, "\"/>\n    </testcase>\n");
	}
	return n;
}

/* `"checks": {name: verdict}, "check_reasons": {name: why}` of one run, as
 * `aureon-sim run --json` prints them. */
static void json_checks(GString *o, const struct result *res)
{
	g_string_append(o, "\"checks\": {");
	for (uint32_t i = 0; i < res->n_checks && i < MAX_CHECKS; i++) {
		g_string_append(o, i ? ", " : "");
		au_report_json_string(o, res->check_names[i]);
		g_string_append_printf(o, ": \"%s\"", verdict_names[res->check_verdict[i]]);
	}
	g_string_append(o, "}, \"check_reasons\": {");
	bool first = true;
	for (uint32_t i = 0; i < res->n_checks && i < MAX_CHECKS; i++) {
		if (res->check_verdict[i] != V_NOT_RUN && res->check_verdict[i] != V_UNKNOWN)
			continue;
		g_string_append(o, first ? "" : ", ");
		au_report_json_string(o, res->check_names[i]);
		g_string_append(o, ": ");
		au_report_json_string(o, res->check_reason[i]);
		first = false;
	}
	g_string_append(o, "}");
}

/* JUnit XML: a test case per seed (with a failure element if it failed),
 * and a skipped test case per check a run did not judge. */
static bool write_junit(const struct sweep *S, const char *path, double wall)
{
	uint32_t skipped = 0;
	for (uint32_t i = 0; i < S->n; i++)
		skipped += junit_no_verdict(S, &S->recs[i], NULL);
	GString *o = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
	g_string_append(o, "  <testsuite name=\"chaos ");
	xml_str(o, S->R->sc->name);
	g_string_append_printf(o, "\" tests=\"%u\" failures=\"%u\" errors=\"0\" skipped=\"%u\" "
			       "time=\"%.3f\">\n", S->n + skipped, S->failed, skipped, wall);
	for (uint32_t i = 0; i < S->n; i++) {
		const struct seed_rec *r = &S->recs[i];
		g_string_append(o, "    <testcase classname=\"chaos.");
		xml_str(o, S->R->sc->name);
		g_string_append_printf(o, "\" name=\"seed %" G_GUINT64_FORMAT "\"", r->seed);
		if (r->rc == 0 || !r->full) {
			g_string_append(o, "/>\n");
			junit_no_verdict(S, r, o);
			continue;
		}
		const struct result *res = r->full;
		char t[40];
		fmt_time(res->out.t_ns, t, sizeof(t));
		g_autofree char *file = repro_path(S->R, r->seed, ".ini");
		g_autofree char *msg = g_strdup_printf("%s at t=%s", res->out.check, t);
		g_string_append(o, ">\n      <failure message=\"");
		xml_str(o, msg);
		g_string_append(o, "\">");
		g_autofree char *body = g_strdup_printf("%s\nreproducer: %s (aureon-sim run %s)\n",
							res->out.detail, file, file);
		xml_str(o, body);
		g_string_append(o, "</failure>\n    </testcase>\n");
		junit_no_verdict(S, r, o);
	}
	g_string_append(o, "  </testsuite>\n</testsuites>\n");
	GError *err = NULL;
	bool ok = g_file_set_contents(path, o->str, (gssize)o->len, &err);
	if (!ok) {
		fprintf(stderr, "aureon-sim chaos: --junit %s\n", err->message);
		g_error_free(err);
	}
	g_string_free(o, TRUE);
	return ok;
}

/* ---- main ---------------------------------------------------------------- */

int au_chaos_main(int argc, char **argv)
{
	const char *path = NULL, *seeds_spec = NULL, *out_dir = "chaos-out", *junit = NULL;
	bool json = false, quiet = false, verbose = false, unrestricted = false;
	double det_pct = 0, shrink_budget = 60, timeout = 300;
	uint64_t jobs = 0, shard_k = 1, shard_n = 1, shrink_n = 3;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_chaos, stdout);
			return EXIT_PASS;
		} else if (strcmp(a, "--seeds") == 0) {
			if (!val)
				return usage_error("--seeds needs a list, e.g. 1-1000 or 3,17,40-50");
			seeds_spec = val;
			i++;
		} else if (strcmp(a, "--jobs") == 0) {
			if (!au_parse_u64(val, &jobs) || jobs < 1 || jobs > 256)
				return usage_error("--jobs needs a number of workers in 1..256");
			i++;
		} else if (strcmp(a, "--shard") == 0) {
			g_auto(GStrv) kn = val ? g_strsplit(val, "/", 2) : NULL;
			if (!kn || g_strv_length(kn) != 2 || !au_parse_u64(kn[0], &shard_k) ||
			    !au_parse_u64(kn[1], &shard_n) || shard_n < 1 || shard_k < 1 || shard_k > shard_n)
				return usage_error("--shard needs K/N with 1 <= K <= N (e.g. 3/8)");
			i++;
		} else if (strcmp(a, "--out") == 0) {
			if (!val || !*val)
				return usage_error("--out needs a directory");
			out_dir = val;
			i++;
		} else if (strcmp(a, "--junit") == 0) {
			if (!val || !*val)
				return usage_error("--junit needs a file name");
			junit = val;
			i++;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--quiet") == 0) {
			quiet = true;
		} else if (strcmp(a, "--verbose") == 0) {
			verbose = true;
		} else if (strcmp(a, "--unrestricted") == 0) {
			unrestricted = true;
		} else if (strcmp(a, "--check-determinism") == 0) {
			det_pct = 5;
		} else if (g_str_has_prefix(a, "--check-determinism=")) {
			char *end;
			const char *v = a + strlen("--check-determinism=");
			det_pct = g_ascii_strtod(v, &end);
			if (!*v || *end || !(det_pct > 0 && det_pct <= 100))
				return usage_error("--check-determinism=PCT needs a percentage in (0, 100]");
		} else if (strcmp(a, "--shrink") == 0) {
			if (!au_parse_u64(val, &shrink_n) || shrink_n > 1000)
				return usage_error("--shrink needs a count of failures to shrink, 0..1000");
			i++;
		} else if (strcmp(a, "--no-shrink") == 0) {
			shrink_n = 0;
		} else if (strcmp(a, "--shrink-time") == 0 || strcmp(a, "--timeout") == 0) {
			char *end = NULL;
			double v = val ? g_ascii_strtod(val, &end) : 0;
			if (!val || !*val || *end || !(v > 0 && v <= 86400))
				return usage_error("%s needs seconds, more than 0 and at most 86400", a);
			*(strcmp(a, "--timeout") == 0 ? &timeout : &shrink_budget) = v;
			i++;
		} else if (a[0] == '-') {
			return usage_error("unknown option %s", a);
		} else if (!path) {
			path = a;
		} else {
			return usage_error("more than one scenario given (%s, %s)", path, a);
		}
	}
	if (!path)
		return usage_error("chaos needs a scenario file");
	if (!seeds_spec)
		return usage_error("chaos needs --seeds (e.g. --seeds 1-1000)");
	const char *why = NULL;
	GArray *all_seeds = parse_seeds(seeds_spec, &why);
	if (!all_seeds)
		return usage_error("--seeds %s: %s", seeds_spec, why);
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load(path, &err);
	if (!sc) {
		fprintf(stderr, "aureon-sim: %s\n", err);
		g_free(err);
		g_array_free(all_seeds, TRUE);
		return EXIT_USAGE;
	}
	if (unrestricted)
		sc->chaos->mode = AU_CHAOS_UNRESTRICTED;
	if (sc->chaos->mode == AU_CHAOS_SWARM && sc->chaos->start + sc->chaos->quiet_period + AU_NS_PER_MS >= sc->duration) {
		fprintf(stderr, "aureon-sim: %s: no time for chaos faults: the run is %" G_GINT64_FORMAT
			" ns and the quiet period before liveness checks %" G_GINT64_FORMAT " ns; add "
			"[chaos] quiet_period (or a longer [run] duration)\n",
			path, sc->duration, sc->chaos->quiet_period);
		au_scenario_free(sc);
		g_array_free(all_seeds, TRUE);
		return EXIT_USAGE;
	}
	if (g_mkdir_with_parents(out_dir, 0755) != 0) {
		fprintf(stderr, "aureon-sim chaos: --out %s: cannot create: %s\n", out_dir, strerror(errno));
		au_scenario_free(sc);
		g_array_free(all_seeds, TRUE);
		return EXIT_USAGE;
	}
	if (jobs == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = cpus > 0 ? (uint64_t)cpus : 1;
	}
	/* This machine's share of the list. */
	GArray *seeds = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	for (guint i = (guint)(shard_k - 1); i < all_seeds->len; i += (guint)shard_n)
		g_array_append_val(seeds, g_array_index(all_seeds, uint64_t, i));
	g_array_free(all_seeds, TRUE);
	if (seeds->len == 0) {
		g_array_free(seeds, TRUE);
		au_scenario_free(sc);
		return usage_error("--shard %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
				   " leaves no seeds of the list to this machine", shard_k, shard_n);
	}
	if (jobs > seeds->len)
		jobs = seeds->len;

	struct runner R = {.sc = sc, .path = path, .out_dir = g_strdup(out_dir), .verbose = verbose,
			   .shrink_budget_s = shrink_budget, .timeout_s = timeout};
	const char *nd = getenv("AU_CHAOS_TEST_NONDET");
	R.perturb_test = nd && *nd && strcmp(nd, "0") != 0;
	signal(SIGPIPE, SIG_IGN);
	struct pool P;
	struct sweep S = {.R = &R, .n = seeds->len, .json = json};
	S.progress = !quiet && isatty(STDERR_FILENO);
	S.recs = g_new0(struct seed_rec, S.n);
	S.det_report = g_string_new(NULL);
	int rc = EXIT_PASS;
	if (!pool_start(&P, &R, (uint32_t)jobs)) {
		fprintf(stderr, "aureon-sim chaos: cannot start workers: %s\n", strerror(errno));
		rc = EXIT_USAGE;
		goto out;
	}
	if (!json && !quiet)
		printf("chaos: %s (%s), %u seeds%s, %u workers\n", sc->name, path, S.n,
		       shard_n > 1 ? " (this shard)" : "", (uint32_t)jobs);
	fflush(stdout);

	/* (1) every seed */
	struct job *jv = g_new0(struct job, S.n);
	for (uint32_t i = 0; i < S.n; i++) {
		S.recs[i].seed = g_array_index(seeds, uint64_t, i);
		jv[i] = (struct job){.type = JOB_RUN, .index = i, .seed = S.recs[i].seed};
	}
	S.t0 = au_report_wall_seconds();
	if (!run_batch(&P, jv, S.n, timeout, on_run_result, &S))
		rc = EXIT_USAGE;
	double sweep_wall = au_report_wall_seconds() - S.t0;
	draw_progress(&S, true);
	clear_progress(&S);
	g_free(jv);

	/* (2) determinism sample */
	if (det_pct > 0 && rc != EXIT_USAGE) {
		S.det_idx = g_new0(uint32_t, S.n);
		for (uint32_t i = 0; i < S.n; i++)
			if (S.recs[i].rc <= 1 && sampled(S.recs[i].seed, det_pct))
				S.det_idx[S.n_det++] = i;
		for (uint32_t i = 0; S.n_det == 0 && i < S.n; i++)
			if (S.recs[i].rc <= 1)
				S.det_idx[S.n_det++] = i;
		jv = g_new0(struct job, S.n_det ? S.n_det : 1);
		for (uint32_t i = 0; i < S.n_det; i++)
			jv[i] = (struct job){.type = JOB_RERUN, .index = i, .seed = S.recs[S.det_idx[i]].seed};
		run_batch(&P, jv, S.n_det, timeout, on_rerun_result, &S);
		g_free(jv);
		/* Mismatches (the first three): run twice more with record dumps
		 * and name the first record where they split. */
		uint32_t diagnosed = 0;
		for (uint32_t i = 0; i < S.n_det && diagnosed < 3; i++) {
			if (!(S.det_idx[i] & 0x80000000u))
				continue;
			diagnosed++;
			uint64_t seed = S.recs[S.det_idx[i] & 0x7fffffffu].seed;
			struct job dj[2] = {{.type = JOB_DIAG, .index = 0, .seed = seed, .attempt = 0},
					    {.type = JOB_DIAG, .index = 1, .seed = seed, .attempt = 1}};
			S.diag = g_new0(struct result, 2);
			run_batch(&P, dj, 2, timeout, on_diag_result, &S);
			g_autofree char *div = first_divergence(S.diag[0].message, S.diag[1].message);
			g_strchomp(div);
			g_string_append_printf(S.det_report, "  seed %" G_GUINT64_FORMAT " run twice more with "
					       "record dumps (%s, %s): %s\n", seed, S.diag[0].message,
					       S.diag[1].message, div);
			g_free(S.diag);
			S.diag = NULL;
		}
		if (S.det_mismatch)
			rc = EXIT_FAIL;
	}

	/* (3) shrink the first failures */
	uint32_t n_shrink = 0;
	uint32_t *shrink_idx = g_new0(uint32_t, S.n);
	for (uint32_t i = 0; i < S.n && n_shrink < shrink_n && rc != EXIT_USAGE; i++)
		if (S.recs[i].full && (S.recs[i].rc == 1 || S.recs[i].rc == 3))
			shrink_idx[n_shrink++] = i;
	struct result *shrunk = NULL;
	if (n_shrink) {
		if (!json && !quiet)
			printf("shrinking %u failing seed%s (budget %.0f s each)...\n", n_shrink,
			       n_shrink > 1 ? "s" : "", shrink_budget);
		fflush(stdout);
		jv = g_new0(struct job, n_shrink);
		for (uint32_t i = 0; i < n_shrink; i++) {
			const struct seed_rec *r = &S.recs[shrink_idx[i]];
			jv[i] = (struct job){.type = JOB_SHRINK, .index = i, .seed = r->seed};
			g_strlcpy(jv[i].want, r->full->out.check, sizeof(jv[i].want));
		}
		S.diag = g_new0(struct result, n_shrink);
		run_batch(&P, jv, n_shrink, shrink_budget * 3 + 60, on_shrink_result, &S);
		shrunk = S.diag;
		S.diag = NULL;
		g_free(jv);
	}
	pool_stop(&P);

	/* ---- report ---- */
	struct totals T;
	tally(&S, &T);
	uint32_t kinds_allowed = sc->chaos->mode == AU_CHAOS_UNRESTRICTED ? au_chaos_supported_kinds(sc)
									 : sc->chaos->kinds;
	double per_min = sweep_wall > 0 ? S.n / sweep_wall * 60.0 : 0;
	if (S.failed)
		rc = rc == EXIT_USAGE ? rc : EXIT_FAIL;
	if (json) {
		GString *o = g_string_new("{\"scenario\": ");
		au_report_json_string(o, sc->name);
		g_string_append(o, ", \"path\": ");
		au_report_json_string(o, path);
		g_string_append_printf(o, ", \"mode\": \"%s\", \"seeds_run\": %u, \"failed\": %u, \"jobs\": %u"
				       ", \"shard\": \"%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "\""
				       ", \"wall_s\": %.3f, \"seeds_per_minute\": %.1f"
				       ", \"cpu_s\": %.3f, \"cpu_ms_per_seed\": %.2f",
				       sc->chaos->mode == AU_CHAOS_UNRESTRICTED ? "unrestricted" : "swarm",
				       S.n, S.failed, (uint32_t)jobs, shard_k, shard_n, sweep_wall, per_min,
				       S.cpu_s, S.cpu_s * 1000.0 / S.n);
		g_string_append(o, ", \"failures_per_check\": {");
		GHashTable *per = g_hash_table_new(g_str_hash, g_str_equal);
		GPtrArray *order = g_ptr_array_new();
		for (uint32_t i = 0; i < S.n; i++) {
			const struct seed_rec *r = &S.recs[i];
			if (!r->full || r->rc == 0)
				continue;
			const char *c = r->full->out.check[0] ? r->full->out.check : "load_error";
			gpointer old = g_hash_table_lookup(per, c);
			if (!old)
				g_ptr_array_add(order, (gpointer)c);
			g_hash_table_insert(per, (gpointer)c, GUINT_TO_POINTER(GPOINTER_TO_UINT(old) + 1));
		}
		for (guint i = 0; i < order->len; i++) {
			const char *c = g_ptr_array_index(order, i);
			g_string_append(o, i ? ", " : "");
			au_report_json_string(o, c);
			g_string_append_printf(o, ": %u", GPOINTER_TO_UINT(g_hash_table_lookup(per, c)));
		}
		g_ptr_array_free(order, TRUE);
		g_hash_table_destroy(per);
		g_string_append(o, "}, \"failing_seeds\": [");
		bool first = true;
		for (uint32_t i = 0; i < S.n; i++) {
			const struct seed_rec *r = &S.recs[i];
			if (!r->full || r->rc == 0)
				continue;
			const struct result *res = r->full;
			g_autofree char *file = repro_path(&R, r->seed, ".ini");
			g_string_append_printf(o, "%s{\"seed\": %" G_GUINT64_FORMAT ", \"check\": ",
					       first ? "" : ", ", r->seed);
			au_report_json_string(o, res->out.check);
			g_string_append_printf(o, ", \"t_ns\": %" G_GINT64_FORMAT ", \"node\": %u, \"record\": %"
					       G_GUINT64_FORMAT ", \"detail\": ", res->out.t_ns, res->out.node,
					       res->out.record);
			au_report_json_string(o, res->out.detail);
			g_string_append(o, ", \"trace_hash\": ");
			au_report_json_string(o, res->rc == 1 ? res->out.hash : "");
			g_string_append(o, ", \"reproducer\": ");
			au_report_json_string(o, file);
			g_string_append(o, ", ");
			json_checks(o, res);
			for (uint32_t s = 0; s < n_shrink; s++) {
				if (shrink_idx[s] != i)
					continue;
				const struct au_shrink_stats *st = &shrunk[s].shrink;
				g_string_append(o, ", \"shrunk\": ");
				if (shrunk[s].shrink_rc == 0) {
					g_string_append(o, "{\"file\": ");
					au_report_json_string(o, shrunk[s].message);
					g_string_append_printf(o, ", \"faults_before\": %u, \"faults_after\": %u, "
							       "\"duration_before_ns\": %" G_GINT64_FORMAT
							       ", \"duration_after_ns\": %" G_GINT64_FORMAT
							       ", \"nodes_before\": %u, \"nodes_after\": %u, "
							       "\"runs\": %u, \"wall_s\": %.3f, \"budget_hit\": %s, "
							       "\"t_ns\": %" G_GINT64_FORMAT ", \"trace_hash\": \"%s\"}",
							       st->faults_before, st->faults_after, st->duration_before,
							       st->duration_after, st->nodes_before, st->nodes_after,
							       st->runs, st->wall_s, st->budget_hit ? "true" : "false",
							       st->t_ns, st->hash);
				} else {
					g_string_append(o, "{\"error\": ");
					au_report_json_string(o, shrunk[s].message);
					g_string_append(o, "}");
				}
			}
			g_string_append(o, "}");
			first = false;
		}
		/* passing runs in which a check reached no verdict */
		g_string_append(o, "], \"no_verdict_seeds\": [");
		first = true;
		for (uint32_t i = 0; i < S.n; i++) {
			const struct seed_rec *r = &S.recs[i];
			if (!r->full || r->rc != 0)
				continue;
			g_string_append_printf(o, "%s{\"seed\": %" G_GUINT64_FORMAT ", ", first ? "" : ", ",
					       r->seed);
			json_checks(o, r->full);
			g_string_append(o, "}");
			first = false;
		}
		g_string_append(o, "], \"coverage\": {\"kinds\": {");
		first = true;
		for (int k = 0; k < AU_CK_COUNT_; k++) {
			if (!(kinds_allowed & (1u << k)))
				continue;
			g_string_append_printf(o, "%s\"%s\": {\"enabled\": %u, \"planned\": %u, \"applied\": %u}",
					       first ? "" : ", ", au_chaos_kind_name((enum au_chaos_kind)k),
					       T.enabled[k], T.planned[k], T.applied[k]);
			first = false;
		}
		g_string_append_printf(o, "}, \"correlated\": {\"chance\": %g, \"planned\": %u, "
				       "\"applied\": %u}", sc->chaos->correlated, T.chains_planned,
				       T.chains_applied);
		g_string_append(o, ", \"situations\": {");
		first = true;
		for (int c = 0; c < CB_COUNT_; c++) {
			if (!combo_listed(sc, c))
				continue;
			g_string_append(o, first ? "" : ", ");
			au_report_json_string(o, combo_names[c]);
			g_string_append_printf(o, ": %u", T.combos[c]);
			first = false;
		}
		g_string_append(o, "}, \"checks\": {");
		for (uint32_t i = 0; i < R.n_check_names; i++) {
			uint32_t c = T.order[i];
			g_string_append_printf(o, "%s\"%s\": {\"ran\": %u, \"failed\": %u, \"not_run\": %u, "
					       "\"unknown\": %u}", i ? ", " : "", R.check_names[c], T.ran[c],
					       T.verdicts[V_FAIL][c], T.verdicts[V_NOT_RUN][c],
					       T.verdicts[V_UNKNOWN][c]);
		}
		g_string_append_printf(o, "}}, \"determinism\": {\"sampled\": %u, \"mismatches\": %u, "
				       "\"report\": ", S.n_det, S.det_mismatch);
		au_report_json_string(o, S.det_report->str);
		g_string_append(o, "}}\n");
		fputs(o->str, stdout);
		g_string_free(o, TRUE);
	} else {
		printf("chaos: %s: %u seeds in %.1f s (%u workers, %.0f seeds/min, %.1f ms CPU per seed): "
		       "%u passed, %u failed",
		       sc->name, S.n, sweep_wall, (uint32_t)jobs, per_min, S.cpu_s * 1000.0 / S.n,
		       S.n - S.failed, S.failed);
		if (S.failed) {
			printf(" (");
			bool first = true;
			for (uint32_t i = 0; i < R.n_check_names; i++) {
				uint32_t c = T.order[i];
				if (T.verdicts[V_FAIL][c]) {
					printf("%s%s %u", first ? "" : ", ", R.check_names[c],
					       T.verdicts[V_FAIL][c]);
					first = false;
				}
			}
			uint32_t other = 0;
			for (uint32_t i = 0; i < S.n; i++)
				other += S.recs[i].rc >= 2;
			if (other)
				printf("%scrashed, timed out or did not load %u", first ? "" : ", ", other);
			printf(")");
		}
		uint32_t undecided = 0;
		for (uint32_t i = 0; i < S.n; i++)
			undecided += S.recs[i].rc == 0 && S.recs[i].full;
		if (undecided)
			printf("; %u passing run%s with a check that reached no verdict (NO VERDICT above)",
			       undecided, undecided > 1 ? "s" : "");
		printf("\n");
		if (det_pct > 0) {
			if (S.det_mismatch)
				printf("determinism: %u of %u re-run seeds gave a different trace hash:\n%s",
				       S.det_mismatch, S.n_det, S.det_report->str);
			else
				printf("determinism: %u seeds re-run (%.3g %%), every trace hash identical\n",
				       S.n_det, det_pct);
		}
		for (uint32_t s = 0; s < n_shrink; s++) {
			const struct au_shrink_stats *st = &shrunk[s].shrink;
			uint64_t seed = S.recs[shrink_idx[s]].seed;
			if (shrunk[s].shrink_rc != 0) {
				printf("shrink of seed %" G_GUINT64_FORMAT ": not done: %s\n", seed,
				       shrunk[s].message[0] ? shrunk[s].message : "the shrinking worker died");
				continue;
			}
			char d0[32], d1[32];
			au_format_duration(st->duration_before, d0, sizeof(d0));
			au_format_duration(st->duration_after, d1, sizeof(d1));
			printf("shrunk seed %" G_GUINT64_FORMAT ": %s — %u -> %u faults, %s -> %s, %u -> %u "
			       "nodes, clients %u -> %u, rate %u/s -> %u/s; %u runs, %.1f s%s\n",
			       seed, shrunk[s].message, st->faults_before, st->faults_after, d0, d1,
			       st->nodes_before, st->nodes_after, st->clients_before, st->clients_after,
			       st->rate_before, st->rate_after, st->runs, st->wall_s,
			       st->budget_hit ? " (time budget reached)" : "");
		}
		print_coverage(&S, &T, kinds_allowed);
	}
	if (junit && !write_junit(&S, junit, sweep_wall))
		rc = EXIT_USAGE;
	if (S.io_error)
		rc = EXIT_USAGE;
	g_free(shrunk);
	g_free(shrink_idx);
out:
	for (uint32_t i = 0; i < S.n; i++)
		g_free(S.recs[i].full);
	g_free(S.recs);
	g_free(S.det_idx);
	g_string_free(S.det_report, TRUE);
	for (uint32_t i = 0; i < R.n_check_names; i++)
		g_free(R.check_names[i]);
	g_free(R.out_dir);
	g_array_free(seeds, TRUE);
	au_scenario_free(sc);
	fflush(stdout);
	return rc;
}

/* ---- aureon-sim shrink ------------------------------------------------------ */

static const char *const usage_shrink =
	"usage: aureon-sim shrink FILE [--out OUT] [--time S] [--check NAME]\n"
	"\n"
	"Shrinks a scenario file that fails a check (for instance a reproducer that\n"
	"chaos could not shrink in its budget): drops faults, shortens the run,\n"
	"removes nodes and lowers client counts and rates, keeping each change only\n"
	"if the run still fails the same check.  Writes OUT (default FILE with\n"
	".min.ini in place of .ini).\n"
	"\n"
	"  --out OUT     where to write the shrunk scenario\n"
	"  --time S      wall-time budget in seconds (default 60)\n"
	"  --check NAME  the check to keep failing (default: whichever FILE fails;\n"
	"                \"signal N\" for a run that crashes)\n"
	"\n"
	"Exit: 0 shrunk and written, 1 FILE does not fail (that check), 2 usage or I/O.\n";

int au_shrink_main(int argc, char **argv)
{
	const char *path = NULL, *out = NULL, *check = NULL;
	double budget = 60;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_shrink, stdout);
			return EXIT_PASS;
		} else if (strcmp(a, "--out") == 0 && val && *val) {
			out = val;
			i++;
		} else if (strcmp(a, "--check") == 0 && val && *val) {
			check = val;
			i++;
		} else if (strcmp(a, "--time") == 0 && val) {
			char *end;
			budget = g_ascii_strtod(val, &end);
			if (!*val || *end || !(budget > 0 && budget <= 86400)) {
				fprintf(stderr, "aureon-sim shrink: --time needs seconds in (0, 86400]\n\n%s",
					usage_shrink);
				return EXIT_USAGE;
			}
			i++;
		} else if (a[0] == '-') {
			fprintf(stderr, "aureon-sim shrink: unknown option or missing value: %s\n\n%s", a,
				usage_shrink);
			return EXIT_USAGE;
		} else if (!path) {
			path = a;
		} else {
			fprintf(stderr, "aureon-sim shrink: more than one file given\n\n%s", usage_shrink);
			return EXIT_USAGE;
		}
	}
	if (!path) {
		fprintf(stderr, "aureon-sim shrink: needs a scenario file\n\n%s", usage_shrink);
		return EXIT_USAGE;
	}
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load(path, &err);
	if (!sc) {
		fprintf(stderr, "aureon-sim: %s\n", err);
		g_free(err);
		return EXIT_USAGE;
	}
	g_autofree char *text = g_strdup(sc->text);
	au_scenario_free(sc);
	g_autofree char *out_path = out ? g_strdup(out)
				  : g_str_has_suffix(path, ".ini")
				      ? g_strdup_printf("%.*s.min.ini", (int)strlen(path) - 4, path)
				      : g_strdup_printf("%s.min.ini", path);
	g_autofree char *want = NULL;
	if (check) {
		want = g_strdup(check);
	} else {
		/* Which check does it fail?  Run it once, in a child (it may crash). */
		struct au_chaos_outcome o;
		if (!au_chaos_probe(path, text, budget, &o)) {
			printf("aureon-sim shrink: %s did not finish within --time %.0f s\n", path, budget);
			return EXIT_FAIL;
		}
		if (o.rc == 2) {
			fprintf(stderr, "aureon-sim: %s\n", o.detail);
			return EXIT_USAGE;
		}
		if (o.rc != 1) {
			printf("aureon-sim shrink: %s passes every check: nothing to shrink\n", path);
			return EXIT_FAIL;
		}
		want = g_strdup(o.check);
	}
	char *min = NULL;
	struct au_shrink_stats st;
	if (au_chaos_shrink(path, text, want, budget, &min, &st) != 0) {
		if (st.timed_out)
			printf("aureon-sim shrink: %s did not finish within --time %.0f s\n", path, budget);
		else
			printf("aureon-sim shrink: %s does not fail %s (it %s)\n", path, want,
			       st.check[0] ? st.check : "passes");
		return EXIT_FAIL;
	}
	char t[40], d0[32], d1[32];
	fmt_time(st.t_ns, t, sizeof(t));
	au_format_duration(st.duration_before, d0, sizeof(d0));
	au_format_duration(st.duration_after, d1, sizeof(d1));
	g_autofree char *base = g_path_get_basename(out_path);
	g_autofree char *header = g_strdup_printf(
		"Shrunk by aureon-sim shrink from %s\n"
		"Fails %s at t=%s; trace hash %s\n"
		"Replay: aureon-sim run %s\n"
		"Shrunk from %u to %u faults, %s to %s, %u to %u nodes (%u candidate runs, %.1f s%s).\n",
		path, st.check, t, st.hash, base, st.faults_before, st.faults_after, d0, d1,
		st.nodes_before, st.nodes_after, st.runs, st.wall_s,
		st.budget_hit ? ", stopped by the time budget" : "");
	struct au_ini *ini = au_ini_parse(min);
	g_free(min);
	au_ini_prepend_comment(ini, header);
	g_autofree char *body = au_ini_to_text(ini);
	au_ini_free(ini);
	GError *gerr = NULL;
	if (!g_file_set_contents(out_path, body, -1, &gerr)) {
		fprintf(stderr, "aureon-sim shrink: %s\n", gerr->message);
		g_error_free(gerr);
		return EXIT_USAGE;
	}
	printf("shrunk %s -> %s: fails %s at t=%s; %u -> %u faults, %s -> %s, %u -> %u nodes, "
	       "clients %u -> %u, rate %u/s -> %u/s; %u runs, %.1f s%s\n",
	       path, out_path, st.check, t, st.faults_before, st.faults_after, d0, d1, st.nodes_before,
	       st.nodes_after, st.clients_before, st.clients_after, st.rate_before, st.rate_after,
	       st.runs, st.wall_s, st.budget_hit ? " (time budget reached)" : "");
	return EXIT_PASS;
}
