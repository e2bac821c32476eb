/* sim_internal.h — state shared by the engine's own files (sim.c, net.c,
 * disk.c, fault.c, dist.c) and read by the checkers that watch a run
 * (sim/check).  Not for models, not for the command line.
 */
#ifndef AU_SIM_INTERNAL_H
#define AU_SIM_INTERNAL_H

#include <glib.h>

#include "pcg32.h"
#include "trace_kinds.h"
#include "evq.h"
#include "sha256.h"
#include "sim.h"

/* 128-bit integers for exact products of durations and rates. */
__extension__ typedef __int128 au_i128;
__extension__ typedef unsigned __int128 au_u128;

/* Engine event types (au_event.type; 0 is the queue's "dead"). */
enum au_ev_type {
	AU_EV_DELIVER = 1, /* node=dst, aux=src, a=send time, len, payload */
	AU_EV_TIMER,       /* node, service, aux=epoch, a=kind, u.ref.b=arg */
	AU_EV_SYNC_DONE,   /* node, service, aux=epoch, a=token, u.ref.b=op seq, len=file index */
	AU_EV_FAULT,       /* a=fault index, len=phase (0 start, 1 end) */
	AU_EV_RESTART,     /* node: restart after a crash's restart_after */
	AU_EV_BOOT,        /* node: first start of services */
};

/* au_event.flags for deliveries. */
/* Payload blocks (net.c): 32 B .. 64 KiB, powers of two (AU_MSG_MAX fits). */
#define AU_PAY_MIN_SHIFT 5u
#define AU_PAY_CLASSES 12u
#define AU_EVF_INLINE 1u    /* payload inside the event */
#define AU_EVF_DUP 2u       /* the extra copy of a duplicated message */
#define AU_EVF_CORRUPT 4u   /* a bit was flipped */

/* The env ctx of one service instance on one node. */
struct au_sim_svc {
	_Alignas(64) struct au_sim *sim;
	au_node_id node;
	uint32_t index; /* into scenario services */
	void *state;    /* NULL while the node is down */
	struct au_env env;
	struct au_pcg32 rng;
};

struct au_disk; /* disk.c */

/* One virtual node.  The first cache line holds what every event touches;
 * the array is 64-byte aligned. */
struct au_sim_node {
	_Alignas(64) bool up;
	bool paused;
	bool read_error;      /* disk_fault read_error active */
	uint32_t epoch;       /* bumps at every crash: older timers and syncs are void */
	int64_t drift_ppm;
	struct au_sim_svc *svc; /* [n_services] */
	struct au_pcg32 net_rng;
	uint64_t msgs_in, msgs_out;
	/* colder */
	au_time skew_ns;      /* sum of clock jumps */
	au_time drift_since;  /* global time the current drift started */
	au_time drift_base;   /* drift accumulated before drift_since */
	struct au_pcg32 disk_rng;
	struct au_disk *disk;
	GArray *deferred;     /* struct au_deferred, while paused */
	au_time slow_sync_ns; /* disk_fault slow_sync extra latency */
	bool disk_full;       /* disk_fault disk_full: no room beyond disk_full_limit */
	bool write_error;     /* disk_fault write_error: writes and truncates fail */
	bool sync_error;      /* disk_fault sync_error: syncs fail */
	uint64_t disk_full_limit; /* bytes the files held when disk_full began */
	double write_error_rate, sync_error_rate; /* share of operations failed */
};

struct au_deferred {
	au_time t;
	struct au_event ev;
};

/* An active partition. */
struct au_partition {
	uint32_t fault;
	bool oneway;
	uint32_t *group_of; /* [nodes+1]; 0: not in any group */
};

/* An active clog, loss or corrupt fault. */
struct au_link_fault {
	uint32_t fault;
	enum au_fault_action action;
	bool is_link;
	au_node_id a, b; /* link endpoints, or a = target node */
	double rate;
	au_time extra;   /* clog: -1 holds messages until the clog ends */
	GArray *held;    /* struct au_deferred: held deliveries */
};

struct au_sim {
	const struct au_scenario *sc;
	uint64_t seed;
	uint32_t nodes;   /* every node: servers n1..nN, then client nodes */
	uint32_t servers; /* N: the cluster's nodes, the only fault targets */
	au_time now;
	struct au_evq q;
	struct au_sim_node *node; /* [nodes+1] */
	struct au_sim_svc *svc_all; /* [(nodes+1) * n_services], one allocation */
	struct au_sim_stats stats;
	uint64_t max_events;
	bool stop;
	bool booted;
	bool finished;

	/* network */
	struct au_pcg32 fault_rng;
	GPtrArray *partitions;  /* struct au_partition* */
	GPtrArray *link_faults; /* struct au_link_fault* */
	GHashTable *link_free;  /* (src<<32|dst) -> au_time*, with bandwidth */
	bool net_plain; /* no loss, dup, bandwidth or active faults: fast path */
	/* Free payload blocks of 2^(c + AU_PAY_MIN_SHIFT) bytes, chained
	 * through their first bytes (net.c): a message's private copy costs no
	 * malloc once the run has warmed up. */
	void *pay_free[AU_PAY_CLASSES];

	GHashTable *shared; /* shared inputs (shared.c), or NULL */

	/* trace */
	struct au_sha256 sha;
	uint8_t hbuf[8192];
	size_t hbuf_len;
	FILE *dump;
	struct au_h5 *h5; /* trace file, or NULL */

	/* the judge (sim/check) and the violation that stopped the run */
	const struct au_sim_judge *judge;
	void *judge_state; /* NULL: nothing judges this run */
	bool violated;
	struct au_violation violation;
	au_node_id delivering_from; /* sender of the message in delivery, else 0 */
	au_node_id leader;   /* the leader of the newest term seen, while it leads; 0: none */
	int64_t leader_term; /* the newest term a node traced itself leader of */
	au_node_id *fault_node; /* [n_faults]: node each fault acted on */
	uint8_t *fault_outcome; /* [n_faults]: enum au_fault_outcome */
	/* who `lease_holder` and `lock_holder` mean now (fault.c follows the
	 * orchestrator's traces; NULL unless a fault uses such a target) */
	uint32_t *holder_tasks;  /* [nodes+1]: tasks the node's worker runs */
	uint64_t *holder_lock;   /* [nodes+1]: token of the lock its client holds, 0: none */
	/* old timer handle -> new, for timers re-timed by a drift change
	 * (lookups only; NULL until the first) */
	GHashTable *timer_moved;
	au_sim_observer observer; /* every event record, for chaos coverage */
	void *observer_ctx;
};

/* sim.c */
void au_sim_record_event(struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a,
			 int64_t b, int64_t c);
/* A row of a model table (svc says node and service), hashed and judged. */
void au_sim_record_row(struct au_sim *sim, struct au_sim_svc *svc, uint32_t table, const void *row);
void au_sim_record_message(struct au_sim *sim, au_time send_ns, au_time recv_ns,
			   au_node_id src, au_node_id dst, uint8_t service, uint8_t type,
			   uint32_t bytes, enum au_fate fate);
void au_sim_push(struct au_sim *sim, au_time t, const struct au_event *ev);
void au_sim_crash(struct au_sim *sim, au_node_id n, uint32_t fault);
void au_sim_restart(struct au_sim *sim, au_node_id n, uint32_t fault);
void au_sim_pause(struct au_sim *sim, au_node_id n, uint32_t fault);
void au_sim_resume(struct au_sim *sim, au_node_id n);
au_time au_sim_local_time(const struct au_sim *sim, au_node_id n, au_time t);
void au_sim_set_drift(struct au_sim *sim, au_node_id n, int64_t ppm);
void au_sim_violate(struct au_sim *sim, const char *check, au_node_id node,
		    const char *fmt, ...) G_GNUC_PRINTF(4, 5);
/* Place the violation just reported (au_sim_violate) at the offending
 * operations: time, serving node and record; with `window` (may be NULL)
 * the operations judged together.  No-op without a violation. */
void au_sim_violation_place(struct au_sim *sim, au_time t_ns, au_node_id node, uint64_t record,
			    const struct au_violation *window);
/* The sender of the message being delivered right now, 0 outside a
 * delivery: who served the reply a client is recording. */
au_node_id au_sim_delivering_from(const struct au_sim *sim);
/* Give a delivery event's out-of-line payload back to the run's pool
 * (net.c); anything else is left alone. */
void au_msg_free_payload(struct au_sim *sim, struct au_event *ev);

/* dist.c */
au_time au_dist_sample(const struct au_dist *d, struct au_pcg32 *rng);

/* net.c */
int au_net_send(struct au_sim *sim, struct au_sim_svc *svc, au_node_id to, const void *msg,
		size_t len);
void au_net_deliver(struct au_sim *sim, struct au_event *ev);
void au_net_update_plain(struct au_sim *sim);
void au_net_release_held(struct au_sim *sim, struct au_link_fault *lf);
void au_net_free(struct au_sim *sim);

/* disk.c */
void au_sim_shared_free(struct au_sim *sim); /* shared.c */

/* Tests: with `eager`, every pending disk write keeps its own copy of its
 * bytes (the slow path lazy writes must equal); process-wide. */
void au_disk_test_eager_pending(bool eager);
struct au_disk *au_disk_new(void);
void au_disk_free(struct au_disk *d);
int au_disk_write(struct au_sim *sim, struct au_sim_svc *svc, const char *file, uint64_t off,
		  const void *buf, size_t len);
int64_t au_disk_read(struct au_sim *sim, struct au_sim_svc *svc, const char *file,
		     uint64_t off, void *buf, size_t len);
int64_t au_disk_size(struct au_sim *sim, struct au_sim_svc *svc, const char *file);
int au_disk_truncate(struct au_sim *sim, struct au_sim_svc *svc, const char *file,
		     uint64_t len);
void au_disk_sync(struct au_sim *sim, struct au_sim_svc *svc, const char *file,
		  uint64_t token);
/* Apply a completed sync; false if it belongs to a dead epoch. */
void au_disk_sync_done(struct au_sim *sim, struct au_event *ev);
/* Crash: decide the fate of every unsynced write; returns kept/torn/lost. */
void au_disk_crash(struct au_sim *sim, au_node_id n, uint64_t *kept, uint64_t *torn,
		   uint64_t *lost);
/* Bytes the node's files hold now (what a capacity bounds). */
uint64_t au_disk_used(const struct au_sim *sim, au_node_id n);
/* disk_fault corrupt: flip one bit in one durable sector of one file. */
void au_disk_corrupt_sector(struct au_sim *sim, au_node_id n);
int64_t au_disk_durable_read(struct au_disk *d, const char *key, uint64_t off, void *buf,
			     size_t len);

/* fault.c */
void au_fault_schedule(struct au_sim *sim);
void au_fault_fire(struct au_sim *sim, const struct au_event *ev);
void au_fault_track(struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a, int64_t b);

#endif
