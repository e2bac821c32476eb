/* model.c — the orchestrator as a model (service "aureon"): its callbacks,
 * which dispatch to the roles (frontend.c, worker.c, lockclient.c), the
 * node's incarnation record (orch.boot), the public API of
 * orchestrator.h, and the [aureon] and [workload] keys.
 * orchestrator_internal.h has the design.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "orchestrator_internal.h"
#include "raft/raft.h"
#include "trace_kinds.h"

/* ---- helpers the roles share -------------------------------------------------------- */

void orch_send_to(struct au_orch *o, au_node_id to, struct au_wbuf *w)
{
	au_wbuf_seal(w);
	if (w->overflow || !to)
		return;
	o->msgs_out++;
	au_send(o->env, to, w->p, w->len);
}

/* Where to send requests for the leader's front end: ourselves if our
 * Raft leads; else where a recent answer came from or pointed to (a
 * non-leader answers a request with a hint); else our Raft's hint; else
 * anyone, at random — so a worker whose own Raft does not know the leader
 * (just restarted, or no longer a voter) still finds it. */
/* au_orch_leader_guess, or a node at random when there is no guess. */
au_node_id orch_leader_of(const struct au_orch *o)
{
	if (!o->raft)
		return 0;
	au_node_id guess = au_orch_leader_guess(o);
	return guess ? guess : 1 + au_random_below(o->env, o->env->nodes);
}

/* An answer from the front end at `from` (or a hint naming `leader`). */
static void heard_leader(struct au_orch *o, au_node_id leader)
{
	if (leader == 0 || leader > o->env->nodes)
		return;
	o->guess = leader;
	o->guess_until = au_now(o->env) + 4 * o->cfg->retry_ns;
	o->guess_hint = o->raft ? au_raft_leader_hint(o->raft) : 0;
}

/* ---- the model -------------------------------------------------------------------------------- */

/* The incarnation: one more than the newest durable one.  Two 16-byte
 * slots written alternately, so a torn write never loses both. */
static uint32_t read_boot_slot(struct au_orch *o, uint64_t off)
{
	uint8_t buf[12];
	struct au_rbuf rb;
	int64_t n = o->env->ops->storage_read(o->env->ctx, "orch.boot", off, buf, sizeof(buf));
	if (n != (int64_t)sizeof(buf) || !au_rbuf_unseal(&rb, buf, sizeof(buf)) ||
	    au_get_u32(&rb) != BOOT_MAGIC)
		return 0;
	uint32_t inc = au_get_u32(&rb);
	return rb.short_read ? 0 : inc;
}

/* Write this incarnation into its slot and sync it; a failed write is
 * tried again after a retry interval (the worker pulls nothing before the
 * incarnation is durable). */
static void write_boot(struct au_orch *o)
{
	uint8_t buf[12];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u32(&w, BOOT_MAGIC);
	au_put_u32(&w, o->inc);
	au_wbuf_seal(&w);
	assert(w.len == sizeof(buf));
	int rc = o->env->ops->storage_write(o->env->ctx, "orch.boot", (o->inc & 1) * 16, buf, w.len);
	if (rc < 0) {
		o->disk_errors++;
		au_trace_storage(o->env, AU_STORAGE_WRITE, rc, AU_STORAGE_RETRY);
		(void)au_timer_set(o->env, o->cfg->retry_ns, TM_BOOT_RETRY, 0);
		return;
	}
	o->env->ops->storage_sync(o->env->ctx, "orch.boot", TOKEN(T_BOOT, 0));
}

static void boot_record(struct au_orch *o)
{
	uint32_t a = read_boot_slot(o, 0), b = read_boot_slot(o, 16);
	o->inc = (a > b ? a : b) + 1;
	write_boot(o);
	au_trace(o->env, AU_TR_ORCH_BOOT, o->inc, 0, 0);
}

static void *orch_init(const struct au_env *env, const void *config)
{
	struct au_orch *o = g_new0(struct au_orch, 1);
	o->env = env;
	o->cfg = config;
	o->jobs = g_ptr_array_new();
	o->sealed = g_ptr_array_new();
	o->parked = g_new0(struct parked, (gsize)env->nodes + 1);
	o->node_op_at = g_new0(au_time, (gsize)env->nodes + 1);
	o->verdict_inc = g_new0(uint32_t, (gsize)env->nodes + 1);
	o->verdict_dead = g_new0(uint8_t, (gsize)env->nodes + 1);
	o->verdict_fresh = g_new0(bool, (gsize)env->nodes + 1);
	o->dead_inc = g_new0(uint32_t, (gsize)env->nodes + 1);
	o->expiring = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	o->deadlines = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	o->lock_deadlines = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	o->grant_sent = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	o->cancel_sent = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	o->requeue_sent = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	au_taskq_batch_init(&o->qb);
	au_taskq_batch_init(&o->lb);
	o->pull_sent = INT64_MIN / 2;
	o->q = au_taskq_new(env);
	o->locks = au_locks_new(env);
	au_taskq_observe(o->q, orch_on_queue_event, o);
	au_locks_observe(o->locks, orch_on_lock_event, o);
	orch_register_synthetic(o);
	o->raft = env->ops->local_service(env->ctx, "raft");
	if (o->raft) {
		au_taskq_attach(o->q, o->raft);
		au_locks_attach(o->locks, o->raft);
	}
	o->swim = env->ops->local_service(env->ctx, "swim");
	if (o->swim) {
		for (au_node_id m = 1; m <= env->nodes; m++) {
			enum au_swim_state st = au_swim_member_state(o->swim, m);
			orch_fold_verdict(o, m, st == AU_SWIM_DEAD || st == AU_SWIM_LEFT,
					  au_swim_member_incarnation(o->swim, m));
		}
		au_swim_observe(o->swim, orch_on_member, o);
	}
	boot_record(o);
	au_timer_set(env, o->cfg->renew_ns, TM_RENEW, 0);
	au_timer_set(env, au_random_between(env, 0, o->cfg->retry_ns), TM_PULL, 0);
	au_timer_set(env, o->cfg->expiry_scan_ns, TM_SCAN, 0);
	if (env->metrics_period_ns > 0)
		au_timer_set(env, env->metrics_period_ns, TM_METRICS, 0);
	bool lock_client = o->cfg->lock_clients.all;
	for (uint32_t i = 0; i < o->cfg->lock_clients.n; i++)
		lock_client = lock_client || o->cfg->lock_clients.id[i] == env->self;
	if (o->cfg->lock_keys && lock_client)
		orch_lc_arm(o, au_random_between(env, 0, o->cfg->lock_think_ns));
	return o;
}

static void orch_recv(void *state, au_node_id from, const void *msg, size_t len)
{
	struct au_orch *o = state;
	struct au_rbuf rb;
	o->msgs_in++;
	if (!au_rbuf_unseal(&rb, msg, len)) {
		o->bad++;
		au_trace(o->env, AU_TR_MODEL_BAD_MESSAGE, from, (int64_t)len, 0);
		return;
	}
	uint8_t type = au_get_u8(&rb);
	orch_check_leadership(o);
	switch (type) {
	case M_GRANT:
		heard_leader(o, from);
		orch_on_grant(o, &rb);
		break;
	case M_RESOLVED:
		heard_leader(o, from);
		orch_on_resolved(o, &rb);
		break;
	case M_LOCK_RESP:
		heard_leader(o, from);
		orch_on_lock_resp(o, &rb);
		break;
	case M_HINT: {
		au_node_id leader = au_get_u32(&rb);
		if (rb.short_read)
			o->bad++;
		else if (leader != o->env->self)
			heard_leader(o, leader);
		break;
	}
	default:
		if (type >= M_TYPES_) {
			o->bad++;
			return;
		}
		if (!o->leading) {
			/* Not the leader: say who is, if we know. */
			au_node_id hint = o->raft ? au_raft_leader_hint(o->raft) : 0;
			if (hint && hint != o->env->self && hint != from) {
				uint8_t buf[16];
				struct au_wbuf w;
				au_wbuf_init(&w, buf, sizeof(buf));
				au_put_u8(&w, M_HINT);
				au_put_u32(&w, hint);
				orch_send_to(o, from, &w);
			}
			return;
		}
		orch_fe_recv(o, from, type, &rb);
	}
}

static void write_metrics(struct au_orch *o)
{
	struct au_orch_metrics_row row = {0};
	for (guint i = 0; i < o->jobs->len; i++) {
		const struct job *j = g_ptr_array_index(o->jobs, i);
		row.queue_depth += j->phase == J_QUEUED;
	}
	row.active_tasks = o->running;
	row.leases = o->jobs->len;
	uint64_t in = o->msgs_in, out = o->msgs_out;
	if (o->env->ops->msg_counts)
		o->env->ops->msg_counts(o->env->ctx, &in, &out);
	row.msgs_in = (int64_t)in;
	row.msgs_out = (int64_t)out;
	uint64_t counts[4];
	au_taskq_counts(o->q, counts);
	row.global_queued = (int64_t)counts[AU_TASK_QUEUED];
	row.done = (int64_t)counts[AU_TASK_DONE];
	row.dead = (int64_t)counts[AU_TASK_DEAD];
	row.leader = o->raft && au_raft_is_leader(o->raft);
	o->env->ops->record(o->env->ctx, 0, &row);
}

static void orch_timer(void *state, uint32_t kind, uint64_t arg)
{
	struct au_orch *o = state;
	orch_check_leadership(o);
	switch (kind) {
	case TM_PULL:
		orch_try_pull(o);
		au_timer_set(o->env, o->cfg->retry_ns, TM_PULL, 0);
		break;
	case TM_RENEW:
		orch_renew_all(o);
		orch_report_verdicts(o);
		au_timer_set(o->env, o->cfg->renew_ns, TM_RENEW, 0);
		break;
	case TM_ROUND: {
		struct job *j = orch_job_by_seq(o, arg);
		if (j && j->phase == J_RUNNING)
			orch_round_done(o, j);
		break;
	}
	case TM_SCAN:
		if (o->leading)
			orch_leader_tick(o);
		au_timer_set(o->env, o->cfg->expiry_scan_ns, TM_SCAN, 0);
		break;
	case TM_KICK:
		orch_on_kick(o);
		break;
	case TM_METRICS:
		write_metrics(o);
		au_timer_set(o->env, o->env->metrics_period_ns, TM_METRICS, 0);
		break;
	case TM_LOCK:
		orch_lc_timer(o);
		break;
	case TM_BOOT_RETRY:
		if (!o->booted)
			write_boot(o);
		break;
	}
}

static void orch_persisted(void *state, uint64_t token, int status)
{
	struct au_orch *o = state;
	uint64_t kind = token >> 56, seq = token & ((UINT64_C(1) << 56) - 1);
	orch_check_leadership(o);
	if (status < 0) {
		if (kind == T_BOOT && !o->booted) {
			o->disk_errors++;
			au_trace_storage(o->env, AU_STORAGE_SYNC, status, AU_STORAGE_RETRY);
			(void)au_timer_set(o->env, o->cfg->retry_ns, TM_BOOT_RETRY, 0);
		} else if (kind == T_CKPT) {
			struct job *j = orch_job_by_seq(o, seq);
			if (j && j->phase == J_SYNCING)
				orch_storage_give_back(o, j, AU_STORAGE_SYNC, status);
		} else if (kind == T_LOCKVAL && o->lc_state == LC_SYNCING) {
			orch_lc_storage_failed(o, AU_STORAGE_SYNC, status);
		}
		return;
	}
	if (kind == T_BOOT) {
		o->booted = true;
		orch_try_pull(o);
	} else if (kind == T_CKPT) {
		struct job *j = orch_job_by_seq(o, seq);
		if (j)
			orch_state_synced(o, j);
	} else if (kind == T_LOCKVAL) {
		orch_lc_synced(o);
	}
}

static void orch_destroy(void *state)
{
	struct au_orch *o = state;
	for (guint i = 0; i < o->jobs->len; i++)
		orch_free_job(g_ptr_array_index(o->jobs, i));
	g_ptr_array_free(o->jobs, TRUE);
	orch_drop_pending(o);
	g_ptr_array_free(o->sealed, TRUE);
	if (o->spare_cmd)
		g_byte_array_free(o->spare_cmd, TRUE);
	au_taskq_batch_free(&o->qb);
	au_taskq_batch_free(&o->lb);
	g_hash_table_destroy(o->expiring);
	g_hash_table_destroy(o->deadlines);
	g_hash_table_destroy(o->lock_deadlines);
	g_hash_table_destroy(o->grant_sent);
	g_hash_table_destroy(o->cancel_sent);
	g_hash_table_destroy(o->requeue_sent);
	g_free(o->parked);
	g_free(o->node_op_at);
	g_free(o->verdict_inc);
	g_free(o->verdict_dead);
	g_free(o->verdict_fresh);
	g_free(o->dead_inc);
	au_taskq_free(o->q);
	au_locks_free(o->locks);
	g_free(o);
}

static void orch_summary(void *state, char *buf, size_t len)
{
	struct au_orch *o = state;
	uint64_t c[4];
	au_taskq_counts(o->q, c);
	snprintf(buf, len,
		 "inc=%u held=%u ran=%" PRIu64 " finished=%" PRIu64 " acked=%" PRIu64
		 " stale=%" PRIu64 " lost=%" PRIu64 " abandoned=%" PRIu64 " resumed=%" PRIu64
		 "+%" PRIu64 " | queue: queued=%" PRIu64 " leased=%" PRIu64 " done=%" PRIu64
		 " dead=%" PRIu64 " | locks held=%" PRIu64 " bad=%" PRIu64,
		 o->inc, o->jobs->len, o->started, o->finished_n, o->acked, o->stale, o->lost,
		 o->abandoned, o->resumed_disk, o->resumed_log, c[0], c[1], c[2], c[3], o->locks_held, o->bad);
	size_t used = strlen(buf);
	if (o->disk_errors && used < len)
		snprintf(buf + used, len - used, " disk_errors=%" PRIu64 "%s", o->disk_errors,
			 o->booted ? "" : " (incarnation not durable: not pulling)");
}

/* Operator commands (faults drain / its end): only the leader proposes. */
static int orch_admin(void *state, const char *action, au_node_id target)
{
	struct au_orch *o = state;
	orch_check_leadership(o);
	bool drain = strcmp(action, "drain") == 0, resume = strcmp(action, "resume") == 0;
	if ((!drain && !resume) || !o->leading || target == 0 || target > o->env->nodes)
		return -AU_EINVAL;
	au_taskq_add_node(orch_room(o, false, 16), target,
			  drain ? AU_TASKQ_NODE_DRAIN : AU_TASKQ_NODE_RESUME);
	return 0;
}

/* ---- the public API ------------------------------------------------------------------------------ */

int au_orch_register_executor(struct au_orch *o, const struct au_orch_executor *x)
{
	for (uint32_t i = 0; i < o->n_exec; i++)
		if (o->exec[i].kind == x->kind) {
			o->exec[i] = *x;
			return 0;
		}
	if (o->n_exec == MAX_EXECUTORS)
		return -AU_ENOMEM;
	o->exec[o->n_exec++] = *x;
	return 0;
}

struct au_taskq *au_orch_queue(struct au_orch *o)
{
	return o->q;
}

au_node_id au_orch_leader_guess(const struct au_orch *o)
{
	if (!o->raft)
		return 0;
	if (au_raft_is_leader(o->raft))
		return o->env->self;
	/* A guess is older news than a leader our Raft learned of since it
	 * was made (the guessed leader died and another was elected): else
	 * every request would go to the dead leader until the guess expires,
	 * and a worker's renewals with it — its leases lost on each failover. */
	au_node_id hint = au_raft_leader_hint(o->raft);
	if (o->guess && au_now(o->env) < o->guess_until && (hint == 0 || hint == o->guess_hint))
		return o->guess;
	return hint;
}

bool au_orch_is_leader(const struct au_orch *o)
{
	return o->raft && au_raft_is_leader(o->raft);
}

void au_orch_stats(const struct au_orch *o, struct au_orch_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->incarnation = o->inc;
	st->held = o->jobs->len;
	for (guint i = 0; i < o->jobs->len; i++) {
		const struct job *j = g_ptr_array_index(o->jobs, i);
		st->waiting += j->phase == J_QUEUED;
	}
	st->running = o->running;
	st->started = o->started;
	st->finished = o->finished_n;
	st->acked = o->acked;
	st->stale = o->stale;
	st->lost = o->lost;
	st->abandoned = o->abandoned;
	st->released = o->released;
	st->resumed_disk = o->resumed_disk;
	st->resumed_log = o->resumed_log;
	st->locks_held = o->locks_held;
	st->front_end = o->leading;
}

int au_orch_enqueue(struct au_orch *o, const struct au_task_spec *spec)
{
	orch_check_leadership(o);
	if (!o->leading)
		return -AU_EINVAL;
	return au_taskq_add_enqueue(orch_room(o, false, 48 + spec->payload_len), spec);
}

int au_orch_cancel(struct au_orch *o, uint64_t job)
{
	orch_check_leadership(o);
	if (!o->leading || job == 0)
		return -AU_EINVAL;
	return au_taskq_add_cancel(orch_room(o, false, 16), job);
}

int au_orch_requeue(struct au_orch *o, uint64_t id)
{
	orch_check_leadership(o);
	if (!o->leading || id == 0)
		return -AU_EINVAL;
	return au_taskq_add_requeue(orch_room(o, false, 16), id);
}

/* ---- configuration and tables -------------------------------------------------------------------- */

static const struct au_config_key orch_keys[] = {
	{"max_concurrency", AU_CFG_UINT, offsetof(struct au_orch_config, max_concurrency), "4", 1,
	 1024, "tasks running at once on a node", NULL},
	{"local_queue", AU_CFG_UINT, offsetof(struct au_orch_config, local_queue), "4", 0, 1024,
	 "leased tasks waiting for a worker, at most", NULL},
	{"lease", AU_CFG_DURATION, offsetof(struct au_orch_config, lease_ns), "5s",
	 10 * AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "visibility timeout of a lease", NULL},
	{"renew", AU_CFG_DURATION, offsetof(struct au_orch_config, renew_ns), "1s", AU_NS_PER_MS,
	 UINT64_C(600) * AU_NS_PER_S, "how often a worker renews its leases", NULL},
	{"retry", AU_CFG_DURATION, offsetof(struct au_orch_config, retry_ns), "500ms", AU_NS_PER_MS,
	 UINT64_C(60) * AU_NS_PER_S, "resend an unanswered pull or ack after this", NULL},
	{"batch_inflight", AU_CFG_UINT, offsetof(struct au_orch_config, batch_inflight), "2", 1, 64,
	 "queue commands in flight in Raft at once (the leader's group commit)", NULL},
	{"batch_ops", AU_CFG_UINT, offsetof(struct au_orch_config, batch_ops), "0", 0, 1000000,
	 "operations per queue command at most (0: as many as fit; 1: no batching)", NULL},
	{"expiry_scan", AU_CFG_DURATION, offsetof(struct au_orch_config, expiry_scan_ns), "100ms",
	 AU_NS_PER_MS, UINT64_C(60) * AU_NS_PER_S, "how often the leader checks lease deadlines", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const struct au_config_key workload_keys[] = {
	{"tasks", AU_CFG_UINT, offsetof(struct au_orch_config, tasks), "0", 0, 10000000,
	 "tasks the workload enqueues (ids 1..N)", NULL},
	{"task_rate", AU_CFG_RATE, offsetof(struct au_orch_config, task_rate), "0/s", 0, 10000000,
	 "tasks enqueued per second (0/s: all at the start)", NULL},
	{"task_topics", AU_CFG_UINT, offsetof(struct au_orch_config, task_topics), "4", 1, 1000000,
	 "topics tasks are spread over", NULL},
	{"task_priorities", AU_CFG_UINT, offsetof(struct au_orch_config, task_priorities), "1", 1,
	 1000, "priority levels 0..K-1", NULL},
	{"task_rounds", AU_CFG_UINT, offsetof(struct au_orch_config, task_rounds), "1", 1, 100000,
	 "rounds per task, checkpointed at each boundary", NULL},
	{"task_retries", AU_CFG_UINT, offsetof(struct au_orch_config, task_retries), "5", 0, 1000,
	 "failed attempts a task survives before the dead letters", NULL},
	{"task_payload", AU_CFG_UINT, offsetof(struct au_orch_config, task_payload), "64", 0,
	 AU_TASKQ_PAYLOAD_MAX, "payload bytes per task", NULL},
	{"task_fail", AU_CFG_UINT, offsetof(struct au_orch_config, task_fail), "0", 0, 100,
	 "percent of attempts that fail (nack and retry)", NULL},
	{"task_cost", AU_CFG_DIST, offsetof(struct au_orch_config, task_cost),
	 "lognormal(50ms,20ms)", 0, 0, "duration of one task on a 10-GFLOPS node", NULL},
	{"task_caps", AU_CFG_CAPS, offsetof(struct au_orch_config, task_caps), "none", 0, 0,
	 "percent of tasks needing each capability, e.g. gpu:10", NULL},
	{"task_job_size", AU_CFG_UINT, offsetof(struct au_orch_config, task_job_size), "0", 0,
	 10000000, "tasks per job: task i belongs to job (i-1)/K+1 (0: no jobs)", NULL},
	{"job_cancel", AU_CFG_UINT, offsetof(struct au_orch_config, job_cancel), "0", 0, 100,
	 "percent of jobs the leader cancels once a task of theirs is done (needs task_job_size)",
	 NULL},
	{"dead_requeue", AU_CFG_UINT, offsetof(struct au_orch_config, dead_requeue), "0", 0, 1,
	 "1: the leader requeues each dead letter once (not those of cancelled jobs)", NULL},
	{"lock_keys", AU_CFG_UINT, offsetof(struct au_orch_config, lock_keys), "0", 0, 1000000,
	 "keys the lock clients contend for (0: no lock clients)", NULL},
	{"lock_clients", AU_CFG_NODE_LIST, offsetof(struct au_orch_config, lock_clients), "all", 0, 0,
	 "nodes that run a lock client (all, or n1,n3,...)", NULL},
	{"lock_ttl", AU_CFG_DURATION, offsetof(struct au_orch_config, lock_ttl_ns), "2s",
	 10 * AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "lock lease", NULL},
	{"lock_hold", AU_CFG_DURATION, offsetof(struct au_orch_config, lock_hold_ns), "500ms",
	 AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "how long a client holds a lock", NULL},
	{"lock_think", AU_CFG_DURATION, offsetof(struct au_orch_config, lock_think_ns), "1s",
	 AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "mean pause between a client's locks", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const struct au_table_col metrics_cols[] = {
	{"queue_depth", AU_COL_U32, offsetof(struct au_orch_metrics_row, queue_depth), NULL, 0},
	{"active_tasks", AU_COL_U32, offsetof(struct au_orch_metrics_row, active_tasks), NULL, 0},
	{"leases", AU_COL_U32, offsetof(struct au_orch_metrics_row, leases), NULL, 0},
	{"msgs_in", AU_COL_I64, offsetof(struct au_orch_metrics_row, msgs_in), NULL, 0},
	{"msgs_out", AU_COL_I64, offsetof(struct au_orch_metrics_row, msgs_out), NULL, 0},
	{"global_queued", AU_COL_I64, offsetof(struct au_orch_metrics_row, global_queued), NULL, 0},
	{"done", AU_COL_I64, offsetof(struct au_orch_metrics_row, done), NULL, 0},
	{"dead", AU_COL_I64, offsetof(struct au_orch_metrics_row, dead), NULL, 0},
	{"leader", AU_COL_ENUM8, offsetof(struct au_orch_metrics_row, leader),
	 (const char *const[]){"no", "yes"}, 2},
};

static const struct au_table_desc orch_tables[] = {
	{"metrics", "one row per node every [trace] metrics_period: local queue depth, running "
		    "tasks, leases held, messages so far, and the replicated queue's counts as this "
		    "node's replica sees them",
	 metrics_cols, 9, sizeof(struct au_orch_metrics_row)},
};

static const char *const orch_message_names[] = {
	NULL, "PULL", "RENEW", "ACK", "NACK", "RELEASE", "CKPT", "GRANT", "RESOLVED",
	"LOCK", "UNLOCK", "WRITE", "LOCK_RESP", "HINT", "MEMBER"};

static const char *const orch_needs[] = {"raft", NULL};

const struct au_model au_orch_model = {
	.name = "aureon",
	.config_group = "aureon",
	.config_keys = orch_keys,
	.config_size = sizeof(struct au_orch_config),
	.extra_group = "workload",
	.extra_keys = workload_keys,
	.init = orch_init,
	.recv = orch_recv,
	.timer = orch_timer,
	.persisted = orch_persisted,
	.destroy = orch_destroy,
	.summary = orch_summary,
	.tables = orch_tables,
	.n_tables = 1,
	.message_names = orch_message_names,
	.n_message_names = M_TYPES_,
	.admin = orch_admin,
	.needs = orch_needs,
	.about = "the execution layer: a task queue in the Raft log, leases, locks, an orchestrator per node",
};
