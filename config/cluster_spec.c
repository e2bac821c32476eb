/* cluster_spec.c — [cluster] and the services' groups (see cluster_spec.h). */
#include "config/cluster_spec.h"

#include <glib.h>
#include <string.h>

#include "config/registry.h"
#include "config/values.h"

/* A capability list "gpu,ssd" (or "none") as bits, naming new capabilities
 * in order of first appearance. */
static bool parse_caps(struct au_keys *K, struct au_cluster_spec *cc, const char *key,
		       const char *text, uint32_t *bits)
{
	*bits = 0;
	if (strcmp(text, "none") == 0)
		return true;
	g_auto(GStrv) names = g_strsplit(text, ",", -1);
	for (gsize i = 0; names[i]; i++) {
		char *name = g_strstrip(names[i]);
		size_t len = strlen(name);
		bool ok = len > 0 && len <= 32 && strcmp(name, "none") != 0;
		for (size_t j = 0; ok && j < len; j++)
			ok = g_ascii_islower(name[j]) || g_ascii_isdigit(name[j]) || name[j] == '_' ||
			     name[j] == '-';
		if (!ok)
			return au_keys_fail(K, "cluster", key, "'%s': '%s' is not a capability name (1..32 of "
							       "a-z, 0-9, _ and -; not 'none')", text, name);
		int bit = au_strv_index(cc->cap_names, name);
		if (bit < 0) {
			guint n = cc->cap_names ? g_strv_length(cc->cap_names) : 0;
			if (n == AU_MAX_CAPS)
				return au_keys_fail(K, "cluster", key, "more than %u distinct capabilities",
						    AU_MAX_CAPS);
			cc->cap_names = g_renew(char *, cc->cap_names, n + 2);
			cc->cap_names[n] = g_strdup(name);
			cc->cap_names[n + 1] = NULL;
			bit = (int)n;
		}
		if (*bits & (UINT32_C(1) << bit))
			return au_keys_fail(K, "cluster", key, "'%s': capability '%s' listed twice", text,
					    name);
		*bits |= UINT32_C(1) << bit;
	}
	return true;
}

/* [cluster] capabilities (every node) and capabilities.nK (that node
 * instead). */
static bool load_caps(struct au_keys *K, struct au_cluster_spec *cc)
{
	uint32_t dflt = 0;
	cc->node_caps = g_new0(uint32_t, (gsize)cc->nodes + 1);
	g_autofree char *caps = au_keys_value(K, "cluster", "capabilities");
	if (caps && !parse_caps(K, cc, "capabilities", caps, &dflt))
		return false;
	for (uint32_t i = 1; i <= cc->nodes; i++)
		cc->node_caps[i] = dflt;
	g_auto(GStrv) keys_here = g_key_file_get_keys(K->kf, "cluster", NULL, NULL);
	for (gsize i = 0; keys_here && keys_here[i]; i++) {
		if (!g_str_has_prefix(keys_here[i], "capabilities."))
			continue;
		au_node_id node;
		if (!au_parse_node(keys_here[i] + strlen("capabilities."), cc->nodes, &node))
			return au_keys_fail(K, "cluster", keys_here[i],
					    "capabilities.nK needs a node of this cluster (n1..n%u)",
					    cc->nodes);
		g_autofree char *v = au_keys_value(K, "cluster", keys_here[i]);
		if (!parse_caps(K, cc, keys_here[i], v, &cc->node_caps[node]))
			return false;
	}
	return true;
}

/* [cluster] keys beyond the fixed ones: cpu_gflops per node (nK) and
 * capabilities per node (capabilities.nK), both checked by the loader. */
static bool per_node_key(const char *key)
{
	return (key[0] == 'n' && g_ascii_isdigit(key[1])) || g_str_has_prefix(key, "capabilities.");
}

bool au_cluster_spec_load(struct au_keys *K, struct au_cluster_spec *cc)
{
	static const char *const keys[] = {"nodes", "services", "cpu_gflops", "capabilities", NULL};
	if (!g_key_file_has_group(K->kf, "cluster"))
		return au_keys_fail(K, "cluster", NULL, "missing group (needs nodes and services)");
	if (!au_keys_only(K, "cluster", keys, per_node_key))
		return false;
	g_autofree char *nodes = au_keys_value(K, "cluster", "nodes");
	uint64_t n;
	if (!nodes)
		return au_keys_fail(K, "cluster", "nodes", "missing (number of nodes, 1..%u)",
				    AU_MAX_NODES);
	if (!au_parse_u64(nodes, &n) || n < 1 || n > AU_MAX_NODES)
		return au_keys_fail(K, "cluster", "nodes", "'%s' is not a node count in 1..%u", nodes,
				    AU_MAX_NODES);
	cc->nodes = (uint32_t)n;
	g_autofree char *services = au_keys_value(K, "cluster", "services");
	if (!services || !*services)
		return au_keys_fail(K, "cluster", "services", "missing (e.g. services = ping)");
	g_auto(GStrv) names = g_strsplit(services, ",", -1);
	for (gsize i = 0; names[i]; i++) {
		g_strstrip(names[i]);
		const struct au_model *m = au_registry_find(names[i]);
		if (!m) {
			g_autofree char *known = au_registry_names();
			return au_keys_fail(K, "cluster", "services",
					    "unknown service '%s' (this build has: %s)", names[i], known);
		}
		for (uint32_t j = 0; j < cc->n_services; j++)
			if (cc->services[j] == m)
				return au_keys_fail(K, "cluster", "services", "service '%s' listed twice",
						    names[i]);
		if (cc->n_services == AU_MAX_SERVICES)
			return au_keys_fail(K, "cluster", "services", "more than %u services",
					    AU_MAX_SERVICES);
		cc->services[cc->n_services++] = m;
	}
	/* aureon finds swim (optional) on its node at boot: it must start
	 * first, or aureon would silently run without it.  (raft: `needs`.) */
	for (uint32_t i = 0; i < cc->n_services; i++) {
		if (strcmp(cc->services[i]->name, "aureon") != 0)
			continue;
		for (uint32_t j = i + 1; j < cc->n_services; j++)
			if (strcmp(cc->services[j]->name, "swim") == 0)
				return au_keys_fail(K, "cluster", "services",
						    "list swim before aureon (it starts first and "
						    "aureon uses it)");
	}
	cc->cpu_gflops_default = 10.0;
	g_autofree char *gf = au_keys_value(K, "cluster", "cpu_gflops");
	if (gf && (!au_parse_double(gf, &cc->cpu_gflops_default) || cc->cpu_gflops_default <= 0))
		return au_keys_fail(K, "cluster", "cpu_gflops", "'%s' is not a positive number", gf);
	cc->cpu_gflops = g_new(double, (gsize)cc->nodes + 1);
	for (uint32_t i = 0; i <= cc->nodes; i++)
		cc->cpu_gflops[i] = cc->cpu_gflops_default;
	g_auto(GStrv) keys_here = g_key_file_get_keys(K->kf, "cluster", NULL, NULL);
	for (gsize i = 0; keys_here && keys_here[i]; i++) {
		if (keys_here[i][0] != 'n' || !g_ascii_isdigit(keys_here[i][1]))
			continue;
		au_node_id node;
		if (!au_parse_node(keys_here[i], cc->nodes, &node))
			return au_keys_fail(K, "cluster", keys_here[i],
					    "not a node of this cluster (n1..n%u)", cc->nodes);
		g_autofree char *v = au_keys_value(K, "cluster", keys_here[i]);
		if (!au_parse_double(v, &cc->cpu_gflops[node]) || cc->cpu_gflops[node] <= 0)
			return au_keys_fail(K, "cluster", keys_here[i],
					    "'%s' is not a positive cpu_gflops for this node", v);
	}
	return load_caps(K, cc);
}

bool au_cluster_spec_runs(const struct au_cluster_spec *cc, const char *name)
{
	for (uint32_t i = 0; i < cc->n_services; i++)
		if (strcmp(cc->services[i]->name, name) == 0)
			return true;
	return false;
}

int au_cluster_spec_service_group(struct au_keys *K, const struct au_cluster_spec *cc,
				  const char *group)
{
	for (uint32_t s = 0; s < cc->n_services; s++) {
		const char *cg = cc->services[s]->config_group;
		const char *eg = cc->services[s]->extra_group;
		if ((cg && strcmp(cg, group) == 0) || (eg && strcmp(eg, group) == 0))
			return 1;
	}
	const struct au_model *owner = au_registry_group_owner(group);
	if (!owner)
		return 0;
	au_keys_fail(K, group, NULL, "configures service %s, which is not in [cluster] services",
		     owner->name);
	return -1;
}

/* Every key that running models read from `group` (their own group or
 * their extra one), NULL-terminated in `names` (at most max-1). */
static size_t group_keys(const struct au_cluster_spec *cc, const char *group, const char **names,
			 size_t max)
{
	size_t n = 0;
	for (uint32_t i = 0; i < cc->n_services; i++) {
		const struct au_model *m = cc->services[i];
		const struct au_config_key *sets[2] = {
			m->config_group && strcmp(m->config_group, group) == 0 ? m->config_keys : NULL,
			m->extra_group && strcmp(m->extra_group, group) == 0 ? m->extra_keys : NULL};
		for (int j = 0; j < 2; j++)
			for (const struct au_config_key *k = sets[j]; k && k->name && n + 1 < max; k++)
				names[n++] = k->name;
	}
	names[n] = NULL;
	return n;
}

/* Reject keys of a group no running model reads; a key that belongs to a
 * model the cluster does not run is named as such. */
static bool check_group_keys(struct au_keys *K, const struct au_cluster_spec *cc,
			     const char *group)
{
	const char *names[256];
	group_keys(cc, group, names, G_N_ELEMENTS(names));
	g_auto(GStrv) keys = g_key_file_get_keys(K->kf, group, NULL, NULL);
	for (gsize i = 0; keys && keys[i]; i++) {
		bool ok = false;
		for (const char *const *a = names; *a; a++)
			ok = ok || strcmp(keys[i], *a) == 0;
		if (ok)
			continue;
		const struct au_model *owner = au_registry_key_owner(group, keys[i]);
		if (owner)
			return au_keys_fail(K, group, keys[i],
					    "configures service %s, which is not in [cluster] services",
					    owner->name);
		return au_keys_only(K, group, names, NULL);
	}
	return true;
}

/* One of a model's groups, [ping], [raft], ...: its keys are checked, then
 * parsed through the model's own key table. */
static bool load_group(struct au_keys *K, const struct au_cluster_spec *cc, const char *group,
		       const struct au_config_key *keys, void *cfg)
{
	if (g_key_file_has_group(K->kf, group) && !check_group_keys(K, cc, group))
		return false;
	const struct au_keys_cluster cl = {cc->nodes, cc->cap_names};
	return au_keys_model(K, group, keys, cfg, &cl);
}

bool au_cluster_spec_load_service(struct au_keys *K, struct au_cluster_spec *cc, uint32_t idx)
{
	const struct au_model *m = cc->services[idx];
	void *cfg = g_malloc0(m->config_size ? m->config_size : 1);
	cc->service_config[idx] = cfg;
	if (m->config_group && !load_group(K, cc, m->config_group, m->config_keys, cfg))
		return false;
	if (m->extra_group && !load_group(K, cc, m->extra_group, m->extra_keys, cfg))
		return false;
	/* The services it needs come before it, and its configuration as a
	 * whole is valid. */
	for (const char *const *need = m->needs; need && *need; need++) {
		bool before = false;
		for (uint32_t j = 0; j < idx; j++)
			before = before || strcmp(cc->services[j]->name, *need) == 0;
		if (!before)
			return au_keys_fail(K, "cluster", "services",
					    "service %s needs %s, listed before it", m->name, *need);
	}
	char err[256] = "";
	if (m->validate && !m->validate(cfg, cc->nodes, err, sizeof(err)))
		return au_keys_fail(K, m->config_group ? m->config_group : "cluster", NULL, "%s", err);
	return true;
}

void au_cluster_spec_clear(struct au_cluster_spec *cc)
{
	for (uint32_t i = 0; i < AU_MAX_SERVICES; i++)
		g_free(cc->service_config[i]);
	g_free(cc->cpu_gflops);
	g_free(cc->node_caps);
	g_strfreev(cc->cap_names);
	memset(cc, 0, sizeof(*cc));
}
