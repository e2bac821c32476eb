/* test_fixture.c — the fake-env fixture (fixture.h) on the ping model:
 * the reply-after-persist rule in miniature (no ping before the boot
 * counter is durable), a ping and its pong, a failed boot sync retried,
 * and a crash that loses what was not synced. */
#include <string.h>

#include "fixture.h"
#include "ping.h"
#include "trace_kinds.h"
#include "wire.h"
#include "tests.h"

/* ping's wire format and timer kinds (models/ping.c). */
enum { MSG_PING = 1, MSG_PONG = 2 };
enum { TIMER_TICK = 1, TIMER_TIMEOUT = 2, TIMER_BOOT_RETRY = 3 };

/* The sequence number of a sealed ping message. */
static uint64_t seq_of(const struct au_fx_send *s, uint8_t want_type)
{
	struct au_rbuf r;
	ck_assert(au_rbuf_unseal(&r, s->msg, s->len));
	ck_assert_uint_eq(au_get_u8(&r), want_type);
	return au_get_u64(&r);
}

static size_t pong(uint64_t seq, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, MSG_PONG);
	au_put_u64(&w, seq);
	au_wbuf_seal(&w);
	ck_assert(!w.overflow);
	return w.len;
}

START_TEST(ping_waits_for_its_boot_counter_then_pings)
{
	struct au_fixture *fx = au_fx_new(&au_ping_model, NULL, 2, 3, 7);
	au_fx_boot(fx);
	/* Booted: the counter is written and a sync asked for; nothing sent,
	 * no tick armed, however long we wait. */
	ck_assert_ptr_nonnull(au_fx_file(fx, "boot"));
	ck_assert_uint_eq(fx->syncs->len, 1);
	ck_assert(!au_fx_fire_next(fx));
	au_fx_advance(fx, 10 * AU_NS_PER_S);
	ck_assert_uint_eq(fx->sent->len, 0);
	/* Durable: the first tick comes within one interval (1 s by default). */
	ck_assert_uint_eq(au_fx_persist_all(fx, 0), 1);
	ck_assert_uint_eq(au_fx_traced(fx, AU_TR_PING_BOOT_SYNCED, NULL), 1);
	ck_assert_uint_eq(au_fx_timers(fx, TIMER_TICK), 1);
	au_time t0 = fx->now;
	ck_assert(au_fx_fire_next(fx));
	ck_assert(fx->now - t0 <= AU_NS_PER_S);
	ck_assert_uint_eq(fx->sent->len, 1);
	const struct au_fx_send *s = &g_array_index(fx->sent, struct au_fx_send, 0);
	ck_assert(s->to != 2 && s->to >= 1 && s->to <= 3);
	uint64_t seq = seq_of(s, MSG_PING);
	ck_assert_uint_eq(seq >> 32, 1); /* boot 1: the first boot's counter */
	ck_assert_uint_eq(au_fx_timers(fx, TIMER_TIMEOUT), 1);
	/* The pong 3 ms later: an RTT of 3 ms, the timeout cancelled. */
	au_node_id peer = s->to;
	au_fx_advance(fx, 3 * AU_NS_PER_MS);
	uint8_t buf[32];
	au_fx_recv(fx, peer, buf, pong(seq, buf, sizeof(buf)));
	struct au_fx_trace rtt;
	ck_assert_uint_eq(au_fx_traced(fx, AU_TR_PING_RTT, &rtt), 1);
	ck_assert_int_eq(rtt.a, peer);
	ck_assert_int_eq(rtt.c, 3 * AU_NS_PER_MS);
	ck_assert_uint_eq(au_fx_timers(fx, TIMER_TIMEOUT), 0);
	ck_assert_uint_eq(fx->rows, 1);
	/* The same pong again is a duplicate, not a second answer. */
	au_fx_recv(fx, peer, buf, pong(seq, buf, sizeof(buf)));
	ck_assert_uint_eq(au_fx_traced(fx, AU_TR_PING_RTT, NULL), 1);
	ck_assert_uint_eq(au_fx_traced(fx, AU_TR_PING_DUP_PONG, NULL), 1);
	/* A ping from a peer is answered at once with a pong of its seq. */
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, MSG_PING);
	au_put_u64(&w, 77);
	au_wbuf_seal(&w);
	au_fx_recv(fx, 3, buf, w.len);
	const struct au_fx_send *last = &g_array_index(fx->sent, struct au_fx_send, fx->sent->len - 1);
	ck_assert_uint_eq(last->to, 3);
	ck_assert_uint_eq(seq_of(last, MSG_PONG), 77);
	au_fx_free(fx);
}
END_TEST

START_TEST(ping_retries_a_failed_boot_sync_and_stays_silent)
{
	struct au_fixture *fx = au_fx_new(&au_ping_model, NULL, 1, 3, 1);
	au_fx_boot(fx);
	ck_assert_uint_eq(au_fx_persist_all(fx, -AU_EIO), 1);
	struct au_fx_trace st;
	ck_assert_uint_eq(au_fx_traced(fx, AU_TR_MODEL_STORAGE, &st), 1);
	ck_assert_int_eq(st.a, AU_STORAGE_SYNC);
	ck_assert_int_eq(st.b, AU_EIO);
	ck_assert_int_eq(st.c, AU_STORAGE_RETRY);
	ck_assert_uint_eq(au_fx_timers(fx, TIMER_BOOT_RETRY), 1);
	ck_assert_uint_eq(au_fx_timers(fx, TIMER_TICK), 0);
	/* The retry writes and syncs again; this time it holds. */
	ck_assert(au_fx_fire_next(fx));
	ck_assert_uint_eq(fx->syncs->len, 1);
	ck_assert_uint_eq(fx->sent->len, 0);
	au_fx_persist_all(fx, 0);
	ck_assert_uint_eq(au_fx_timers(fx, TIMER_TICK), 1);
	au_fx_free(fx);
}
END_TEST

START_TEST(ping_crash_before_the_sync_keeps_the_old_counter)
{
	struct au_fixture *fx = au_fx_new(&au_ping_model, NULL, 1, 2, 5);
	au_fx_boot(fx);
	au_fx_persist_all(fx, 0); /* boot 1 is durable */
	au_fx_crash(fx);
	au_fx_boot(fx); /* finds 1, writes 2: not synced */
	struct au_fx_trace boot;
	ck_assert_uint_eq(au_fx_traced(fx, AU_TR_PING_BOOT, &boot), 2);
	ck_assert_int_eq(boot.a, 1);
	au_fx_crash(fx); /* the unsynced 2 is lost */
	au_fx_boot(fx);
	ck_assert_uint_eq(au_fx_traced(fx, AU_TR_PING_BOOT, &boot), 3);
	ck_assert_int_eq(boot.a, 1);
	au_fx_free(fx);
}
END_TEST

Suite *fixture_suite(void)
{
	Suite *s = suite_create("fixture");
	TCase *tc = tcase_create("ping");
	tcase_add_test(tc, ping_waits_for_its_boot_counter_then_pings);
	tcase_add_test(tc, ping_retries_a_failed_boot_sync_and_stays_silent);
	tcase_add_test(tc, ping_crash_before_the_sync_keeps_the_old_counter);
	suite_add_tcase(s, tc);
	return s;
}
