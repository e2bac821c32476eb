/* cluster.c — loading cluster files (see cluster.h).
 *
 * The [cluster] group and the service groups go through the scenario
 * loader unchanged: we hand it the file's text minus our own groups, plus
 * a [run] duration it insists on, so every model key is validated by the
 * same code, with the same messages, as in a scenario.
 */
#include "cluster.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "packet.h"

static const char *const sim_only_groups[] = {"run", "network", "disk", "check", "trace", NULL};

static char *errf(const char *path, const char *group, const char *key, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

static char *errf(const char *path, const char *group, const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (group && key)
		return g_strdup_printf("%s: [%s] %s: %s", path, group, key, msg);
	if (group)
		return g_strdup_printf("%s: [%s]: %s", path, group, msg);
	return g_strdup_printf("%s: %s", path, msg);
}

/* A value with any inline " # comment" removed, as the scenario loader does. */
static char *value(GKeyFile *kf, const char *group, const char *key)
{
	char *v = g_key_file_get_value(kf, group, key, NULL);
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
static bool load_addrs(struct au_cluster *c, GKeyFile *kf, const char *group, bool required,
		       GInetSocketAddress **out, char **text, char **err)
{
	if (!g_key_file_has_group(kf, group)) {
		if (required)
			*err = errf(c->path, group, NULL, "missing group: give every node's address, "
						       "e.g. n1 = 127.0.0.1:7001");
		return !required;
	}
	g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
	for (gsize i = 0; keys && keys[i]; i++) {
		au_node_id id;
		if (!au_parse_node(keys[i], c->nodes, &id)) {
			*err = errf(c->path, group, keys[i], "not a node of this cluster (n1..n%u)",
				    c->nodes);
			return false;
		}
		g_autofree char *v = value(kf, group, keys[i]);
		char *why = NULL;
		out[id] = au_cluster_parse_addr(v, &why);
		if (!out[id]) {
			*err = errf(c->path, group, keys[i], "'%s': %s", v, why);
			g_free(why);
			return false;
		}
		text[id] = g_strdup(v);
	}
	for (uint32_t n = 1; n <= c->nodes; n++) {
		if (required && !out[n]) {
			*err = errf(c->path, group, NULL, "no address for n%u (every node n1..n%u needs one)",
				    n, c->nodes);
			return false;
		}
		for (uint32_t m = 1; m < n; m++) {
			if (out[n] && out[m] &&
			    g_inet_socket_address_get_port(out[n]) == g_inet_socket_address_get_port(out[m]) &&
			    g_inet_address_equal(g_inet_socket_address_get_address(out[n]),
						 g_inet_socket_address_get_address(out[m]))) {
				g_autofree char *k = g_strdup_printf("n%u", n);
				*err = errf(c->path, group, k, "same address as n%u", m);
				return false;
			}
		}
	}
	return true;
}

static bool load_key(struct au_cluster *c, GKeyFile *kf, char **err)
{
	if (!g_key_file_has_group(kf, "auth")) {
		*err = errf(c->path, "auth", NULL, "missing group: give key_file = PATH (make one with "
						   "aureon-ctl keygen PATH)");
		return false;
	}
	g_auto(GStrv) keys = g_key_file_get_keys(kf, "auth", NULL, NULL);
	for (gsize i = 0; keys && keys[i]; i++) {
		if (strcmp(keys[i], "key_file") != 0) {
			*err = errf(c->path, "auth", keys[i], "unknown key (known here: key_file)");
			return false;
		}
	}
	g_autofree char *kfile = value(kf, "auth", "key_file");
	if (!kfile || !*kfile) {
		*err = errf(c->path, "auth", "key_file", "missing (the path of the cluster key)");
		return false;
	}
	if (g_path_is_absolute(kfile)) {
		c->key_path = g_strdup(kfile);
	} else {
		g_autofree char *dir = g_path_get_dirname(c->path);
		c->key_path = g_build_filename(dir, kfile, NULL);
	}
	struct stat st;
	if (stat(c->key_path, &st) != 0) {
		*err = errf(c->path, "auth", "key_file", "%s: %s", c->key_path, g_strerror(errno));
		return false;
	}
	if (st.st_mode & 077) {
		*err = errf(c->path, "auth", "key_file",
			    "%s is readable or writable by group or others (mode %03o); "
			    "chmod 600 it: whoever reads the key can speak for the cluster",
			    c->key_path, (unsigned)(st.st_mode & 0777));
		return false;
	}
	g_autofree char *text = NULL;
	g_autoptr(GError) gerr = NULL;
	if (!g_file_get_contents(c->key_path, &text, NULL, &gerr)) {
		*err = errf(c->path, "auth", "key_file", "%s", gerr->message);
		return false;
	}
	const char *why = NULL;
	c->key = au_pkt_parse_key_text(text, &c->key_len, &why);
	memset(text, 0, strlen(text));
	if (!c->key) {
		*err = errf(c->path, "auth", "key_file", "%s: %s", c->key_path, why);
		return false;
	}
	return true;
}

static bool load(struct au_cluster *c, GKeyFile *kf, char **err)
{
	const char *path = c->path;
	g_autoptr(GError) gerr = NULL;
	g_autofree char *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, &gerr)) {
		*err = g_strdup_printf("%s: cannot read cluster file: %s", path, gerr->message);
		return false;
	}
	if (!g_utf8_validate(text, -1, NULL)) {
		*err = g_strdup_printf("%s: not UTF-8 text", path);
		return false;
	}
	if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE, &gerr)) {
		*err = g_strdup_printf("%s: not a valid key file: %s", path, gerr->message);
		return false;
	}
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
	for (gsize i = 0; groups[i]; i++) {
		bool sim_only = g_str_has_prefix(groups[i], "fault.");
		for (const char *const *s = sim_only_groups; *s; s++)
			sim_only = sim_only || strcmp(*s, groups[i]) == 0;
		if (sim_only) {
			*err = errf(path, groups[i], NULL,
				    "a simulation-only group: aureon-node runs on the real network, disks "
				    "and clocks (remove it from the cluster file)");
			return false;
		}
	}
	/* The scenario loader sees [cluster] and the service groups only. */
	GKeyFile *scen = g_key_file_new();
	g_key_file_load_from_data(scen, text, (gsize)-1, G_KEY_FILE_NONE, NULL);
	g_key_file_remove_group(scen, "hosts", NULL);
	g_key_file_remove_group(scen, "http", NULL);
	g_key_file_remove_group(scen, "auth", NULL);
	g_key_file_set_value(scen, "run", "duration", "1s");
	g_autofree char *scen_text = g_key_file_to_data(scen, NULL, NULL);
	g_key_file_free(scen);
	c->sc = au_scenario_load_text(path, scen_text, err);
	if (!c->sc)
		return false;
	c->nodes = c->sc->nodes;
	if (c->nodes > 4096) {
		*err = errf(path, "cluster", "nodes", "aureon-node runs clusters of up to 4096 nodes");
		return false;
	}
	c->host = g_new0(GInetSocketAddress *, c->nodes + 1);
	c->host_text = g_new0(char *, c->nodes + 1);
	c->http = g_new0(GInetSocketAddress *, c->nodes + 1);
	c->http_text = g_new0(char *, c->nodes + 1);
	if (!load_addrs(c, kf, "hosts", true, c->host, c->host_text, err) ||
	    !load_addrs(c, kf, "http", false, c->http, c->http_text, err) || !load_key(c, kf, err))
		return false;
	/* One socket family per cluster: a node has one UDP socket. */
	GSocketFamily fam = g_socket_address_get_family(G_SOCKET_ADDRESS(c->host[1]));
	for (uint32_t n = 2; n <= c->nodes; n++) {
		if (g_socket_address_get_family(G_SOCKET_ADDRESS(c->host[n])) != fam) {
			g_autofree char *k = g_strdup_printf("n%u", n);
			*err = errf(path, "hosts", k, "mixes IPv4 and IPv6 addresses; use one family");
			return false;
		}
	}
	return true;
}

struct au_cluster *au_cluster_load(const char *path, char **err)
{
	struct au_cluster *c = g_new0(struct au_cluster, 1);
	c->path = g_strdup(path);
	GKeyFile *kf = g_key_file_new();
	bool ok = load(c, kf, err);
	g_key_file_free(kf);
	if (!ok) {
		au_cluster_free(c);
		return NULL;
	}
	return c;
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
	au_scenario_free(c->sc);
	g_free(c->path);
	g_free(c);
}
