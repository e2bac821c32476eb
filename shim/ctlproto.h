/* ctlproto.h — the control protocol between aureon-ctl and a node's
 * built-in control service (AU_NODE_CONTROL_SERVICE).
 *
 * Messages are model-style payloads (first byte = type, little-endian
 * fields, CRC-32C seal) carried in the same authenticated datagrams as
 * model traffic.  KV operations do not go through here: aureon-ctl speaks
 * the kv model's own REQ/RESP protocol to the "kv" service, exactly like
 * the simulated clients.
 */
#ifndef AU_SHIM_CTLPROTO_H
#define AU_SHIM_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

enum {
	AU_CTL_STATUS_REQ = 1,
	AU_CTL_STATUS_RESP = 2,
	AU_CTL_ADMIN_REQ = 3,  /* drain / resume a node (the task queue's node marks) */
	AU_CTL_ADMIN_RESP = 4,
	AU_CTL_SUBMIT_REQ = 5, /* enqueue tasks, or ask how they are doing */
	AU_CTL_SUBMIT_RESP = 6,
	AU_CTL_JOB_REQ = 7,    /* start an RQML job, or ask how it is doing */
	AU_CTL_JOB_RESP = 8,
};

#define AU_CTL_SERVICES_MAX 200u /* bytes of the services list in a reply */
#define AU_CTL_PAYLOAD_MAX 1024u /* payload bytes of submitted tasks */
#define AU_CTL_SUBMIT_MAX 10000u /* tasks per submit request */

struct au_ctl_status {
	uint64_t nonce;
	struct au_node_status st;
	uint64_t rx_delivered, rx_dropped;
	char services[AU_CTL_SERVICES_MAX + 1]; /* "raft,kv" */
};

/* How a node answers an admin or submit request. */
enum au_ctl_answer {
	AU_CTL_DONE = 0,       /* applied: the leader confirmed it by a ReadIndex round */
	AU_CTL_PENDING = 1,    /* proposed, or being confirmed: ask this node again */
	AU_CTL_NOT_LEADER = 2, /* ask the leader (hint in the reply; 0: none known) */
	AU_CTL_NO_SERVICE = 3, /* this node runs no "aureon" (jobs: "rqml") service */
	AU_CTL_REFUSED = 4,    /* invalid here (a node id outside the cluster, a bad spec) */
	AU_CTL_CONFLICT = 5,   /* a job with this id exists with another specification */
	AU_CTL_ANSWERS_
};

enum au_ctl_admin_op { AU_CTL_DRAIN = 1, AU_CTL_RESUME = 2 };

struct au_ctl_admin_req {
	uint64_t nonce;
	uint8_t op;            /* enum au_ctl_admin_op */
	au_node_id target;
};

struct au_ctl_admin_resp {
	uint64_t nonce;
	uint8_t answer;        /* enum au_ctl_answer */
	au_node_id leader;     /* NOT_LEADER: the hint */
	uint8_t draining;      /* the target's mark as the answering replica sees it */
	uint32_t leases;       /* leases the target holds, same view */
};

/* `count` tasks with ids first_id .. first_id + count - 1, all alike. */
struct au_ctl_submit_req {
	uint64_t nonce;
	uint8_t query_only;    /* 1: enqueue nothing, only report */
	uint64_t first_id;
	uint32_t count;        /* 1..AU_CTL_SUBMIT_MAX */
	uint32_t kind, topic, caps, max_retries, rounds;
	int32_t priority;
	uint16_t payload_len;  /* <= AU_CTL_PAYLOAD_MAX */
	uint8_t payload[AU_CTL_PAYLOAD_MAX];
};

struct au_ctl_submit_resp {
	uint64_t nonce;
	uint8_t answer;        /* DONE: every task is in the queue */
	au_node_id leader;
	uint32_t present;      /* of the ids, how many the queue holds, and in which state */
	uint32_t queued, leased, done, dead;
};

/* An RQML job (models/rqml.h: struct au_rqml_job_spec, whose fields these
 * are; parent and depth are the model's business). */
struct au_ctl_job_req {
	uint64_t nonce;
	uint8_t query_only;    /* 1: start nothing, only report */
	uint64_t job;
	uint8_t kind;          /* enum au_kernel_kind */
	uint64_t seed;
	uint32_t size, edges, k, dims, shards;
	double damping;
	uint8_t policy;        /* enum au_rqml_policy_kind */
	uint32_t stall_rounds;
	double tolerance;
	uint32_t max_rounds;
};

struct au_ctl_job_resp {
	uint64_t nonce;
	uint8_t answer;        /* DONE: the job is in the log (running or finished) */
	au_node_id leader;
	uint8_t known;         /* the replica has the job */
	uint8_t finished;
	uint8_t verdict;       /* enum au_kernel_verdict */
	uint32_t rounds;
	double residual;       /* NaN before the first round */
	uint8_t digest[32];    /* finished: SHA-256 of the result vector */
	uint64_t one_index;    /* log index of its ONE record; 0: not stored yet */
};

/* Encode into buf (cap bytes); return the length (0 if it does not fit). */
size_t au_ctl_encode_status_req(uint64_t nonce, uint8_t *buf, size_t cap);
size_t au_ctl_encode_status_resp(const struct au_ctl_status *s, uint8_t *buf, size_t cap);
/* Decode a reply; false if malformed (checksum, length, fields). */
bool au_ctl_decode_status_resp(const uint8_t *buf, size_t len, struct au_ctl_status *s);
/* Decode a request; false if malformed. */
bool au_ctl_decode_status_req(const uint8_t *buf, size_t len, uint64_t *nonce);

/* The type byte of a sealed control message, or -1 if the seal is bad. */
int au_ctl_type(const uint8_t *buf, size_t len);

/* The execution layer's requests and replies: encoders return the length
 * (0 if it does not fit), decoders false if malformed (checksum, length,
 * type, out-of-range fields). */
size_t au_ctl_encode_admin_req(const struct au_ctl_admin_req *q, uint8_t *buf, size_t cap);
bool au_ctl_decode_admin_req(const uint8_t *buf, size_t len, struct au_ctl_admin_req *q);
size_t au_ctl_encode_admin_resp(const struct au_ctl_admin_resp *r, uint8_t *buf, size_t cap);
bool au_ctl_decode_admin_resp(const uint8_t *buf, size_t len, struct au_ctl_admin_resp *r);
size_t au_ctl_encode_submit_req(const struct au_ctl_submit_req *q, uint8_t *buf, size_t cap);
bool au_ctl_decode_submit_req(const uint8_t *buf, size_t len, struct au_ctl_submit_req *q);
size_t au_ctl_encode_submit_resp(const struct au_ctl_submit_resp *r, uint8_t *buf, size_t cap);
bool au_ctl_decode_submit_resp(const uint8_t *buf, size_t len, struct au_ctl_submit_resp *r);
size_t au_ctl_encode_job_req(const struct au_ctl_job_req *q, uint8_t *buf, size_t cap);
bool au_ctl_decode_job_req(const uint8_t *buf, size_t len, struct au_ctl_job_req *q);
size_t au_ctl_encode_job_resp(const struct au_ctl_job_resp *r, uint8_t *buf, size_t cap);
bool au_ctl_decode_job_resp(const uint8_t *buf, size_t len, struct au_ctl_job_resp *r);

#endif
