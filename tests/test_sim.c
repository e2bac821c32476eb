/* test_sim.c — the engine end to end: determinism of the ping scenario,
 * the network model (latency, loss, duplication, corruption, partitions,
 * bandwidth, clogs), the disk model (sync, crash with torn writes), node
 * lifecycle faults (crash, restart, pause, skew) and stream independence.
 * A probe model records what reaches it so each effect is observable. */
#include <glib.h>
#include <string.h>

#include "pcg32.h"
#include "trace_kinds.h"
#include "sha256.h"
#include "sim/engine/sim.h"
#include "sim/engine/sim_internal.h"
#include "scenario_runs.h"
#include "tests.h"

/* ---- the probe model ---------------------------------------------------- */

enum { LOG_RECV, LOG_TIMER, LOG_PERSISTED, LOG_BOOT };

struct log_entry {
	int what;
	au_node_id node, from;
	au_time local_ns; /* the node's clock */
	uint64_t arg;
	size_t len;
	uint8_t bytes[64];
	int status; /* LOG_PERSISTED: the sync's outcome */
};

static GArray *probe_log;

struct probe {
	const struct au_env *env;
};

static void log_add(const struct probe *p, int what, au_node_id from, uint64_t arg,
		    const void *bytes, size_t len)
{
	struct log_entry e = {what, p->env->self, from, au_now(p->env), arg, len, {0}, 0};
	if (bytes)
		memcpy(e.bytes, bytes, len < 64 ? len : 64);
	g_array_append_val(probe_log, e);
}

static void *probe_init(const struct au_env *env, const void *cfg)
{
	(void)cfg;
	struct probe *p = g_new0(struct probe, 1);
	p->env = env;
	log_add(p, LOG_BOOT, 0, 0, NULL, 0);
	return p;
}
static void probe_recv(void *st, au_node_id from, const void *msg, size_t len)
{
	log_add(st, LOG_RECV, from, 0, msg, len);
}
static void probe_timer(void *st, uint32_t kind, uint64_t arg)
{
	(void)kind;
	log_add(st, LOG_TIMER, 0, arg, NULL, 0);
}
static void probe_persisted(void *st, uint64_t token, int status)
{
	log_add(st, LOG_PERSISTED, 0, token, NULL, 0);
	g_array_index(probe_log, struct log_entry, probe_log->len - 1).status = status;
}
static void probe_destroy(void *st) { g_free(st); }

static const struct au_model probe_model = {
	.name = "probe",
	.init = probe_init,
	.recv = probe_recv,
	.timer = probe_timer,
	.persisted = probe_persisted,
	.destroy = probe_destroy,
};

/* A scenario of `nodes` probe nodes with the given extra groups. */
static struct au_scenario *probe_scenario(uint32_t nodes, const char *extra)
{
	g_autofree char *text = g_strdup_printf(
		"[run]\nduration = 100s\n[cluster]\nnodes = %u\nservices = ping\n%s", nodes, extra);
	struct au_scenario *sc = au_test_load_text("probe.ini", text);
	sc->cluster.services[0] = &probe_model; /* ping's config block is simply unused */
	if (probe_log)
		g_array_free(probe_log, TRUE);
	probe_log = g_array_new(FALSE, FALSE, sizeof(struct log_entry));
	return sc;
}

static const struct au_env *env_of(struct au_sim *sim, au_node_id n)
{
	return au_sim_env(sim, n, 0);
}

static guint count(int what, au_node_id node)
{
	guint c = 0;
	for (guint i = 0; i < probe_log->len; i++) {
		struct log_entry *e = &g_array_index(probe_log, struct log_entry, i);
		c += e->what == what && (node == 0 || e->node == node);
	}
	return c;
}

static struct log_entry *nth(int what, guint k)
{
	for (guint i = 0; i < probe_log->len; i++) {
		struct log_entry *e = &g_array_index(probe_log, struct log_entry, i);
		if (e->what == what && k-- == 0)
			return e;
	}
	return NULL;
}

/* ---- determinism ---------------------------------------------------------- */

static void le_bytes(GByteArray *o, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t)(v >> (8 * i));
		g_byte_array_append(o, &b, 1);
	}
}

/* The trace hash is SHA-256 of the records' bytes as documented: an event
 * 'E', t, node (4), kind (2), a, b, c; a message 'M', sent, received, src
 * (4), dst (4), service, type, bytes (4), fate; little-endian.  Built here
 * byte by byte, for records whose fields take every width's extremes, many
 * enough to cross the engine's hash buffer several times. */
START_TEST(record_bytes_are_the_documented_layout)
{
	struct au_scenario *sc = probe_scenario(3, "");
	sc->record_messages = true;
	struct au_sim *sim = au_sim_new(sc, 1);
	ck_assert_uint_eq(au_sim_stats(sim)->records, 0);
	GByteArray *want = g_byte_array_new();
	struct au_pcg32 rng;
	au_pcg32_stream(&rng, 99, 0, 0);
	for (int i = 0; i < 3000; i++) {
		uint64_t r[4];
		for (int k = 0; k < 4; k++)
			r[k] = (uint64_t)au_pcg32_next(&rng) << 32 | au_pcg32_next(&rng);
		if (i % 3 == 2) {
			au_time sent = (au_time)(r[0] >> 1), recv = (au_time)r[1];
			au_node_id src = (au_node_id)r[2], dst = (au_node_id)(r[2] >> 32);
			uint8_t svc = (uint8_t)r[3], type = (uint8_t)(r[3] >> 8);
			uint32_t bytes = (uint32_t)(r[3] >> 16);
			enum au_fate fate = (enum au_fate)(r[3] >> 60) % AU_FATE_COUNT_;
			au_sim_record_message(sim, sent, recv, src, dst, svc, type, bytes, fate);
			g_byte_array_append(want, (const uint8_t *)"M", 1);
			le_bytes(want, (uint64_t)sent, 8);
			le_bytes(want, (uint64_t)recv, 8);
			le_bytes(want, src, 4);
			le_bytes(want, dst, 4);
			le_bytes(want, svc, 1);
			le_bytes(want, type, 1);
			le_bytes(want, bytes, 4);
			le_bytes(want, (uint64_t)fate, 1);
			continue;
		}
		/* kinds no checker of this run reads; node 0 (the engine) or any */
		uint16_t kind = (uint16_t)(i % 2 ? AU_TR_ADMIN : 1000 + (r[3] & 0x7fff));
		au_node_id node = (au_node_id)(r[3] >> 32) % 4;
		int64_t a = (int64_t)r[0], b = i % 5 ? (int64_t)r[1] : INT64_MIN, c = -(int64_t)i;
		au_sim_record_event(sim, node, kind, a, b, c);
		g_byte_array_append(want, (const uint8_t *)"E", 1);
		le_bytes(want, 0, 8); /* t: the run has not started */
		le_bytes(want, node, 4);
		le_bytes(want, kind, 2);
		le_bytes(want, (uint64_t)a, 8);
		le_bytes(want, (uint64_t)b, 8);
		le_bytes(want, (uint64_t)c, 8);
	}
	ck_assert_uint_gt(want->len, 4 * 8192);
	char got[65], expect[65];
	au_sim_trace_hash(sim, got);
	struct au_sha256 h;
	au_sha256_init(&h);
	au_sha256_update(&h, want->data, want->len);
	au_sha256_hex(&h, expect);
	ck_assert_str_eq(got, expect);
	g_byte_array_free(want, TRUE);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

static void run_ping(uint64_t seed, char hash[65], uint64_t *events)
{
	struct au_scenario *sc = au_test_load("scenarios/ping.ini");
	struct au_sim *sim = au_sim_new(sc, seed);
	ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
	ck_assert_int_eq(au_sim_finish(sim), 0);
	au_sim_trace_hash(sim, hash);
	*events = au_sim_stats(sim)->events;
	au_sim_free(sim);
	au_scenario_free(sc);
}

START_TEST(ping_same_seed_same_hash)
{
	char h1[65], h2[65], h3[65];
	uint64_t e1, e2, e3;
	run_ping(42, h1, &e1);
	run_ping(42, h2, &e2);
	run_ping(43, h3, &e3);
	ck_assert_str_eq(h1, h2);
	ck_assert_uint_eq(e1, e2);
	ck_assert_str_ne(h1, h3);
}
END_TEST

/* Re-timing timers at a drift change is deterministic: the SWIM
 * regression whose suspicion outlived a 3x slow clock (three clocks drift
 * and come back, with every check on) passes, twice with one hash. */
START_TEST(drift_retiming_same_hash)
{
	char hash[2][65];
	for (int i = 0; i < 2; i++) {
		struct au_scenario *sc =
			au_test_load("scenarios/regressions/swim-timer-after-drift.ini");
		struct au_sim *sim = au_sim_new(sc, sc->seed);
		ck_assert_int_eq(au_sim_run(sim, sc->duration), 0);
		ck_assert_int_eq(au_sim_finish(sim), 0);
		au_sim_trace_hash(sim, hash[i]);
		au_sim_free(sim);
		au_scenario_free(sc);
	}
	ck_assert_str_eq(hash[0], hash[1]);
}
END_TEST

START_TEST(sliced_run_equals_whole_run)
{
	/* Running to t1 then to t2 must not change anything. */
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load("scenarios/ping.ini", &err);
	ck_assert(sc);
	char h1[65], h2[65];
	struct au_sim *a = au_sim_new(sc, 7);
	au_sim_run(a, sc->duration);
	au_sim_finish(a);
	au_sim_trace_hash(a, h1);
	struct au_sim *b = au_sim_new(sc, 7);
	for (int i = 1; i <= 37; i++)
		au_sim_run(b, sc->duration / 37 * i);
	au_sim_run(b, sc->duration);
	au_sim_finish(b);
	au_sim_trace_hash(b, h2);
	ck_assert_str_eq(h1, h2);
	au_sim_free(a);
	au_sim_free(b);
	au_scenario_free(sc);
}
END_TEST

START_TEST(streams_survive_cluster_growth)
{
	/* Node 2's own stream is the same in a 5- and a 6-node cluster. */
	struct au_scenario *s5 = probe_scenario(5, "");
	struct au_scenario *s6 = probe_scenario(6, "");
	struct au_sim *a = au_sim_new(s5, 11), *b = au_sim_new(s6, 11);
	for (int i = 0; i < 64; i++)
		ck_assert(au_random(env_of(a, 2)) == au_random(env_of(b, 2)));
	au_sim_free(a);
	au_sim_free(b);
	au_scenario_free(s5);
	au_scenario_free(s6);
}
END_TEST

/* ---- network ------------------------------------------------------------- */

START_TEST(const_latency_exact)
{
	struct au_scenario *sc = probe_scenario(3, "[network]\nlatency = const(5ms)\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	uint8_t msg[20] = {9, 1, 2, 3};
	ck_assert_int_eq(au_send(env_of(sim, 1), 2, msg, sizeof(msg)), 0);
	au_sim_run(sim, 10 * AU_NS_PER_MS);
	ck_assert_uint_eq(count(LOG_RECV, 2), 1);
	struct log_entry *e = nth(LOG_RECV, 0);
	ck_assert_int_eq(e->local_ns, 5 * AU_NS_PER_MS);
	ck_assert_uint_eq(e->from, 1);
	ck_assert(memcmp(e->bytes, msg, sizeof(msg)) == 0);
	/* bad sends are refused, not delivered */
	ck_assert_int_eq(au_send(env_of(sim, 1), 4, msg, 4), -AU_EINVAL);
	ck_assert_int_eq(au_send(env_of(sim, 1), 0, msg, 4), -AU_EINVAL);
	ck_assert_int_eq(au_send(env_of(sim, 1), 2, msg, 0), -AU_EINVAL);
	static uint8_t big[AU_MSG_MAX + 1];
	ck_assert_int_eq(au_send(env_of(sim, 1), 2, big, sizeof(big)), -AU_EMSGSIZE);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(loss_duplication_corruption_rates)
{
	struct au_scenario *sc = probe_scenario(
		2, "[network]\nlatency = uniform(1ms,3ms)\nloss = 0.3\nduplicate = 0.1\n"
		   "[fault.c]\nat = 0s\naction = corrupt\nlink = n1-n2\nrate = 0.2\n");
	struct au_sim *sim = au_sim_new(sc, 5);
	au_sim_run(sim, 0);
	uint8_t msg[40];
	for (int i = 0; i < 40; i++)
		msg[i] = (uint8_t)i;
	const int n = 20000;
	for (int i = 0; i < n; i++)
		au_send(env_of(sim, 1), 2, msg, sizeof(msg));
	au_sim_run(sim, AU_NS_PER_S);
	const struct au_sim_stats *st = au_sim_stats(sim);
	double lost = (double)st->fates[AU_FATE_DROPPED] / n;
	ck_assert_msg(lost > 0.28 && lost < 0.32, "loss %.3f", lost);
	double dups = (double)st->fates[AU_FATE_DUPLICATED] / n;
	ck_assert_msg(dups > 0.05 && dups < 0.09, "dup %.3f", dups);
	/* Every corrupted copy differs from the original in exactly one bit. */
	guint corrupted = 0;
	for (guint i = 0; i < probe_log->len; i++) {
		struct log_entry *e = &g_array_index(probe_log, struct log_entry, i);
		if (e->what != LOG_RECV)
			continue;
		int bits = 0;
		for (int b = 0; b < 40; b++)
			bits += __builtin_popcount(e->bytes[b] ^ msg[b]);
		ck_assert_int_le(bits, 1);
		corrupted += bits == 1;
	}
	ck_assert_uint_eq(corrupted, st->fates[AU_FATE_CORRUPTED]);
	double cr = (double)corrupted / (double)count(LOG_RECV, 2);
	ck_assert_msg(cr > 0.18 && cr < 0.22, "corruption %.3f", cr);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(partitions_symmetric_and_oneway)
{
	struct au_scenario *sc = probe_scenario(
		4, "[network]\nlatency = const(1ms)\n"
		   "[fault.p]\nat = 1s\naction = partition\ngroups = n1,n2 | rest\nuntil = 2s\n"
		   "[fault.o]\nat = 3s\naction = partition\ngroups = n1 | n2\noneway = true\nuntil = 4s\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	uint8_t m[1] = {1};
	au_time at[] = {500, 1500, 3500, 4500}; /* ms */
	for (int phase = 0; phase < 4; phase++) {
		au_sim_run(sim, at[phase] * AU_NS_PER_MS);
		g_array_set_size(probe_log, 0);
		au_send(env_of(sim, 1), 2, m, 1); /* same side */
		au_send(env_of(sim, 1), 3, m, 1); /* across the symmetric cut */
		au_send(env_of(sim, 3), 1, m, 1);
		au_send(env_of(sim, 2), 1, m, 1); /* against the one-way cut */
		au_send(env_of(sim, 1), 2, m, 1); /* along it... cut */
		au_sim_run(sim, (at[phase] + 10) * AU_NS_PER_MS);
		guint to1 = count(LOG_RECV, 1), to2 = count(LOG_RECV, 2), to3 = count(LOG_RECV, 3);
		switch (phase) {
		case 0: /* no partition */
		case 3:
			ck_assert(to1 == 2 && to2 == 2 && to3 == 1);
			break;
		case 1: /* n1,n2 | n3,n4 */
			ck_assert(to1 == 1 && to2 == 2 && to3 == 0);
			break;
		case 2: /* n1 -> n2 cut, n2 -> n1 open */
			ck_assert_msg(to1 == 2 && to2 == 0 && to3 == 1, "%u %u %u", to1, to2, to3);
			break;
		}
	}
	ck_assert_uint_gt(au_sim_stats(sim)->fates[AU_FATE_PARTITIONED], 0);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(bandwidth_serialises_fifo)
{
	/* 1000-byte messages at 8 Mbit/s take 1 ms each on the wire. */
	struct au_scenario *sc =
		probe_scenario(2, "[network]\nlatency = const(2ms)\nbandwidth = 8Mbit\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	static uint8_t m[1000];
	for (int i = 0; i < 5; i++)
		au_send(env_of(sim, 1), 2, m, sizeof(m));
	au_sim_run(sim, AU_NS_PER_S);
	ck_assert_uint_eq(count(LOG_RECV, 2), 5);
	for (guint k = 0; k < 5; k++)
		ck_assert_int_eq(nth(LOG_RECV, k)->local_ns, (au_time)(k + 1 + 2) * AU_NS_PER_MS);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(clog_holds_until_it_ends)
{
	struct au_scenario *sc = probe_scenario(
		3, "[network]\nlatency = const(1ms)\n"
		   "[fault.c]\nat = 1s\naction = clog\ntarget = n2\nuntil = 3s\n"
		   "[fault.d]\nat = 1s\naction = clog\nlink = n1-n3\nextra = 50ms\nuntil = 3s\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 2 * AU_NS_PER_S);
	uint8_t m[1] = {1};
	au_send(env_of(sim, 1), 2, m, 1);
	au_send(env_of(sim, 1), 3, m, 1);
	au_sim_run(sim, 2 * AU_NS_PER_S + 100 * AU_NS_PER_MS);
	ck_assert_uint_eq(count(LOG_RECV, 2), 0);
	ck_assert_uint_eq(count(LOG_RECV, 3), 1);
	ck_assert_int_eq(nth(LOG_RECV, 0)->local_ns, 2 * AU_NS_PER_S + 51 * AU_NS_PER_MS);
	au_sim_run(sim, 4 * AU_NS_PER_S);
	ck_assert_uint_eq(count(LOG_RECV, 2), 1);
	ck_assert_int_eq(nth(LOG_RECV, 1)->local_ns, 3 * AU_NS_PER_S);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* ---- node lifecycle ---------------------------------------------------------- */

START_TEST(crash_drops_timers_and_restart_reboots)
{
	struct au_scenario *sc = probe_scenario(
		2, "[fault.c]\nat = 1s\naction = crash\ntarget = n1\nrestart_after = 1s\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	au_timer_set(env_of(sim, 1), 1500 * AU_NS_PER_MS, 1, 77); /* dies with the crash */
	au_timer_set(env_of(sim, 2), 1500 * AU_NS_PER_MS, 1, 78);
	au_sim_run(sim, 1500 * AU_NS_PER_MS);
	ck_assert(!au_sim_node_up(sim, 1));
	/* messages to a crashed node are dropped as dst_down */
	uint8_t m[1] = {1};
	au_send(env_of(sim, 2), 1, m, 1);
	au_sim_run(sim, 3 * AU_NS_PER_S);
	ck_assert(au_sim_node_up(sim, 1));
	ck_assert_uint_eq(count(LOG_TIMER, 1), 0);
	ck_assert_uint_eq(count(LOG_TIMER, 2), 1);
	ck_assert_uint_eq(count(LOG_BOOT, 1), 2);
	ck_assert_uint_eq(au_sim_stats(sim)->fates[AU_FATE_DST_DOWN], 1);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(pause_delays_timers_and_deliveries)
{
	struct au_scenario *sc = probe_scenario(
		2, "[network]\nlatency = const(1ms)\n"
		   "[fault.p]\nat = 1s\naction = pause\ntarget = n1\nuntil = 2s\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	au_timer_set(env_of(sim, 1), 1200 * AU_NS_PER_MS, 1, 5);
	au_sim_run(sim, 1100 * AU_NS_PER_MS);
	uint8_t m[1] = {1};
	au_send(env_of(sim, 2), 1, m, 1);
	au_sim_run(sim, 1900 * AU_NS_PER_MS);
	ck_assert_uint_eq(count(LOG_TIMER, 1) + count(LOG_RECV, 1), 0);
	au_sim_run(sim, 3 * AU_NS_PER_S);
	ck_assert_uint_eq(count(LOG_RECV, 1), 1);
	ck_assert_uint_eq(count(LOG_TIMER, 1), 1);
	/* both ran at the resume instant, in their original order */
	ck_assert_int_eq(nth(LOG_TIMER, 0)->local_ns, 2 * AU_NS_PER_S);
	ck_assert_int_eq(nth(LOG_RECV, 0)->local_ns, 2 * AU_NS_PER_S);
	/* 2 boots, then the message (due 1.101 s) before the timer (due 1.2 s) */
	ck_assert_int_eq(probe_log->len, 4);
	ck_assert_int_eq(g_array_index(probe_log, struct log_entry, 2).what, LOG_RECV);
	ck_assert_int_eq(g_array_index(probe_log, struct log_entry, 3).what, LOG_TIMER);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(skew_jumps_and_drift_scales)
{
	struct au_scenario *sc = probe_scenario(
		2, "[fault.s]\nat = 1s\naction = skew\ntarget = n2\nskew = -200ms\ndrift = 1000ppm\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 2 * AU_NS_PER_S);
	/* 1 s plain, then -200 ms jump, then 1 s at +1000 ppm = +1 ms */
	ck_assert_int_eq(au_now(env_of(sim, 2)), 2 * AU_NS_PER_S - 200 * AU_NS_PER_MS + AU_NS_PER_MS);
	ck_assert_int_eq(au_now(env_of(sim, 1)), 2 * AU_NS_PER_S);
	/* a 1001 ms local timer on the fast clock takes 1000 ms of real time */
	au_timer_set(env_of(sim, 2), 1001 * AU_NS_PER_MS, 1, 1);
	au_sim_run(sim, 3 * AU_NS_PER_S - 1);
	ck_assert_uint_eq(count(LOG_TIMER, 2), 0);
	au_sim_run(sim, 3 * AU_NS_PER_S);
	ck_assert_uint_eq(count(LOG_TIMER, 2), 1);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* A timer fires when the node's own clock reaches its deadline, also when
 * the clock's rate changes while it is pending (env.h).  The engine turns a
 * local delay into global time at the rate in force, so a drift change must
 * re-time pending timers: before, a timer armed on a 3x slow clock still ran
 * three times its length after the drift had ended (chaos-rqml seed 1154: a
 * 4 s SWIM suspicion expired 12 s later).  A re-timed timer keeps the
 * handle its model holds: cancelling it still works. */
START_TEST(drift_change_retimes_pending_timers)
{
	struct au_scenario *sc = probe_scenario(
		2, "[fault.s]\nat = 1s\naction = skew\ntarget = n2\ndrift = -666667ppm\nuntil = 2s\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	const struct au_env *e = env_of(sim, 2);
	au_sim_run(sim, 0);
	/* armed at local 0 on a plain clock, due at local 1.5 s */
	au_timer_set(e, 1500 * AU_NS_PER_MS, 1, 1);
	au_sim_run(sim, 1500 * AU_NS_PER_MS);
	/* armed at 1.5 s on the slow clock (local 1 s + 0.5 s / 3) */
	au_time armed = au_now(e);
	ck_assert_int_le(llabs(armed - (AU_NS_PER_S + 500 * AU_NS_PER_MS / 3)), 1000);
	au_timer_set(e, 4 * AU_NS_PER_S, 1, 2);
	uint64_t doomed = au_timer_set(e, 3 * AU_NS_PER_S, 1, 3);
	au_sim_run(sim, 3 * AU_NS_PER_S);
	au_timer_cancel(e, doomed); /* re-timed at 2 s: the old handle still cancels it */
	au_sim_run(sim, 30 * AU_NS_PER_S);
	ck_assert_uint_eq(count(LOG_TIMER, 2), 2);
	struct log_entry *a = nth(LOG_TIMER, 0), *b = nth(LOG_TIMER, 1);
	ck_assert_uint_eq(a->arg, 1);
	ck_assert_uint_eq(b->arg, 2);
	/* each fires at its deadline on the node's clock (to a few ns of
	 * rounding), not at the global time its delay meant when armed: the
	 * first at 2 s + 1/6 s (1.5 s + 1/6 s at 1 s before the drift change
	 * at 2 s), the second at 5.83 s (12 s later without re-timing) */
	ck_assert_int_le(llabs(a->local_ns - 1500 * AU_NS_PER_MS), 2);
	ck_assert_int_le(llabs(b->local_ns - (armed + 4 * AU_NS_PER_S)), 2);
	ck_assert_int_lt(b->local_ns, 6 * AU_NS_PER_S);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* ---- disk ------------------------------------------------------------------ */

START_TEST(sync_makes_durable_after_latency)
{
	struct au_scenario *sc = probe_scenario(1, "[disk]\nsync_latency = const(3ms)\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	const struct au_env *e = env_of(sim, 1);
	ck_assert_int_eq(e->ops->storage_size(e->ctx, "f"), -AU_ENOENT);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 0, "hello", 5), 0);
	char buf[8] = {0};
	ck_assert_int_eq(e->ops->storage_read(e->ctx, "f", 0, buf, 8), 5); /* reads see it */
	ck_assert_int_eq(au_sim_durable_read(sim, 1, "probe/f", 0, buf, 8), -AU_ENOENT);
	e->ops->storage_sync(e->ctx, "f", 99);
	au_sim_run(sim, 2 * AU_NS_PER_MS);
	ck_assert_uint_eq(count(LOG_PERSISTED, 1), 0);
	au_sim_run(sim, 3 * AU_NS_PER_MS);
	ck_assert_uint_eq(count(LOG_PERSISTED, 1), 1);
	ck_assert_uint_eq(nth(LOG_PERSISTED, 0)->arg, 99);
	ck_assert_int_eq(au_sim_durable_read(sim, 1, "probe/f", 0, buf, 8), 5);
	ck_assert(memcmp(buf, "hello", 5) == 0);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "../x", 0, "a", 1), -AU_EINVAL);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(crash_keeps_synced_and_tears_unsynced)
{
	/* Over many crashes, synced bytes always survive and each unsynced
	 * write survives whole, torn at a sector boundary, or not at all —
	 * and all three happen. */
	int whole = 0, torn = 0, none = 0;
	for (uint64_t seed = 1; seed <= 60; seed++) {
		struct au_scenario *sc = probe_scenario(
			1, "[disk]\nsync_latency = const(1ms)\n"
			   "[fault.c]\nat = 1s\naction = crash\ntarget = n1\nrestart_after = 1s\n");
		struct au_sim *sim = au_sim_new(sc, seed);
		au_sim_run(sim, 0);
		const struct au_env *e = env_of(sim, 1);
		static uint8_t a[2048], b[2048];
		memset(a, 'A', sizeof(a));
		memset(b, 'B', sizeof(b));
		e->ops->storage_write(e->ctx, "f", 0, a, sizeof(a));
		e->ops->storage_sync(e->ctx, "f", 1);
		au_sim_run(sim, 500 * AU_NS_PER_MS);
		e->ops->storage_write(e->ctx, "f", 100, b, 1500); /* never synced */
		au_sim_run(sim, 3 * AU_NS_PER_S);
		uint8_t got[2048];
		e = env_of(sim, 1);
		ck_assert_int_eq(e->ops->storage_read(e->ctx, "f", 0, got, sizeof(got)), 2048);
		int bs = 0;
		for (int i = 0; i < 2048; i++) {
			if (i < 100 || i >= 1600)
				ck_assert_msg(got[i] == 'A', "seed %llu: synced byte %d lost",
					      (unsigned long long)seed, i);
			bs += got[i] == 'B';
		}
		if (bs == 1500)
			whole++;
		else if (bs == 0)
			none++;
		else {
			torn++;
			/* the surviving prefix ends on a sector boundary */
			ck_assert_msg((100 + bs) % 512 == 0, "torn at %d", 100 + bs);
			for (int i = 100; i < 100 + bs; i++)
				ck_assert(got[i] == 'B');
		}
		au_sim_free(sim);
		au_scenario_free(sc);
	}
	ck_assert_msg(whole && torn && none, "whole %d torn %d none %d", whole, torn, none);
}
END_TEST

/* The chunked disk (chunks shared copy-on-write between a file's images)
 * against a plain byte array: random writes and truncates across chunk
 * boundaries, syncs (each must make exactly the bytes as of its issue
 * durable) and a crash after the last sync (nothing may change). */
START_TEST(disk_chunks_match_a_flat_file)
{
	struct au_scenario *sc = probe_scenario(
		1, "[disk]\nsync_latency = const(1ms)\n"
		   "[fault.c]\nat = 50s\naction = crash\ntarget = n1\nrestart_after = 1s\n");
	struct au_sim *sim = au_sim_new(sc, 5);
	au_sim_run(sim, 0);
	const struct au_env *e = env_of(sim, 1);
	enum { MAX = 40000 };
	static uint8_t ref[MAX], synced[MAX], got[MAX], buf[MAX];
	size_t ref_len = 0, synced_len = 0;
	struct au_pcg32 r;
	au_pcg32_stream(&r, 9, 1, 1);
	au_time t = 0;
	for (int step = 0; step < 3000; step++) {
		uint32_t what = au_pcg32_below(&r, 10);
		if (what < 6) { /* write: appends mostly, overwrites, holes */
			uint32_t len = 1 + au_pcg32_below(&r, what == 0 ? 9000 : 300);
			uint32_t off = what < 4 ? (uint32_t)ref_len : au_pcg32_below(&r, MAX / 2);
			if (off + len > MAX)
				continue;
			for (uint32_t i = 0; i < len; i++)
				buf[i] = (uint8_t)au_pcg32_next(&r);
			ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", off, buf, len), 0);
			if (off > ref_len)
				memset(ref + ref_len, 0, off - ref_len);
			memcpy(ref + off, buf, len);
			if (off + len > ref_len)
				ref_len = off + len;
		} else if (what == 6) { /* truncate: shrink or grow */
			uint32_t len = au_pcg32_below(&r, MAX / 2);
			ck_assert_int_eq(e->ops->storage_truncate(e->ctx, "f", len), 0);
			if (len > ref_len)
				memset(ref + ref_len, 0, len - ref_len);
			ref_len = len;
		} else { /* sync, run it to completion, check what is durable */
			e->ops->storage_sync(e->ctx, "f", (uint64_t)step);
			memcpy(synced, ref, ref_len);
			synced_len = ref_len;
			t += 2 * AU_NS_PER_MS;
			au_sim_run(sim, t);
			int64_t n = au_sim_durable_read(sim, 1, "probe/f", 0, got, MAX);
			if (n == -AU_ENOENT && synced_len == 0)
				n = 0; /* synced before the file was first written */
			ck_assert_int_eq(n, (int64_t)synced_len);
			ck_assert_msg(memcmp(got, synced, synced_len) == 0, "step %d: durable differs",
				      step);
		}
		int64_t n = e->ops->storage_read(e->ctx, "f", 0, got, MAX);
		if (n == -AU_ENOENT && ref_len == 0)
			n = 0; /* not written yet */
		ck_assert_int_eq(n, (int64_t)ref_len);
		ck_assert_msg(memcmp(got, ref, ref_len) == 0, "step %d: current differs", step);
	}
	e->ops->storage_sync(e->ctx, "f", 1);
	au_sim_run(sim, 60 * AU_NS_PER_S); /* the crash at 50 s, back at 51 s */
	e = env_of(sim, 1);
	ck_assert_int_eq(e->ops->storage_read(e->ctx, "f", 0, got, MAX), (int64_t)ref_len);
	ck_assert(memcmp(got, ref, ref_len) == 0);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

START_TEST(disk_faults)
{
	struct au_scenario *sc = probe_scenario(
		1, "[disk]\nsync_latency = const(1ms)\n"
		   "[fault.r]\nat = 1s\naction = disk_fault\ntarget = n1\nkind = read_error\nuntil = 2s\n"
		   "[fault.s]\nat = 3s\naction = disk_fault\ntarget = n1\nkind = slow_sync\nextra = 40ms\nuntil = 4s\n"
		   "[fault.c]\nat = 5s\naction = disk_fault\ntarget = n1\nkind = corrupt\n");
	struct au_sim *sim = au_sim_new(sc, 3);
	au_sim_run(sim, 0);
	const struct au_env *e = env_of(sim, 1);
	static uint8_t z[1024];
	e->ops->storage_write(e->ctx, "f", 0, z, sizeof(z));
	e->ops->storage_sync(e->ctx, "f", 1);
	au_sim_run(sim, 1500 * AU_NS_PER_MS);
	uint8_t buf[1024];
	ck_assert_int_eq(e->ops->storage_read(e->ctx, "f", 0, buf, 4), -AU_EIO);
	au_sim_run(sim, 3500 * AU_NS_PER_MS);
	ck_assert_int_eq(e->ops->storage_read(e->ctx, "f", 0, buf, 4), 4);
	e->ops->storage_sync(e->ctx, "f", 2);
	au_sim_run(sim, 3540 * AU_NS_PER_MS);
	ck_assert_uint_eq(count(LOG_PERSISTED, 1), 1);
	au_sim_run(sim, 3541 * AU_NS_PER_MS);
	ck_assert_uint_eq(count(LOG_PERSISTED, 1), 2);
	au_sim_run(sim, 6 * AU_NS_PER_S);
	ck_assert_int_eq(e->ops->storage_read(e->ctx, "f", 0, buf, sizeof(buf)), 1024);
	int bits = 0;
	for (int i = 0; i < 1024; i++)
		bits += __builtin_popcount(buf[i]);
	ck_assert_int_eq(bits, 1); /* one flipped bit in one sector */
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* A disk that fills up: growing writes fail with -AU_ENOSPC after writing
 * the prefix that fits, overwrites and truncates cost nothing, and freed
 * room can be taken again. */
START_TEST(disk_capacity_and_full)
{
	struct au_scenario *sc = probe_scenario(
		1, "[disk]\nsync_latency = const(1ms)\ncapacity = 4KiB\n"
		   "[fault.full]\nat = 1s\naction = disk_fault\ntarget = n1\nkind = disk_full\nuntil = 2s\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	const struct au_env *e = env_of(sim, 1);
	static uint8_t a[5000];
	memset(a, 'a', sizeof(a));
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 0, a, 3000), 0);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 3000, a, 2000), -AU_ENOSPC);
	ck_assert_int_eq(e->ops->storage_size(e->ctx, "f"), 4096); /* the prefix that fit */
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "g", 0, a, 1), -AU_ENOSPC);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 0, "b", 1), 0); /* overwrite: free */
	ck_assert_int_eq(e->ops->storage_truncate(e->ctx, "f", 1000), 0);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "g", 0, a, 3000), 0); /* room given back */
	ck_assert_int_eq(e->ops->storage_truncate(e->ctx, "g", 100), 0);
	/* disk_full: no room beyond what the files hold when it begins */
	au_sim_run(sim, 1500 * AU_NS_PER_MS);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 1000, a, 10), -AU_ENOSPC);
	ck_assert_int_eq(e->ops->storage_size(e->ctx, "f"), 1000);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 10, a, 10), 0);
	ck_assert_int_eq(e->ops->storage_truncate(e->ctx, "g", 0), 0);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 1000, a, 100), 0); /* what g freed */
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 1100, a, 1), -AU_ENOSPC);
	au_sim_run(sim, 2500 * AU_NS_PER_MS);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 1100, a, 2000), 0);
	ck_assert_uint_eq(au_sim_stats(sim)->storage_errors[AU_STORAGE_WRITE], 4);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* write_error fails writes and truncates without touching the file. */
START_TEST(disk_write_error)
{
	struct au_scenario *sc = probe_scenario(
		1, "[disk]\nsync_latency = const(1ms)\n"
		   "[fault.w]\nat = 1s\naction = disk_fault\ntarget = n1\nkind = write_error\nuntil = 2s\n");
	struct au_sim *sim = au_sim_new(sc, 1);
	au_sim_run(sim, 0);
	const struct au_env *e = env_of(sim, 1);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 0, "hello", 5), 0);
	au_sim_run(sim, 1500 * AU_NS_PER_MS);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 0, "HELLO", 5), -AU_EIO);
	ck_assert_int_eq(e->ops->storage_truncate(e->ctx, "f", 0), -AU_EIO);
	char buf[8] = {0};
	ck_assert_int_eq(e->ops->storage_read(e->ctx, "f", 0, buf, 8), 5);
	ck_assert(memcmp(buf, "hello", 5) == 0);
	au_sim_run(sim, 2 * AU_NS_PER_S);
	ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 0, "HELLO", 5), 0);
	ck_assert_uint_eq(au_sim_stats(sim)->storage_errors[AU_STORAGE_WRITE], 1);
	ck_assert_uint_eq(au_sim_stats(sim)->storage_errors[AU_STORAGE_TRUNCATE], 1);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* A failed sync is Linux's: persisted() gets -AU_EIO, and what it covered
 * may be lost at a crash even after a later sync succeeded ("fsyncgate")
 * — over many seeds it is sometimes kept and sometimes lost — while reads
 * see it until the crash.  Writes issued after the failure are durable
 * once their own sync succeeds. */
START_TEST(disk_sync_error_is_fsyncgate)
{
	int kept = 0, lost = 0;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		struct au_scenario *sc = probe_scenario(
			1, "[disk]\nsync_latency = const(1ms)\n"
			   "[fault.s]\nat = 1s\naction = disk_fault\ntarget = n1\nkind = sync_error\nuntil = 2s\n"
			   "[fault.c]\nat = 3s\naction = crash\ntarget = n1\nrestart_after = 1s\n");
		struct au_sim *sim = au_sim_new(sc, seed);
		au_sim_run(sim, 1500 * AU_NS_PER_MS);
		const struct au_env *e = env_of(sim, 1);
		ck_assert_int_eq(e->ops->storage_write(e->ctx, "f", 0, "AAAA", 4), 0);
		e->ops->storage_sync(e->ctx, "f", 7);
		au_sim_run(sim, 2500 * AU_NS_PER_MS);
		ck_assert_uint_eq(count(LOG_PERSISTED, 1), 1);
		ck_assert_int_eq(nth(LOG_PERSISTED, 0)->status, -AU_EIO);
		char buf[8] = {0};
		ck_assert_int_eq(e->ops->storage_read(e->ctx, "f", 0, buf, 8), 4); /* still read */
		ck_assert_int_eq(e->ops->storage_write(e->ctx, "g", 0, "BBBB", 4), 0);
		e->ops->storage_sync(e->ctx, "f", 8); /* succeeds, but does not cover AAAA */
		e->ops->storage_sync(e->ctx, "g", 9);
		au_sim_run(sim, 2600 * AU_NS_PER_MS);
		ck_assert_uint_eq(count(LOG_PERSISTED, 1), 3);
		ck_assert_int_eq(nth(LOG_PERSISTED, 1)->status, 0);
		au_sim_run(sim, 5 * AU_NS_PER_S);
		e = env_of(sim, 1);
		memset(buf, 0, sizeof(buf));
		int64_t n = e->ops->storage_read(e->ctx, "f", 0, buf, 8);
		if (n == 4 && memcmp(buf, "AAAA", 4) == 0)
			kept++;
		else
			lost++;
		ck_assert_int_eq(e->ops->storage_read(e->ctx, "g", 0, buf, 8), 4);
		ck_assert(memcmp(buf, "BBBB", 4) == 0);
		ck_assert_uint_eq(au_sim_stats(sim)->storage_errors[AU_STORAGE_SYNC], 1);
		au_sim_free(sim);
		au_scenario_free(sc);
	}
	ck_assert_msg(kept && lost, "kept %d lost %d", kept, lost);
}
END_TEST

/* ---- checker --------------------------------------------------------------- */

START_TEST(ping_integrity_catches_forged_pong)
{
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(
		"t.ini", "[run]\nduration=10s\n[cluster]\nnodes=3\nservices=ping\n", &err);
	ck_assert(sc);
	struct au_sim *sim = au_sim_new(sc, 1);
	ck_assert_int_eq(au_sim_run(sim, 5 * AU_NS_PER_S), 0);
	/* a pong for a ping never sent, as a buggy model would accept it */
	au_trace(au_sim_env(sim, 2, 0), AU_TR_PING_RTT, 3, 0x7777, 1000);
	const struct au_violation *v = au_sim_violation(sim);
	ck_assert(v);
	ck_assert_str_eq(v->check, "ping_integrity");
	ck_assert_uint_eq(v->node, 2);
	ck_assert_int_eq(au_sim_run(sim, 10 * AU_NS_PER_S), 1);
	au_sim_free(sim);
	au_scenario_free(sc);
}
END_TEST

/* au_dist_sample's inline paths (constant, uniform) draw what
 * au_dist_draw draws from the same stream, word for word: the same value
 * and the stream left in the same state, for every kind and for spans
 * from 0 to past 32 bits. */
static uint32_t test_pcg_word(void *ctx)
{
	return au_pcg32_next(ctx);
}

START_TEST(dist_sample_equals_draw)
{
	struct au_pcg32 params;
	au_pcg32_seed(&params, 99, 7);
	for (int i = 0; i < 20000; i++) {
		struct au_dist d = {0};
		d.kind = (enum au_dist_kind)(i % 5);
		int64_t a = au_pcg32_next(&params) % 5000000;
		int64_t spans[] = {0, 1, 2, 2000000, INT64_C(1) << 33, au_pcg32_next(&params)};
		d.p1 = a;
		d.p2 = a + spans[i % 6];
		d.shift = i % 3 ? 0 : 1000;
		d.mu = 10.0;
		d.sigma = 0.5;
		struct au_pcg32 x, y;
		au_pcg32_seed(&x, (uint64_t)i, 3);
		y = x;
		au_time want = au_dist_draw(&d, test_pcg_word, &x);
		au_time got = au_dist_sample(&d, &y);
		ck_assert_msg(want == got, "kind %d p1 %lld p2 %lld: %lld vs %lld", (int)d.kind,
			      (long long)d.p1, (long long)d.p2, (long long)want, (long long)got);
		ck_assert_uint_eq(au_pcg32_next(&x), au_pcg32_next(&y));
	}
}
END_TEST

Suite *sim_suite(void)
{
	Suite *s = suite_create("sim");
	TCase *det = tcase_create("determinism");
	tcase_add_test(det, ping_same_seed_same_hash);
	tcase_add_test(det, record_bytes_are_the_documented_layout);
	tcase_add_test(det, sliced_run_equals_whole_run);
	tcase_add_test(det, drift_retiming_same_hash);
	tcase_add_test(det, streams_survive_cluster_growth);
	tcase_add_test(det, dist_sample_equals_draw);
	suite_add_tcase(s, det);
	TCase *net = tcase_create("network");
	tcase_add_test(net, const_latency_exact);
	tcase_add_test(net, loss_duplication_corruption_rates);
	tcase_add_test(net, partitions_symmetric_and_oneway);
	tcase_add_test(net, bandwidth_serialises_fifo);
	tcase_add_test(net, clog_holds_until_it_ends);
	suite_add_tcase(s, net);
	TCase *life = tcase_create("lifecycle");
	tcase_add_test(life, crash_drops_timers_and_restart_reboots);
	tcase_add_test(life, pause_delays_timers_and_deliveries);
	tcase_add_test(life, skew_jumps_and_drift_scales);
	tcase_add_test(life, drift_change_retimes_pending_timers);
	suite_add_tcase(s, life);
	TCase *disk = tcase_create("disk");
	tcase_add_test(disk, sync_makes_durable_after_latency);
	tcase_add_test(disk, crash_keeps_synced_and_tears_unsynced);
	tcase_add_test(disk, disk_chunks_match_a_flat_file);
	tcase_add_test(disk, disk_faults);
	tcase_add_test(disk, disk_capacity_and_full);
	tcase_add_test(disk, disk_write_error);
	tcase_add_test(disk, disk_sync_error_is_fsyncgate);
	suite_add_tcase(s, disk);
	TCase *chk = tcase_create("checks");
	tcase_add_test(chk, ping_integrity_catches_forged_pong);
	suite_add_tcase(s, chk);
	return s;
}
