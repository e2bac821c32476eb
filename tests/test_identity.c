/* test_identity.c — per-node identities and quarantine (shim/identity.h):
 * key files and [identities] errors, pair keys (only the two ends can
 * prove), revocation, the quarantine state machine, and the seeded
 * "quarantine under packet corruption" run: honest members behind a
 * corrupting link, a forger, determinism (same seed, same verdicts). */
#include <check.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>

#include "hash.h"
#include "pcg32.h"
#include "shim/cluster.h"
#include "shim/identity.h"
#include "shim/packet.h"
#include "tests.h"

static const uint8_t ckey[32] = "cluster key, thirty-two bytes...";

/* Deterministic key pair number i (seeded, so runs repeat). */
static void keypair(int i, struct au_ident_keypair *kp)
{
	uint8_t seed[crypto_kx_SEEDBYTES] = {0};
	seed[0] = (uint8_t)i;
	seed[1] = 0xa5;
	ck_assert_int_eq(sodium_init() >= 0, 1);
	crypto_kx_seed_keypair(kp->pk, kp->sk, seed);
}

#define NODES 4
static uint8_t pubs[NODES + 1][AU_IDENT_KEY];
static bool revoked[NODES + 1];
static struct au_ident_keypair kps[NODES + 1];

static void setup_keys(void)
{
	memset(revoked, 0, sizeof(revoked));
	for (int i = 1; i <= NODES; i++) {
		keypair(i, &kps[i]);
		memcpy(pubs[i], kps[i].pk, AU_IDENT_KEY);
	}
}

static struct au_ident *ident(au_node_id self, const struct au_ident_keypair *kp, uint32_t after)
{
	char *err = NULL;
	struct au_quar_cfg cfg = {after, AU_NS_PER_S};
	struct au_ident *id = au_ident_new(NODES, self, ckey, sizeof(ckey), (const uint8_t(*)[AU_IDENT_KEY])pubs,
					   revoked, kp, cfg, &err);
	ck_assert_msg(id, "%s", err ? err : "");
	return id;
}

static size_t seal(struct au_ident *from, au_node_id to, uint64_t counter, const char *msg, uint8_t *out)
{
	struct au_pkt_hdr h = {from->self, to, counter, 7};
	const struct au_pkt_key *k = au_ident_tx_key(from, to);
	ck_assert(k);
	return au_pkt_seal(k, &h, msg, strlen(msg), out);
}

static int open1(struct au_ident *to, const uint8_t *buf, size_t len, bool from_host, au_time now,
		 enum au_ident_event *ev)
{
	struct au_pkt_hdr h;
	const uint8_t *p;
	size_t pl;
	return au_ident_open(to, buf, len, from_host, now, &h, &p, &pl, ev);
}

START_TEST(pair_keys_prove_the_sender)
{
	setup_keys();
	struct au_ident *a = ident(1, &kps[1], 16), *b = ident(2, &kps[2], 16), *c = ident(3, &kps[3], 16);
	uint8_t buf[AU_PKT_MAX];
	enum au_ident_event ev;
	/* n1 -> n2 verifies at n2, both directions; n1 -> n1 too. */
	size_t n = seal(a, 2, 1, "hello", buf);
	ck_assert_int_eq(open1(b, buf, n, true, 0, &ev), -1);
	n = seal(b, 1, 1, "back", buf);
	ck_assert_int_eq(open1(a, buf, n, true, 0, &ev), -1);
	n = seal(a, 1, 2, "self", buf);
	ck_assert_int_eq(open1(a, buf, n, true, 0, &ev), -1);
	/* n3 claiming to be n1 (it knows no n1<->n2 key): fails at n2. */
	n = seal(c, 2, 1, "forged", buf);
	buf[4] = 1; /* sender id n1 */
	ck_assert_int_eq(open1(b, buf, n, true, 0, &ev), AU_DROP_AUTH);
	/* The cluster key no longer speaks for a member ... */
	struct au_pkt_hdr h = {1, 2, 5, 7};
	struct au_pkt_key *ck = au_pkt_key_new(ckey, sizeof(ckey));
	n = au_pkt_seal(ck, &h, "x", 1, buf);
	ck_assert_int_eq(open1(b, buf, n, true, 0, &ev), AU_DROP_AUTH);
	/* ... but still for a client. */
	h.sender = AU_CLIENT_ID_MIN + 9;
	n = au_pkt_seal(ck, &h, "x", 1, buf);
	ck_assert_int_eq(open1(b, buf, n, true, 0, &ev), -1);
	/* A reflected datagram (n1 -> n2 sent back to n1) fails: keys are per direction. */
	n = seal(a, 2, 3, "reflect", buf);
	buf[8] = 1; /* receiver n1 */
	ck_assert_int_eq(open1(a, buf, n, true, 0, &ev), AU_DROP_AUTH);
	au_pkt_key_free(ck);
	au_ident_free(a);
	au_ident_free(b);
	au_ident_free(c);
}
END_TEST

START_TEST(revoked_member_is_refused_both_ways)
{
	setup_keys();
	struct au_ident *n3 = ident(3, &kps[3], 4);
	revoked[3] = true;
	struct au_ident *n1 = ident(1, &kps[1], 4);
	ck_assert_ptr_null(au_ident_tx_key(n1, 3));
	ck_assert_uint_eq(n1->tx_revoked, 1);
	uint8_t buf[AU_PKT_MAX];
	enum au_ident_event ev;
	size_t n = seal(n3, 1, 1, "let me in", buf);
	for (int i = 1; i <= 4; i++)
		ck_assert_int_eq(open1(n1, buf, n, true, i, &ev), AU_DROP_REVOKED);
	ck_assert_int_eq(ev, AU_IDENT_QUARANTINED);
	g_autofree char *st = au_ident_status_text(n1, 5);
	ck_assert_msg(strstr(st, "n3 revoked (quarantined"), "%s", st);
	/* A node whose own key is revoked, or whose key pair is not the one
	 * listed, does not start. */
	char *err = NULL;
	struct au_quar_cfg cfg = {4, AU_NS_PER_S};
	ck_assert_ptr_null(au_ident_new(NODES, 3, ckey, 32, (const uint8_t(*)[AU_IDENT_KEY])pubs, revoked, &kps[3],
					cfg, &err));
	ck_assert_msg(strstr(err, "n3's key is revoked"), "%s", err);
	g_free(err);
	err = NULL;
	ck_assert_ptr_null(au_ident_new(NODES, 2, ckey, 32, (const uint8_t(*)[AU_IDENT_KEY])pubs, revoked, &kps[1],
					cfg, &err));
	ck_assert_msg(strstr(err, "wrong key") && strstr(err, "n2"), "%s", err);
	g_free(err);
	au_ident_free(n1);
	au_ident_free(n3);
}
END_TEST

START_TEST(quarantine_state_machine)
{
	struct au_quar_cfg cfg = {3, AU_NS_PER_S};
	struct au_peer_auth p = {0};
	/* Two invalid, one valid: the streak restarts, no quarantine. */
	ck_assert_int_eq(au_quar_record(&p, &cfg, false, 1), AU_IDENT_NONE);
	ck_assert_int_eq(au_quar_record(&p, &cfg, false, 2), AU_IDENT_NONE);
	ck_assert_int_eq(au_quar_record(&p, &cfg, true, 3), AU_IDENT_NONE);
	ck_assert_int_eq(au_quar_record(&p, &cfg, false, 4), AU_IDENT_NONE);
	ck_assert_int_eq(au_quar_record(&p, &cfg, false, 5), AU_IDENT_NONE);
	ck_assert_int_eq(au_quar_record(&p, &cfg, false, 10), AU_IDENT_QUARANTINED);
	ck_assert(au_quar_active(&p, 10 + AU_NS_PER_S - 1));
	ck_assert(!au_quar_active(&p, 10 + AU_NS_PER_S));
	ck_assert(p.wrong_key && au_quar_wrong_key(&p, &cfg, 11));
	/* On probation: one more invalid quarantines again, twice as long. */
	au_time t = 10 + AU_NS_PER_S;
	ck_assert_int_eq(au_quar_record(&p, &cfg, false, t), AU_IDENT_QUARANTINED);
	ck_assert_int_eq(p.until, t + 2 * AU_NS_PER_S);
	/* Growth stops at 8 periods. */
	for (int i = 0; i < 10; i++) {
		t = p.until;
		au_quar_record(&p, &cfg, false, t);
	}
	ck_assert_int_eq(p.until - t, 8 * AU_NS_PER_S);
	ck_assert_uint_eq(p.quarantines, 12);
	/* A quiet peer stops being reported after 8 periods. */
	ck_assert(au_quar_wrong_key(&p, &cfg, t + 8 * AU_NS_PER_S - 1));
	ck_assert(!au_quar_wrong_key(&p, &cfg, t + 8 * AU_NS_PER_S));
	/* One valid proof clears everything. */
	ck_assert_int_eq(au_quar_record(&p, &cfg, true, p.until), AU_IDENT_RECOVERED);
	ck_assert(!p.wrong_key && !au_quar_active(&p, p.until) && p.streak == 0);
	ck_assert_int_eq(au_quar_record(&p, &cfg, false, t + 1), AU_IDENT_NONE);
}
END_TEST

START_TEST(forgeries_from_elsewhere_do_not_quarantine)
{
	setup_keys();
	struct au_ident *n1 = ident(1, &kps[1], 4);
	struct au_ident *n2 = ident(2, &kps[2], 4);
	uint8_t buf[AU_PKT_MAX];
	enum au_ident_event ev;
	size_t n = seal(n2, 1, 1, "real", buf);
	buf[AU_PKT_HDR] ^= 1; /* damaged */
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(open1(n1, buf, n, false, i, &ev), AU_DROP_AUTH);
	ck_assert_uint_eq(n1->peer[2].forged, 100);
	ck_assert_uint_eq(n1->peer[2].quarantines, 0);
	buf[AU_PKT_HDR] ^= 1;
	ck_assert_int_eq(open1(n1, buf, n, true, 100, &ev), -1);
	/* The same from its own address: quarantined, then ignored unread. */
	buf[AU_PKT_HDR] ^= 1;
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(open1(n1, buf, n, true, 200 + i, &ev), AU_DROP_AUTH);
	ck_assert_int_eq(ev, AU_IDENT_QUARANTINED);
	buf[AU_PKT_HDR] ^= 1;
	ck_assert_int_eq(open1(n1, buf, n, true, 300, &ev), AU_DROP_QUARANTINED);
	ck_assert_uint_eq(n1->peer[2].ignored, 1);
	/* After the period it is heard again. */
	ck_assert_int_eq(open1(n1, buf, n, true, 203 + AU_NS_PER_S, &ev), -1);
	ck_assert_int_eq(ev, AU_IDENT_RECOVERED);
	GString *m = g_string_new(NULL);
	au_ident_render_metrics(n1, 0, m);
	ck_assert_msg(strstr(m->str, "aureon_auth_failures_total{peer=\"n2\"} 4\n"), "%s", m->str);
	ck_assert_msg(strstr(m->str, "aureon_auth_forged_total{peer=\"n2\"} 100\n"), "%s", m->str);
	ck_assert_msg(strstr(m->str, "aureon_peer_quarantines_total{peer=\"n2\"} 1\n"), "%s", m->str);
	ck_assert(!strstr(m->str, "peer=\"n1\""));
	g_string_truncate(m, 0);
	au_ident_peer_json(n1, 2, 0, m);
	ck_assert_msg(strstr(m->str, "\"wrong_key\": false, \"quarantined\": false"), "%s", m->str);
	ck_assert_msg(strstr(m->str, "\"invalid_proofs\": 4, \"forged\": 100, \"quarantines\": 1, \"ignored\": 1"),
		      "%s", m->str);
	g_string_free(m, TRUE);
	au_ident_free(n1);
	au_ident_free(n2);
}
END_TEST

/* ---- quarantine under packet corruption (seeded) ---------------------------- */

struct corrupt_run {
	uint64_t verdicts;          /* FNV-1a over every (sender, verdict) */
	uint64_t sent_clean[NODES + 1], accepted[NODES + 1], corrupted_accepted;
	struct au_peer_auth peer[NODES + 1];
	uint64_t forger_invalid_at_first_quarantine;
	bool forger_recovered;
};

/* n1 receives from n2, n3 (honest, their datagrams corrupted with
 * probability `p_honest` by one flipped bit) and n4, which has the wrong
 * key pair until `fix_at` and the right one after.  One datagram per
 * simulated millisecond, senders and lengths from the PCG32 stream. */
static void corrupt_run(uint64_t seed, double p_honest, uint32_t datagrams, uint32_t fix_at,
			struct corrupt_run *out)
{
	setup_keys();
	memset(out, 0, sizeof(*out));
	struct au_ident *rx = ident(1, &kps[1], AU_QUAR_AFTER_DEFAULT);
	struct au_ident *tx[NODES + 1] = {0};
	for (int i = 2; i <= NODES; i++)
		tx[i] = ident((au_node_id)i, &kps[i], AU_QUAR_AFTER_DEFAULT);
	/* The forger: its own view lists its stale public key. */
	struct au_ident_keypair stale;
	keypair(99, &stale);
	uint8_t right[AU_IDENT_KEY];
	memcpy(right, pubs[4], AU_IDENT_KEY);
	memcpy(pubs[4], stale.pk, AU_IDENT_KEY);
	struct au_ident *forger = ident(4, &stale, AU_QUAR_AFTER_DEFAULT);
	memcpy(pubs[4], right, AU_IDENT_KEY);

	struct au_pcg32 rng;
	au_pcg32_seed(&rng, seed, 16);
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	uint8_t buf[AU_PKT_MAX], msg[64];
	uint64_t counter[NODES + 1] = {0};
	for (uint32_t i = 0; i < datagrams; i++) {
		au_time now = (au_time)i * AU_NS_PER_MS;
		au_node_id s = 2 + au_pcg32_below(&rng, 3);
		size_t ml = 1 + au_pcg32_below(&rng, sizeof(msg));
		for (size_t k = 0; k < ml; k++)
			msg[k] = (uint8_t)au_pcg32_next(&rng);
		struct au_ident *from = s == 4 && i < fix_at ? forger : tx[s];
		struct au_pkt_hdr hd = {s, 1, ++counter[s], 7};
		size_t n = au_pkt_seal(au_ident_tx_key(from, 1), &hd, msg, ml, buf);
		bool corrupt = au_pcg32_unit(&rng) < p_honest;
		if (corrupt) {
			uint32_t bit = au_pcg32_below(&rng, (uint32_t)n * 8);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		} else {
			out->sent_clean[s]++;
		}
		/* The datagram comes from s's address, whatever its header says. */
		bool from_host = au_pkt_peek_sender(buf, n) == s;
		enum au_ident_event ev;
		int v = open1(rx, buf, n, from_host, now, &ev);
		if (v == -1 && corrupt)
			out->corrupted_accepted++;
		if (v == -1)
			out->accepted[s]++;
		if (s == 4 && ev == AU_IDENT_QUARANTINED && !out->forger_invalid_at_first_quarantine)
			out->forger_invalid_at_first_quarantine = rx->peer[4].invalid;
		if (s == 4 && ev == AU_IDENT_RECOVERED)
			out->forger_recovered = true;
		uint8_t rec[2] = {(uint8_t)s, (uint8_t)(v + 1)};
		h = au_hash_fnv1a_add(h, rec, sizeof(rec));
	}
	out->verdicts = h;
	memcpy(out->peer, rx->peer, sizeof(out->peer));
	au_ident_free(rx);
	au_ident_free(forger);
	for (int i = 2; i <= NODES; i++)
		au_ident_free(tx[i]);
}

START_TEST(quarantine_under_packet_corruption)
{
	/* Stated threshold: with the default 16 in a row, independent
	 * corruption up to 25 % quarantines an honest member with
	 * probability <= 0.25^16 = 2^-32 per datagram. */
	const uint32_t N = 60000;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct corrupt_run a, b;
		corrupt_run(seed, 0.25, N, N / 2, &a);
		for (int s = 2; s <= 3; s++) {
			ck_assert_uint_eq(a.peer[s].quarantines, 0);
			ck_assert(!a.peer[s].wrong_key);
			/* Every undamaged datagram of an honest member got through. */
			ck_assert_uint_eq(a.accepted[s], a.sent_clean[s]);
			ck_assert_uint_gt(a.peer[s].invalid, 0);
		}
		/* No damaged datagram passed; the forger is quarantined after
		 * exactly 16 invalid proofs, and back once fixed. */
		ck_assert_uint_eq(a.corrupted_accepted, 0);
		ck_assert_uint_eq(a.forger_invalid_at_first_quarantine, AU_QUAR_AFTER_DEFAULT);
		ck_assert_uint_ge(a.peer[4].quarantines, 3);
		ck_assert_uint_gt(a.peer[4].ignored, 0);
		ck_assert(a.forger_recovered);
		ck_assert(!a.peer[4].wrong_key);
		ck_assert_uint_gt(a.accepted[4], 0);
		/* Deterministic: the same seed gives the same verdicts. */
		corrupt_run(seed, 0.25, N, N / 2, &b);
		ck_assert_uint_eq(a.verdicts, b.verdicts);
		ck_assert_int_eq(memcmp(a.peer, b.peer, sizeof(a.peer)), 0);
		if (seed > 1) {
			struct corrupt_run c;
			corrupt_run(seed - 1, 0.25, N, N / 2, &c);
			ck_assert_uint_ne(a.verdicts, c.verdicts);
		}
	}
	/* Above the threshold the rule bites: 90 % corruption quarantines
	 * honest members too (so the check above can fail). */
	struct corrupt_run d;
	corrupt_run(7, 0.9, 20000, 0, &d);
	ck_assert_uint_gt(d.peer[2].quarantines + d.peer[3].quarantines, 0);
}
END_TEST

/* ---- key files and the cluster file ----------------------------------------- */

static void secret_error(const char *text, const char *want)
{
	struct au_ident_keypair kp;
	char *err = NULL;
	ck_assert(!au_ident_parse_secret("id.key", text, &kp, &err));
	ck_assert_msg(strstr(err, want), "got '%s', want '%s'", err, want);
	g_free(err);
}

START_TEST(secret_key_file_errors)
{
	struct au_ident_keypair kp;
	g_autofree char *pub = NULL;
	g_autofree char *text = au_ident_generate(&kp, &pub);
	struct au_ident_keypair back;
	char *err = NULL;
	ck_assert_msg(au_ident_parse_secret("id.key", text, &back, &err), "%s", err);
	ck_assert_int_eq(memcmp(&back, &kp, sizeof(kp)), 0);
	ck_assert_int_eq(strlen(pub), 64);
	g_autofree char *sk_line = g_strdup(strstr(text, "secret = "));
	*strchr(sk_line, '\n') = '\0';
	g_autofree char *pk_line = g_strdup(strstr(text, "public = "));
	*strchr(pk_line, '\n') = '\0';
	secret_error("# only a comment\n", "id.key: no 'secret = HEX' line");
	g_autofree char *no_pk = g_strdup_printf("%s\n", sk_line);
	secret_error(no_pk, "id.key: no 'public = HEX' line");
	g_autofree char *bad = g_strdup_printf("%s\n\npublic = 12zz\n", sk_line);
	secret_error(bad, "id.key: line 3: public: a key is 64 hex digits");
	g_autofree char *shortk = g_strdup_printf("secret = abcd\n%s\n", pk_line);
	secret_error(shortk, "id.key: line 1: secret: a key is exactly 64 hex digits");
	g_autofree char *two = g_strdup_printf("%s\n%s\n%s\n", sk_line, sk_line, pk_line);
	secret_error(two, "id.key: line 2: 'secret' given twice");
	secret_error("colour = blue\n", "id.key: line 1: unknown field 'colour'");
	secret_error("just words\n", "id.key: line 1: expected 'secret = HEX'");
	struct au_ident_keypair other;
	g_autofree char *pub2 = NULL;
	g_autofree char *text2 = au_ident_generate(&other, &pub2);
	g_autofree char *mixed = g_strdup_printf("%s\npublic = %s\n", sk_line, pub2);
	secret_error(mixed, "id.key: the public key is not the secret key's");
}
END_TEST

static char *tmpdir_with_key(void)
{
	char tmpl[] = "/tmp/aureon-ident-XXXXXX";
	ck_assert(g_mkdtemp(tmpl));
	g_autofree char *key = g_build_filename(tmpl, "cluster.key", NULL);
	ck_assert(g_file_set_contents(key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", -1,
				      NULL));
	g_chmod(key, 0600);
	return g_strdup(tmpl);
}

static void cluster_error(const char *auth_extra, const char *identities, const char *want)
{
	g_autofree char *dir = tmpdir_with_key();
	g_autofree char *ini = g_build_filename(dir, "c.ini", NULL);
	g_autofree char *body = g_strdup_printf("[cluster]\nnodes = 2\nservices = raft\n[hosts]\nn1 = 127.0.0.1:7001\n"
						"n2 = 127.0.0.1:7002\n[auth]\nkey_file = cluster.key\n%s%s",
						auth_extra, identities);
	ck_assert(g_file_set_contents(ini, body, -1, NULL));
	char *err = NULL;
	struct au_cluster *c = au_cluster_load(ini, &err);
	if (want) {
		ck_assert_msg(!c, "loaded: %s", body);
		ck_assert_msg(strstr(err, want) && strstr(err, "c.ini"), "got '%s', want '%s'", err, want);
		g_free(err);
	} else {
		ck_assert_msg(c, "%s", err);
		ck_assert(c->pub && !c->revoked[1] && c->revoked[2]);
		ck_assert_uint_eq(c->quar.after, 5);
		ck_assert_int_eq(c->quar.period, 250 * AU_NS_PER_MS);
		g_autofree char *p = au_cluster_identity_path(c, 2);
		g_autofree char *want_p = g_build_filename(dir, "keys", "n2.key", NULL);
		ck_assert_str_eq(p, want_p);
		au_cluster_free(c);
	}
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(identities_group_errors)
{
	const char *k1 = "n1 = 0101010101010101010101010101010101010101010101010101010101010101\n";
	g_autofree char *good = g_strdup_printf("[identities]\n%sn2 = revoked\n", k1);
	cluster_error("quarantine_after = 5\nquarantine_for = 250ms\nidentity_file = keys/%n.key\n", good, NULL);
	g_autofree char *missing = g_strdup_printf("[identities]\n%s", k1);
	cluster_error("", missing, "[identities]: no public key for n2");
	cluster_error("", "[identities]\nn1 = 0102\nn2 = revoked\n", "[identities] n1: '0102': a key is exactly 64 hex");
	g_autofree char *same = g_strdup_printf("[identities]\n%s%s", k1, "n2 = 0101010101010101010101010101010101010101010101010101010101010101\n");
	cluster_error("", same, "[identities] n2: the same public key as n1");
	g_autofree char *stranger = g_strdup_printf("[identities]\n%sn2 = revoked\nn7 = revoked\n", k1);
	cluster_error("", stranger, "[identities] n7: not a node of this cluster");
	cluster_error("quarantine_after = 0\n", "", "[auth] quarantine_after: '0'");
	cluster_error("quarantine_for = soon\n", "", "[auth] quarantine_for: 'soon': a duration");
	cluster_error("identity_file =\n", "", "[auth] identity_file: empty");
}
END_TEST

Suite *identity_suite(void)
{
	Suite *s = suite_create("identity");
	TCase *t = tcase_create("identity");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, pair_keys_prove_the_sender);
	tcase_add_test(t, revoked_member_is_refused_both_ways);
	tcase_add_test(t, quarantine_state_machine);
	tcase_add_test(t, forgeries_from_elsewhere_do_not_quarantine);
	tcase_add_test(t, quarantine_under_packet_corruption);
	tcase_add_test(t, secret_key_file_errors);
	tcase_add_test(t, identities_group_errors);
	suite_add_tcase(s, t);
	return s;
}
