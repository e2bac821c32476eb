/* node.h — aureon-node's runtime: env.h over the GLib main loop, a UDP
 * socket, real files and the monotonic clock.
 *
 * One process hosts one node: every service of the cluster file ([cluster]
 * services, e.g. raft,kv) runs on it as the same model code the simulator
 * runs, each with its own env ctx, PCG32 stream and storage directory.
 *
 *   now()           CLOCK_MONOTONIC, ns since the process started
 *   send()          one authenticated UDP datagram per message (packet.h)
 *   timers          a heap ordered by (deadline, arming order) behind one
 *                   timerfd on CLOCK_MONOTONIC (ns resolution)
 *   storage         DATA/store/SERVICE/FILE; pwrite/pread; sync is an
 *                   fdatasync (plus a directory fsync after a file was
 *                   created) on a worker thread, and persisted() runs back on
 *                   the main loop, in the order syncs were issued
 *   random          PCG32 per service, seeded from the OS (or --seed)
 *   trace/record    counters per kind/table for /metrics, role changes in
 *                   the log, everything in --trace-log FILE if asked
 *
 * The models stay single-threaded: only the sync worker runs off the main
 * thread, and it never touches model state.
 */
#ifndef AU_SHIM_NODE_H
#define AU_SHIM_NODE_H

#include <gio/gio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cluster.h"
#include "packet.h"

/* The control service every node answers besides its models: status
 * queries, drain/resume and task submission from aureon-ctl (ctlproto.h,
 * execctl.h). */
#define AU_NODE_CONTROL_SERVICE "aureon.node"

struct au_node_opts {
	const struct au_cluster *cluster; /* must outlive the node */
	au_node_id id;
	const char *data_dir;
	bool have_seed;  /* --seed: reproducible PCG32 streams (tests) */
	uint64_t seed;
	bool no_fsync;   /* fuzzing only: skip fdatasync/fsync */
	bool no_socket;  /* fuzzing and unit tests: no UDP socket; sends are counted and dropped */
	FILE *trace_log; /* every trace event and table row, one line each; NULL: off */
	bool quiet;      /* no informational log lines */
	/* This node's identity secret key file, with [identities] in the
	 * cluster file (identity.h); NULL: DATA_DIR/identity.key. */
	const char *identity_file;
	/* --record DIR: append every input of the models to a log there
	 * (record.h, docs/replay.md); NULL: off.  Segments rotate past
	 * record_max_bytes (0: the default, 64 MiB). */
	const char *record_dir;
	uint64_t record_max_bytes;
};

#define AU_NODE_AUTH_MAX 200u

/* What a node knows about itself, for status replies, /ready and /metrics. */
struct au_node_status {
	au_node_id id;
	uint32_t nodes;
	uint64_t epoch;      /* boot epoch (high bits of every packet counter) */
	int64_t uptime_ns;
	bool has_raft;
	int role;            /* enum au_raft_role; -1 without raft */
	uint64_t term;
	au_node_id leader;   /* 0: none known */
	uint64_t commit, applied, last_index;
	uint64_t voters;     /* bitmask of node ids (bit n) */
	bool voters_known;   /* false until a configuration was traced */
	uint64_t config_index; /* log index of that configuration (0: the initial one) */
	/* The task queue (service "aureon"), as this node's replica and
	 * worker see it; has_queue false without that service. */
	bool has_queue;
	uint64_t queue_depth; /* tasks waiting in the replicated queue; UINT64_MAX: unknown */
	uint64_t q_leased, q_done, q_dead; /* the other task states, same replica */
	uint32_t leases;      /* leases this node holds per the replica */
	uint32_t running;     /* tasks this node's worker runs now */
	uint32_t waiting;     /* leased here, waiting for a worker slot */
	bool draining;        /* this node's drain mark, per the replica */
	/* Storage: whether the node can persist now (see /ready). */
	bool storage_failing;      /* a write or sync failed, no later sync succeeded */
	int64_t storage_failing_ns; /* since when (node uptime clock) */
	char storage_error[160];   /* the last failure: op, file, reason */
	bool raft_out_of_service;  /* Raft stopped serving on a storage failure */
	/* Members this node sees with a wrong or revoked key ("n3 wrong key
	 * (quarantined 4.2s, 40 invalid)"; identity.h), "" if none. */
	char auth[AU_NODE_AUTH_MAX + 1];
};

/* Counters behind /metrics. */
struct au_node_counters {
	uint64_t rx_datagrams, rx_bytes, rx_delivered;
	uint64_t drops[AU_DROP_COUNT_];
	uint64_t tx_datagrams, tx_bytes;
	uint64_t tx_rejected;   /* model asked for a bad destination or size */
	uint64_t tx_failed;     /* socket refused (buffer full, unreachable): counted as loss */
	uint64_t timers_fired, timers_armed;
	uint64_t syncs, sync_ns_total;
	uint64_t storage_errors;       /* every failed storage operation, reads included */
	uint64_t storage_write_errors; /* writes and truncates that failed */
	uint64_t storage_sync_errors;  /* syncs that failed */
	uint64_t control_requests;
	uint64_t clients_evicted;
};

struct au_node;

/* Open the data directory (locked against a second process, checked to
 * belong to this node id), bump and persist the boot epoch, bind the
 * socket.  Services are not started yet.  NULL with *err on failure. */
struct au_node *au_node_new(const struct au_node_opts *o, char **err);
/* Start every service (init in [cluster] services order) and attach the
 * socket, timer and sync-completion sources to the default main context. */
void au_node_start(struct au_node *n);
/* Stop: wait for syncs in flight (their persisted() is not called),
 * destroy the services in reverse order, close everything. */
void au_node_free(struct au_node *n);

/* The receive path for one datagram (the socket source calls it; tests and
 * the fuzz target call it directly).  `from` may be NULL. */
void au_node_input(struct au_node *n, const uint8_t *buf, size_t len, GSocketAddress *from);
/* Run timers that are due now (the timerfd source calls it). */
void au_node_run_timers(struct au_node *n);
/* Deliver completed syncs (the eventfd source calls it); returns how many. */
unsigned au_node_run_syncs(struct au_node *n);

void au_node_get_status(struct au_node *n, struct au_node_status *st);
const struct au_node_counters *au_node_counters(const struct au_node *n);
const struct au_cluster *au_node_cluster(const struct au_node *n);
au_node_id au_node_id_of(const struct au_node *n);
/* Append the Prometheus text exposition of every metric to `out`. */
void au_node_render_metrics(struct au_node *n, GString *out);
/* A service's model state, or NULL. */
void *au_node_service_state(struct au_node *n, const char *name);
/* Test hook: the env a service sees (NULL if no such service). */
const struct au_env *au_node_env(struct au_node *n, const char *service);
/* Send a control-service message to `to` (a member or a remembered
 * client); 0 or a negative AU_E* code. */
int au_node_control_send(struct au_node *n, au_node_id to, const void *msg, size_t len);
/* Member `peer`'s authentication record as this node sees it, a JSON
 * object (identity.h: au_ident_peer_json), for /peers. */
void au_node_peer_auth_json(struct au_node *n, au_node_id peer, GString *out);
/* How member `peer`'s proofs look to this node (shim/identity.h): whether
 * it is quarantined now and for how much longer, its invalid proofs, and
 * whether they look like a wrong key.  False for an id that is no member. */
bool au_node_peer_trust(struct au_node *n, au_node_id peer, bool *quarantined, int64_t *left_ns,
			uint64_t *invalid, bool *wrong_key);
/* Number of aureon-ctl clients currently remembered. */
unsigned au_node_client_count(const struct au_node *n);

#endif
