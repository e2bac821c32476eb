/* test_shim_jobs.c — jobs and dead letters on real processes: three
 * aureon-node processes on 127.0.0.1 and aureon-ctl's `job list|show|
 * cancel` and `dead list|requeue` (shim/ctl_jobs.c, shim/jobctl.c):
 * a job cancelled while its tasks run never completes another task, a job
 * whose task runs out of attempts fails with that reason, its dead letter
 * is requeued and the job reopens; refusals exit 1 with the reason.  The
 * nodes die with the test (PR_SET_PDEATHSIG) and are stopped at its end. */
#include <fcntl.h>
#include <gio/gio.h>
#include <glib.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim/jobctl.h"
#include "shim_cluster.h"
#include "tests.h"

struct jcluster {
	char *dir, *ini;
	pid_t pid[4];
};

static struct jcluster *jrunning; /* for the teardown */

/* shim_cluster.c's free_port: never the same port twice in a run. */
static uint16_t free_udp_port(void)
{
	return free_port(G_SOCKET_TYPE_DATAGRAM);
}

static void put_file(const char *path, const char *text, int mode)
{
	GError *err = NULL;
	ck_assert_msg(g_file_set_contents(path, text, -1, &err), "%s", err ? err->message : "");
	chmod(path, (mode_t)mode);
}

static void jstart_node(struct jcluster *r, int i)
{
	g_autofree char *id = g_strdup_printf("n%d", i);
	g_autofree char *data = g_strdup_printf("%s/data-n%d", r->dir, i);
	g_autofree char *log = g_strdup_printf("%s/n%d.log", r->dir, i);
	g_autofree char *bin = g_strdup_printf("%s/aureon-node", au_test_bin());
	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bin, bin, "--config", r->ini, "--id", id, "--data", data, "--seed", "7",
		      (char *)NULL);
		_exit(127);
	}
	r->pid[i] = pid;
}

static void jteardown(void)
{
	if (!jrunning)
		return;
	for (int i = 1; i <= 3; i++) {
		if (jrunning->pid[i] <= 0)
			continue;
		kill(jrunning->pid[i], SIGTERM);
		int st;
		for (int t = 0; t < 300 && waitpid(jrunning->pid[i], &st, WNOHANG) != jrunning->pid[i]; t++)
			g_usleep(10000);
		kill(jrunning->pid[i], SIGKILL);
		waitpid(jrunning->pid[i], &st, WNOHANG);
	}
	if (getenv("AU_KEEP_SHIM_DIR")) {
		fprintf(stderr, "shim jobs test files kept in %s\n", jrunning->dir);
	} else {
		g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", jrunning->dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	g_free(jrunning->dir);
	g_free(jrunning->ini);
	g_free(jrunning);
	jrunning = NULL;
}

static int jctl(struct jcluster *r, const char *args, char **out)
{
	g_autofree char *cmd = g_strdup_printf("%s/aureon-ctl --config %s --timeout 10s %s 2>&1",
					       au_test_bin(), r->ini, args);
	return au_test_run(cmd, out);
}

/* "(Q queued, L leased, D done, X dead)" of the job line in `out`. */
static bool job_counts(const char *out, uint64_t job, unsigned c[4], char state[16])
{
	g_autofree char *head = g_strdup_printf("job %" G_GUINT64_FORMAT ": ", job);
	const char *p = strstr(out, head);
	unsigned tasks;
	return p && sscanf(p + strlen(head), "%15[a-z], %u tasks (%u queued, %u leased, %u done, %u dead)",
			   state, &tasks, &c[0], &c[1], &c[2], &c[3]) == 6;
}

START_TEST(jobs_on_loopback)
{
	struct jcluster *r = g_new0(struct jcluster, 1);
	jrunning = r;
	r->dir = g_dir_make_tmp("aureon-jobs-XXXXXX", NULL);
	ck_assert(r->dir);
	/* 2 running + 1 waiting per node, 4 rounds of 250 ms: a 12-task job
	 * runs for seconds; 35 % of attempts fail. */
	GString *ini = g_string_new("[cluster]\nnodes = 3\nservices = raft,aureon\n"
				    "[raft]\nelection_timeout = 150ms..300ms\nheartbeat = 50ms\n"
				    "[aureon]\nmax_concurrency = 2\nlocal_queue = 1\nrenew = 300ms\n"
				    "[workload]\ntask_cost = const(1s)\ntask_fail = 35\n[hosts]\n");
	for (int i = 1; i <= 3; i++)
		g_string_append_printf(ini, "n%d = 127.0.0.1:%u\n", i, free_udp_port());
	g_string_append(ini, "[auth]\nkey_file = cluster.key\n");
	g_autofree char *key = g_build_filename(r->dir, "cluster.key", NULL);
	put_file(key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0600);
	r->ini = g_build_filename(r->dir, "cluster.ini", NULL);
	put_file(r->ini, ini->str, 0644);
	g_string_free(ini, TRUE);
	for (int i = 1; i <= 3; i++)
		jstart_node(r, i);
	char *out = NULL;

	/* An empty queue: no jobs, no dead letters (this waits for a leader). */
	ck_assert_msg(jctl(r, "job list", &out) == 0, "%s", out);
	ck_assert_msg(strstr(out, "no jobs"), "%s", out);
	g_free(out);

	/* Job 201 runs; cancel it while tasks of it are leased. */
	g_autofree char *job_a = g_build_filename(r->dir, "job-a.ini", NULL);
	put_file(job_a, "[job]\nkind = tasks\njob = 201\ncount = 12\nrounds = 4\n", 0644);
	g_autofree char *submit_a = g_strdup_printf("submit %s", job_a);
	ck_assert_msg(jctl(r, submit_a, &out) == 0, "%s", out);
	g_free(out);
	unsigned c[4] = {0};
	char state[16] = "";
	for (int t = 0; t < 100 && c[1] == 0; t++) {
		ck_assert_msg(jctl(r, "job show 201", &out) == 0, "%s", out);
		ck_assert_msg(job_counts(out, 201, c, state), "%s", out);
		g_free(out);
		if (c[1] == 0)
			g_usleep(50000);
	}
	ck_assert_msg(c[1] > 0, "job 201 never had a leased task");
	ck_assert_msg(jctl(r, "job cancel 201", &out) == 0, "%s", out);
	ck_assert_msg(strstr(out, "cancelled: job 201: cancelled"), "%s", out);
	unsigned at_cancel[4];
	ck_assert_msg(job_counts(out, 201, at_cancel, state), "%s", out);
	g_free(out);
	/* Its leases end at their next renewal or ack; nothing more is done. */
	for (int t = 0; t < 100; t++) {
		ck_assert_msg(jctl(r, "job show 201", &out) == 0, "%s", out);
		ck_assert_msg(job_counts(out, 201, c, state), "%s", out);
		ck_assert_msg(strcmp(state, "cancelled") == 0 && c[2] == at_cancel[2],
			      "job 201 changed after its cancel: %s", out);
		g_free(out);
		if (c[0] == 0 && c[1] == 0)
			break;
		g_usleep(50000);
	}
	ck_assert_msg(c[0] == 0 && c[1] == 0 && c[2] + c[3] == 12, "%u %u %u %u", c[0], c[1], c[2], c[3]);
	ck_assert_msg(jctl(r, "job cancel 201", &out) == 0, "%s", out); /* again: no change */
	g_free(out);

	/* Job 202: no retries, so its first failed attempt fails the job. */
	g_autofree char *job_b = g_build_filename(r->dir, "job-b.ini", NULL);
	put_file(job_b, "[job]\nkind = tasks\njob = 202\ncount = 20\nmax_retries = 0\n", 0644);
	g_autofree char *submit_b = g_strdup_printf("--timeout 60s --wait submit %s", job_b);
	ck_assert_msg(jctl(r, submit_b, &out) == 1, "%s", out);
	g_free(out);
	ck_assert_msg(jctl(r, "job show 202", &out) == 0, "%s", out);
	ck_assert_msg(job_counts(out, 202, c, state) && strcmp(state, "failed") == 0, "%s", out);
	const char *f = strstr(out, "): task ");
	ck_assert_msg(f && strstr(f, "attempts_exhausted, last error failed"), "%s", out);
	uint64_t failed = g_ascii_strtoull(f + strlen("): task "), NULL, 10);
	ck_assert_uint_ne(failed, 0);
	g_autofree char *done_line = NULL;
	const char *d = strstr(out, ": done, job 202");
	if (d) {
		const char *ls = d;
		while (ls > out && ls[-1] != '\n')
			ls--;
		done_line = g_strndup(ls + strlen("task "), (gsize)(d - ls - strlen("task ")));
	}
	g_free(out);

	/* Dead letters, with reasons. */
	ck_assert_msg(jctl(r, "dead list", &out) == 0, "%s", out);
	g_autofree char *want = g_strdup_printf("task %" G_GUINT64_FORMAT ": dead (attempts_exhausted)",
						failed);
	ck_assert_msg(strstr(out, want) && strstr(out, "(cancelled)"), "%s", out);
	g_free(out);
	ck_assert_msg(jctl(r, "--json job list", &out) == 0, "%s", out);
	ck_assert_msg(strstr(out, "{\"job\": 201, \"state\": \"cancelled\"") &&
		      strstr(out, "{\"job\": 202, \"state\": \"failed\"") &&
		      strstr(out, "\"reason\": \"attempts_exhausted\", \"last_error\": \"failed\""), "%s", out);
	g_free(out);

	/* Requeue the failed task: the job reopens. */
	g_autofree char *requeue = g_strdup_printf("dead requeue %" G_GUINT64_FORMAT, failed);
	ck_assert_msg(jctl(r, requeue, &out) == 0, "%s", out);
	g_autofree char *requeued = g_strdup_printf("requeued: task %" G_GUINT64_FORMAT ": ", failed);
	ck_assert_msg(strstr(out, requeued) && strstr(out, "requeues 1"), "%s", out);
	g_free(out);
	ck_assert_msg(jctl(r, "job show 202", &out) == 0, "%s", out);
	ck_assert_msg(job_counts(out, 202, c, state) && strcmp(state, "failed") != 0 &&
		      strcmp(state, "cancelled") != 0, "job 202 did not reopen: %s", out);
	g_free(out);

	/* Refusals: exit 1 with the reason. */
	ck_assert_int_eq(jctl(r, "job cancel 999", &out), 1);
	ck_assert_msg(strstr(out, "no such job"), "%s", out);
	g_free(out);
	ck_assert_int_eq(jctl(r, "job show 999", &out), 1);
	g_free(out);
	ck_assert_int_eq(jctl(r, "dead requeue 12345", &out), 1);
	ck_assert_msg(strstr(out, "no such task"), "%s", out);
	g_free(out);
	if (done_line) {
		g_autofree char *rq = g_strdup_printf("dead requeue %s", done_line);
		ck_assert_int_eq(jctl(r, rq, &out), 1);
		ck_assert_msg(strstr(out, "not a dead letter"), "%s", out);
		g_free(out);
	}
	/* A cancelled job's dead letter stays dead. */
	ck_assert_msg(jctl(r, "--json dead list", &out) == 0, "%s", out);
	const char *cx = strstr(out, "\"state\": \"dead\", \"retries\"");
	const char *cc = strstr(out, "\"reason\": \"cancelled\"");
	ck_assert_msg(cx && cc, "%s", out);
	const char *ls = cc;
	while (ls > out && ls[-1] != '\n')
		ls--;
	uint64_t ctask = g_ascii_strtoull(ls + strlen("{\"task\": "), NULL, 10);
	g_free(out);
	g_autofree char *rqc = g_strdup_printf("dead requeue %" G_GUINT64_FORMAT, ctask);
	ck_assert_int_eq(jctl(r, rqc, &out), 1);
	ck_assert_msg(strstr(out, "cancelled job"), "%s", out);
	g_free(out);
	jteardown();
}
END_TEST

/* The request and reply encodings: round trips, and every malformed form
 * refused (cut short, a flipped byte, out-of-range fields). */
START_TEST(jobctl_codec)
{
	uint8_t buf[AU_JOBCTL_RESP_MAX];
	struct au_jobctl_req q = {.nonce = 77, .op = AU_JOBCTL_CANCEL, .id = 201, .from = 0}, q2;
	size_t len = au_jobctl_encode_req(&q, buf, sizeof(buf));
	ck_assert_uint_gt(len, 0);
	ck_assert(au_jobctl_decode_req(buf, len, &q2));
	ck_assert_uint_eq(q2.nonce, 77);
	ck_assert_uint_eq(q2.op, AU_JOBCTL_CANCEL);
	ck_assert_uint_eq(q2.id, 201);
	for (size_t cut = 0; cut < len; cut++)
		ck_assert(!au_jobctl_decode_req(buf, cut, &q2));
	buf[3] ^= 1;
	ck_assert(!au_jobctl_decode_req(buf, len, &q2));
	q.op = 9; /* no such op */
	len = au_jobctl_encode_req(&q, buf, sizeof(buf));
	ck_assert(!au_jobctl_decode_req(buf, len, &q2));
	q.op = AU_JOBCTL_REQUEUE;
	q.id = 0; /* requeue needs a task */
	len = au_jobctl_encode_req(&q, buf, sizeof(buf));
	ck_assert(!au_jobctl_decode_req(buf, len, &q2));
	ck_assert_uint_eq(au_jobctl_encode_req(&q, buf, 10), 0);

	static struct au_jobctl_resp a, a2;
	a.nonce = 5;
	a.answer = 0;
	a.leader = 2;
	a.result = AU_JOBCTL_NOT_DEAD;
	a.next = 99;
	a.n_rows = AU_JOBCTL_ROWS;
	for (uint32_t i = 0; i < a.n_rows; i++)
		a.rows[i] = (struct au_jobctl_row){.kind = i ? AU_JOBCTL_ROW_TASK : AU_JOBCTL_ROW_JOB,
						   .id = 1000 + i, .state = 3, .reason = 2, .error = 1,
						   .ref = 7, .a = i, .b = 2, .c = 3, .d = 4, .e = 5};
	len = au_jobctl_encode_resp(&a, buf, sizeof(buf));
	ck_assert_uint_gt(len, 0);
	ck_assert(au_jobctl_decode_resp(buf, len, &a2));
	ck_assert_uint_eq(a2.n_rows, AU_JOBCTL_ROWS);
	ck_assert_uint_eq(a2.next, 99);
	ck_assert_uint_eq(a2.result, AU_JOBCTL_NOT_DEAD);
	ck_assert(memcmp(&a.rows[57], &a2.rows[57], sizeof(a.rows[57])) == 0);
	ck_assert(!au_jobctl_decode_resp(buf, len - 1, &a2));
	a.rows[3].kind = 9;
	len = au_jobctl_encode_resp(&a, buf, sizeof(buf));
	ck_assert(!au_jobctl_decode_resp(buf, len, &a2));
	a.rows[3].kind = AU_JOBCTL_ROW_TASK;
	a.result = 200;
	len = au_jobctl_encode_resp(&a, buf, sizeof(buf));
	ck_assert(!au_jobctl_decode_resp(buf, len, &a2));
	ck_assert_uint_eq(au_jobctl_encode_resp(&a, buf, 100), 0);
}
END_TEST

/* aureon-ctl's argument errors exit 2 with a message naming the command. */
START_TEST(ctl_jobs_usage_errors)
{
	static const char *const bad[][2] = {
		{"job", "job needs a subcommand"},
		{"job frob", "job needs a subcommand"},
		{"job show", "job show takes a job id"},
		{"job cancel x", "'x' is not a job id"},
		{"job cancel 0", "'0' is not a job id"},
		{"job list 3", "job list takes no argument"},
		{"dead", "dead needs a subcommand"},
		{"dead requeue", "dead requeue takes a task id"},
		{"dead requeue -4", "is not a task id"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *cmd = g_strdup_printf("%s/aureon-ctl --config /nonexistent %s 2>&1",
						       au_test_bin(), bad[i][0]);
		char *out = NULL;
		ck_assert_int_eq(au_test_run(cmd, &out), 2);
		ck_assert_msg(strstr(out, bad[i][1]), "%s: %s", bad[i][0], out);
		g_free(out);
	}
}
END_TEST

Suite *shim_jobs_suite(void)
{
	Suite *s = suite_create("shim_jobs");
	TCase *units = tcase_create("units");
	tcase_add_test(units, jobctl_codec);
	tcase_add_test(units, ctl_jobs_usage_errors);
	suite_add_tcase(s, units);
	TCase *procs = tcase_create("processes");
	tcase_set_timeout(procs, 180);
	tcase_add_unchecked_fixture(procs, NULL, jteardown);
	tcase_add_test(procs, jobs_on_loopback);
	suite_add_tcase(s, procs);
	return s;
}
