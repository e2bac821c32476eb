/* rqml_internal.h — what the files of RQML share: command, message and
 * timer codes, the replicated state (struct rqml, its jobs and their
 * pending outputs), small helpers, and the functions one file calls in
 * another (prefix rqml_).  rqml.c has the design and the job specs;
 * rqml_machine.c is the replicated state machine; rqml_supervisor.c the
 * leader's supervisor; rqml_executor.c the shard executor; rqml_model.c
 * the model.  Not part of RQML's API (that is rqml.h).
 */
#ifndef AU_RQML_INTERNAL_H
#define AU_RQML_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "kernels.h"
#include "raft/raft.h"
#include "rqml.h"
#include "taskq.h"
#include "wire.h"

enum { OP_START = 1, OP_DATA = 2, OP_CLOSE = 3, OP_FAIL = 4, OP_CANCEL = 5 };
enum { ST_APPLIED = 0, ST_IGNORED = 1, ST_REJECTED = 2 };
enum { MSG_DATA = 1 };
enum { TM_TICK = 1, TM_RESEND = 2, TM_KICK = 3 };
#define ONE_CLIENT_BASE (UINT64_C(0x4f4e45) << 40) /* Raft sessions of ONE puts */
#define PENDING_MAX_PER_SHARD 8u
#define OUTBOX_MAX 64u
#define SUP_ATTEMPT_MAX AU_RQML_ATTEMPTS_MAX

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
	const struct au_kernel_problem *kp; /* generated input (au_kernel_acquire): own_kp
					     * or the host's shared copy; NULL if not built */
	struct au_kernel_problem own_kp;
	bool built;
	bool owns_kp;                /* kp is own_kp: free it */
	double *state;           /* input of round `round + 1`; NULL once finished */
	double *spare;           /* state_len doubles of scratch for the next state
				  * (the round before's vector), or NULL */
	uint32_t round;          /* rounds aggregated */
	uint8_t verdict;         /* enum au_kernel_verdict; CONTINUE while running */
	double *residuals;       /* [spec.policy.max_rounds] */
	GArray *workers;         /* au_node_id, ascending */
	uint8_t digest[32];      /* of the final state, once finished (zero: no result) */
	/* failed (verdict AU_KERNEL_FAILED): the shard whose attempts ran out */
	uint32_t fail_shard, fail_attempts;
	uint8_t fail_error;      /* taskq.h enum au_taskq_error or AU_RQML_ERR_OUTPUT_LOST */
	GPtrArray *pending;      /* struct pending *, arrival order */
	uint64_t core_hash;      /* digest share of everything above but `pending` */
	bool core_stale;         /* core_hash needs computing again */
	/* supervisor (leader memory only, never decisions' sole input) */
	uint64_t close_inflight_round;
	au_time close_sent_ns, one_sent_ns, start_sent_ns, end_sent_ns;
	bool end_inflight;           /* a FAIL or CANCEL proposed, not yet applied */
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
	uint64_t computed, not_ready, obsolete, sent_data, proposals, injected_fails;
	uint64_t sup_term;       /* the term the supervisor's memory belongs to */
	bool kick_armed;         /* a supervisor pass is due at once */
	GHashTable *start_sent;  /* job -> au_time: START proposed, not yet applied */
};

static inline void rqml_trace(const struct rqml *q, uint16_t kind, int64_t a, int64_t b, int64_t c)
{
	if (q->env)
		au_trace(q->env, kind, a, b, c);
}

static inline bool rqml_is_leader(const struct rqml *q)
{
	return q->raft && au_raft_is_leader(q->raft);
}

static inline void rqml_record_row(const struct rqml *q, const struct au_rqml_row *row)
{
	if (q->env)
		q->env->ops->record(q->env->ctx, 0, row);
}

/* rqml.c: job specs from the configuration */
bool rqml_kind_spec(const struct au_rqml_config *cfg, enum au_kernel_kind kind, uint64_t seed,
		    struct au_rqml_job_spec *out);
int rqml_parse_fanout(const char *text, enum au_kernel_kind rules[][2], uint32_t max);

/* rqml_machine.c: the replicated state machine */
void rqml_machine_attach(struct rqml *q);
void rqml_rjob_free(gpointer p);
struct rjob *rqml_job_get(const struct rqml *q, uint64_t job);
const struct pending *rqml_pending_find(const struct rjob *j, uint32_t shard, uint64_t token);
void rqml_put_spec(struct au_wbuf *w, const struct au_rqml_job_spec *s);
void rqml_on_queue_event(void *ctx, const struct au_taskq_event *ev);
/* A failed or cancelled job (no result): verdict FAILED or CANCELLED. */
static inline bool rqml_verdict_ended(uint8_t v)
{
	return v == AU_KERNEL_FAILED || v == AU_KERNEL_CANCELLED;
}

/* rqml_supervisor.c: the supervisor (leader only) */
bool rqml_propose(struct rqml *q, const uint8_t *cmd, size_t len, uint8_t machine, uint64_t client,
		  uint64_t seq);
void rqml_propose_start(struct rqml *q, const struct au_rqml_job_spec *spec);
void rqml_supervise(struct rqml *q);

/* rqml_executor.c: the shard executor (every node) */
void rqml_executor_register(struct rqml *q);
void rqml_outbox_free(gpointer p);
void rqml_resend(struct rqml *q);

/* n doubles read or written at once (shard outputs, job states): the same
 * bytes, and the same short-read or overflow outcome, as n calls of
 * au_get_f64 or au_put_f64, without a call per value. */
static inline void rqml_get_f64s(struct au_rbuf *rb, double *dst, size_t n)
{
	if (rb->short_read || (rb->len - rb->pos) / 8 < n) {
		for (size_t i = 0; i < n; i++)
			dst[i] = au_get_f64(rb);
		return;
	}
	const uint8_t *p = rb->p + rb->pos;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* The bytes already are the doubles' memory (GCC does not merge the
	 * byte loop below into loads: it cost ~6 % of default.ini). */
	if (n)
		memcpy(dst, p, 8 * n);
#else
	for (size_t i = 0; i < n; i++, p += 8) {
		uint64_t v = 0;
		for (int b = 0; b < 8; b++)
			v |= (uint64_t)p[b] << (8 * b);
		memcpy(&dst[i], &v, sizeof(v));
	}
#endif
	rb->pos += 8 * n;
}

static inline void rqml_put_f64s(struct au_wbuf *w, const double *src, size_t n)
{
	if (w->overflow || (w->cap - w->len) / 8 < n) {
		for (size_t i = 0; i < n; i++)
			au_put_f64(w, src[i]);
		return;
	}
	uint8_t *p = w->p + w->len;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n)
		memcpy(p, src, 8 * n);
#else
	for (size_t i = 0; i < n; i++, p += 8) {
		uint64_t v;
		memcpy(&v, &src[i], sizeof(v));
		for (int b = 0; b < 8; b++)
			p[b] = (uint8_t)(v >> (8 * b));
	}
#endif
	w->len += 8 * n;
}

#endif
