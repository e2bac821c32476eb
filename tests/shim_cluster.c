/* shim_cluster.c — helpers for tests that run aureon-node and aureon-ctl as
 * real processes on 127.0.0.1 (see shim_cluster.h). */
#include "shim_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests.h"

char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/aureon-shim-XXXXXX";
	ck_assert(mkdtemp(tmpl));
	return g_strdup(tmpl);
}

void write_text(const char *path, const char *text, int mode)
{
	GError *err = NULL;
	ck_assert_msg(g_file_set_contents(path, text, -1, &err), "%s", err ? err->message : "");
	chmod(path, (mode_t)mode);
}

void rm_rf(const char *dir)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *const key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

/* Write cluster.ini (with `extra` appended) and its key into dir. */
char *write_cluster(const char *dir, const char *body)
{
	g_autofree char *key = g_build_filename(dir, "cluster.key", NULL);
	write_text(key, key_hex, 0600);
	char *ini = g_build_filename(dir, "cluster.ini", NULL);
	write_text(ini, body, 0644);
	return ini;
}

/* ---- a real cluster on 127.0.0.1 ------------------------------------------------ */


struct cluster_run *running; /* for the teardown */

/* A port the kernel just gave a socket bound to port 0, then closed.  The
 * kernel may hand the same port out again at once, so the ports this
 * process already returned are remembered and never returned twice (a
 * cluster file listing one address twice is an error the nodes refuse). */
uint16_t free_port(GSocketType type)
{
	static uint16_t given[256];
	static unsigned n_given;
	for (int attempt = 0; attempt < 64; attempt++) {
		GSocket *s = g_socket_new(G_SOCKET_FAMILY_IPV4, type, 0, NULL);
		ck_assert(s);
		GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
		GSocketAddress *a = g_inet_socket_address_new(lo, 0);
		ck_assert(g_socket_bind(s, a, FALSE, NULL));
		GSocketAddress *got = g_socket_get_local_address(s, NULL);
		uint16_t port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(got));
		g_object_unref(got);
		g_object_unref(a);
		g_object_unref(lo);
		g_object_unref(s);
		bool seen = false;
		for (unsigned i = 0; i < n_given && i < G_N_ELEMENTS(given); i++)
			seen = seen || given[i] == port;
		if (!seen) {
			given[n_given++ % G_N_ELEMENTS(given)] = port;
			return port;
		}
	}
	ck_abort_msg("no fresh loopback port in 64 tries");
	return 0;
}

void start_node(struct cluster_run *r, int i)
{
	g_autofree char *id = g_strdup_printf("n%d", i);
	g_autofree char *data = g_strdup_printf("%s/data-n%d", r->dir, i);
	g_autofree char *log = g_strdup_printf("%s/n%d.log", r->dir, i);
	g_autofree char *trace = g_strdup_printf("%s/n%d.trace.%d", r->dir, i, r->restarts[i]);
	g_autofree char *bin = g_strdup_printf("%s/aureon-node", au_test_bin());
	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		/* The node dies with the test, whatever way the test ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* --seed: the same election timeouts every run (the network's
		 * timing still varies). */
		execl(bin, bin, "--config", r->ini, "--id", id, "--data", data, "--trace-log", trace,
		      "--seed", "42", (char *)NULL);
		_exit(127);
	}
	r->pid[i] = pid;
	r->restarts[i]++;
}

void kill_node(struct cluster_run *r, int i, int sig)
{
	if (r->pid[i] <= 0)
		return;
	kill(r->pid[i], sig);
	int st;
	if (sig == SIGKILL) {
		waitpid(r->pid[i], &st, 0);
	} else {
		for (int t = 0; t < 300; t++) {
			if (waitpid(r->pid[i], &st, WNOHANG) == r->pid[i])
				goto reaped;
			g_usleep(10000);
		}
		kill(r->pid[i], SIGKILL);
		waitpid(r->pid[i], &st, 0);
	}
reaped:
	r->pid[i] = 0;
}

void cluster_teardown(void)
{
	if (!running)
		return;
	for (int i = 1; i <= running->nodes; i++)
		kill_node(running, i, SIGTERM);
	if (getenv("AU_KEEP_SHIM_DIR"))
		fprintf(stderr, "shim test files kept in %s\n", running->dir);
	else
		rm_rf(running->dir);
	g_free(running->dir);
	g_free(running->ini);
	g_free(running);
	running = NULL;
}

int ctl(struct cluster_run *r, const char *args, char **out)
{
	g_autofree char *cmd = g_strdup_printf("%s/aureon-ctl --config %s %s", au_test_bin(), r->ini, args);
	return au_test_run(cmd, out);
}

/* The leader per `aureon-ctl status --json`, 0 if none; its term in *term. */
int leader_of(struct cluster_run *r, uint64_t *term)
{
	char *out = NULL;
	int rc = ctl(r, "status --json 2>/dev/null", &out);
	int leader = 0;
	const char *p = strstr(out, "\"leader\": \"n");
	if (rc == 0 && p) {
		leader = atoi(p + strlen("\"leader\": \"n"));
		const char *t = strstr(out, "\"term\": ");
		if (term && t)
			*term = g_ascii_strtoull(t + strlen("\"term\": "), NULL, 10);
	}
	g_free(out);
	return leader;
}

/* GET http://127.0.0.1:port/path; the body, or NULL. */
char *http_get(uint16_t port, const char *path, int *status)
{
	GSocketClient *cl = g_socket_client_new();
	g_socket_client_set_timeout(cl, 5);
	GSocketConnection *conn = g_socket_client_connect_to_host(cl, "127.0.0.1", port, NULL, NULL);
	g_object_unref(cl);
	if (!conn)
		return NULL;
	g_autofree char *req = g_strdup_printf("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	GOutputStream *os = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	GInputStream *is = g_io_stream_get_input_stream(G_IO_STREAM(conn));
	g_output_stream_write_all(os, req, strlen(req), NULL, NULL, NULL);
	GString *resp = g_string_new(NULL);
	char buf[4096];
	gssize n;
	while ((n = g_input_stream_read(is, buf, sizeof(buf), NULL, NULL)) > 0)
		g_string_append_len(resp, buf, n);
	g_object_unref(conn);
	char *body = strstr(resp->str, "\r\n\r\n");
	*status = resp->len > 12 ? atoi(resp->str + 9) : 0;
	char *ret = body ? g_strdup(body + 4) : NULL;
	g_string_free(resp, TRUE);
	return ret;
}

uint64_t metric(const char *text, const char *name)
{
	const char *p = text;
	size_t nl = strlen(name);
	while ((p = strstr(p, name))) {
		if ((p == text || p[-1] == '\n') && p[nl] == ' ')
			return g_ascii_strtoull(p + nl + 1, NULL, 10);
		p += nl;
	}
	return UINT64_MAX;
}

void send_raw(uint16_t port, const void *buf, size_t len)
{
	GSocket *s = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
	GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	GSocketAddress *a = g_inet_socket_address_new(lo, port);
	ck_assert(g_socket_send_to(s, a, buf, len, NULL, NULL) == (gssize)len);
	g_object_unref(a);
	g_object_unref(lo);
	g_object_unref(s);
}

/* The applied index node i reports on /status, or -1. */
int64_t applied_of(struct cluster_run *r, int i)
{
	int status = 0;
	g_autofree char *body = http_get(r->http[i], "/status", &status);
	const char *p = body ? strstr(body, "\"applied_index\": ") : NULL;
	return p ? (int64_t)g_ascii_strtoull(p + strlen("\"applied_index\": "), NULL, 10) : -1;
}

/* Write a 3-node cluster file on free loopback ports (services and any
 * extra groups as given) and start the nodes. */
struct cluster_run *start_cluster(const char *services, const char *extra)
{
	return start_cluster_n(3, 3, services, extra);
}

struct cluster_run *start_cluster_n(int nodes, int started, const char *services, const char *extra)
{
	ck_assert(nodes >= 1 && nodes <= SHIM_CLUSTER_MAX && started >= 1 && started <= nodes);
	struct cluster_run *r = g_new0(struct cluster_run, 1);
	running = r;
	r->nodes = nodes;
	r->dir = make_tmpdir();
	g_autofree char *voters = started < nodes ? g_strdup_printf("voters = %d\n", started) : g_strdup("");
	GString *ini = g_string_new(NULL);
	g_string_append_printf(ini, "# written by tests/shim_cluster.c\n[cluster]\nnodes = %d\nservices = %s\n"
				    "[raft]\nelection_timeout = 150ms..300ms\nheartbeat = 50ms\n%s%s[hosts]\n",
			       nodes, services, voters, extra);
	for (int i = 1; i <= nodes; i++) {
		r->udp[i] = free_port(G_SOCKET_TYPE_DATAGRAM);
		r->http[i] = free_port(G_SOCKET_TYPE_STREAM);
		g_string_append_printf(ini, "n%d = 127.0.0.1:%u\n", i, r->udp[i]);
	}
	g_string_append(ini, "[http]\n");
	for (int i = 1; i <= nodes; i++)
		g_string_append_printf(ini, "n%d = 127.0.0.1:%u\n", i, r->http[i]);
	g_string_append(ini, "[auth]\nkey_file = cluster.key\n");
	r->ini = write_cluster(r->dir, ini->str);
	g_string_free(ini, TRUE);
	for (int i = 1; i <= started; i++)
		start_node(r, i);
	return r;
}
