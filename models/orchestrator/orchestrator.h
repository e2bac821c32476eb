/* orchestrator.h — the per-node orchestrator (service "aureon"): the
 * worker that pulls tasks from the replicated queue (taskq.h), runs them on
 * a bounded worker pool with checkpoints at round boundaries, renews its
 * leases and acks with the fencing token; and, on the Raft leader, the
 * queue's front end that batches every node's requests into log commands,
 * expires leases on its own clock, reclaims the leases of nodes SWIM
 * declares dead, and runs the task workload ([workload] tasks = N).  It also
 * hosts the replicated lock service (lock.h) and its clients.
 *
 * A supervisor (the RQML engine, or any model on the same node) uses it:
 *
 *   struct au_orch *o = env->ops->local_service(env->ctx, "aureon");
 *   au_orch_register_executor(o, &my_executor);   // on every node, at init
 *   au_taskq_observe(au_orch_queue(o), on_event, me); // acks, dead letters...
 *   if (au_orch_is_leader(o)) au_orch_enqueue(o, &spec);
 *
 * Enqueue is idempotent by task id, so a supervisor that takes over on a
 * new leader simply enqueues again whatever it does not find with
 * au_taskq_get.  Results come back through AU_TASKQ_EV_ACKED events (the
 * task's `result` bytes), applied exactly once in log order on every node.
 *
 * Services order: list "aureon" after "raft" (and after "swim") in
 * [cluster] services; a model using the orchestrator comes after "aureon".
 */
#ifndef AU_ORCHESTRATOR_H
#define AU_ORCHESTRATOR_H

#include <stdbool.h>

#include "dist.h"
#include "model.h"
#include "taskq.h"

/* [aureon] and [workload] keys (see the key tables in model.c). */
struct au_orch_config {
	/* [aureon]: the worker */
	uint32_t max_concurrency; /* tasks running at once on a node */
	uint32_t local_queue;     /* leased tasks waiting for a slot, at most */
	au_time lease_ns;         /* visibility timeout of a lease */
	au_time renew_ns;         /* how often a worker renews its leases */
	au_time retry_ns;         /* resend an unanswered pull, ack or checkpoint */
	/* [aureon]: the leader's front end */
	uint32_t batch_inflight;  /* queue commands in flight in Raft at once */
	uint32_t batch_ops;       /* operations per command at most (0: as many as fit) */
	au_time expiry_scan_ns;   /* how often the leader looks for expired leases */
	/* [workload]: tasks */
	uint32_t tasks;           /* tasks the workload enqueues (ids 1..tasks) */
	uint32_t task_rate;       /* enqueued per second (0: all at the start) */
	uint32_t task_topics;
	uint32_t task_priorities; /* priorities 0..task_priorities-1 */
	uint32_t task_rounds;     /* rounds per task (checkpointed) */
	uint32_t task_retries;    /* max_retries of every task */
	uint32_t task_payload;    /* payload bytes per task */
	uint32_t task_fail;       /* percent of attempts that fail (nack) */
	struct au_dist task_cost; /* duration of one task on a 10-GFLOPS node */
	uint32_t task_job_size;   /* tasks per job (0: tasks belong to no job) */
	uint32_t job_cancel;      /* percent of jobs the leader cancels once one task is done */
	uint32_t dead_requeue;    /* 1: the leader requeues every dead letter (not cancelled) once */
	uint32_t task_caps[AU_MAX_CAPS]; /* percent of tasks needing each capability */
	/* [workload]: locks */
	uint32_t lock_keys;       /* 0: no lock clients */
	struct au_node_list lock_clients; /* nodes running a lock client */
	au_time lock_ttl_ns;
	au_time lock_hold_ns;     /* how long a client holds a lock */
	au_time lock_think_ns;    /* mean pause between a client's locks */
};

/* An executor runs tasks of one kind on a node.  Kind 0 is the built-in
 * synthetic executor (cost from [workload] task_cost, result a hash chain
 * over the rounds, see au_orch_synthetic_result); a later model replaces
 * it or adds kinds. */
struct au_orch_executor {
	uint32_t kind;
	void *ctx;
	/* Simulated time one round takes on this node (the cost model; the
	 * orchestrator passes its node's cpu_gflops). */
	au_time (*cost)(void *ctx, const struct au_task *t, uint32_t round, double cpu_gflops);
	/* Compute round `round` (0-based) from the state after the previous
	 * round (in, in_len: empty before round 0); write the new state (or,
	 * after the last round, the result) into out (at most out_max bytes)
	 * and its length into *out_len.  Returns 0, or a negative value to
	 * fail the attempt (the task is nacked and retried). */
	int (*run_round)(void *ctx, const struct au_task *t, uint32_t round, const uint8_t *in,
			 size_t in_len, uint8_t *out, size_t *out_len, size_t out_max);
};

struct au_orch;

/* Register (or replace) the executor of x->kind on this node; 0 or
 * -AU_ENOMEM. */
int au_orch_register_executor(struct au_orch *o, const struct au_orch_executor *x);
/* The replicated queue on this node (read it, observe it). */
struct au_taskq *au_orch_queue(struct au_orch *o);
/* Whether this node's Raft is the leader (only a leader enqueues). */
bool au_orch_is_leader(const struct au_orch *o);
/* Where this node's worker sends to the leader: itself if it leads, else
 * the leader that last answered it (recently), else its Raft's hint; 0 if
 * none.  Better than the local Raft's hint alone, which a node removed
 * from the configuration never updates. */
au_node_id au_orch_leader_guess(const struct au_orch *o);
/* Leader only: add a task to the next queue command.  0, -AU_EINVAL (not
 * the leader, bad spec) — it may still fail to commit if leadership is
 * lost; enqueue again on the new leader (it is idempotent by id). */
int au_orch_enqueue(struct au_orch *o, const struct au_task_spec *spec);

/* Leader only: add a cancel of job `job` / a requeue of dead letter `id`
 * to the next queue command (taskq.h: au_taskq_add_cancel, _requeue).
 * 0, -AU_EINVAL (not the leader, id 0); like enqueue, it may fail to
 * commit if leadership is lost: ask the new leader again (a cancel of a
 * cancelled job and a requeue of a task that is not dead change nothing). */
int au_orch_cancel(struct au_orch *o, uint64_t job);
int au_orch_requeue(struct au_orch *o, uint64_t id);

/* What this node's worker holds and has done (for tests and reports). */
struct au_orch_stats {
	uint32_t incarnation;
	uint32_t held;         /* leases held: waiting + running + syncing + acking */
	uint32_t waiting;      /* leased, waiting for a worker slot (local queue) */
	uint32_t running;      /* occupying a worker slot */
	uint64_t started, finished, acked, stale, lost, abandoned, released;
	uint64_t resumed_disk, resumed_log, locks_held;
	bool front_end;        /* this node's front end is active (it leads) */
};
void au_orch_stats(const struct au_orch *o, struct au_orch_stats *st);

/* The synthetic executor's result for a task of `rounds` rounds: what a
 * correct run computes however often it was interrupted and resumed. */
uint64_t au_orch_synthetic_result(uint64_t id, uint32_t rounds);

/* One row of /metrics, every [trace] metrics_period on every node. */
struct au_orch_metrics_row {
	uint32_t queue_depth;    /* leased tasks waiting for a worker slot here */
	uint32_t active_tasks;   /* running here */
	uint32_t leases;         /* leases this node holds (queued + active) */
	int64_t msgs_in, msgs_out; /* this node's messages so far, all services */
	int64_t global_queued;   /* tasks waiting in the replicated queue (this replica) */
	int64_t done, dead;      /* tasks completed / dead-lettered (this replica) */
	uint8_t leader;          /* this node leads */
};

extern const struct au_model au_orch_model;

#endif
