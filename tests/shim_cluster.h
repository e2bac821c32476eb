/* shim_cluster.h — helpers for tests that run aureon-node and aureon-ctl as
 * real processes: temporary directories and cluster files, free loopback
 * ports, starting and killing nodes (they die with the test), aureon-ctl,
 * HTTP GETs and /metrics values.  Only 127.0.0.1 is used. */
#ifndef AU_TESTS_SHIM_CLUSTER_H
#define AU_TESTS_SHIM_CLUSTER_H

#include <check.h>
#include <gio/gio.h>
#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

#define SHIM_CLUSTER_MAX 4

struct cluster_run {
	int nodes;
	char *dir, *ini;
	uint16_t udp[SHIM_CLUSTER_MAX + 1], http[SHIM_CLUSTER_MAX + 1];
	pid_t pid[SHIM_CLUSTER_MAX + 1];
	int restarts[SHIM_CLUSTER_MAX + 1];
};

extern struct cluster_run *running; /* for the teardown */

char *make_tmpdir(void);
void write_text(const char *path, const char *text, int mode);
void rm_rf(const char *dir);
/* Write DIR/cluster.ini (body as given) and its key DIR/cluster.key. */
char *write_cluster(const char *dir, const char *body);
uint16_t free_port(GSocketType type);
void start_node(struct cluster_run *r, int i);
void kill_node(struct cluster_run *r, int i, int sig);
/* Stop every node of `running` and remove its directory (a Check fixture). */
void cluster_teardown(void);
/* Run aureon-ctl --config r->ini ARGS; its exit code, stdout in *out. */
int ctl(struct cluster_run *r, const char *args, char **out);
/* The leader per `aureon-ctl status --json`, 0 if none; its term in *term. */
int leader_of(struct cluster_run *r, uint64_t *term);
/* GET http://127.0.0.1:port/path; the body, or NULL. */
char *http_get(uint16_t port, const char *path, int *status);
/* The value of an unlabelled metric in a /metrics body (UINT64_MAX: none). */
uint64_t metric(const char *text, const char *name);
void send_raw(uint16_t port, const void *buf, size_t len);
/* The applied index node i reports on /status, or -1. */
int64_t applied_of(struct cluster_run *r, int i);
/* A 3-node cluster on free loopback ports, all started. */
struct cluster_run *start_cluster(const char *services, const char *extra);
/* `nodes` in [hosts], n1..n`started` started and the initial voters
 * ([raft] voters = started when fewer than all). */
struct cluster_run *start_cluster_n(int nodes, int started, const char *services, const char *extra);

#endif
