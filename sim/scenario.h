/* scenario.h — scenario files: what a run is made of.
 *
 * A scenario is a GLib key file (.ini) with [run], [cluster], [network],
 * [disk], [check], one group per model ([ping], ...) and one [fault.NAME]
 * group per fault.  The loader validates everything up front: an unknown
 * group or key, a bad unit, a value out of range, a node that does not
 * exist, a malformed distribution or a contradictory fault schedule is an
 * error naming the file, group and key.  Nothing falls back silently.
 */
#ifndef AU_SCENARIO_H
#define AU_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include "dist.h"
#include "env.h"
#include "model.h"

#define AU_MAX_NODES 1000000u
#define AU_MAX_SERVICES 8u

/* Distributions of durations: struct au_dist (core/dist.h). */

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

/* The fault kinds of chaos plans (sim/chaos.c names them).  A kind is what
 * a sweep enables or not per seed; most map to one fault action, some to a
 * pattern of several (torn_write: slow syncs on a node, then its crash). */
enum au_chaos_kind {
	AU_CK_CRASH,
	AU_CK_PARTITION,
	AU_CK_PARTITION_ONEWAY,
	AU_CK_CLOG,
	AU_CK_LOSS,
	AU_CK_DUPLICATE,
	AU_CK_CORRUPT,
	AU_CK_PAUSE,
	AU_CK_SKEW,
	AU_CK_TORN_WRITE,
	AU_CK_SLOW_SYNC,
	AU_CK_READ_ERROR,
	AU_CK_DISK_CORRUPT,
	AU_CK_TRANSFER_LEADER,
	AU_CK_ADD_VOTER,
	AU_CK_REMOVE_VOTER,
	AU_CK_ELECTION_CHURN,
	AU_CK_LEAVE, /* SWIM: a node leaves gracefully */
	AU_CK_DRAIN, /* execution layer: a node gets no new tasks for a while */
	AU_CK_HOLDER_PAUSE, /* execution layer: a lease holder paused around or past its lease */
	AU_CK_HOLDER_CRASH, /* execution layer: a lease holder crashes (for a while or for good) */
	AU_CK_HOLDER_SKEW,  /* execution layer: a lease holder's clock off by more than a lease */
	AU_CK_LOCK_PAUSE,   /* execution layer: a lock holder paused past its lock's TTL */
	AU_CK_CONFIG_RACE, /* Raft: two leaders' membership changes race (Ongaro 2015) */
	AU_CK_SPLIT_VOTE,  /* Raft: two candidates of one term, one voter asked by both */
	AU_CK_FIGURE8,     /* Raft: an old term's entry on a majority, then overwritten */
	AU_CK_DISK_FULL,   /* a node's disk fills up for a while */
	AU_CK_WRITE_ERROR, /* a node's writes fail with I/O errors (all or a share) */
	AU_CK_SYNC_ERROR,  /* a node's syncs fail (all or a share), as Linux reports them */
	AU_CK_COUNT_
};

enum au_chaos_mode {
	AU_CHAOS_SWARM,        /* each seed enables a random subset of `kinds` */
	AU_CHAOS_UNRESTRICTED, /* every kind, no bounds on count, timing or rates */
};

/* [chaos]: the bounds within which `aureon-sim chaos` generates a fault
 * plan per seed.  Ignored by `run`. */
struct au_chaos_config {
	bool present;          /* the file has a [chaos] group */
	enum au_chaos_mode mode;
	uint32_t max_faults;   /* fault groups per plan, at most */
	uint32_t kinds;        /* bit (1 << enum au_chaos_kind) per allowed kind */
	au_time start;         /* no generated fault before this */
	au_time quiet_period;  /* fault-free end of the run (room for liveness checks) */
	au_time fault_lo_ns, fault_hi_ns; /* length of a lasting fault */
	double max_rate;       /* loss, duplicate, corrupt rates drawn up to this */
	double correlated;     /* chance that a node fault is the start of a correlated
				* chain: the same node hit again (crashed) soon after */
};

struct au_scenario {
	char *path;  /* as given */
	char *text;  /* full file text, recorded in traces */
	char *name;  /* [run] name */
	uint64_t seed;
	au_time duration;

	uint32_t nodes;
	uint32_t clients; /* extra client nodes n(N+1).. asked for by client-side models */
	uint32_t n_services;
	const struct au_model *services[AU_MAX_SERVICES];
	void *service_config[AU_MAX_SERVICES]; /* model config structs */
	double cpu_gflops_default;
	double *cpu_gflops; /* [nodes+1], per node */
	char **cap_names;   /* capability of each bit, NULL-terminated (or NULL: none) */
	uint32_t *node_caps; /* [nodes+1]: capability bits per node */

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
	 * default), derived from [network] and [swim] (sim/check_swim.c). */
	int64_t swim_false_deaths_max;

	/* [trace] options. */
	bool record_messages;    /* message fates are trace records (hash, checks, file) */
	uint32_t message_sample; /* 0: no message records; 1: all written; K: 1 in K written */
	char **trace_tables;     /* datasets written to the trace file; NULL: all */
	au_time metrics_period;  /* period of /metrics rows for models that keep them */

	struct au_chaos_config chaos; /* [chaos] (defaults when absent) */
};

/* The models a scenario may name in `services`. */
const struct au_model *au_scenario_find_model(const char *name);

/* Load and validate a scenario file.  On error returns NULL and sets *err
 * to a message "FILE: [group] key: what is wrong" (caller frees). */
struct au_scenario *au_scenario_load(const char *path, char **err);
/* The same from text in memory; `path` only names it in messages. */
struct au_scenario *au_scenario_load_text(const char *path, const char *text, char **err);
void au_scenario_free(struct au_scenario *s);

/* When the scenario's last fault is over: the latest `until`, restart
 * (at + restart_after) or, for one-shot faults, `at`. */
au_time au_scenario_faults_over(const struct au_scenario *sc);

/* Parse a duration with a unit ("150ms", "1.5s", "0ns").  Returns false on
 * a missing or unknown unit, a negative value, trailing garbage or
 * overflow. */
bool au_parse_duration(const char *text, au_time *out);
/* Parse a distribution spec ("uniform(1ms,5ms)"); *why says what is wrong. */
bool au_parse_dist(const char *text, struct au_dist *out, const char **why);
/* Parse "nK" for a cluster of `nodes` nodes. */
bool au_parse_node(const char *text, uint32_t nodes, au_node_id *out);
/* Format a duration with the largest exact unit, e.g. "150ms". */
void au_format_duration(au_time t, char *buf, size_t len);
/* The scenario-file name of a fault action ("crash", "partition", ...). */
const char *au_fault_action_name(enum au_fault_action a);
/* The scenario-file name of a disk_fault kind ("read_error", "disk_full", ...). */
const char *au_disk_fault_kind_name(enum au_disk_fault_kind k);

#endif
