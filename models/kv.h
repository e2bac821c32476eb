/* kv.h — a replicated key-value store on Raft, and the simulated clients
 * that drive it.
 *
 * The same model runs on both kinds of node: on a server (n1..nN) it is a
 * Raft state machine (machine id 1) that answers client requests — writes
 * through au_raft_submit with the client's session so retries apply once,
 * reads through ReadIndex; on a client node (ids above N, added by
 * [workload] kv_clients) it is a closed-loop client that issues get, put
 * and cas operations, retries against other servers on timeouts, and
 * records every operation in the /history trace table with its call and
 * return times and an outcome of ok, fail or unknown.  A client's CAS
 * expects a value it saw at that key (mostly the newest), so that many
 * swap and the linearizability check covers successful CAS.
 */
#ifndef AU_KV_H
#define AU_KV_H

#include "model.h"

struct au_kv_config {
	uint32_t clients;       /* client nodes */
	uint32_t rate_per_s;    /* operations per second per client (think time) */
	uint32_t keys;          /* keys 0..keys-1 */
	uint32_t mix_get, mix_put, mix_cas; /* weights */
	au_time attempt_ns;     /* one attempt's timeout before trying another server */
	au_time deadline_ns;    /* give up on an operation after this long */
};

/* AU_KV_DEL removes the key (it then reads as 0, like a key never
 * written).  Only aureon-ctl sends it: the simulated clients' mix has no
 * delete, so their traces are what they were before it existed. */
enum au_kv_op { AU_KV_GET, AU_KV_PUT, AU_KV_CAS, AU_KV_DEL };

/* The command a put, cas or delete proposes to the KV machine through
 * Raft: [op u8][key i64][value i64][expected i64], AU_KV_CMD_LEN bytes
 * written to out. */
#define AU_KV_CMD_LEN 25u
void au_kv_encode_cmd(uint8_t out[AU_KV_CMD_LEN], uint8_t op, int64_t key, int64_t value,
		      int64_t expected);
enum au_kv_outcome { AU_KV_OK, AU_KV_FAIL, AU_KV_UNKNOWN };

/* A row of /history. */
struct au_kv_history_row {
	uint32_t client;
	uint8_t op;        /* enum au_kv_op */
	int64_t key;
	int64_t value;     /* put: written; cas: new value; get: value read */
	int64_t expected;  /* cas */
	uint8_t cas_ok;    /* cas: whether it swapped */
	int64_t call_ns;
	int64_t return_ns; /* -1 when the outcome is unknown */
	uint8_t outcome;   /* enum au_kv_outcome */
};

/* One kv protocol datagram, decoded, for tools that watch the wire:
 * `aureon-sim replay --check` builds the clients' history from what the
 * servers received and answered.  A request (is_req) carries client
 * session, seq, attempt, op, key, value, expected; a response carries
 * client, seq, attempt, status (AU_KV_STATUS_*), hint, value (get: read;
 * put/cas: the value now there) and flag (cas: swapped). */
enum { AU_KV_STATUS_OK = 0, AU_KV_STATUS_NOT_LEADER = 1, AU_KV_STATUS_RETRY = 2 };
struct au_kv_wire {
	bool is_req;
	uint64_t client, seq;
	uint32_t attempt;
	uint8_t op, status, flag;
	uint32_t hint;
	int64_t key, value, expected;
};
/* False for anything but a well-formed kv request or response. */
bool au_kv_wire_decode(const void *msg, size_t len, struct au_kv_wire *out);

extern const struct au_model au_kv_model;

#endif
