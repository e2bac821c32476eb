/* test_shim_e2e.c — issue 16's "done when" as one story on one cluster:
 * three aureon-node processes on 127.0.0.1 running raft, swim, aureon,
 * blob and one with per-node identities, and every step through
 * build/aureon-ctl: a job is submitted and finishes, another is cancelled
 * while it runs, a 16 MiB result is fetched and its digest compared with
 * the SHA-256 of the file computed here, the leader (also the node serving
 * the fetch, and holding a lease of a job without retries) is SIGKILLed
 * mid-fetch and the fetch still ends with the right bytes, a fourth node
 * is added as a voter, another removed, and the dead letter the kill left
 * is listed with its reason and requeued until its job is done.  Each
 * step's time goes to stderr.  The nodes die with the test
 * (PR_SET_PDEATHSIG) and are stopped by the teardown. */
#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob.h"
#include "shim/identity.h"
#include "shim_cluster.h"
#include "tests.h"

#define BIG (16u << 20) /* the result's size: the issue asks for >= 16 MiB */
#define JOB_DONE 301     /* submitted, runs to done */
#define JOB_CANCEL 302   /* cancelled while it runs */
#define JOB_DOOMED 303   /* no retries: the leader's kill fails it */
#define RESULT_JOB 7

static int64_t t_start_us, t_step_us;

/* Print how long the step just finished took (stderr, for the report). */
static void step_done(const char *what)
{
	int64_t now = g_get_monotonic_time();
	fprintf(stderr, "e2e: %-44s %6.2f s (at %6.2f s)\n", what, (double)(now - t_step_us) / 1e6,
		(double)(now - t_start_us) / 1e6);
	t_step_us = now;
}

/* Run aureon-ctl with printf-style arguments; its exit code, stdout and
 * stderr in *out (caller frees). */
static int ctlf(struct cluster_run *r, char **out, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static int ctlf(struct cluster_run *r, char **out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *args = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_autofree char *all = g_strdup_printf("%s 2>&1", args);
	*out = NULL;
	return ctl(r, all, out);
}

struct jobview {
	char state[16];
	unsigned tasks, queued, leased, done, dead;
};

/* `job show JOB` through aureon-ctl, parsed; false if it failed. */
static bool job_show(struct cluster_run *r, unsigned job, struct jobview *v, char **text)
{
	char *out = NULL;
	int rc = ctlf(r, &out, "--timeout 10s job show %u", job);
	g_autofree char *head = g_strdup_printf("job %u: ", job);
	const char *p = out ? strstr(out, head) : NULL;
	bool ok = rc == 0 && p &&
		  sscanf(p + strlen(head), "%15[a-z], %u tasks (%u queued, %u leased, %u done, %u dead)", v->state,
			 &v->tasks, &v->queued, &v->leased, &v->done, &v->dead) == 6;
	if (text)
		*text = out;
	else
		g_free(out);
	return ok;
}

/* The line of `text` that starts with `head`, or NULL (caller frees). */
static char *line_of(const char *text, const char *head)
{
	const char *p = text;
	while (p && *p) {
		if (g_str_has_prefix(p, head)) {
			const char *e = strchr(p, '\n');
			return g_strndup(p, e ? (gsize)(e - p) : strlen(p));
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static void file_sha256_hex(const char *path, char hex[65], gsize *len)
{
	gchar *data = NULL;
	ck_assert_msg(g_file_get_contents(path, &data, len, NULL), "cannot read %s", path);
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(ck, (const guchar *)data, *len);
	g_strlcpy(hex, g_checksum_get_string(ck), 65);
	g_checksum_free(ck);
	g_free(data);
}

static char *write_job(struct cluster_run *r, const char *name, const char *text)
{
	char *path = g_build_filename(r->dir, name, NULL);
	write_text(path, text, 0644);
	return path;
}

/* Four nodes in [hosts] (n4 joins later), n1..n3 the voters; a key pair
 * per node; nothing started. */
static struct cluster_run *e2e_cluster(void)
{
	struct cluster_run *r = g_new0(struct cluster_run, 1);
	running = r;
	r->nodes = 4;
	r->dir = make_tmpdir();
	g_autofree char *keys = g_build_filename(r->dir, "keys", NULL);
	ck_assert_int_eq(g_mkdir(keys, 0700), 0);
	GString *ini = g_string_new(
		"# written by tests/test_shim_e2e.c\n"
		"[cluster]\nnodes = 4\nservices = raft,swim,aureon,blob,one\n"
		"[raft]\nelection_timeout = 150ms..300ms\nheartbeat = 50ms\nvoters = 3\n"
		"[swim]\nprobe_interval = 200ms\nprobe_timeout = 100ms\ngossip_interval = 100ms\n"
		/* 2 running + 1 waiting per node: 3 leases at most on a node */
		"[aureon]\nmax_concurrency = 2\nlocal_queue = 1\nlease = 2s\nrenew = 300ms\n"
		/* a task lasts 2 s whatever its rounds: the leader's lease of job
		 * 303 outlives the time it takes to start the fetch and kill it */
		"[workload]\ntask_cost = const(2s)\n[hosts]\n");
	for (int i = 1; i <= 4; i++) {
		r->udp[i] = free_port(G_SOCKET_TYPE_DATAGRAM);
		r->http[i] = free_port(G_SOCKET_TYPE_STREAM);
		g_string_append_printf(ini, "n%d = 127.0.0.1:%u\n", i, r->udp[i]);
	}
	g_string_append(ini, "[http]\n");
	for (int i = 1; i <= 4; i++)
		g_string_append_printf(ini, "n%d = 127.0.0.1:%u\n", i, r->http[i]);
	g_string_append(ini, "[auth]\nkey_file = cluster.key\nidentity_file = keys/%n.key\n[identities]\n");
	for (int i = 1; i <= 4; i++) {
		struct au_ident_keypair kp;
		g_autofree char *pub = NULL;
		g_autofree char *text = au_ident_generate(&kp, &pub);
		g_autofree char *path = g_strdup_printf("%s/n%d.key", keys, i);
		write_text(path, text, 0600);
		g_string_append_printf(ini, "n%d = %s\n", i, pub);
	}
	r->ini = write_cluster(r->dir, ini->str);
	g_string_free(ini, TRUE);
	return r;
}

/* The leader per `wait-leader` (which asks until a node leads), or 0. */
static int wait_leader(struct cluster_run *r)
{
	char *out = NULL;
	int rc = ctlf(r, &out, "--timeout 10s wait-leader");
	int leader = rc == 0 && g_str_has_prefix(out, "leader: n") ? atoi(out + strlen("leader: n")) : 0;
	g_free(out);
	return leader;
}

START_TEST(whole_story_on_loopback)
{
	t_start_us = t_step_us = g_get_monotonic_time();
	struct cluster_run *r = e2e_cluster();
	for (int i = 1; i <= 3; i++)
		start_node(r, i);
	char *out = NULL;
	struct jobview v;
	int leader = wait_leader(r);
	ck_assert_msg(leader >= 1 && leader <= 3, "no leader (logs in %s)", r->dir);
	step_done("three nodes up, a leader");

	/* 1. Submit a job: it runs to done. */
	g_autofree char *job_a = write_job(r, "job-done.ini", "[job]\nkind = tasks\njob = 301\ncount = 4\n");
	ck_assert_msg(ctlf(r, &out, "--timeout 30s --wait submit %s", job_a) == 0, "%s (logs in %s)", out,
		      r->dir);
	g_free(out);
	ck_assert_msg(job_show(r, JOB_DONE, &v, &out), "%s", out);
	ck_assert_msg(strcmp(v.state, "done") == 0 && v.done == 4 && v.dead == 0, "%s", out);
	g_free(out);
	step_done("1. job 301 submitted and done");

	/* 2. Cancel another while tasks of it are leased: cancelled, and no
	 * task of it completes afterwards. */
	g_autofree char *job_b =
		write_job(r, "job-cancel.ini", "[job]\nkind = tasks\njob = 302\ncount = 30\nrounds = 40\n");
	ck_assert_msg(ctlf(r, &out, "--timeout 10s submit %s", job_b) == 0, "%s", out);
	g_free(out);
	memset(&v, 0, sizeof(v));
	for (int t = 0; t < 100 && v.leased == 0; t++) {
		ck_assert_msg(job_show(r, JOB_CANCEL, &v, &out), "%s", out);
		g_free(out);
		if (v.leased == 0)
			g_usleep(50000);
	}
	ck_assert_msg(v.leased > 0, "job 302 never had a leased task");
	ck_assert_msg(ctlf(r, &out, "--timeout 10s job cancel 302") == 0, "%s", out);
	ck_assert_msg(strstr(out, "cancelled: job 302: cancelled"), "%s", out);
	g_free(out);
	ck_assert_msg(job_show(r, JOB_CANCEL, &v, &out), "%s", out);
	unsigned done_at_cancel = v.done;
	ck_assert_msg(strcmp(v.state, "cancelled") == 0, "%s", out);
	g_free(out);
	for (int t = 0; t < 100 && (v.queued || v.leased); t++) {
		g_usleep(50000);
		ck_assert_msg(job_show(r, JOB_CANCEL, &v, &out), "%s", out);
		ck_assert_msg(strcmp(v.state, "cancelled") == 0 && v.done == done_at_cancel,
			      "job 302 moved after its cancel: %s", out);
		g_free(out);
	}
	ck_assert_msg(v.queued == 0 && v.leased == 0 && v.done + v.dead == 30, "job 302: %u %u %u %u", v.queued,
		      v.leased, v.done, v.dead);
	step_done("2. job 302 cancelled while running");

	/* 3. A 16 MiB result, recorded in ONE; the digest it must have. */
	uint8_t *bytes = g_malloc(BIG), want[32];
	au_blob_synth_bytes(RESULT_JOB, 1, bytes, BIG);
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(ck, bytes, BIG);
	g_autofree char *want_hex = g_strdup(g_checksum_get_string(ck));
	gsize dl = sizeof(want);
	g_checksum_get_digest(ck, want, &dl);
	g_checksum_free(ck);
	g_free(bytes);
	ck_assert_msg(ctlf(r, &out, "--timeout 30s result make %d %u", RESULT_JOB, BIG) == 0, "%s (logs in %s)",
		      out, r->dir);
	g_free(out);
	/* The fetch starts at the first running node of the holders' ranking
	 * (aureon-ctl and the nodes rank the same way): make it the leader,
	 * so that killing the leader also kills the node serving the fetch. */
	au_node_id order[SHIM_CLUSTER_MAX];
	ck_assert_uint_eq(au_blob_holders(want, 4, 4, order), 4);
	int serving = order[0] <= 3 ? (int)order[0] : (int)order[1];
	ck_assert_msg(ctlf(r, &out, "--timeout 10s member transfer n%d", serving) == 0, "%s (logs in %s)", out,
		      r->dir);
	g_autofree char *now_leads = g_strdup_printf("leader: n%d", serving);
	ck_assert_msg(strstr(out, now_leads), "%s", out);
	g_free(out);
	step_done("3. 16 MiB result made; its holder leads");

	/* A job without retries whose tasks all get leased: with at most 3
	 * leases a node, 7 tasks on 3 nodes put at least one on the leader. */
	g_autofree char *job_c = write_job(r, "job-doomed.ini",
					   "[job]\nkind = tasks\njob = 303\ncount = 7\nrounds = 20\nmax_retries = 0\n");
	ck_assert_msg(ctlf(r, &out, "--timeout 10s submit %s", job_c) == 0, "%s", out);
	g_free(out);
	g_autofree char *by_leader = g_strdup_printf(": leased by n%d,", serving);
	bool leader_holds = false;
	g_autofree char *held_text = NULL; /* job 303's tasks just before the kill */
	for (int t = 0; t < 100 && !leader_holds; t++) {
		g_free(held_text);
		ck_assert_msg(job_show(r, JOB_DOOMED, &v, &held_text), "%s", held_text);
		leader_holds = v.queued == 0 && strstr(held_text, by_leader);
		if (!leader_holds)
			g_usleep(50000);
	}
	ck_assert_msg(leader_holds, "n%d never held a lease of job 303", serving);
	step_done("   job 303 (no retries) leased, n_leader holds one");

	/* 4. Fetch the result; SIGKILL the leader once a MiB has arrived. */
	g_autofree char *f = g_build_filename(r->dir, "result.bin", NULL);
	g_autofree char *log = g_build_filename(r->dir, "fetch.log", NULL);
	g_autofree char *bin = g_strdup_printf("%s/aureon-ctl", au_test_bin());
	pid_t fetch = fork();
	ck_assert(fetch >= 0);
	if (fetch == 0) {
		FILE *lf = freopen(log, "w", stdout);
		if (lf)
			dup2(fileno(lf), 2);
		execl(bin, bin, "--config", r->ini, "--timeout", "60s", "result", "get", "7", "--out", f,
		      (char *)NULL);
		_exit(127);
	}
	g_autofree char *part = g_strdup_printf("%s.part-%d", f, (int)fetch);
	struct stat st;
	bool killed = false;
	int64_t fetch_t0 = g_get_monotonic_time();
	for (int t = 0; t < 10000 && !killed; t++) {
		if (stat(part, &st) == 0 && st.st_size >= (1 << 20) && st.st_size < BIG) {
			kill_node(r, serving, SIGKILL);
			killed = true;
			break;
		}
		if (waitpid(fetch, NULL, WNOHANG) == fetch)
			ck_abort_msg("the fetch ended before the leader was killed (logs in %s)", r->dir);
		g_usleep(1000);
	}
	if (!killed) {
		kill(fetch, SIGKILL);
		waitpid(fetch, NULL, 0);
		ck_abort_msg("no MiB of the result within 10 s (logs in %s)", r->dir);
	}
	int64_t killed_after_ms = (g_get_monotonic_time() - fetch_t0) / 1000;
	int status;
	ck_assert_int_eq(waitpid(fetch, &status, 0), fetch);
	g_autofree char *fetch_text = NULL;
	g_file_get_contents(log, &fetch_text, NULL, NULL);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fetch after killing leader n%d: %s",
		      serving, fetch_text);
	char got_hex[65];
	gsize len = 0;
	file_sha256_hex(f, got_hex, &len);
	ck_assert_uint_eq(len, BIG);
	/* what aureon-ctl says ONE recorded == what arrived == what job 7 made */
	g_autofree char *sha_said = g_strdup_printf("sha256 %s,", got_hex);
	ck_assert_msg(strstr(fetch_text, sha_said), "file %s, aureon-ctl: %s", got_hex, fetch_text);
	ck_assert_str_eq(got_hex, want_hex);
	/* served by the killed leader and, after it, by another holder */
	const char *from = strstr(fetch_text, " from ");
	ck_assert_msg(from, "%s", fetch_text);
	g_autofree char *who = g_strndup(from + 6, strcspn(from + 6, " "));
	g_autofree char *killed_name = g_strdup_printf("n%d", serving);
	g_auto(GStrv) servers = g_strsplit(who, ",", -1);
	ck_assert_msg(g_strv_contains((const char *const *)servers, killed_name) && g_strv_length(servers) >= 2,
		      "served by %s, leader n%d killed: %s", who, serving, fetch_text);
	fprintf(stderr, "e2e: leader n%d killed %" G_GINT64_FORMAT " ms into the fetch; %s", serving,
		killed_after_ms, fetch_text);
	step_done("4. 16 MiB fetched across the leader's kill");

	/* A new leader; the killed leader's lease of job 303 ends (SWIM or
	 * lease expiry) and, without retries, fails the job. */
	leader = wait_leader(r);
	ck_assert_msg(leader >= 1 && leader <= 3 && leader != serving, "leader %d after killing n%d", leader,
		      serving);
	memset(&v, 0, sizeof(v));
	for (int t = 0; t < 200 && strcmp(v.state, "failed") != 0; t++) {
		ck_assert_msg(job_show(r, JOB_DOOMED, &v, &out), "%s", out);
		if (strcmp(v.state, "failed") != 0) {
			g_free(out);
			g_usleep(50000);
		}
	}
	ck_assert_msg(strcmp(v.state, "failed") == 0, "job 303 did not fail after n%d died", serving);
	const char *fl = strstr(out, "): task ");
	ck_assert_msg(fl && strstr(fl, "attempts_exhausted, last error "), "%s", out);
	uint64_t dead_task = g_ascii_strtoull(fl + strlen("): task "), NULL, 10);
	/* a task of job 303 (ids 1 << 62 | job << 20 | i, shim/jobfile.c) */
	ck_assert_msg((dead_task >> 20) == (UINT64_C(1) << 42 | JOB_DOOMED), "%s", out);
	/* ... and one the killed leader held: the others' leases survive the
	 * failover (their renewals find the new leader; see test_jobs.c's
	 * failover_keeps_survivors_leases) */
	g_autofree char *was_held = g_strdup_printf("task %" G_GUINT64_FORMAT "%s", dead_task, by_leader);
	ck_assert_msg(strstr(held_text, was_held), "task %" G_GUINT64_FORMAT " was not n%d's: %s", dead_task,
		      serving, held_text);
	g_free(out);
	start_node(r, serving); /* it recovers from its files */
	step_done("   new leader; job 303 failed; old leader back");

	/* 5. Add a fourth node: a voter in status. */
	start_node(r, 4);
	ck_assert_msg(ctlf(r, &out, "--timeout 15s member add n4") == 0, "%s (logs in %s)", out, r->dir);
	ck_assert_msg(strstr(out, "added n4: committed") && strstr(out, "members: n1 n2 n3 n4"), "%s", out);
	g_free(out);
	bool n4_votes = false;
	for (int t = 0; t < 50 && !n4_votes; t++) {
		ck_assert_msg(ctlf(r, &out, "status --json") == 0, "%s", out);
		n4_votes = strstr(out, "\"members\": [\"n1\", \"n2\", \"n3\", \"n4\"]") &&
			   strstr(out, "{\"node\": \"n4\", \"address\": ") &&
			   strstr(strstr(out, "{\"node\": \"n4\""), "\"role\": \"follower\"");
		g_free(out);
		if (!n4_votes)
			g_usleep(100000);
	}
	ck_assert_msg(n4_votes, "n4 is not a following voter in status");
	step_done("5. n4 added as a voter");

	/* 6. Remove another node (not the leader, not n4). */
	leader = wait_leader(r);
	ck_assert(leader >= 1);
	int gone = serving != leader ? serving : (leader == 1 ? 2 : 1);
	ck_assert_msg(ctlf(r, &out, "--timeout 15s member remove n%d", gone) == 0, "%s (logs in %s)", out, r->dir);
	g_autofree char *removed = g_strdup_printf("removed n%d: committed", gone);
	ck_assert_msg(strstr(out, removed), "%s", out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "status --json") == 0, "%s", out);
	const char *mem = strstr(out, "\"members\": [");
	ck_assert_msg(mem, "%s", out);
	g_autofree char *members = g_strndup(mem, strcspn(mem, "]"));
	g_autofree char *gone_q = g_strdup_printf("\"n%d\"", gone);
	ck_assert_msg(!strstr(members, gone_q) && strstr(members, "\"n4\""), "%s", out);
	g_free(out);
	step_done("6. a node removed");

	/* 7. Dead letters: job 303's, with its reason; requeue it and it runs. */
	ck_assert_msg(ctlf(r, &out, "--timeout 10s dead list") == 0, "%s", out);
	g_autofree char *head = g_strdup_printf("task %" G_GUINT64_FORMAT ": dead (attempts_exhausted)", dead_task);
	g_autofree char *dl_line = line_of(out, head);
	ck_assert_msg(dl_line && strstr(dl_line, ", job 303, retries 1 of 0, ") &&
		      (strstr(dl_line, "last error node_dead") || strstr(dl_line, "last error timeout") ||
		       strstr(dl_line, "last error reboot")),
		      "%s", out);
	ck_assert_msg(strstr(out, "(cancelled), job 302"), "job 302's dead letters: %s", out);
	/* no task of another node ran out of attempts */
	g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
	for (int i = 0; lines[i]; i++)
		if (strstr(lines[i], "(attempts_exhausted), job 303")) {
			g_autofree char *id = g_strndup(lines[i], strcspn(lines[i], ":"));
			g_autofree char *held = g_strdup_printf("%s%s", id, by_leader);
			ck_assert_msg(strstr(held_text, held), "%s was not n%d's: %s", id, serving, held_text);
		}
	fprintf(stderr, "e2e: %s\n", dl_line);
	g_free(out);
	step_done("7. dead list");
	ck_assert_msg(ctlf(r, &out, "--timeout 10s dead requeue %" G_GUINT64_FORMAT, dead_task) == 0, "%s", out);
	g_autofree char *rq = g_strdup_printf("requeued: task %" G_GUINT64_FORMAT ": ", dead_task);
	ck_assert_msg(strstr(out, rq) && strstr(out, "requeues 1"), "%s", out);
	g_free(out);
	g_autofree char *task_head = g_strdup_printf("task %" G_GUINT64_FORMAT ": ", dead_task);
	memset(&v, 0, sizeof(v));
	g_autofree char *task_line = NULL;
	for (int t = 0; t < 300 && strcmp(v.state, "done") != 0; t++) {
		ck_assert_msg(job_show(r, JOB_DOOMED, &v, &out), "%s", out);
		ck_assert_msg(strcmp(v.state, "failed") != 0 && strcmp(v.state, "cancelled") != 0,
			      "job 303 after the requeue: %s", out);
		g_free(task_line);
		task_line = line_of(out, task_head);
		g_free(out);
		if (strcmp(v.state, "done") != 0)
			g_usleep(100000);
	}
	ck_assert_msg(strcmp(v.state, "done") == 0 && v.done == 7 && v.dead == 0,
		      "job 303 not done after the requeue: %s, %u done, %u dead", v.state, v.done, v.dead);
	ck_assert_msg(task_line && g_str_has_prefix(task_line + strlen(task_head), "done") &&
		      strstr(task_line, "requeues 1"), "%s", task_line);
	step_done("   requeued; job 303 done");
	fprintf(stderr, "e2e: whole story %.2f s (files in %s)\n",
		(double)(g_get_monotonic_time() - t_start_us) / 1e6, r->dir);
	cluster_teardown();
}
END_TEST

Suite *shim_e2e_suite(void)
{
	Suite *s = suite_create("shim_e2e");
	TCase *procs = tcase_create("processes");
	tcase_set_timeout(procs, 180);
	tcase_add_unchecked_fixture(procs, NULL, cluster_teardown);
	tcase_add_test(procs, whole_story_on_loopback);
	suite_add_tcase(s, procs);
	return s;
}
