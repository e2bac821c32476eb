/* test_replay.c — issue 18: the record log's codec (core/reclog.h), its
 * reader's refusals (corrupt byte, truncation, wrong version, missing
 * segment), and `aureon-node --record` + `aureon-sim replay` on three real
 * processes (tests/shim_replay.sh), whose logs are then damaged on purpose:
 * a corrupt log is refused with exit 2, a changed input diverges. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "env.h"
#include "reclog.h"
#include "sim/replay/facts.h"
#include "tests.h"
#include "wire.h"

START_TEST(varints_round_trip)
{
	struct au_reclog_buf b = {0};
	const int64_t sv[] = {0, 1, -1, 63, -64, INT64_MAX, INT64_MIN, 1234567890123};
	for (size_t i = 0; i < G_N_ELEMENTS(sv); i++) {
		au_reclog_put_sv(&b, sv[i]);
		au_reclog_put_uv(&b, (uint64_t)sv[i]);
	}
	au_reclog_put_blob(&b, "abc", 3);
	struct au_reclog_cur c = {b.p, b.len, 0, false};
	for (size_t i = 0; i < G_N_ELEMENTS(sv); i++) {
		ck_assert_int_eq(au_reclog_get_sv(&c), sv[i]);
		ck_assert_uint_eq(au_reclog_get_uv(&c), (uint64_t)sv[i]);
	}
	size_t n;
	const uint8_t *p = au_reclog_get_blob(&c, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(p, "abc", 3) == 0);
	ck_assert(!c.bad);
	au_reclog_get_u8(&c); /* past the end */
	ck_assert(c.bad);
	/* A blob longer than what is left is refused, not read past the end. */
	struct au_reclog_buf d = {0};
	au_reclog_put_uv(&d, 100);
	au_reclog_put_u8(&d, 1);
	struct au_reclog_cur e = {d.p, d.len, 0, false};
	ck_assert_ptr_null(au_reclog_get_blob(&e, &n));
	ck_assert(e.bad);
	au_reclog_buf_free(&b);
	au_reclog_buf_free(&d);
}
END_TEST

START_TEST(frames_refuse_damage)
{
	struct au_reclog_buf b = {0};
	au_reclog_frame(&b, "hello", 5);
	const uint8_t *p;
	size_t n;
	char why[160];
	ck_assert_int_eq(au_reclog_next_frame(b.p, b.len, 0, &p, &n, why, sizeof(why)), 1);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(au_reclog_next_frame(b.p, b.len, b.len, &p, &n, why, sizeof(why)), 0);
	ck_assert_int_eq(au_reclog_next_frame(b.p, b.len - 1, 0, &p, &n, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "truncated frame"), "%s", why);
	ck_assert_int_eq(au_reclog_next_frame(b.p, 5, 0, &p, &n, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "truncated frame header"), "%s", why);
	b.p[10] ^= 0x20; /* a payload byte */
	ck_assert_int_eq(au_reclog_next_frame(b.p, b.len, 0, &p, &n, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "CRC mismatch"), "%s", why);
	b.p[10] ^= 0x20;
	b.p[3] = 0x7f; /* length 2 GiB */
	ck_assert_int_eq(au_reclog_next_frame(b.p, b.len, 0, &p, &n, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "bad frame length"), "%s", why);
	au_reclog_buf_free(&b);
}
END_TEST

static char *replay(const char *dir, int *rc)
{
	g_autofree char *cmd = g_strdup_printf("%s/aureon-sim replay %s 2>&1", au_test_bin(), dir);
	char *out = NULL;
	*rc = au_test_run(cmd, &out);
	return out;
}

/* A copy of the recorded logs in a fresh directory. */
static char *copy_of(const char *rec)
{
	char *d = g_dir_make_tmp("aureon-replay-copy-XXXXXX", NULL);
	g_autofree char *cmd = g_strdup_printf("cp %s/*.aurec %s/", rec, d);
	char *out = NULL;
	ck_assert_int_eq(au_test_run(cmd, &out), 0);
	g_free(out);
	return d;
}

static void drop_dir(char *d)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf %s", d);
	char *out = NULL;
	au_test_run(cmd, &out);
	g_free(out);
	g_free(d);
}


/* A segment file's bytes (g_free them) and its first frame, the header. */
static gchar *read_segment(const char *path, gsize *len, const uint8_t **hdr, size_t *hdr_len)
{
	gchar *img;
	ck_assert(g_file_get_contents(path, &img, len, NULL));
	char why[160];
	ck_assert_int_eq(au_reclog_next_frame((uint8_t *)img, *len, AU_RECLOG_PREFIX_LEN, hdr, hdr_len, why,
					      sizeof(why)), 1);
	return img;
}

/* Make every segment of node `node` in `dir` look recorded on another
 * host whose realtime clock was `shift_ns` ahead: its header gets another
 * boot id and its CLOCK_REALTIME anchor moves (the frame's CRC redone). */
static void fake_other_host(const char *dir, unsigned node, int64_t shift_ns)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	ck_assert_ptr_nonnull(d);
	g_autofree char *prefix = g_strdup_printf("n%u-", node);
	unsigned changed = 0;
	for (const char *name; (name = g_dir_read_name(d));) {
		if (!g_str_has_prefix(name, prefix) || !g_str_has_suffix(name, ".aurec"))
			continue;
		g_autofree char *path = g_build_filename(dir, name, NULL);
		gsize len;
		const uint8_t *p;
		size_t n;
		gchar *img = read_segment(path, &len, &p, &n);
		struct au_reclog_cur c = {p, n, 0, false};
		struct au_reclog_buf h = {0};
		au_reclog_put_u8(&h, au_reclog_get_u8(&c));
		for (int i = 0; i < 5; i++) /* node, epoch, segment, seed, config digest */
			au_reclog_put_uv(&h, au_reclog_get_uv(&c));
		uint64_t ns = au_reclog_get_uv(&c);
		au_reclog_put_uv(&h, ns);
		for (uint64_t i = 0; i <= ns; i++) { /* services, then the cluster text */
			size_t bl;
			const uint8_t *b = au_reclog_get_blob(&c, &bl);
			au_reclog_put_blob(&h, b, bl);
		}
		au_reclog_put_sv(&h, au_reclog_get_sv(&c));            /* t0 monotonic */
		au_reclog_put_sv(&h, au_reclog_get_sv(&c) + shift_ns); /* t0 realtime */
		au_reclog_put_blob(&h, "another-host", 12);
		ck_assert(!c.bad);
		struct au_reclog_buf out = {0};
		au_reclog_put_bytes(&out, img, AU_RECLOG_PREFIX_LEN);
		au_reclog_frame(&out, h.p, h.len);
		size_t rest = AU_RECLOG_PREFIX_LEN + AU_RECLOG_FRAME_HDR + n;
		au_reclog_put_bytes(&out, img + rest, len - rest);
		ck_assert(g_file_set_contents(path, (const char *)out.p, (gssize)out.len, NULL));
		au_reclog_buf_free(&h);
		au_reclog_buf_free(&out);
		g_free(img);
		changed++;
	}
	g_dir_close(d);
	ck_assert_uint_gt(changed, 0);
}

/* Rewrite the first RECV frame's last datagram byte (fixing its CRC), so
 * the log is intact but says the node received something else. */
static bool change_first_recv(const char *path)
{
	gchar *img;
	gsize len;
	ck_assert(g_file_get_contents(path, &img, &len, NULL));
	size_t off = AU_RECLOG_PREFIX_LEN;
	bool done = false;
	for (;;) {
		const uint8_t *p;
		size_t n;
		char why[160];
		if (au_reclog_next_frame((uint8_t *)img, len, off, &p, &n, why, sizeof(why)) != 1)
			break;
		if (p[0] == AU_REC_RECV) {
			struct au_reclog_cur c = {p, n, 1, false};
			au_reclog_get_sv(&c);
			au_reclog_get_uv(&c);
			au_reclog_get_uv(&c);
			size_t bl;
			const uint8_t *bytes = au_reclog_get_blob(&c, &bl);
			ck_assert(bytes && bl > 1);
			((uint8_t *)bytes)[0] ^= 0x5a; /* the message type */
			uint32_t crc = au_crc32c(0, p, n);
			for (int i = 0; i < 4; i++)
				img[off + 4 + i] = (char)(crc >> (8 * i));
			done = true;
			break;
		}
		off += AU_RECLOG_FRAME_HDR + n;
	}
	ck_assert(g_file_set_contents(path, img, (gssize)len, NULL));
	g_free(img);
	return done;
}

START_TEST(recorded_cluster_replays_exactly_and_damage_is_caught)
{
	char *rec = g_dir_make_tmp("aureon-replay-rec-XXXXXX", NULL);
	g_autofree char *cmd = g_strdup_printf("rmdir %s && REC_OUT=%s tests/shim_replay.sh %s 2>&1", rec, rec,
					       au_test_bin());
	char *out = NULL;
	int rc = au_test_run(cmd, &out);
	ck_assert_msg(rc == 0, "tests/shim_replay.sh failed (exit %d):\n%s", rc, out);
	g_free(out);

	/* Exact as recorded. */
	char *s = replay(rec, &rc);
	ck_assert_msg(rc == 0 && strstr(s, "n2 boot 1 ") && strstr(s, "exact"), "exit %d:\n%s", rc, s);
	g_free(s);

	/* Merged, with every check on: the same trace hash twice, and from
	 * the -O0 build when there is one (determinism of the replay itself). */
	char *hashes[3] = {NULL, NULL, NULL};
	const char *bins[3] = {au_test_bin(), au_test_bin(), getenv("AU_BIN_O0")};
	for (int i = 0; i < 3 && bins[i]; i++) {
		g_autofree char *c = g_strdup_printf("%s/aureon-sim replay %s --check 2>&1", bins[i], rec);
		rc = au_test_run(c, &out);
		ck_assert_msg(rc == 0 && strstr(out, "\nresult: pass") && strstr(out, "linearizable_kv pass") &&
				      strstr(out, "raft_safety pass"),
			      "%s: exit %d:\n%s", bins[i], rc, out);
		const char *h = strstr(out, "trace hash ");
		ck_assert_ptr_nonnull(h);
		hashes[i] = g_strndup(h, 11 + 64);
		ck_assert_str_eq(hashes[i], hashes[0]);
		g_free(out);
	}
	for (int i = 0; i < 3; i++)
		g_free(hashes[i]);
	/* A trace file of the merged run, as `aureon-sim run --trace` writes. */
	g_autofree char *h5 = g_build_filename(rec, "merged.h5", NULL);
	g_autofree char *c5 = g_strdup_printf("%s/aureon-sim replay %s --check --trace %s 2>&1 && "
					      "%s/aureon-sim replay %s --check --trace %s 2>&1", au_test_bin(), rec, h5,
					      au_test_bin(), rec, h5);
	rc = au_test_run(c5, &out);
	ck_assert_msg(rc == 2 && strstr(out, "exists") && g_file_test(h5, G_FILE_TEST_IS_REGULAR),
		      "a second --trace without --force must refuse: exit %d:\n%s", rc, out);
	g_free(out);
	g_remove(h5);
	/* --to-scenario: the same logs give the same file; an existing file is
	 * kept unless --force. */
	g_autofree char *sc1 = g_build_filename(rec, "a.ini", NULL);
	g_autofree char *sc2 = g_build_filename(rec, "b.ini", NULL);
	g_autofree char *cs = g_strdup_printf("%s/aureon-sim replay %s --to-scenario %s >/dev/null && "
					      "%s/aureon-sim replay %s --to-scenario %s >/dev/null && "
					      "cmp %s %s && %s/aureon-sim replay %s --to-scenario %s 2>&1",
					      au_test_bin(), rec, sc1, au_test_bin(), rec, sc2, sc1, sc2, au_test_bin(),
					      rec, sc1);
	rc = au_test_run(cs, &out);
	ck_assert_msg(rc == 2 && strstr(out, "the file exists (--force overwrites it)"), "exit %d:\n%s", rc, out);
	g_free(out);
	g_remove(sc1);
	g_remove(sc2);
	/* n2 recorded on another host whose clock ran 5 s ahead: the datagrams
	 * between the hosts correct it, and the merged run passes as before. */
	char *other = copy_of(rec);
	fake_other_host(other, 2, 5 * AU_NS_PER_S);
	g_autofree char *co = g_strdup_printf("%s/aureon-sim replay %s --check 2>&1", au_test_bin(), other);
	rc = au_test_run(co, &out);
	const char *corr = strstr(out, "host of n2 ");
	double ms = corr ? g_ascii_strtod(corr + strlen("host of n2 "), NULL) : 0;
	ck_assert_msg(rc == 0 && strstr(out, "clocks: 2 hosts") && strstr(out, "\nresult: pass") && corr &&
			      ms > -5050 && ms < -4950,
		      "exit %d (n2's correction %.3f ms, want about -5000):\n%s", rc, ms, out);
	g_free(out);
	drop_dir(other);
	/* A log that stops early (recording failed, or its last segment is
	 * lost) while the node ran on: its peers received what the log does
	 * not explain, and the merged replay must not call that a pass. */
	char *cut = copy_of(rec);
	g_autofree char *cc = g_strdup_printf("last=$(ls %s/n2-e000001-*.aurec | tail -1); "
					      "[ \"$last\" != %s/n2-e000001-0000.aurec ] && rm \"$last\" && "
					      "%s/aureon-sim replay %s --check 2>&1", cut, cut, au_test_bin(), cut);
	rc = au_test_run(cc, &out);
	ck_assert_msg(rc == 1 && strstr(out, "received with no replayed send") &&
			      strstr(out, "result: fail (") && !strstr(out, "result: pass"),
		      "exit %d:\n%s", rc, out);
	g_free(out);
	drop_dir(cut);
	/* A boot that ended before starting its services (header, then stop):
	 * nothing to compare, and not a failure. */
	char *empty = g_dir_make_tmp("aureon-replay-empty-XXXXXX", NULL);
	{
		g_autofree char *seg0 = g_build_filename(rec, "n1-e000001-0000.aurec", NULL);
		gsize len;
		const uint8_t *p;
		size_t n;
		gchar *img = read_segment(seg0, &len, &p, &n);
		struct au_reclog_buf b = {0}, stop = {0};
		au_reclog_put_bytes(&b, img, AU_RECLOG_PREFIX_LEN + AU_RECLOG_FRAME_HDR + n);
		au_reclog_put_u8(&stop, AU_REC_STOP);
		au_reclog_put_sv(&stop, 1000);
		au_reclog_frame(&b, stop.p, stop.len);
		g_autofree char *dst = g_build_filename(empty, "n1-e000001-0000.aurec", NULL);
		ck_assert(g_file_set_contents(dst, (const char *)b.p, (gssize)b.len, NULL));
		au_reclog_buf_free(&b);
		au_reclog_buf_free(&stop);
		g_free(img);
	}
	char *es = replay(empty, &rc);
	ck_assert_msg(rc == 0 && strstr(es, "no input: the node ended before starting its services"), "exit %d:\n%s",
		      rc, es);
	g_free(es);
	drop_dir(empty);
	/* A node's logs missing: refused unless --partial, which says so. */
	char *part = g_dir_make_tmp("aureon-replay-part-XXXXXX", NULL);
	g_autofree char *cp = g_strdup_printf("cp %s/n1-*.aurec %s/n3-*.aurec %s/ && "
					      "%s/aureon-sim replay %s --check 2>&1; echo rc=$?; "
					      "%s/aureon-sim replay %s --check --partial 2>&1 | tail -1",
					      rec, rec, part, au_test_bin(), part, au_test_bin(), part);
	rc = au_test_run(cp, &out);
	ck_assert_msg(strstr(out, "holds no log of n2") && strstr(out, "rc=2") &&
			      strstr(out, "partial: some nodes' logs are missing"),
		      "exit %d:\n%s", rc, out);
	g_free(out);
	drop_dir(part);
	/* Usage errors of --check. */
	g_autofree char *cu = g_strdup_printf("%s/aureon-sim replay %s --check --skip no_such_check 2>&1; "
					      "%s/aureon-sim replay %s --check --node n1 2>&1; "
					      "%s/aureon-sim replay %s --trace x.h5 2>&1", au_test_bin(), rec,
					      au_test_bin(), rec, au_test_bin(), rec);
	rc = au_test_run(cu, &out);
	ck_assert_msg(rc == 2 && strstr(out, "--skip no_such_check: no check") && strstr(out, "--node is for one") &&
			      strstr(out, "go with --check"),
		      "exit %d:\n%s", rc, out);
	g_free(out);

	/* A corrupt byte in the middle of a segment: refused, nothing replayed. */
	char *d = copy_of(rec);
	g_autofree char *seg = g_build_filename(d, "n2-e000001-0000.aurec", NULL);
	gchar *img;
	gsize len;
	ck_assert(g_file_get_contents(seg, &img, &len, NULL));
	img[len / 2] ^= 0x01;
	ck_assert(g_file_set_contents(seg, img, (gssize)len, NULL));
	s = replay(d, &rc);
	ck_assert_msg(rc == 2 && strstr(s, "n2-e000001-0000.aurec: offset ") && strstr(s, "nothing replayed") &&
			      !strstr(s, "exact"),
		      "exit %d:\n%s", rc, s);
	g_free(s);
	/* Truncated by 5 bytes (a frame cut short). */
	img[len / 2] ^= 0x01;
	ck_assert(g_file_set_contents(seg, img, (gssize)len - 5, NULL));
	s = replay(d, &rc);
	ck_assert_msg(rc == 2 && strstr(s, "truncated frame"), "exit %d:\n%s", rc, s);
	g_free(s);
	/* Another format version. */
	img[8] = 9;
	ck_assert(g_file_set_contents(seg, img, (gssize)len, NULL));
	s = replay(d, &rc);
	ck_assert_msg(rc == 2 && strstr(s, "offset 8: log format version 9"), "exit %d:\n%s", rc, s);
	g_free(s);
	/* A missing segment. */
	img[8] = AU_RECLOG_VERSION;
	ck_assert(g_file_set_contents(seg, img, (gssize)len, NULL));
	g_free(img);
	g_remove(seg);
	s = replay(d, &rc);
	ck_assert_msg(rc == 2 && strstr(s, "segment 0 of n2's boot 1 is missing"), "exit %d:\n%s", rc, s);
	g_free(s);
	drop_dir(d);

	/* An intact log that says n3 received something else: the replay
	 * diverges and names the record. */
	d = copy_of(rec);
	g_autofree char *seg3 = g_build_filename(d, "n3-e000001-0000.aurec", NULL);
	ck_assert(change_first_recv(seg3));
	s = replay(d, &rc);
	ck_assert_msg(rc == 1 && strstr(s, "n3 boot 1 ") && strstr(s, "DIVERGED at record ") &&
			      strstr(s, "n2 boot 1 (") && strstr(s, "exact"),
		      "exit %d:\n%s", rc, s);
	g_free(s);
	/* Merged, the divergence stops the run and is named. */
	g_autofree char *cd = g_strdup_printf("%s/aureon-sim replay %s --check 2>&1", au_test_bin(), d);
	rc = au_test_run(cd, &out);
	ck_assert_msg(rc == 1 && strstr(out, "n3 boot 1: DIVERGED at record ") &&
			      strstr(out, "result: fail (a boot did not replay exactly)"),
		      "exit %d:\n%s", rc, out);
	g_free(out);
	drop_dir(d);
	drop_dir(rec);
}
END_TEST

/* --to-scenario's inference on made-up facts: a run of lost datagrams on
 * one link to a running node is a one-way cut (not loss), a pause and a
 * kill with its restart become faults, and the text loads. */
START_TEST(scenario_from_facts)
{
	char *services[] = {"raft", NULL};
	struct au_rl_boot b = {.node = 1, .n_services = 1, .services = services,
			       .cluster_text = "[cluster]\nnodes = 3\nservices = raft\n"};
	struct au_replay_facts f;
	au_rf_init(&f);
	f.first = &b;
	f.span = 10 * AU_NS_PER_S;
	const struct au_rf_boot boots[] = {{1, 0, 10 * AU_NS_PER_S, true, false},
					   {2, 0, 10 * AU_NS_PER_S, true, false},
					   {3, 0, 4 * AU_NS_PER_S, false, true},
					   {3, 5 * AU_NS_PER_S, 10 * AU_NS_PER_S, true, false}};
	g_array_append_vals(f.boots, boots, G_N_ELEMENTS(boots));
	const struct au_rf_pause pause = {2, 6 * AU_NS_PER_S, 8 * AU_NS_PER_S};
	g_array_append_val(f.pauses, pause);
	/* n1 -> n2: delivered, then 5 lost over 400 ms, then delivered;
	 * n1 -> n3: one lost while n3 is down (not loss), 2 delivered. */
	for (int i = 0; i < 7; i++) {
		bool lost = i >= 1 && i <= 5;
		struct au_rf_send s = {AU_NS_PER_S + i * 100 * AU_NS_PER_MS, 1, 2, !lost, lost ? 0 : 1000 * 1000};
		g_array_append_val(f.sends, s);
	}
	const struct au_rf_send to3[] = {{4500 * AU_NS_PER_MS, 1, 3, false, 0},
					 {6 * AU_NS_PER_S, 1, 3, true, 2 * 1000 * 1000},
					 {7 * AU_NS_PER_S, 1, 3, true, 2 * 1000 * 1000}};
	g_array_append_vals(f.sends, to3, G_N_ELEMENTS(to3));
	char *err = NULL;
	char *text = au_rf_scenario(&f, "/tmp/made-up", &err);
	ck_assert_msg(text, "%s", err);
	ck_assert_msg(strstr(text, "[fault.cut-n1-n2-1]\nat = 1100000us\naction = partition\ngroups = n1 | n2\n"
				   "oneway = true\nuntil = 1501000us\n") &&
			      !strstr(text, "cut-n1-n3") && strstr(text, "loss = 0.0000\n") &&
			      strstr(text, "[fault.kill-n3-3]\nat = 4000001us\naction = crash\ntarget = n3\n"
					   "restart_after = 999999us\n") &&
			      strstr(text, "[fault.pause-n2-1]\nat = 6000001us\naction = pause\ntarget = n2\n"
					   "until = 8000000us\n"),
		      "%s", text);
	g_free(text);
	au_rf_clear(&f);
}
END_TEST

START_TEST(bad_arguments_exit_2)
{
	int rc;
	char *s = replay("/nonexistent-aureon-dir", &rc);
	ck_assert_msg(rc == 2 && strstr(s, "/nonexistent-aureon-dir"), "exit %d:\n%s", rc, s);
	g_free(s);
	g_autofree char *cmd = g_strdup_printf("%s/aureon-node --config x.ini --id n1 --record-max-bytes 12 2>&1",
					       au_test_bin());
	char *out = NULL;
	rc = au_test_run(cmd, &out);
	ck_assert_msg(rc == 2 && strstr(out, "--record-max-bytes"), "exit %d:\n%s", rc, out);
	g_free(out);
	g_autofree char *cmd2 = g_strdup_printf("%s/aureon-sim replay /tmp --node x7 2>&1", au_test_bin());
	rc = au_test_run(cmd2, &out);
	ck_assert_msg(rc == 2 && strstr(out, "--node"), "exit %d:\n%s", rc, out);
	g_free(out);
}
END_TEST

Suite *replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("format");
	tcase_add_test(tc, varints_round_trip);
	tcase_add_test(tc, frames_refuse_damage);
	tcase_add_test(tc, bad_arguments_exit_2);
	tcase_add_test(tc, scenario_from_facts);
	suite_add_tcase(s, tc);
	TCase *real = tcase_create("real_processes");
	tcase_set_timeout(real, 240);
	tcase_add_test(real, recorded_cluster_replays_exactly_and_damage_is_caught);
	suite_add_tcase(s, real);
	return s;
}
