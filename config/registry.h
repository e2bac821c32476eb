/* registry.h — the models this build has, by service name: the one list
 * from which scenario files and cluster files pick their services, and
 * which says whose group or key a name is when it is given out of place.
 */
#ifndef AU_CONFIG_REGISTRY_H
#define AU_CONFIG_REGISTRY_H

#include <stddef.h>

#include "model.h"

/* The model of service `name` ("raft", "ping", ...), or NULL. */
const struct au_model *au_registry_find(const char *name);
/* Every model, in the registry's order: *n of them. */
const struct au_model *const *au_registry_all(size_t *n);
/* "ping, phold, raft, ..." (caller frees). */
char *au_registry_names(void);
/* The model whose own or extra group is `group`, or NULL. */
const struct au_model *au_registry_group_owner(const char *group);
/* The model that declares `key` in `group`, or NULL. */
const struct au_model *au_registry_key_owner(const char *group, const char *key);

#endif
