/* cluster.h — the cluster file aureon-node and aureon-ctl read.
 *
 * A cluster file is a scenario file cut down to what a real deployment
 * needs: [cluster] (nodes, services) and one group per service ([raft],
 * [swim], ...), read by the very code that reads them in scenarios
 * (config/cluster_spec.h, through each model's own key table), plus three
 * groups of its own:
 *
 *   [hosts]  n1 = 127.0.0.1:7001    UDP address of every node (required)
 *   [http]   n1 = 127.0.0.1:8001    HTTP endpoints (optional, per node)
 *   [auth]   key_file = cluster.key the cluster key, relative to this file
 *            quarantine_after = 16, quarantine_for = 5s (identity.h)
 *            identity_file = keys/%n.key  a node's secret key (%n: its name;
 *            relative to this file; default DATA_DIR/identity.key)
 *   [identities] n1 = HEX           every node's public key, or `revoked`
 *            (optional: without it every node uses the cluster key)
 *
 * Simulation-only groups ([run], [network], [disk], [check], [trace],
 * [chaos], [fault.*]) are errors here: a real host has real networks,
 * disks and clocks, no checkers, no trace file and no fault plans.  Every
 * error names the file, group and key.
 */
#ifndef AU_SHIM_CLUSTER_H
#define AU_SHIM_CLUSTER_H

#include <gio/gio.h>
#include <stdint.h>

#include "config/cluster_spec.h"
#include "env.h"
#include "identity.h"

struct au_cluster {
	char *path;
	struct au_cluster_spec spec; /* nodes, services and their configs */
	uint32_t nodes;
	au_time metrics_period; /* of models' metrics rows: 1 s ([trace] is the simulator's) */
	GInetSocketAddress **host; /* [nodes + 1]: UDP address of n1..nN */
	char **host_text;          /* [nodes + 1]: as written */
	GInetSocketAddress **http; /* [nodes + 1]: NULL where none is configured */
	char **http_text;
	char *key_path;
	uint8_t *key;
	size_t key_len;
	struct au_quar_cfg quar;
	char *identity_file; /* [auth] identity_file, made absolute; %n not yet replaced; NULL: none */
	/* [identities]: NULL without the group; else [nodes + 1] public keys
	 * and whether each is revoked. */
	uint8_t (*pub)[AU_IDENT_KEY];
	bool *revoked;
};

/* Load and validate a cluster file, the key file included.  On error
 * returns NULL and sets *err to "FILE: [group] key: what" (caller frees). */
struct au_cluster *au_cluster_load(const char *path, char **err);
void au_cluster_free(struct au_cluster *c);

/* The path of node `id`'s identity secret key per [auth] identity_file
 * (%n replaced by nK), or NULL if the file sets none. */
char *au_cluster_identity_path(const struct au_cluster *c, au_node_id id);

/* Parse "host:port" or "[v6addr]:port" (host: an IP literal or a name,
 * resolved now).  NULL with *why set on failure. */
GInetSocketAddress *au_cluster_parse_addr(const char *text, char **why);

#endif
