/* orchestrator_internal.h — what the files of the orchestrator (service
 * "aureon"; orchestrator.h says what it is and how supervisors use it)
 * share: its state, message and timer codes, and the functions one role
 * calls in another.
 *
 * Two roles in one model, both on every node:
 *
 *  worker     pulls leases from the leader while it has room (running <
 *             max_concurrency, waiting <= local_queue), runs each task round
 *             by round on its worker pool (a round's duration comes from the
 *             executor's cost model), writes a checkpoint to its disk at
 *             every round boundary and sends it to the log once synced,
 *             renews its leases, and acks the result with the fencing token
 *             once the result is on its disk.  A task it is given again
 *             resumes from the newest checkpoint it can trust: its own disk
 *             (same task id, newer round) or the log.
 *
 *  front end  on the Raft leader only: turns every node's requests into
 *             queue and lock operations, many per log entry (group commit:
 *             a command is submitted while fewer than batch_inflight are in
 *             flight, the rest wait and coalesce), answers the workers as
 *             the operations apply, expires leases and locks on its own
 *             clock, reclaims the leases of nodes SWIM declares dead, and
 *             runs the [workload] task generator.
 *
 * Why clocks cannot break safety: see taskq.h.  The worker also keeps its
 * own, shorter view of each lease (the leader's remaining time, scaled by
 * 3/4, from when the grant or renewal arrived) and gives a task up when it
 * runs out; that saves work, the fencing tokens are what make it safe.
 *
 * Durable files (env storage): orch.boot (incarnation, two slots),
 * ck.<task>.<round parity> (the task's checkpoints and result on this node:
 * writing round r never touches round r-1's file), lk.val (lock client's
 * pending write).  All are sealed with CRC-32C; a torn one is ignored.
 *
 * Storage errors (env.h): the incarnation must be durable before the
 * worker pulls, so a failed write or sync of orch.boot is written again
 * every retry interval until it succeeds.  A checkpoint or result that
 * cannot be written or synced is never reported: the task is released
 * (M_RELEASE: back to the queue, no retry counted — the task did not
 * fail, this disk did) and the worker backs off pulling as after a failed
 * round.  A lock client whose value cannot be made durable does not send
 * it: it unlocks and thinks again.
 *
 * Finding the leader: a worker asks its own Raft, but also follows hints
 * (any non-leader answers a request with the leader it knows), so a node
 * whose Raft does not know the leader still reaches it.  SWIM verdicts of
 * every node are reported to the leader, which acts on the newest by
 * SWIM's incarnation rules.
 *
 * Files: model.c (the model's callbacks, which dispatch to the roles; the
 * incarnation record; the public API; configuration keys), frontend.c (the
 * leader's front end), worker.c (the worker and the synthetic executor),
 * lockclient.c (the lock client), jobs.c (the job workload: cancels and
 * requeues the leader proposes).  Functions one file calls in another
 * are declared below with the prefix orch_; everything else is static.
 */
#ifndef AU_ORCHESTRATOR_INTERNAL_H
#define AU_ORCHESTRATOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "lock.h"
#include "orchestrator/orchestrator.h"
#include "swim.h"
#include "taskq.h"
#include "wire.h"

enum { M_PULL = 1, M_RENEW, M_ACK, M_NACK, M_RELEASE, M_CKPT, M_GRANT, M_RESOLVED, M_LOCK,
       M_UNLOCK, M_WRITE, M_LOCK_RESP, M_HINT, M_MEMBER, M_TYPES_ };
enum { R_ACKED, R_ACK_STALE, R_CKPT_OK, R_CKPT_STALE, R_RENEWED, R_LOST };
enum { L_BUSY, L_GRANTED, L_LOST };
enum { T_BOOT = 1, T_CKPT, T_LOCKVAL };
enum { TM_PULL = 1, TM_RENEW, TM_ROUND, TM_SCAN, TM_KICK, TM_METRICS, TM_WORKLOAD, TM_LOCK,
       TM_BOOT_RETRY };
enum { J_QUEUED, J_RUNNING, J_SYNCING, J_ACKING };
enum { LC_IDLE, LC_ASKING, LC_HOLDING, LC_SYNCING };

#define MAX_EXECUTORS 8u
#define FINISHED_RING 256u
#define CKPT_MAGIC 0x434b5054u /* "CKPT" */
#define BOOT_MAGIC 0x424f4f54u /* "BOOT" */
#define MSG_BUF (64u + AU_TASKQ_PAYLOAD_MAX + AU_TASKQ_CKPT_MAX)
#define TOKEN(kind, seq) (((uint64_t)(kind) << 56) | ((seq) & ((UINT64_C(1) << 56) - 1)))

/* A lease this node holds. */
struct job {
	uint64_t seq;          /* local id: sync tokens and timers refer to it */
	uint64_t id, token;
	uint32_t kind, topic, rounds, caps, max_retries;
	int32_t priority;
	uint8_t *payload;
	uint32_t payload_len;
	uint32_t log_round;    /* checkpoint round the grant carried */
	uint8_t *log_ckpt;
	uint32_t log_ckpt_len;
	int phase;
	uint32_t round;        /* rounds done */
	size_t state_len;
	bool fail;             /* this attempt fails (task_fail) */
	uint64_t timer;
	au_time belief_until;  /* local clock: the lease is surely still ours until then */
	au_time last_send;     /* ack resend pacing */
	/* Last, so a new job zeroes only the fields above (orch_on_grant):
	 * only the first state_len bytes are ever read. */
	uint8_t state[AU_TASKQ_CKPT_MAX];
};

/* A node's pending lease request at the leader. */
struct parked {
	uint32_t inc, caps, want;
	bool inflight;   /* a LEASE op for it is in a command not yet applied */
	uint64_t gen;    /* queue generation when it was last served short */
};

struct au_orch {
	const struct au_env *env;
	const struct au_orch_config *cfg;
	struct au_raft *raft;
	struct au_swim *swim;
	struct au_taskq *q;
	struct au_locks *locks;
	struct au_orch_executor exec[MAX_EXECUTORS];
	uint32_t n_exec;
	/* worker */
	uint32_t inc;
	bool booted;          /* incarnation durable: may take leases */
	GPtrArray *jobs;      /* struct job*, in arrival order */
	uint32_t running;
	uint64_t job_seq;
	au_time pull_sent;
	bool pull_outstanding;
	/* Executor failures in a row (an RQML replica behind on the log, say):
	 * the worker stops pulling until pull_hold_until, doubling each time,
	 * so a worker that cannot run the work does not take it from others
	 * again and again (an idle one would always pull first). */
	uint32_t fail_streak;
	uint64_t disk_errors;  /* storage operations that failed (see the top) */
	au_time pull_hold_until;
	/* SWIM verdicts, this node's own and those other nodes reported:
	 * per member the newest (incarnation, dead) by SWIM's precedence
	 * (dead at i overrides alive at i; alive at i+1 overrides dead at i).
	 * The front end acts on these, so a leader whose own SWIM is behind
	 * (or has left) still learns of deaths from the others. */
	uint32_t *verdict_inc; /* [nodes+1] */
	uint8_t *verdict_dead; /* [nodes+1]: 1 dead or left */
	bool *verdict_fresh;   /* [nodes+1]: own verdict not yet reported */
	uint32_t *dead_inc;    /* [nodes+1] leader: incarnation the node was dead at;
				  only an alive verdict newer than it revives it */
	au_node_id reported_to; /* leader our verdicts were last sent to */
	au_node_id guess;     /* where the leader is, as the last answer said */
	au_time guess_until;  /* ... trusted until then (refreshed by answers) */
	au_node_id guess_hint; /* our Raft's leader hint when the guess was made */
	/* Leases this node is done with: a grant for one of them again is a
	 * resend (ours was lost); `answer` is what to send back (0: nothing,
	 * it was acked; M_RELEASE or M_NACK: we handed it back, and that
	 * message may have been lost too). */
	struct {
		uint64_t token, id;
		uint8_t answer;
	} finished[FINISHED_RING];
	uint32_t finished_at;
	/* front end (leader) */
	bool leading;
	uint64_t lead_term;
	au_time lead_start;
	struct au_taskq_batch qb, lb; /* open commands */
	GPtrArray *sealed;    /* GByteArray*: full commands waiting; first byte = machine */
	GByteArray *spare_cmd; /* a submitted command's emptied buffer, for the next seal */
	uint32_t inflight;
	struct parked *parked; /* [nodes+1] */
	uint64_t qgen;        /* bumps when tasks become available */
	GHashTable *expiring; /* token -> au_time proposed (lookups and pruning only) */
	/* When this leader considers each lease / lock over, on its own clock:
	 * set when a grant or renewal applies while it leads; absent for
	 * those it inherited (then lead_start + the lease).  Lookups, removal
	 * and clearing only. */
	GHashTable *deadlines;      /* lease token -> au_time */
	GHashTable *lock_deadlines; /* lock key -> au_time */
	GHashTable *grant_sent;     /* lease token -> au_time the grant was (re)sent */
	/* The job workload (jobs.c): when a cancel / requeue was last
	 * proposed, by job / task id.  Lookups only. */
	GHashTable *cancel_sent, *requeue_sent;
	au_time *node_op_at;  /* [nodes+1]: when a node mark was last proposed */
	bool kick_armed;
	uint64_t wl_next;     /* next workload task id to enqueue */
	uint64_t wl_floor;    /* workload tasks 1..wl_floor were in the queue when this node took over */
	au_time wl_elapsed;   /* forward progress of this node's clock since it took over */
	au_time wl_last_now;  /* the clock when wl_elapsed was last advanced */
	/* lock client */
	int lc_state;
	uint64_t lc_key, lc_token, lc_writes;
	au_time lc_belief, lc_release_at, lc_sent;
	uint64_t lc_timer;    /* the lock client's one timer */
	int64_t lc_value;
	/* counters */
	uint64_t grants, started, finished_n, acked, stale, lost, abandoned, released, bad;
	uint64_t resumed_disk, resumed_log, lock_writes_ok, lock_writes_rejected, locks_held;
	uint64_t msgs_in, msgs_out; /* this service only (when the env has no totals) */
};

/* Has `d` passed since `since` on this node's clock?  A clock that jumped
 * back (now < since) counts as yes: otherwise a node whose clock went back
 * by a minute would not resend a lost ack, pull or grant for that minute
 * (the task stays leased, renewed and never acked: chaos-aureon seed 153,
 * scenarios/regressions/ack-resend-clock-back.ini). */
static inline bool orch_waited(au_time now, au_time since, au_time d)
{
	return now - since >= d || now < since;
}

/* model.c */
void orch_send_to(struct au_orch *o, au_node_id to, struct au_wbuf *w);
au_node_id orch_leader_of(const struct au_orch *o);

/* frontend.c: the leader's front end */
void orch_check_leadership(struct au_orch *o);
struct au_taskq_batch *orch_room(struct au_orch *o, bool locks, size_t bytes);
void orch_drop_pending(struct au_orch *o);
void orch_on_queue_event(void *ctx, const struct au_taskq_event *ev);
void orch_on_lock_event(void *ctx, const struct au_lock_event *ev);
void orch_fe_recv(struct au_orch *o, au_node_id from, uint8_t type, struct au_rbuf *rb);
void orch_leader_tick(struct au_orch *o);
void orch_on_kick(struct au_orch *o);
bool orch_fold_verdict(struct au_orch *o, au_node_id member, bool dead, uint32_t inc);
void orch_on_member(void *ctx, au_node_id member, enum au_swim_state state, uint32_t incarnation);
void orch_report_verdicts(struct au_orch *o);

/* jobs.c: the job workload (cancels, requeues) on the leader */
void orch_job_workload(struct au_orch *o, au_time now);

/* worker.c: the worker */
void orch_register_synthetic(struct au_orch *o);
struct job *orch_job_by_seq(struct au_orch *o, uint64_t seq);
void orch_free_job(struct job *j);
void orch_storage_give_back(struct au_orch *o, struct job *j, enum au_storage_op op, int err);
void orch_round_done(struct au_orch *o, struct job *j);
void orch_state_synced(struct au_orch *o, struct job *j);
void orch_on_grant(struct au_orch *o, struct au_rbuf *rb);
void orch_on_resolved(struct au_orch *o, struct au_rbuf *rb);
void orch_try_pull(struct au_orch *o);
void orch_renew_all(struct au_orch *o);

/* lockclient.c: the lock client */
void orch_lc_arm(struct au_orch *o, au_time delay);
void orch_lc_storage_failed(struct au_orch *o, enum au_storage_op op, int err);
void orch_lc_timer(struct au_orch *o);
void orch_lc_synced(struct au_orch *o);
void orch_on_lock_resp(struct au_orch *o, struct au_rbuf *rb);

#endif
