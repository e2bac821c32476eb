/* cluster.h — the cluster file aureon-node and aureon-ctl read.
 *
 * A cluster file is a scenario file cut down to what a real deployment
 * needs: [cluster] (nodes, services) and one group per service ([raft],
 * [swim], ...) parsed by the very same loader as scenarios (sim/scenario.c,
 * through each model's own key table), plus three groups of its own:
 *
 *   [hosts]  n1 = 127.0.0.1:7001    UDP address of every node (required)
 *   [http]   n1 = 127.0.0.1:8001    HTTP endpoints (optional, per node)
 *   [auth]   key_file = cluster.key the cluster key, relative to this file
 *
 * Simulation-only groups ([run], [network], [disk], [check], [trace],
 * [fault.*]) are errors here.  Every error names the file, group and key.
 */
#ifndef AU_SHIM_CLUSTER_H
#define AU_SHIM_CLUSTER_H

#include <gio/gio.h>
#include <stdint.h>

#include "../sim/scenario.h"

struct au_cluster {
	char *path;
	struct au_scenario *sc; /* nodes, services and their configs */
	uint32_t nodes;
	GInetSocketAddress **host; /* [nodes + 1]: UDP address of n1..nN */
	char **host_text;          /* [nodes + 1]: as written */
	GInetSocketAddress **http; /* [nodes + 1]: NULL where none is configured */
	char **http_text;
	char *key_path;
	uint8_t *key;
	size_t key_len;
};

/* Load and validate a cluster file, the key file included.  On error
 * returns NULL and sets *err to "FILE: [group] key: what" (caller frees). */
struct au_cluster *au_cluster_load(const char *path, char **err);
void au_cluster_free(struct au_cluster *c);

/* Parse "host:port" or "[v6addr]:port" (host: an IP literal or a name,
 * resolved now).  NULL with *why set on failure. */
GInetSocketAddress *au_cluster_parse_addr(const char *text, char **why);

#endif
