/* execctl.h — aureon-node's side of the execution layer: what aureon-ctl's
 * drain, resume and submit do on the nodes, the queue fields of status
 * replies, /queue_stats, /checkpoint_state and the queue gauges of
 * /metrics.  It reads and drives the "aureon" service (the orchestrator,
 * models/orchestrator.h, and its replicated task queue, models/taskq.h)
 * through their public headers only; nodes without that service answer
 * AU_CTL_NO_SERVICE and report no queue.  RQML jobs go to the "rqml"
 * service (models/rqml.h: au_rqml_submit, au_rqml_job_info) and their
 * results are read from ONE (models/one.h).
 *
 * Requests (ctlproto.h) are served by the Raft leader:
 *   drain/resume  proposed with the orchestrator's operator command (the
 *                 one the simulator's drain faults use), a node mark in the
 *                 task queue;
 *   submit        au_orch_enqueue of every id of the request the queue does
 *                 not hold yet (enqueue is idempotent by id);
 *   job           au_rqml_submit of an RQML job the log does not have yet
 *                 (idempotent by job id; the same id with another spec is
 *                 a CONFLICT).
 * A request is answered DONE only when the leader's replica shows its
 * effect and a ReadIndex round confirmed that this node still leads and
 * had applied everything committed — so DONE means committed, and a
 * deposed leader's stale replica can never answer it.  Anything else is
 * PENDING (ask again) or NOT_LEADER (ask the hinted node).
 */
#ifndef AU_SHIM_EXECCTL_H
#define AU_SHIM_EXECCTL_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

struct au_execctl;

/* State for node `n`: requests waiting for their ReadIndex.  Free it only
 * after the node's services were destroyed (Raft then never calls back). */
struct au_execctl *au_execctl_new(struct au_node *n);
void au_execctl_free(struct au_execctl *x);

/* A control-service message of type AU_CTL_ADMIN_REQ, AU_CTL_SUBMIT_REQ,
 * AU_CTL_JOB_REQ or AU_CTL_JOBS_REQ (jobctl.h) from `from` (malformed ones
 * are ignored). */
void au_execctl_recv(struct au_execctl *x, au_node_id from, const uint8_t *msg, size_t len);

/* Fill the queue fields of a status (has_queue false without "aureon"). */
void au_execctl_status(struct au_node *n, struct au_node_status *st);

/* /queue_stats and /checkpoint_state bodies for the "aureon" service
 * (orch: its model state): one JSON object each, fields in shim/README.md. */
void au_execctl_queue_json(struct au_node *n, void *orch, GString *out);
void au_execctl_checkpoint_json(struct au_node *n, void *orch, GString *out);

/* The queue and worker gauges and counters for /metrics (nothing without
 * "aureon"). */
void au_execctl_metrics(struct au_node *n, GString *out);

/* Entries listed in /checkpoint_state at most (the rest are counted). */
#define AU_EXECCTL_CKPT_LIST_MAX 1000u

#endif
