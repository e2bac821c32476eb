/* kinds.c — the fault kinds of chaos plans: their names, what one incident
 * of each costs against [chaos] max_faults, which kinds a scenario's
 * services make meaningful, and which a sweep uses by default.
 */
#include "chaos_internal.h"

#include <string.h>

#include "orchestrator/orchestrator.h"

static const char *const kind_names[AU_CK_COUNT_] = {
	[AU_CK_CRASH] = "crash",
	[AU_CK_PARTITION] = "partition",
	[AU_CK_PARTITION_ONEWAY] = "partition_oneway",
	[AU_CK_CLOG] = "clog",
	[AU_CK_LOSS] = "loss",
	[AU_CK_DUPLICATE] = "duplicate",
	[AU_CK_CORRUPT] = "corrupt",
	[AU_CK_PAUSE] = "pause",
	[AU_CK_SKEW] = "skew",
	[AU_CK_TORN_WRITE] = "torn_write",
	[AU_CK_SLOW_SYNC] = "slow_sync",
	[AU_CK_READ_ERROR] = "read_error",
	[AU_CK_DISK_CORRUPT] = "disk_corrupt",
	[AU_CK_TRANSFER_LEADER] = "transfer_leader",
	[AU_CK_ADD_VOTER] = "add_voter",
	[AU_CK_REMOVE_VOTER] = "remove_voter",
	[AU_CK_ELECTION_CHURN] = "election_churn",
	[AU_CK_LEAVE] = "leave",
	[AU_CK_DRAIN] = "drain",
	[AU_CK_HOLDER_PAUSE] = "holder_pause",
	[AU_CK_HOLDER_CRASH] = "holder_crash",
	[AU_CK_HOLDER_SKEW] = "holder_skew",
	[AU_CK_LOCK_PAUSE] = "lock_pause",
	[AU_CK_CONFIG_RACE] = "config_race",
	[AU_CK_SPLIT_VOTE] = "split_vote",
	[AU_CK_FIGURE8] = "figure8",
	[AU_CK_DISK_FULL] = "disk_full",
	[AU_CK_WRITE_ERROR] = "write_error",
	[AU_CK_SYNC_ERROR] = "sync_error",
};
_Static_assert(AU_CK_COUNT_ <= 32, "kinds are bits of a uint32_t");

/* One line each, for `aureon-sim list kinds` (docs/chaos.md has more). */
static const char *const kind_about[AU_CK_COUNT_] = {
	[AU_CK_CRASH] = "a node crashes (volatile state lost) and restarts after the fault's length",
	[AU_CK_PARTITION] = "the nodes split into groups that cannot talk, for a while",
	[AU_CK_PARTITION_ONEWAY] = "a partition that cuts one direction only",
	[AU_CK_CLOG] = "a node's or a link's messages delayed (or held) for a while",
	[AU_CK_LOSS] = "bursts of message loss on a node or a link",
	[AU_CK_DUPLICATE] = "bursts of duplicated messages on a node or a link",
	[AU_CK_CORRUPT] = "bursts of payload bit flips on a node or a link",
	[AU_CK_PAUSE] = "a stop-the-world pause: nothing runs on the node, timers wait",
	[AU_CK_SKEW] = "a clock jump (1 ms..1 s) and/or drift (1..100,000 ppm)",
	[AU_CK_TORN_WRITE] = "slow syncs on a node, then its crash: unsynced writes kept, torn or lost",
	[AU_CK_SLOW_SYNC] = "disk_fault slow_sync on a node",
	[AU_CK_READ_ERROR] = "a crash, and a disk that cannot be read at the restart",
	[AU_CK_DISK_CORRUPT] = "disk_fault corrupt: one bit of a synced sector flips (not in default)",
	[AU_CK_TRANSFER_LEADER] = "Raft: the leader hands over to another node",
	[AU_CK_ADD_VOTER] = "Raft: a voter is added to the configuration",
	[AU_CK_REMOVE_VOTER] = "Raft: a voter is removed from the configuration",
	[AU_CK_ELECTION_CHURN] = "Raft: crashes timed against an election or a membership change in flight",
	[AU_CK_LEAVE] = "SWIM: a node leaves gracefully",
	[AU_CK_DRAIN] = "execution layer: a node gets no new tasks for a while",
	[AU_CK_HOLDER_PAUSE] = "execution layer: a lease holder paused around or past its lease",
	[AU_CK_HOLDER_CRASH] = "execution layer: a lease holder crashes (for a while or for good)",
	[AU_CK_HOLDER_SKEW] = "execution layer: a lease holder's clock off by more than a lease",
	[AU_CK_LOCK_PAUSE] = "execution layer: a lock holder paused past its lock's TTL",
	[AU_CK_CONFIG_RACE] = "Raft: two leaders' membership changes race",
	[AU_CK_SPLIT_VOTE] = "Raft: two candidates of one term, one voter asked by both",
	[AU_CK_FIGURE8] = "Raft: an old term's entry on a majority, then overwritten (Figure 8)",
	[AU_CK_DISK_FULL] = "a node's disk fills up for a while",
	[AU_CK_WRITE_ERROR] = "a node's writes fail with I/O errors (all or a share)",
	[AU_CK_SYNC_ERROR] = "a node's syncs fail (all or a share), as Linux reports them",
};

const char *au_chaos_kind_about(enum au_chaos_kind k)
{
	return (unsigned)k < AU_CK_COUNT_ ? kind_about[k] : "?";
}

#define RAFT_KINDS                                                                     \
	((1u << AU_CK_TRANSFER_LEADER) | (1u << AU_CK_ADD_VOTER) | (1u << AU_CK_REMOVE_VOTER) | \
	 (1u << AU_CK_ELECTION_CHURN) | RAFT_ORDER_KINDS)
#define EXEC_KINDS                                                                     \
	((1u << AU_CK_DRAIN) | (1u << AU_CK_HOLDER_PAUSE) | (1u << AU_CK_HOLDER_CRASH) |        \
	 (1u << AU_CK_HOLDER_SKEW) | (1u << AU_CK_LOCK_PAUSE))
/* Kinds that each play one Raft order of events with fixed roles (below). */
#define RAFT_ORDER_KINDS \
	((1u << AU_CK_CONFIG_RACE) | (1u << AU_CK_SPLIT_VOTE) | (1u << AU_CK_FIGURE8))
#define ALL_KINDS ((1u << AU_CK_COUNT_) - 1u)

const char *au_chaos_kind_name(enum au_chaos_kind k)
{
	return (unsigned)k < AU_CK_COUNT_ ? kind_names[k] : "?";
}

int au_chaos_kind_from_name(const char *name)
{
	for (int k = 0; k < AU_CK_COUNT_; k++)
		if (strcmp(kind_names[k], name) == 0)
			return k;
	return -1;
}

char *au_chaos_kind_list(uint32_t mask)
{
	GString *s = g_string_new(NULL);
	for (int k = 0; k < AU_CK_COUNT_; k++)
		if (mask & (1u << k))
			g_string_append_printf(s, "%s%s", s->len ? ", " : "", kind_names[k]);
	return g_string_free(s, FALSE);
}

uint32_t au_chaos_kind_min_faults(enum au_chaos_kind k)
{
	switch (k) {
	case AU_CK_TORN_WRITE:
	case AU_CK_READ_ERROR:
		return 2;
	case AU_CK_CONFIG_RACE:
		return 10;
	case AU_CK_SPLIT_VOTE:
		return 6;
	case AU_CK_FIGURE8:
		return 17;
	default:
		return 1;
	}
}

bool au_chaos_kind_is_order(enum au_chaos_kind k)
{
	return (unsigned)k < AU_CK_COUNT_ && (RAFT_ORDER_KINDS & (1u << k));
}

uint32_t au_chaos_kind_charge(enum au_chaos_kind k)
{
	return au_chaos_kind_is_order(k) ? 1 : au_chaos_kind_min_faults(k);
}

static bool runs_service(const struct au_scenario *sc, const char *name)
{
	return au_cluster_spec_runs(&sc->cluster, name);
}

const struct au_orch_config *au_chaos_orch_config(const struct au_scenario *sc)
{
	for (uint32_t i = 0; i < sc->cluster.n_services; i++)
		if (strcmp(sc->cluster.services[i]->name, "aureon") == 0)
			return sc->cluster.service_config[i];
	return NULL;
}

uint32_t au_chaos_supported_kinds(const struct au_scenario *sc)
{
	uint32_t k = ALL_KINDS & ~RAFT_KINDS & ~(1u << AU_CK_LEAVE) & ~EXEC_KINDS;
	if (runs_service(sc, "raft"))
		k |= RAFT_KINDS;
	if (runs_service(sc, "swim"))
		k |= 1u << AU_CK_LEAVE;
	if (runs_service(sc, "raft") && runs_service(sc, "aureon")) {
		const struct au_orch_config *oc = au_chaos_orch_config(sc);
		k |= EXEC_KINDS & ~(1u << AU_CK_LOCK_PAUSE);
		if (oc && oc->lock_keys > 0)
			k |= 1u << AU_CK_LOCK_PAUSE;
	}
	return k;
}

uint32_t au_chaos_default_kinds(const struct au_scenario *sc)
{
	return au_chaos_supported_kinds(sc) &
	       ~((1u << AU_CK_READ_ERROR) | (1u << AU_CK_DISK_CORRUPT));
}

int au_chaos_fault_kind(const char *fault_name)
{
	if (!g_str_has_prefix(fault_name, "chaos-"))
		return -1;
	const char *p = fault_name + strlen("chaos-");
	while (g_ascii_isdigit(*p))
		p++;
	if (*p != '-')
		return -1;
	p++;
	size_t len = strcspn(p, "-");
	for (int k = 0; k < AU_CK_COUNT_; k++)
		if (strlen(kind_names[k]) == len && strncmp(kind_names[k], p, len) == 0)
			return k;
	return -1;
}
