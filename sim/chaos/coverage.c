/* coverage.c — what a chaos run exercised: the situations worth counting
 * (a leader crashed during a membership change, a paused lease holder lost
 * its lease, ...), seen by watching the run's trace as an engine observer.
 * Observers only watch, so coverage changes nothing in the run.
 */
#include "chaos_internal.h"

#include <string.h>

#include "orchestrator/orchestrator.h"
#include "trace_kinds.h"

const char *const au_chaos_combo_names[CB_COUNT_] = {
	[CB_LEADER_CRASH] = "a leader crashed",
	[CB_LEADER_CRASH_MEMBERSHIP] = "a leader crashed during a membership change",
	[CB_CRASH_IN_PARTITION] = "a node crashed while a partition was up",
	[CB_LEADER_MINORITY] = "a partition left the leader in a minority",
	[CB_LEADER_PAUSED] = "the leader was paused",
	[CB_LEADER_SKEWED] = "the leader's clock jumped or drifted",
	[CB_TORN_WRITE] = "a crash tore an unsynced write",
	[CB_LOST_WRITE] = "a crash lost an unsynced write",
	[CB_MEMBERSHIP_CHANGE] = "a membership change started",
	[CB_TRANSFER] = "leadership was transferred",
	[CB_SNAPSHOT_INSTALL] = "a node installed a snapshot",
	[CB_BAD_DISK_RECORD] = "a node found a bad record on disk",
	[CB_OVERLAPPING_FAULTS] = "two lasting faults overlapped",
	[CB_UNREADABLE_BOOT] = "a node restarted onto an unreadable disk",
	[CB_HOLDER_PAUSED_PAST_LEASE] = "a paused lease holder lost a lease",
	[CB_RECLAIMED_DEAD] = "a lease was reclaimed from a dead node",
	[CB_REVOKED_REBOOT] = "a rebooted holder's lease was revoked",
	[CB_STALE_ACK] = "a stale ack was rejected",
	[CB_LOCK_FENCED] = "a lock holder's write was fenced",
	[CB_HOLDER_SKEWED] = "a lease holder's clock jumped past a lease",
	[CB_TWO_CANDIDATES] = "a voter following its term's leader was asked by another candidate",
	[CB_CHANGE_BEFORE_COMMIT] = "a membership change reached a leader before it committed in its term",
	[CB_LEADER_CRASH_EARLY] = "a leader crashed before it committed in its term",
	[CB_PAUSED_HOLDER_CRASH] = "a paused lease holder crashed",
	[CB_CRASH_AFTER_RESTART] = "a node crashed within a second of its restart",
	[CB_LEFT_CRASH] = "a node that had left crashed",
	[CB_DRAINED_CRASH] = "a draining node crashed",
	[CB_SKEWED_CRASH] = "a node whose clock was off crashed",
};

/* Situations that only Raft produces (not listed for other services). */
#define RAFT_COMBOS                                                                    \
	((1u << CB_LEADER_CRASH) | (1u << CB_LEADER_CRASH_MEMBERSHIP) |                \
	 (1u << CB_LEADER_MINORITY) | (1u << CB_LEADER_PAUSED) | (1u << CB_LEADER_SKEWED) | \
	 (1u << CB_MEMBERSHIP_CHANGE) | (1u << CB_TRANSFER) | (1u << CB_SNAPSHOT_INSTALL) | \
	 (1u << CB_BAD_DISK_RECORD) | (1u << CB_UNREADABLE_BOOT) | (1u << CB_TWO_CANDIDATES) | \
	 (1u << CB_CHANGE_BEFORE_COMMIT) | (1u << CB_LEADER_CRASH_EARLY))

/* Situations of the execution layer (listed only where it runs). */
#define EXEC_COMBOS                                                                    \
	((1u << CB_HOLDER_PAUSED_PAST_LEASE) | (1u << CB_RECLAIMED_DEAD) |                  \
	 (1u << CB_REVOKED_REBOOT) | (1u << CB_STALE_ACK) |                                     \
	 (1u << CB_LOCK_FENCED) | (1u << CB_HOLDER_SKEWED) | (1u << CB_PAUSED_HOLDER_CRASH) |   \
	 (1u << CB_DRAINED_CRASH))

/* Situations of SWIM (listed only where it runs). */
#define SWIM_COMBOS (1u << CB_LEFT_CRASH)

/* What coverage remembers of one node's votes. */
struct voter {
	int64_t voted_term;    /* the term of its latest granted vote */
	au_node_id voted_for;
	int64_t followed_term; /* the latest term in which it followed a leader */
};

struct au_chaos_cov {
	const struct au_scenario *sc;
	uint32_t combos;
	au_node_id leader;
	int64_t leader_term;
	bool change_pending;
	au_node_id change_leader;
	int64_t change_index;
	int32_t partitions, links, disks, down, paused;
	uint8_t *node_paused; /* [nodes+1] */
	uint8_t *admin_failed; /* [n_faults] */
	uint8_t *admin_seen;   /* [n_faults]: its first ADMIN record was traced */
	/* per node [nodes+1], for the correlated situations */
	au_time *restarted_at; /* its latest restart, or -1 */
	uint8_t *left;         /* it left SWIM (since its latest restart) */
	uint8_t *draining;     /* a drain of it is in force */
	uint8_t *clock_off;    /* its clock was ever jumped or drifted */
	/* execution layer: who was granted which lease token, tokens whose
	 * results were accepted, tasks each node's worker runs */
	GHashTable *granted;   /* token -> node */
	GHashTable *acked;     /* token */
	uint32_t *running;     /* [nodes+1] */
	au_time lease;
	bool leader_committed; /* `leader` committed an entry of its term */
	struct voter *voters;  /* [nodes+1] */
};

static int32_t lasting(const struct au_chaos_cov *c)
{
	return c->partitions + c->links + c->disks + c->down + c->paused;
}

/* Is the leader in a group smaller than a majority of the servers? */
static bool leader_in_minority(const struct au_chaos_cov *c, const struct au_fault *f)
{
	uint32_t servers = c->sc->cluster.nodes, size[8] = {0}, rest_group = 0, leader_group = 0, named = 0;
	for (uint32_t m = 0; m < f->n_members; m++) {
		const struct au_group_member *gm = &f->members[m];
		uint32_t g = gm->group < 8 ? gm->group : 7;
		if (gm->who.kind == AU_TARGET_REST)
			rest_group = g;
		else if (gm->who.kind == AU_TARGET_LEADER || (gm->who.kind == AU_TARGET_NODE && gm->who.node == c->leader))
			leader_group = g;
		if (gm->who.kind == AU_TARGET_NODE || gm->who.kind == AU_TARGET_LEADER) {
			size[g]++;
			named++;
		}
	}
	if (rest_group && named < servers)
		size[rest_group] += servers - named;
	if (!leader_group)
		leader_group = rest_group;
	return leader_group && size[leader_group] * 2 <= servers;
}

/* The execution layer's [aureon] lease, or 0 where it does not run. */
static au_time exec_lease(const struct au_scenario *sc)
{
	const struct au_orch_config *oc = au_chaos_orch_config(sc);
	return oc ? oc->lease_ns : 0;
}

/* The execution layer's situations.  Queue and lock effects are traced by
 * every replica as it applies: the first copy decides, later ones change
 * nothing. */
static void observe_exec(struct au_chaos_cov *c, au_node_id node, uint16_t kind, int64_t a, int64_t b,
			 int64_t cc)
{
	(void)a;
	bool ok_node = node <= c->sc->cluster.nodes;
	switch (kind) {
	case AU_TR_TASKQ_GRANT:
		if (!g_hash_table_contains(c->granted, &b))
			g_hash_table_insert(c->granted, g_memdup2(&b, sizeof(b)),
					    GUINT_TO_POINTER((guint)cc));
		break;
	case AU_TR_TASKQ_ACK:
		if (!g_hash_table_contains(c->acked, &b))
			g_hash_table_add(c->acked, g_memdup2(&b, sizeof(b)));
		break;
	case AU_TR_TASKQ_ACK_STALE:
		/* Not a repeat of the ack that was accepted: a stale holder's. */
		if (!g_hash_table_contains(c->acked, &b))
			c->combos |= 1u << CB_STALE_ACK;
		break;
	case AU_TR_TASKQ_EXPIRE: {
		au_node_id holder = GPOINTER_TO_UINT(g_hash_table_lookup(c->granted, &b));
		if (holder && holder <= c->sc->cluster.nodes && c->node_paused[holder])
			c->combos |= 1u << CB_HOLDER_PAUSED_PAST_LEASE;
		if (cc == 1)
			c->combos |= 1u << CB_RECLAIMED_DEAD;
		else if (cc == 2)
			c->combos |= 1u << CB_REVOKED_REBOOT;
		break;
	}
	case AU_TR_LOCK_WRITE:
		if (cc == 0)
			c->combos |= 1u << CB_LOCK_FENCED;
		break;
	case AU_TR_ORCH_START:
		if (ok_node)
			c->running[node]++;
		break;
	case AU_TR_ORCH_FINISH:
	case AU_TR_ORCH_ABANDON:
		if (ok_node && c->running[node])
			c->running[node]--;
		break;
	case AU_TR_ORCH_BOOT:
		if (ok_node)
			c->running[node] = 0;
		break;
	default:
		break;
	}
}

void au_chaos_cov_observe(void *ctx, au_time t, au_node_id node, uint16_t kind, int64_t a,
			  int64_t b, int64_t cc)
{
	struct au_chaos_cov *c = ctx;
	switch (kind) {
	case AU_TR_RAFT_ROLE:
		if (b == 3 && a >= c->leader_term) { /* as sim.c: stale leaders do not count */
			c->leader = node;
			c->leader_term = a;
			c->leader_committed = false;
		} else if (b != 3 && c->leader == node)
			c->leader = 0;
		if (b == 0 && cc && node <= c->sc->cluster.nodes)
			c->voters[node].followed_term = a;
		break;
	case AU_TR_RAFT_VOTE:
		/* The order VOTEDFOR_CLEARED needs: a voter granted a vote in a
		 * term, followed that term's leader, and is then asked (not
		 * pre-vote) by another candidate of the same term. */
		if (node <= c->sc->cluster.nodes && !(cc & 2)) {
			struct voter *v = &c->voters[node];
			if (a == v->voted_term && b != v->voted_for && a == v->followed_term)
				c->combos |= 1u << CB_TWO_CANDIDATES;
			if ((cc & 1) && a >= v->voted_term) {
				v->voted_term = a;
				v->voted_for = (au_node_id)b;
			}
		}
		break;
	case AU_TR_NODE_CRASH:
		if (node == c->leader && node) {
			c->combos |= 1u << CB_LEADER_CRASH;
			if (!c->leader_committed)
				c->combos |= 1u << CB_LEADER_CRASH_EARLY;
			if (c->change_pending)
				c->combos |= 1u << CB_LEADER_CRASH_MEMBERSHIP;
			c->leader = 0;
		}
		if (c->partitions > 0)
			c->combos |= 1u << CB_CRASH_IN_PARTITION;
		if (node && node <= c->sc->cluster.nodes) {
			/* the same node hit again: what correlated chains aim at */
			if (c->node_paused[node] && c->running[node])
				c->combos |= 1u << CB_PAUSED_HOLDER_CRASH;
			if (c->restarted_at[node] >= 0 && t - c->restarted_at[node] <= AU_NS_PER_S)
				c->combos |= 1u << CB_CRASH_AFTER_RESTART;
			if (c->left[node])
				c->combos |= 1u << CB_LEFT_CRASH;
			if (c->draining[node])
				c->combos |= 1u << CB_DRAINED_CRASH;
			if (c->clock_off[node])
				c->combos |= 1u << CB_SKEWED_CRASH;
		}
		if (node <= c->sc->cluster.nodes && c->node_paused[node]) {
			c->node_paused[node] = 0;
			c->paused--;
		}
		c->down++;
		if (node && node <= c->sc->cluster.nodes)
			c->running[node] = 0;
		break;
	case AU_TR_NODE_RESTART:
		c->down--;
		if (node && node <= c->sc->cluster.nodes) {
			c->restarted_at[node] = t;
			c->left[node] = 0;
		}
		break;
	case AU_TR_NODE_PAUSE:
		if (node == c->leader && node)
			c->combos |= 1u << CB_LEADER_PAUSED;
		if (node <= c->sc->cluster.nodes && !c->node_paused[node]) {
			c->node_paused[node] = 1;
			c->paused++;
		}
		break;
	case AU_TR_NODE_RESUME:
		if (node <= c->sc->cluster.nodes && c->node_paused[node]) {
			c->node_paused[node] = 0;
			c->paused--;
		}
		break;
	case AU_TR_CLOCK_SKEW:
		if (node == c->leader && node && (a || b))
			c->combos |= 1u << CB_LEADER_SKEWED;
		/* a jump stays, and so does what a drift added */
		if (node && node <= c->sc->cluster.nodes && (a || b))
			c->clock_off[node] = 1;
		if (node && node <= c->sc->cluster.nodes && c->running[node] && c->lease &&
		    (a >= c->lease || a <= -c->lease))
			c->combos |= 1u << CB_HOLDER_SKEWED;
		break;
	case AU_TR_PARTITION_START:
		c->partitions++;
		if (c->leader && a >= 0 && (uint64_t)a < c->sc->n_faults &&
		    leader_in_minority(c, &c->sc->faults[a]))
			c->combos |= 1u << CB_LEADER_MINORITY;
		break;
	case AU_TR_PARTITION_END:
		c->partitions--;
		break;
	case AU_TR_LINK_FAULT_START:
		c->links++;
		break;
	case AU_TR_LINK_FAULT_END:
		c->links--;
		break;
	case AU_TR_DISK_FAULT_START:
		if (b != AU_DISK_CORRUPT) /* a flipped bit has no end */
			c->disks++;
		break;
	case AU_TR_DISK_FAULT_END:
		c->disks--;
		break;
	case AU_TR_DISK_CRASH:
		if (b > 0)
			c->combos |= 1u << CB_TORN_WRITE;
		if (cc > 0)
			c->combos |= 1u << CB_LOST_WRITE;
		break;
	case AU_TR_ADMIN:
		if (a >= 0 && (uint64_t)a < c->sc->n_faults) {
			enum au_fault_action act = c->sc->faults[a].action;
			if ((act == AU_FAULT_ADD_VOTER || act == AU_FAULT_REMOVE_VOTER) && node &&
			    node == c->leader && !c->leader_committed)
				c->combos |= 1u << CB_CHANGE_BEFORE_COMMIT;
			/* leave: traced by the node that left; drain: by the
			 * leader, once when it starts and once when it ends */
			au_node_id who = b > 0 && (uint64_t)b <= c->sc->cluster.nodes ? (au_node_id)b : 0;
			if (act == AU_FAULT_LEAVE && who && cc == 0)
				c->left[who] = 1;
			if (act == AU_FAULT_DRAIN && who)
				c->draining[who] = !c->admin_seen[a] && cc == 0;
			c->admin_seen[a] = 1;
			if (cc != 0)
				c->admin_failed[a] = 1;
			else if (act == AU_FAULT_ADD_VOTER || act == AU_FAULT_REMOVE_VOTER) {
				c->combos |= 1u << CB_MEMBERSHIP_CHANGE;
				c->change_pending = true;
				c->change_leader = node;
				c->change_index = 0;
			}
		}
		break;
	case AU_TR_RAFT_CONFIG:
		if (c->change_pending && node == c->change_leader && c->change_index == 0)
			c->change_index = a;
		break;
	case AU_TR_RAFT_COMMIT:
		if (node == c->leader && b == c->leader_term)
			c->leader_committed = true;
		if (c->change_pending && c->change_index > 0 && a >= c->change_index)
			c->change_pending = false;
		break;
	case AU_TR_RAFT_TRANSFER:
		if (cc == 0)
			c->combos |= 1u << CB_TRANSFER;
		break;
	case AU_TR_RAFT_INSTALL:
		c->combos |= 1u << CB_SNAPSHOT_INSTALL;
		break;
	case AU_TR_RAFT_BAD_DISK:
		c->combos |= 1u << (a == 5 ? CB_UNREADABLE_BOOT : CB_BAD_DISK_RECORD);
		break;
	default:
		observe_exec(c, node, kind, a, b, cc);
		break;
	}
	if (lasting(c) >= 2)
		c->combos |= 1u << CB_OVERLAPPING_FAULTS;
}

struct au_chaos_cov *au_chaos_cov_new(const struct au_scenario *sc)
{
	struct au_chaos_cov *c = g_new0(struct au_chaos_cov, 1);
	c->sc = sc;
	c->node_paused = g_new0(uint8_t, (gsize)sc->cluster.nodes + 1);
	c->admin_failed = g_new0(uint8_t, sc->n_faults ? sc->n_faults : 1);
	c->admin_seen = g_new0(uint8_t, sc->n_faults ? sc->n_faults : 1);
	c->restarted_at = g_new(au_time, (gsize)sc->cluster.nodes + 1);
	for (uint32_t i = 0; i <= sc->cluster.nodes; i++)
		c->restarted_at[i] = -1;
	c->left = g_new0(uint8_t, (gsize)sc->cluster.nodes + 1);
	c->draining = g_new0(uint8_t, (gsize)sc->cluster.nodes + 1);
	c->clock_off = g_new0(uint8_t, (gsize)sc->cluster.nodes + 1);
	c->granted = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	c->acked = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	c->running = g_new0(uint32_t, (gsize)sc->cluster.nodes + 1);
	c->lease = exec_lease(sc);
	c->voters = g_new0(struct voter, (gsize)sc->cluster.nodes + 1);
	return c;
}

void au_chaos_cov_free(struct au_chaos_cov *c)
{
	g_free(c->node_paused);
	g_free(c->admin_failed);
	g_free(c->admin_seen);
	g_free(c->restarted_at);
	g_free(c->left);
	g_free(c->draining);
	g_free(c->clock_off);
	g_hash_table_destroy(c->granted);
	g_hash_table_destroy(c->acked);
	g_free(c->running);
	g_free(c->voters);
	g_free(c);
}

uint32_t au_chaos_cov_combos(const struct au_chaos_cov *c)
{
	return c->combos;
}

bool au_chaos_cov_admin_failed(const struct au_chaos_cov *c, uint32_t idx)
{
	return c->admin_failed[idx];
}

static bool runs_service(const struct au_scenario *sc, const char *name)
{
	return au_cluster_spec_runs(&sc->cluster, name);
}

bool au_chaos_combo_listed(const struct au_scenario *sc, int c)
{
	return (runs_service(sc, "raft") || !(RAFT_COMBOS & (1u << c))) &&
	       (exec_lease(sc) || !(EXEC_COMBOS & (1u << c))) &&
	       (runs_service(sc, "swim") || !(SWIM_COMBOS & (1u << c)));
}
