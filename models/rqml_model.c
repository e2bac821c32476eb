/* rqml_model.c — RQML as a model (service "rqml"; see rqml.c for the
 * design): init, which attaches the state machine and the executor, the
 * DATA messages workers send the leader, timers, the summary and the
 * end-of-run report, and the [rqml] and [workload] keys and their checks.
 */
#include "rqml.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "models_internal.h"
#include "orchestrator/orchestrator.h"
#include "rqml_internal.h"
#include "taskq.h"
#include "trace_kinds.h"
#include "wire.h"

/* ---- the model ------------------------------------------------------------------------ */

static void *rqml_init(const struct au_env *env, const void *config)
{
	struct rqml *q = g_new0(struct rqml, 1);
	q->env = env;
	q->cfg = config;
	q->jobs = g_ptr_array_new_with_free_func(rqml_rjob_free);
	q->outbox = g_ptr_array_new_with_free_func(rqml_outbox_free);
	q->start_sent = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	q->raft = env->ops->local_service(env->ctx, "raft");
	q->orch = env->ops->local_service(env->ctx, "aureon");
	q->one = env->ops->local_service(env->ctx, "one");
	assert(q->raft && q->orch && q->one); /* au_rqml_model.needs */
	rqml_machine_attach(q);
	rqml_executor_register(q);
	au_taskq_observe(au_orch_queue(q->orch), rqml_on_queue_event, q);
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
	if (!rqml_is_leader(q))
		return; /* the worker resends to whoever leads */
	/* An output for a round this replica has already closed would only be
	 * ignored when applied: leave it out of the log (a worker whose
	 * replica is stuck — removed from Raft — resends such outputs for
	 * ever, since it never sees them settle). */
	struct au_rbuf peek = rb;
	uint64_t jid = au_get_u64(&peek);
	uint32_t round = au_get_u32(&peek);
	const struct rjob *j = peek.short_read ? NULL : rqml_job_get(q, jid);
	if (j && j->state && round <= j->round)
		return;
	/* The body is the DATA command as is, after the op byte. */
	size_t body = rb.len - rb.pos;
	uint8_t *cmd = au_xmalloc(body + 1);
	cmd[0] = OP_DATA;
	memcpy(cmd + 1, rb.p + rb.pos, body);
	rqml_propose(q, cmd, body + 1, AU_RQML_MACHINE, 0, 0);
	free(cmd);
}

static void rqml_timer(void *state, uint32_t kind, uint64_t arg)
{
	struct rqml *q = state;
	(void)arg;
	if (kind == TM_TICK) {
		rqml_supervise(q);
		au_timer_set(q->env, q->cfg->tick_ns, TM_TICK, 0);
	} else if (kind == TM_KICK) {
		q->kick_armed = false;
		rqml_supervise(q);
	} else if (kind == TM_RESEND) {
		rqml_resend(q);
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
				       au_kernel_verdict_name(j->verdict), j->round);
		if (j->round)
			g_string_append_printf(s, ", residual %.3g (tolerance %.3g)",
					       j->residuals[j->round - 1], j->spec.policy.tolerance);
		if (j->spec.parent)
			g_string_append_printf(s, ", child of job %llu", (unsigned long long)j->spec.parent);
		if (rqml_verdict_ended(j->verdict)) {
			char why[AU_RQML_REASON_LEN];
			g_string_append_printf(s, ": %s", au_rqml_reason(j->verdict, j->round, j->fail_shard,
									  j->fail_attempts, j->fail_error,
									  why, sizeof(why)));
		}
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
	int nrules = rqml_parse_fanout(c->fanout, rules, AU_RQML_MAX_FANOUT);
	if (nrules < 0) {
		snprintf(err, errlen, "fanout: '%s' is not a list of parent>child kinds (e.g. "
				      "pagerank>jacobi), at most %u", c->fanout, AU_RQML_MAX_FANOUT);
		return false;
	}
	uint64_t job;
	uint32_t n;
	if (!au_rqml_parse_fail_shard(c->fail_shard, &job, &n)) {
		snprintf(err, errlen, "fail_shard: '%s' is not JOB:SHARD (job 1..%u, shard below %u)",
			 c->fail_shard, (1u << 23) - 1, AU_KERNEL_MAX_SHARDS);
		return false;
	}
	if (!au_rqml_parse_cancel(c->cancel, &job, &n)) {
		snprintf(err, errlen, "cancel: '%s' is not JOB@ROUNDS (job 1..%u)", c->cancel,
			 (1u << 23) - 1);
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
		if (!rqml_kind_spec(c, (enum au_kernel_kind)(k + 1), 1, &spec)) {
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
	{"fail_shard", AU_CFG_STRING, offsetof(struct au_rqml_config, fail_shard), "", 0, 31,
	 "fault injection: JOB:SHARD, that shard's kernel fails every attempt (\"\": none)", NULL},
	{"fail_round", AU_CFG_UINT, offsetof(struct au_rqml_config, fail_round), "1", 1,
	 AU_RQML_MAX_ROUNDS, "fail_shard fails from this round on", NULL},
	{"shard_fail", AU_CFG_UINT, offsetof(struct au_rqml_config, shard_fail), "0", 0, 100,
	 "percent of shard attempts whose kernel fails, any job and round (jobs then fail when a "
	 "shard exhausts [rqml] shard_attempts)", NULL},
	{"cancel", AU_CFG_STRING, offsetof(struct au_rqml_config, cancel), "", 0, 31,
	 "JOB@ROUNDS: the supervisor cancels JOB once it has aggregated ROUNDS rounds (\"\": none)",
	 NULL},
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
	{"shard_attempts", AU_CFG_UINT, offsetof(struct au_rqml_config, shard_attempts), "8", 1,
	 AU_RQML_ATTEMPTS_MAX, "attempts (shard tasks) one shard of a round may use before its job "
	 "fails with the last one's error", NULL},
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
	.about = "RQML: numeric jobs (PageRank, Jacobi, k-means) refined round by round",
};
