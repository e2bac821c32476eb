/* test_shim_ops.c — aureon-ctl's operator commands on real processes
 * (127.0.0.1 only): wait-leader, del, lock acquire/release, member
 * add/remove/transfer, and their errors. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim_cluster.h"
#include "tests.h"

static int64_t now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* Run aureon-ctl; the exit code, stdout+stderr in *out (caller frees). */
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

START_TEST(operator_commands_on_loopback)
{
	/* Four nodes in [hosts], n1..n3 voting and started; n4 joins later. */
	struct cluster_run *r = start_cluster_n(4, 3, "raft,kv,aureon",
						"[workload]\nlock_ttl = 30s\n");
	char *out = NULL;

	/* wait-leader: returns as soon as a node leads. */
	ck_assert_msg(ctlf(r, &out, "--timeout 10s wait-leader") == 0, "%s (logs in %s)", out, r->dir);
	ck_assert_msg(g_str_has_prefix(out, "leader: n"), "%s", out);
	g_free(out);

	/* del: the key reads as 0 again. */
	ck_assert_msg(ctlf(r, &out, "put 5 7") == 0, "%s", out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "get 5") == 0 && strcmp(out, "7\n") == 0, "%s", out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "del 5") == 0 && strcmp(out, "ok\n") == 0, "%s", out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "get 5") == 0 && strcmp(out, "0\n") == 0, "%s", out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "del x") == 2, "%s", out);
	g_free(out);

	/* Locks: one holder at a time; release frees it for the next. */
	ck_assert_msg(ctlf(r, &out, "lock acquire backup") == 0, "%s", out);
	ck_assert_msg(g_str_has_prefix(out, "locked: backup token "), "%s", out);
	uint64_t token = g_ascii_strtoull(out + strlen("locked: backup token "), NULL, 10);
	ck_assert(token > 0);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "lock acquire backup") == 1, "%s", out);
	g_autofree char *busy = g_strdup_printf("(token %" G_GUINT64_FORMAT ")", token);
	ck_assert_msg(strstr(out, "busy: backup is held by client") && strstr(out, busy), "%s", out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "lock acquire other") == 0, "%s", out); /* another name is free */
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "lock release backup --token %" G_GUINT64_FORMAT, token + 1) == 2,
		      "%s", out); /* not the current grant */
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "lock release backup") == 0 && strcmp(out, "released: backup\n") == 0,
		      "%s", out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "lock acquire backup --hold 1500ms") == 0, "%s", out);
	ck_assert_msg(strstr(out, "locked: backup token ") && strstr(out, "released: backup"), "%s", out);
	uint64_t token2 = g_ascii_strtoull(strstr(out, "token ") + 6, NULL, 10);
	ck_assert_msg(token2 > token, "tokens increase: %" G_GUINT64_FORMAT " then %s", token, out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "lock frob backup") == 2, "%s", out);
	g_free(out);

	/* Membership: n4 starts, is added, a follower is removed, leadership moves. */
	start_node(r, 4);
	ck_assert_msg(ctlf(r, &out, "--timeout 10s member add n4") == 0, "%s (logs in %s)", out, r->dir);
	ck_assert_msg(strstr(out, "added n4: committed") && strstr(out, "members: n1 n2 n3 n4"), "%s", out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "status --json") == 0 && strstr(out, "\"members\": [\"n1\", \"n2\", \"n3\", \"n4\"]"),
		      "%s", out);
	g_free(out);
	int leader = leader_of(r, NULL);
	ck_assert(leader >= 1 && leader <= 4);
	int gone = leader == 2 ? 3 : 2;
	ck_assert_msg(ctlf(r, &out, "--timeout 10s member remove n%d", gone) == 0, "%s", out);
	g_autofree char *removed = g_strdup_printf("removed n%d: committed", gone);
	g_autofree char *gone_name = g_strdup_printf(" n%d", gone);
	ck_assert_msg(strstr(out, removed) && !strstr(strstr(out, "members:"), gone_name), "%s", out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "put 6 60") == 0, "%s", out); /* three voters still make progress */
	g_free(out);
	int to = leader == 4 ? 1 : 4;
	ck_assert_msg(ctlf(r, &out, "--timeout 10s member transfer n%d", to) == 0, "%s (logs in %s)", out, r->dir);
	g_autofree char *now_leads = g_strdup_printf("leader: n%d", to);
	ck_assert_msg(strstr(out, now_leads), "%s", out);
	g_free(out);
	ck_assert_int_eq(leader_of(r, NULL), to);
	ck_assert_msg(ctlf(r, &out, "get 6") == 0 && strcmp(out, "60\n") == 0, "%s", out);
	g_free(out);

	/* Errors: unknown nodes, a removed node cannot lead, bad sub-commands. */
	ck_assert_msg(ctlf(r, &out, "member add n9") == 2 && strstr(out, "unknown node"), "%s", out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "member transfer n%d", gone) == 2 && strstr(out, "refused"), "%s", out);
	g_free(out);
	ck_assert_msg(ctlf(r, &out, "member join n4") == 2, "%s", out);
	g_free(out);

	/* With every node down, wait-leader gives up after its timeout: exit 3. */
	for (int i = 1; i <= 4; i++)
		kill_node(r, i, SIGKILL);
	int64_t t0 = now_ms();
	ck_assert_msg(ctlf(r, &out, "--timeout 700ms wait-leader") == 3 && strstr(out, "no node led"), "%s", out);
	ck_assert(now_ms() - t0 >= 600);
	g_free(out);
	cluster_teardown();
}
END_TEST

Suite *shim_ops_suite(void)
{
	Suite *s = suite_create("shim_ops");
	TCase *procs = tcase_create("processes");
	tcase_set_timeout(procs, 120);
	tcase_add_unchecked_fixture(procs, NULL, cluster_teardown);
	tcase_add_test(procs, operator_commands_on_loopback);
	suite_add_tcase(s, procs);
	return s;
}
