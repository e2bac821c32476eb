/* cluster.c — loading cluster files (see cluster.h).
 *
 * The [cluster] group and the service groups are read by config/'s
 * cluster_spec, as in a scenario, so every model key is validated by the
 * same code with the same messages; [hosts], [http] and [auth] are ours.
 */
#include "cluster.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "config/keys.h"
#include "config/values.h"
#include "packet.h"

static const char *const sim_only_groups[] = {"run",   "network", "disk", "check",
					      "trace", "chaos",   NULL};
/* The groups a cluster file has besides [cluster] and the services'. */
static const char *const own_groups[] = {"hosts", "http", "auth", "identities", NULL};

GInetSocketAddress *au_cluster_parse_addr(const char *text, char **why)
{
	g_autoptr(GError) err = NULL;
	const char *colon = strrchr(text, ':');
	if (!colon || colon == text || !colon[1]) {
		*why = g_strdup("expected host:port, e.g. 127.0.0.1:7001 or [::1]:7001");
		return NULL;
	}
	g_autofree char *host = g_strndup(text, (gsize)(colon - text));
	if (host[0] == '[') {
		size_t hl = strlen(host);
		if (hl < 3 || host[hl - 1] != ']') {
			*why = g_strdup("an IPv6 address must be in brackets: [::1]:7001");
			return NULL;
		}
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	char *end;
	errno = 0;
	guint64 port = g_ascii_strtoull(colon + 1, &end, 10);
	if (errno || *end || port < 1 || port > 65535 || !g_ascii_isdigit(colon[1])) {
		*why = g_strdup_printf("'%s' is not a port in 1..65535", colon + 1);
		return NULL;
	}
	g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(host);
	if (!addr) {
		GResolver *res = g_resolver_get_default();
		GList *list = g_resolver_lookup_by_name(res, host, NULL, &err);
		g_object_unref(res);
		if (!list) {
			*why = g_strdup_printf("cannot resolve '%s': %s", host, err->message);
			return NULL;
		}
		addr = g_object_ref(list->data);
		g_resolver_free_addresses(list);
	}
	return G_INET_SOCKET_ADDRESS(g_inet_socket_address_new(addr, (guint16)port));
}

/* [hosts] or [http]: one address per node; `required` says all must be there. */
static bool load_addrs(struct au_cluster *c, struct au_keys *K, const char *group, bool required,
		       GInetSocketAddress **out, char **text)
{
	if (!g_key_file_has_group(K->kf, group))
		return !required || au_keys_fail(K, group, NULL, "missing group: give every node's "
								"address, e.g. n1 = 127.0.0.1:7001");
	g_auto(GStrv) keys = g_key_file_get_keys(K->kf, group, NULL, NULL);
	for (gsize i = 0; keys && keys[i]; i++) {
		au_node_id id;
		if (!au_parse_node(keys[i], c->nodes, &id))
			return au_keys_fail(K, group, keys[i], "not a node of this cluster (n1..n%u)",
					    c->nodes);
		g_autofree char *v = au_keys_value(K, group, keys[i]);
		g_autofree char *why = NULL;
		out[id] = au_cluster_parse_addr(v, &why);
		if (!out[id])
			return au_keys_fail(K, group, keys[i], "'%s': %s", v, why);
		text[id] = g_strdup(v);
	}
	for (uint32_t n = 1; n <= c->nodes; n++) {
		if (required && !out[n])
			return au_keys_fail(K, group, NULL,
					    "no address for n%u (every node n1..n%u needs one)", n,
					    c->nodes);
		for (uint32_t m = 1; m < n; m++) {
			if (out[n] && out[m] &&
			    g_inet_socket_address_get_port(out[n]) == g_inet_socket_address_get_port(out[m]) &&
			    g_inet_address_equal(g_inet_socket_address_get_address(out[n]),
						 g_inet_socket_address_get_address(out[m]))) {
				g_autofree char *k = g_strdup_printf("n%u", n);
				return au_keys_fail(K, group, k,
						    "'%s' is the same address as n%u = %s: a host is listed "
						    "twice (every node needs its own address)",
						    text[n], m, text[m]);
			}
		}
	}
	return true;
}

static bool load_key(struct au_cluster *c, struct au_keys *K)
{
	static const char *const keys[] = {"key_file", "quarantine_after", "quarantine_for", "identity_file", NULL};
	if (!g_key_file_has_group(K->kf, "auth"))
		return au_keys_fail(K, "auth", NULL, "missing group: give key_file = PATH (make one "
						     "with aureon-ctl keygen PATH)");
	if (!au_keys_only(K, "auth", keys, NULL))
		return false;
	g_autofree char *kfile = au_keys_value(K, "auth", "key_file");
	if (!kfile || !*kfile)
		return au_keys_fail(K, "auth", "key_file", "missing (the path of the cluster key)");
	g_autofree char *dir = g_path_get_dirname(c->path);
	c->key_path = g_path_is_absolute(kfile) ? g_strdup(kfile) : g_build_filename(dir, kfile, NULL);
	g_autofree char *ifile = au_keys_value(K, "auth", "identity_file");
	if (ifile && !*ifile)
		return au_keys_fail(K, "auth", "identity_file", "empty (a path; %%n stands for the node's name)");
	if (ifile)
		c->identity_file = g_path_is_absolute(ifile) ? g_strdup(ifile) : g_build_filename(dir, ifile, NULL);
	struct stat st;
	if (stat(c->key_path, &st) != 0)
		return au_keys_fail(K, "auth", "key_file", "%s: %s", c->key_path, g_strerror(errno));
	if (st.st_mode & 077)
		return au_keys_fail(K, "auth", "key_file",
				    "%s is readable or writable by group or others (mode %03o); "
				    "chmod 600 it: whoever reads the key can speak for the cluster",
				    c->key_path, (unsigned)(st.st_mode & 0777));
	g_autofree char *text = NULL;
	g_autoptr(GError) gerr = NULL;
	if (!g_file_get_contents(c->key_path, &text, NULL, &gerr))
		return au_keys_fail(K, "auth", "key_file", "%s", gerr->message);
	const char *why = NULL;
	c->key = au_pkt_parse_key_text(text, &c->key_len, &why);
	memset(text, 0, strlen(text));
	if (!c->key)
		return au_keys_fail(K, "auth", "key_file", "%s: %s", c->key_path, why);
	c->quar.after = AU_QUAR_AFTER_DEFAULT;
	c->quar.period = AU_QUAR_PERIOD_DEFAULT;
	g_autofree char *after = au_keys_value(K, "auth", "quarantine_after");
	uint64_t a;
	if (after && (!au_parse_u64(after, &a) || a < 1 || a > 1000000))
		return au_keys_fail(K, "auth", "quarantine_after",
				    "'%s': the number of invalid proofs in a row that quarantine a "
				    "member, 1..1000000",
				    after);
	if (after)
		c->quar.after = (uint32_t)a;
	g_autofree char *period = au_keys_value(K, "auth", "quarantine_for");
	if (period && (!au_parse_duration(period, &c->quar.period) || c->quar.period < AU_NS_PER_MS ||
		       c->quar.period > 3600 * AU_NS_PER_S))
		return au_keys_fail(K, "auth", "quarantine_for",
				    "'%s': a duration from 1ms to 1h (e.g. 5s)", period);
	return true;
}

/* [identities]: every node's public key, or `revoked` (identity.h). */
static bool load_identities(struct au_cluster *c, struct au_keys *K)
{
	if (!g_key_file_has_group(K->kf, "identities"))
		return true;
	c->pub = g_malloc0(sizeof(*c->pub) * (c->nodes + 1));
	c->revoked = g_new0(bool, c->nodes + 1);
	bool *seen = g_newa(bool, c->nodes + 1);
	memset(seen, 0, sizeof(bool) * (c->nodes + 1));
	g_auto(GStrv) keys = g_key_file_get_keys(K->kf, "identities", NULL, NULL);
	for (gsize i = 0; keys && keys[i]; i++) {
		au_node_id id;
		if (!au_parse_node(keys[i], c->nodes, &id))
			return au_keys_fail(K, "identities", keys[i], "not a node of this cluster (n1..n%u)",
					    c->nodes);
		g_autofree char *v = au_keys_value(K, "identities", keys[i]);
		const char *why = NULL;
		seen[id] = true;
		if (v && strcmp(g_strstrip(v), "revoked") == 0) {
			c->revoked[id] = true;
			continue;
		}
		if (!v || !au_ident_parse_public(v, c->pub[id], &why))
			return au_keys_fail(K, "identities", keys[i], "'%s': %s, or 'revoked'", v ? v : "", why);
		for (au_node_id m = 1; m <= c->nodes; m++)
			if (m != id && seen[m] && !c->revoked[m] && memcmp(c->pub[m], c->pub[id], AU_IDENT_KEY) == 0)
				return au_keys_fail(K, "identities", keys[i],
						    "the same public key as n%u: every node needs its own "
						    "key pair (aureon-ctl keygen --identity FILE)",
						    m);
	}
	for (au_node_id n = 1; n <= c->nodes; n++)
		if (!seen[n])
			return au_keys_fail(K, "identities", NULL,
					    "no public key for n%u: give every node n1..n%u its key "
					    "(aureon-ctl keygen --identity FILE prints it) or 'revoked'",
					    n, c->nodes);
	return true;
}

/* Every group is [cluster], ours, or a running service's. */
static bool check_groups(struct au_cluster *c, struct au_keys *K)
{
	g_auto(GStrv) groups = g_key_file_get_groups(K->kf, NULL);
	for (gsize i = 0; groups[i]; i++) {
		bool ok = strcmp(groups[i], "cluster") == 0;
		for (const char *const *o = own_groups; *o; o++)
			ok = ok || strcmp(*o, groups[i]) == 0;
		int svc = ok ? 1 : au_cluster_spec_service_group(K, &c->spec, groups[i]);
		if (svc < 0)
			return false;
		if (svc == 0)
			return au_keys_fail(K, groups[i], NULL, "unknown group (known: cluster, hosts, "
								"http, auth, identities, and one per service)");
	}
	return true;
}

static bool load(struct au_cluster *c, struct au_keys *K)
{
	g_autoptr(GError) gerr = NULL;
	g_autofree char *text = NULL;
	if (!g_file_get_contents(c->path, &text, NULL, &gerr))
		return au_keys_fail(K, NULL, NULL, "cannot read cluster file: %s", gerr->message);
	if (!g_utf8_validate(text, -1, NULL))
		return au_keys_fail(K, NULL, NULL, "not UTF-8 text");
	if (!au_keys_load_text(K, text))
		return false;
	/* A simulation-only group is the first thing to say; then [cluster]
	 * and the services' groups, read as in a scenario. */
	g_auto(GStrv) groups = g_key_file_get_groups(K->kf, NULL);
	for (gsize i = 0; groups[i]; i++) {
		bool sim_only = g_str_has_prefix(groups[i], "fault.");
		for (const char *const *s = sim_only_groups; *s; s++)
			sim_only = sim_only || strcmp(*s, groups[i]) == 0;
		if (sim_only)
			return au_keys_fail(K, groups[i], NULL,
					    "a simulation-only group: aureon-node runs on the real "
					    "network, disks and clocks (remove it from the cluster file)");
	}
	/* A node written twice in [hosts] or [http] (even across two groups of
	 * that name) was refused by au_keys_load_text, naming both lines. */
	if (!au_cluster_spec_load(K, &c->spec) || !check_groups(c, K))
		return false;
	for (uint32_t i = 0; i < c->spec.n_services; i++)
		if (!au_cluster_spec_load_service(K, &c->spec, i))
			return false;
	c->nodes = c->spec.nodes;
	c->metrics_period = AU_NS_PER_S;
	if (c->nodes > 4096)
		return au_keys_fail(K, "cluster", "nodes", "aureon-node runs clusters of up to 4096 nodes");
	c->host = g_new0(GInetSocketAddress *, c->nodes + 1);
	c->host_text = g_new0(char *, c->nodes + 1);
	c->http = g_new0(GInetSocketAddress *, c->nodes + 1);
	c->http_text = g_new0(char *, c->nodes + 1);
	if (!load_addrs(c, K, "hosts", true, c->host, c->host_text) ||
	    !load_addrs(c, K, "http", false, c->http, c->http_text) || !load_key(c, K) ||
	    !load_identities(c, K))
		return false;
	/* One socket family per cluster: a node has one UDP socket. */
	GSocketFamily fam = g_socket_address_get_family(G_SOCKET_ADDRESS(c->host[1]));
	for (uint32_t n = 2; n <= c->nodes; n++) {
		if (g_socket_address_get_family(G_SOCKET_ADDRESS(c->host[n])) != fam) {
			g_autofree char *k = g_strdup_printf("n%u", n);
			return au_keys_fail(K, "hosts", k, "mixes IPv4 and IPv6 addresses; use one family");
		}
	}
	return true;
}

struct au_cluster *au_cluster_load(const char *path, char **err)
{
	struct au_cluster *c = g_new0(struct au_cluster, 1);
	c->path = g_strdup(path);
	struct au_keys K = {.path = c->path, .kf = g_key_file_new()};
	bool ok = load(c, &K);
	g_key_file_free(K.kf);
	if (!ok) {
		*err = K.err;
		au_cluster_free(c);
		return NULL;
	}
	return c;
}

char *au_cluster_identity_path(const struct au_cluster *c, au_node_id id)
{
	if (!c->identity_file)
		return NULL;
	g_autofree char *name = g_strdup_printf("n%u", id);
	GString *s = g_string_new(NULL);
	for (const char *p = c->identity_file; *p; p++) {
		if (p[0] == '%' && p[1] == 'n') {
			g_string_append(s, name);
			p++;
		} else {
			g_string_append_c(s, *p);
		}
	}
	return g_string_free(s, FALSE);
}

void au_cluster_free(struct au_cluster *c)
{
	if (!c)
		return;
	for (uint32_t n = 0; c->host && n <= c->nodes; n++) {
		if (c->host[n])
			g_object_unref(c->host[n]);
		if (c->http[n])
			g_object_unref(c->http[n]);
		g_free(c->host_text[n]);
		g_free(c->http_text[n]);
	}
	g_free(c->host);
	g_free(c->host_text);
	g_free(c->http);
	g_free(c->http_text);
	if (c->key) {
		memset(c->key, 0, c->key_len);
		g_free(c->key);
	}
	g_free(c->key_path);
	g_free(c->pub);
	g_free(c->revoked);
	g_free(c->identity_file);
	au_cluster_spec_clear(&c->spec);
	g_free(c->path);
	g_free(c);
}
