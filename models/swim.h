/* swim.h — SWIM gossip membership and failure detection (Das, Gupta and
 * Motivala, DSN 2002) with the Lifeguard refinements to suspicion (Dadgar
 * et al. 2018) as hashicorp/memberlist implements them, as a sans-I/O model
 * behind env.h.  `services = swim` gives every node a membership view:
 * each member alive, suspect, dead or left, learned by probing and gossip.
 *
 * What it implements: randomized round-robin probing (a fresh random
 * permutation of the member ids every round), direct ping with a timeout,
 * indirect ping-req through k members, suspicion with incarnation numbers
 * and refutation, suspicion timeouts that start at max and shrink towards
 * min with independent confirmations (min = suspicion_mult * max(1,
 * log10 n) * probe_interval, max = suspicion_max_timeout_mult * min),
 * updates piggybacked on every message and gossiped to gossip_nodes
 * members each gossip_interval, each retransmitted retransmit_mult *
 * ceil(log10(n+1)) times, join through seed nodes, graceful leave,
 * periodic push-pull anti-entropy (interval scaled with log2 n as
 * memberlist does), and reaping of dead members after gossip_to_dead.
 *
 * Other services on the same node reach it with env local_service("swim")
 * and register observers; see the API below.
 */
#ifndef AU_SWIM_H
#define AU_SWIM_H

#include <stdbool.h>

#include "model.h"

/* The [swim] scenario group.  Defaults are memberlist's LAN profile. */
struct au_swim_config {
	au_time probe_interval_ns;      /* one probe per interval (1s) */
	au_time probe_timeout_ns;       /* direct ping answered within this, else ping-req (500ms) */
	uint32_t indirect_probes;       /* k members asked to ping-req (3) */
	uint32_t suspicion_mult;        /* min suspicion = mult * max(1, log10 n) * probe_interval (4) */
	uint32_t suspicion_max_timeout_mult; /* max suspicion = this * min (6) */
	au_time gossip_interval_ns;     /* gossip round period (200ms) */
	uint32_t gossip_nodes;          /* members gossiped to per round (3) */
	uint32_t retransmit_mult;       /* each update sent mult * ceil(log10(n+1)) times (4) */
	au_time push_pull_interval_ns;  /* full-state exchange period, scaled for n > 32 (30s); 0: off */
	struct au_node_list seeds;      /* join through these; "all": see docs/swim.md */
	au_time gossip_to_dead_ns;      /* dead members are gossiped to, then reaped, after this (30s) */
	int suspicion;                  /* false: a failed probe declares the member dead at once (true) */
	au_time stats_interval_ns;      /* period of /swim_load rows; 0: none (10s) */
	au_time reconnect_interval_ns;  /* ping a member held dead this often (Serf; 30s); 0: never */
};

/* A member's state in one node's view.  AU_SWIM_UNKNOWN: never heard of
 * (a member that was reaped after being dead or left keeps reporting
 * AU_SWIM_DEAD or AU_SWIM_LEFT). */
enum au_swim_state { AU_SWIM_ALIVE, AU_SWIM_SUSPECT, AU_SWIM_DEAD, AU_SWIM_LEFT, AU_SWIM_UNKNOWN };

/* The state the "swim" service returns from env local_service("swim"). */
struct au_swim;

/* Called on this node whenever its view of `member` changes state (not
 * for an incarnation change within the same state, and not for the view a
 * node starts with: read that with au_swim_member_state).  The observer
 * may call the read-only functions below; it must not send or block. */
typedef void (*au_swim_observer)(void *ctx, au_node_id member, enum au_swim_state state,
				 uint32_t incarnation);

#define AU_SWIM_MAX_OBSERVERS 8u

/* Register an observer; several are allowed (up to AU_SWIM_MAX_OBSERVERS,
 * more are ignored).  Observers live as long as the node's swim state: a
 * crash clears them, so register again from your own init after a
 * restart. */
void au_swim_observe(struct au_swim *sw, au_swim_observer fn, void *ctx);

/* This node's view of `member` (itself included: ALIVE, or LEFT after
 * au_swim_leave).  Ids outside the cluster are AU_SWIM_UNKNOWN. */
enum au_swim_state au_swim_member_state(const struct au_swim *sw, au_node_id member);

/* The incarnation this node holds for `member` (0 if unknown). */
uint32_t au_swim_member_incarnation(const struct au_swim *sw, au_node_id member);

/* Members this node considers alive, itself included (suspects are not
 * counted). */
uint32_t au_swim_alive_count(const struct au_swim *sw);

/* Leave the cluster gracefully: tell the others (they mark this node
 * LEFT, not dead), stop probing, and go quiet once the news has been sent.
 * Idempotent.  A node that left rejoins only by restarting. */
void au_swim_leave(struct au_swim *sw);

/* A row of the /membership trace table (table 0 of the model): node N's
 * view of `member` changed to `state` (the row's node and time are added
 * by the env).  `via`: 0 the node concluded it itself (probe, suspicion
 * timeout, its own leave), 1 gossip, 2 push-pull. */
struct au_swim_membership_row {
	uint32_t member;
	uint8_t state; /* enum au_swim_state */
	uint32_t incarnation;
	uint8_t via;
};

/* What a node has done so far (for benches and reports). */
struct au_swim_counters {
	uint64_t msgs_out, msgs_in, bytes_out, bytes_in;
	uint64_t probes;        /* direct probes started */
	uint64_t probe_fails;   /* probes that ended without any ack */
	uint64_t refutes;       /* times it raised its own incarnation */
	uint64_t declared_dead; /* suspicions it let expire (or, without suspicion, failed probes) */
	uint64_t queue_drops;   /* updates dropped from a full gossip queue */
	uint64_t bad;           /* malformed messages dropped */
};
void au_swim_get_counters(const struct au_swim *sw, struct au_swim_counters *out);

/* Heap bytes this node's state holds (view arrays, side tables, queue):
 * for measuring the cost per (node, member). */
size_t au_swim_memory(const struct au_swim *sw);

/* The protocol's timing for an n-member cluster under `cfg`, as the model
 * computes it (for checkers and benches): the suspicion timeout bounds and
 * the number of transmissions of each update. */
au_time au_swim_suspicion_min(const struct au_swim_config *cfg, uint32_t n);
au_time au_swim_suspicion_max(const struct au_swim_config *cfg, uint32_t n);
uint32_t au_swim_retransmit_limit(const struct au_swim_config *cfg, uint32_t n);

extern const struct au_model au_swim_model;

#endif
