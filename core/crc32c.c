/* crc32c.c — CRC-32C (Castagnoli) and sealing with it (au_wbuf_seal,
 * au_rbuf_unseal), declared in wire.h: by table anywhere, by the SSE4.2
 * crc32 instruction where the CPU has it.
 *
 * The instruction has a latency of 3 cycles and a throughput of 1, so one
 * stream of it runs at a third of its speed.  Long buffers are therefore
 * cut into three consecutive blocks whose CRCs are computed side by side
 * and then combined: the raw (uninverted) CRC is linear, so
 *   crc(c, A B) = shift_|B|(crc(c, A)) ^ crc(0, B)
 * where shift_n(c) = crc(c, n zero bytes), a linear map of c applied by
 * four table lookups (tables built once from the polynomial by the zlib
 * crc32_combine matrix method).  The result is bit-identical to the table
 * path (test_wire checks it on random buffers).
 */
#include "wire.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82F63B78u /* reflected Castagnoli polynomial */

/* Block sizes of the interleaved path: rounds of 3 * LONG bytes, then of
 * 3 * SHORT; the rest in one stream. */
#define CRC_LONG 2048u
#define CRC_SHORT 64u

static uint32_t crc_table[256];
static uint32_t shift_long[4][256], shift_short[4][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* mat is a 32x32 GF(2) matrix, column n the image of bit n. */
static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;
	for (int n = 0; vec; n++, vec >>= 1)
		if (vec & 1u)
			sum ^= mat[n];
	return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat)
{
	for (int n = 0; n < 32; n++)
		square[n] = gf2_times(mat, mat[n]);
}

/* The tables of shift_len (len a power of two >= 1): tab[k][i] is the
 * image of i << 8k. */
static void shift_tables(uint32_t tab[4][256], size_t len)
{
	uint32_t op[32], sq[32];
	/* op: one zero bit shifted into the raw CRC */
	op[0] = POLY;
	for (int n = 1; n < 32; n++)
		op[n] = 1u << (n - 1);
	/* square three times: one zero byte; then once per doubling */
	for (size_t bits = 1; bits < 8 * len; bits *= 2) {
		gf2_square(sq, op);
		memcpy(op, sq, sizeof(op));
	}
	for (int k = 0; k < 4; k++) {
		tab[k][0] = 0;
		for (uint32_t i = 1; i < 256; i++) /* linear: the lowest bit's image plus the rest's */
			tab[k][i] = tab[k][i & (i - 1)] ^ op[8 * k + __builtin_ctz(i)];
	}
}

static void tables_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1u) ? (c >> 1) ^ POLY : c >> 1;
		crc_table[i] = c;
	}
	shift_tables(shift_long, CRC_LONG);
	shift_tables(shift_short, CRC_SHORT);
}

static uint32_t crc32c_table(uint32_t crc, const uint8_t *p, size_t n)
{
	pthread_once(&tables_once, tables_build);
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
	return crc;
}

/* noinline: au_crc32c stays a lean wrapper around the instruction path */
__attribute__((noinline)) uint32_t au_crc32c_portable(uint32_t crc, const void *buf, size_t n)
{
	return ~crc32c_table(~crc, buf, n);
}

#if defined(__x86_64__)
static inline uint32_t shift(const uint32_t tab[4][256], uint32_t c)
{
	return tab[0][c & 0xffu] ^ tab[1][(c >> 8) & 0xffu] ^ tab[2][(c >> 16) & 0xffu] ^ tab[3][c >> 24];
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* Rounds of three blocks of `blk` bytes while at least one remains. */
__attribute__((target("sse4.2"))) static inline uint32_t crc32c_hw3(uint32_t crc, const uint8_t **pp,
								    size_t *np, size_t blk,
								    const uint32_t tab[4][256])
{
	const uint8_t *p = *pp;
	size_t n = *np;
	while (n >= 3 * blk) {
		uint64_t c0 = crc, c1 = 0, c2 = 0;
		const uint8_t *end = p + blk;
		do {
			c0 = __builtin_ia32_crc32di(c0, load64(p));
			c1 = __builtin_ia32_crc32di(c1, load64(p + blk));
			c2 = __builtin_ia32_crc32di(c2, load64(p + 2 * blk));
			p += 8;
		} while (p < end);
		crc = shift(tab, (uint32_t)c0) ^ (uint32_t)c1;
		crc = shift(tab, crc) ^ (uint32_t)c2;
		p += 2 * blk;
		n -= 3 * blk;
	}
	*pp = p;
	*np = n;
	return crc;
}

/* One stream: short buffers, and the tail of long ones. */
__attribute__((target("sse4.2"))) static inline uint32_t crc32c_hw1(uint32_t crc, const uint8_t *p,
								    size_t n)
{
	uint64_t c = crc;
	while (n >= 8) {
		c = __builtin_ia32_crc32di(c, load64(p));
		p += 8;
		n -= 8;
	}
	crc = (uint32_t)c;
	while (n--)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}

/* Out of line, so that short buffers (most messages) pay nothing for it. */
__attribute__((target("sse4.2"), noinline)) static uint32_t crc32c_hw_long(uint32_t crc,
									  const uint8_t *p, size_t n)
{
	pthread_once(&tables_once, tables_build);
	crc = crc32c_hw3(crc, &p, &n, CRC_LONG, shift_long);
	crc = crc32c_hw3(crc, &p, &n, CRC_SHORT, shift_short);
	return crc32c_hw1(crc, p, n);
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
							   size_t n)
{
	if (n >= 3 * CRC_SHORT)
		return crc32c_hw_long(crc, p, n);
	return crc32c_hw1(crc, p, n);
}
#endif

/* The instruction where the CPU has it (asked once), else the table. */
static inline uint32_t crc32c_any(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
#if defined(__x86_64__)
	static int hw = -1;
	if (hw < 0)
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	if (hw)
		return ~crc32c_hw(~crc, p, n);
#endif
	return au_crc32c_portable(crc, p, n);
}

uint32_t au_crc32c(uint32_t crc, const void *buf, size_t n)
{
	return crc32c_any(crc, buf, n);
}

/* ---- sealing: a message or record followed by its CRC ------------------ */

void au_wbuf_seal(struct au_wbuf *w)
{
	if (w->overflow)
		return;
	au_put_u32(w, crc32c_any(0, w->p, w->len));
}

bool au_rbuf_unseal(struct au_rbuf *r, const void *buf, size_t len)
{
	au_rbuf_init(r, buf, 0); /* empty until the CRC checks out */
	if (len < 4)
		return false;
	const uint8_t *p = buf;
	uint32_t want = (uint32_t)p[len - 4] | (uint32_t)p[len - 3] << 8 |
			(uint32_t)p[len - 2] << 16 | (uint32_t)p[len - 1] << 24;
	if (crc32c_any(0, buf, len - 4) != want)
		return false;
	r->len = len - 4;
	return true;
}
