/* ctl_client.h — aureon-ctl's client node: one UDP socket speaking the
 * nodes' authenticated datagrams, KV operations against whichever node
 * leads (the kv model's own REQ/RESP protocol), and control requests the
 * leader confirms.  Shared by ctl_main.c (the command line and the first
 * commands) and the files that add commands (ctl_ops.c: operators' controls;
 * ctl_batch.c: batch and load).  Only aureon-ctl links it.
 */
#ifndef AU_SHIM_CTL_CLIENT_H
#define AU_SHIM_CTL_CLIENT_H

#include <glib.h>
#include <gio/gio.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"
#include "packet.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

/* The kv model's wire protocol (models/kv.c: MSG_*, ST_*, enum au_kv_op). */
enum { KV_REQ = 1, KV_RESP = 2 };
enum { KV_ST_OK = 0, KV_ST_NOT_LEADER = 1, KV_ST_RETRY = 2 };
enum { KV_GET = 0, KV_PUT = 1, KV_CAS = 2, KV_DEL = 3 };

/* One attempt's timeout before asking another node. */
#define ATTEMPT_NS (300 * AU_NS_PER_MS)

struct ctl {
	const struct au_cluster *c;
	struct au_pkt_key *key;
	GSocket *sock;
	au_node_id self;
	uint64_t seq_counter;
	struct au_replay *win; /* [nodes + 1] */
	uint32_t kv_tag, control_tag;
	uint8_t buf[AU_PKT_MAX + 1];
};

/* 64 random bits from the OS (client ids, sessions, nonces). */
uint64_t os_random64(void);
/* CLOCK_MONOTONIC in ns. */
int64_t mono_ns(void);
/* Open a client node on an ephemeral UDP port; false with *err. */
bool ctl_open(struct ctl *t, const struct au_cluster *c, char **err);
void ctl_close(struct ctl *t);
/* Send one datagram to member `to` for service `tag` (a failed send is a loss). */
void ctl_send(struct ctl *t, au_node_id to, uint32_t tag, const void *msg, size_t len);
/* Wait until `deadline_ns` for one authentic datagram from a member, for
 * service `tag`.  Returns its payload length (payload in *p), 0 on timeout. */
size_t ctl_recv(struct ctl *t, int64_t deadline_ns, uint32_t tag, au_node_id *from,
		const uint8_t **p);
/* "n1, n3": the nodes marked in tried[1..nodes], appended to s. */
const char *node_list(GString *s, const bool *tried, uint32_t nodes);

struct kv_result {
	bool ok;
	int64_t value;
	bool cas_ok;
	au_node_id served_by;
};

/* Run one KV operation (KV_GET, KV_PUT, KV_CAS, KV_DEL) to completion
 * against whichever node leads; returns an exit code (EXIT_UNAVAILABLE with
 * a message on stderr), fills *res on success. */
int kv_op(struct ctl *t, uint8_t op, int64_t key, int64_t value, int64_t expected,
	  int64_t timeout_ns, struct kv_result *res);

/* One request to the leader's control service, resent until it answers
 * DONE.  `decode` checks that a reply is for this request and gives its
 * answer and leader hint. */
struct leader_call {
	const uint8_t *req;
	size_t req_len;
	bool (*decode)(void *ctx, const uint8_t *p, size_t len, uint8_t *answer, au_node_id *hint);
	void *ctx;
	const char *what;    /* "drain n2": for messages */
	const char *service; /* the service that serves it: "aureon", "rqml" */
};

/* Send c->req to the leader's control service until it answers DONE
 * (following leader hints, re-asking on PENDING); returns an exit code. */
int leader_call(struct ctl *t, const struct leader_call *c, int64_t timeout_ns);

#endif
