/* scenario.c — loading and validating scenario files (GLib key files).
 *
 * Every value is parsed strictly: units are required on durations,
 * trailing garbage is rejected, numbers are range-checked, and every error
 * names the file, the group and the key.  Inline comments (" # ...") after
 * a value are allowed, as in DESIGN.md's examples.
 */
#include "scenario.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "chaos.h"
#include "sim_internal.h"
#include "trace_h5.h"
#include "cli.h"

extern const struct au_model au_ping_model;
extern const struct au_model au_phold_model;
extern const struct au_model au_raft_model;
extern const struct au_model au_kv_model;
extern const struct au_model au_orch_model;
extern const struct au_model au_swim_model;
extern const struct au_model au_one_model;
extern const struct au_model au_rqml_model;

static const struct au_model *const all_models[] = {&au_ping_model, &au_phold_model,
						    &au_raft_model, &au_kv_model,
						    &au_swim_model, &au_orch_model,
						    &au_one_model, &au_rqml_model};

const struct au_model *au_scenario_find_model(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(all_models); i++)
		if (strcmp(all_models[i]->name, name) == 0)
			return all_models[i];
	return NULL;
}

/* ---- value parsers ------------------------------------------------------ */

static const struct {
	const char *name;
	au_time ns;
} time_units[] = {
	{"ns", 1}, {"us", AU_NS_PER_US}, {"ms", AU_NS_PER_MS}, {"s", AU_NS_PER_S},
	{"m", 60 * AU_NS_PER_S}, {"h", 3600 * AU_NS_PER_S},
};

/* Parse a decimal (digits, optional fraction) times `scale`, exactly.
 * The result must be a whole number. */
static bool parse_scaled(const char *num, size_t len, int64_t scale, int64_t *out)
{
	if (len == 0)
		return false;
	int64_t whole = 0, frac = 0, frac_div = 1;
	size_t i = 0;
	bool digits = false;
	for (; i < len && g_ascii_isdigit(num[i]); i++) {
		digits = true;
		if (whole > (INT64_MAX - 9) / 10)
			return false;
		whole = whole * 10 + (num[i] - '0');
	}
	if (i < len && num[i] == '.') {
		i++;
		for (; i < len && g_ascii_isdigit(num[i]); i++) {
			digits = true;
			if (frac_div > INT64_MAX / 10)
				return false;
			frac = frac * 10 + (num[i] - '0');
			frac_div *= 10;
		}
	}
	if (!digits || i != len)
		return false;
	if (whole > INT64_MAX / scale)
		return false;
	int64_t v = whole * scale;
	/* frac * scale / frac_div must be exact. */
	au_i128 f = (au_i128)frac * scale;
	if (f % frac_div != 0)
		return false;
	int64_t fv = (int64_t)(f / frac_div);
	if (v > INT64_MAX - fv)
		return false;
	*out = v + fv;
	return true;
}

bool au_parse_duration(const char *text, au_time *out)
{
	if (!text)
		return false;
	size_t len = strlen(text);
	size_t num_end = 0;
	while (num_end < len && (g_ascii_isdigit(text[num_end]) || text[num_end] == '.'))
		num_end++;
	const char *unit = text + num_end;
	for (size_t u = 0; u < G_N_ELEMENTS(time_units); u++)
		if (strcmp(unit, time_units[u].name) == 0)
			return parse_scaled(text, num_end, time_units[u].ns, out);
	return false;
}

void au_format_duration(au_time t, char *buf, size_t len)
{
	for (size_t u = G_N_ELEMENTS(time_units); u-- > 0;) {
		if (t != 0 && t % time_units[u].ns == 0) {
			g_snprintf(buf, len, "%" G_GINT64_FORMAT "%s", t / time_units[u].ns,
				   time_units[u].name);
			return;
		}
	}
	g_snprintf(buf, len, "%" G_GINT64_FORMAT "ns", t);
}

static bool parse_double(const char *text, double *out)
{
	if (!text || !*text || g_ascii_isspace(text[0]))
		return false;
	char *end;
	errno = 0;
	double v = g_ascii_strtod(text, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

static bool parse_bool(const char *text, bool *out)
{
	if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0 || strcmp(text, "1") == 0) {
		*out = true;
		return true;
	}
	if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0 || strcmp(text, "0") == 0) {
		*out = false;
		return true;
	}
	return false;
}

bool au_parse_node(const char *text, uint32_t nodes, au_node_id *out)
{
	uint64_t v;
	if (!text || text[0] != 'n' || !au_cli_parse_u64(text + 1, &v) || text[1] == '0')
		return false;
	if (v < 1 || v > nodes)
		return false;
	*out = (au_node_id)v;
	return true;
}

/* Split "name(a,b)" into name and arguments. */
bool au_parse_dist(const char *text, struct au_dist *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = "expected const(x), uniform(a,b), normal(mean,sd), lognormal(mean,sd), "
	       "exponential(mean) or exponential(mean,shift), with units on every duration";
	const char *open = strchr(text, '(');
	size_t tl = strlen(text);
	if (!open || tl < 3 || text[tl - 1] != ')')
		return false;
	g_autofree char *name = g_strndup(text, (gsize)(open - text));
	g_autofree char *inner = g_strndup(open + 1, tl - (size_t)(open - text) - 2);
	g_auto(GStrv) args = g_strsplit(inner, ",", -1);
	guint n = g_strv_length(args);
	au_time v[2] = {0, 0};
	if (n < 1 || n > 2)
		return false;
	for (guint i = 0; i < n; i++) {
		g_strstrip(args[i]);
		if (!au_parse_duration(args[i], &v[i])) {
			*why = "a distribution argument is not a duration with a unit (e.g. 5ms)";
			return false;
		}
	}
	if (strcmp(name, "const") == 0 && n == 1) {
		out->kind = AU_DIST_CONST;
		out->p1 = v[0];
	} else if (strcmp(name, "uniform") == 0 && n == 2) {
		if (v[1] < v[0]) {
			*why = "uniform(a,b) needs a <= b";
			return false;
		}
		out->kind = AU_DIST_UNIFORM;
		out->p1 = v[0];
		out->p2 = v[1];
	} else if (strcmp(name, "normal") == 0 && n == 2) {
		out->kind = AU_DIST_NORMAL;
		out->p1 = v[0];
		out->p2 = v[1];
	} else if (strcmp(name, "lognormal") == 0 && n == 2) {
		if (v[0] <= 0) {
			*why = "lognormal(mean,sd) needs mean > 0";
			return false;
		}
		out->kind = AU_DIST_LOGNORMAL;
		out->p1 = v[0];
		out->p2 = v[1];
		double m = (double)v[0], sd = (double)v[1];
		out->sigma = sqrt(log(1.0 + (sd * sd) / (m * m)));
		out->mu = log(m) - out->sigma * out->sigma / 2.0;
	} else if (strcmp(name, "exponential") == 0) {
		out->kind = AU_DIST_EXPONENTIAL;
		out->p1 = v[0];
		out->shift = n == 2 ? v[1] : 0;
	} else {
		return false;
	}
	*why = NULL;
	return true;
}

static bool parse_bandwidth(const char *text, uint64_t *bps)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {{"bit", 1}, {"kbit", 1000}, {"Mbit", 1000000}, {"Gbit", 1000000000}};
	size_t len = strlen(text), i = 0;
	while (i < len && (g_ascii_isdigit(text[i]) || text[i] == '.'))
		i++;
	for (size_t u = 0; u < G_N_ELEMENTS(units); u++) {
		if (strcmp(text + i, units[u].unit) != 0)
			continue;
		int64_t v;
		if (!parse_scaled(text, i, (int64_t)units[u].mult, &v) || v <= 0)
			return false;
		*bps = (uint64_t)v;
		return true;
	}
	return false;
}

/* A size in bytes with a unit: B, KB/MB/GB (powers of 1000) or
 * KiB/MiB/GiB (powers of 1024); fractions allowed (1.5GiB). */
static bool parse_bytes(const char *text, uint64_t *bytes)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = {{"B", 1},          {"KB", 1000},        {"MB", 1000000},
		     {"GB", 1000000000}, {"KiB", 1024},       {"MiB", 1024 * 1024},
		     {"GiB", INT64_C(1024) * 1024 * 1024}};
	size_t len = strlen(text), i = 0;
	while (i < len && (g_ascii_isdigit(text[i]) || text[i] == '.'))
		i++;
	for (size_t u = 0; u < G_N_ELEMENTS(units); u++) {
		if (strcmp(text + i, units[u].unit) != 0)
			continue;
		int64_t v;
		if (!parse_scaled(text, i, units[u].mult, &v) || v <= 0)
			return false;
		*bytes = (uint64_t)v;
		return true;
	}
	return false;
}

static bool has_service(const struct au_scenario *sc, const char *name)
{
	for (uint32_t i = 0; i < sc->n_services; i++)
		if (strcmp(sc->services[i]->name, name) == 0)
			return true;
	return false;
}

/* The bit of capability `name` ([cluster] capabilities), or -1. */
static int cap_bit(const struct au_scenario *sc, const char *name)
{
	for (int i = 0; sc->cap_names && sc->cap_names[i]; i++)
		if (strcmp(sc->cap_names[i], name) == 0)
			return i;
	return -1;
}

/* ---- the loader ---------------------------------------------------------- */

struct loader {
	const char *path;
	GKeyFile *kf;
	struct au_scenario *sc;
	char *err;
};

static bool fail(struct loader *L, const char *group, const char *key, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

static bool fail(struct loader *L, const char *group, const char *key, const char *fmt, ...)
{
	if (L->err)
		return false;
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (group && key)
		L->err = g_strdup_printf("%s: [%s] %s: %s", L->path, group, key, msg);
	else if (group)
		L->err = g_strdup_printf("%s: [%s]: %s", L->path, group, msg);
	else
		L->err = g_strdup_printf("%s: %s", L->path, msg);
	return false;
}

/* The raw value with any inline " # comment" removed; NULL if absent. */
static char *value(struct loader *L, const char *group, const char *key)
{
	char *v = g_key_file_get_value(L->kf, group, key, NULL);
	if (!v)
		return NULL;
	for (char *p = v; *p; p++) {
		if (*p == '#' && (p == v || g_ascii_isspace(p[-1]))) {
			*p = '\0';
			break;
		}
	}
	g_strstrip(v);
	return v;
}

static bool has(struct loader *L, const char *group, const char *key)
{
	return g_key_file_has_key(L->kf, group, key, NULL);
}

static bool get_duration(struct loader *L, const char *g, const char *k, au_time *out,
			 bool required)
{
	g_autofree char *v = value(L, g, k);
	if (!v)
		return required ? fail(L, g, k, "missing (a duration such as 10s)") : true;
	if (!au_parse_duration(v, out))
		return fail(L, g, k, "'%s' is not a duration: a non-negative number with a unit "
				     "ns, us, ms, s, m or h (e.g. 150ms)", v);
	return true;
}

static bool get_prob(struct loader *L, const char *g, const char *k, double *out, bool required)
{
	g_autofree char *v = value(L, g, k);
	if (!v)
		return required ? fail(L, g, k, "missing (a probability between 0 and 1)") : true;
	if (!parse_double(v, out) || *out < 0.0 || *out > 1.0)
		return fail(L, g, k, "'%s' is not a probability between 0 and 1", v);
	return true;
}

static bool get_bool(struct loader *L, const char *g, const char *k, bool *out)
{
	g_autofree char *v = value(L, g, k);
	if (!v)
		return true;
	if (!parse_bool(v, out))
		return fail(L, g, k, "'%s' is not true or false", v);
	return true;
}

/* Reject keys of `group` not in `allowed` (NULL-terminated). */
static bool check_keys(struct loader *L, const char *group, const char *const *allowed,
		       bool allow_node_keys)
{
	g_auto(GStrv) keys = g_key_file_get_keys(L->kf, group, NULL, NULL);
	for (gsize i = 0; keys && keys[i]; i++) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok = ok || strcmp(keys[i], *a) == 0;
		if (!ok && allow_node_keys && keys[i][0] == 'n' && g_ascii_isdigit(keys[i][1]))
			ok = true;
		if (!ok && allow_node_keys && g_str_has_prefix(keys[i], "capabilities."))
			ok = true; /* [cluster] capabilities.nK: checked by load_cluster */
		if (!ok) {
			GString *list = g_string_new(NULL);
			for (const char *const *a = allowed; *a; a++)
				g_string_append_printf(list, "%s%s", list->len ? ", " : "", *a);
			fail(L, group, keys[i], "unknown key (known here: %s)", list->str);
			g_string_free(list, TRUE);
			return false;
		}
	}
	return true;
}

static bool load_run(struct loader *L)
{
	static const char *const keys[] = {"name", "seed", "duration", NULL};
	struct au_scenario *sc = L->sc;
	if (!g_key_file_has_group(L->kf, "run"))
		return fail(L, "run", NULL, "missing group (needs at least duration)");
	if (!check_keys(L, "run", keys, false))
		return false;
	g_autofree char *name = value(L, "run", "name");
	sc->name = name ? g_strdup(name) : g_path_get_basename(L->path);
	g_autofree char *seed = value(L, "run", "seed");
	if (seed && !au_cli_parse_u64(seed, &sc->seed))
		return fail(L, "run", "seed", "'%s' is not a non-negative integer below 2^64", seed);
	if (!get_duration(L, "run", "duration", &sc->duration, true))
		return false;
	if (sc->duration <= 0)
		return fail(L, "run", "duration", "must be longer than 0");
	return true;
}

/* A capability list "gpu,ssd" (or "none") as bits, naming new capabilities
 * in order of first appearance. */
static bool parse_caps(struct loader *L, const char *key, const char *text, uint32_t *bits)
{
	struct au_scenario *sc = L->sc;
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
			return fail(L, "cluster", key, "'%s': '%s' is not a capability name (1..32 of "
						       "a-z, 0-9, _ and -; not 'none')", text, name);
		int bit = cap_bit(sc, name);
		if (bit < 0) {
			guint n = sc->cap_names ? g_strv_length(sc->cap_names) : 0;
			if (n == AU_MAX_CAPS)
				return fail(L, "cluster", key, "more than %u distinct capabilities",
					    AU_MAX_CAPS);
			sc->cap_names = g_renew(char *, sc->cap_names, n + 2);
			sc->cap_names[n] = g_strdup(name);
			sc->cap_names[n + 1] = NULL;
			bit = (int)n;
		}
		if (*bits & (UINT32_C(1) << bit))
			return fail(L, "cluster", key, "'%s': capability '%s' listed twice", text, name);
		*bits |= UINT32_C(1) << bit;
	}
	return true;
}

/* [cluster] capabilities (every node) and capabilities.nK (that node
 * instead). */
static bool load_caps(struct loader *L)
{
	struct au_scenario *sc = L->sc;
	uint32_t dflt = 0;
	sc->node_caps = g_new0(uint32_t, (gsize)sc->nodes + 1);
	g_autofree char *caps = value(L, "cluster", "capabilities");
	if (caps && !parse_caps(L, "capabilities", caps, &dflt))
		return false;
	for (uint32_t i = 1; i <= sc->nodes; i++)
		sc->node_caps[i] = dflt;
	g_auto(GStrv) keys_here = g_key_file_get_keys(L->kf, "cluster", NULL, NULL);
	for (gsize i = 0; keys_here && keys_here[i]; i++) {
		if (!g_str_has_prefix(keys_here[i], "capabilities."))
			continue;
		au_node_id node;
		if (!au_parse_node(keys_here[i] + strlen("capabilities."), sc->nodes, &node))
			return fail(L, "cluster", keys_here[i],
				    "capabilities.nK needs a node of this cluster (n1..n%u)", sc->nodes);
		g_autofree char *v = value(L, "cluster", keys_here[i]);
		if (!parse_caps(L, keys_here[i], v, &sc->node_caps[node]))
			return false;
	}
	return true;
}

static bool load_cluster(struct loader *L)
{
	static const char *const keys[] = {"nodes", "services", "cpu_gflops", "capabilities", NULL};
	struct au_scenario *sc = L->sc;
	if (!g_key_file_has_group(L->kf, "cluster"))
		return fail(L, "cluster", NULL, "missing group (needs nodes and services)");
	if (!check_keys(L, "cluster", keys, true))
		return false;
	g_autofree char *nodes = value(L, "cluster", "nodes");
	uint64_t n;
	if (!nodes)
		return fail(L, "cluster", "nodes", "missing (number of nodes, 1..%u)", AU_MAX_NODES);
	if (!au_cli_parse_u64(nodes, &n) || n < 1 || n > AU_MAX_NODES)
		return fail(L, "cluster", "nodes", "'%s' is not a node count in 1..%u", nodes,
			    AU_MAX_NODES);
	sc->nodes = (uint32_t)n;
	g_autofree char *services = value(L, "cluster", "services");
	if (!services || !*services)
		return fail(L, "cluster", "services", "missing (e.g. services = ping)");
	g_auto(GStrv) names = g_strsplit(services, ",", -1);
	for (gsize i = 0; names[i]; i++) {
		g_strstrip(names[i]);
		const struct au_model *m = au_scenario_find_model(names[i]);
		if (!m) {
			g_autoptr(GString) known = g_string_new(NULL);
			for (size_t k = 0; k < G_N_ELEMENTS(all_models); k++)
				g_string_append_printf(known, "%s%s", k ? ", " : "", all_models[k]->name);
			return fail(L, "cluster", "services", "unknown service '%s' (this build has: %s)",
				    names[i], known->str);
		}
		for (uint32_t j = 0; j < sc->n_services; j++)
			if (sc->services[j] == m)
				return fail(L, "cluster", "services", "service '%s' listed twice",
					    names[i]);
		if (sc->n_services == AU_MAX_SERVICES)
			return fail(L, "cluster", "services", "more than %u services",
				    AU_MAX_SERVICES);
		sc->services[sc->n_services++] = m;
	}
	/* aureon finds swim (optional) on its node at boot: it must start
	 * first, or aureon would silently run without it.  (raft: `needs`.) */
	for (uint32_t i = 0; i < sc->n_services; i++) {
		if (strcmp(sc->services[i]->name, "aureon") != 0)
			continue;
		for (uint32_t j = i + 1; j < sc->n_services; j++)
			if (strcmp(sc->services[j]->name, "swim") == 0)
				return fail(L, "cluster", "services", "list swim before aureon (it starts "
								      "first and aureon uses it)");
	}
	sc->cpu_gflops_default = 10.0;
	g_autofree char *gf = value(L, "cluster", "cpu_gflops");
	if (gf && (!parse_double(gf, &sc->cpu_gflops_default) || sc->cpu_gflops_default <= 0))
		return fail(L, "cluster", "cpu_gflops", "'%s' is not a positive number", gf);
	sc->cpu_gflops = g_new(double, (gsize)sc->nodes + 1);
	for (uint32_t i = 0; i <= sc->nodes; i++)
		sc->cpu_gflops[i] = sc->cpu_gflops_default;
	g_auto(GStrv) keys_here = g_key_file_get_keys(L->kf, "cluster", NULL, NULL);
	for (gsize i = 0; keys_here && keys_here[i]; i++) {
		if (keys_here[i][0] != 'n' || !g_ascii_isdigit(keys_here[i][1]))
			continue;
		au_node_id node;
		if (!au_parse_node(keys_here[i], sc->nodes, &node))
			return fail(L, "cluster", keys_here[i],
				    "not a node of this cluster (n1..n%u)", sc->nodes);
		g_autofree char *v = value(L, "cluster", keys_here[i]);
		if (!parse_double(v, &sc->cpu_gflops[node]) || sc->cpu_gflops[node] <= 0)
			return fail(L, "cluster", keys_here[i],
				    "'%s' is not a positive cpu_gflops for this node", v);
	}
	return load_caps(L);
}

static bool load_network(struct loader *L)
{
	static const char *const keys[] = {"latency", "loss", "duplicate", "bandwidth", NULL};
	struct au_scenario *sc = L->sc;
	const char *why;
	au_parse_dist("uniform(1ms,5ms)", &sc->latency, &why);
	if (!g_key_file_has_group(L->kf, "network"))
		return true;
	if (!check_keys(L, "network", keys, false))
		return false;
	g_autofree char *lat = value(L, "network", "latency");
	if (lat && !au_parse_dist(lat, &sc->latency, &why))
		return fail(L, "network", "latency", "'%s': %s", lat, why);
	if (!get_prob(L, "network", "loss", &sc->loss, false) ||
	    !get_prob(L, "network", "duplicate", &sc->duplicate, false))
		return false;
	g_autofree char *bw = value(L, "network", "bandwidth");
	if (bw && !parse_bandwidth(bw, &sc->bandwidth_bps))
		return fail(L, "network", "bandwidth",
			    "'%s' is not a bandwidth (a positive number with bit, kbit, Mbit or Gbit)",
			    bw);
	return true;
}

static bool load_disk(struct loader *L)
{
	static const char *const keys[] = {"sync_latency", "capacity", NULL};
	struct au_scenario *sc = L->sc;
	const char *why;
	au_parse_dist("uniform(1ms,3ms)", &sc->sync_latency, &why);
	if (!g_key_file_has_group(L->kf, "disk"))
		return true;
	if (!check_keys(L, "disk", keys, false))
		return false;
	g_autofree char *v = value(L, "disk", "sync_latency");
	if (v && !au_parse_dist(v, &sc->sync_latency, &why))
		return fail(L, "disk", "sync_latency", "'%s': %s", v, why);
	g_autofree char *cap = value(L, "disk", "capacity");
	if (cap && strcmp(cap, "unlimited") != 0 && !parse_bytes(cap, &sc->disk_capacity))
		return fail(L, "disk", "capacity",
			    "'%s' is not a size (a positive number with B, KB, MB, GB, KiB, MiB or GiB) "
			    "or unlimited", cap);
	return true;
}

static bool load_trace(struct loader *L)
{
	static const char *const keys[] = {"messages", "tables", "metrics_period", NULL};
	struct au_scenario *sc = L->sc;
	sc->record_messages = true;
	sc->message_sample = 1;
	sc->metrics_period = AU_NS_PER_S;
	if (!g_key_file_has_group(L->kf, "trace"))
		return true;
	if (!check_keys(L, "trace", keys, false))
		return false;
	g_autofree char *v = value(L, "trace", "messages");
	if (v && strcmp(v, "none") == 0) {
		sc->record_messages = false;
		sc->message_sample = 0;
	} else if (v && g_str_has_prefix(v, "1/")) {
		uint64_t k;
		if (!au_cli_parse_u64(v + 2, &k) || k < 1 || k > UINT32_MAX)
			return fail(L, "trace", "messages", "'%s': a sample is 1/K with K a positive integer", v);
		sc->message_sample = (uint32_t)k;
	} else if (v && strcmp(v, "all") != 0) {
		return fail(L, "trace", "messages", "'%s' is not all, none or 1/K", v);
	}
	g_autofree char *tables = value(L, "trace", "tables");
	if (tables) {
		sc->trace_tables = g_strsplit(tables, ",", -1);
		for (char **t = sc->trace_tables; *t; t++) {
			g_strstrip(*t);
			if (!au_h5_table_known(sc, *t))
				return fail(L, "trace", "tables",
					    "no table '%s' in this scenario (events, messages, or a table "
					    "of a running service)", *t);
		}
	}
	if (has(L, "trace", "metrics_period")) {
		if (!get_duration(L, "trace", "metrics_period", &sc->metrics_period, true))
			return false;
		if (sc->metrics_period <= 0)
			return fail(L, "trace", "metrics_period", "must be longer than 0");
	}
	return true;
}

static bool load_check(struct loader *L)
{
	static const char *const keys[] = {"invariants", "liveness", "swim_false_deaths_max", NULL};
	struct au_scenario *sc = L->sc;
	sc->swim_false_deaths_max = -1; /* auto */
	if (!g_key_file_has_group(L->kf, "check")) {
		sc->invariants = g_new0(char *, 1);
		sc->liveness = g_new0(char *, 1);
		return true;
	}
	if (!check_keys(L, "check", keys, false))
		return false;
	g_autofree char *fdm = value(L, "check", "swim_false_deaths_max");
	if (fdm) {
		uint64_t u;
		if (!has_service(sc, "swim"))
			return fail(L, "check", "swim_false_deaths_max",
				    "needs the swim service, which this scenario does not run");
		if (strcmp(fdm, "auto") != 0 && (!au_cli_parse_u64(fdm, &u) || u > 1000000000))
			return fail(L, "check", "swim_false_deaths_max",
				    "'%s' is not auto or a count between 0 and 1000000000", fdm);
		if (strcmp(fdm, "auto") != 0)
			sc->swim_false_deaths_max = (int64_t)u;
	}
	g_autofree char *inv = value(L, "check", "invariants");
	sc->invariants = g_strsplit(inv ? inv : "", ",", -1);
	GPtrArray *clean = g_ptr_array_new();
	for (gsize i = 0; sc->invariants[i]; i++) {
		g_strstrip(sc->invariants[i]);
		if (!*sc->invariants[i])
			continue;
		bool known = false;
		for (const char *const *c = au_check_names; *c; c++)
			known = known || strcmp(*c, sc->invariants[i]) == 0;
		if (!known) {
			g_ptr_array_free(clean, TRUE);
			g_autoptr(GString) names = g_string_new(NULL);
			for (const char *const *c = au_check_names; *c; c++)
				g_string_append_printf(names, "%s%s", names->len ? ", " : "", *c);
			return fail(L, "check", "invariants",
				    "unknown or not yet implemented check '%s' (this build has: %s)",
				    sc->invariants[i], names->str);
		}
		const char *needs = au_check_service(sc->invariants[i]);
		if (needs && !has_service(sc, needs)) {
			g_ptr_array_free(clean, TRUE);
			return fail(L, "check", "invariants", "check '%s' needs service %s, which this "
				    "scenario does not run", sc->invariants[i], needs);
		}
		g_ptr_array_add(clean, g_strdup(sc->invariants[i]));
	}
	g_ptr_array_add(clean, NULL);
	g_strfreev(sc->invariants);
	sc->invariants = (char **)g_ptr_array_free(clean, FALSE);
	g_autofree char *live = value(L, "check", "liveness");
	sc->liveness = g_strsplit(live ? live : "", ",", -1);
	GPtrArray *keep = g_ptr_array_new();
	bool ok = true;
	for (gsize i = 0; ok && sc->liveness[i]; i++) {
		char *item = g_strstrip(sc->liveness[i]);
		au_time t;
		if (!*item)
			continue;
		/* leader_within:T and replicas_caught_up:T need raft,
		 * membership_converged:T needs swim. */
		const char *colon = strchr(item, ':');
		const char *needs = g_str_has_prefix(item, "leader_within:")          ? "raft"
				    : g_str_has_prefix(item, "replicas_caught_up:")   ? "raft"
				    : g_str_has_prefix(item, "membership_converged:") ? "swim"
										       : NULL;
		if (!needs || !au_parse_duration(colon + 1, &t) || t <= 0)
			ok = fail(L, "check", "liveness",
				  "'%s' is not a liveness check (this build has: leader_within:DURATION, "
				  "replicas_caught_up:DURATION, membership_converged:DURATION)", item);
		else if (!has_service(sc, needs))
			ok = fail(L, "check", "liveness", "'%s' needs the %s service", item, needs);
		else
			g_ptr_array_add(keep, g_strdup(item));
	}
	g_ptr_array_add(keep, NULL);
	g_strfreev(sc->liveness);
	sc->liveness = (char **)g_ptr_array_free(keep, FALSE);
	return ok;
}

/* Every key that running models read from `group` (their own group or
 * their extra one), NULL-terminated in `names` (at most max-1). */
static size_t group_keys(const struct au_scenario *sc, const char *group, const char **names,
			 size_t max)
{
	size_t n = 0;
	for (uint32_t i = 0; i < sc->n_services; i++) {
		const struct au_model *m = sc->services[i];
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

/* The model (running or not) that declares `key` in `group`, or NULL. */
static const struct au_model *key_owner(const char *group, const char *key);

/* Reject keys of a group no running model reads; a key that belongs to a
 * model the scenario does not run is named as such. */
static bool check_group_keys(struct loader *L, const char *group)
{
	const char *names[256];
	group_keys(L->sc, group, names, G_N_ELEMENTS(names));
	g_auto(GStrv) keys = g_key_file_get_keys(L->kf, group, NULL, NULL);
	for (gsize i = 0; keys && keys[i]; i++) {
		bool ok = false;
		for (const char *const *a = names; *a; a++)
			ok = ok || strcmp(keys[i], *a) == 0;
		if (ok)
			continue;
		const struct au_model *owner = key_owner(group, keys[i]);
		if (owner)
			return fail(L, group, keys[i],
				    "configures service %s, which is not in [cluster] services",
				    owner->name);
		return check_keys(L, group, names, false);
	}
	return true;
}

static const struct au_model *key_owner(const char *group, const char *key)
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

/* Parse `keys` from `group` into the model's config struct `cfg`. */
static bool parse_model_keys(struct loader *L, const char *g, const struct au_config_key *keys,
			     void *cfg)
{
	if (g_key_file_has_group(L->kf, g) && !check_group_keys(L, g))
		return false;
	for (const struct au_config_key *k = keys; k && k->name; k++) {
		g_autofree char *v = value(L, g, k->name);
		const char *text = v ? v : k->default_text;
		uint8_t *field = (uint8_t *)cfg + k->offset;
		switch (k->type) {
		case AU_CFG_DURATION: {
			au_time t;
			if (!au_parse_duration(text, &t))
				return fail(L, g, k->name, "'%s' is not a duration with a unit (e.g. 1s)",
					    text);
			if ((uint64_t)t < k->min || (uint64_t)t > k->max)
				return fail(L, g, k->name, "'%s' is out of range", text);
			memcpy(field, &t, sizeof(t));
			break;
		}
		case AU_CFG_DURATION_RANGE: {
			g_auto(GStrv) parts = g_strsplit(text, "..", 2);
			au_time r[2];
			if (g_strv_length(parts) != 2 || !au_parse_duration(g_strstrip(parts[0]), &r[0]) ||
			    !au_parse_duration(g_strstrip(parts[1]), &r[1]) || r[1] < r[0])
				return fail(L, g, k->name,
					    "'%s' is not a duration range lo..hi (e.g. 150ms..300ms)", text);
			if ((uint64_t)r[0] < k->min || (uint64_t)r[1] > k->max)
				return fail(L, g, k->name, "'%s' is out of range", text);
			memcpy(field, r, sizeof(r));
			break;
		}
		case AU_CFG_UINT: {
			uint64_t u;
			if (!au_cli_parse_u64(text, &u) || u < k->min || u > k->max)
				return fail(L, g, k->name, "'%s' is not an integer in %" G_GUINT64_FORMAT
							   "..%" G_GUINT64_FORMAT, text, k->min, k->max);
			uint32_t u32 = (uint32_t)u;
			memcpy(field, &u32, sizeof(u32));
			break;
		}
		case AU_CFG_RATE: {
			size_t tl = strlen(text);
			uint64_t u;
			g_autofree char *num = g_strndup(text, tl >= 2 ? tl - 2 : 0);
			if (tl < 3 || strcmp(text + tl - 2, "/s") != 0 || !au_cli_parse_u64(num, &u) ||
			    u < k->min || u > k->max)
				return fail(L, g, k->name, "'%s' is not a rate N/s with N in %" G_GUINT64_FORMAT
							   "..%" G_GUINT64_FORMAT, text, k->min, k->max);
			uint32_t u32 = (uint32_t)u;
			memcpy(field, &u32, sizeof(u32));
			break;
		}
		case AU_CFG_WEIGHTS: {
			size_t nchoices = 0;
			while (k->choices[nchoices])
				nchoices++;
			uint32_t w[16] = {0};
			uint64_t total = 0;
			bool none_ok = k->max == AU_CFG_WEIGHTS_NONE_OK;
			if (none_ok && strcmp(text, "none") == 0) {
				memcpy(field, w, nchoices * sizeof(uint32_t));
				break;
			}
			g_auto(GStrv) parts = g_strsplit(text, ",", -1);
			for (gsize i = 0; parts[i]; i++) {
				g_auto(GStrv) kv = g_strsplit(g_strstrip(parts[i]), ":", 2);
				uint64_t u;
				size_t c = 0;
				while (c < nchoices && (!kv[0] || strcmp(kv[0], k->choices[c]) != 0))
					c++;
				if (g_strv_length(kv) != 2 || c == nchoices || !au_cli_parse_u64(kv[1], &u) ||
				    u > 1000000 || w[c])
					return fail(L, g, k->name, "'%s' is not a list name:weight with names "
								   "from %s, each once", text, k->help);
				w[c] = (uint32_t)u;
				total += u;
			}
			if (total == 0 && !none_ok)
				return fail(L, g, k->name, "'%s': the weights add up to 0", text);
			memcpy(field, w, nchoices * sizeof(uint32_t));
			break;
		}
		case AU_CFG_DIST: {
			struct au_dist d;
			const char *why;
			if (!au_parse_dist(text, &d, &why))
				return fail(L, g, k->name, "'%s': %s", text, why);
			memcpy(field, &d, sizeof(d));
			break;
		}
		case AU_CFG_CAPS: {
			uint32_t pct[AU_MAX_CAPS] = {0};
			if (strcmp(text, "none") != 0) {
				g_auto(GStrv) parts = g_strsplit(text, ",", -1);
				for (gsize i = 0; parts[i]; i++) {
					g_auto(GStrv) kv = g_strsplit(g_strstrip(parts[i]), ":", 2);
					uint64_t u;
					int bit = g_strv_length(kv) == 2 ? cap_bit(L->sc, g_strstrip(kv[0])) : -1;
					if (g_strv_length(kv) != 2 || !au_cli_parse_u64(g_strstrip(kv[1]), &u) || u > 100)
						return fail(L, g, k->name, "'%s' is not a list capability:percent "
									   "(percent 0..100), or none", text);
					if (bit < 0)
						return fail(L, g, k->name, "'%s': no node has capability '%s' "
									   "([cluster] capabilities)", text, kv[0]);
					if (pct[bit])
						return fail(L, g, k->name, "'%s': capability '%s' named twice",
							    text, kv[0]);
					pct[bit] = (uint32_t)u;
				}
			}
			memcpy(field, pct, sizeof(pct));
			break;
		}
		case AU_CFG_NODE_LIST: {
			struct au_node_list nl = {0};
			g_autofree char *list = g_strstrip(g_strdup(text));
			if (strcmp(list, "all") == 0) {
				nl.all = 1;
			} else {
				g_auto(GStrv) parts = g_strsplit(list, ",", -1);
				for (gsize i = 0; parts[i]; i++) {
					au_node_id id;
					if (!au_parse_node(g_strstrip(parts[i]), L->sc->nodes, &id))
						return fail(L, g, k->name, "'%s' is not a node of this cluster "
									   "(n1..n%u); write all or a list n1,n2,...",
							    parts[i], L->sc->nodes);
					for (uint32_t j = 0; j < nl.n; j++)
						if (nl.id[j] == id)
							return fail(L, g, k->name, "'%s' is listed twice", parts[i]);
					if (nl.n == AU_NODE_LIST_MAX)
						return fail(L, g, k->name, "more than %u nodes listed",
							    AU_NODE_LIST_MAX);
					nl.id[nl.n++] = id;
				}
				if (nl.n == 0)
					return fail(L, g, k->name, "empty node list (write all or n1,n2,...)");
			}
			memcpy(field, &nl, sizeof(nl));
			break;
		}
		case AU_CFG_DOUBLE: {
			double d;
			if (!parse_double(text, &d) || d < 0.0)
				return fail(L, g, k->name, "'%s' is not a finite number >= 0", text);
			memcpy(field, &d, sizeof(d));
			break;
		}
		case AU_CFG_STRING: {
			size_t tl = strlen(text);
			if (tl > k->max)
				return fail(L, g, k->name, "'%s' is longer than %" G_GUINT64_FORMAT " bytes",
					    text, k->max);
			memcpy(field, text, tl + 1);
			break;
		}
		case AU_CFG_BOOL: {
			bool b;
			if (!parse_bool(text, &b))
				return fail(L, g, k->name, "'%s' is not true or false", text);
			int iv = b;
			memcpy(field, &iv, sizeof(iv));
			break;
		}
		}
	}
	return true;
}

/* [ping], [raft], ...: parsed through the model's own key tables. */
static bool load_model_config(struct loader *L, uint32_t idx)
{
	const struct au_model *m = L->sc->services[idx];
	void *cfg = g_malloc0(m->config_size ? m->config_size : 1);
	L->sc->service_config[idx] = cfg;
	if (m->config_group && !parse_model_keys(L, m->config_group, m->config_keys, cfg))
		return false;
	if (m->extra_group && !parse_model_keys(L, m->extra_group, m->extra_keys, cfg))
		return false;
	return true;
}

/* A model's own checks: the services it needs come before it, and its
 * configuration as a whole is valid. */
static bool check_model(struct loader *L, uint32_t idx)
{
	const struct au_model *m = L->sc->services[idx];
	for (const char *const *need = m->needs; need && *need; need++) {
		bool before = false;
		for (uint32_t j = 0; j < idx; j++)
			before = before || strcmp(L->sc->services[j]->name, *need) == 0;
		if (!before)
			return fail(L, "cluster", "services", "service %s needs %s, listed before it",
				    m->name, *need);
	}
	char err[256] = "";
	if (m->validate && !m->validate(L->sc->service_config[idx], L->sc->nodes, err, sizeof(err)))
		return fail(L, m->config_group ? m->config_group : "cluster", NULL, "%s", err);
	return true;
}

/* ---- faults ---------------------------------------------------------------- */

static const char *const action_names[AU_FAULT_ACTIONS_] = {
	"crash", "restart", "partition", "heal", "clog", "loss",
	"pause", "resume", "skew", "disk_fault", "corrupt",
	"transfer_leader", "add_voter", "remove_voter", "leave", "drain", "duplicate",
};

const char *au_fault_action_name(enum au_fault_action a)
{
	return (unsigned)a < AU_FAULT_ACTIONS_ ? action_names[a] : "?";
}

static const char *const disk_kind_names[] = {
	[AU_DISK_READ_ERROR] = "read_error", [AU_DISK_CORRUPT] = "corrupt",
	[AU_DISK_SLOW_SYNC] = "slow_sync",   [AU_DISK_FULL] = "disk_full",
	[AU_DISK_WRITE_ERROR] = "write_error", [AU_DISK_SYNC_ERROR] = "sync_error",
};

const char *au_disk_fault_kind_name(enum au_disk_fault_kind k)
{
	return (unsigned)k < G_N_ELEMENTS(disk_kind_names) ? disk_kind_names[k] : "?";
}

static const char *const action_keys[AU_FAULT_ACTIONS_][9] = {
	[AU_FAULT_CRASH] = {"at", "action", "target", "restart_after", NULL},
	[AU_FAULT_RESTART] = {"at", "action", "target", NULL},
	[AU_FAULT_PARTITION] = {"at", "action", "groups", "oneway", "until", NULL},
	[AU_FAULT_HEAL] = {"at", "action", NULL},
	[AU_FAULT_CLOG] = {"at", "action", "target", "link", "extra", "until", NULL},
	[AU_FAULT_LOSS] = {"at", "action", "target", "link", "rate", "until", NULL},
	[AU_FAULT_PAUSE] = {"at", "action", "target", "until", NULL},
	[AU_FAULT_RESUME] = {"at", "action", "target", NULL},
	[AU_FAULT_SKEW] = {"at", "action", "target", "skew", "drift", "until", NULL},
	[AU_FAULT_DISK] = {"at", "action", "target", "kind", "extra", "rate", "until", NULL},
	[AU_FAULT_CORRUPT] = {"at", "action", "target", "link", "rate", "until", NULL},
	[AU_FAULT_TRANSFER] = {"at", "action", "target", NULL},
	[AU_FAULT_ADD_VOTER] = {"at", "action", "target", NULL},
	[AU_FAULT_REMOVE_VOTER] = {"at", "action", "target", NULL},
	[AU_FAULT_LEAVE] = {"at", "action", "target", NULL},
	[AU_FAULT_DRAIN] = {"at", "action", "target", "until", NULL},
	[AU_FAULT_DUPLICATE] = {"at", "action", "target", "link", "rate", "until", NULL},
};


static bool parse_target(struct loader *L, const char *g, const char *k, const char *text,
			 struct au_target *t, bool allow_rest)
{
	if (strcmp(text, "leader") == 0) {
		if (!has_service(L->sc, "raft"))
			return fail(L, g, k, "'leader' needs a service that elects one (raft), "
					     "which this scenario does not run");
		t->kind = AU_TARGET_LEADER;
		return true;
	}
	if (strcmp(text, "random") == 0 && !allow_rest) {
		t->kind = AU_TARGET_RANDOM;
		return true;
	}
	if (strcmp(text, "rest") == 0 && allow_rest) {
		t->kind = AU_TARGET_REST;
		return true;
	}
	if ((strcmp(text, "lease_holder") == 0 || strcmp(text, "lock_holder") == 0) && !allow_rest) {
		if (!has_service(L->sc, "aureon"))
			return fail(L, g, k, "'%s' needs the execution layer (aureon), which this "
					     "scenario does not run", text);
		t->kind = text[1] == 'e' ? AU_TARGET_LEASE_HOLDER : AU_TARGET_LOCK_HOLDER;
		return true;
	}
	if (au_parse_node(text, L->sc->nodes, &t->node)) {
		t->kind = AU_TARGET_NODE;
		return true;
	}
	return fail(L, g, k, "'%s' is not %s", text,
		    allow_rest ? "a node n1..nN, leader or rest"
			       : "a node n1..nN, leader, random, lease_holder or lock_holder");
}

static bool parse_groups(struct loader *L, const char *g, struct au_fault *f)
{
	g_autofree char *v = value(L, g, "groups");
	if (!v)
		return fail(L, g, "groups", "missing (e.g. groups = n1,n2 | n3,n4,n5)");
	g_auto(GStrv) groups = g_strsplit(v, "|", -1);
	guint ng = g_strv_length(groups);
	if (ng < 2)
		return fail(L, g, "groups", "'%s' needs at least two groups separated by |", v);
	GArray *members = g_array_new(FALSE, FALSE, sizeof(struct au_group_member));
	bool *seen = g_new0(bool, (gsize)L->sc->nodes + 1);
	bool ok = true, rest = false, leader = false;
	for (guint gi = 0; ok && gi < ng; gi++) {
		g_auto(GStrv) names = g_strsplit(groups[gi], ",", -1);
		guint count = 0;
		for (guint i = 0; ok && names[i]; i++) {
			g_strstrip(names[i]);
			if (!*names[i])
				continue;
			struct au_group_member m = {.group = gi + 1};
			ok = parse_target(L, g, "groups", names[i], &m.who, true);
			if (!ok)
				break;
			bool *flag = m.who.kind == AU_TARGET_REST ? &rest
				     : m.who.kind == AU_TARGET_LEADER ? &leader
									: &seen[m.who.node];
			if (*flag)
				ok = fail(L, g, "groups", "'%s' appears twice", names[i]);
			*flag = true;
			g_array_append_val(members, m);
			count++;
		}
		if (ok && count == 0)
			ok = fail(L, g, "groups", "group %u of '%s' is empty", gi + 1, v);
	}
	g_free(seen);
	f->n_groups = ng;
	f->n_members = members->len;
	f->members = (struct au_group_member *)g_array_free(members, FALSE);
	return ok;
}

static bool parse_link(struct loader *L, const char *g, struct au_fault *f)
{
	g_autofree char *v = value(L, g, "link");
	g_auto(GStrv) ends = g_strsplit(v, "-", -1);
	if (g_strv_length(ends) != 2 || !au_parse_node(g_strstrip(ends[0]), L->sc->nodes, &f->link_a) ||
	    !au_parse_node(g_strstrip(ends[1]), L->sc->nodes, &f->link_b) || f->link_a == f->link_b)
		return fail(L, g, "link", "'%s' is not a link nA-nB between two nodes of n1..n%u", v,
			    L->sc->nodes);
	f->has_link = true;
	return true;
}

static bool load_fault(struct loader *L, const char *g, struct au_fault *f)
{
	f->name = g_strdup(g + strlen("fault."));
	f->until = -1;
	f->restart_after = -1;
	f->extra = -1;
	if (!*f->name)
		return fail(L, g, NULL, "a fault group needs a name: [fault.NAME]");
	g_autofree char *action = value(L, g, "action");
	if (!action)
		return fail(L, g, "action", "missing (crash, restart, partition, heal, clog, loss, "
					    "duplicate, pause, resume, skew, disk_fault, corrupt, transfer_leader, "
					    "add_voter, remove_voter, leave or drain)");
	int a = -1;
	for (int i = 0; i < AU_FAULT_ACTIONS_; i++)
		if (strcmp(action, action_names[i]) == 0)
			a = i;
	if (a < 0)
		return fail(L, g, "action", "unknown action '%s' (crash, restart, partition, heal, "
					    "clog, loss, duplicate, pause, resume, skew, disk_fault, corrupt, "
					    "transfer_leader, add_voter, remove_voter, leave or drain)", action);
	f->action = (enum au_fault_action)a;
	if (a >= AU_FAULT_TRANSFER && a <= AU_FAULT_REMOVE_VOTER && !has_service(L->sc, "raft"))
		return fail(L, g, "action", "%s needs the raft service", action);
	if (a == AU_FAULT_LEAVE && !has_service(L->sc, "swim"))
		return fail(L, g, "action", "%s needs the swim service", action);
	if (a == AU_FAULT_DRAIN && (!has_service(L->sc, "aureon") || !has_service(L->sc, "raft")))
		return fail(L, g, "action", "drain needs the raft and aureon services");
	g_auto(GStrv) keys = g_key_file_get_keys(L->kf, g, NULL, NULL);
	for (gsize i = 0; keys && keys[i]; i++) {
		bool ok = false;
		for (const char *const *k = action_keys[a]; *k; k++)
			ok = ok || strcmp(*k, keys[i]) == 0;
		if (!ok)
			return fail(L, g, keys[i], "not a key of action %s", action);
	}
	if (!get_duration(L, g, "at", &f->at, true))
		return false;
	if (f->at > L->sc->duration)
		return fail(L, g, "at", "fires after the run ends (duration is %" G_GINT64_FORMAT " ns)",
			    L->sc->duration);
	if (has(L, g, "until")) {
		if (!get_duration(L, g, "until", &f->until, true))
			return false;
		if (f->until <= f->at)
			return fail(L, g, "until", "must be later than at");
	}
	bool node_target = f->action != AU_FAULT_PARTITION && f->action != AU_FAULT_HEAL;
	bool link_ok = f->action == AU_FAULT_CLOG || f->action == AU_FAULT_LOSS ||
		       f->action == AU_FAULT_CORRUPT || f->action == AU_FAULT_DUPLICATE;
	if (node_target) {
		bool t = has(L, g, "target"), l = has(L, g, "link");
		if (t && l)
			return fail(L, g, "link", "give either target or link, not both");
		if (l && !parse_link(L, g, f))
			return false;
		if (!t && !l)
			return fail(L, g, "target", link_ok ? "missing (target = nK|leader|random, or link = nA-nB)"
							    : "missing (target = nK|leader|random)");
		if (t) {
			g_autofree char *tv = value(L, g, "target");
			if (!parse_target(L, g, "target", tv, &f->target, false))
				return false;
		}
	}
	switch (f->action) {
	case AU_FAULT_CRASH:
		if (has(L, g, "restart_after") &&
		    !get_duration(L, g, "restart_after", &f->restart_after, true))
			return false;
		if (has(L, g, "restart_after") && f->restart_after == 0)
			return fail(L, g, "restart_after", "must be longer than 0");
		break;
	case AU_FAULT_PARTITION:
		if (!parse_groups(L, g, f) || !get_bool(L, g, "oneway", &f->oneway))
			return false;
		if (f->oneway && f->n_groups != 2)
			return fail(L, g, "oneway", "a one-way partition needs exactly two groups");
		break;
	case AU_FAULT_CLOG:
		if (has(L, g, "extra")) {
			if (!get_duration(L, g, "extra", &f->extra, true))
				return false;
			if (f->extra == 0)
				return fail(L, g, "extra", "must be longer than 0 (omit it to hold messages)");
		}
		break;
	case AU_FAULT_LOSS:
	case AU_FAULT_CORRUPT:
	case AU_FAULT_DUPLICATE:
		if (!get_prob(L, g, "rate", &f->rate, true))
			return false;
		break;
	case AU_FAULT_SKEW: {
		g_autofree char *sk = value(L, g, "skew");
		g_autofree char *dr = value(L, g, "drift");
		if (!sk && !dr)
			return fail(L, g, "skew", "missing: give skew = ±duration and/or drift = ±ppm");
		if (sk) {
			bool neg = sk[0] == '-';
			const char *body = (sk[0] == '-' || sk[0] == '+') ? sk + 1 : sk;
			if (!au_parse_duration(body, &f->skew))
				return fail(L, g, "skew", "'%s' is not a signed duration (e.g. -200ms)", sk);
			if (neg)
				f->skew = -f->skew;
		}
		if (dr) {
			bool neg = dr[0] == '-';
			const char *body = (dr[0] == '-' || dr[0] == '+') ? dr + 1 : dr;
			size_t bl = strlen(body);
			g_autofree char *num = g_strdup(body);
			if (bl > 3 && strcmp(body + bl - 3, "ppm") == 0)
				num[bl - 3] = '\0';
			uint64_t ppm;
			if (!au_cli_parse_u64(num, &ppm) || ppm >= 1000000)
				return fail(L, g, "drift", "'%s' is not a drift in ppm between -999999 and 999999", dr);
			f->drift_ppm = neg ? -(int64_t)ppm : (int64_t)ppm;
		}
		break;
	}
	case AU_FAULT_DISK: {
		const char *const *kinds = disk_kind_names;
		const size_t n_kinds = G_N_ELEMENTS(disk_kind_names);
		const char *all = "read_error, corrupt, slow_sync, disk_full, write_error or sync_error";
		g_autofree char *k = value(L, g, "kind");
		if (!k)
			return fail(L, g, "kind", "missing (%s)", all);
		size_t kind = n_kinds;
		for (size_t i = 0; i < n_kinds; i++)
			if (strcmp(k, kinds[i]) == 0)
				kind = i;
		if (kind == n_kinds)
			return fail(L, g, "kind", "'%s' is not %s", k, all);
		f->disk_kind = (enum au_disk_fault_kind)kind;
		f->slow_extra = 100 * AU_NS_PER_MS;
		if (has(L, g, "extra")) {
			if (f->disk_kind != AU_DISK_SLOW_SYNC)
				return fail(L, g, "extra", "only slow_sync takes extra");
			if (!get_duration(L, g, "extra", &f->slow_extra, true))
				return false;
		}
		if (f->disk_kind == AU_DISK_WRITE_ERROR || f->disk_kind == AU_DISK_SYNC_ERROR)
			f->rate = 1.0; /* every operation fails unless a rate says otherwise */
		if (has(L, g, "rate")) {
			if (f->disk_kind != AU_DISK_WRITE_ERROR && f->disk_kind != AU_DISK_SYNC_ERROR)
				return fail(L, g, "rate", "only write_error and sync_error take rate");
			if (!get_prob(L, g, "rate", &f->rate, true))
				return false;
			if (f->rate <= 0.0)
				return fail(L, g, "rate", "a rate of 0 fails nothing; leave the fault out");
		}
		if (f->disk_kind == AU_DISK_CORRUPT && f->until >= 0)
			return fail(L, g, "until", "a corrupted sector stays corrupted; corrupt takes no until");
		break;
	}
	default:
		break;
	}
	return true;
}

static gint fault_cmp(gconstpointer pa, gconstpointer pb)
{
	const struct au_fault *a = pa, *b = pb;
	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return a->file_order < b->file_order ? -1 : a->file_order > b->file_order;
}

/* Node-state transitions implied by explicit nK faults, for the
 * contradiction check. */
struct transition {
	au_time t;
	uint32_t order;
	uint32_t fault;
	au_node_id node;
	enum { T_CRASH, T_RESTART, T_PAUSE, T_RESUME } kind;
};

static gint transition_cmp(gconstpointer pa, gconstpointer pb)
{
	const struct transition *a = pa, *b = pb;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* A crash of a node that is already down, a restart of a running node, a
 * pause of a down or paused node, a resume of a running one: errors. */
static bool check_schedule(struct loader *L)
{
	struct au_scenario *sc = L->sc;
	GArray *tr = g_array_new(FALSE, FALSE, sizeof(struct transition));
	uint32_t order = 0;
	for (uint32_t i = 0; i < sc->n_faults; i++) {
		const struct au_fault *f = &sc->faults[i];
		if (f->target.kind != AU_TARGET_NODE)
			continue;
		struct transition t = {f->at, order++, i, f->target.node, T_CRASH};
		switch (f->action) {
		case AU_FAULT_CRASH:
			g_array_append_val(tr, t);
			if (f->restart_after >= 0) {
				struct transition r = {f->at + f->restart_after, order++, i, f->target.node,
						       T_RESTART};
				g_array_append_val(tr, r);
			}
			break;
		case AU_FAULT_RESTART:
			t.kind = T_RESTART;
			g_array_append_val(tr, t);
			break;
		case AU_FAULT_PAUSE:
			t.kind = T_PAUSE;
			g_array_append_val(tr, t);
			if (f->until >= 0) {
				struct transition r = {f->until, order++, i, f->target.node, T_RESUME};
				g_array_append_val(tr, r);
			}
			break;
		case AU_FAULT_RESUME:
			t.kind = T_RESUME;
			g_array_append_val(tr, t);
			break;
		default:
			break;
		}
	}
	g_array_sort(tr, transition_cmp);
	uint8_t *down = g_new0(uint8_t, (gsize)sc->nodes + 1);
	uint8_t *paused = g_new0(uint8_t, (gsize)sc->nodes + 1);
	bool ok = true;
	for (guint i = 0; ok && i < tr->len; i++) {
		const struct transition *t = &g_array_index(tr, struct transition, i);
		g_autofree char *g = g_strdup_printf("fault.%s", sc->faults[t->fault].name);
		switch (t->kind) {
		case T_CRASH:
			if (down[t->node])
				ok = fail(L, g, "target", "crashes n%u, which is already down then", t->node);
			down[t->node] = 1;
			paused[t->node] = 0;
			break;
		case T_RESTART:
			if (!down[t->node])
				ok = fail(L, g, sc->faults[t->fault].action == AU_FAULT_CRASH ? "restart_after" : "target",
					  "restarts n%u, which is running then", t->node);
			down[t->node] = 0;
			break;
		case T_PAUSE:
			if (down[t->node] || paused[t->node])
				ok = fail(L, g, "target", "pauses n%u, which is %s then", t->node,
					  down[t->node] ? "down" : "already paused");
			paused[t->node] = 1;
			break;
		case T_RESUME:
			/* A pause's own `until` after a crash is harmless. */
			if (!paused[t->node] && sc->faults[t->fault].action == AU_FAULT_RESUME)
				ok = fail(L, g, "target", "resumes n%u, which is not paused then", t->node);
			paused[t->node] = 0;
			break;
		}
	}
	g_free(down);
	g_free(paused);
	g_array_free(tr, TRUE);
	return ok;
}

static bool load_faults(struct loader *L)
{
	struct au_scenario *sc = L->sc;
	g_auto(GStrv) groups = g_key_file_get_groups(L->kf, NULL);
	GArray *faults = g_array_new(FALSE, TRUE, sizeof(struct au_fault));
	bool ok = true;
	for (gsize i = 0; ok && groups[i]; i++) {
		if (!g_str_has_prefix(groups[i], "fault."))
			continue;
		struct au_fault f = {0};
		f.file_order = faults->len;
		ok = load_fault(L, groups[i], &f);
		g_array_append_val(faults, f);
	}
	g_array_sort(faults, fault_cmp);
	sc->n_faults = faults->len;
	sc->faults = (struct au_fault *)g_array_free(faults, FALSE);
	return ok && check_schedule(L);
}

au_time au_scenario_faults_over(const struct au_scenario *sc)
{
	au_time over = 0;
	for (uint32_t i = 0; i < sc->n_faults; i++) {
		const struct au_fault *f = &sc->faults[i];
		au_time end = f->until >= 0 ? f->until : f->at;
		if (f->action == AU_FAULT_CRASH && f->restart_after >= 0)
			end = f->at + f->restart_after;
		if (end > over)
			over = end;
	}
	return over;
}

/* A liveness window that ends after the run is an impossible schedule. */
static bool check_liveness_window(struct loader *L)
{
	const struct au_scenario *sc = L->sc;
	au_time over = au_scenario_faults_over(sc);
	for (char **l = sc->liveness; l && *l; l++) {
		au_time t = 0;
		au_parse_duration(strchr(*l, ':') + 1, &t);
		if (over + t > sc->duration)
			return fail(L, "check", "liveness",
				    "'%s': the faults end at %" G_GINT64_FORMAT " ns, so the window ends "
				    "after the run (duration %" G_GINT64_FORMAT " ns)", *l, over, sc->duration);
	}
	return true;
}

/* The longest liveness window ([check] liveness = NAME:T, ...), or 0. */
static au_time longest_liveness(const struct au_scenario *sc)
{
	au_time longest = 0;
	for (char **l = sc->liveness; l && *l; l++) {
		au_time t = 0;
		const char *colon = strchr(*l, ':');
		if (colon)
			au_parse_duration(colon + 1, &t);
		if (t > longest)
			longest = t;
	}
	return longest;
}

/* [chaos]: bounds for generated fault plans (sim/chaos.c).  Defaults make
 * every scenario sweepable; what is given is checked like everything else. */
static bool load_chaos(struct loader *L)
{
	static const char *const keys[] = {"mode",	   "max_faults",     "kinds",    "start",
					   "quiet_period", "fault_duration", "max_rate", "correlated",
					   NULL};
	struct au_scenario *sc = L->sc;
	struct au_chaos_config *c = &sc->chaos;
	const char *g = "chaos";
	c->mode = AU_CHAOS_SWARM;
	c->max_faults = 12;
	c->kinds = au_chaos_default_kinds(sc);
	c->start = 0;
	au_time live = longest_liveness(sc);
	/* Room after the last fault for every liveness window, plus a second. */
	c->quiet_period = live ? live + AU_NS_PER_S : 0;
	c->fault_lo_ns = 50 * AU_NS_PER_MS;
	c->fault_hi_ns = 5 * AU_NS_PER_S;
	c->max_rate = 0.5;
	c->correlated = AU_CHAOS_CORRELATED_DEFAULT;
	c->present = g_key_file_has_group(L->kf, g);
	if (!c->present) {
		/* A scenario made only to be run may be too short for the default
		 * quiet period; `chaos` says so when it is swept. */
		if (c->quiet_period >= sc->duration)
			c->quiet_period = live;
		return true;
	}
	if (!check_keys(L, g, keys, false))
		return false;
	g_autofree char *mode = value(L, g, "mode");
	if (mode && strcmp(mode, "unrestricted") == 0)
		c->mode = AU_CHAOS_UNRESTRICTED;
	else if (mode && strcmp(mode, "swarm") != 0)
		return fail(L, g, "mode", "'%s' is not swarm or unrestricted", mode);
	g_autofree char *mf = value(L, g, "max_faults");
	uint64_t u;
	if (mf && (!au_cli_parse_u64(mf, &u) || u < 1 || u > AU_CHAOS_MAX_FAULTS))
		return fail(L, g, "max_faults", "'%s' is not an integer in 1..%u", mf,
			    AU_CHAOS_MAX_FAULTS);
	if (mf)
		c->max_faults = (uint32_t)u;
	g_autofree char *kinds = value(L, g, "kinds");
	if (kinds) {
		uint32_t all = au_chaos_supported_kinds(sc);
		c->kinds = 0;
		g_auto(GStrv) names = g_strsplit(kinds, ",", -1);
		for (gsize i = 0; names[i]; i++) {
			const char *n = g_strstrip(names[i]);
			if (!*n)
				continue;
			if (strcmp(n, "all") == 0) {
				c->kinds |= all;
				continue;
			}
			if (strcmp(n, "default") == 0) {
				c->kinds |= au_chaos_default_kinds(sc);
				continue;
			}
			int k = au_chaos_kind_from_name(n);
			if (k < 0) {
				g_autofree char *list = au_chaos_kind_list(UINT32_MAX);
				return fail(L, g, "kinds", "unknown fault kind '%s' (known: %s, or all, default)",
					    n, list);
			}
			if (!(all & (1u << k)))
				return fail(L, g, "kinds", "fault kind '%s' needs a service this scenario "
					    "does not run (%s)", n,
					    k == AU_CK_LEAVE ? "swim"
					    : k == AU_CK_LOCK_PAUSE ? "raft and aureon with [workload] lock_keys"
					    : k == AU_CK_DRAIN || k >= AU_CK_HOLDER_PAUSE ? "raft and aureon"
											  : "raft");
			c->kinds |= 1u << k;
		}
		if (c->kinds == 0)
			return fail(L, g, "kinds", "names no fault kind");
	}
	if (!get_duration(L, g, "start", &c->start, false) ||
	    !get_duration(L, g, "quiet_period", &c->quiet_period, false))
		return false;
	if (has(L, g, "quiet_period") && c->quiet_period < live)
		return fail(L, g, "quiet_period",
			    "is shorter than the liveness window %" G_GINT64_FORMAT " ns of [check] "
			    "liveness: generated faults could end too late for it", live);
	if (c->start + c->quiet_period >= sc->duration)
		return fail(L, g, has(L, g, "start") ? "start" : "quiet_period",
			    "start + quiet_period (%" G_GINT64_FORMAT " ns) leaves no time for faults "
			    "in a run of %" G_GINT64_FORMAT " ns", c->start + c->quiet_period,
			    sc->duration);
	g_autofree char *fd = value(L, g, "fault_duration");
	if (fd) {
		g_auto(GStrv) parts = g_strsplit(fd, "..", 2);
		au_time r[2];
		if (g_strv_length(parts) != 2 || !au_parse_duration(g_strstrip(parts[0]), &r[0]) ||
		    !au_parse_duration(g_strstrip(parts[1]), &r[1]) || r[0] <= 0 || r[1] < r[0])
			return fail(L, g, "fault_duration",
				    "'%s' is not a duration range lo..hi with 0 < lo <= hi (e.g. 50ms..5s)", fd);
		c->fault_lo_ns = r[0];
		c->fault_hi_ns = r[1];
	}
	if (!get_prob(L, g, "max_rate", &c->max_rate, false))
		return false;
	if (c->max_rate <= 0.0)
		return fail(L, g, "max_rate", "must be above 0");
	return get_prob(L, g, "correlated", &c->correlated, false);
}

static bool check_groups(struct loader *L)
{
	static const char *const fixed[] = {"run",   "cluster", "network", "disk",
					    "check", "trace",   "chaos",   NULL};
	g_auto(GStrv) groups = g_key_file_get_groups(L->kf, NULL);
	for (gsize i = 0; groups[i]; i++) {
		bool ok = g_str_has_prefix(groups[i], "fault.");
		for (const char *const *f = fixed; *f; f++)
			ok = ok || strcmp(*f, groups[i]) == 0;
		for (uint32_t s = 0; s < L->sc->n_services; s++) {
			const char *cg = L->sc->services[s]->config_group;
			const char *eg = L->sc->services[s]->extra_group;
			ok = ok || (cg && strcmp(cg, groups[i]) == 0) || (eg && strcmp(eg, groups[i]) == 0);
		}
		if (ok)
			continue;
		for (size_t m = 0; m < G_N_ELEMENTS(all_models); m++) {
			const char *cg = all_models[m]->config_group;
			const char *eg = all_models[m]->extra_group;
			if ((cg && strcmp(cg, groups[i]) == 0) || (eg && strcmp(eg, groups[i]) == 0))
				return fail(L, groups[i], NULL,
					    "configures service %s, which is not in [cluster] services",
					    all_models[m]->name);
		}
		return fail(L, groups[i], NULL,
			    "unknown group (known: run, cluster, network, disk, check, trace, chaos, "
			    "fault.NAME, and one per service)");
	}
	return true;
}

struct au_scenario *au_scenario_load_text(const char *path, const char *text, char **err)
{
	struct loader L = {.path = path};
	L.kf = g_key_file_new();
	L.sc = g_new0(struct au_scenario, 1);
	L.sc->path = g_strdup(path);
	L.sc->text = g_strdup(text);
	GError *gerr = NULL;
	if (!g_key_file_load_from_data(L.kf, text, (gsize)-1, G_KEY_FILE_NONE, &gerr)) {
		L.err = g_strdup_printf("%s: not a valid key file: %s", path, gerr->message);
		g_error_free(gerr);
	} else {
		bool ok = load_run(&L) && load_cluster(&L) && check_groups(&L) && load_network(&L) &&
			  load_disk(&L) && load_trace(&L) && load_check(&L);
		for (uint32_t i = 0; ok && i < L.sc->n_services; i++) {
			ok = load_model_config(&L, i) && check_model(&L, i);
			const struct au_model *m = L.sc->services[i];
			if (ok && m->client_side && m->client_nodes) {
				uint32_t c = m->client_nodes(L.sc->service_config[i]);
				if (c > L.sc->clients)
					L.sc->clients = c;
			}
		}
		if (ok && (uint64_t)L.sc->nodes + L.sc->clients > AU_MAX_NODES)
			ok = fail(&L, "workload", NULL, "too many nodes with the client nodes");
		if (ok)
			ok = load_faults(&L);
		if (ok)
			ok = check_liveness_window(&L);
		if (ok)
			ok = load_chaos(&L);
		(void)ok;
	}
	g_key_file_free(L.kf);
	if (L.err) {
		*err = L.err;
		au_scenario_free(L.sc);
		return NULL;
	}
	return L.sc;
}

struct au_scenario *au_scenario_load(const char *path, char **err)
{
	g_autofree char *text = NULL;
	GError *gerr = NULL;
	if (!g_file_get_contents(path, &text, NULL, &gerr)) {
		*err = g_strdup_printf("%s: cannot read scenario: %s", path, gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	if (!g_utf8_validate(text, -1, NULL)) {
		*err = g_strdup_printf("%s: not UTF-8 text", path);
		return NULL;
	}
	return au_scenario_load_text(path, text, err);
}

void au_scenario_free(struct au_scenario *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_faults; i++) {
		g_free(s->faults[i].name);
		g_free(s->faults[i].members);
	}
	g_free(s->faults);
	for (uint32_t i = 0; i < AU_MAX_SERVICES; i++)
		g_free(s->service_config[i]);
	g_free(s->cpu_gflops);
	g_free(s->node_caps);
	g_strfreev(s->cap_names);
	g_strfreev(s->invariants);
	g_strfreev(s->liveness);
	g_strfreev(s->trace_tables);
	g_free(s->name);
	g_free(s->text);
	g_free(s->path);
	g_free(s);
}
