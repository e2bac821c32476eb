/* registry.c — the list of models (see registry.h). */
#include "config/registry.h"

#include <glib.h>
#include <string.h>

extern const struct au_model au_ping_model;
extern const struct au_model au_phold_model;
extern const struct au_model au_raft_model;
extern const struct au_model au_kv_model;
extern const struct au_model au_orch_model;
extern const struct au_model au_swim_model;
extern const struct au_model au_one_model;
extern const struct au_model au_blob_model;
extern const struct au_model au_rqml_model;

static const struct au_model *const all_models[] = {&au_ping_model, &au_phold_model,
						    &au_raft_model, &au_kv_model,
						    &au_swim_model, &au_orch_model,
						    &au_blob_model, &au_one_model, &au_rqml_model};

const struct au_model *au_registry_find(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(all_models); i++)
		if (strcmp(all_models[i]->name, name) == 0)
			return all_models[i];
	return NULL;
}

const struct au_model *const *au_registry_all(size_t *n)
{
	*n = G_N_ELEMENTS(all_models);
	return all_models;
}

char *au_registry_names(void)
{
	GString *known = g_string_new(NULL);
	for (size_t k = 0; k < G_N_ELEMENTS(all_models); k++)
		g_string_append_printf(known, "%s%s", k ? ", " : "", all_models[k]->name);
	return g_string_free(known, FALSE);
}

const struct au_model *au_registry_group_owner(const char *group)
{
	for (size_t m = 0; m < G_N_ELEMENTS(all_models); m++) {
		const char *cg = all_models[m]->config_group;
		const char *eg = all_models[m]->extra_group;
		if ((cg && strcmp(cg, group) == 0) || (eg && strcmp(eg, group) == 0))
			return all_models[m];
	}
	return NULL;
}

const struct au_model *au_registry_key_owner(const char *group, const char *key)
{
	for (size_t i = 0; i < G_N_ELEMENTS(all_models); i++) {
		const struct au_model *m = all_models[i];
		const struct au_config_key *sets[2] = {
			m->config_group && strcmp(m->config_group, group) == 0 ? m->config_keys : NULL,
			m->extra_group && strcmp(m->extra_group, group) == 0 ? m->extra_keys : NULL};
		for (int j = 0; j < 2; j++)
			for (const struct au_config_key *k = sets[j]; k && k->name; k++)
				if (strcmp(k->name, key) == 0)
					return m;
	}
	return NULL;
}
