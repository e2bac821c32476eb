/* rqml.h — RQML jobs: numeric computations (kernels.h) split into shard
 * tasks and refined round by round on the cluster until they converge.
 *
 * The pieces:
 *  - A Raft state machine (machine id AU_RQML_MACHINE) holds every job: its
 *    specification, the state vector that is the next round's input (so
 *    round inputs are durable: in the log and in snapshots, never only in
 *    one node's memory), the residual history, the shard outputs received
 *    for the round in progress, and how the job ended.  Commands: start a
 *    job, a shard's output (from the worker that computed it, with its
 *    lease's fencing token), and close a round (the tokens of the shard
 *    outputs to aggregate).  Closing aggregates the shard outputs in shard
 *    order on every replica, so every replica holds the same bits.
 *  - The supervisor is a role of the Raft leader: it starts the configured
 *    jobs, enqueues each round's shard tasks in the execution layer's task
 *    queue (orchestrator.h), closes a round once the queue has accepted
 *    one result per shard and that result's output is in the log, asks the
 *    convergence policy, writes the final record to ONE (one.h) exactly
 *    once, and fans out child jobs.  Everything it decides from is
 *    replicated, so a new leader continues where the old one stopped.
 *  - The executor (on every node, registered with the orchestrator) runs a
 *    shard task: it reads the round's input from its local replica,
 *    computes the shard, sends the output to the leader until it is in the
 *    log, and hands the output's digest to the orchestrator as the task's
 *    result.
 *
 * Services: list "rqml" after "raft", "aureon" and "one".
 */
#ifndef AU_RQML_H
#define AU_RQML_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels.h"
#include "model.h"

#define AU_RQML_MACHINE 5u      /* Raft machine id (kv 1, task queue 2, ONE 3, locks 4) */
#define AU_RQML_TASK_KIND 7u    /* the orchestrator executor kind of shard tasks */
#define AU_RQML_MAX_JOBS 99u    /* top-level jobs per run (ids 1..99) */
#define AU_RQML_MAX_DEPTH 2u    /* generations of children below a top-level job */
#define AU_RQML_MAX_FANOUT 8u   /* fan-out rules */
#define AU_RQML_DATA_MAX 3500u  /* doubles in one shard output (one log entry) */
#define AU_RQML_MAX_ROUNDS 100000u
#define AU_RQML_KINDS 3u        /* pagerank, jacobi, kmeans: index kind - 1 */

/* A convergence policy (pluggable: add a kind and a case in rqml.c). */
enum au_rqml_policy_kind {
	AU_RQML_POLICY_THRESHOLD = 0, /* converged when residual <= tolerance */
	AU_RQML_POLICY_STALL = 1,     /* also stop when the last stall_rounds rounds
				       * brought no residual below the best before */
};

struct au_rqml_policy {
	uint8_t kind;           /* enum au_rqml_policy_kind */
	uint32_t stall_rounds;  /* AU_RQML_POLICY_STALL */
	double tolerance;
	uint32_t max_rounds;
};

/* The policy as an au_kernel_policy_fn: `policy` is a struct
 * au_rqml_policy.  Pure: the same history gives the same verdict on any
 * node, in the reference runner and in the checker. */
enum au_kernel_verdict au_rqml_decide(const void *policy, const double *residuals,
				      uint32_t rounds);

/* Parse "threshold" or "stall:K" (K >= 2). */
bool au_rqml_policy_parse(const char *text, struct au_rqml_policy *out);

/* Per-kind parameters from [workload] (pagerank_size, ...). */
struct au_rqml_kind_config {
	uint32_t size, edges, k, dims, shards, max_rounds;
	double tolerance;
	char policy[32];
};

struct au_rqml_config {
	/* [workload] */
	uint32_t jobs[AU_RQML_KINDS]; /* jobs = pagerank:2, jacobi:1, kmeans:0 */
	uint32_t job_seed;
	struct au_rqml_kind_config kind[AU_RQML_KINDS];
	char fanout[128];             /* "pagerank>jacobi, jacobi>kmeans" */
	char fail_shard[32];          /* fault injection: "JOB:SHARD", every attempt of that
				       * shard fails from round fail_round on ("": none) */
	uint32_t fail_round;
	uint32_t shard_fail;          /* percent of shard attempts whose kernel fails (any job) */
	char cancel[32];              /* "JOB@ROUNDS": the supervisor cancels JOB once it has
				       * aggregated ROUNDS rounds, as an operator would ("": none) */
	/* [rqml] */
	au_time tick_ns;              /* the supervisor looks at every job this often */
	au_time data_retry_ns;        /* a worker resends a shard output not yet in the log */
	au_time data_wait_ns;         /* an accepted shard whose output never reaches the
				       * log is recomputed after this long */
	au_time enqueue_retry_ns;     /* enqueue again a task the queue does not show */
	double mem_gbps;              /* cost model: a node's memory bandwidth */
	uint32_t task_retries;        /* max_retries of a shard task */
	uint32_t shard_attempts;      /* shard tasks (attempts) one shard of a round may use
				       * before its job fails (1..AU_RQML_ATTEMPTS_MAX) */
};

/* Attempts of one shard in one round at most: the task id's attempt bits. */
#define AU_RQML_ATTEMPTS_MAX 1000u

/* Parse [workload] fail_shard ("JOB:SHARD") and cancel ("JOB@ROUNDS");
 * "" parses as job 0 (none).  False if malformed. */
bool au_rqml_parse_fail_shard(const char *text, uint64_t *job, uint32_t *shard);
bool au_rqml_parse_cancel(const char *text, uint64_t *job, uint32_t *rounds);

/* Why a job failed: the error of a shard's last attempt (struct
 * au_rqml_job_info.fail_error): a task queue error (taskq.h, enum
 * au_taskq_error), or this one, RQML's own: the shard's output was
 * accepted but never reached the log within data_wait. */
#define AU_RQML_ERR_OUTPUT_LOST 64u
const char *au_rqml_error_name(uint32_t error);

/* The reason text of a failed or cancelled job, e.g. "shard 3: 8 attempts
 * exhausted, last error: node_dead (round 4)" or "cancelled by an
 * operator after 5 rounds"; "" for another verdict.  Written into buf (len bytes, at least
 * AU_RQML_REASON_LEN); returns buf. */
#define AU_RQML_REASON_LEN 96u
char *au_rqml_reason(uint8_t verdict, uint32_t rounds, uint32_t shard, uint32_t attempts,
		     uint8_t error, char *buf, size_t len);

/* What a job is: everything a replica needs to run it. */
struct au_rqml_job_spec {
	uint64_t job;     /* 1..99 top level; a child of P is P*100 + k */
	uint64_t parent;  /* 0: none */
	uint8_t depth;    /* 0 top level */
	struct au_kernel_params params;
	struct au_rqml_policy policy;
};

/* Number of top-level jobs, and the spec of top-level job `job` (1..N). */
uint32_t au_rqml_top_jobs(const struct au_rqml_config *cfg);
bool au_rqml_top_spec(const struct au_rqml_config *cfg, uint64_t job,
		      struct au_rqml_job_spec *out);

/* The fan-out rules: child kinds of a converged job of kind `parent_kind`,
 * in rule order; returns how many (at most max). */
uint32_t au_rqml_children(const struct au_rqml_config *cfg, enum au_kernel_kind parent_kind,
			  enum au_kernel_kind *kinds, uint32_t max);

/* The spec of the k-th child (1-based) of `parent`, of kind `kind`, whose
 * generator seed comes from the parent's result digest (first 8 bytes,
 * big-endian): the child computes on what the parent found. */
bool au_rqml_child_spec(const struct au_rqml_config *cfg, const struct au_rqml_job_spec *parent,
			const uint8_t parent_digest[32], uint32_t k, enum au_kernel_kind kind,
			struct au_rqml_job_spec *out);

/* Task ids of shard tasks: bit 63 set, then job (23 bits), round (20),
 * shard (10), attempt (10). */
uint64_t au_rqml_task_id(uint64_t job, uint32_t round, uint32_t shard, uint32_t attempt);
bool au_rqml_task_decode(uint64_t id, uint64_t *job, uint32_t *round, uint32_t *shard,
			 uint32_t *attempt);

/* One row of the /rqml trace table. */
enum au_rqml_row_event {
	AU_RQML_ROW_SHARD = 0, /* node computed a shard (task, shard) of `round` */
	AU_RQML_ROW_ROUND = 1, /* round aggregated (recorded by the leader), residual */
	AU_RQML_ROW_DONE = 2,  /* job finished after `round` rounds */
};

struct au_rqml_row {
	int64_t job;
	int64_t task;     /* shard rows: the task id; otherwise 0 */
	uint32_t round;
	double residual;  /* round and done rows; NaN for shard rows */
	uint32_t shard;
	uint8_t event;    /* enum au_rqml_row_event */
};

/* ---- jobs submitted while the cluster runs (aureon-ctl submit) ------------------
 * Besides the jobs [workload] configures, an operator may start jobs at
 * run time.  Their ids lie in AU_RQML_SUBMIT_MIN..AU_RQML_SUBMIT_MAX, above
 * every id the configured jobs and their fan-out children can take, and
 * they do not fan out (they are started at depth AU_RQML_MAX_DEPTH).  Once
 * started they are ordinary jobs: supervised, checkpointed in the log,
 * recorded in ONE. */
#define AU_RQML_SUBMIT_MIN 1000000u
#define AU_RQML_SUBMIT_MAX ((1u << 23) - 1)
/* Every replica builds a started job's input and keeps it (finished jobs
 * too): a submission may need at most this much memory per replica, by a
 * generous estimate from its parameters, so that no operator's typo makes
 * every node run out of memory applying the same log entry. */
#define AU_RQML_SUBMIT_MEM_MAX (UINT64_C(256) << 20)

/* The "rqml" service's state (what local_service("rqml") returns). */
struct au_rqml;

/* Whether `spec` may be submitted (job id range, kernel parameters, shard
 * outputs that fit a log entry, memory, policy); 0, or -AU_EINVAL with "what: why"
 * in err (err may be NULL).  Parent and depth are ignored.  Pure. */
int au_rqml_check_submit(const struct au_rqml_job_spec *spec, char *err, size_t errlen);

/* Leader only: propose starting job `spec` (its parent and depth are set
 * to 0 and AU_RQML_MAX_DEPTH).  Idempotent by job id: a job the log already
 * has is not started again, whatever the spec.  Returns 0 (proposed, or
 * already there: watch au_rqml_job_info), or -AU_EINVAL (not the leader, or
 * au_rqml_check_submit refuses it). */
int au_rqml_submit(struct au_rqml *r, const struct au_rqml_job_spec *spec);

/* A job as this replica has applied it. */
struct au_rqml_job_info {
	struct au_rqml_job_spec spec;
	bool finished;       /* the policy ended it */
	uint8_t verdict;     /* enum au_kernel_verdict: CONTINUE while it runs */
	uint32_t rounds;     /* rounds aggregated */
	double residual;     /* of the last round; NaN before the first */
	uint8_t digest[32];  /* SHA-256 of the final state, once finished (zero if it
			      * failed or was cancelled: no result) */
	char reason[AU_RQML_REASON_LEN]; /* failed or cancelled: why (au_rqml_reason) */
};

/* Leader only: propose cancelling job `job`.  Once applied the job ends
 * with verdict cancelled on every replica, its shards are not issued
 * again (tasks already out finish empty), and the supervisor writes its
 * ONE record (verdict cancelled, no result).  A cancel of a job that has
 * ended, or that the log does not have, changes nothing.  0 (proposed),
 * -AU_EINVAL (not the leader, job 0). */
int au_rqml_cancel(struct au_rqml *r, uint64_t job);

/* Fill *out for job `job`; false if this replica has no such job. */
bool au_rqml_job_info(const struct au_rqml *r, uint64_t job, struct au_rqml_job_info *out);

/* What this replica and this node's RQML service have done (for /metrics):
 * jobs by how they stand (index: enum au_kernel_verdict, CONTINUE = still
 * running), rounds aggregated over every job, and the node's own counters.
 * Read-only. */
struct au_rqml_stats {
	uint32_t jobs[AU_KERNEL_VERDICTS]; /* by verdict: running, converged, max_rounds,
					    * stalled, failed, cancelled */
	uint64_t rounds;           /* rounds aggregated, summed over jobs (replicated) */
	uint64_t stale_outputs;    /* shard outputs the machine refused as stale (replicated) */
	uint64_t duplicate_outputs;/* resends of outputs already in the log (replicated) */
	uint64_t rejected_closes;  /* round closes refused (replicated) */
	uint64_t shards_computed;  /* shards this node's executor computed */
	uint64_t outputs_sent;     /* shard output messages this node sent to the leader */
	uint64_t proposals;        /* entries this node's supervisor proposed while leading */
	uint64_t applied_index;    /* log index of the last RQML command applied */
};
void au_rqml_get_stats(const struct au_rqml *r, struct au_rqml_stats *out);

extern const struct au_model au_rqml_model;

#endif
