/* taskq.h — the replicated task queue: a Raft state machine (machine id
 * AU_TASKQ_MACHINE) holding every task, its lease, retries, dead letters,
 * checkpoints, per-node drain/death marks and topic affinity.
 *
 * Everything here is pure and deterministic: the state changes only by
 * applying committed commands, in log order, identically on every node.
 * Commands are batches of operations (enqueue, lease, renew, ack, nack,
 * release, expire, checkpoint, node) built with au_taskq_batch_* and
 * submitted by the leader's orchestrator (orchestrator.h) through
 * au_raft_submit — many operations per log entry, so throughput is set by
 * Raft's commit batching, not by per-task round trips.
 *
 * Time: the queue never reads a clock.  Expiry is an `expire` operation
 * the leader proposes when, on its own clock, a lease has gone a
 * visibility timeout without a grant or renewal applied under it (a new
 * leader starts that count for inherited leases when it takes over).
 * Followers never judge time, so every replica agrees on when a lease
 * ended — at the log position of its expire.  The deadline stored with a
 * lease is what the proposing leader's clock said; it is reported, never
 * compared with another node's clock.  Safety never depends on any clock:
 * every ack and checkpoint carries the lease's fencing token and is
 * accepted only if it matches the task's current lease at that log
 * position.  A skewed clock can make the leader expire a lease early or
 * late (wasted work or a slower retry), never accept two results for one
 * task or a result from a stale holder.  (The simulator's lease_expiry
 * check holds leaders to exactly this: sim/check_exec.c.)
 *
 * Fencing tokens are (log index << 16 | k) for the k-th grant of that entry:
 * unique and increasing along the log across every task and every leader.
 *
 * Supervisors (the workload generator, RQML) read this state on any node,
 * subscribe to what applying commands does with au_taskq_observe (called on
 * every replica, in log order — act on it only where au_raft_is_leader),
 * and enqueue through au_orch_enqueue (orchestrator.h).
 */
#ifndef AU_TASKQ_H
#define AU_TASKQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"

#define AU_TASKQ_MACHINE 2u          /* Raft machine id (kv uses 1) */
#define AU_TASKQ_PAYLOAD_MAX 4096u   /* bytes of a task's payload */
#define AU_TASKQ_RESULT_MAX 1024u    /* bytes of an ack's result */
#define AU_TASKQ_CKPT_MAX 4096u      /* bytes of a checkpoint */
#define AU_TASKQ_BATCH_MAX 28000u    /* bytes of one command (a Raft entry) */
#define AU_TASKQ_GRANTS_MAX 65535u   /* leases granted by one command */
#define AU_TASKQ_MAX_OBSERVERS 4u

enum au_task_state {
	AU_TASK_QUEUED, /* waiting for a worker */
	AU_TASK_LEASED, /* a worker holds a lease on it */
	AU_TASK_DONE,   /* a result was accepted (exactly once) */
	AU_TASK_DEAD,   /* dead letter: retries exhausted or nacked for good */
};

/* Jobs: a task may belong to a job (spec.job != 0), a group of tasks with
 * one lifecycle, replicated with the queue:
 *   queued -> running (a task of it was leased) -> done (every task done)
 *                                               -> failed (a task of it
 *                  dead-lettered for attempts exhausted or malformed: the
 *                  reason, that task and its last error are kept)
 *                                               -> cancelled (a cancel op)
 * A failed or cancelled job's queued tasks are dead-lettered at once (reason
 * JOB_FAILED or CANCELLED); its leased ones when their lease next shows up
 * (renewal, ack, checkpoint, nack, release, expiry): the ack of such a task
 * is refused and its renewal answered as lost.  Nothing of a cancelled job
 * is leased or accepted again, and it never becomes done.  A requeue of a
 * failed job's dead letter reopens the job (back to running) and requeues
 * every task of it that died only because the job failed. */
enum au_taskq_job_state {
	AU_JOB_QUEUED = 0,
	AU_JOB_RUNNING = 1,
	AU_JOB_DONE = 2,
	AU_JOB_FAILED = 3,
	AU_JOB_CANCELLED = 4,
};

/* Why a task is a dead letter (struct au_task.dead_reason). */
enum au_taskq_dead_reason {
	AU_DEAD_ATTEMPTS = 0,   /* more than max_retries failed attempts (see last_error) */
	AU_DEAD_MALFORMED = 1,  /* nacked for good: its executor cannot run it */
	AU_DEAD_CANCELLED = 2,  /* its job was cancelled */
	AU_DEAD_JOB_FAILED = 3, /* another task of its job failed */
};

/* How a task's last attempt failed (struct au_task.last_error). */
enum au_taskq_error {
	AU_TASKQ_ERR_NONE = 0,
	AU_TASKQ_ERR_TIMEOUT = 1,   /* the lease timed out on the leader's clock */
	AU_TASKQ_ERR_NODE_DEAD = 2, /* its holder was declared dead */
	AU_TASKQ_ERR_REBOOT = 3,    /* its holder restarted */
	AU_TASKQ_ERR_FAILED = 4,    /* the executor failed the attempt (nack) */
	AU_TASKQ_ERR_PERMANENT = 5, /* the executor refused the task for good */
};

const char *au_taskq_job_state_name(uint32_t state);
const char *au_taskq_dead_reason_name(uint32_t reason);
const char *au_taskq_error_name(uint32_t error);

/* What a submitter says about a task. */
struct au_task_spec {
	uint64_t id;          /* unique, nonzero; enqueueing an id again is a no-op */
	uint32_t kind;        /* which executor runs it (0: the synthetic one) */
	uint32_t topic;       /* for affinity and per-topic FIFO order */
	int32_t priority;     /* higher runs first */
	uint32_t caps;        /* capability bits a worker must have all of */
	uint32_t max_retries; /* failed attempts tolerated before the dead letter */
	uint32_t rounds;      /* >= 1: checkpointed rounds the task runs in */
	uint64_t job;         /* the job it belongs to (0: none) */
	const uint8_t *payload; /* opaque to the queue */
	uint32_t payload_len;   /* <= AU_TASKQ_PAYLOAD_MAX */
};

/* A task as the queue holds it (read-only outside the queue's taskq*.c). */
struct au_task {
	uint64_t id;
	uint32_t kind, topic, caps, max_retries, rounds;
	int32_t priority;
	uint8_t state;        /* enum au_task_state */
	uint32_t retries;     /* failed attempts: expiries, nacks, holder deaths */
	uint32_t attempts;    /* leases granted */
	uint64_t seq;         /* enqueue order: FIFO within (priority, topic) */
	uint64_t enqueue_index; /* log index of the enqueue */
	/* The current lease (LEASED) or the last one. */
	uint64_t lease_id;
	uint64_t token;       /* fencing token */
	au_node_id node;      /* holder */
	uint32_t node_inc;    /* holder's incarnation (boot count) */
	au_time deadline_ns;  /* informational: the proposing leader's clock + lease */
	/* Accepted result (DONE). */
	uint64_t done_token;
	au_node_id done_node;
	uint8_t *payload, *result, *ckpt;
	uint32_t payload_len, result_len, ckpt_len;
	uint32_t ckpt_round;  /* rounds completed per the newest logged checkpoint */
	uint64_t job;         /* 0: none */
	uint8_t dead_reason;  /* DEAD: enum au_taskq_dead_reason */
	uint8_t last_error;   /* enum au_taskq_error of the last failed attempt */
	uint32_t requeues;    /* times an operator (or the workload) requeued it */
};

/* A job as the queue holds it (au_taskq_job). */
struct au_taskq_job {
	uint64_t id;
	uint8_t state;        /* enum au_taskq_job_state */
	uint8_t fail_reason;  /* FAILED: enum au_taskq_dead_reason of fail_task */
	uint8_t fail_error;   /* FAILED: enum au_taskq_error of fail_task's last attempt */
	uint64_t fail_task;   /* FAILED: the task that failed it */
	uint64_t cancel_index; /* CANCELLED: log index of the cancel */
	uint32_t tasks, queued, leased, done, dead; /* its tasks per state */
};

/* What applying a command did, for observers. */
enum au_taskq_event_type {
	AU_TASKQ_EV_ENQUEUED,    /* task */
	AU_TASKQ_EV_GRANTED,     /* task, node, token: a lease */
	AU_TASKQ_EV_LEASE_DONE,  /* node, want, granted: a lease request was served */
	AU_TASKQ_EV_RENEWED,     /* task, node, token: deadline extended */
	AU_TASKQ_EV_RENEW_LOST,  /* node, token (task may be NULL): not its lease any more */
	AU_TASKQ_EV_ACKED,       /* task, node, token: result accepted, task DONE */
	AU_TASKQ_EV_ACK_STALE,   /* node, token (task may be NULL): ack rejected */
	AU_TASKQ_EV_NACKED,      /* task, node, token */
	AU_TASKQ_EV_RELEASED,    /* task, node, token: handed back unrun, no retry counted */
	AU_TASKQ_EV_EXPIRED,     /* task, node, token, reason (enum au_taskq_end) */
	AU_TASKQ_EV_DEAD_LETTER, /* task */
	AU_TASKQ_EV_CHECKPOINT,  /* task, node, token, round: accepted */
	AU_TASKQ_EV_CKPT_STALE,  /* node, token: rejected */
	AU_TASKQ_EV_NODE,        /* node, node_op (enum au_taskq_node_op) */
	AU_TASKQ_EV_JOB,         /* job, reason = its new state (enum au_taskq_job_state) */
	AU_TASKQ_EV_REQUEUED,    /* task: a dead letter back in the queue */
};

/* Why a lease ended without a result. */
enum au_taskq_end {
	AU_TASKQ_END_TIMEOUT = 0,  /* the leader's clock passed the deadline */
	AU_TASKQ_END_NODE_DEAD = 1, /* the holder was declared dead (SWIM) */
	AU_TASKQ_END_REBOOT = 2,   /* the holder came back with a newer incarnation */
};

/* Node marks. */
enum au_taskq_node_op {
	AU_TASKQ_NODE_ALIVE = 0,  /* clears dead */
	AU_TASKQ_NODE_DEAD = 1,   /* reclaims its leases; no leases until alive (or
				     a lease request from a newer incarnation) */
	AU_TASKQ_NODE_DRAIN = 2,  /* no new leases; running ones finish */
	AU_TASKQ_NODE_RESUME = 3, /* clears drain */
};

struct au_taskq_event {
	enum au_taskq_event_type type;
	uint64_t index;            /* log index of the command */
	const struct au_task *task; /* NULL where noted */
	au_node_id node;
	uint64_t token;
	uint32_t want, granted;    /* LEASE_DONE */
	uint32_t round;            /* CHECKPOINT */
	uint32_t reason;           /* EXPIRED: enum au_taskq_end; NODE: enum au_taskq_node_op;
				      ACK_STALE: 1 a duplicate of the accepted ack, 2 refused:
				      the task's job was cancelled or failed; JOB: new state */
	uint64_t job;              /* JOB */
};

typedef void (*au_taskq_observer)(void *ctx, const struct au_taskq_event *ev);

struct au_taskq;
struct au_raft;

/* A queue replica.  `env` is used for traces only (TASKQ_* kinds), never
 * for time or randomness.  au_taskq_attach registers it with the local
 * Raft as machine AU_TASKQ_MACHINE (restoring a recovered snapshot). */
struct au_taskq *au_taskq_new(const struct au_env *env);
void au_taskq_attach(struct au_taskq *q, struct au_raft *raft);
void au_taskq_free(struct au_taskq *q);

/* Subscribe to apply effects (at most AU_TASKQ_MAX_OBSERVERS); 0 or
 * -AU_ENOMEM. */
int au_taskq_observe(struct au_taskq *q, au_taskq_observer fn, void *ctx);

/* ---- reading the state (any replica; reflects what it applied) ---------- */

const struct au_task *au_taskq_get(const struct au_taskq *q, uint64_t id);
/* Tasks per state (index by enum au_task_state). */
void au_taskq_counts(const struct au_taskq *q, uint64_t counts[4]);
/* Leases held by `node`. */
uint32_t au_taskq_node_leases(const struct au_taskq *q, au_node_id node);
bool au_taskq_node_dead(const struct au_taskq *q, au_node_id node);
bool au_taskq_node_draining(const struct au_taskq *q, au_node_id node);
/* Newest incarnation the queue has seen from `node` (0: none). */
uint32_t au_taskq_node_inc(const struct au_taskq *q, au_node_id node);
/* Affinity score of (node, topic): successes raise it, failures lower it. */
int32_t au_taskq_affinity(const struct au_taskq *q, au_node_id node, uint32_t topic);
/* Call fn for every leased task, in (node, id) order; stops early if fn
 * returns false. */
void au_taskq_each_lease(const struct au_taskq *q, bool (*fn)(void *ctx, const struct au_task *t),
			 void *ctx);
/* Call fn for every lease `node` holds, in id order; stops early if fn
 * returns false. */
void au_taskq_each_node_lease(const struct au_taskq *q, au_node_id node,
			      bool (*fn)(void *ctx, const struct au_task *t), void *ctx);
/* Call fn for every task in id order; stops early if fn returns false. */
void au_taskq_each(const struct au_taskq *q, bool (*fn)(void *ctx, const struct au_task *t),
		   void *ctx);
/* Job `job` (false: the queue holds no task of it). */
bool au_taskq_job(const struct au_taskq *q, uint64_t job, struct au_taskq_job *out);
/* Call fn for every job in id order, starting at the first id >= `from`;
 * stops early if fn returns false. */
void au_taskq_each_job(const struct au_taskq *q, uint64_t from,
		       bool (*fn)(void *ctx, const struct au_taskq_job *j), void *ctx);
/* Call fn for every task of `job` in id order from the first id >= `from`. */
void au_taskq_each_job_task(const struct au_taskq *q, uint64_t job, uint64_t from,
			    bool (*fn)(void *ctx, const struct au_task *t), void *ctx);
/* Call fn for every dead letter in id order from the first id >= `from`. */
void au_taskq_each_dead(const struct au_taskq *q, uint64_t from,
			bool (*fn)(void *ctx, const struct au_task *t), void *ctx);
/* Hash of every effect applied so far (equal on replicas at equal index). */
uint64_t au_taskq_chain(const struct au_taskq *q);
uint64_t au_taskq_applied_index(const struct au_taskq *q);
/* Replica comparison (raft.h, struct au_raft_machine): an
 * order-independent digest of the whole state (what a snapshot keeps),
 * and the state as text, one line per task, node and affinity (g_free it).
 * The digest first folds in the shares of tasks changed since it was last
 * read (hence not const). */
uint64_t au_taskq_digest(struct au_taskq *q);
char *au_taskq_describe(const struct au_taskq *q);

/* ---- building commands ------------------------------------------------------
 * A batch is a growing buffer of operations; au_taskq_batch_len gives its
 * encoded size (submit it as one command when it nears
 * AU_TASKQ_BATCH_MAX).  Every add returns 0 or -AU_EINVAL (bad sizes). */

struct au_taskq_batch {
	uint8_t *buf;
	size_t len, cap;
	uint32_t ops;
};

void au_taskq_batch_init(struct au_taskq_batch *b);
void au_taskq_batch_reset(struct au_taskq_batch *b);
void au_taskq_batch_free(struct au_taskq_batch *b);
static inline size_t au_taskq_batch_len(const struct au_taskq_batch *b) { return b->len; }

/* Append one raw operation (for other machines that share the batch
 * format, such as lock.c). */
int au_taskq_batch_append(struct au_taskq_batch *b, uint8_t code, const void *body, size_t len);

/* Walk the operations of an encoded command in order, calling
 * op(ctx, code, body, body_len) for each; op returns false if the body is
 * malformed, which ends the walk.  Returns the number of operations, or
 * -AU_ECORRUPT if the framing or an operation is malformed.  A machine
 * validates a command whole with a walk that only decodes, then applies
 * it (lock.c with a second walk; taskq.c from the operations the first
 * one decoded). */
int au_taskq_batch_walk(const uint8_t *cmd, size_t len,
			bool (*op)(void *ctx, uint8_t code, const uint8_t *body, size_t len),
			void *ctx);
/* The first walk of applying a command at log `index`: validate it whole
 * (op called with `ctx`: NULL to only decode, or where op keeps what it
 * decoded so the command need not be decoded twice, as taskq.c does).  A
 * malformed one is traced as AU_TR_MODEL_BAD_MESSAGE (0, len, index) and
 * -AU_ECORRUPT returned: apply none of it.  A valid one is traced as
 * `entry_kind` (index, `chain`, the number of operations) and that number
 * returned.  `env` NULL: no traces. */
int au_taskq_batch_check(const struct au_env *env, uint16_t entry_kind, uint64_t index,
			 uint64_t chain, const uint8_t *cmd, size_t len,
			 bool (*op)(void *ctx, uint8_t code, const uint8_t *body, size_t len),
			 void *ctx);

int au_taskq_add_enqueue(struct au_taskq_batch *b, const struct au_task_spec *t);
/* Lease up to `want` tasks whose caps are all in `caps` to (node, inc);
 * `deadline_ns` is recorded (the proposing leader's clock + lease). */
int au_taskq_add_lease(struct au_taskq_batch *b, au_node_id node, uint32_t inc, uint32_t caps,
		       uint32_t want, au_time deadline_ns);
/* Renew the lease `token` on task `id` held by `node` (recording
 * `deadline_ns`). */
int au_taskq_add_renew(struct au_taskq_batch *b, au_node_id node, uint64_t id, uint64_t token,
		       au_time deadline_ns);
int au_taskq_add_ack(struct au_taskq_batch *b, au_node_id node, uint64_t id, uint64_t token,
		     const uint8_t *result, uint32_t len);
/* A failed attempt: requeue (counts a retry) or dead-letter at once. */
int au_taskq_add_nack(struct au_taskq_batch *b, au_node_id node, uint64_t id, uint64_t token,
		      bool requeue);
/* Hand a lease back unrun (no retry counted). */
int au_taskq_add_release(struct au_taskq_batch *b, au_node_id node, uint64_t id, uint64_t token);
/* Leader only: the lease `token` timed out on the leader's clock (reason
 * AU_TASKQ_END_TIMEOUT). */
int au_taskq_add_expire(struct au_taskq_batch *b, uint64_t id, uint64_t token);
/* `round` rounds of task `id` are done; `data` resumes it from there. */
int au_taskq_add_checkpoint(struct au_taskq_batch *b, au_node_id node, uint64_t id,
			    uint64_t token, uint32_t round, const uint8_t *data, uint32_t len);
int au_taskq_add_node(struct au_taskq_batch *b, au_node_id node, enum au_taskq_node_op op);
/* Cancel job `job` (refused, traced, if the queue has no task of it or it is
 * done; cancelling a cancelled job changes nothing). */
int au_taskq_add_cancel(struct au_taskq_batch *b, uint64_t job);
/* Put dead letter `id` back in the queue with its retries and attempts
 * reset (refused, traced, if it is not dead or its job was cancelled). */
int au_taskq_add_requeue(struct au_taskq_batch *b, uint64_t id);

/* Apply one encoded command directly (tests; Raft calls it through the
 * registered machine).  Returns the number of operations applied, or
 * -AU_ECORRUPT if the command is malformed (then nothing was applied). */
int au_taskq_apply(struct au_taskq *q, uint64_t index, const uint8_t *cmd, size_t len);
/* Whole state as bytes (malloc'd) and back (false: corrupt, state kept). */
size_t au_taskq_snapshot(struct au_taskq *q, uint8_t **out);
/* The same bytes in two steps (Raft's snapshot_size/snapshot_write): the
 * size, then, with the queue unchanged in between, the bytes at dst. */
size_t au_taskq_snapshot_size(struct au_taskq *q);
void au_taskq_snapshot_write(struct au_taskq *q, uint8_t *dst);
bool au_taskq_restore(struct au_taskq *q, const uint8_t *data, size_t len);

#endif
