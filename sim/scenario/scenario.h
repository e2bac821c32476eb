/* scenario.h — scenario files: what a run is made of.
 *
 * A scenario is a GLib key file (.ini) with [run], [cluster], [network],
 * [disk], one group per model ([ping], ...), one [fault.NAME] group per
 * fault, and the groups of the modules that register with the loader
 * ([check], [trace], [chaos]: au_scenario_register).  The loader validates
 * everything up front: an unknown group or key, a bad unit, a value out of
 * range, a node that does not exist, a malformed distribution or a
 * contradictory fault schedule is an error naming the file, group and key.
 * Nothing falls back silently.  [cluster] and the model groups are read by
 * config/ (cluster_spec.h), the same code that reads aureon-node's cluster
 * files.
 */
#ifndef AU_SCENARIO_H
#define AU_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include "config/cluster_spec.h"
#include "config/keys.h"
#include "config/values.h"
#include "dist.h"
#include "env.h"
#include "model.h"

enum au_target_kind {
	AU_TARGET_NONE,
	AU_TARGET_NODE,   /* nK */
	AU_TARGET_LEADER, /* the Raft leader when the fault fires */
	AU_TARGET_RANDOM, /* drawn from the fault stream when the fault fires */
	AU_TARGET_REST,   /* in partition groups: every node not named elsewhere */
	AU_TARGET_LEASE_HOLDER, /* aureon: a node other than the leader running leased tasks, when the fault fires */
	AU_TARGET_LOCK_HOLDER,  /* aureon: a node whose lock client holds a lock, when the fault fires */
};

struct au_target {
	enum au_target_kind kind;
	au_node_id node; /* AU_TARGET_NODE */
};

enum au_fault_action {
	AU_FAULT_CRASH,
	AU_FAULT_RESTART,
	AU_FAULT_PARTITION,
	AU_FAULT_HEAL,
	AU_FAULT_CLOG,
	AU_FAULT_LOSS,
	AU_FAULT_PAUSE,
	AU_FAULT_RESUME,
	AU_FAULT_SKEW,
	AU_FAULT_DISK,
	AU_FAULT_CORRUPT,
	AU_FAULT_TRANSFER,     /* operator: hand Raft leadership to target */
	AU_FAULT_ADD_VOTER,    /* operator: add target to the Raft configuration */
	AU_FAULT_REMOVE_VOTER, /* operator: remove target from it */
	AU_FAULT_LEAVE,        /* operator: target leaves the SWIM cluster gracefully */
	AU_FAULT_DRAIN,        /* operator: lease no more tasks to target (until: resume it) */
	AU_FAULT_DUPLICATE,    /* extra duplication on links (after the others: traced numbers) */
	AU_FAULT_ACTIONS_
};

enum au_disk_fault_kind {
	AU_DISK_READ_ERROR,
	AU_DISK_CORRUPT,
	AU_DISK_SLOW_SYNC,
	AU_DISK_FULL,        /* no room beyond what the files hold at the start */
	AU_DISK_WRITE_ERROR, /* writes and truncates fail with an I/O error (rate) */
	AU_DISK_SYNC_ERROR,  /* syncs fail with an I/O error (rate) */
};

/* One member of a partition group. */
struct au_group_member {
	struct au_target who;
	uint32_t group; /* 1-based group index */
};

struct au_fault {
	char *name; /* the part after "fault." */
	enum au_fault_action action;
	au_time at;
	au_time until;         /* -1: lasts until the run ends or a heal */
	struct au_target target;
	bool has_link;         /* link = nA-nB instead of target */
	au_node_id link_a, link_b;
	au_time restart_after; /* crash; -1: none */
	struct au_group_member *members; /* partition */
	uint32_t n_members, n_groups;
	bool oneway;
	au_time extra;         /* clog: added delay; -1: hold until the clog ends */
	double rate;           /* loss, corrupt, duplicate: probability per message;
				  disk_fault write_error, sync_error: per operation */
	au_time skew;          /* skew: clock jump */
	int64_t drift_ppm;     /* skew: rate error, parts per million */
	enum au_disk_fault_kind disk_kind;
	au_time slow_extra;    /* disk_fault slow_sync: added sync latency */
	uint32_t file_order;   /* position in the file: tie-break for equal `at` */
};

struct au_scenario {
	char *path;  /* as given */
	char *text;  /* full file text, recorded in traces */
	char *name;  /* [run] name */
	uint64_t seed;
	au_time duration;

	struct au_cluster_spec cluster; /* [cluster] and the services' groups */
	uint32_t clients; /* extra client nodes n(N+1).. asked for by client-side models */

	struct au_dist latency;
	double loss, duplicate;
	uint64_t bandwidth_bps; /* 0: unlimited */

	struct au_dist sync_latency;
	uint64_t disk_capacity; /* [disk] capacity in bytes per node; 0: unbounded */

	struct au_fault *faults; /* sorted by (at, file order) */
	uint32_t n_faults;

	char **invariants; /* NULL-terminated, validated names */
	char **liveness;   /* NULL-terminated, e.g. "leader_within:5s" */
	/* [check] swim_false_deaths_max: live members SWIM may declare dead
	 * outside fault windows before swim_accuracy fails; -1: `auto` (the
	 * default), derived from [network] and [swim] (sim/check/check_swim.c). */
	int64_t swim_false_deaths_max;

	/* [trace] options. */
	bool record_messages;    /* message fates are trace records (hash, checks, file) */
	uint32_t message_sample; /* 0: no message records; 1: all written; K: 1 in K written */
	char **trace_tables;     /* datasets written to the trace file; NULL: all */
	au_time metrics_period;  /* period of /metrics rows for models that keep them */

	/* [chaos] as sim/chaos reads it (defaults when absent); NULL unless
	 * that module is registered.  A plain struct: freed with the scenario. */
	struct au_chaos_config *chaos;
};

/* A group of scenario files that a module outside the loader reads and
 * checks: [check] (sim/check), [trace] (the trace writer), [chaos]
 * (sim/chaos).  Hooks are called in the order they were registered; the
 * groups of hooks not registered are unknown groups. */
struct au_scenario_hook {
	const char *group;
	/* Read the group, or set its defaults when it is absent: after [run],
	 * [cluster], [network] and [disk], before the services' groups.  May be
	 * NULL. */
	bool (*load)(struct au_keys *K, struct au_scenario *sc);
	/* Read or check what depends on the faults, after [fault.*].  May be
	 * NULL. */
	bool (*after_faults)(struct au_keys *K, struct au_scenario *sc);
};

/* Register a module's hook with the loader, once, before the first load
 * (aureon-sim's main and the test runner do, through au_sim_register_all).
 * At most AU_SCENARIO_MAX_HOOKS; registering the same hook again is a no-op. */
#define AU_SCENARIO_MAX_HOOKS 8
void au_scenario_register(const struct au_scenario_hook *hook);

/* Load and validate a scenario file.  On error returns NULL and sets *err
 * to a message "FILE: [group] key: what is wrong" (caller frees). */
struct au_scenario *au_scenario_load(const char *path, char **err);
/* The same from text in memory; `path` only names it in messages. */
struct au_scenario *au_scenario_load_text(const char *path, const char *text, char **err);
void au_scenario_free(struct au_scenario *s);

/* When the scenario's last fault is over: the latest `until`, restart
 * (at + restart_after) or, for one-shot faults, `at`. */
au_time au_scenario_faults_over(const struct au_scenario *sc);

/* The scenario-file name of a fault action ("crash", "partition", ...). */
const char *au_fault_action_name(enum au_fault_action a);
/* The scenario-file name of a disk_fault kind ("read_error", "disk_full", ...). */
const char *au_disk_fault_kind_name(enum au_disk_fault_kind k);

#endif
