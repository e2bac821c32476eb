/* test_disk.c — the simulated disk's chunk handling held to a flat model:
 * appends written in place into a tail chunk the durable image shares,
 * cut bytes that must read as zeros when a file grows again, syncs that
 * complete while newer writes are pending (replayed, not shared), crashes
 * (current reset to durable) and file names looked up through the
 * recent-files cache. */
#include <glib.h>
#include <string.h>

#include "pcg32.h"
#include "sim/engine/sim.h"
#include "sim/engine/sim_internal.h"
#include "scenario_runs.h"
#include "tests.h"
#include "wire.h"

/* A model that does nothing; the test drives its env directly. */
static void *dp_init(const struct au_env *env, const void *cfg)
{
	(void)env;
	(void)cfg;
	return g_new0(int, 1);
}
static void dp_recv(void *st, au_node_id from, const void *msg, size_t len)
{
	(void)st, (void)from, (void)msg, (void)len;
}
static void dp_timer(void *st, uint32_t kind, uint64_t arg) { (void)st, (void)kind, (void)arg; }
static void dp_persisted(void *st, uint64_t token, int status)
{
	(void)st, (void)token;
	ck_assert_int_eq(status, 0);
}
static void dp_destroy(void *st) { g_free(st); }
static void dp_timer_persisted(void *st, uint64_t token, int status)
{
	(void)st, (void)token, (void)status;
}

static const struct au_model dp_model = {
	.name = "dp",
	.init = dp_init,
	.recv = dp_recv,
	.timer = dp_timer,
	.persisted = dp_persisted,
	.destroy = dp_destroy,
};

static struct au_scenario *dp_scenario(const char *extra)
{
	g_autofree char *text = g_strdup_printf(
		"[run]\nduration = 100s\n[cluster]\nnodes = 1\nservices = ping\n"
		"[disk]\nsync_latency = const(3ms)\n%s",
		extra);
	struct au_scenario *sc = au_test_load_text("dp.ini", text);
	sc->cluster.services[0] = &dp_model;
	return sc;
}

enum { MAX = 20000, NFILES = 2, NSYNC = 64 };

/* One file of the flat model: its bytes now, the bytes each sync in
 * flight will make durable (as of its issue), the durable bytes. */
struct flat {
	const char *name, *key;
	uint8_t cur[MAX];
	size_t cur_len;
	uint32_t last_off, last_len; /* the last write */
	uint8_t snap[NSYNC][MAX];
	size_t snap_len[NSYNC];
	au_time snap_done[NSYNC];
	unsigned head, n;
	uint8_t dur[MAX];
	size_t dur_len;
	bool dur_known; /* durable checked against dur (false: never synced) */
};

static void check_file(struct au_sim *sim, const struct au_env *e, struct flat *f, int step)
{
	static uint8_t got[MAX];
	int64_t n = e->ops->storage_read(e->ctx, f->name, 0, got, MAX);
	if (n == -AU_ENOENT && f->cur_len == 0)
		n = 0;
	ck_assert_int_eq(n, (int64_t)f->cur_len);
	ck_assert_msg(memcmp(got, f->cur, f->cur_len) == 0, "step %d %s: current differs", step,
		      f->name);
	if (!f->dur_known)
		return;
	n = au_sim_durable_read(sim, 1, f->key, 0, got, MAX);
	if (n == -AU_ENOENT && f->dur_len == 0)
		n = 0;
	ck_assert_int_eq(n, (int64_t)f->dur_len);
	ck_assert_msg(memcmp(got, f->dur, f->dur_len) == 0, "step %d %s: durable differs", step,
		      f->name);
}

/* Random appends, overwrites, writes past the end, truncates (shrink and
 * grow) and syncs on two files, time moving 0-2 ms a step so a sync (3 ms)
 * completes with newer operations pending.  Crashes at 2 s (everything
 * synced first: nothing may change) and 4 s (operations pending: current
 * becomes durable, whatever survived). */
START_TEST(disk_overlapping_syncs_match_a_flat_model)
{
	struct au_scenario *sc = dp_scenario(
		"[fault.c1]\nat = 2s\naction = crash\ntarget = n1\nrestart_after = 100ms\n"
		"[fault.c2]\nat = 4s\naction = crash\ntarget = n1\nrestart_after = 100ms\n");
	struct au_sim *sim = au_sim_new(sc, 3);
	au_sim_run(sim, 0);
	const struct au_env *e = au_sim_env(sim, 1, 0);
	static struct flat files[NFILES];
	memset(files, 0, sizeof(files));
	files[0].name = "a";
	files[0].key = "dp/a";
	files[1].name = "log-0001";
	files[1].key = "dp/log-0001";
	static uint8_t buf[MAX];
	struct au_pcg32 r;
	au_pcg32_stream(&r, 11, 1, 1);
	au_time t = 0;
	bool crashed1 = false, crashed2 = false;
	unsigned replayed = 0;
	for (int step = 0; t < 6 * AU_NS_PER_S; step++) {
		struct flat *f = &files[au_pcg32_below(&r, NFILES)];
		uint32_t what = au_pcg32_below(&r, 13);
		if (t >= 1900 * AU_NS_PER_MS && !crashed1) /* before the first crash: */
			what = t < 1950 * AU_NS_PER_MS ? 11 : 13; /* syncs, then nothing */
		if (what == 13) {
			/* quiet */
		} else if (what == 12 && f->last_len && f->last_off + f->last_len <= f->cur_len) {
			/* the last write again, its last byte changed: a replay
			 * must not take the bytes in a shared chunk for its own */
			uint32_t off = f->last_off, len = f->last_len;
			memcpy(buf, f->cur + off, len);
			buf[len - 1] ^= 0x5a;
			ck_assert_int_eq(e->ops->storage_write(e->ctx, f->name, off, buf, len), 0);
			f->cur[off + len - 1] ^= 0x5a;
		} else if (what < 7) { /* appends mostly, overwrites, writes past the end */
			uint32_t len = 1 + au_pcg32_below(&r, what == 0 ? 6000 : 200);
			uint32_t off = (uint32_t)f->cur_len; /* append */
			if (what == 4)
				off = au_pcg32_below(&r, MAX / 2);
			else if (what == 5) /* across the end: from just before it */
				off -= au_pcg32_below(&r, off < 16 ? off + 1 : 16);
			else if (what == 6)
				off += au_pcg32_below(&r, 5000);
			if (off + len > MAX)
				continue;
			for (uint32_t i = 0; i < len; i++)
				buf[i] = (uint8_t)au_pcg32_next(&r);
			ck_assert_int_eq(e->ops->storage_write(e->ctx, f->name, off, buf, len), 0);
			if (off > f->cur_len)
				memset(f->cur + f->cur_len, 0, off - f->cur_len);
			memcpy(f->cur + off, buf, len);
			if (off + len > f->cur_len)
				f->cur_len = off + len;
			f->last_off = off;
			f->last_len = len;
		} else if (what < 9) { /* truncate: shrink (often a little) or grow */
			uint32_t len = what == 7 && f->cur_len
					       ? (uint32_t)f->cur_len - au_pcg32_below(&r, (uint32_t)f->cur_len)
					       : au_pcg32_below(&r, MAX / 2);
			ck_assert_int_eq(e->ops->storage_truncate(e->ctx, f->name, len), 0);
			if (len > f->cur_len)
				memset(f->cur + f->cur_len, 0, len - f->cur_len);
			f->cur_len = len;
		} else if (f->n < NSYNC) { /* sync: durable as of now in 3 ms */
			unsigned k = (f->head + f->n++) % NSYNC;
			memcpy(f->snap[k], f->cur, f->cur_len);
			f->snap_len[k] = f->cur_len;
			f->snap_done[k] = t + 3 * AU_NS_PER_MS;
			e->ops->storage_sync(e->ctx, f->name, (uint64_t)step);
		}
		t += au_pcg32_below(&r, 3) * AU_NS_PER_MS;
		bool at_crash1 = !crashed1 && t >= 2 * AU_NS_PER_S;
		if (at_crash1) {
			t = 2 * AU_NS_PER_S + 200 * AU_NS_PER_MS;
			crashed1 = true;
		}
		if (!crashed2 && t >= 4 * AU_NS_PER_S) {
			t = 4 * AU_NS_PER_S + 200 * AU_NS_PER_MS;
			crashed2 = true;
			au_sim_run(sim, t);
			e = au_sim_env(sim, 1, 0);
			/* Pending operations survived or not: current is durable. */
			for (unsigned i = 0; i < NFILES; i++) {
				struct flat *g = &files[i];
				int64_t n = e->ops->storage_read(e->ctx, g->name, 0, g->cur, MAX);
				g->cur_len = n > 0 ? (size_t)n : 0;
				memcpy(g->dur, g->cur, g->cur_len);
				g->dur_len = g->cur_len;
				g->n = 0;
				check_file(sim, e, g, step);
			}
			continue;
		}
		au_sim_run(sim, t);
		if (crashed1)
			e = au_sim_env(sim, 1, 0);
		for (unsigned i = 0; i < NFILES; i++) {
			struct flat *g = &files[i];
			if (at_crash1) /* every sync done before it: nothing changed */
				ck_assert(g->n == 0 && g->dur_known);
			while (g->n && g->snap_done[g->head] <= t) {
				replayed += g->n > 1; /* newer syncs pending: not shared */
				memcpy(g->dur, g->snap[g->head], g->snap_len[g->head]);
				g->dur_len = g->snap_len[g->head];
				g->dur_known = true;
				g->head = (g->head + 1) % NSYNC;
				g->n--;
			}
			check_file(sim, e, g, step);
		}
	}
	ck_assert(crashed1 && crashed2);
	ck_assert_uint_gt(replayed, 100);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* One run of random disk operations on two files under crashes, failed
 * syncs and corrupted sectors; after every step the CRC-32C of each
 * file's current and durable bytes goes to `out` and their lengths to
 * `lens` (steps * NFILES * 2 of each). */
static void lazy_run(uint64_t seed, uint32_t *out, int64_t *lens, int steps)
{
	struct au_scenario *sc = dp_scenario(
		"[fault.c1]\nat = 1s\naction = crash\ntarget = n1\nrestart_after = 10ms\n"
		"[fault.c2]\nat = 2200ms\naction = crash\ntarget = n1\nrestart_after = 10ms\n"
		"[fault.bad]\nat = 1500ms\naction = disk_fault\ntarget = n1\nkind = corrupt\n"
		"[fault.bad2]\nat = 2600ms\naction = disk_fault\ntarget = n1\nkind = corrupt\n"
		"[fault.se]\nat = 3s\naction = disk_fault\ntarget = n1\nkind = sync_error\n"
		"rate = 0.5\nuntil = 4s\n"
		"[fault.c3]\nat = 3500ms\naction = crash\ntarget = n1\nrestart_after = 10ms\n");
	/* sync errors are expected here: a model that does not assert */
	static struct au_model m;
	m = dp_model;
	m.persisted = dp_timer_persisted;
	sc->cluster.services[0] = &m;
	struct au_sim *sim = au_sim_new(sc, 5 + seed);
	au_sim_run(sim, 0);
	static const char *names[NFILES] = {"a", "log-0001"}, *keys[NFILES] = {"dp/a", "dp/log-0001"};
	static uint8_t buf[MAX];
	uint64_t len[NFILES] = {0, 0};
	struct au_pcg32 r;
	au_pcg32_stream(&r, 23 + seed, 1, 1);
	au_time t = 0;
	for (int step = 0; step < steps; step++) {
		const struct au_env *e = au_sim_env(sim, 1, 0);
		unsigned fi = au_pcg32_below(&r, NFILES);
		const char *name = names[fi];
		int64_t sz = e->ops->storage_size(e->ctx, name);
		len[fi] = sz > 0 ? (uint64_t)sz : 0;
		uint32_t what = au_pcg32_below(&r, 12);
		if (what < 6) { /* appends mostly; overwrites of pending bytes */
			uint32_t n = 1 + au_pcg32_below(&r, what == 0 ? 9000 : 300);
			uint64_t off = len[fi];
			if (what == 4 && off)
				off = au_pcg32_below(&r, (uint32_t)off);
			if (off + n <= MAX) {
				for (uint32_t i = 0; i < n; i++)
					buf[i] = (uint8_t)au_pcg32_next(&r);
				e->ops->storage_write(e->ctx, name, off, buf, n);
			}
		} else if (what == 6 && len[fi]) {
			e->ops->storage_truncate(e->ctx, name, len[fi] - au_pcg32_below(&r, (uint32_t)len[fi]));
		} else if (what == 7) { /* a write past the end: a hole of zeros before it */
			uint32_t n = 1 + au_pcg32_below(&r, 300);
			uint64_t off = len[fi] + 1 + au_pcg32_below(&r, 6000);
			if (off + n <= MAX) {
				for (uint32_t i = 0; i < n; i++)
					buf[i] = (uint8_t)au_pcg32_next(&r);
				e->ops->storage_write(e->ctx, name, off, buf, n);
			}
		} else if (what == 8) { /* a truncate that grows the file with zeros */
			uint64_t to = len[fi] + 1 + au_pcg32_below(&r, 6000);
			if (to <= MAX)
				e->ops->storage_truncate(e->ctx, name, to);
		} else {
			e->ops->storage_sync(e->ctx, name, (uint64_t)step);
		}
		t += au_pcg32_below(&r, 4) * AU_NS_PER_MS;
		au_sim_run(sim, t);
		e = au_sim_env(sim, 1, 0);
		for (unsigned i = 0; i < NFILES; i++) {
			size_t at = ((size_t)step * NFILES + i) * 2;
			lens[at] = e->ops->storage_read(e->ctx, names[i], 0, buf, MAX);
			out[at] = au_crc32c(0, buf, lens[at] > 0 ? (size_t)lens[at] : 0);
			lens[at + 1] = au_sim_durable_read(sim, 1, keys[i], 0, buf, MAX);
			out[at + 1] = au_crc32c(0, buf, lens[at + 1] > 0 ? (size_t)lens[at + 1] : 0);
		}
	}
	au_sim_free(sim);
	au_scenario_free(sc);
}

/* Pending writes that keep no copy of their bytes (read from current when
 * they settle) give exactly the images of writes that keep one: after
 * every step, through syncs that replay, crashes (whole, torn, lost),
 * failed syncs, corrupted sectors, writes past the end and truncates that
 * grow a file (holes of zeros); four seeds. */
START_TEST(disk_lazy_pending_equals_eager)
{
	enum { STEPS = 4000 };
	uint64_t seed = (uint64_t)_i; /* the loop test's index */
	uint32_t *a = g_new(uint32_t, STEPS * NFILES * 2), *b = g_new(uint32_t, STEPS * NFILES * 2);
	int64_t *la = g_new(int64_t, STEPS * NFILES * 2), *lb = g_new(int64_t, STEPS * NFILES * 2);
	au_disk_test_eager_pending(true);
	lazy_run(seed, a, la, STEPS);
	au_disk_test_eager_pending(false);
	lazy_run(seed, b, lb, STEPS);
	int64_t bytes = 0;
	for (int i = 0; i < STEPS * NFILES * 2; i++) {
		ck_assert_msg(la[i] == lb[i], "step %d image %d: length %lld vs %lld", i / (NFILES * 2),
			      i % (NFILES * 2), (long long)la[i], (long long)lb[i]);
		ck_assert_msg(a[i] == b[i], "step %d image %d differs", i / (NFILES * 2),
			      i % (NFILES * 2));
		bytes += la[i] > 0 ? la[i] : 0;
	}
	ck_assert_int_gt(bytes, 10000000); /* the files held something */
	g_free(a);
	g_free(b);
	g_free(la);
	g_free(lb);
}
END_TEST

/* A sector corrupted under a pending overwrite: the overwrite, replayed
 * by the next sync, writes its own bytes (not current's flipped bit),
 * lazy or not.  Returns durable's CRC-32C after the sync. */
static uint32_t corrupt_under_pending(void)
{
	struct au_scenario *sc = dp_scenario(
		"[fault.bad]\nat = 100ms\naction = disk_fault\ntarget = n1\nkind = corrupt\n");
	struct au_sim *sim = au_sim_new(sc, 5);
	au_sim_run(sim, 0);
	const struct au_env *e = au_sim_env(sim, 1, 0);
	uint8_t buf[600];
	memset(buf, 0x11, sizeof(buf));
	e->ops->storage_write(e->ctx, "a", 0, buf, sizeof(buf));
	e->ops->storage_sync(e->ctx, "a", 1);
	au_sim_run(sim, 50 * AU_NS_PER_MS);
	memset(buf, 0x22, sizeof(buf));
	e->ops->storage_write(e->ctx, "a", 0, buf, sizeof(buf)); /* pending at 100 ms */
	au_sim_run(sim, 150 * AU_NS_PER_MS);
	e->ops->storage_sync(e->ctx, "a", 2);
	au_sim_run(sim, 200 * AU_NS_PER_MS);
	uint8_t got[600];
	ck_assert_int_eq(au_sim_durable_read(sim, 1, "dp/a", 0, got, sizeof(got)), 600);
	au_sim_free(sim);
	au_scenario_free(sc);
	return au_crc32c(0, got, sizeof(got));
}

START_TEST(disk_lazy_pending_corrupted_sector)
{
	au_disk_test_eager_pending(true);
	uint32_t want = corrupt_under_pending();
	au_disk_test_eager_pending(false);
	ck_assert_uint_eq(corrupt_under_pending(), want);
	uint8_t all22[600];
	memset(all22, 0x22, sizeof(all22));
	ck_assert_uint_eq(want, au_crc32c(0, all22, sizeof(all22)));
}
END_TEST

/* File names: 1 to 200 bytes without '/' or control characters; many
 * files whose names have the same length and the same first bytes, used
 * in turn, each read back as its own (the recent-files cache). */
START_TEST(disk_names_and_many_files)
{
	struct au_scenario *sc = dp_scenario("");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	const struct au_env *e = au_sim_env(sim, 1, 0);
	char name[256];
	memset(name, 'n', sizeof(name));
	name[200] = 0;
	ck_assert_int_eq(e->ops->storage_write(e->ctx, name, 0, "x", 1), 0);
	ck_assert_int_eq(e->ops->storage_size(e->ctx, name), 1);
	name[200] = 'n';
	name[201] = 0;
	ck_assert_int_eq(e->ops->storage_write(e->ctx, name, 0, "x", 1), -AU_EINVAL);
	ck_assert_int_eq(e->ops->storage_size(e->ctx, name), -AU_EINVAL);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "", 0, "x", 1), -AU_EINVAL);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "a/b", 0, "x", 1), -AU_EINVAL);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "a\nb", 0, "x", 1), -AU_EINVAL);
	ck_assert_int_eq(e->ops->storage_truncate(e->ctx, "a/b", 0), -AU_EINVAL);
	char got[16];
	ck_assert_int_eq(e->ops->storage_read(e->ctx, "a\x01", 0, got, 1), -AU_EINVAL);
	ck_assert_int_eq(e->ops->storage_read(e->ctx, "never", 0, got, 1), -AU_ENOENT);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 40; i++) {
			char nm[16], want[16];
			g_snprintf(nm, sizeof(nm), "seg-%04d", (i * 7) % 40);
			g_snprintf(want, sizeof(want), "%s:%d", nm, round);
			ck_assert_int_eq(e->ops->storage_write(e->ctx, nm, 0, want, 16), 0);
			for (int back = 0; back <= i && back < 6; back++) {
				g_snprintf(nm, sizeof(nm), "seg-%04d", ((i - back) * 7) % 40);
				g_snprintf(want, sizeof(want), "%s:%d", nm, round);
				ck_assert_int_eq(e->ops->storage_read(e->ctx, nm, 0, got, 16), 16);
				ck_assert_str_eq(got, want);
			}
		}
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

Suite *disk_suite(void)
{
	Suite *s = suite_create("disk");
	TCase *tc = tcase_create("disk");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, disk_overlapping_syncs_match_a_flat_model);
	tcase_add_loop_test(tc, disk_lazy_pending_equals_eager, 0, 4);
	tcase_add_test(tc, disk_lazy_pending_corrupted_sector);
	tcase_add_test(tc, disk_names_and_many_files);
	suite_add_tcase(s, tc);
	return s;
}
