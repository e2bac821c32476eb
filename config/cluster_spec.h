/* cluster_spec.h — the [cluster] group and the services' own groups: how
 * many nodes, what each can do (capabilities, cpu_gflops), which services
 * run on every node in which order, and each service's configuration.
 *
 * This is the part of a configuration that a simulation and a real
 * deployment share: aureon-sim's scenario loader and aureon-node's cluster
 * loader both read it through these functions, with the same checks and
 * the same messages.
 */
#ifndef AU_CONFIG_CLUSTER_SPEC_H
#define AU_CONFIG_CLUSTER_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "config/keys.h"
#include "model.h"

#define AU_MAX_NODES 1000000u
#define AU_MAX_SERVICES 8u

struct au_cluster_spec {
	uint32_t nodes;
	uint32_t n_services;
	const struct au_model *services[AU_MAX_SERVICES]; /* in start order */
	void *service_config[AU_MAX_SERVICES]; /* model config structs (owned) */
	double cpu_gflops_default;
	double *cpu_gflops; /* [nodes+1], per node */
	char **cap_names;   /* capability of each bit, NULL-terminated (or NULL: none) */
	uint32_t *node_caps; /* [nodes+1]: capability bits per node */
};

/* Read [cluster] (nodes, services, cpu_gflops, capabilities and their
 * per-node nK / capabilities.nK keys) into `cc`, which starts zeroed. */
bool au_cluster_spec_load(struct au_keys *K, struct au_cluster_spec *cc);
/* Read service `idx`'s group(s) through its model's key table, then check
 * that the services it needs start before it and that its configuration as
 * a whole is valid (the model's validate). */
bool au_cluster_spec_load_service(struct au_keys *K, struct au_cluster_spec *cc, uint32_t idx);
/* Is `group` the group of a running service?  1 yes; 0 no one's (no error
 * recorded: the caller says what groups it knows); -1 it belongs to a
 * model the cluster does not run (an error is recorded on K). */
int au_cluster_spec_service_group(struct au_keys *K, const struct au_cluster_spec *cc,
				  const char *group);
/* Does the cluster run service `name`? */
bool au_cluster_spec_runs(const struct au_cluster_spec *cc, const char *name);
/* Free what `cc` holds (not `cc` itself). */
void au_cluster_spec_clear(struct au_cluster_spec *cc);

#endif
