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
 * the log within data_wait, gets a new attempt (a new task id).  When the
 * attempt that fails is the shard's shard_attempts-th of the round, the
 * supervisor proposes FAIL(J, r, s, attempts, last error) instead: every
 * replica ends J with verdict failed and that reason, and the supervisor
 * records it in ONE (no result: digest zero).  CANCEL(J) (au_rqml_cancel)
 * ends a running job the same way with verdict cancelled.
 *
 * Trace kinds RQML_* (520..): every replica traces what applying does;
 * workers trace what they compute.  sim/check_rqml.c checks them.
 *
 * Files: this one holds convergence policies, job specs and ids, and jobs
 * submitted at run time; rqml_machine.c the replicated state machine
 * (applying, snapshots, digest); rqml_supervisor.c the supervisor (steps
 * 1, 4, 5); rqml_executor.c the executor (step 2); rqml_model.c the
 * model's callbacks and keys; rqml_internal.h what they share.
 */
#include "rqml.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "hashes.h"
#include "rqml_internal.h"
#include "taskq.h"

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
bool rqml_kind_spec(const struct au_rqml_config *cfg, enum au_kernel_kind kind, uint64_t seed,
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
			return rqml_kind_spec(cfg, (enum au_kernel_kind)(k + 1),
					      au_hash_mix64((uint64_t)cfg->job_seed << 32 ^ job), out);
		}
		first += cfg->jobs[k];
	}
	return false;
}

/* Parse the fan-out rules "a>b, c>d" into (parent kind, child kind)
 * pairs; returns the count, or -1 if the text is malformed. */
int rqml_parse_fanout(const char *text, enum au_kernel_kind rules[][2], uint32_t max)
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
	int n = rqml_parse_fanout(cfg->fanout, rules, AU_RQML_MAX_FANOUT);
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
	return rqml_kind_spec(cfg, kind, seed, out);
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
	if (!rqml_is_leader(q) || au_rqml_check_submit(spec, NULL, 0) != 0)
		return -AU_EINVAL;
	if (rqml_job_get(q, spec->job))
		return 0;
	struct au_rqml_job_spec s = *spec;
	s.parent = 0;
	s.depth = AU_RQML_MAX_DEPTH;
	rqml_propose_start(q, &s);
	return 0;
}

int au_rqml_cancel(struct au_rqml *r, uint64_t job)
{
	struct rqml *q = (struct rqml *)r;
	if (!rqml_is_leader(q) || job == 0)
		return -AU_EINVAL;
	uint8_t buf[16];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, OP_CANCEL);
	au_put_u64(&w, job);
	assert(!w.overflow);
	return rqml_propose(q, buf, w.len, AU_RQML_MACHINE, 0, 0) ? 0 : -AU_EINVAL;
}

/* "JOB<sep>N" with JOB in 1..2^23-1; "" is job 0. */
static bool parse_pair(const char *text, char sep, uint64_t *job, uint32_t *n)
{
	*job = 0;
	*n = 0;
	if (!text || !*text)
		return true;
	char *end;
	errno = 0;
	unsigned long long a = strtoull(text, &end, 10);
	if (end == text || *end != sep || a == 0 || a >= (1ull << 23) || errno)
		return false;
	const char *p = end + 1;
	unsigned long long b = strtoull(p, &end, 10);
	if (end == p || *end != '\0' || b > UINT32_MAX || errno || *p == '-')
		return false;
	*job = a;
	*n = (uint32_t)b;
	return true;
}

bool au_rqml_parse_fail_shard(const char *text, uint64_t *job, uint32_t *shard)
{
	return parse_pair(text, ':', job, shard) && *shard < AU_KERNEL_MAX_SHARDS;
}

bool au_rqml_parse_cancel(const char *text, uint64_t *job, uint32_t *rounds)
{
	return parse_pair(text, '@', job, rounds);
}

const char *au_rqml_error_name(uint32_t error)
{
	return error == AU_RQML_ERR_OUTPUT_LOST ? "output_lost" : au_taskq_error_name(error);
}

char *au_rqml_reason(uint8_t verdict, uint32_t rounds, uint32_t shard, uint32_t attempts,
		     uint8_t error, char *buf, size_t len)
{
	assert(buf && len > 0);
	if (verdict == AU_KERNEL_FAILED)
		snprintf(buf, len, "shard %u: %u attempts exhausted, last error: %s (round %u)", shard,
			 attempts, au_rqml_error_name(error), rounds + 1);
	else if (verdict == AU_KERNEL_CANCELLED)
		snprintf(buf, len, "cancelled by an operator after %u rounds", rounds);
	else
		buf[0] = '\0';
	return buf;
}

bool au_rqml_job_info(const struct au_rqml *r, uint64_t job, struct au_rqml_job_info *out)
{
	const struct rqml *q = (const struct rqml *)r;
	const struct rjob *j = rqml_job_get(q, job);
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
	au_rqml_reason(j->verdict, j->round, j->fail_shard, j->fail_attempts, j->fail_error,
		       out->reason, sizeof(out->reason));
	return true;
}

void au_rqml_get_stats(const struct au_rqml *r, struct au_rqml_stats *out)
{
	const struct rqml *q = (const struct rqml *)r;
	memset(out, 0, sizeof(*out));
	for (guint i = 0; i < q->jobs->len; i++) {
		const struct rjob *j = g_ptr_array_index(q->jobs, i);
		out->jobs[j->verdict < AU_KERNEL_VERDICTS ? j->verdict : 0]++;
		out->rounds += j->round;
	}
	out->stale_outputs = q->stale_data;
	out->duplicate_outputs = q->dup_data;
	out->rejected_closes = q->rejected_closes;
	out->shards_computed = q->computed;
	out->outputs_sent = q->sent_data;
	out->proposals = q->proposals;
	out->applied_index = q->applied_index;
}
