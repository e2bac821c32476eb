/* test_shim.c — aureon-node and aureon-ctl: the packet format and replay
 * window, cluster-file errors, the receive path of a node in-process, its
 * storage over real files, and a real 3-node cluster on 127.0.0.1 (leader
 * killed with SIGKILL, a new one within 5 s, no acknowledged write lost,
 * the killed node restarted from its files and caught up, forged, replayed,
 * truncated and oversize datagrams counted in /metrics). */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "raft/raft.h"
#include "shim/cluster.h"
#include "shim/ctlproto.h"
#include "shim/node.h"
#include "shim/packet.h"
#include "kernels.h"
#include "rqml.h"
#include "tests.h"
#include "shim_cluster.h"

static const uint8_t test_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static int64_t mono_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* ---- packets ------------------------------------------------------------- */

START_TEST(packet_seal_open_and_tamper)
{
	struct au_pkt_key *k = au_pkt_key_new(test_key, sizeof(test_key));
	struct au_pkt_key *other = au_pkt_key_new((const uint8_t *)"another key, 32 bytes long......", 32);
	ck_assert(k && other);
	ck_assert(!au_pkt_key_new(test_key, 8));
	uint8_t buf[AU_PKT_MAX + 16], msg[100];
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7);
	struct au_pkt_hdr h = {3, 1, UINT64_C(0x1234567890), au_pkt_service_tag("raft")}, g;
	size_t len = au_pkt_seal(k, &h, msg, sizeof(msg), buf);
	ck_assert_uint_eq(len, AU_PKT_HDR + sizeof(msg) + AU_PKT_MAC);
	const uint8_t *p;
	size_t plen;
	ck_assert_int_eq(au_pkt_open(k, buf, len, &g, &p, &plen), -1);
	ck_assert_uint_eq(g.sender, 3);
	ck_assert_uint_eq(g.receiver, 1);
	ck_assert(g.counter == UINT64_C(0x1234567890));
	ck_assert_uint_eq(g.service, h.service);
	ck_assert_uint_eq(plen, sizeof(msg));
	ck_assert(memcmp(p, msg, sizeof(msg)) == 0);
	/* Every single bit flip anywhere fails authentication. */
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b += 3) {
			buf[i] ^= (uint8_t)(1u << b);
			ck_assert_int_eq(au_pkt_open(k, buf, len, &g, &p, &plen), AU_DROP_AUTH);
			buf[i] ^= (uint8_t)(1u << b);
		}
	}
	ck_assert_int_eq(au_pkt_open(other, buf, len, &g, &p, &plen), AU_DROP_AUTH);
	/* Truncation: too short to hold anything, or cut (then the MAC fails). */
	ck_assert_int_eq(au_pkt_open(k, buf, 0, &g, &p, &plen), AU_DROP_TRUNCATED);
	ck_assert_int_eq(au_pkt_open(k, buf, AU_PKT_HDR + AU_PKT_MAC, &g, &p, &plen), AU_DROP_TRUNCATED);
	ck_assert_int_eq(au_pkt_open(k, buf, len - 1, &g, &p, &plen), AU_DROP_AUTH);
	ck_assert_int_eq(au_pkt_open(k, buf, AU_PKT_MAX + 1, &g, &p, &plen), AU_DROP_OVERSIZE);
	/* Sizes: empty and over AU_MSG_MAX are refused; AU_MSG_MAX fits. */
	ck_assert_uint_eq(au_pkt_seal(k, &h, msg, 0, buf), 0);
	uint8_t *big = g_malloc0(AU_MSG_MAX + 1);
	uint8_t *out = g_malloc(AU_PKT_MAX);
	ck_assert_uint_eq(au_pkt_seal(k, &h, big, AU_MSG_MAX + 1, out), 0);
	ck_assert_uint_eq(au_pkt_seal(k, &h, big, AU_MSG_MAX, out), AU_PKT_MAX);
	ck_assert_int_eq(au_pkt_open(k, out, AU_PKT_MAX, &g, &p, &plen), -1);
	g_free(big);
	g_free(out);
	/* An authentic datagram of another version is refused as such. */
	len = au_pkt_seal(k, &h, msg, sizeof(msg), buf);
	buf[2] = 2;
	GHmac *mac = g_hmac_new(G_CHECKSUM_SHA256, test_key, sizeof(test_key));
	g_hmac_update(mac, buf, (gssize)(len - AU_PKT_MAC));
	gsize dl = AU_PKT_MAC;
	g_hmac_get_digest(mac, buf + len - AU_PKT_MAC, &dl);
	g_hmac_unref(mac);
	ck_assert_int_eq(au_pkt_open(k, buf, len, &g, &p, &plen), AU_DROP_VERSION);
	au_pkt_key_free(k);
	au_pkt_key_free(other);
}
END_TEST

START_TEST(replay_window)
{
	struct au_replay r = {0};
	ck_assert(!au_replay_accept(&r, 0));
	ck_assert(au_replay_accept(&r, 1));
	ck_assert(!au_replay_accept(&r, 1));
	ck_assert(au_replay_accept(&r, 5));
	ck_assert(au_replay_accept(&r, 3)); /* reordered, inside the window */
	ck_assert(!au_replay_accept(&r, 3));
	ck_assert(au_replay_accept(&r, 2));
	ck_assert(au_replay_accept(&r, 4));
	for (uint64_t c = 1; c <= 5; c++)
		ck_assert(!au_replay_accept(&r, c));
	/* Slide by less than the window: old slots are forgotten correctly. */
	ck_assert(au_replay_accept(&r, 5 + AU_REPLAY_WINDOW - 1));
	ck_assert(!au_replay_accept(&r, 5));
	ck_assert(au_replay_accept(&r, 6));
	ck_assert(!au_replay_accept(&r, 6));
	/* Too old for the window: refused even if never seen. */
	ck_assert(au_replay_accept(&r, 10 * AU_REPLAY_WINDOW));
	ck_assert(!au_replay_accept(&r, 9 * AU_REPLAY_WINDOW));
	ck_assert(au_replay_accept(&r, 10 * AU_REPLAY_WINDOW - 1));
	/* A new boot epoch jumps far ahead. */
	uint64_t e2 = UINT64_C(2) << AU_PKT_SEQ_BITS | 1;
	ck_assert(au_replay_accept(&r, e2));
	ck_assert(!au_replay_accept(&r, 10 * AU_REPLAY_WINDOW + 1));
	ck_assert(!au_replay_accept(&r, e2));
	ck_assert(au_replay_accept(&r, e2 + 1));
	/* Exhaustive against a model: a random walk of counters. */
	struct au_replay w = {0};
	GHashTable *seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	uint64_t top = 0;
	guint32 x = 12345;
	for (int i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		uint64_t c = top + 8 > 3000 ? top + 8 - (x >> 8) % 3000 : 1 + (x >> 8) % (top + 8);
		if (c == 0)
			c = 1;
		bool expect = !g_hash_table_contains(seen, &c) && (c > top || top - c < AU_REPLAY_WINDOW);
		ck_assert_msg(au_replay_accept(&w, c) == expect, "counter %" G_GUINT64_FORMAT " top %" G_GUINT64_FORMAT, c, top);
		if (expect) {
			gint64 *key = g_new(gint64, 1);
			*key = (gint64)c;
			g_hash_table_add(seen, key);
			if (c > top)
				top = c;
		}
	}
	g_hash_table_destroy(seen);
}
END_TEST

START_TEST(key_text)
{
	size_t len;
	const char *why = NULL;
	g_autofree uint8_t *k = au_pkt_parse_key_text(
		"000102030405060708090a0b0c0d0e0f\n101112131415161718191A1B1C1D1E1F  \n", &len, &why);
	ck_assert(k);
	ck_assert_uint_eq(len, 32);
	ck_assert_uint_eq(k[31], 0x1f);
	ck_assert(!au_pkt_parse_key_text("abc", &len, &why));
	ck_assert(strstr(why, "odd"));
	ck_assert(!au_pkt_parse_key_text("zz", &len, &why));
	ck_assert(strstr(why, "hex"));
	ck_assert(!au_pkt_parse_key_text("0011", &len, &why));
	ck_assert(strstr(why, "shorter"));
}
END_TEST

START_TEST(control_protocol_roundtrip)
{
	struct au_ctl_status s = {0}, d;
	s.nonce = 99;
	s.st.id = 2;
	s.st.nodes = 3;
	s.st.role = 3;
	s.st.term = 7;
	s.st.leader = 2;
	s.st.voters = 0xe;
	s.st.queue_depth = UINT64_MAX;
	g_strlcpy(s.services, "raft,kv", sizeof(s.services));
	uint8_t buf[512];
	size_t len = au_ctl_encode_status_resp(&s, buf, sizeof(buf));
	ck_assert(len > 0);
	ck_assert(au_ctl_decode_status_resp(buf, len, &d));
	ck_assert_uint_eq(d.st.term, 7);
	ck_assert_int_eq(d.st.role, 3);
	ck_assert_str_eq(d.services, "raft,kv");
	for (size_t cut = 0; cut < len; cut++)
		ck_assert(!au_ctl_decode_status_resp(buf, cut, &d));
	buf[10] ^= 1;
	ck_assert(!au_ctl_decode_status_resp(buf, len, &d));
	uint64_t nonce;
	len = au_ctl_encode_status_req(5, buf, sizeof(buf));
	ck_assert(au_ctl_decode_status_req(buf, len, &nonce) && nonce == 5);
	ck_assert(!au_ctl_decode_status_req(buf, len - 1, &nonce));
	ck_assert_int_eq(au_ctl_type(buf, len), AU_CTL_STATUS_REQ);
	ck_assert_int_eq(au_ctl_type(buf, len - 1), -1);
	/* The queue fields of a status reply. */
	s.st.has_queue = true;
	s.st.queue_depth = 12;
	s.st.q_done = 40;
	s.st.leases = 3;
	s.st.draining = true;
	len = au_ctl_encode_status_resp(&s, buf, sizeof(buf));
	ck_assert(au_ctl_decode_status_resp(buf, len, &d));
	ck_assert(d.st.has_queue && d.st.draining);
	ck_assert_uint_eq(d.st.queue_depth, 12);
	ck_assert_uint_eq(d.st.q_done, 40);
	ck_assert_uint_eq(d.st.leases, 3);

	/* drain / resume. */
	struct au_ctl_admin_req aq = {77, AU_CTL_DRAIN, 2}, aq2;
	len = au_ctl_encode_admin_req(&aq, buf, sizeof(buf));
	ck_assert(au_ctl_decode_admin_req(buf, len, &aq2));
	ck_assert(aq2.nonce == 77 && aq2.op == AU_CTL_DRAIN && aq2.target == 2);
	ck_assert_int_eq(au_ctl_type(buf, len), AU_CTL_ADMIN_REQ);
	for (size_t cut = 0; cut < len; cut++)
		ck_assert(!au_ctl_decode_admin_req(buf, cut, &aq2));
	ck_assert(!au_ctl_decode_status_req(buf, len, &nonce)); /* types are not confused */
	aq.op = 9; /* no such operation */
	len = au_ctl_encode_admin_req(&aq, buf, sizeof(buf));
	ck_assert(!au_ctl_decode_admin_req(buf, len, &aq2));
	struct au_ctl_admin_resp ar = {77, AU_CTL_NOT_LEADER, 3, 1, 5}, ar2;
	len = au_ctl_encode_admin_resp(&ar, buf, sizeof(buf));
	ck_assert(au_ctl_decode_admin_resp(buf, len, &ar2));
	ck_assert(ar2.answer == AU_CTL_NOT_LEADER && ar2.leader == 3 && ar2.draining == 1 && ar2.leases == 5);
	for (size_t cut = 0; cut < len; cut++)
		ck_assert(!au_ctl_decode_admin_resp(buf, cut, &ar2));
	ar.answer = AU_CTL_ANSWERS_;
	len = au_ctl_encode_admin_resp(&ar, buf, sizeof(buf));
	ck_assert(!au_ctl_decode_admin_resp(buf, len, &ar2));

	/* submit. */
	static struct au_ctl_submit_req sq, sq2;
	sq.nonce = 5;
	sq.first_id = 1000;
	sq.count = 30;
	sq.rounds = 3;
	sq.priority = -4;
	sq.payload_len = 5;
	memcpy(sq.payload, "hello", 5);
	uint8_t big[128 + AU_CTL_PAYLOAD_MAX];
	len = au_ctl_encode_submit_req(&sq, big, sizeof(big));
	ck_assert(au_ctl_decode_submit_req(big, len, &sq2));
	ck_assert(sq2.first_id == 1000 && sq2.count == 30 && sq2.rounds == 3 && sq2.priority == -4 &&
		  sq2.payload_len == 5 && memcmp(sq2.payload, "hello", 5) == 0);
	for (size_t cut = 0; cut < len; cut++)
		ck_assert(!au_ctl_decode_submit_req(big, cut, &sq2));
	sq.count = AU_CTL_SUBMIT_MAX + 1; /* too many */
	len = au_ctl_encode_submit_req(&sq, big, sizeof(big));
	ck_assert(!au_ctl_decode_submit_req(big, len, &sq2));
	sq.count = 2;
	sq.first_id = UINT64_MAX - 1; /* ids would wrap */
	len = au_ctl_encode_submit_req(&sq, big, sizeof(big));
	ck_assert(!au_ctl_decode_submit_req(big, len, &sq2));
	sq.first_id = 1;
	sq.payload_len = AU_CTL_PAYLOAD_MAX + 1;
	ck_assert_uint_eq(au_ctl_encode_submit_req(&sq, big, sizeof(big)), 0);
	struct au_ctl_submit_resp sr = {5, AU_CTL_DONE, 0, 30, 10, 5, 14, 1}, sr2;
	len = au_ctl_encode_submit_resp(&sr, buf, sizeof(buf));
	ck_assert(au_ctl_decode_submit_resp(buf, len, &sr2));
	ck_assert(sr2.present == 30 && sr2.done == 14 && sr2.dead == 1);
	for (size_t cut = 0; cut < len; cut++)
		ck_assert(!au_ctl_decode_submit_resp(buf, cut, &sr2));
	sr.done = 15; /* states that do not add up */
	len = au_ctl_encode_submit_resp(&sr, buf, sizeof(buf));
	ck_assert(!au_ctl_decode_submit_resp(buf, len, &sr2));
}
END_TEST

/* ---- cluster files -------------------------------------------------------- */

static const char *const good_cluster =
	"[cluster]\nnodes = 3\nservices = raft,kv\n"
	"[raft]\nelection_timeout = 150ms..300ms\n"
	"[hosts]\nn1 = 127.0.0.1:17101\nn2 = 127.0.0.1:17102\nn3 = 127.0.0.1:17103\n"
	"[auth]\nkey_file = cluster.key\n";

/* Load `body` as a cluster file; expect failure with every `needle` in the
 * message. */
static void expect_bad(const char *body, const char *n1, const char *n2)
{
	g_autofree char *dir = make_tmpdir();
	g_autofree char *ini = write_cluster(dir, body);
	char *err = NULL;
	struct au_cluster *c = au_cluster_load(ini, &err);
	ck_assert_msg(!c, "loaded: %s", body);
	ck_assert_msg(strstr(err, ini) && strstr(err, n1) && (!n2 || strstr(err, n2)), "%s", err);
	g_free(err);
	rm_rf(dir);
}

START_TEST(cluster_file_good_and_bad)
{
	g_autofree char *dir = make_tmpdir();
	g_autofree char *ini = write_cluster(dir, good_cluster);
	char *err = NULL;
	struct au_cluster *c = au_cluster_load(ini, &err);
	ck_assert_msg(c, "%s", err);
	ck_assert_uint_eq(c->nodes, 3);
	ck_assert_uint_eq(c->key_len, 32);
	ck_assert_uint_eq(g_inet_socket_address_get_port(c->host[2]), 17102);
	ck_assert(!c->http[1]);
	ck_assert_str_eq(c->spec.services[0]->name, "raft");
	const struct au_raft_config *rc = c->spec.service_config[0];
	ck_assert(rc->election_lo_ns == 150 * AU_NS_PER_MS && rc->heartbeat_ns == 50 * AU_NS_PER_MS);
	au_cluster_free(c);
	/* The key must not be readable by others. */
	g_autofree char *key = g_build_filename(dir, "cluster.key", NULL);
	chmod(key, 0644);
	ck_assert(!au_cluster_load(ini, &err));
	ck_assert_msg(strstr(err, "[auth] key_file") && strstr(err, "chmod 600"), "%s", err);
	g_free(err);
	rm_rf(dir);

	/* Model keys are checked by config/ as in scenarios, from the model's table. */
	expect_bad("[cluster]\nnodes = 3\nservices = raft,kv\n[raft]\nheartbeat = 50\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[auth]\nkey_file = cluster.key\n",
		   "[raft] heartbeat", NULL);
	expect_bad("[cluster]\nnodes = 3\nservices = raft,kv\n[raft]\nbogus = 1\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[auth]\nkey_file = cluster.key\n",
		   "[raft] bogus", "unknown key");
	expect_bad("[cluster]\nnodes = 3\nservices = raft,nosuch\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[auth]\nkey_file = cluster.key\n",
		   "[cluster] services", "nosuch");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n[network]\nloss = 0.1\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[auth]\nkey_file = cluster.key\n",
		   "[network]", "simulation-only");
	/* [chaos] and [trace] are the simulator's, like every group it alone reads. */
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n[chaos]\nmax_faults = 3\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[auth]\nkey_file = cluster.key\n",
		   "[chaos]", "simulation-only");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n[trace]\nmessages = none\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[auth]\nkey_file = cluster.key\n",
		   "[trace]", "simulation-only");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n[bogus]\nx = 1\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[auth]\nkey_file = cluster.key\n",
		   "[bogus]", "unknown group (known: cluster, hosts, http, auth");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n[swim]\nprobe_interval = 1s\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[auth]\nkey_file = cluster.key\n",
		   "[swim]", "not in [cluster] services");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\n[auth]\nkey_file = cluster.key\n",
		   "[hosts]", "n3");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:70000\n[auth]\nkey_file = cluster.key\n",
		   "[hosts] n3", "port");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\nn4 = 127.0.0.1:4\n[auth]\nkey_file = cluster.key\n",
		   "[hosts] n4", NULL);
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:1\nn3 = 127.0.0.1:3\n[auth]\nkey_file = cluster.key\n",
		   "[hosts] n2", "same address as n1 = 127.0.0.1:1");
	/* A node listed twice: GKeyFile would keep the last silently. */
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\nn1 = 127.0.0.1:4\n[auth]\nkey_file = cluster.key\n",
		   "[hosts] n1", "set twice, on lines 5 and 8");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\n[auth]\nkey_file = cluster.key\n[hosts]\nn2 = 127.0.0.1:3\nn3 = 127.0.0.1:4\n",
		   "[hosts] n2", "set twice, on lines 6 and 10");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[http]\nn1 = 127.0.0.1:8\nn1=127.0.0.1:9\n[auth]\nkey_file = cluster.key\n",
		   "[http] n1", "set twice");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n",
		   "[auth]", "key_file");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[auth]\nkey_file = nope.key\n",
		   "[auth] key_file", "nope.key");
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[auth]\nkey_file = cluster.key\nx = 1\n",
		   "[auth] x", NULL);
	expect_bad("[cluster]\nnodes = 3\nservices = raft\n"
		   "[hosts]\nn1 = 127.0.0.1:1\nn2 = 127.0.0.1:2\nn3 = 127.0.0.1:3\n[http]\nn1 = :8\n[auth]\nkey_file = cluster.key\n",
		   "[http] n1", NULL);
	expect_bad("not a key file at all\n", "not a valid key file", NULL);
}
END_TEST

START_TEST(node_cli_errors_exit_2)
{
	g_autofree char *dir = make_tmpdir();
	g_autofree char *ini = write_cluster(dir, good_cluster);
	const char *bin = au_test_bin();
	char *out = NULL;
	g_autofree char *c1 = g_strdup_printf("%s/aureon-node --config %s 2>&1", bin, ini);
	ck_assert_int_eq(au_test_run(c1, &out), 2);
	ck_assert_msg(strstr(out, "--id"), "%s", out);
	g_free(out);
	g_autofree char *c2 = g_strdup_printf("%s/aureon-node --config %s --id n9 2>&1", bin, ini);
	ck_assert_int_eq(au_test_run(c2, &out), 2);
	ck_assert_msg(strstr(out, "n9"), "%s", out);
	g_free(out);
	g_autofree char *c3 = g_strdup_printf("%s/aureon-node --config %s/missing.ini --id n1 2>&1", bin, dir);
	ck_assert_int_eq(au_test_run(c3, &out), 2);
	ck_assert_msg(strstr(out, "missing.ini"), "%s", out);
	g_free(out);
	g_autofree char *c4 = g_strdup_printf("%s/aureon-node --help", bin);
	ck_assert_int_eq(au_test_run(c4, &out), 0);
	ck_assert(strstr(out, "usage: aureon-node"));
	g_free(out);
	/* aureon-ctl: usage errors, a cluster without the execution layer,
	 * unknown nodes, bad job files, keygen. */
	g_autofree char *c5 = g_strdup_printf("%s/aureon-ctl --config %s submit job.ini 2>&1", bin, ini);
	ck_assert_int_eq(au_test_run(c5, &out), 2);
	ck_assert_msg(strstr(out, "execution layer"), "%s", out);
	g_free(out);
	g_autofree char *eini = g_build_filename(dir, "exec.ini", NULL);
	write_text(eini, "[cluster]\nnodes = 3\nservices = raft,aureon\n"
			 "[hosts]\nn1 = 127.0.0.1:17101\nn2 = 127.0.0.1:17102\nn3 = 127.0.0.1:17103\n"
			 "[auth]\nkey_file = cluster.key\n", 0644);
	g_autofree char *rini = g_build_filename(dir, "rqml.ini", NULL);
	write_text(rini, "[cluster]\nnodes = 3\nservices = raft,aureon,one,rqml\n[workload]\njobs = none\n"
			 "[hosts]\nn1 = 127.0.0.1:17101\nn2 = 127.0.0.1:17102\nn3 = 127.0.0.1:17103\n"
			 "[auth]\nkey_file = cluster.key\n", 0644);
	/* rq: against the cluster that runs rqml. */
	static const struct {
		bool rq;
		const char *args, *needle;
	} bad[] = {
		{false, "drain n4", "unknown node"},
		{false, "resume x", "unknown node"},
		{false, "drain", "takes 1 argument"},
		{false, "submit JOB", "missing"},
		{false, "submit JOB:[job]\ncount = 3\n", "[job] kind"},
		{false, "submit JOB:[job]\nkind = pagerank\n", "rqml service"},
		{false, "submit JOB:[job]\nkind = pagerank\ncount = 3\n", "[job] count: unknown key"},
		{false, "submit JOB:[job]\nkind = tasks\n", "[job] count"},
		{false, "submit JOB:[job]\nkind = tasks\ncount = 0\n", "[job] count"},
		{false, "submit JOB:[job]\nkind = tasks\ncount = 3\nrounds = x\n", "[job] rounds"},
		{false, "submit JOB:[job]\nkind = tasks\ncount = 3\ncolour = red\n", "[job] colour"},
		{false, "submit JOB:[job]\nkind = tasks\ncount = 3\ncaps = gpu\n", "[job] caps"},
		{false, "submit JOB:[job]\nkind = tasks\ncount = 3\npriority = 1.5\n", "[job] priority"},
		{false, "submit JOB:[job]\nkind = tasks\ncount = 3\n[other]\n", "[other]"},
		{true, "submit JOB:[job]\nkind = sorting\n", "[job] kind"},
		{true, "submit JOB:[job]\nkind = pagerank\nsize = 1000\n", "[job] size"},
		{true, "submit JOB:[job]\nkind = pagerank\nshards = 0\n", "[job] shards"},
		{true, "submit JOB:[job]\nkind = pagerank\nshards = 1\nsize = 65536\n", "use more shards"},
		{true, "submit JOB:[job]\nkind = jacobi\ntolerance = -1\n", "[job] tolerance"},
		{true, "submit JOB:[job]\nkind = jacobi\ntolerance = nan\n", "[job] tolerance"},
		{true, "submit JOB:[job]\nkind = jacobi\npolicy = stall:1\n", "[job] policy"},
		{true, "submit JOB:[job]\nkind = jacobi\nedges = 5\n", "pagerank's"},
		{true, "submit JOB:[job]\nkind = kmeans\njob = 5\n", "[job] job"},
		{true, "submit JOB:[job]\nkind = kmeans\nk = 300\n", "[job] k"},
		{true, "submit JOB:[job]\nkind = kmeans\nmax_rounds = 0\n", "[job] max_rounds"},
		/* Within every limit of the kernel, but gigabytes on every node. */
		{true, "submit JOB:[job]\nkind = kmeans\nsize = 10000000\ndims = 64\n", "MiB on every node"},
		{true, "submit JOB:[job]\nkind = pagerank\nsize = 1048576\nedges = 100000000\nshards = 1024\n",
		 "MiB on every node"},
	};
	g_autofree char *jpath = g_build_filename(dir, "job.ini", NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		/* "submit JOB:text": text is the job file; "submit JOB": none. */
		const char *body = strstr(bad[i].args, "JOB");
		g_autofree char *args = NULL;
		if (body && body[3] == ':') {
			write_text(jpath, body + 4, 0644);
			args = g_strdup_printf("submit %s", jpath);
		} else {
			args = body ? g_strdup_printf("submit %s/missing-job.ini", dir) : g_strdup(bad[i].args);
		}
		g_autofree char *cmd = g_strdup_printf("%s/aureon-ctl --config %s %s 2>&1", bin,
						       bad[i].rq ? rini : eini, args);
		ck_assert_int_eq(au_test_run(cmd, &out), 2);
		ck_assert_msg(strstr(out, bad[i].needle), "%s: %s", bad[i].args, out);
		g_free(out);
	}
	/* "none" is a value only keys that allow it take: [workload] jobs does,
	 * kv_mix does not. */
	write_text(eini, "[cluster]\nnodes = 3\nservices = raft,kv\n[workload]\nkv_mix = none\n"
			 "[hosts]\nn1 = 127.0.0.1:17101\nn2 = 127.0.0.1:17102\nn3 = 127.0.0.1:17103\n"
			 "[auth]\nkey_file = cluster.key\n", 0644);
	g_autofree char *c8 = g_strdup_printf("%s/aureon-ctl --config %s get 1 2>&1", bin, eini);
	ck_assert_int_eq(au_test_run(c8, &out), 2);
	ck_assert_msg(strstr(out, "[workload] kv_mix"), "%s", out);
	g_free(out);
	g_autofree char *c6 = g_strdup_printf("%s/aureon-ctl --config %s put x 1 2>&1", bin, ini);
	ck_assert_int_eq(au_test_run(c6, &out), 2);
	g_free(out);
	g_autofree char *keyf = g_build_filename(dir, "new.key", NULL);
	g_autofree char *c7 = g_strdup_printf("%s/aureon-ctl keygen %s 2>/dev/null", bin, keyf);
	ck_assert_int_eq(au_test_run(c7, NULL), 0);
	struct stat st;
	ck_assert(stat(keyf, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 65);
	ck_assert_int_eq(au_test_run(c7, NULL), 2); /* never overwrites */
	rm_rf(dir);
}
END_TEST

/* ---- one node in-process: receive path and storage ------------------------- */

static struct au_node *inproc_node(const char *dir, struct au_cluster **cp)
{
	g_autofree char *ini = write_cluster(dir, good_cluster);
	char *err = NULL;
	struct au_cluster *c = au_cluster_load(ini, &err);
	ck_assert_msg(c, "%s", err);
	g_autofree char *data = g_build_filename(dir, "data", NULL);
	struct au_node_opts o = {.cluster = c, .id = 1, .data_dir = data, .have_seed = true,
				 .seed = 7, .no_socket = true, .quiet = true};
	struct au_node *n = au_node_new(&o, &err);
	ck_assert_msg(n, "%s", err);
	au_node_start(n);
	*cp = c;
	return n;
}

START_TEST(receive_path_drops_and_counts)
{
	g_autofree char *dir = make_tmpdir();
	struct au_cluster *c;
	struct au_node *n = inproc_node(dir, &c);
	const struct au_node_counters *m = au_node_counters(n);
	struct au_pkt_key *k = au_pkt_key_new(test_key, sizeof(test_key));
	/* the cluster key is bytes 0..31 */
	struct au_pkt_key *real = au_pkt_key_new(c->key, c->key_len);
	struct au_pkt_key *forged = k;
	uint8_t buf[AU_PKT_MAX + 1], msg[16] = {1};
	uint32_t raft = au_pkt_service_tag("raft"), kv = au_pkt_service_tag("kv");
	uint32_t ctl = au_pkt_service_tag(AU_NODE_CONTROL_SERVICE);
	uint64_t ctr = (UINT64_C(1) << AU_PKT_SEQ_BITS) + 1;
	struct au_pkt_hdr h = {2, 1, ctr, raft};
	size_t len = au_pkt_seal(forged, &h, msg, sizeof(msg), buf);
	au_node_input(n, buf, len, NULL);
	ck_assert_uint_eq(m->drops[AU_DROP_AUTH], 1);
	au_node_input(n, buf, 10, NULL);
	ck_assert_uint_eq(m->drops[AU_DROP_TRUNCATED], 1);
	au_node_input(n, buf, AU_PKT_MAX + 1, NULL);
	ck_assert_uint_eq(m->drops[AU_DROP_OVERSIZE], 1);
	/* Authentic: delivered to raft (which drops it as malformed: fine). */
	len = au_pkt_seal(real, &h, msg, sizeof(msg), buf);
	au_node_input(n, buf, len, NULL);
	ck_assert_uint_eq(m->rx_delivered, 1);
	au_node_input(n, buf, len, NULL);
	ck_assert_uint_eq(m->drops[AU_DROP_REPLAY], 1);
	h.counter++;
	h.receiver = 2;
	len = au_pkt_seal(real, &h, msg, sizeof(msg), buf);
	au_node_input(n, buf, len, NULL);
	ck_assert_uint_eq(m->drops[AU_DROP_MISDIRECTED], 1);
	h.receiver = 1;
	h.sender = 77; /* neither a member nor a client id */
	len = au_pkt_seal(real, &h, msg, sizeof(msg), buf);
	au_node_input(n, buf, len, NULL);
	ck_assert_uint_eq(m->drops[AU_DROP_UNKNOWN_SENDER], 1);
	h.sender = 2;
	h.service = 12345;
	len = au_pkt_seal(real, &h, msg, sizeof(msg), buf);
	au_node_input(n, buf, len, NULL);
	ck_assert_uint_eq(m->drops[AU_DROP_UNKNOWN_SERVICE], 1);
	/* A client may not speak raft, but may use kv and the control service. */
	h.sender = AU_CLIENT_ID_MIN + 5;
	h.service = raft;
	len = au_pkt_seal(real, &h, msg, sizeof(msg), buf);
	au_node_input(n, buf, len, NULL);
	ck_assert_uint_eq(m->drops[AU_DROP_FORBIDDEN], 1);
	h.service = kv;
	h.counter = 1;
	len = au_pkt_seal(real, &h, msg, sizeof(msg), buf);
	au_node_input(n, buf, len, NULL);
	ck_assert_uint_eq(m->rx_delivered, 2);
	uint8_t req[32];
	size_t rl = au_ctl_encode_status_req(42, req, sizeof(req));
	h.service = ctl;
	h.counter = 2;
	len = au_pkt_seal(real, &h, req, rl, buf);
	au_node_input(n, buf, len, NULL);
	ck_assert_uint_eq(m->control_requests, 1);
	ck_assert_uint_eq(au_node_client_count(n), 1);
	/* Garbage of every length never crashes it. */
	for (size_t l = 0; l < 200; l++) {
		for (size_t i = 0; i < l; i++)
			buf[i] = (uint8_t)(i * 31 + l);
		au_node_input(n, buf, l, NULL);
	}
	/* /metrics shows the drops by reason. */
	GString *text = g_string_new(NULL);
	au_node_render_metrics(n, text);
	ck_assert_msg(strstr(text->str, "aureon_datagrams_dropped_total{reason=\"auth\"} "), "%s", text->str);
	g_string_free(text, TRUE);
	au_pkt_key_free(k);
	au_pkt_key_free(real);
	au_node_free(n);
	au_cluster_free(c);
	rm_rf(dir);
}
END_TEST

START_TEST(storage_over_real_files)
{
	g_autofree char *dir = make_tmpdir();
	struct au_cluster *c;
	struct au_node *n = inproc_node(dir, &c);
	const struct au_env *e = au_node_env(n, "kv");
	ck_assert(e);
	char buf[64];
	ck_assert_int_eq(e->ops->storage_size(e->ctx, "t"), -AU_ENOENT);
	ck_assert_int_eq(e->ops->storage_read(e->ctx, "t", 0, buf, 4), -AU_ENOENT);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "t", 4, "abcd", 4), 0);
	ck_assert_int_eq(e->ops->storage_size(e->ctx, "t"), 8);
	ck_assert_int_eq(e->ops->storage_read(e->ctx, "t", 0, buf, sizeof(buf)), 8);
	ck_assert(memcmp(buf, "\0\0\0\0abcd", 8) == 0);
	ck_assert_int_eq(e->ops->storage_read(e->ctx, "t", 20, buf, 4), 0);
	ck_assert_int_eq(e->ops->storage_truncate(e->ctx, "t", 5), 0);
	ck_assert_int_eq(e->ops->storage_size(e->ctx, "t"), 5);
	ck_assert_int_eq(e->ops->storage_truncate(e->ctx, "u", 3), 0); /* creates, like the sim */
	ck_assert_int_eq(e->ops->storage_size(e->ctx, "u"), 3);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "../escape", 0, "x", 1), -AU_EINVAL);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "..", 0, "x", 1), -AU_EINVAL);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "", 0, "x", 1), -AU_EINVAL);
	ck_assert_int_eq(e->ops->send(e->ctx, 0, "x", 1), -AU_EINVAL);
	ck_assert_int_eq(e->ops->send(e->ctx, 2, "x", AU_MSG_MAX + 1), -AU_EMSGSIZE);
	ck_assert_int_eq(e->ops->send(e->ctx, AU_CLIENT_ID_MIN + 9, "x", 1), -AU_EINVAL);
	/* The bytes are where the README says: DATA/store/SERVICE/FILE. */
	g_autofree char *path = g_build_filename(dir, "data", "store", "kv", "t", NULL);
	g_autofree char *content = NULL;
	gsize clen;
	ck_assert(g_file_get_contents(path, &content, &clen, NULL));
	ck_assert_uint_eq(clen, 5);
	/* Many files: the descriptor cache closes and reopens transparently. */
	for (int i = 0; i < 300; i++) {
		char name[16];
		g_snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(e->ops->storage_write(e->ctx, name, 0, &i, sizeof(i)), 0);
	}
	for (int i = 0; i < 300; i++) {
		char name[16];
		int v = -1;
		g_snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(e->ops->storage_read(e->ctx, name, 0, &v, sizeof(v)), sizeof(v));
		ck_assert_int_eq(v, i);
	}
	/* A second node on the same data directory is refused while this one runs. */
	char *err = NULL;
	g_autofree char *data = g_build_filename(dir, "data", NULL);
	struct au_node_opts o = {.cluster = c, .id = 1, .data_dir = data, .no_socket = true, .quiet = true};
	ck_assert(!au_node_new(&o, &err));
	ck_assert_msg(strstr(err, "in use"), "%s", err);
	g_free(err);
	au_node_free(n);
	/* And a directory of n1 is never used as n2's. */
	o.id = 2;
	ck_assert(!au_node_new(&o, &err));
	ck_assert_msg(strstr(err, "n1") && strstr(err, "n2"), "%s", err);
	g_free(err);
	/* The boot epoch grows across restarts. */
	o.id = 1;
	struct au_node *again = au_node_new(&o, &err);
	ck_assert_msg(again, "%s", err);
	struct au_node_status st;
	au_node_get_status(again, &st);
	ck_assert_uint_eq(st.epoch, 2);
	au_node_free(again);
	au_cluster_free(c);
	rm_rf(dir);
}
END_TEST

START_TEST(three_nodes_on_loopback)
{
	struct cluster_run *r = start_cluster("raft,kv", "");

	/* A leader appears. */
	int64_t t0 = mono_ms();
	uint64_t term = 0;
	int leader = 0;
	while (!(leader = leader_of(r, &term)) && mono_ms() - t0 < 10000)
		g_usleep(50000);
	ck_assert_msg(leader, "no leader within 10 s (logs in %s)", r->dir);
	fprintf(stderr, "shim: first leader n%d (term %" G_GUINT64_FORMAT ") after %" G_GINT64_FORMAT " ms\n",
		leader, term, mono_ms() - t0);

	/* Writes, acknowledged ones remembered. */
	int64_t want[41] = {0};
	bool acked[41] = {false};
	for (int k = 1; k <= 20; k++) {
		g_autofree char *args = g_strdup_printf("put %d %d 2>&1", k, k * 1000 + 1);
		char *out = NULL;
		int rc = ctl(r, args, &out);
		ck_assert_msg(rc == 0, "put %d: rc %d: %s", k, rc, out);
		g_free(out);
		want[k] = k * 1000 + 1;
		acked[k] = true;
	}
	char *out = NULL;
	ck_assert_int_eq(ctl(r, "get 7", &out), 0);
	ck_assert_int_eq(atoi(out), 7001);
	g_free(out);
	ck_assert_int_eq(ctl(r, "cas 7 7001 -7 >/dev/null", NULL), 0);
	ck_assert_int_eq(ctl(r, "cas 7 7001 8 >/dev/null", NULL), 1);
	want[7] = -7;

	/* Kill the leader hard; a new one within 5 s. */
	kill_node(r, leader, SIGKILL);
	int64_t killed_at = mono_ms();
	int old_leader = leader;
	uint64_t old_term = term;
	leader = 0;
	/* Ask the survivors' /status directly: aureon-ctl status waits up to
	 * a second for the dead node, too coarse to time an election. */
	while (!leader && mono_ms() - killed_at < 8000) {
		for (int i = 1; i <= 3 && !leader; i++) {
			if (i == old_leader)
				continue;
			int status = 0;
			g_autofree char *body = http_get(r->http[i], "/status", &status);
			const char *t = body ? strstr(body, "\"term\": ") : NULL;
			uint64_t tm = t ? g_ascii_strtoull(t + strlen("\"term\": "), NULL, 10) : 0;
			if (body && strstr(body, "\"role\": \"leader\"") && tm > old_term) {
				leader = i;
				term = tm;
			}
		}
		if (!leader)
			g_usleep(10000);
	}
	int64_t took = mono_ms() - killed_at;
	ck_assert_msg(leader, "no new leader within 8 s after killing n%d", old_leader);
	fprintf(stderr, "shim: killed n%d; new leader n%d (term %" G_GUINT64_FORMAT ") seen after %" G_GINT64_FORMAT " ms\n",
		old_leader, leader, term, took);
	ck_assert_msg(took <= 5000, "new leader took %" G_GINT64_FORMAT " ms", took);

	/* Writes go on with two nodes. */
	for (int k = 21; k <= 40; k++) {
		g_autofree char *args = g_strdup_printf("put %d %d 2>&1", k, -k);
		int rc = ctl(r, args, &out);
		ck_assert_msg(rc == 0, "put %d after failover: rc %d: %s", k, rc, out);
		g_free(out);
		want[k] = -k;
		acked[k] = true;
	}
	/* No acknowledged write is lost. */
	for (int k = 1; k <= 40; k++) {
		g_autofree char *args = g_strdup_printf("get %d", k);
		ck_assert_int_eq(ctl(r, args, &out), 0);
		ck_assert_msg(acked[k] && g_ascii_strtoll(out, NULL, 10) == want[k], "key %d: read %s, want %" G_GINT64_FORMAT,
			      k, out, want[k]);
		g_free(out);
	}

	/* Restart the killed node: it recovers its log from its files, then
	 * catches up with what it missed. */
	int64_t target = applied_of(r, leader);
	ck_assert(target > 20);
	start_node(r, old_leader);
	int64_t restarted_at = mono_ms();
	int64_t got = -1;
	while ((got = applied_of(r, old_leader)) < target && mono_ms() - restarted_at < 10000)
		g_usleep(50000);
	ck_assert_msg(got >= target, "n%d applied %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " after 10 s",
		      old_leader, got, target);
	fprintf(stderr, "shim: restarted n%d caught up to index %" G_GINT64_FORMAT " in %" G_GINT64_FORMAT " ms\n",
		old_leader, got, mono_ms() - restarted_at);
	g_autofree char *trace_path = g_strdup_printf("%s/n%d.trace.1", r->dir, old_leader);
	g_autofree char *trace = NULL;
	ck_assert(g_file_get_contents(trace_path, &trace, NULL, NULL));
	const char *rec = strstr(trace, "RAFT_RECOVER ");
	ck_assert_msg(rec, "no RAFT_RECOVER in %s", trace_path);
	long recovered = atol(rec + strlen("RAFT_RECOVER "));
	ck_assert_msg(recovered >= 20, "n%d recovered only %ld entries from its files", old_leader, recovered);
	/* It serves as part of a quorum: stop another follower, write, read. */
	int other = 0;
	for (int i = 1; i <= 3; i++)
		if (i != leader && i != old_leader)
			other = i;
	kill_node(r, other, SIGKILL);
	ck_assert_int_eq(ctl(r, "put 99 12345 >/dev/null", NULL), 0);
	ck_assert_int_eq(ctl(r, "get 99", &out), 0);
	ck_assert_int_eq(atoi(out), 12345);
	g_free(out);

	/* Forged, replayed, truncated and oversize datagrams: dropped, counted. */
	int victim = leader;
	uint8_t *buf = g_malloc(AU_PKT_MAX + 64);
	uint8_t msg[20] = {3, 1, 4, 1, 5};
	struct au_pkt_key *forged = au_pkt_key_new((const uint8_t *)"not the cluster key, but 32 long", 32);
	struct au_pkt_hdr h = {old_leader, (uint32_t)victim, UINT64_C(999) << AU_PKT_SEQ_BITS, au_pkt_service_tag("raft")};
	size_t len = au_pkt_seal(forged, &h, msg, sizeof(msg), buf);
	send_raw(r->udp[victim], buf, len);
	send_raw(r->udp[victim], buf, 5);
	memset(buf, 0, AU_PKT_MAX + 64);
	send_raw(r->udp[victim], buf, AU_PKT_MAX + 1);
	/* A genuine datagram from a client id, sent twice: the copy is a replay. */
	uint8_t ckey[32];
	for (unsigned i = 0; i < sizeof(ckey); i++)
		ckey[i] = (uint8_t)i; /* key_hex */
	struct au_pkt_key *real = au_pkt_key_new(ckey, sizeof(ckey));
	struct au_pkt_hdr hc = {AU_CLIENT_ID_MIN + 77, (uint32_t)victim, 1, au_pkt_service_tag(AU_NODE_CONTROL_SERVICE)};
	uint8_t req[32];
	size_t rl = au_ctl_encode_status_req(1, req, sizeof(req));
	len = au_pkt_seal(real, &hc, req, rl, buf);
	send_raw(r->udp[victim], buf, len);
	send_raw(r->udp[victim], buf, len);
	au_pkt_key_free(forged);
	au_pkt_key_free(real);
	g_free(buf);
	g_usleep(200000);
	int status = 0;
	g_autofree char *metrics = http_get(r->http[victim], "/metrics", &status);
	ck_assert_int_eq(status, 200);
	ck_assert(metrics);
	ck_assert_msg(metric(metrics, "aureon_datagrams_dropped_total{reason=\"auth\"}") == 1, "%s", metrics);
	ck_assert_uint_eq(metric(metrics, "aureon_datagrams_dropped_total{reason=\"truncated\"}"), 1);
	ck_assert_uint_eq(metric(metrics, "aureon_datagrams_dropped_total{reason=\"oversize\"}"), 1);
	ck_assert_uint_eq(metric(metrics, "aureon_datagrams_dropped_total{reason=\"replay\"}"), 1);
	ck_assert_uint_eq(metric(metrics, "aureon_raft_is_leader"), 1);
	ck_assert(metric(metrics, "aureon_raft_commit_index") >= (uint64_t)target);

	/* promtool accepts the exposition, when it is installed. */
	g_autofree char *mpath = g_strdup_printf("%s/metrics.txt", r->dir);
	write_text(mpath, metrics, 0644);
	g_autofree char *promtool = g_find_program_in_path("promtool");
	if (promtool) {
		g_autofree char *cmd = g_strdup_printf("promtool check metrics < %s 2>&1", mpath);
		ck_assert_msg(au_test_run(cmd, &out) == 0, "promtool: %s", out);
		g_free(out);
	} else {
		fprintf(stderr, "shim: promtool not installed (Debian package prometheus): "
				"skipping `promtool check metrics`\n");
	}
	/* The other endpoints. */
	g_autofree char *health = http_get(r->http[victim], "/health", &status);
	ck_assert_int_eq(status, 200);
	g_autofree char *ready = http_get(r->http[victim], "/ready", &status);
	ck_assert_msg(status == 200, "%s", ready);
	g_autofree char *qs = http_get(r->http[victim], "/queue_stats", &status);
	ck_assert(status == 200 && strstr(qs, "\"available\": false"));
	g_autofree char *cs = http_get(r->http[victim], "/checkpoint_state", &status);
	ck_assert(status == 200 && strstr(cs, "\"available\": false"));
	g_autofree char *nf = http_get(r->http[victim], "/nope", &status);
	ck_assert_int_eq(status, 404);

	/* No quorum: one node of three left; a clear error, exit 3, in time. */
	kill_node(r, old_leader, SIGKILL);
	int64_t s = mono_ms();
	ck_assert_int_eq(ctl(r, "--timeout 1500ms put 1 1 2>&1", &out), 3);
	ck_assert_msg(strstr(out, "may or may not") || strstr(out, "no quorum"), "%s", out);
	g_free(out);
	ck_assert(mono_ms() - s < 4000);
	g_autofree char *notready = http_get(r->http[victim], "/ready", &status);
	/* The lone node may still believe it leads until check-quorum steps it down. */
	g_usleep(600000);
	g_autofree char *notready2 = http_get(r->http[victim], "/ready", &status);
	ck_assert_msg(status == 503, "%s", notready2);
	cluster_teardown();
}
END_TEST


/* The number right after `key` in `text` (e.g. "\"queued\": "), or -1. */
static int64_t num_after(const char *text, const char *key)
{
	const char *p = text ? strstr(text, key) : NULL;
	return p ? (int64_t)g_ascii_strtoull(p + strlen(key), NULL, 10) : -1;
}

/* Leases node `v` holds per /queue_stats `body`, or -1. */
static int64_t leases_in(const char *body, int v)
{
	g_autofree char *key = g_strdup_printf("{\"node\": \"n%d\", \"leases\": ", v);
	return num_after(body, key);
}

/* The execution layer on real processes: drain a node and watch it take
 * no leases while work waits, resume it, submit work and see it finish. */
START_TEST(exec_layer_on_loopback)
{
	/* Small worker pools (2 running + 1 waiting per node) and 300 ms
	 * tasks: 12 tasks cannot all fit on two nodes at once. */
	struct cluster_run *r = start_cluster("raft,kv,aureon,one,rqml",
					      "[aureon]\nmax_concurrency = 2\nlocal_queue = 1\n"
					      "[workload]\ntask_cost = const(300ms)\njobs = none\n");
	int64_t t0 = mono_ms();
	int leader = 0;
	while (!(leader = leader_of(r, NULL)) && mono_ms() - t0 < 10000)
		g_usleep(50000);
	ck_assert_msg(leader, "no leader within 10 s (logs in %s)", r->dir);
	int d = leader % 3 + 1; /* a follower gets drained */
	char *out = NULL;

	/* Drain: confirmed committed by the leader, then seen on d's replica. */
	g_autofree char *drain = g_strdup_printf("drain n%d 2>&1", d);
	ck_assert_msg(ctl(r, drain, &out) == 0, "%s", out);
	g_autofree char *want = g_strdup_printf("n%d drained", d);
	ck_assert_msg(strstr(out, want), "%s", out);
	g_free(out);
	int status = 0;
	int64_t s = mono_ms();
	uint64_t draining = 0;
	while (draining != 1 && mono_ms() - s < 3000) {
		g_autofree char *m = http_get(r->http[d], "/metrics", &status);
		draining = m ? metric(m, "aureon_queue_node_draining") : 0;
		if (draining != 1)
			g_usleep(20000);
	}
	ck_assert_uint_eq(draining, 1);

	/* Job 101: 12 tasks of 2 rounds.  While they run, d holds no lease
	 * although tasks wait that it could run. */
	g_autofree char *job_a = g_strdup_printf("%s/job-a.ini", r->dir);
	write_text(job_a, "[job]\nkind = tasks\njob = 101\ncount = 12\nrounds = 2\n", 0644);
	g_autofree char *submit_a = g_strdup_printf("submit %s 2>&1", job_a);
	ck_assert_msg(ctl(r, submit_a, &out) == 0, "%s", out);
	ck_assert_msg(strstr(out, "job 101: 12 tasks in the queue"), "%s", out);
	g_free(out);
	bool saw_waiting_work = false, saw_checkpoint_entry = false;
	for (int i = 0; i < 10; i++) {
		g_autofree char *qs = http_get(r->http[leader], "/queue_stats", &status);
		ck_assert_int_eq(status, 200);
		ck_assert_msg(leases_in(qs, d) == 0, "drained n%d holds leases: %s", d, qs);
		ck_assert_msg(strstr(qs, "\"front_end\": true"), "%s", qs);
		if (num_after(qs, "\"queued\": ") > 0 && leases_in(qs, leader) > 0)
			saw_waiting_work = true;
		g_autofree char *cs = http_get(r->http[leader], "/checkpoint_state", &status);
		ck_assert_int_eq(status, 200);
		ck_assert_msg(strstr(cs, "\"aureon\": {\"applied_index\": "), "%s", cs);
		if (strstr(cs, "\"state\": \"leased\""))
			saw_checkpoint_entry = true;
		g_usleep(100000);
	}
	ck_assert_msg(saw_waiting_work, "tasks never waited while n%d was drained", d);
	ck_assert(saw_checkpoint_entry);
	g_autofree char *dq = http_get(r->http[d], "/queue_stats", &status);
	ck_assert_msg(strstr(dq, "\"started\": 0,"), "drained n%d started tasks: %s", d, dq);
	ck_assert_msg(strstr(dq, "\"draining\": true"), "%s", dq);

	/* Resume d; job 102 runs to the end, then job 101 (submitting its
	 * file again is a no-op that waits). */
	g_autofree char *resume = g_strdup_printf("resume n%d 2>&1", d);
	ck_assert_msg(ctl(r, resume, &out) == 0, "%s", out);
	ck_assert(strstr(out, "resumed"));
	g_free(out);
	g_autofree char *job_b = g_strdup_printf("%s/job-b.ini", r->dir);
	write_text(job_b, "[job]\nkind = tasks\njob = 102\ncount = 12\npayload = from the test\n", 0644);
	g_autofree char *submit_b = g_strdup_printf("--timeout 30s --wait submit %s 2>&1", job_b);
	ck_assert_msg(ctl(r, submit_b, &out) == 0, "%s", out);
	ck_assert_msg(strstr(out, "job 102: finished: 12 done, 0 dead"), "%s", out);
	g_free(out);
	g_autofree char *wait_a = g_strdup_printf("--timeout 30s --wait submit %s 2>&1", job_a);
	ck_assert_msg(ctl(r, wait_a, &out) == 0, "%s", out);
	ck_assert_msg(strstr(out, "job 101: finished: 12 done, 0 dead"), "%s", out);
	g_free(out);
	fprintf(stderr, "shim: drained n%d, resumed it, 24 tasks done %" G_GINT64_FORMAT " ms after the leader appeared\n",
		d, mono_ms() - t0);

	/* d took work after it was resumed. */
	g_autofree char *dq2 = http_get(r->http[d], "/queue_stats", &status);
	ck_assert_msg(num_after(dq2, "\"acked\": ") > 0, "n%d ran nothing after resume: %s", d, dq2);
	ck_assert_msg(strstr(dq2, "\"draining\": false"), "%s", dq2);

	/* status: the queue depth and each node's leases. */
	ck_assert_int_eq(ctl(r, "status 2>&1", &out), 0);
	ck_assert_msg(strstr(out, "queue depth: 0 (") && strstr(out, "draining"), "%s", out);
	g_free(out);
	ck_assert_int_eq(ctl(r, "status --json 2>&1", &out), 0);
	ck_assert_msg(strstr(out, "\"queue_depth\": 0, \"queue\": {") && strstr(out, "\"done\": 24"), "%s", out);
	g_free(out);
	/* /metrics: the queue gauges, and promtool still accepts it. */
	g_autofree char *m = http_get(r->http[leader], "/metrics", &status);
	ck_assert_uint_eq(metric(m, "aureon_queue_tasks{state=\"done\"}"), 24);
	ck_assert_uint_eq(metric(m, "aureon_queue_tasks{state=\"queued\"}"), 0);
	ck_assert_uint_eq(metric(m, "aureon_orchestrator_front_end"), 1);
	g_autofree char *mpath = g_strdup_printf("%s/metrics-exec.txt", r->dir);
	write_text(mpath, m, 0644);
	g_autofree char *promtool = g_find_program_in_path("promtool");
	if (promtool) {
		g_autofree char *cmd = g_strdup_printf("promtool check metrics < %s 2>&1", mpath);
		ck_assert_msg(au_test_run(cmd, &out) == 0, "promtool: %s", out);
		g_free(out);
	}

	/* An RQML job: it converges on the cluster to exactly the result of
	 * the sequential reference, and its record lands in ONE. */
	g_autofree char *job_r = g_strdup_printf("%s/job-pr.ini", r->dir);
	write_text(job_r, "[job]\nkind = pagerank\njob = 1000042\nsize = 1024\nedges = 8192\nshards = 3\n"
			  "tolerance = 1e-6\nmax_rounds = 60\n", 0644);
	g_autofree char *submit_r = g_strdup_printf("--timeout 30s --wait submit %s 2>&1", job_r);
	int64_t jt = mono_ms();
	ck_assert_msg(ctl(r, submit_r, &out) == 0, "%s", out);
	struct au_rqml_job_spec spec = {.job = 1000042};
	spec.params = (struct au_kernel_params){.kind = AU_KERNEL_PAGERANK, .seed = 1000042, .size = 1024,
						.edges = 8192, .shards = 3, .damping = 0.85};
	spec.policy = (struct au_rqml_policy){.kind = AU_RQML_POLICY_THRESHOLD, .tolerance = 1e-6, .max_rounds = 60};
	struct au_kernel_problem kp;
	ck_assert_int_eq(au_kernel_build(&kp, &spec.params, NULL, 0), 0);
	double *state = g_new0(double, kp.state_len), res[60];
	enum au_kernel_verdict verdict;
	uint32_t rounds = au_kernel_reference(&kp, au_rqml_decide, &spec.policy, 60, state, res, &verdict);
	uint8_t digest[32];
	au_kernel_digest(state, kp.state_len, digest);
	g_free(state);
	au_kernel_free(&kp);
	ck_assert_int_eq(verdict, AU_KERNEL_CONVERGED);
	char hex[65];
	for (int i = 0; i < 32; i++)
		g_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	g_autofree char *want_r = g_strdup_printf("job 1000042: converged after %u rounds", rounds);
	ck_assert_msg(strstr(out, want_r) && strstr(out, hex) && strstr(out, "in ONE at log index"),
		      "want %s, sha256 %s: %s", want_r, hex, out);
	fprintf(stderr, "shim: RQML job converged in %u rounds in %" G_GINT64_FORMAT " ms, as the reference\n",
		rounds, mono_ms() - jt);
	g_free(out);
	/* The leader's RQML and ONE series count it (modelview.c). */
	g_autofree char *mr = http_get(r->http[leader], "/metrics", &status);
	ck_assert_uint_eq(metric(mr, "aureon_rqml_jobs{state=\"converged\"}"), 1);
	ck_assert_uint_eq(metric(mr, "aureon_rqml_rounds_total"), rounds);
	ck_assert_uint_eq(metric(mr, "aureon_one_records"), 1);
	/* The same id with another problem is refused. */
	write_text(job_r, "[job]\nkind = pagerank\njob = 1000042\nsize = 2048\n", 0644);
	ck_assert_msg(ctl(r, submit_r, &out) == 1 && strstr(out, "another specification"), "%s", out);
	g_free(out);

	/* No quorum: drain fails with exit 3, in time.  (The others stop
	 * cleanly, so sanitizer builds check the leader's teardown too.) */
	for (int i = 1; i <= 3; i++)
		if (i != d)
			kill_node(r, i, SIGTERM);
	s = mono_ms();
	g_autofree char *drain1 = g_strdup_printf("--timeout 1s drain n%d 2>&1", d);
	ck_assert_int_eq(ctl(r, drain1, &out), 3);
	ck_assert_msg(strstr(out, "no quorum") || strstr(out, "not confirmed"), "%s", out);
	g_free(out);
	ck_assert(mono_ms() - s < 3000);
	cluster_teardown();
}
END_TEST

Suite *shim_suite(void)
{
	Suite *s = suite_create("shim");
	TCase *tc = tcase_create("units");
	tcase_add_test(tc, packet_seal_open_and_tamper);
	tcase_add_test(tc, replay_window);
	tcase_add_test(tc, key_text);
	tcase_add_test(tc, control_protocol_roundtrip);
	tcase_add_test(tc, cluster_file_good_and_bad);
	tcase_add_test(tc, receive_path_drops_and_counts);
	tcase_add_test(tc, storage_over_real_files);
	suite_add_tcase(s, tc);
	TCase *procs = tcase_create("processes");
	tcase_set_timeout(procs, 120);
	tcase_add_unchecked_fixture(procs, NULL, cluster_teardown);
	tcase_add_test(procs, node_cli_errors_exit_2);
	tcase_add_test(procs, three_nodes_on_loopback);
	tcase_add_test(procs, exec_layer_on_loopback);
	suite_add_tcase(s, procs);
	return s;
}
