/* node_main.c — the aureon-node command line: load the cluster file, open
 * the data directory, start the services and the HTTP endpoints, run the
 * GLib main loop until SIGTERM or SIGINT. */
#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "config/values.h"
#include "http.h"
#include "node.h"

#define AUREON_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const char *const usage =
	"usage: aureon-node --config CLUSTER.ini --id nK [options]\n"
	"\n"
	"Runs node nK of the cluster described by CLUSTER.ini: the services of its\n"
	"[cluster] group (e.g. raft,kv) over UDP at its [hosts] address, with durable\n"
	"files under --data, and HTTP endpoints at its [http] address if it has one.\n"
	"\n"
	"  --config FILE     the cluster file (see docs/shim.md)\n"
	"  --id nK           which node this process is\n"
	"  --data DIR        data directory (default: ./aureon-data/nK); created if\n"
	"                    missing; one node per directory, locked while running\n"
	"  --seed N          seed the services' random streams with N instead of the\n"
	"                    OS (reproducible timeouts, for tests)\n"
	"  --identity FILE   this node's identity secret key, with [identities] in\n"
	"                    the cluster file (default: [auth] identity_file, else\n"
	"                    DATA/identity.key)\n"
	"  --trace-log FILE  write every trace event and table row as a text line\n"
	"  --record DIR      append every input of the models (datagrams, timers,\n"
	"                    sync outcomes, storage answers, clock readings) to a log\n"
	"                    in DIR, for `aureon-sim replay DIR` (docs/replay.md)\n"
	"  --record-max-bytes SIZE  start a new log segment past SIZE (default 64MiB)\n"
	"  --quiet           log only errors\n"
	"  --help, --version\n"
	"\n"
	"Stops cleanly on SIGTERM or SIGINT.  Exit codes: 0 stopped by a signal,\n"
	"1 fatal runtime error (e.g. a failed fsync), 2 usage, configuration or I/O\n"
	"error at startup.\n";

static int usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "aureon-node: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n\n%s", usage);
	va_end(ap);
	return EXIT_USAGE;
}

static gboolean on_signal(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
	const char *config = NULL, *id_text = NULL, *data = NULL, *trace_path = NULL, *identity = NULL;
	const char *record_dir = NULL;
	uint64_t record_max = 0;
	bool have_seed = false, quiet = false;
	uint64_t seed = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_arg = i + 1 < argc;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			printf("aureon-node %s\n", AUREON_VERSION);
			return EXIT_OK;
		} else if (strcmp(a, "--config") == 0 && has_arg) {
			config = argv[++i];
		} else if (strcmp(a, "--id") == 0 && has_arg) {
			id_text = argv[++i];
		} else if (strcmp(a, "--data") == 0 && has_arg) {
			data = argv[++i];
		} else if (strcmp(a, "--identity") == 0 && has_arg) {
			identity = argv[++i];
		} else if (strcmp(a, "--trace-log") == 0 && has_arg) {
			trace_path = argv[++i];
		} else if (strcmp(a, "--record") == 0 && has_arg) {
			record_dir = argv[++i];
		} else if (strcmp(a, "--record-max-bytes") == 0 && has_arg) {
			if (!au_parse_bytes(argv[++i], &record_max) || record_max < 4096)
				return usage_error("--record-max-bytes needs a size of at least 4096 bytes "
						   "(e.g. 64MiB), not '%s'", argv[i]);
		} else if (strcmp(a, "--seed") == 0 && has_arg) {
			char *end;
			errno = 0;
			seed = g_ascii_strtoull(argv[++i], &end, 10);
			if (errno || *end || !g_ascii_isdigit(argv[i][0]))
				return usage_error("--seed needs a non-negative integer, not '%s'", argv[i]);
			have_seed = true;
		} else if (strcmp(a, "--quiet") == 0) {
			quiet = true;
		} else if (g_str_has_prefix(a, "--") && !has_arg &&
			   (strcmp(a, "--config") == 0 || strcmp(a, "--id") == 0 || strcmp(a, "--data") == 0 ||
			    strcmp(a, "--trace-log") == 0 || strcmp(a, "--seed") == 0 ||
			    strcmp(a, "--identity") == 0 || strcmp(a, "--record") == 0 ||
			    strcmp(a, "--record-max-bytes") == 0)) {
			return usage_error("%s needs a value", a);
		} else {
			return usage_error("unknown argument '%s'", a);
		}
	}
	if (!config)
		return usage_error("--config CLUSTER.ini is required");
	if (!id_text)
		return usage_error("--id nK is required");

	char *err = NULL;
	struct au_cluster *c = au_cluster_load(config, &err);
	if (!c) {
		fprintf(stderr, "aureon-node: %s\n", err);
		g_free(err);
		return EXIT_USAGE;
	}
	au_node_id id;
	if (!au_parse_node(id_text, c->nodes, &id)) {
		uint32_t nodes = c->nodes;
		au_cluster_free(c);
		return usage_error("--id '%s' is not a node of %s (n1..n%u)", id_text, config, nodes);
	}
	g_autofree char *data_dir = data ? g_strdup(data) : g_strdup_printf("aureon-data/n%u", id);
	FILE *trace_log = NULL;
	if (trace_path) {
		trace_log = fopen(trace_path, "a");
		if (!trace_log) {
			fprintf(stderr, "aureon-node: --trace-log %s: %s\n", trace_path, g_strerror(errno));
			au_cluster_free(c);
			return EXIT_USAGE;
		}
		setvbuf(trace_log, NULL, _IOLBF, 0);
	}
	struct au_node_opts o = {
		.cluster = c,
		.id = id,
		.data_dir = data_dir,
		.have_seed = have_seed,
		.seed = seed,
		.trace_log = trace_log,
		.quiet = quiet,
		.identity_file = identity,
		.record_dir = record_dir,
		.record_max_bytes = record_max,
	};
	struct au_node *n = au_node_new(&o, &err);
	if (!n) {
		fprintf(stderr, "aureon-node n%u: %s\n", id, err);
		g_free(err);
		au_cluster_free(c);
		if (trace_log)
			fclose(trace_log);
		return EXIT_USAGE;
	}
	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	struct au_http *http = NULL;
	if (c->http[id]) {
		http = au_http_start(n, c->http[id], &err);
		if (!http) {
			fprintf(stderr, "aureon-node n%u: [http] n%u = %s: %s\n", id, id, c->http_text[id], err);
			g_free(err);
			au_node_free(n);
			au_cluster_free(c);
			g_main_loop_unref(loop);
			return EXIT_USAGE;
		}
	}
	au_node_start(n);
	if (!quiet)
		fprintf(stderr, "aureon-node n%u: running %s%s%s\n", id, c->path,
			http ? ", HTTP on " : "", http ? c->http_text[id] : "");
	guint sig_term = g_unix_signal_add(SIGTERM, on_signal, loop);
	guint sig_int = g_unix_signal_add(SIGINT, on_signal, loop);
	g_main_loop_run(loop);
	g_source_remove(sig_term);
	g_source_remove(sig_int);
	if (!quiet)
		fprintf(stderr, "aureon-node n%u: stopping\n", id);
	au_http_stop(http);
	/* Let libsoup finish closing its connections (idle callbacks). */
	for (int i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++)
		;
	au_node_free(n);
	au_cluster_free(c);
	g_main_loop_unref(loop);
	if (trace_log)
		fclose(trace_log);
	return EXIT_OK;
}
