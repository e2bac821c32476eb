/* http.c — /metrics, /health, /ready, /status, /peers, /queue_stats and
 * /checkpoint_state over libsoup-3.0 (see http.h). */
#include "http.h"

#include <libsoup/soup.h>
#include <string.h>

#include "execctl.h"
#include "modelview.h"


struct au_http {
	SoupServer *server;
	struct au_node *node;
};

/* Service-specific JSON for /queue_stats and /checkpoint_state: a row
 * names a service and functions that read its state through the model's
 * public header and append one JSON value to `out`. */
struct au_http_hook {
	const char *service;
	void (*queue_stats)(struct au_node *n, void *state, GString *out);
	void (*checkpoint_state)(struct au_node *n, void *state, GString *out);
};
static const struct au_http_hook hooks[] = {
	{"aureon", au_execctl_queue_json, au_execctl_checkpoint_json}, /* the execution layer */
	{NULL, NULL, NULL}, /* end of table */
};

static const char *role_name(int role)
{
	static const char *const names[] = {"follower", "pre-candidate", "candidate", "leader"};
	return role >= 0 && role <= 3 ? names[role] : "none";
}

/* Append `text` as a JSON string (quotes, backslashes, control bytes escaped). */
static void json_str(GString *o, const char *text)
{
	g_string_append_c(o, '"');
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(o, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(o, "\\u%04x", *p);
		else
			g_string_append_c(o, (char)*p);
	}
	g_string_append_c(o, '"');
}

void au_http_status_json(struct au_node *n, GString *o)
{
	struct au_node_status st;
	au_node_get_status(n, &st);
	g_string_append_printf(o, "{\"node\": \"n%u\", \"nodes\": %u, \"epoch\": %" G_GUINT64_FORMAT
				  ", \"uptime_ns\": %" G_GINT64_FORMAT,
			       st.id, st.nodes, st.epoch, st.uptime_ns);
	g_string_append_printf(o, ", \"storage\": {\"can_persist\": %s, \"raft_out_of_service\": %s",
			       st.storage_failing ? "false" : "true", st.raft_out_of_service ? "true" : "false");
	if (st.storage_failing) {
		g_string_append_printf(o, ", \"failing_since_ns\": %" G_GINT64_FORMAT ", \"last_error\": ",
				       st.storage_failing_ns);
		json_str(o, st.storage_error);
	}
	g_string_append(o, "}, \"auth\": ");
	json_str(o, st.auth); /* members seen with a wrong or revoked key (identity.h) */
	if (st.has_raft) {
		g_string_append_printf(o, ", \"raft\": {\"role\": \"%s\", \"term\": %" G_GUINT64_FORMAT
					  ", \"leader\": %s%u%s, \"commit_index\": %" G_GUINT64_FORMAT
					  ", \"applied_index\": %" G_GUINT64_FORMAT ", \"last_index\": %" G_GUINT64_FORMAT
					  ", \"voters\": [",
				       role_name(st.role), st.term, st.leader ? "\"n" : "", st.leader,
				       st.leader ? "\"" : "", st.commit, st.applied, st.last_index);
		bool first = true;
		for (unsigned v = 1; v < 64; v++) {
			if (st.voters & (UINT64_C(1) << v)) {
				g_string_append_printf(o, "%s\"n%u\"", first ? "" : ", ", v);
				first = false;
			}
		}
		g_string_append_printf(o, "], \"voters_from\": \"%s\"}",
				       st.voters_known ? "log" : "initial configuration");
	}
	g_string_append(o, "}\n");
}

gboolean au_http_ready(struct au_node *n, const char **why)
{
	struct au_node_status st;
	au_node_get_status(n, &st);
	if (st.raft_out_of_service) {
		*why = "raft is out of service: its storage failed (see /metrics aureon_storage_*)";
		return FALSE;
	}
	if (st.storage_failing) {
		*why = "cannot persist: a storage write or sync failed and none has succeeded since";
		return FALSE;
	}
	if (!st.has_raft) {
		*why = "no raft service on this node: there is no cluster to be a member of";
		return FALSE;
	}
	if (!(st.voters & (UINT64_C(1) << st.id))) {
		*why = "not a voter in the configuration in effect";
		return FALSE;
	}
	if (!st.leader) {
		*why = "no leader known";
		return FALSE;
	}
	*why = NULL;
	return TRUE;
}

static void respond(SoupServerMessage *msg, guint status, const char *type, GString *body)
{
	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, body->str, body->len);
}

/* /queue_stats and /checkpoint_state: each service with a hook answers;
 * without any, say plainly that nothing on this node keeps that state. */
static void hooked(struct au_node *n, bool queue, GString *o)
{
	g_string_append_printf(o, "{\"node\": \"n%u\"", au_node_id_of(n));
	bool any = false;
	for (const struct au_http_hook *h = hooks; h->service; h++) {
		void (*fn)(struct au_node *, void *, GString *) = queue ? h->queue_stats : h->checkpoint_state;
		void *state = au_node_service_state(n, h->service);
		if (!fn || !state)
			continue;
		g_string_append_printf(o, ", \"%s\": ", h->service);
		fn(n, state, o);
		any = true;
	}
	if (!any)
		g_string_append_printf(o, ", \"available\": false, \"reason\": \"no service on this node "
					  "keeps %s: add aureon to [cluster] services\"",
				       queue ? "a task queue" : "checkpoints");
	g_string_append(o, "}\n");
}

static void handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
		    gpointer data)
{
	struct au_http *h = data;
	(void)server;
	(void)query;
	g_autoptr(GString) body = g_string_new(NULL);
	const char *method = soup_server_message_get_method(msg);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		g_string_append(body, "only GET\n");
		respond(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain", body);
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		au_node_render_metrics(h->node, body);
		respond(msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", body);
	} else if (strcmp(path, "/health") == 0) {
		g_string_append_printf(body, "{\"status\": \"ok\", \"node\": \"n%u\"}\n", au_node_id_of(h->node));
		respond(msg, SOUP_STATUS_OK, "application/json", body);
	} else if (strcmp(path, "/ready") == 0) {
		const char *why;
		gboolean ok = au_http_ready(h->node, &why);
		if (ok)
			g_string_append_printf(body, "{\"ready\": true, \"node\": \"n%u\"}\n", au_node_id_of(h->node));
		else
			g_string_append_printf(body, "{\"ready\": false, \"node\": \"n%u\", \"reason\": \"%s\"}\n",
					       au_node_id_of(h->node), why);
		respond(msg, ok ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE, "application/json", body);
	} else if (strcmp(path, "/status") == 0) {
		au_http_status_json(h->node, body);
		respond(msg, SOUP_STATUS_OK, "application/json", body);
	} else if (strcmp(path, "/peers") == 0) {
		au_modelview_peers_json(h->node, body);
		respond(msg, SOUP_STATUS_OK, "application/json", body);
	} else if (strcmp(path, "/queue_stats") == 0 || strcmp(path, "/checkpoint_state") == 0) {
		hooked(h->node, strcmp(path, "/queue_stats") == 0, body);
		respond(msg, SOUP_STATUS_OK, "application/json", body);
	} else {
		g_string_append(body, "not found; try /metrics /health /ready /status /peers /queue_stats "
				      "/checkpoint_state\n");
		respond(msg, SOUP_STATUS_NOT_FOUND, "text/plain", body);
	}
}

struct au_http *au_http_start(struct au_node *n, GInetSocketAddress *addr, char **err)
{
	struct au_http *h = g_new0(struct au_http, 1);
	h->node = n;
	h->server = soup_server_new("server-header", "aureon-node/0.1.0", NULL);
	soup_server_add_handler(h->server, NULL, handler, h, NULL);
	g_autoptr(GError) gerr = NULL;
	if (!soup_server_listen(h->server, G_SOCKET_ADDRESS(addr), 0, &gerr)) {
		*err = g_strdup_printf("cannot listen for HTTP: %s", gerr->message);
		au_http_stop(h);
		return NULL;
	}
	return h;
}

void au_http_stop(struct au_http *h)
{
	if (!h)
		return;
	soup_server_disconnect(h->server);
	g_object_unref(h->server);
	g_free(h);
}
