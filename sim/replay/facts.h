/* facts.h — what a merged replay (merge.c) saw of the recorded run, for
 * `aureon-sim replay --to-scenario` (to_scenario.c): each boot's span, the
 * pauses in a node's inputs, every datagram between nodes with its fate,
 * and the KV history rebuilt from the servers.
 */
#ifndef AU_SIM_REPLAY_FACTS_H
#define AU_SIM_REPLAY_FACTS_H

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>

#include "env.h"
#include "kv.h"
#include "sim/replay/reclog_read.h"

/* A gap this long between two inputs of a running node is a pause (the
 * process did not run: SIGSTOP, a VM freeze, a long GC): every model we
 * ship has a timer due far more often. */
#define AU_RF_PAUSE_GAP (1 * AU_NS_PER_S)

struct au_rf_boot {
	au_node_id node;
	au_time start, end;  /* global times of its first and last input */
	bool clean_stop;     /* ended with a stop record */
	bool restarted;      /* the node boots again later */
};

struct au_rf_pause {
	au_node_id node;
	au_time from, to;
};

struct au_rf_send {
	au_time t;          /* global time of the input that sent it */
	au_node_id src, dst;
	bool delivered;
	au_time delay;      /* receive minus send, when delivered */
};

/* A storage operation that failed on a node (its model's MODEL_STORAGE
 * or RAFT_DISK_FAILED trace: op 0 write, 1 truncate, 2 sync; code AU_E*). */
struct au_rf_storage {
	au_node_id node;
	au_time t;
	int op, code;
};

struct au_replay_facts {
	const struct au_rl_boot *first; /* its cluster text is the scenario's */
	au_time span;                   /* the replay's last input */
	GArray *boots;  /* struct au_rf_boot, in start order */
	GArray *pauses; /* struct au_rf_pause */
	GArray *sends;  /* struct au_rf_send, in send order */
	GArray *kv;     /* struct au_kv_history_row, in call order */
	GArray *storage; /* struct au_rf_storage, in time order */
	char *checks;   /* the checks that ran, comma-separated */
};

/* The recorded cluster file as a key file, or NULL with *err. */
GKeyFile *au_rf_cluster_keys(const struct au_rl_boot *b, char **err);
/* Append the groups of `kf` a scenario takes from a cluster file:
 * [cluster], [workload] and the services' own groups (not [hosts],
 * [auth], [http] and the other runtime groups). */
void au_rf_scenario_groups(GString *t, GKeyFile *kf, const struct au_rl_boot *b);

void au_rf_init(struct au_replay_facts *f);
void au_rf_clear(struct au_replay_facts *f);

/* The scenario text (to_scenario.c): the recorded cluster and its
 * services, the faults as they happened, the measured network and a KV
 * load like the recorded one; `dir` names the logs in its header.
 * g_malloc'd, or NULL with *err. */
char *au_rf_scenario(const struct au_replay_facts *f, const char *dir, char **err);

#endif
