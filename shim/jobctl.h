/* jobctl.h — the jobs and dead letters of the task queue on hosts:
 * `aureon-ctl job list|show|cancel` and `dead list|requeue` (ctl_jobs.c)
 * and the node's side of them (served by execctl.c's leader machinery:
 * answered by the Raft leader once a ReadIndex round confirmed it still
 * leads and had applied everything committed, like submit).
 *
 * One request type and one reply type of the control protocol (sealed
 * like ctlproto.h's messages).  A reply carries up to AU_JOBCTL_ROWS rows;
 * lists are read page by page (`from`: the first id of the page, the reply
 * says the next one).
 *
 *   LIST    rows: jobs with id >= from
 *   SHOW    rows: job `id` first (kind JOB), then its tasks with id >= from
 *   CANCEL  job `id`: proposes the cancel (au_orch_cancel) until the
 *           replica shows the job cancelled; result says what happened
 *   DEAD    rows: dead letters with id >= from
 *   REQUEUE dead letter `id`: proposes the requeue (au_orch_requeue) until
 *           the replica shows it is not dead any more
 */
#ifndef AU_SHIM_JOBCTL_H
#define AU_SHIM_JOBCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

enum { AU_CTL_JOBS_REQ = 30, AU_CTL_JOBS_RESP = 31 };

enum au_jobctl_op {
	AU_JOBCTL_LIST = 1,
	AU_JOBCTL_SHOW = 2,
	AU_JOBCTL_CANCEL = 3,
	AU_JOBCTL_DEAD = 4,
	AU_JOBCTL_REQUEUE = 5,
};

/* What a cancel or requeue found (reply `result`). */
enum au_jobctl_result {
	AU_JOBCTL_OK = 0,          /* done: cancelled / requeued (or already so) */
	AU_JOBCTL_UNKNOWN = 1,     /* no such job / task */
	AU_JOBCTL_JOB_DONE = 2,    /* cancel: the job is done already */
	AU_JOBCTL_NOT_DEAD = 3,    /* requeue: the task is not a dead letter */
	AU_JOBCTL_CANCELLED = 4,   /* requeue: its job was cancelled */
};

#define AU_JOBCTL_ROWS 100u

struct au_jobctl_req {
	uint64_t nonce;
	uint8_t op;      /* enum au_jobctl_op */
	uint64_t id;     /* SHOW, CANCEL: job; REQUEUE: task */
	uint64_t from;   /* LIST, SHOW, DEAD: first id of the page */
};

enum { AU_JOBCTL_ROW_JOB = 1, AU_JOBCTL_ROW_TASK = 2 };

/* A job (kind JOB) or a task (kind TASK). */
struct au_jobctl_row {
	uint8_t kind;
	uint64_t id;
	uint8_t state;   /* JOB: enum au_taskq_job_state; TASK: enum au_task_state */
	uint8_t reason;  /* JOB: fail_reason; TASK: dead_reason (enum au_taskq_dead_reason) */
	uint8_t error;   /* JOB: fail_error; TASK: last_error (enum au_taskq_error) */
	uint64_t ref;    /* JOB: fail_task; TASK: its job */
	uint32_t a, b, c, d, e; /* JOB: tasks, queued, leased, done, dead;
				   TASK: retries, attempts, requeues, holder, max_retries */
};

struct au_jobctl_resp {
	uint64_t nonce;
	uint8_t answer;  /* enum au_ctl_answer (ctlproto.h) */
	au_node_id leader;
	uint8_t result;  /* CANCEL, REQUEUE: enum au_jobctl_result */
	uint64_t next;   /* lists: the next page's `from`; 0: this was the last */
	uint32_t n_rows;
	struct au_jobctl_row rows[AU_JOBCTL_ROWS];
};

/* Encoders return the length (0 if it does not fit); decoders false if
 * malformed (seal, length, type, out-of-range fields). */
size_t au_jobctl_encode_req(const struct au_jobctl_req *q, uint8_t *buf, size_t cap);
bool au_jobctl_decode_req(const uint8_t *buf, size_t len, struct au_jobctl_req *q);
size_t au_jobctl_encode_resp(const struct au_jobctl_resp *r, uint8_t *buf, size_t cap);
bool au_jobctl_decode_resp(const uint8_t *buf, size_t len, struct au_jobctl_resp *r);
/* Room a reply may need. */
#define AU_JOBCTL_RESP_MAX (64u + AU_JOBCTL_ROWS * 64u)

/* Node side (execctl.c calls these on the leader).  au_jobctl_serve fills
 * `a` from the replicated queue of `orch` (struct au_orch *) and returns
 * false if a cancel or requeue has not taken effect yet (propose it with
 * au_jobctl_propose, answer PENDING), true if the answer stands (DONE once
 * confirmed). */
bool au_jobctl_serve(void *orch, const struct au_jobctl_req *q, struct au_jobctl_resp *a);
void au_jobctl_propose(void *orch, const struct au_jobctl_req *q);

#endif
