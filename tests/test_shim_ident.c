/* test_shim_ident.c — per-node identities on real processes: three
 * aureon-nodes on 127.0.0.1 with [identities]; n3 starts with a stale
 * cluster file and an old key pair (the wrong key for the others), never
 * joins, is logged, reported in `aureon-ctl status` and /metrics and
 * quarantined; restarted with its right key it catches up. */
#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim/identity.h"
#include "shim_cluster.h"
#include "tests.h"

/* A labelled series' value in a /metrics body, or UINT64_MAX. */
static uint64_t labelled(const char *text, const char *series)
{
	g_autofree char *want = g_strdup_printf("%s ", series);
	const char *p = text ? strstr(text, want) : NULL;
	return p ? g_ascii_strtoull(p + strlen(want), NULL, 10) : UINT64_MAX;
}

static char *new_key(const char *path)
{
	struct au_ident_keypair kp;
	char *pub = NULL;
	g_autofree char *text = au_ident_generate(&kp, &pub);
	write_text(path, text, 0600);
	return pub;
}

static char *file_text(const char *path)
{
	char *t = NULL;
	g_file_get_contents(path, &t, NULL, NULL);
	return t ? t : g_strdup("");
}

START_TEST(wrong_key_is_quarantined_and_fixed)
{
	struct cluster_run *r = g_new0(struct cluster_run, 1);
	running = r;
	r->nodes = 3;
	r->dir = make_tmpdir();
	g_autofree char *keys = g_build_filename(r->dir, "keys", NULL);
	g_autofree char *old = g_build_filename(r->dir, "old", NULL);
	g_mkdir(keys, 0700);
	g_mkdir(old, 0700);
	char *pub[4] = {0};
	for (int i = 1; i <= 3; i++) {
		g_autofree char *p = g_strdup_printf("%s/n%d.key", keys, i);
		pub[i] = new_key(p);
		r->udp[i] = free_port(G_SOCKET_TYPE_DATAGRAM);
		r->http[i] = free_port(G_SOCKET_TYPE_STREAM);
	}
	g_autofree char *old3 = g_strdup_printf("%s/n3.key", old);
	g_autofree char *stale_pub = new_key(old3);
	g_autofree char *ini_good = NULL, *ini_stale = NULL;
	for (int v = 0; v < 2; v++) {
		GString *b = g_string_new("[cluster]\nnodes = 3\nservices = raft,kv\n[raft]\nelection_timeout = "
					  "150ms..300ms\nheartbeat = 50ms\n[hosts]\n");
		for (int i = 1; i <= 3; i++)
			g_string_append_printf(b, "n%d = 127.0.0.1:%u\n", i, r->udp[i]);
		g_string_append(b, "[http]\n");
		for (int i = 1; i <= 3; i++)
			g_string_append_printf(b, "n%d = 127.0.0.1:%u\n", i, r->http[i]);
		/* The stale file reads n3's old key from old/, the others' from keys/. */
		g_string_append_printf(b, "[auth]\nkey_file = cluster.key\nquarantine_after = 5\nquarantine_for = 500ms\n"
					  "identity_file = %s\n[identities]\nn1 = %s\nn2 = %s\nn3 = %s\n",
				       v == 0 ? "keys/%n.key" : "old/%n.key", pub[1], pub[2], v == 0 ? pub[3] : stale_pub);
		if (v == 0) {
			ini_good = write_cluster(r->dir, b->str);
		} else {
			ini_stale = g_build_filename(r->dir, "stale.ini", NULL);
			write_text(ini_stale, b->str, 0644);
		}
		g_string_free(b, TRUE);
	}
	r->ini = g_strdup(ini_good);
	start_node(r, 1);
	start_node(r, 2);
	g_free(r->ini);
	r->ini = g_strdup(ini_stale);
	start_node(r, 3);
	g_free(r->ini);
	r->ini = g_strdup(ini_good);

	/* n1 and n2 elect a leader and take writes; n3 is shut out. */
	uint64_t term = 0;
	int leader = 0;
	for (int t = 0; t < 100 && !leader; t++) {
		leader = leader_of(r, &term);
		if (!leader)
			g_usleep(100000);
	}
	ck_assert_msg(leader == 1 || leader == 2, "leader %d", leader);
	for (int k = 1; k <= 5; k++) {
		g_autofree char *args = g_strdup_printf("put %d %d", k, 10 * k);
		g_autofree char *out = NULL;
		ck_assert_int_eq(ctl(r, args, &out), 0);
	}
	/* The others say why, in status, the log and /metrics. */
	bool seen = false;
	g_autofree char *st = NULL;
	for (int t = 0; t < 50 && !seen; t++) {
		g_free(st);
		st = NULL;
		ctl(r, "status", &st);
		seen = st && strstr(st, "n1 sees: n3 wrong key") && strstr(st, "n2 sees: n3 wrong key");
		if (!seen)
			g_usleep(100000);
	}
	ck_assert_msg(seen, "status: %s", st);
	g_autofree char *json = NULL;
	ctl(r, "status --json", &json);
	ck_assert_msg(json && strstr(json, "\"auth\": \"n3 wrong key"), "%s", json);
	g_autofree char *log1 = g_strdup_printf("%s/n1.log", r->dir);
	g_autofree char *l1 = file_text(log1);
	g_autofree char *line = g_strdup_printf("auth: n3 (127.0.0.1:%u): wrong key: ", r->udp[3]);
	ck_assert_msg(strstr(l1, line) && strstr(l1, "quarantined for"), "%s", l1);
	int status = 0;
	g_autofree char *m = http_get(r->http[1], "/metrics", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_uint_ge(labelled(m, "aureon_peer_quarantines_total{peer=\"n3\"}"), 1);
	ck_assert_uint_ge(labelled(m, "aureon_auth_failures_total{peer=\"n3\"}"), 5);
	ck_assert_uint_eq(labelled(m, "aureon_auth_failures_total{peer=\"n2\"}"), 0);
	ck_assert_uint_eq(labelled(m, "aureon_peer_wrong_key{peer=\"n3\"}"), 1);
	/* /peers says the same of n3 (and nothing of the sort of n2). */
	g_autofree char *peers = http_get(r->http[1], "/peers", &status);
	ck_assert_int_eq(status, 200);
	const char *p3 = peers ? strstr(peers, "\"id\": \"n3\"") : NULL;
	const char *p2 = peers ? strstr(peers, "\"id\": \"n2\"") : NULL;
	ck_assert_msg(p3 && strstr(p3, "\"wrong_key\": true"), "%s", peers);
	const char *w2 = p2 ? strstr(p2, "\"wrong_key\": ") : NULL; /* n2's own: it comes before n3's */
	ck_assert_msg(w2 && g_str_has_prefix(w2, "\"wrong_key\": false"), "%s", peers);
	/* n3 never joined: nothing applied, and the leader (the one member
	 * that keeps sending to it) looks wrong to it. */
	ck_assert_int_eq(applied_of(r, 3), 0);
	g_autofree char *s3 = http_get(r->http[3], "/status", &status);
	g_autofree char *lw = g_strdup_printf("n%d wrong key", leader);
	ck_assert_msg(s3 && strstr(s3, lw), "%s", s3);

	/* Fixed: n3 restarts with its right key and cluster file and catches up. */
	int64_t target = applied_of(r, leader);
	ck_assert_int_ge(target, 6);
	kill_node(r, 3, SIGTERM);
	start_node(r, 3);
	int64_t a3 = -1;
	for (int t = 0; t < 150 && a3 < target; t++) {
		g_usleep(100000);
		a3 = applied_of(r, 3);
	}
	ck_assert_msg(a3 >= target, "n3 applied %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT, a3, target);
	/* n3 may apply the leader's entries while the leader still ignores
	 * it (the quarantine runs out within 8 x 500 ms): then it is heard. */
	g_autofree char *logl = g_strdup_printf("%s/n%d.log", r->dir, leader);
	char *ll = NULL;
	for (int t = 0; t < 100 && !(ll && strstr(ll, "valid proof again")); t++) {
		g_free(ll);
		g_usleep(100000);
		ll = file_text(logl);
	}
	ck_assert_msg(strstr(ll, "auth: n3") && strstr(ll, "valid proof again"), "no recovery in the leader's log");
	g_free(ll);
	g_autofree char *ml = http_get(r->http[leader], "/metrics", &status);
	ck_assert_uint_eq(labelled(ml, "aureon_peer_wrong_key{peer=\"n3\"}"), 0);
	ck_assert_uint_eq(labelled(ml, "aureon_peer_quarantined{peer=\"n3\"}"), 0);
	g_autofree char *out = NULL;
	ck_assert_int_eq(ctl(r, "get 5", &out), 0);
	ck_assert_msg(strstr(out, "50"), "%s", out);
	for (int i = 1; i <= 3; i++)
		g_free(pub[i]);
}
END_TEST

/* A node whose key pair is not the one its cluster file lists, or whose
 * own key is revoked, refuses to start with a clear message (exit 2). */
START_TEST(node_refuses_its_own_wrong_or_revoked_key)
{
	g_autofree char *dir = make_tmpdir();
	g_autofree char *k1 = g_strdup_printf("%s/n1.key", dir);
	g_autofree char *k2 = g_strdup_printf("%s/n2.key", dir);
	g_autofree char *p1 = new_key(k1);
	g_autofree char *p2 = new_key(k2);
	for (int v = 0; v < 3; v++) {
		g_autofree char *body = g_strdup_printf(
			"[cluster]\nnodes = 2\nservices = raft\n[hosts]\nn1 = 127.0.0.1:%u\nn2 = 127.0.0.1:%u\n"
			"[auth]\nkey_file = cluster.key\n[identities]\nn1 = %s\nn2 = %s\n",
			free_port(G_SOCKET_TYPE_DATAGRAM), free_port(G_SOCKET_TYPE_DATAGRAM), v == 2 ? "revoked" : p1, p2);
		g_autofree char *ini = write_cluster(dir, body);
		/* v 0: n1 given n2's key; v 1: no key file; v 2: n1 revoked. */
		g_autofree char *cmd = g_strdup_printf(
			"%s/aureon-node --config %s --id n1 --data %s/d1 %s%s 2>&1", au_test_bin(), ini, dir,
			v == 1 ? "--identity " : "--identity ", v == 1 ? "/nonexistent/n1.key" : v == 0 ? k2 : k1);
		g_autofree char *out = NULL;
		int rc = au_test_run(cmd, &out);
		ck_assert_int_eq(rc, 2);
		const char *want = v == 0 ? "wrong key: the secret key file does not belong to the public key [identities] lists for n1"
			     : v == 1 ? "identity key /nonexistent/n1.key: No such file"
				      : "n1's key is revoked in [identities]";
		ck_assert_msg(strstr(out, want), "got: %s\nwant: %s", out, want);
	}
	rm_rf(dir);
}
END_TEST

Suite *shim_ident_suite(void)
{
	Suite *s = suite_create("shim_ident");
	TCase *procs = tcase_create("processes");
	tcase_set_timeout(procs, 120);
	tcase_add_unchecked_fixture(procs, NULL, cluster_teardown);
	tcase_add_test(procs, node_refuses_its_own_wrong_or_revoked_key);
	tcase_add_test(procs, wrong_key_is_quarantined_and_fixed);
	suite_add_tcase(s, procs);
	return s;
}
