/* test_wire.c — little-endian codec, bounds, CRC-32C. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "tests.h"

START_TEST(roundtrip_and_layout)
{
	uint8_t buf[32];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, 0xab);
	au_put_u16(&w, 0x1234);
	au_put_u32(&w, 0xdeadbeef);
	au_put_u64(&w, UINT64_C(0x0102030405060708));
	ck_assert(!w.overflow);
	ck_assert_uint_eq(w.len, 15);
	ck_assert_uint_eq(buf[1], 0x34); /* little-endian on every host */
	ck_assert_uint_eq(buf[3], 0xef);
	ck_assert_uint_eq(buf[7], 0x08);
	struct au_rbuf r;
	au_rbuf_init(&r, buf, w.len);
	ck_assert_uint_eq(au_get_u8(&r), 0xab);
	ck_assert_uint_eq(au_get_u16(&r), 0x1234);
	ck_assert_uint_eq(au_get_u32(&r), 0xdeadbeef);
	ck_assert(au_get_u64(&r) == UINT64_C(0x0102030405060708));
	ck_assert(!r.short_read);
	(void)au_get_u8(&r);
	ck_assert(r.short_read);
}
END_TEST

/* Doubles travel as their IEEE-754 bits: -0.0, infinities and NaNs too. */
START_TEST(f64_roundtrip_keeps_bits)
{
	const double vs[] = {0.0, -0.0, 1.5, -3.25e-300, 1e308, INFINITY, -INFINITY, NAN};
	uint8_t buf[8 * 8];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	for (size_t i = 0; i < 8; i++)
		au_put_f64(&w, vs[i]);
	ck_assert(!w.overflow);
	ck_assert_uint_eq(buf[7], 0x00);
	ck_assert_uint_eq(buf[15], 0x80); /* -0.0: the sign bit, little-endian */
	struct au_rbuf r;
	au_rbuf_init(&r, buf, w.len);
	for (size_t i = 0; i < 8; i++) {
		double v = au_get_f64(&r);
		ck_assert_msg(memcmp(&v, &vs[i], sizeof(v)) == 0, "value %zu changed", i);
	}
	ck_assert(!r.short_read);
	ck_assert(au_get_f64(&r) == 0.0 && r.short_read);
}
END_TEST

START_TEST(overflow_never_writes_past_end)
{
	uint8_t buf[8] = {0};
	uint8_t guard[4] = {7, 7, 7, 7};
	struct au_wbuf w;
	au_wbuf_init(&w, buf, 6);
	au_put_u32(&w, 1);
	au_put_u32(&w, 2);
	ck_assert(w.overflow);
	ck_assert_uint_eq(w.len, 4);
	ck_assert_uint_eq(buf[6], 0);
	ck_assert_uint_eq(guard[0], 7);
}
END_TEST

START_TEST(crc32c_known_value)
{
	/* RFC 3720 B.4: CRC-32C of "123456789" is 0xE3069283. */
	ck_assert_uint_eq(au_crc32c(0, "123456789", 9), 0xE3069283u);
}
END_TEST

/* The instruction path (where the CPU has SSE4.2) and the table give the
 * same CRC on random buffers of every length and alignment, continued
 * from random starting values too. */
START_TEST(crc32c_fast_path_matches_table)
{
	uint8_t buf[300];
	uint64_t x = UINT64_C(0x9e3779b97f4a7c15);
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		size_t off = (size_t)round % 8, n = (size_t)(x % (sizeof(buf) - 8));
		uint32_t start = round % 3 ? (uint32_t)(x >> 32) : 0;
		ck_assert_uint_eq(au_crc32c(start, buf + off, n), au_crc32c_portable(start, buf + off, n));
	}
	ck_assert_uint_eq(au_crc32c_portable(0, "123456789", 9), 0xE3069283u);
}
END_TEST

/* The interleaved path (three streams over long buffers, combined by the
 * shift tables): equal to the table on random buffers of lengths around
 * and between its block sizes (3 x 64, 3 x 2048 bytes) and up to 70 KB, at
 * every alignment, from random starting values, and when a buffer is
 * checksummed in two pieces. */
START_TEST(crc32c_interleaved_matches_table)
{
	enum { MAX = 70000 };
	uint8_t *buf = malloc(MAX + 16);
	ck_assert_ptr_nonnull(buf);
	uint64_t x = UINT64_C(0x243f6a8885a308d3);
	for (size_t i = 0; i < MAX + 16; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	static const size_t edges[] = {0, 1, 7, 8, 191, 192, 193, 199, 200, 383, 384, 385, 391, 392, 767, 768, 769, 6143, 6144,
				       6145, 6151, 6527, 6528, 6529, 12288, 12289, 12672, 32768, 60013,
				       MAX};
	for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++)
		for (size_t off = 0; off < 8; off++) {
			size_t n = edges[e];
			uint32_t start = (uint32_t)(off * 0x9e3779b9u);
			ck_assert_uint_eq(au_crc32c(start, buf + off, n), au_crc32c_portable(start, buf + off, n));
		}
	for (int round = 0; round < 400; round++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t n = round < 200 ? (size_t)(x % 20000) : (size_t)(x % MAX);
		size_t off = (size_t)(x >> 40) % 16;
		uint32_t start = round % 3 ? (uint32_t)(x >> 32) : 0;
		uint32_t want = au_crc32c_portable(start, buf + off, n);
		ck_assert_uint_eq(au_crc32c(start, buf + off, n), want);
		size_t cut = n ? (size_t)(x >> 20) % n : 0;
		ck_assert_uint_eq(au_crc32c(au_crc32c(start, buf + off, cut), buf + off + cut, n - cut), want);
	}
	free(buf);
}
END_TEST

/* The inline integer codecs write the bytes a byte-by-byte little-endian
 * encoder writes, at any offset, and read back what they wrote. */
START_TEST(integers_at_every_offset)
{
	for (size_t off = 0; off < 8; off++) {
		uint8_t buf[32] = {0};
		struct au_wbuf w;
		au_wbuf_init(&w, buf, sizeof(buf));
		for (size_t i = 0; i < off; i++)
			au_put_u8(&w, 0xee);
		uint64_t v = UINT64_C(0x8877665544332211) + off;
		au_put_u64(&w, v);
		au_put_u32(&w, (uint32_t)v);
		au_put_u16(&w, (uint16_t)v);
		ck_assert_uint_eq(w.len, off + 14);
		for (size_t i = 0; i < 8; i++)
			ck_assert_uint_eq(buf[off + i], (uint8_t)(v >> (8 * i)));
		for (size_t i = 0; i < 4; i++)
			ck_assert_uint_eq(buf[off + 8 + i], (uint8_t)(v >> (8 * i)));
		ck_assert_uint_eq(buf[off + 12], 0x11 + off);
		ck_assert_uint_eq(buf[off + 13], 0x22);
		struct au_rbuf r;
		au_rbuf_init(&r, buf, w.len);
		for (size_t i = 0; i < off; i++)
			ck_assert_uint_eq(au_get_u8(&r), 0xee);
		ck_assert(au_get_u64(&r) == v);
		ck_assert_uint_eq(au_get_u32(&r), (uint32_t)v);
		ck_assert_uint_eq(au_get_u16(&r), (uint16_t)v);
		ck_assert(!r.short_read);
		ck_assert_uint_eq(au_get_u16(&r), 0);
		ck_assert(r.short_read);
	}
}
END_TEST

START_TEST(seal_detects_every_single_bit_flip)
{
	uint8_t buf[40];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u64(&w, 42);
	au_put_u32(&w, 7);
	au_wbuf_seal(&w);
	struct au_rbuf r;
	ck_assert(au_rbuf_unseal(&r, buf, w.len));
	ck_assert_uint_eq(r.len, 12);
	for (size_t bit = 0; bit < w.len * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_msg(!au_rbuf_unseal(&r, buf, w.len), "flip of bit %zu undetected", bit);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	ck_assert(!au_rbuf_unseal(&r, buf, 3));
	ck_assert(!au_rbuf_unseal(&r, buf, w.len - 1));
}
END_TEST

Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, roundtrip_and_layout);
	tcase_add_test(tc, f64_roundtrip_keeps_bits);
	tcase_add_test(tc, overflow_never_writes_past_end);
	tcase_add_test(tc, crc32c_known_value);
	tcase_add_test(tc, crc32c_fast_path_matches_table);
	tcase_add_test(tc, crc32c_interleaved_matches_table);
	tcase_add_test(tc, integers_at_every_offset);
	tcase_add_test(tc, seal_detects_every_single_bit_flip);
	suite_add_tcase(s, tc);
	return s;
}
