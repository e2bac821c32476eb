/* rqml_executor.c — RQML's shard executor, on every node (see rqml.c
 * for the design): the orchestrator runs a shard task here; it computes
 * the shard from this node's replica of the job, sends the output with
 * the lease's fencing token to the leader (resent until the replica shows
 * it in the log), and returns the output's digest as the task result.
 */
#include "rqml.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "models_internal.h"
#include "orchestrator/orchestrator.h"
#include "rqml_internal.h"
#include "taskq.h"
#include "trace_kinds.h"
#include "wire.h"

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
	const struct rjob *j = decode_payload(t, &jid, &r, &s) ? rqml_job_get(q, jid) : NULL;
	if (!j || !j->built || s >= j->spec.params.shards)
		return AU_NS_PER_MS; /* unknown here yet, or over: a guess; run_round decides */
	/* Roofline: the slower of computing and moving the bytes. */
	struct au_kernel_cost c = au_kernel_shard_cost(j->kp, s);
	double gf = cpu_gflops > 0 ? cpu_gflops : 10.0;
	double t_compute = (double)c.flops / (gf * 1e9), t_memory = (double)c.bytes / (q->cfg->mem_gbps * 1e9);
	double sec = t_compute > t_memory ? t_compute : t_memory;
	return (au_time)(sec * 1e9) + 1;
}

/* The DATA command for an output (op byte, then the body a DATA message
 * carries) in *w, over a buffer the caller frees (w->p) that has room for
 * a seal after it. */
static void encode_data(const struct rqml *q, const struct outbox *ob, uint8_t first,
			struct au_wbuf *w)
{
	size_t cap = 64 + 8 * (size_t)ob->len; /* 33 bytes of header, the doubles, a CRC */
	au_wbuf_init(w, au_xmalloc(cap), cap);
	au_put_u8(w, first);
	au_put_u64(w, ob->job);
	au_put_u32(w, ob->round);
	au_put_u32(w, ob->shard);
	au_put_u64(w, ob->token);
	au_put_u32(w, q->env->self);
	au_put_u32(w, ob->len);
	rqml_put_f64s(w, ob->data, ob->len);
	assert(!w->overflow && w->cap - w->len >= 4);
}

/* Get an output to the leader's log: propose it here if this node leads,
 * else send it to the leader (unreliable; resent until it shows up). */
static void send_data(struct rqml *q, const struct outbox *ob)
{
	struct au_wbuf w;
	if (rqml_is_leader(q)) {
		encode_data(q, ob, OP_DATA, &w);
		rqml_propose(q, w.p, w.len, AU_RQML_MACHINE, 0, 0);
		free(w.p);
		return;
	}
	/* The worker's guess, not the local Raft's hint: a node removed from
	 * the configuration keeps working as a worker, but its Raft never
	 * learns of a new leader, and outputs sent to a non-leader are
	 * dropped — the rounds would never complete. */
	au_node_id leader = au_orch_leader_guess(q->orch);
	if (!leader || leader == q->env->self)
		return;
	encode_data(q, ob, MSG_DATA, &w);
	au_wbuf_seal(&w); /* in place: the buffer has room for it */
	q->sent_data++;
	au_send(q->env, leader, w.p, w.len);
	free(w.p);
}

void rqml_outbox_free(gpointer p)
{
	struct outbox *ob = p;
	free(ob->data);
	free(ob);
}

/* Has the log taken this output, or moved past its round? */
static bool outbox_settled(const struct rqml *q, const struct outbox *ob)
{
	const struct rjob *j = rqml_job_get(q, ob->job);
	if (!j || !j->state || j->round + 1 != ob->round)
		return j != NULL; /* unknown job: keep trying */
	return rqml_pending_find(j, ob->shard, ob->token) != NULL;
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
	const struct rjob *j = rqml_job_get(q, jid);
	if (j && s < j->spec.params.shards && (!j->state || j->round >= r)) {
		/* The round is over (replicas only move forward): nothing to
		 * compute.  Finish the task with an empty result so the queue
		 * stops handing it out; no round will ever look at it. */
		q->obsolete++;
		rqml_trace(q, AU_TR_RQML_NOT_READY, (int64_t)jid, (int64_t)r << 16 | s, (int64_t)j->round);
		memset(out, 0, 32);
		*out_len = 32;
		return 0;
	}
	if (!j || j->round + 1 != r || s >= j->spec.params.shards) {
		/* This replica does not hold round r's input yet: fail the
		 * attempt; the queue retries it (maybe here, once caught up). */
		q->not_ready++;
		rqml_trace(q, AU_TR_RQML_NOT_READY, (int64_t)jid, (int64_t)r << 16 | s,
			   j ? (int64_t)j->round : -1);
		return -1;
	}
	uint64_t fail_job;
	uint32_t fail_shard;
	if (au_rqml_parse_fail_shard(q->cfg->fail_shard, &fail_job, &fail_shard) && fail_job == jid &&
	    fail_shard == s && r >= q->cfg->fail_round) {
		/* Fault injection ([workload] fail_shard): this shard's kernel
		 * fails on every node, every attempt. */
		q->injected_fails++;
		return -1;
	}
	if (q->cfg->shard_fail && q->env && au_random_below(q->env, 100) < q->cfg->shard_fail) {
		/* Fault injection ([workload] shard_fail): this attempt fails,
		 * as a node's kernel might; the queue retries it elsewhere. */
		q->injected_fails++;
		return -1;
	}
	uint32_t len = au_kernel_shard_out_len(j->kp, s);
	size_t need = au_kernel_scratch_len(j->kp);
	if (need > q->scratch_len) {
		free(q->scratch);
		q->scratch = au_xcalloc(need, sizeof(double));
		q->scratch_len = need;
	}
	struct outbox *ob = au_xcalloc(1, sizeof(*ob));
	/* au_kernel_shard writes all of the output: no zeroing. */
	*ob = (struct outbox){jid, t->token, r, s, len, au_xmalloc((size_t)len * sizeof(double))};
	au_kernel_shard(j->kp, j->state, s, ob->data, q->scratch);
	q->computed++;
	uint8_t digest[32];
	au_kernel_digest(ob->data, len, digest);
	rqml_trace(q, AU_TR_RQML_COMPUTE, (int64_t)jid, (int64_t)r << 16 | s, (int64_t)t->token);
	struct au_rqml_row row = {(int64_t)jid, (int64_t)t->id, r, NAN, s, AU_RQML_ROW_SHARD};
	rqml_record_row(q, &row);
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

void rqml_resend(struct rqml *q)
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

/* Register the executor of RQML's shard tasks with the orchestrator (at
 * init). */
void rqml_executor_register(struct rqml *q)
{
	struct au_orch_executor x = {AU_RQML_TASK_KIND, q, exec_cost, exec_round};
	au_orch_register_executor(q->orch, &x);
}
