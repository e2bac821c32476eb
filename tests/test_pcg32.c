/* test_pcg32.c — PCG32 against the published reference outputs, bounded
 * draws, and stream independence. */
#include "pcg32.h"
#include "tests.h"

START_TEST(reference_outputs)
{
	/* pcg32-demo: seed 42, stream 54. */
	static const uint32_t want[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
					 0x83d2f293, 0xbfa4784b, 0xcbed606e};
	struct au_pcg32 r;
	au_pcg32_seed(&r, 42, 54);
	for (int i = 0; i < 6; i++)
		ck_assert_msg(au_pcg32_next(&r) == want[i], "output %d differs", i);
}
END_TEST

START_TEST(bounded_is_in_range_and_covers)
{
	struct au_pcg32 r;
	au_pcg32_seed(&r, (uint64_t)_i, 7);
	uint32_t bound = 1 + (uint32_t)_i * 7;
	uint32_t seen_max = 0;
	for (int i = 0; i < 20000; i++) {
		uint32_t v = au_pcg32_below(&r, bound);
		ck_assert_msg(v < bound, "seed %d: %u >= bound %u", _i, v, bound);
		if (v > seen_max)
			seen_max = v;
	}
	ck_assert_msg(seen_max == bound - 1, "seed %d: never drew bound-1", _i);
}
END_TEST

START_TEST(bounded_is_unbiased)
{
	/* bound = 3 * 2^30: plain modulo would make 0..2^30-1 twice as likely. */
	struct au_pcg32 r;
	au_pcg32_seed(&r, 1, 2);
	uint32_t bound = 3u << 30, low = 0, n = 300000;
	for (uint32_t i = 0; i < n; i++)
		low += au_pcg32_below(&r, bound) < (1u << 30);
	double frac = (double)low / n;
	ck_assert_msg(frac > 0.325 && frac < 0.342, "low third drawn %.4f of the time", frac);
}
END_TEST

START_TEST(unit_in_range)
{
	struct au_pcg32 r;
	au_pcg32_seed(&r, 3, 4);
	double sum = 0;
	for (int i = 0; i < 100000; i++) {
		double u = au_pcg32_unit(&r);
		ck_assert(u >= 0.0 && u < 1.0);
		sum += u;
	}
	ck_assert(sum / 100000 > 0.49 && sum / 100000 < 0.51);
}
END_TEST

START_TEST(streams_depend_only_on_seed_component_node)
{
	/* The same (seed, component, node) gives the same sequence however
	 * many other streams were derived before; different ones differ. */
	struct au_pcg32 a, b, other;
	au_pcg32_stream(&a, 99, AU_STREAM_NET, 3);
	for (uint32_t n = 1; n <= 50; n++)
		au_pcg32_stream(&other, 99, AU_STREAM_SERVICE, n);
	au_pcg32_stream(&b, 99, AU_STREAM_NET, 3);
	for (int i = 0; i < 100; i++)
		ck_assert(au_pcg32_next(&a) == au_pcg32_next(&b));
	struct au_pcg32 s[4];
	au_pcg32_stream(&s[0], 99, AU_STREAM_NET, 3);
	au_pcg32_stream(&s[1], 99, AU_STREAM_NET, 4);
	au_pcg32_stream(&s[2], 99, AU_STREAM_DISK, 3);
	au_pcg32_stream(&s[3], 100, AU_STREAM_NET, 3);
	uint32_t first[4];
	for (int i = 0; i < 4; i++)
		first[i] = au_pcg32_next(&s[i]);
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			ck_assert_msg(first[i] != first[j], "streams %d and %d collide", i, j);
}
END_TEST

Suite *pcg32_suite(void)
{
	Suite *s = suite_create("pcg32");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, reference_outputs);
	tcase_add_loop_test(tc, bounded_is_in_range_and_covers, 1, 40);
	tcase_add_test(tc, bounded_is_unbiased);
	tcase_add_test(tc, unit_in_range);
	tcase_add_test(tc, streams_depend_only_on_seed_component_node);
	suite_add_tcase(s, tc);
	return s;
}
