/* opsctl.h — operators' controls on aureon-node: Raft membership (add or
 * remove a voter, transfer leadership) and locks, asked by aureon-ctl
 * through the node's control service (AU_NODE_CONTROL_SERVICE), and the
 * protocol both sides speak for them.
 *
 * Like execctl.h's requests, these are served by the Raft leader, resent by
 * the client until answered DONE:
 *   member add/remove  proposed with Raft's single-server change
 *                      (au_raft_change_member); DONE once the leader's
 *                      configuration has (or lacks) the node, that
 *                      configuration entry is committed and a ReadIndex
 *                      round confirmed this node still leads;
 *   transfer           au_raft_transfer on the leader (PENDING); DONE when
 *                      the target itself answers as the confirmed leader
 *                      (the client follows the NOT_LEADER hints there);
 *   lock acquire       a lock operation (models/lock.h) for the client's own
 *                      owner id (client node id << 32), proposed to the lock
 *                      machine; DONE with the token once the leader's
 *                      replica shows it granted (or held by someone else:
 *                      `holder` says who) and a ReadIndex confirmed it;
 *   lock release       unlock with the holder's token (an operator's
 *                      release works whoever holds the lock; with a token,
 *                      only if it is the current one); DONE once free.
 * A lock is a lease: the "aureon" service's leader expires it after
 * [workload] lock_ttl without a renewal (acquiring again renews it).
 */
#ifndef AU_SHIM_OPSCTL_H
#define AU_SHIM_OPSCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

/* Control message types (ctlproto.h has 1..8; these leave room between). */
enum { AU_CTL_OPS_REQ = 20, AU_CTL_OPS_RESP = 21 };

enum au_ctl_ops_op {
	AU_OPS_MEMBER_ADD = 1,
	AU_OPS_MEMBER_REMOVE = 2,
	AU_OPS_TRANSFER = 3,
	AU_OPS_LOCK_ACQUIRE = 4,
	AU_OPS_LOCK_RELEASE = 5,
	AU_OPS_OPS_
};

struct au_ctl_ops_req {
	uint64_t nonce;
	uint8_t op;         /* enum au_ctl_ops_op */
	au_node_id target;  /* member ops */
	uint64_t key;       /* locks: the lock's key */
	uint64_t token;     /* release: only this token (0: whoever holds it) */
};

struct au_ctl_ops_resp {
	uint64_t nonce;
	uint8_t answer;     /* enum au_ctl_answer (ctlproto.h) */
	au_node_id leader;  /* NOT_LEADER: the hint; else the answering leader */
	uint64_t voters;    /* the answering leader's configuration (bit n: node n) */
	uint64_t holder;    /* locks: the holder now (0: free) */
	uint64_t token;     /* locks: the holder's token */
};

size_t au_ctl_encode_ops_req(const struct au_ctl_ops_req *q, uint8_t *buf, size_t cap);
bool au_ctl_decode_ops_req(const uint8_t *buf, size_t len, struct au_ctl_ops_req *q);
size_t au_ctl_encode_ops_resp(const struct au_ctl_ops_resp *r, uint8_t *buf, size_t cap);
bool au_ctl_decode_ops_resp(const uint8_t *buf, size_t len, struct au_ctl_ops_resp *r);

struct au_opsctl;

/* State for node `n` (requests waiting for a ReadIndex).  Free it only after
 * the node's services were destroyed. */
struct au_opsctl *au_opsctl_new(struct au_node *n);
void au_opsctl_free(struct au_opsctl *x);
/* An AU_CTL_OPS_REQ from `from` (malformed ones are ignored). */
void au_opsctl_recv(struct au_opsctl *x, au_node_id from, const uint8_t *msg, size_t len);

#endif
