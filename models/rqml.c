/* rqml.c — RQML jobs, their replicated state machine, the supervisor and
 * the shard executor (see rqml.h).
 *
 * Life of a round r of job J (S shards), all on the Raft log:
 *   1. The supervisor (on the leader) enqueues task (J, r, s, attempt 0)
 *      for every shard s in the task queue.
 *   2. A worker leases one; its orchestrator calls our executor, which
 *      reads J's state after round r-1 from this node's RQML replica,
 *      computes shard s, sends the output with the lease's fencing token to
 *      the leader (resending until its replica shows it in the log), and
 *      returns the output's SHA-256 as the task result.  The orchestrator
 *      acks it; the queue accepts exactly one ack per task.
 *   3. DATA commands put shard outputs into J's pending list (one per
 *      (shard, token); outputs for another round are stale and dropped).
 *   4. When for every shard the queue has accepted a result with token t_s
 *      and the pending list holds the output with token t_s, the
 *      supervisor proposes CLOSE(J, r, t_0..t_S-1).  Applying it, every
 *      replica aggregates exactly those outputs in shard order, appends the
 *      residual, asks the policy, and, if the job ended, computes the
 *      digest of the final state.
 *   5. The supervisor writes the finished job to ONE (a Raft session keyed
 *      by the job: a retry is applied once; ONE rejects any second record)
 *      and starts the fan-out children.
 * A shard task that dead-letters, or whose accepted output never reaches
 * the log within data_wait, gets a new attempt (a new task id).
 *
 * Trace kinds RQML_* (520..): every replica traces what applying does;
 * workers trace what they compute.  sim/check_rqml.c checks them.
 */
#include "rqml.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "digest.h"
#include "hashes.h"
#include "models_internal.h"
#include "one.h"
#include "orchestrator/orchestrator.h"
#include "raft.h"
#include "taskq.h"
#include "trace_kinds.h"
#include "wire.h"

enum { OP_START = 1, OP_DATA = 2, OP_CLOSE = 3 };
enum { ST_APPLIED = 0, ST_IGNORED = 1, ST_REJECTED = 2 };
enum { MSG_DATA = 1 };
enum { TM_TICK = 1, TM_RESEND = 2, TM_KICK = 3 };
#define SNAP_MAGIC 0x52514d4cu /* "RQML" */
#define ONE_CLIENT_BASE (UINT64_C(0x4f4e45) << 40) /* Raft sessions of ONE puts */
#define PENDING_MAX_PER_SHARD 8u
#define OUTBOX_MAX 64u
#define SUP_ATTEMPT_MAX 1000u

/* ---- policies ---------------------------------------------------------------- */

enum au_kernel_verdict au_rqml_decide(const void *arg, const double *res, uint32_t rounds)
{
	const struct au_rqml_policy *p = arg;
	assert(rounds >= 1);
	if (res[rounds - 1] <= p->tolerance)
		return AU_KERNEL_CONVERGED;
	if (p->kind == AU_RQML_POLICY_STALL && rounds > p->stall_rounds) {
		/* No progress: the best of the last stall_rounds residuals is no
		 * better than the best before them. */
		uint32_t split = rounds - p->stall_rounds;
		double before = res[0], recent = res[split];
		for (uint32_t i = 1; i < split; i++)
			before = res[i] < before ? res[i] : before;
		for (uint32_t i = split + 1; i < rounds; i++)
			recent = res[i] < recent ? res[i] : recent;
		if (!(recent < before))
			return AU_KERNEL_STALLED;
	}
	if (rounds >= p->max_rounds)
		return AU_KERNEL_MAX_ROUNDS;
	return AU_KERNEL_CONTINUE;
}

bool au_rqml_policy_parse(const char *text, struct au_rqml_policy *out)
{
	out->stall_rounds = 0;
	if (strcmp(text, "threshold") == 0) {
		out->kind = AU_RQML_POLICY_THRESHOLD;
		return true;
	}
	if (strncmp(text, "stall:", 6) == 0) {
		char *end;
		unsigned long k = strtoul(text + 6, &end, 10);
		if (!g_ascii_isdigit(text[6]) || *end || k < 2 || k > 10000)
			return false;
		out->kind = AU_RQML_POLICY_STALL;
		out->stall_rounds = (uint32_t)k;
		return true;
	}
	return false;
}

/* ---- job specs ------------------------------------------------------------------ */

uint32_t au_rqml_top_jobs(const struct au_rqml_config *cfg)
{
	uint32_t n = 0;
	for (uint32_t k = 0; k < AU_RQML_KINDS; k++)
		n += cfg->jobs[k];
	return n;
}

/* Parameters of a job of `kind` with generator seed `seed`, from the
 * kind's keys. */
static bool kind_spec(const struct au_rqml_config *cfg, enum au_kernel_kind kind, uint64_t seed,
		      struct au_rqml_job_spec *out)
{
	if (kind < AU_KERNEL_PAGERANK || kind > AU_KERNEL_KMEANS)
		return false;
	const struct au_rqml_kind_config *kc = &cfg->kind[kind - 1];
	memset(&out->params, 0, sizeof(out->params));
	out->params.kind = kind;
	out->params.seed = seed;
	out->params.size = kc->size;
	out->params.edges = kc->edges;
	out->params.k = kc->k;
	out->params.dims = kc->dims;
	out->params.shards = kc->shards;
	out->params.damping = kind == AU_KERNEL_PAGERANK ? 0.85 : 0.0;
	if (!au_rqml_policy_parse(kc->policy, &out->policy))
		return false;
	out->policy.tolerance = kc->tolerance;
	out->policy.max_rounds = kc->max_rounds;
	return true;
}

bool au_rqml_top_spec(const struct au_rqml_config *cfg, uint64_t job, struct au_rqml_job_spec *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t first = 1;
	for (uint32_t k = 0; k < AU_RQML_KINDS; k++) {
		if (job >= first && job < first + cfg->jobs[k]) {
			out->job = job;
			return kind_spec(cfg, (enum au_kernel_kind)(k + 1),
					 au_hash_mix64((uint64_t)cfg->job_seed << 32 ^ job), out);
		}
		first += cfg->jobs[k];
	}
	return false;
}

/* Parse the fan-out rules "a>b, c>d" into (parent kind, child kind)
 * pairs; returns the count, or -1 if the text is malformed. */
static int parse_fanout(const char *text, enum au_kernel_kind rules[][2], uint32_t max)
{
	g_auto(GStrv) parts = g_strsplit(text, ",", -1);
	int n = 0;
	for (gsize i = 0; parts[i]; i++) {
		char *item = g_strstrip(parts[i]);
		if (!*item) {
			if (parts[i + 1] || i > 0)
				return -1; /* an empty item between commas */
			continue;
		}
		g_auto(GStrv) pc = g_strsplit(item, ">", 3);
		if (g_strv_length(pc) != 2 || (uint32_t)n >= max)
			return -1;
		enum au_kernel_kind a = au_kernel_kind_parse(g_strstrip(pc[0]));
		enum au_kernel_kind b = au_kernel_kind_parse(g_strstrip(pc[1]));
		if (!a || !b)
			return -1;
		rules[n][0] = a;
		rules[n][1] = b;
		n++;
	}
	return n;
}

uint32_t au_rqml_children(const struct au_rqml_config *cfg, enum au_kernel_kind parent_kind,
			  enum au_kernel_kind *kinds, uint32_t max)
{
	enum au_kernel_kind rules[AU_RQML_MAX_FANOUT][2];
	int n = parse_fanout(cfg->fanout, rules, AU_RQML_MAX_FANOUT);
	uint32_t c = 0;
	for (int i = 0; i < n; i++)
		if (rules[i][0] == parent_kind && c < max)
			kinds[c++] = rules[i][1];
	return c;
}

bool au_rqml_child_spec(const struct au_rqml_config *cfg, const struct au_rqml_job_spec *parent,
			const uint8_t parent_digest[32], uint32_t k, enum au_kernel_kind kind,
			struct au_rqml_job_spec *out)
{
	memset(out, 0, sizeof(*out));
	if (parent->depth >= AU_RQML_MAX_DEPTH || k < 1 || k > 99)
		return false;
	uint64_t seed = 0;
	for (int i = 0; i < 8; i++)
		seed = seed << 8 | parent_digest[i];
	out->job = parent->job * 100 + k;
	out->parent = parent->job;
	out->depth = (uint8_t)(parent->depth + 1);
	return kind_spec(cfg, kind, seed, out);
}

uint64_t au_rqml_task_id(uint64_t job, uint32_t round, uint32_t shard, uint32_t attempt)
{
	assert(job < (UINT64_C(1) << 23) && round < (1u << 20) && shard < 1024 && attempt < 1024);
	return UINT64_C(1) << 63 | job << 40 | (uint64_t)round << 20 | (uint64_t)shard << 10 | attempt;
}

bool au_rqml_task_decode(uint64_t id, uint64_t *job, uint32_t *round, uint32_t *shard,
			 uint32_t *attempt)
{
	if (!(id >> 63))
		return false;
	*job = (id >> 40) & ((UINT64_C(1) << 23) - 1);
	*round = (uint32_t)(id >> 20) & ((1u << 20) - 1);
	*shard = (uint32_t)(id >> 10) & 1023u;
	*attempt = (uint32_t)id & 1023u;
	return *job != 0;
}

/* ---- the replicated state ------------------------------------------------------- */

/* A shard output received for the round in progress. */
struct pending {
	uint32_t shard;
	uint64_t token;
	au_node_id node;
	uint32_t len;
	double *data;
	uint64_t hash;           /* its share of the job's digest (with its position) */
	bool hashed;             /* `hash` is computed */
};

struct rjob {
	struct au_rqml_job_spec spec;
	struct au_kernel_problem kp; /* generated input, rebuilt from spec */
	bool built;
	double *state;           /* input of round `round + 1`; NULL once finished */
	uint32_t round;          /* rounds aggregated */
	uint8_t verdict;         /* enum au_kernel_verdict; CONTINUE while running */
	double *residuals;       /* [spec.policy.max_rounds] */
	GArray *workers;         /* au_node_id, ascending */
	uint8_t digest[32];      /* of the final state, once finished */
	GPtrArray *pending;      /* struct pending *, arrival order */
	uint64_t core_hash;      /* digest share of everything above but `pending` */
	bool core_stale;         /* core_hash needs computing again */
	/* supervisor (leader memory only, never decisions' sole input) */
	uint64_t close_inflight_round;
	au_time close_sent_ns, one_sent_ns, start_sent_ns;
	bool one_inflight;
	bool children_started;
	au_time *done_seen_ns;   /* [shards]: when the leader saw an accepted shard without data */
	uint32_t *attempt;       /* [shards]: current attempt of the round in progress */
	au_time *enqueued_ns;    /* [shards]: when the current attempt was last enqueued */
	uint32_t sup_round;      /* the round the three arrays above describe */
};

/* A shard output this worker computed and keeps resending until its
 * replica shows it in the log (or the round is over). */
struct outbox {
	uint64_t job, token;
	uint32_t round, shard, len;
	double *data;
};

struct rqml {
	const struct au_env *env;
	const struct au_rqml_config *cfg;
	struct au_raft *raft;
	struct au_orch *orch;
	struct au_one *one;
	GPtrArray *jobs;         /* struct rjob *, ascending job id */
	uint64_t applied_index;
	/* counters (replicated: part of the state) */
	uint64_t stale_data, rejected_closes, dup_data;
	/* node-local */
	GPtrArray *outbox;       /* struct outbox * */
	double *scratch;
	size_t scratch_len;
	uint64_t computed, not_ready, obsolete, sent_data, proposals;
	uint64_t sup_term;       /* the term the supervisor's memory belongs to */
	bool kick_armed;         /* a supervisor pass is due at once */
	GHashTable *start_sent;  /* job -> au_time: START proposed, not yet applied */
};

static void pending_free(gpointer p)
{
	struct pending *e = p;
	free(e->data);
	free(e);
}

static void rjob_free(gpointer p)
{
	struct rjob *j = p;
	if (j->built)
		au_kernel_free(&j->kp);
	free(j->state);
	free(j->residuals);
	g_array_free(j->workers, TRUE);
	g_ptr_array_free(j->pending, TRUE);
	free(j->done_seen_ns);
	free(j->attempt);
	free(j->enqueued_ns);
	free(j);
}

static guint job_find(const struct rqml *q, uint64_t job, bool *found)
{
	guint lo = 0, hi = q->jobs->len;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		if (((struct rjob *)g_ptr_array_index(q->jobs, mid))->spec.job < job)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < q->jobs->len &&
		 ((struct rjob *)g_ptr_array_index(q->jobs, lo))->spec.job == job;
	return lo;
}

static struct rjob *job_get(const struct rqml *q, uint64_t job)
{
	bool found;
	guint at = job_find(q, job, &found);
	return found ? g_ptr_array_index(q->jobs, at) : NULL;
}

static void trace(const struct rqml *q, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	if (q->env)
		au_trace(q->env, kind, a, b, c);
}

static int64_t f64_bits(double v)
{
	int64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

static bool is_leader(const struct rqml *q) { return q->raft && au_raft_is_leader(q->raft); }

/* Something the supervisor acts on happened here (on the leader): look at
 * the jobs now rather than at the next tick. */
static void kick(struct rqml *q)
{
	if (q->env && !q->kick_armed && is_leader(q)) {
		q->kick_armed = true;
		au_timer_set(q->env, 0, TM_KICK, 0);
	}
}

static void record_row(const struct rqml *q, const struct au_rqml_row *row)
{
	if (q->env)
		q->env->ops->record(q->env->ctx, 0, row);
}

/* A new job from its spec; NULL if the spec does not build.  A finished
 * job (restored from a snapshot) needs no generated input: `build` false. */
static struct rjob *rjob_new(const struct au_rqml_job_spec *spec, bool build)
{
	struct rjob *j = au_xcalloc(1, sizeof(*j));
	j->spec = *spec;
	j->workers = g_array_new(FALSE, FALSE, sizeof(au_node_id));
	j->pending = g_ptr_array_new_with_free_func(pending_free);
	if (spec->policy.max_rounds < 1 || spec->policy.max_rounds > AU_RQML_MAX_ROUNDS ||
	    au_kernel_check(&spec->params, NULL, 0) != 0 ||
	    au_kernel_max_shard_out(&spec->params) > AU_RQML_DATA_MAX ||
	    (build && au_kernel_build(&j->kp, &spec->params, NULL, 0) != 0)) {
		rjob_free(j);
		return NULL;
	}
	j->built = build;
	j->residuals = au_xcalloc(spec->policy.max_rounds, sizeof(double));
	uint32_t S = spec->params.shards;
	j->done_seen_ns = au_xcalloc(S, sizeof(au_time));
	j->attempt = au_xcalloc(S, sizeof(uint32_t));
	j->enqueued_ns = au_xcalloc(S, sizeof(au_time));
	return j;
}

/* ---- the state digest (raft.h, struct au_raft_machine.digest) ---------------------------
 * Per job: a core hash of what a snapshot keeps of it but its pending
 * outputs (spec, rounds, verdict, residuals, workers, digest, the state
 * vector while it runs), and one hash per pending output (its position
 * included: the list is in arrival order).  Both are computed lazily, when
 * the digest is read (every digest_every entries): applying only marks
 * what changed, so a round that opens and closes between two reads costs
 * no hashing of its outputs and one of its state vector. */

static void put_spec(struct au_wbuf *w, const struct au_rqml_job_spec *s);

static uint64_t job_core_hash(const struct rjob *j)
{
	uint8_t spec[128];
	struct au_wbuf w;
	au_wbuf_init(&w, spec, sizeof(spec));
	put_spec(&w, &j->spec);
	uint64_t h = au_digest_bytes(UINT64_C(0x52514d4c), spec, w.len);
	h = au_digest_add(h, (uint64_t)j->round << 8 | j->verdict);
	h = au_digest_f64s(h, j->residuals, j->round);
	for (guint k = 0; k < j->workers->len; k++)
		h = au_digest_add(h, g_array_index(j->workers, au_node_id, k));
	h = au_digest_add(h, j->workers->len);
	h = au_digest_bytes(h, j->digest, 32);
	if (j->state)
		h = au_digest_f64s(h, j->state, j->kp.state_len);
	return au_digest_add(h, j->state != NULL);
}

static uint64_t pending_hash(const struct pending *e, uint32_t pos)
{
	uint64_t h = au_digest_add(UINT64_C(0x9e4d), (uint64_t)pos << 32 | e->shard);
	h = au_digest_add(h, e->token);
	h = au_digest_add(h, e->node);
	return au_digest_f64s(h, e->data, e->len);
}

/* Job j's share of the digest, computing what changed since the last read. */
static uint64_t job_share(struct rjob *j)
{
	if (j->core_stale) {
		j->core_hash = job_core_hash(j);
		j->core_stale = false;
	}
	uint64_t sum = j->core_hash;
	for (guint i = 0; i < j->pending->len; i++) {
		struct pending *e = g_ptr_array_index(j->pending, i);
		if (!e->hashed) {
			e->hash = pending_hash(e, i);
			e->hashed = true;
		}
		sum += e->hash;
	}
	return sum;
}

/* ---- command encoding -------------------------------------------------------------- */

static void put_spec(struct au_wbuf *w, const struct au_rqml_job_spec *s)
{
	au_put_u64(w, s->job);
	au_put_u64(w, s->parent);
	au_put_u8(w, s->depth);
	au_put_u8(w, (uint8_t)s->params.kind);
	au_put_u64(w, s->params.seed);
	au_put_u32(w, s->params.size);
	au_put_u32(w, s->params.edges);
	au_put_u32(w, s->params.k);
	au_put_u32(w, s->params.dims);
	au_put_u32(w, s->params.shards);
	au_put_f64(w, s->params.damping);
	au_put_u8(w, s->policy.kind);
	au_put_u32(w, s->policy.stall_rounds);
	au_put_f64(w, s->policy.tolerance);
	au_put_u32(w, s->policy.max_rounds);
}

static void get_spec(struct au_rbuf *r, struct au_rqml_job_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->job = au_get_u64(r);
	s->parent = au_get_u64(r);
	s->depth = au_get_u8(r);
	s->params.kind = (enum au_kernel_kind)au_get_u8(r);
	s->params.seed = au_get_u64(r);
	s->params.size = au_get_u32(r);
	s->params.edges = au_get_u32(r);
	s->params.k = au_get_u32(r);
	s->params.dims = au_get_u32(r);
	s->params.shards = au_get_u32(r);
	s->params.damping = au_get_f64(r);
	s->policy.kind = au_get_u8(r);
	s->policy.stall_rounds = au_get_u32(r);
	s->policy.tolerance = au_get_f64(r);
	s->policy.max_rounds = au_get_u32(r);
}

/* ---- applying commands ------------------------------------------------------------- */

static uint8_t apply_start(struct rqml *q, struct au_rbuf *rb)
{
	struct au_rqml_job_spec spec;
	get_spec(rb, &spec);
	if (rb->short_read || rb->pos != rb->len || spec.job == 0 || spec.job >= (UINT64_C(1) << 23))
		return ST_REJECTED;
	bool found;
	guint at = job_find(q, spec.job, &found);
	if (found)
		return ST_IGNORED; /* a supervisor started it again: idempotent */
	struct rjob *j = rjob_new(&spec, true);
	if (!j) {
		trace(q, AU_TR_RQML_BAD_JOB, (int64_t)spec.job, spec.params.kind, 0);
		return ST_REJECTED;
	}
	j->state = au_xcalloc(j->kp.state_len, sizeof(double));
	au_kernel_init_state(&j->kp, j->state);
	g_ptr_array_insert(q->jobs, (gint)at, j);
	j->core_stale = true;
	trace(q, AU_TR_RQML_JOB, (int64_t)spec.job, spec.params.kind | spec.depth << 8,
	      (int64_t)spec.parent);
	return ST_APPLIED;
}

static uint8_t apply_data(struct rqml *q, struct au_rbuf *rb)
{
	uint64_t jid = au_get_u64(rb);
	uint32_t round = au_get_u32(rb), shard = au_get_u32(rb);
	uint64_t token = au_get_u64(rb);
	au_node_id node = au_get_u32(rb);
	uint32_t len = au_get_u32(rb);
	if (rb->short_read || len > AU_RQML_DATA_MAX || rb->len - rb->pos != (size_t)len * 8)
		return ST_REJECTED;
	struct rjob *j = job_get(q, jid);
	int64_t where = (int64_t)round << 16 | shard;
	if (!j || !j->state || round != j->round + 1 || shard >= j->spec.params.shards ||
	    len != au_kernel_shard_out_len(&j->kp, shard)) {
		q->stale_data++;
		trace(q, AU_TR_RQML_STALE, (int64_t)jid, where, (int64_t)token);
		return ST_IGNORED;
	}
	uint32_t same_shard = 0;
	for (guint i = 0; i < j->pending->len; i++) {
		const struct pending *e = g_ptr_array_index(j->pending, i);
		if (e->shard == shard && e->token == token) {
			q->dup_data++; /* a resend of what is already here */
			return ST_IGNORED;
		}
		same_shard += e->shard == shard;
	}
	if (same_shard >= PENDING_MAX_PER_SHARD) {
		q->stale_data++;
		trace(q, AU_TR_RQML_STALE, (int64_t)jid, where, (int64_t)token);
		return ST_IGNORED;
	}
	struct pending *e = au_xcalloc(1, sizeof(*e));
	*e = (struct pending){shard, token, node, len, au_xcalloc(len, sizeof(double)), 0, false};
	for (uint32_t i = 0; i < len; i++)
		e->data[i] = au_get_f64(rb);
	g_ptr_array_add(j->pending, e); /* hashed when the digest is read */
	trace(q, AU_TR_RQML_DATA, (int64_t)jid, where, (int64_t)token);
	return ST_APPLIED;
}

static const struct pending *pending_find(const struct rjob *j, uint32_t shard, uint64_t token)
{
	for (guint i = 0; i < j->pending->len; i++) {
		const struct pending *e = g_ptr_array_index(j->pending, i);
		if (e->shard == shard && e->token == token)
			return e;
	}
	return NULL;
}

static void add_worker(struct rjob *j, au_node_id n)
{
	guint i = 0;
	while (i < j->workers->len && g_array_index(j->workers, au_node_id, i) < n)
		i++;
	if (i < j->workers->len && g_array_index(j->workers, au_node_id, i) == n)
		return;
	if (j->workers->len < AU_ONE_MAX_WORKERS)
		g_array_insert_val(j->workers, i, n);
}

static void finish_job(struct rqml *q, struct rjob *j, enum au_kernel_verdict v)
{
	j->verdict = (uint8_t)v;
	au_kernel_digest(j->state, j->kp.state_len, j->digest);
	trace(q, AU_TR_RQML_DONE, (int64_t)j->spec.job, (int64_t)j->round | (int64_t)v << 32,
	      au_kernel_digest_prefix(j->digest));
	if (is_leader(q)) {
		struct au_rqml_row row = {(int64_t)j->spec.job, 0, j->round,
					  j->residuals[j->round - 1], 0, AU_RQML_ROW_DONE};
		record_row(q, &row);
	}
	/* The result lives on as its digest (in ONE); the vectors and the
	 * generated input go. */
	free(j->state);
	j->state = NULL;
	g_ptr_array_set_size(j->pending, 0);
	au_kernel_free(&j->kp);
	j->built = false;
}

static uint8_t apply_close(struct rqml *q, struct au_rbuf *rb)
{
	uint64_t jid = au_get_u64(rb);
	uint32_t round = au_get_u32(rb), n = au_get_u32(rb);
	struct rjob *j = job_get(q, jid);
	if (rb->short_read || !j || n != j->spec.params.shards || rb->len - rb->pos != (size_t)n * 8)
		return ST_REJECTED;
	if (!j->state || round != j->round + 1)
		return ST_IGNORED; /* closed already (a retried proposal) */
	uint32_t S = n;
	uint64_t *tokens = au_xcalloc(S, sizeof(uint64_t));
	for (uint32_t s = 0; s < S; s++)
		tokens[s] = au_get_u64(rb);
	/* The outputs to aggregate: exactly the accepted one of each shard. */
	uint32_t *shard_of = au_xcalloc(S * PENDING_MAX_PER_SHARD, sizeof(uint32_t));
	const double **outs = au_xcalloc(S * PENDING_MAX_PER_SHARD, sizeof(double *));
	const struct pending **used = au_xcalloc(S * PENDING_MAX_PER_SHARD, sizeof(*used));
	uint32_t m = 0;
	uint8_t status = ST_APPLIED;
#ifdef AU_BUG_RQML_DUP_SHARD
	/* Planted bug: aggregate every output received for the round, in
	 * shard order — after a lease expiry both the old holder's and the
	 * new holder's output of a shard are there, and both go in. */
	for (uint32_t s = 0; s < S; s++)
		for (guint i = 0; i < j->pending->len; i++) {
			const struct pending *e = g_ptr_array_index(j->pending, i);
			if (e->shard == s) {
				shard_of[m] = s;
				outs[m] = e->data;
				used[m++] = e;
			}
		}
	for (uint32_t s = 0; s < S && status == ST_APPLIED; s++)
		if (!pending_find(j, s, tokens[s])) {
			trace(q, AU_TR_RQML_CLOSE_REJECT, (int64_t)jid, round, s);
			status = ST_REJECTED;
		}
#else
	for (uint32_t s = 0; s < S; s++) {
		const struct pending *e = pending_find(j, s, tokens[s]);
		if (!e) {
			/* The supervisor proposes only what its replica holds, and
			 * every replica holds the same: a bad proposal. */
			trace(q, AU_TR_RQML_CLOSE_REJECT, (int64_t)jid, round, s);
			status = ST_REJECTED;
			break;
		}
		shard_of[m] = s;
		outs[m] = e->data;
		used[m++] = e;
	}
#endif
	if (status == ST_APPLIED) {
		j->core_stale = true;
		for (uint32_t i = 0; i < m; i++) {
			trace(q, AU_TR_RQML_SHARD_USED, (int64_t)jid, (int64_t)round << 16 | shard_of[i],
			      (int64_t)used[i]->token);
			add_worker(j, used[i]->node);
		}
		double *next = au_xcalloc(j->kp.state_len, sizeof(double));
		double res = au_kernel_aggregate_list(&j->kp, j->state, shard_of, outs, m, next);
		free(j->state);
		j->state = next;
		j->residuals[j->round] = res;
		j->round++;
		g_ptr_array_set_size(j->pending, 0);
		trace(q, AU_TR_RQML_ROUND, (int64_t)jid, j->round, f64_bits(res));
		if (is_leader(q)) {
			struct au_rqml_row row = {(int64_t)jid, 0, j->round, res, 0, AU_RQML_ROW_ROUND};
			record_row(q, &row);
		}
		enum au_kernel_verdict v = au_rqml_decide(&j->spec.policy, j->residuals, j->round);
		if (v != AU_KERNEL_CONTINUE)
			finish_job(q, j, v);
	} else {
		q->rejected_closes++;
	}
	free(tokens);
	free(shard_of);
	free(outs);
	free(used);
	return status;
}

static uint8_t rqml_apply_cmd(struct rqml *q, uint64_t index, const uint8_t *cmd, size_t len)
{
	if (index > q->applied_index)
		q->applied_index = index;
	struct au_rbuf rb;
	au_rbuf_init(&rb, cmd, len);
	uint8_t op = au_get_u8(&rb);
	switch (op) {
	case OP_START:
		return apply_start(q, &rb);
	case OP_DATA:
		return apply_data(q, &rb);
	case OP_CLOSE:
		return apply_close(q, &rb);
	}
	return ST_REJECTED;
}

static void machine_apply(void *sm, uint64_t index, const uint8_t *cmd, size_t len,
			  uint8_t *result, size_t *rlen)
{
	result[0] = rqml_apply_cmd(sm, index, cmd, len);
	*rlen = 1;
	if (result[0] == ST_APPLIED)
		kick(sm);
}

/* Task queue effects the supervisor waits for. */
static void on_queue_event(void *ctx, const struct au_taskq_event *ev)
{
	if (ev->type == AU_TASKQ_EV_ACKED || ev->type == AU_TASKQ_EV_DEAD_LETTER ||
	    ev->type == AU_TASKQ_EV_ENQUEUED)
		kick(ctx);
}

/* Snapshot: counters, then every job with its state, residuals, workers,
 * digest and pending outputs. */
static size_t machine_snapshot(void *sm, uint8_t **out)
{
	struct rqml *q = sm;
	size_t n = 64;
	for (guint i = 0; i < q->jobs->len; i++) {
		const struct rjob *j = g_ptr_array_index(q->jobs, i);
		n += 128 + 8 * (size_t)j->round + 4 * (size_t)j->workers->len + 32 +
		     (j->state ? 8 * (size_t)j->kp.state_len : 0);
		for (guint k = 0; k < j->pending->len; k++)
			n += 32 + 8 * (size_t)((struct pending *)g_ptr_array_index(j->pending, k))->len;
	}
	uint8_t *buf = au_xcalloc(n, 1);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, n);
	au_put_u32(&w, SNAP_MAGIC);
	au_put_u64(&w, q->applied_index);
	au_put_u64(&w, q->stale_data);
	au_put_u64(&w, q->rejected_closes);
	au_put_u64(&w, q->dup_data);
	au_put_u32(&w, q->jobs->len);
	for (guint i = 0; i < q->jobs->len; i++) {
		const struct rjob *j = g_ptr_array_index(q->jobs, i);
		put_spec(&w, &j->spec);
		au_put_u32(&w, j->round);
		au_put_u8(&w, j->verdict);
		for (uint32_t r = 0; r < j->round; r++)
			au_put_f64(&w, j->residuals[r]);
		au_put_u32(&w, j->workers->len);
		for (guint k = 0; k < j->workers->len; k++)
			au_put_u32(&w, g_array_index(j->workers, au_node_id, k));
		au_put_bytes(&w, j->digest, 32);
		au_put_u8(&w, j->state != NULL);
		if (j->state)
			for (uint32_t k = 0; k < j->kp.state_len; k++)
				au_put_f64(&w, j->state[k]);
		au_put_u32(&w, j->pending->len);
		for (guint k = 0; k < j->pending->len; k++) {
			const struct pending *e = g_ptr_array_index(j->pending, k);
			au_put_u32(&w, e->shard);
			au_put_u64(&w, e->token);
			au_put_u32(&w, e->node);
			au_put_u32(&w, e->len);
			for (uint32_t x = 0; x < e->len; x++)
				au_put_f64(&w, e->data[x]);
		}
	}
	assert(!w.overflow);
	*out = buf;
	return w.len;
}

static bool restore_job(struct rqml *q, struct au_rbuf *rb)
{
	struct au_rqml_job_spec spec;
	get_spec(rb, &spec);
	if (rb->short_read)
		return false;
	struct rjob *j = rjob_new(&spec, false);
	if (!j)
		return false;
	j->round = au_get_u32(rb);
	j->verdict = au_get_u8(rb);
	if (j->round > spec.policy.max_rounds) {
		rjob_free(j);
		return false;
	}
	for (uint32_t r = 0; r < j->round; r++)
		j->residuals[r] = au_get_f64(rb);
	uint32_t nw = au_get_u32(rb);
	for (uint32_t k = 0; k < nw && k < AU_ONE_MAX_WORKERS && !rb->short_read; k++)
		add_worker(j, au_get_u32(rb));
	au_get_bytes(rb, j->digest, 32);
	if (au_get_u8(rb)) {
		/* Still running: it needs its generated input again. */
		if (au_kernel_build(&j->kp, &spec.params, NULL, 0) != 0) {
			rjob_free(j);
			return false;
		}
		j->built = true;
		j->state = au_xcalloc(j->kp.state_len, sizeof(double));
		for (uint32_t k = 0; k < j->kp.state_len; k++)
			j->state[k] = au_get_f64(rb);
	}
	uint32_t np = au_get_u32(rb);
	for (uint32_t k = 0; k < np && !rb->short_read; k++) {
		struct pending *e = au_xcalloc(1, sizeof(*e));
		e->shard = au_get_u32(rb);
		e->token = au_get_u64(rb);
		e->node = au_get_u32(rb);
		e->len = au_get_u32(rb);
		if (rb->short_read || e->len > AU_RQML_DATA_MAX || e->shard >= spec.params.shards) {
			free(e);
			rjob_free(j);
			return false;
		}
		e->data = au_xcalloc(e->len, sizeof(double));
		for (uint32_t x = 0; x < e->len; x++)
			e->data[x] = au_get_f64(rb);
		g_ptr_array_add(j->pending, e);
	}
	const struct rjob *last = q->jobs->len ? g_ptr_array_index(q->jobs, q->jobs->len - 1) : NULL;
	if (rb->short_read || (last && last->spec.job >= spec.job) ||
	    (!j->state && j->verdict == AU_KERNEL_CONTINUE)) {
		rjob_free(j);
		return false;
	}
	g_ptr_array_add(q->jobs, j);
	j->core_stale = true;
	trace(q, AU_TR_RQML_RESTORE, (int64_t)spec.job, j->round, j->verdict);
	return true;
}

static void machine_restore(void *sm, const uint8_t *data, size_t len)
{
	struct rqml *q = sm;
	g_ptr_array_set_size(q->jobs, 0);
	struct au_rbuf rb;
	au_rbuf_init(&rb, data, len);
	bool ok = au_get_u32(&rb) == SNAP_MAGIC;
	q->applied_index = au_get_u64(&rb);
	q->stale_data = au_get_u64(&rb);
	q->rejected_closes = au_get_u64(&rb);
	q->dup_data = au_get_u64(&rb);
	uint32_t n = au_get_u32(&rb);
	for (uint32_t i = 0; ok && i < n; i++)
		ok = restore_job(q, &rb);
	if (!ok || rb.short_read || rb.pos != rb.len) {
		g_ptr_array_set_size(q->jobs, 0);
		trace(q, AU_TR_RQML_BAD_SNAPSHOT, (int64_t)len, 0, 0);
	}
}

/* O(jobs) plus the hashing of what changed since the last read; jobs are
 * few. */
static uint64_t machine_digest(void *sm)
{
	const struct rqml *q = sm;
	uint64_t sum = 0;
	for (guint i = 0; i < q->jobs->len; i++)
		sum += job_share(g_ptr_array_index(q->jobs, i));
	uint64_t h = au_digest_add(sum, q->jobs->len);
	h = au_digest_add(h, q->applied_index);
	h = au_digest_add(h, q->stale_data);
	h = au_digest_add(h, q->rejected_closes);
	return au_digest_add(h, q->dup_data);
}


/* One line per job (vectors as hashes) and per pending output. */
static char *machine_describe(void *sm)
{
	const struct rqml *q = sm;
	GString *s = g_string_new(NULL);
	g_string_append_printf(s, "rqml: jobs=%u applied=%llu stale_data=%llu rejected_closes=%llu "
			       "dup_data=%llu\n", q->jobs->len, (unsigned long long)q->applied_index,
			       (unsigned long long)q->stale_data, (unsigned long long)q->rejected_closes,
			       (unsigned long long)q->dup_data);
	for (guint i = 0; i < q->jobs->len; i++) {
		const struct rjob *j = g_ptr_array_index(q->jobs, i);
		g_string_append_printf(s, "job %llu: kind=%u parent=%llu rounds=%u verdict=%s "
				       "residuals=%016llx workers=", (unsigned long long)j->spec.job,
				       (unsigned)j->spec.params.kind, (unsigned long long)j->spec.parent,
				       j->round, au_kernel_verdict_name(j->verdict),
				       (unsigned long long)au_digest_f64s(0, j->residuals, j->round));
		for (guint k = 0; k < j->workers->len; k++)
			g_string_append_printf(s, "%sn%u", k ? "," : "",
					       g_array_index(j->workers, au_node_id, k));
		g_string_append(s, " digest=");
		for (int k = 0; k < 8; k++)
			g_string_append_printf(s, "%02x", j->digest[k]);
		g_string_append_printf(s, " state=%016llx pending=%u\n",
				       (unsigned long long)(j->state ? au_digest_f64s(0, j->state,
										       j->kp.state_len)
								     : 0),
				       j->pending->len);
		for (guint k = 0; k < j->pending->len; k++) {
			const struct pending *e = g_ptr_array_index(j->pending, k);
			g_string_append_printf(s, "job %llu pending %u: shard=%u token=%llu node=n%u "
					       "data=%016llx\n", (unsigned long long)j->spec.job, k,
					       e->shard, (unsigned long long)e->token, e->node,
					       (unsigned long long)au_digest_f64s(0, e->data, e->len));
		}
	}
	return g_string_free(s, FALSE);
}

/* ---- the supervisor (leader only) ---------------------------------------------------- */

static void proposal_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	(void)ctx, (void)ok, (void)index, (void)result, (void)len;
}

/* Submit a command for this machine; false if not leader. */
static bool propose(struct rqml *q, const uint8_t *cmd, size_t len, uint8_t machine,
		    uint64_t client, uint64_t seq)
{
	if (!is_leader(q))
		return false;
	q->proposals++;
	return au_raft_submit(q->raft, machine, client, seq, cmd, len, proposal_done, NULL) == 0;
}

static void propose_start(struct rqml *q, const struct au_rqml_job_spec *spec)
{
	au_time now = au_now(q->env);
	au_time *sent = g_hash_table_lookup(q->start_sent, &spec->job);
	if (sent && now - *sent < q->cfg->enqueue_retry_ns)
		return; /* proposed recently: wait for it to apply */
	if (!sent) {
		sent = g_new(au_time, 1);
		g_hash_table_insert(q->start_sent, g_memdup2(&spec->job, sizeof(spec->job)), sent);
	}
	*sent = now;
	uint8_t buf[128];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, OP_START);
	put_spec(&w, spec);
	assert(!w.overflow);
	propose(q, buf, w.len, AU_RQML_MACHINE, 0, 0);
}

static void propose_close(struct rqml *q, struct rjob *j, const uint64_t *tokens)
{
	uint32_t S = j->spec.params.shards;
	size_t cap = 32 + 8 * (size_t)S;
	uint8_t *buf = au_xcalloc(cap, 1);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, OP_CLOSE);
	au_put_u64(&w, j->spec.job);
	au_put_u32(&w, j->round + 1);
	au_put_u32(&w, S);
	for (uint32_t s = 0; s < S; s++)
		au_put_u64(&w, tokens[s]);
	if (propose(q, buf, w.len, AU_RQML_MACHINE, 0, 0)) {
		j->close_inflight_round = j->round + 1;
		j->close_sent_ns = au_now(q->env);
	}
	free(buf);
}

static void propose_one(struct rqml *q, struct rjob *j)
{
	struct au_one_record r;
	memset(&r, 0, sizeof(r));
	r.job = j->spec.job;
	r.parent = j->spec.parent;
	r.kind = (uint8_t)j->spec.params.kind;
	r.verdict = j->verdict;
	memcpy(r.digest, j->digest, 32);
	r.rounds = j->round;
	r.n_residuals = j->round < AU_ONE_MAX_RESIDUALS ? j->round : AU_ONE_MAX_RESIDUALS;
	r.residuals = j->residuals + (j->round - r.n_residuals);
	r.n_workers = j->workers->len;
	r.workers = (uint32_t *)(void *)j->workers->data;
	size_t cap = au_one_put_size(&r);
	uint8_t *buf = au_xcalloc(cap, 1);
	size_t n = au_one_encode_put(&r, buf, cap);
	/* One session per job: a retry (here or on a new leader) is applied
	 * at most once by Raft, and ONE refuses a second record anyway. */
	if (n && propose(q, buf, n, AU_ONE_MACHINE, ONE_CLIENT_BASE + j->spec.job, 1)) {
		j->one_inflight = true;
		j->one_sent_ns = au_now(q->env);
	}
	free(buf);
}

/* The supervisor's view of round `round` of job j: reset when it moves on. */
static void sup_round(struct rjob *j, uint32_t round)
{
	if (j->sup_round == round)
		return;
	j->sup_round = round;
	uint32_t S = j->spec.params.shards;
	memset(j->attempt, 0, S * sizeof(uint32_t));
	memset(j->enqueued_ns, 0, S * sizeof(au_time));
	memset(j->done_seen_ns, 0, S * sizeof(au_time));
}

static void enqueue_shard(struct rqml *q, struct rjob *j, uint32_t round, uint32_t s)
{
	uint8_t payload[32];
	struct au_wbuf w;
	au_wbuf_init(&w, payload, sizeof(payload));
	au_put_u64(&w, j->spec.job);
	au_put_u32(&w, round);
	au_put_u32(&w, s);
	struct au_task_spec t = {
		.id = au_rqml_task_id(j->spec.job, round, s, j->attempt[s]),
		.kind = AU_RQML_TASK_KIND,
		/* A topic per (job, shard): affinity keeps a shard on the node
		 * that computed it last, and spreads a job's shards. */
		.topic = (uint32_t)(j->spec.job << 10 | s),
		.priority = 0,
		.caps = 0,
		.max_retries = q->cfg->task_retries,
		.rounds = 1,
		.payload = payload,
		.payload_len = (uint32_t)w.len,
	};
	if (au_orch_enqueue(q->orch, &t) == 0)
		j->enqueued_ns[s] = au_now(q->env);
}

/* Drive one running job: enqueue its shard tasks, replace the ones that
 * failed, and close the round once every shard's accepted output is in. */
static void supervise_job(struct rqml *q, struct rjob *j)
{
	const struct au_taskq *tq = au_orch_queue(q->orch);
	uint32_t S = j->spec.params.shards, round = j->round + 1;
	au_time now = au_now(q->env);
	sup_round(j, round);
	if (j->close_inflight_round == round && now - j->close_sent_ns < q->cfg->enqueue_retry_ns)
		return; /* wait for it to apply; propose again if it seems lost */
	uint64_t *tokens = au_xcalloc(S, sizeof(uint64_t));
	bool ready = true;
	for (uint32_t s = 0; s < S; s++) {
		/* The current attempt is the newest one the queue knows. */
		while (j->attempt[s] + 1 < SUP_ATTEMPT_MAX &&
		       au_taskq_get(tq, au_rqml_task_id(j->spec.job, round, s, j->attempt[s] + 1)))
			j->attempt[s]++;
		const struct au_task *t =
			au_taskq_get(tq, au_rqml_task_id(j->spec.job, round, s, j->attempt[s]));
		if (!t) {
			if (!j->enqueued_ns[s] || now - j->enqueued_ns[s] >= q->cfg->enqueue_retry_ns)
				enqueue_shard(q, j, round, s);
			ready = false;
			continue;
		}
		bool replace = t->state == AU_TASK_DEAD;
		if (t->state == AU_TASK_DONE && !pending_find(j, s, t->done_token)) {
			/* Accepted, but its output has not reached the log. */
			if (!j->done_seen_ns[s])
				j->done_seen_ns[s] = now;
			else if (now - j->done_seen_ns[s] >= q->cfg->data_wait_ns)
				replace = true;
		}
		if (replace && j->attempt[s] + 1 < SUP_ATTEMPT_MAX) {
			j->attempt[s]++;
			j->done_seen_ns[s] = 0;
			trace(q, AU_TR_RQML_RETRY, (int64_t)j->spec.job, (int64_t)round << 16 | s,
			      j->attempt[s]);
			enqueue_shard(q, j, round, s);
		}
		if (t->state != AU_TASK_DONE || replace || !pending_find(j, s, t->done_token)) {
			ready = false;
			continue;
		}
		tokens[s] = t->done_token;
	}
	if (ready)
		propose_close(q, j, tokens);
	free(tokens);
}

/* Forget the supervisor's memory (not leading, or a new term). */
static void sup_forget(struct rqml *q)
{
	for (guint i = 0; i < q->jobs->len; i++) {
		struct rjob *j = g_ptr_array_index(q->jobs, i);
		j->close_inflight_round = 0;
		j->one_inflight = false;
		j->sup_round = 0;
	}
	g_hash_table_remove_all(q->start_sent);
}

static void supervise(struct rqml *q)
{
	uint64_t term = q->raft ? au_raft_term(q->raft) : 0;
	if (!is_leader(q) || term != q->sup_term) {
		sup_forget(q);
		q->sup_term = is_leader(q) ? term : 0;
	}
	if (!is_leader(q) || !au_orch_is_leader(q->orch))
		return;
	/* The configured jobs: start whatever the log does not have yet. */
	uint32_t top = au_rqml_top_jobs(q->cfg);
	for (uint64_t id = 1; id <= top; id++) {
		struct au_rqml_job_spec spec;
		if (!job_get(q, id) && au_rqml_top_spec(q->cfg, id, &spec))
			propose_start(q, &spec);
	}
	for (guint i = 0; i < q->jobs->len; i++) {
		struct rjob *j = g_ptr_array_index(q->jobs, i);
		if (j->state) {
			supervise_job(q, j);
			continue;
		}
#ifdef AU_BUG_RQML_RECORD_CONVERGED_ONLY
		/* Planted bug: only converged jobs get their ONE record; a job
		 * ended by max_rounds or the stall policy is silently left out. */
		if (j->verdict != AU_KERNEL_CONVERGED)
			continue;
#endif
		if (!au_one_get(q->one, j->spec.job) &&
		    (!j->one_inflight || au_now(q->env) - j->one_sent_ns >= q->cfg->enqueue_retry_ns))
			propose_one(q, j);
		if (j->verdict == AU_KERNEL_CONVERGED && !j->children_started) {
			enum au_kernel_kind kinds[AU_RQML_MAX_FANOUT];
			uint32_t n = au_rqml_children(q->cfg, j->spec.params.kind, kinds, AU_RQML_MAX_FANOUT);
			bool all = true;
			for (uint32_t k = 0; k < n; k++) {
				struct au_rqml_job_spec child;
				if (!au_rqml_child_spec(q->cfg, &j->spec, j->digest, k + 1, kinds[k], &child))
					continue;
				if (!job_get(q, child.job)) {
					all = false;
					propose_start(q, &child);
				}
			}
			j->children_started = all;
		}
	}
}

/* ---- the executor (every node) ----------------------------------------------------- */

static bool decode_payload(const struct au_task *t, uint64_t *job, uint32_t *round, uint32_t *shard)
{
	struct au_rbuf rb;
	au_rbuf_init(&rb, t->payload, t->payload_len);
	*job = au_get_u64(&rb);
	*round = au_get_u32(&rb);
	*shard = au_get_u32(&rb);
	return !rb.short_read && rb.pos == rb.len;
}

static au_time exec_cost(void *ctx, const struct au_task *t, uint32_t round, double cpu_gflops)
{
	struct rqml *q = ctx;
	(void)round;
	uint64_t jid;
	uint32_t r, s;
	const struct rjob *j = decode_payload(t, &jid, &r, &s) ? job_get(q, jid) : NULL;
	if (!j || !j->built || s >= j->spec.params.shards)
		return AU_NS_PER_MS; /* unknown here yet, or over: a guess; run_round decides */
	/* Roofline: the slower of computing and moving the bytes. */
	struct au_kernel_cost c = au_kernel_shard_cost(&j->kp, s);
	double gf = cpu_gflops > 0 ? cpu_gflops : 10.0;
	double t_compute = (double)c.flops / (gf * 1e9), t_memory = (double)c.bytes / (q->cfg->mem_gbps * 1e9);
	double sec = t_compute > t_memory ? t_compute : t_memory;
	return (au_time)(sec * 1e9) + 1;
}

/* The DATA command for an output (op byte, then the body a DATA message
 * carries); caller frees. */
static uint8_t *encode_data(const struct rqml *q, const struct outbox *ob, uint8_t first,
			    size_t *len)
{
	size_t cap = 64 + 8 * (size_t)ob->len;
	uint8_t *buf = au_xcalloc(cap, 1);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, first);
	au_put_u64(&w, ob->job);
	au_put_u32(&w, ob->round);
	au_put_u32(&w, ob->shard);
	au_put_u64(&w, ob->token);
	au_put_u32(&w, q->env->self);
	au_put_u32(&w, ob->len);
	for (uint32_t i = 0; i < ob->len; i++)
		au_put_f64(&w, ob->data[i]);
	assert(!w.overflow);
	*len = w.len;
	return buf;
}

/* Get an output to the leader's log: propose it here if this node leads,
 * else send it to the leader (unreliable; resent until it shows up). */
static void send_data(struct rqml *q, const struct outbox *ob)
{
	size_t len;
	if (is_leader(q)) {
		uint8_t *cmd = encode_data(q, ob, OP_DATA, &len);
		propose(q, cmd, len, AU_RQML_MACHINE, 0, 0);
		free(cmd);
		return;
	}
	/* The worker's guess, not the local Raft's hint: a node removed from
	 * the configuration keeps working as a worker, but its Raft never
	 * learns of a new leader, and outputs sent to a non-leader are
	 * dropped — the rounds would never complete. */
	au_node_id leader = au_orch_leader_guess(q->orch);
	if (!leader || leader == q->env->self)
		return;
	uint8_t *buf = encode_data(q, ob, MSG_DATA, &len);
	uint8_t *sealed = au_xcalloc(len + 4, 1);
	struct au_wbuf w;
	au_wbuf_init(&w, sealed, len + 4);
	au_put_bytes(&w, buf, len);
	au_wbuf_seal(&w);
	q->sent_data++;
	au_send(q->env, leader, sealed, w.len);
	free(sealed);
	free(buf);
}

static void outbox_free(gpointer p)
{
	struct outbox *ob = p;
	free(ob->data);
	free(ob);
}

/* Has the log taken this output, or moved past its round? */
static bool outbox_settled(const struct rqml *q, const struct outbox *ob)
{
	const struct rjob *j = job_get(q, ob->job);
	if (!j || !j->state || j->round + 1 != ob->round)
		return j != NULL; /* unknown job: keep trying */
	return pending_find(j, ob->shard, ob->token) != NULL;
}

static void arm_resend(struct rqml *q)
{
	au_timer_set(q->env, q->cfg->data_retry_ns, TM_RESEND, 0);
}

static int exec_round(void *ctx, const struct au_task *t, uint32_t round, const uint8_t *in,
		      size_t in_len, uint8_t *out, size_t *out_len, size_t out_max)
{
	struct rqml *q = ctx;
	(void)round, (void)in, (void)in_len;
	uint64_t jid;
	uint32_t r, s;
	if (!decode_payload(t, &jid, &r, &s) || out_max < 32)
		return -1;
	const struct rjob *j = job_get(q, jid);
	if (j && s < j->spec.params.shards && (!j->state || j->round >= r)) {
		/* The round is over (replicas only move forward): nothing to
		 * compute.  Finish the task with an empty result so the queue
		 * stops handing it out; no round will ever look at it. */
		q->obsolete++;
		trace(q, AU_TR_RQML_NOT_READY, (int64_t)jid, (int64_t)r << 16 | s, (int64_t)j->round);
		memset(out, 0, 32);
		*out_len = 32;
		return 0;
	}
	if (!j || j->round + 1 != r || s >= j->spec.params.shards) {
		/* This replica does not hold round r's input yet: fail the
		 * attempt; the queue retries it (maybe here, once caught up). */
		q->not_ready++;
		trace(q, AU_TR_RQML_NOT_READY, (int64_t)jid, (int64_t)r << 16 | s,
		      j ? (int64_t)j->round : -1);
		return -1;
	}
	uint32_t len = au_kernel_shard_out_len(&j->kp, s);
	size_t need = au_kernel_scratch_len(&j->kp);
	if (need > q->scratch_len) {
		free(q->scratch);
		q->scratch = au_xcalloc(need, sizeof(double));
		q->scratch_len = need;
	}
	struct outbox *ob = au_xcalloc(1, sizeof(*ob));
	*ob = (struct outbox){jid, t->token, r, s, len, au_xcalloc(len, sizeof(double))};
	au_kernel_shard(&j->kp, j->state, s, ob->data, q->scratch);
	q->computed++;
	uint8_t digest[32];
	au_kernel_digest(ob->data, len, digest);
	trace(q, AU_TR_RQML_COMPUTE, (int64_t)jid, (int64_t)r << 16 | s, (int64_t)t->token);
	struct au_rqml_row row = {(int64_t)jid, (int64_t)t->id, r, NAN, s, AU_RQML_ROW_SHARD};
	record_row(q, &row);
	send_data(q, ob);
	if (q->outbox->len >= OUTBOX_MAX)
		g_ptr_array_remove_index(q->outbox, 0); /* the oldest; its round is long gone */
	g_ptr_array_add(q->outbox, ob);
	if (q->outbox->len == 1)
		arm_resend(q);
	memcpy(out, digest, 32);
	*out_len = 32;
	return 0;
}

static void resend(struct rqml *q)
{
	for (guint i = 0; i < q->outbox->len;) {
		struct outbox *ob = g_ptr_array_index(q->outbox, i);
		if (outbox_settled(q, ob)) {
			g_ptr_array_remove_index(q->outbox, i);
			continue;
		}
		send_data(q, ob);
		i++;
	}
	if (q->outbox->len)
		arm_resend(q);
}

/* ---- the model ------------------------------------------------------------------------ */

static void *rqml_init(const struct au_env *env, const void *config)
{
	struct rqml *q = g_new0(struct rqml, 1);
	q->env = env;
	q->cfg = config;
	q->jobs = g_ptr_array_new_with_free_func(rjob_free);
	q->outbox = g_ptr_array_new_with_free_func(outbox_free);
	q->start_sent = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	q->raft = env->ops->local_service(env->ctx, "raft");
	q->orch = env->ops->local_service(env->ctx, "aureon");
	q->one = env->ops->local_service(env->ctx, "one");
	assert(q->raft && q->orch && q->one); /* au_rqml_model.needs */
	struct au_raft_machine m = {.sm = q, .apply = machine_apply, .snapshot = machine_snapshot,
				    .restore = machine_restore, .name = "rqml",
				    .digest = machine_digest, .describe = machine_describe};
	au_raft_register_machine(q->raft, AU_RQML_MACHINE, &m);
	struct au_orch_executor x = {AU_RQML_TASK_KIND, q, exec_cost, exec_round};
	au_orch_register_executor(q->orch, &x);
	au_taskq_observe(au_orch_queue(q->orch), on_queue_event, q);
	au_timer_set(env, q->cfg->tick_ns, TM_TICK, 0);
	return q;
}

static void rqml_recv(void *state, au_node_id from, const void *msg, size_t len)
{
	struct rqml *q = state;
	struct au_rbuf rb;
	if (!au_rbuf_unseal(&rb, msg, len) || au_get_u8(&rb) != MSG_DATA) {
		au_trace(q->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 0);
		return;
	}
	if (!is_leader(q))
		return; /* the worker resends to whoever leads */
	/* An output for a round this replica has already closed would only be
	 * ignored when applied: leave it out of the log (a worker whose
	 * replica is stuck — removed from Raft — resends such outputs for
	 * ever, since it never sees them settle). */
	struct au_rbuf peek = rb;
	uint64_t jid = au_get_u64(&peek);
	uint32_t round = au_get_u32(&peek);
	const struct rjob *j = peek.short_read ? NULL : job_get(q, jid);
	if (j && j->state && round <= j->round)
		return;
	/* The body is the DATA command as is, after the op byte. */
	size_t body = rb.len - rb.pos;
	uint8_t *cmd = au_xcalloc(body + 1, 1);
	cmd[0] = OP_DATA;
	memcpy(cmd + 1, rb.p + rb.pos, body);
	propose(q, cmd, body + 1, AU_RQML_MACHINE, 0, 0);
	free(cmd);
}

static void rqml_timer(void *state, uint32_t kind, uint64_t arg)
{
	struct rqml *q = state;
	(void)arg;
	if (kind == TM_TICK) {
		supervise(q);
		au_timer_set(q->env, q->cfg->tick_ns, TM_TICK, 0);
	} else if (kind == TM_KICK) {
		q->kick_armed = false;
		supervise(q);
	} else if (kind == TM_RESEND) {
		resend(q);
	}
}

static void rqml_persisted(void *state, uint64_t token, int status)
{
	/* This model writes nothing to storage: no sync is ever its own. */
	(void)state;
	(void)token;
	(void)status;
}

static void rqml_destroy(void *state)
{
	struct rqml *q = state;
	g_ptr_array_free(q->jobs, TRUE);
	g_ptr_array_free(q->outbox, TRUE);
	g_hash_table_destroy(q->start_sent);
	free(q->scratch);
	g_free(q);
}

static void rqml_summary(void *state, char *buf, size_t len)
{
	struct rqml *q = state;
	uint32_t running = 0, done = 0;
	uint64_t rounds = 0;
	for (guint i = 0; i < q->jobs->len; i++) {
		const struct rjob *j = g_ptr_array_index(q->jobs, i);
		if (j->state)
			running++;
		else
			done++;
		rounds += j->round;
	}
	snprintf(buf, len,
		 "jobs=%u running=%u finished=%u rounds=%llu computed=%llu not_ready=%llu "
		 "obsolete=%llu stale_outputs=%llu",
		 q->jobs->len, running, done, (unsigned long long)rounds,
		 (unsigned long long)q->computed, (unsigned long long)q->not_ready,
		 (unsigned long long)q->obsolete, (unsigned long long)q->stale_data);
}

static uint64_t rqml_applied(const void *state)
{
	return ((const struct rqml *)state)->applied_index;
}

/* The jobs as the most advanced replica holds them. */
static char *rqml_report(void *const *states, uint32_t nodes)
{
	au_node_id best_node = au_most_applied(states, nodes, rqml_applied);
	if (!best_node)
		return NULL;
	const struct rqml *best = states[best_node];
	GString *s = g_string_new(NULL);
	g_string_append_printf(s, "  RQML (replica of n%u): %u jobs\n", best_node, best->jobs->len);
	for (guint i = 0; i < best->jobs->len; i++) {
		const struct rjob *j = g_ptr_array_index(best->jobs, i);
		g_string_append_printf(s, "    job %llu %s (%u shards): %s, %u rounds",
				       (unsigned long long)j->spec.job,
				       au_kernel_kind_name(j->spec.params.kind), j->spec.params.shards,
				       au_kernel_verdict_name(j->verdict < 4 ? j->verdict : 0), j->round);
		if (j->round)
			g_string_append_printf(s, ", residual %.3g (tolerance %.3g)",
					       j->residuals[j->round - 1], j->spec.policy.tolerance);
		if (j->spec.parent)
			g_string_append_printf(s, ", child of job %llu", (unsigned long long)j->spec.parent);
		g_string_append_c(s, '\n');
	}
	return g_string_free(s, FALSE);
}

/* Check the keys as a whole: every kind that can run builds, its shard
 * outputs fit in a log entry, policies and fan-out rules parse. */
static bool rqml_validate(const void *config, uint32_t nodes, char *err, size_t errlen)
{
	const struct au_rqml_config *c = config;
	(void)nodes;
	if (au_rqml_top_jobs(c) > AU_RQML_MAX_JOBS) {
		snprintf(err, errlen, "jobs: at most %u jobs in all", AU_RQML_MAX_JOBS);
		return false;
	}
	enum au_kernel_kind rules[AU_RQML_MAX_FANOUT][2];
	int nrules = parse_fanout(c->fanout, rules, AU_RQML_MAX_FANOUT);
	if (nrules < 0) {
		snprintf(err, errlen, "fanout: '%s' is not a list of parent>child kinds (e.g. "
				      "pagerank>jacobi), at most %u", c->fanout, AU_RQML_MAX_FANOUT);
		return false;
	}
	bool used[AU_RQML_KINDS] = {false};
	for (uint32_t k = 0; k < AU_RQML_KINDS; k++)
		used[k] = c->jobs[k] > 0;
	for (int i = 0; i < nrules; i++)
		used[rules[i][1] - 1] = true;
	for (uint32_t k = 0; k < AU_RQML_KINDS; k++) {
		if (!used[k])
			continue;
		const char *name = au_kernel_kind_name((enum au_kernel_kind)(k + 1));
		struct au_rqml_job_spec spec;
		if (!kind_spec(c, (enum au_kernel_kind)(k + 1), 1, &spec)) {
			snprintf(err, errlen, "%s_policy: '%s' is not threshold or stall:K (K >= 2)", name,
				 c->kind[k].policy);
			return false;
		}
		char why[200];
		if (au_kernel_check(&spec.params, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s_%s", name, why);
			return false;
		}
		uint32_t out = au_kernel_max_shard_out(&spec.params);
		if (out > AU_RQML_DATA_MAX) {
			snprintf(err, errlen, "%s_shards: a shard's output would be %u doubles, more than "
					      "one log entry holds (%u): use more shards", name, out,
				 AU_RQML_DATA_MAX);
			return false;
		}
	}
	return true;
}

static const char *const kind_names[] = {"pagerank", "jacobi", "kmeans", NULL};

/* [workload]: the jobs, and per kind the keys that apply to it. */
static const struct au_config_key rqml_workload_keys[] = {
	{"jobs", AU_CFG_WEIGHTS, offsetof(struct au_rqml_config, jobs), "pagerank:1", 0,
	 AU_CFG_WEIGHTS_NONE_OK, "pagerank, jacobi, kmeans (or none: only submitted jobs)", kind_names},
	{"job_seed", AU_CFG_UINT, offsetof(struct au_rqml_config, job_seed), "1", 0, UINT32_MAX,
	 "seed of the jobs' generated inputs", NULL},
	{"fanout", AU_CFG_STRING, offsetof(struct au_rqml_config, fanout), "", 0, 127,
	 "child jobs of converged ones: parent>child, ... (e.g. pagerank>jacobi)", NULL},
	{"pagerank_size", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[0].size), "4096", 2,
	 1u << 30, "pagerank: vertices (a power of two)", NULL},
	{"pagerank_edges", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[0].edges), "32768", 1,
	 100000000, "pagerank: R-MAT edges", NULL},
	{"pagerank_shards", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[0].shards), "4", 1,
	 AU_KERNEL_MAX_SHARDS, "pagerank: shard tasks per round", NULL},
	{"pagerank_tolerance", AU_CFG_DOUBLE, offsetof(struct au_rqml_config, kind[0].tolerance),
	 "1e-8", 0, 0, "pagerank: converged when the L1 change is at most this", NULL},
	{"pagerank_max_rounds", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[0].max_rounds),
	 "100", 1, AU_RQML_MAX_ROUNDS, "pagerank: stop after this many rounds", NULL},
	{"pagerank_policy", AU_CFG_STRING, offsetof(struct au_rqml_config, kind[0].policy),
	 "threshold", 0, 31, "pagerank: convergence policy, threshold or stall:K", NULL},
	{"jacobi_size", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[1].size), "24", 1, 16384,
	 "jacobi: grid side N (N x N unknowns)", NULL},
	{"jacobi_shards", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[1].shards), "4", 1,
	 AU_KERNEL_MAX_SHARDS, "jacobi: shard tasks per round", NULL},
	{"jacobi_tolerance", AU_CFG_DOUBLE, offsetof(struct au_rqml_config, kind[1].tolerance),
	 "1e-5", 0, 0, "jacobi: converged when the L2 change is at most this", NULL},
	{"jacobi_max_rounds", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[1].max_rounds),
	 "400", 1, AU_RQML_MAX_ROUNDS, "jacobi: stop after this many rounds", NULL},
	{"jacobi_policy", AU_CFG_STRING, offsetof(struct au_rqml_config, kind[1].policy),
	 "threshold", 0, 31, "jacobi: convergence policy, threshold or stall:K", NULL},
	{"kmeans_size", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[2].size), "2000", 1,
	 10000000, "kmeans: points", NULL},
	{"kmeans_k", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[2].k), "8", 1, 256,
	 "kmeans: clusters", NULL},
	{"kmeans_dims", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[2].dims), "2", 1, 64,
	 "kmeans: dimensions", NULL},
	{"kmeans_shards", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[2].shards), "4", 1,
	 AU_KERNEL_MAX_SHARDS, "kmeans: shard tasks per round", NULL},
	{"kmeans_tolerance", AU_CFG_DOUBLE, offsetof(struct au_rqml_config, kind[2].tolerance), "0",
	 0, 0, "kmeans: converged when the centroids move at most this (0: a fixed point)", NULL},
	{"kmeans_max_rounds", AU_CFG_UINT, offsetof(struct au_rqml_config, kind[2].max_rounds), "100",
	 1, AU_RQML_MAX_ROUNDS, "kmeans: stop after this many rounds", NULL},
	{"kmeans_policy", AU_CFG_STRING, offsetof(struct au_rqml_config, kind[2].policy), "threshold",
	 0, 31, "kmeans: convergence policy, threshold or stall:K", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const struct au_config_key rqml_keys[] = {
	{"tick", AU_CFG_DURATION, offsetof(struct au_rqml_config, tick_ns), "20ms", AU_NS_PER_MS,
	 UINT64_C(60) * AU_NS_PER_S, "how often the supervisor looks at every job", NULL},
	{"data_retry", AU_CFG_DURATION, offsetof(struct au_rqml_config, data_retry_ns), "200ms",
	 AU_NS_PER_MS, UINT64_C(60) * AU_NS_PER_S, "a worker resends a shard output not yet in the log",
	 NULL},
	{"data_wait", AU_CFG_DURATION, offsetof(struct au_rqml_config, data_wait_ns), "3s",
	 AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S,
	 "recompute an accepted shard whose output is not in the log after this", NULL},
	{"enqueue_retry", AU_CFG_DURATION, offsetof(struct au_rqml_config, enqueue_retry_ns), "1s",
	 AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "enqueue again a task the queue does not show",
	 NULL},
	{"mem_gbps", AU_CFG_DOUBLE, offsetof(struct au_rqml_config, mem_gbps), "20", 0, 0,
	 "cost model: memory bandwidth of a node, GB/s", NULL},
	{"task_retries", AU_CFG_UINT, offsetof(struct au_rqml_config, task_retries), "20", 0, 1000,
	 "failed attempts a shard task survives before a new attempt replaces it", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const char *const row_events[] = {"shard", "round", "done"};

static const struct au_table_col rqml_cols[] = {
	{"job", AU_COL_I64, offsetof(struct au_rqml_row, job), NULL, 0},
	{"task", AU_COL_I64, offsetof(struct au_rqml_row, task), NULL, 0},
	{"round", AU_COL_U32, offsetof(struct au_rqml_row, round), NULL, 0},
	{"residual", AU_COL_F64, offsetof(struct au_rqml_row, residual), NULL, 0},
	{"shard", AU_COL_U32, offsetof(struct au_rqml_row, shard), NULL, 0},
	{"event", AU_COL_ENUM8, offsetof(struct au_rqml_row, event), row_events, 3},
};

static const struct au_table_desc rqml_tables[] = {
	{"rqml", "RQML progress: a shard computed by `node` (event shard, with its task id), a "
		 "round aggregated with its residual, a job finished (both recorded by the leader)",
	 rqml_cols, 6, sizeof(struct au_rqml_row)},
};

static const char *const rqml_message_names[] = {NULL, "DATA"};
static const char *const rqml_needs[] = {"raft", "aureon", "one", NULL};

const struct au_model au_rqml_model = {
	.name = "rqml",
	.config_group = "rqml",
	.config_keys = rqml_keys,
	.config_size = sizeof(struct au_rqml_config),
	.extra_group = "workload",
	.extra_keys = rqml_workload_keys,
	.init = rqml_init,
	.recv = rqml_recv,
	.timer = rqml_timer,
	.persisted = rqml_persisted,
	.destroy = rqml_destroy,
	.summary = rqml_summary,
	.tables = rqml_tables,
	.n_tables = 1,
	.message_names = rqml_message_names,
	.n_message_names = 2,
	.needs = rqml_needs,
	.validate = rqml_validate,
	.report = rqml_report,
};

/* ---- jobs submitted at run time (rqml.h) ---------------------------------------------- */

static int submit_fail(char *err, size_t errlen, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static int submit_fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -AU_EINVAL;
}

/* Bytes a replica needs for a job's generated input and round state, over-
 * estimated from what au_kernel_build and the rounds allocate. */
static uint64_t submit_mem(const struct au_kernel_params *p)
{
	uint64_t n = p->size;
	switch (p->kind) {
	case AU_KERNEL_PAGERANK:
		return 64 * n + 16 * (uint64_t)p->edges;
	case AU_KERNEL_JACOBI:
		return 32 * n * n;
	case AU_KERNEL_KMEANS:
		return 16 * n * (p->dims + 1) + 64 * (uint64_t)p->k * (p->dims + 1);
	default:
		return 0;
	}
}

int au_rqml_check_submit(const struct au_rqml_job_spec *spec, char *err, size_t errlen)
{
	const struct au_rqml_policy *p = &spec->policy;
	if (spec->job < AU_RQML_SUBMIT_MIN || spec->job > AU_RQML_SUBMIT_MAX)
		return submit_fail(err, errlen, "job = %llu: submitted jobs take ids %u..%u",
				   (unsigned long long)spec->job, AU_RQML_SUBMIT_MIN, AU_RQML_SUBMIT_MAX);
	if (p->max_rounds < 1 || p->max_rounds > AU_RQML_MAX_ROUNDS)
		return submit_fail(err, errlen, "max_rounds = %u: need 1..%u", p->max_rounds,
				   AU_RQML_MAX_ROUNDS);
	if (!(p->tolerance >= 0.0) || !isfinite(p->tolerance))
		return submit_fail(err, errlen, "tolerance: need a finite number >= 0");
	if (p->kind > AU_RQML_POLICY_STALL ||
	    (p->kind == AU_RQML_POLICY_STALL && (p->stall_rounds < 2 || p->stall_rounds > 10000)))
		return submit_fail(err, errlen, "policy: threshold, or stall:K with K in 2..10000");
	char why[200];
	if (au_kernel_check(&spec->params, why, sizeof(why)) != 0)
		return submit_fail(err, errlen, "%s", why);
	uint32_t out = au_kernel_max_shard_out(&spec->params);
	if (out > AU_RQML_DATA_MAX)
		return submit_fail(err, errlen, "shards = %u: a shard's output would be %u doubles, more "
				   "than one log entry holds (%u): use more shards",
				   spec->params.shards, out, AU_RQML_DATA_MAX);
	uint64_t mem = submit_mem(&spec->params);
	if (mem > AU_RQML_SUBMIT_MEM_MAX)
		return submit_fail(err, errlen, "size = %u: the job would need about %llu MiB on every "
				   "node, more than %llu MiB", spec->params.size,
				   (unsigned long long)(mem >> 20),
				   (unsigned long long)(AU_RQML_SUBMIT_MEM_MAX >> 20));
	return 0;
}

int au_rqml_submit(struct au_rqml *r, const struct au_rqml_job_spec *spec)
{
	struct rqml *q = (struct rqml *)r;
	if (!is_leader(q) || au_rqml_check_submit(spec, NULL, 0) != 0)
		return -AU_EINVAL;
	if (job_get(q, spec->job))
		return 0;
	struct au_rqml_job_spec s = *spec;
	s.parent = 0;
	s.depth = AU_RQML_MAX_DEPTH;
	propose_start(q, &s);
	return 0;
}

bool au_rqml_job_info(const struct au_rqml *r, uint64_t job, struct au_rqml_job_info *out)
{
	const struct rqml *q = (const struct rqml *)r;
	const struct rjob *j = job_get(q, job);
	memset(out, 0, sizeof(*out));
	if (!j)
		return false;
	out->spec = j->spec;
	out->finished = j->state == NULL;
	out->verdict = j->verdict;
	out->rounds = j->round;
	out->residual = j->round ? j->residuals[j->round - 1] : NAN;
	if (out->finished)
		memcpy(out->digest, j->digest, sizeof(out->digest));
	return true;
}
