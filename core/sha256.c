/* sha256.c — SHA-256 (FIPS 180-4) for the trace hash and the models'
 * digests (see sha256.h): a portable compression function and, on x86-64
 * CPUs with the SHA extensions, one built on SHA256RNDS2/MSG1/MSG2, picked
 * once at run time.  test_speed.c checks both against GLib's SHA-256. */
#include "sha256.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static inline uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

/* Compress `n` 64-byte blocks into h (portable). */
static void compress_c(uint32_t h[8], const uint8_t *p, size_t n)
{
	for (; n; n--, p += 64) {
		uint32_t w[64];
		for (int t = 0; t < 16; t++)
			w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
			       (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
		for (int t = 16; t < 64; t++) {
			uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
			uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);
			w[t] = w[t - 16] + s0 + w[t - 7] + s1;
		}
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6],
			 hh = h[7];
		for (int t = 0; t < 64; t++) {
			uint32_t S1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
			uint32_t ch = (e & f) ^ (~e & g);
			uint32_t t1 = hh + S1 + ch + K[t] + w[t];
			uint32_t S0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
			uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
			uint32_t t2 = S0 + maj;
			hh = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		h[0] += a;
		h[1] += b;
		h[2] += c;
		h[3] += d;
		h[4] += e;
		h[5] += f;
		h[6] += g;
		h[7] += hh;
	}
}

#if defined(__x86_64__)
/* Compress with the SHA extensions: the state as ABEF/CDGH, four rounds
 * per message vector, the schedule by MSG1/MSG2. */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_ni(uint32_t h[8],
								     const uint8_t *p, size_t n)
{
	const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i tmp = _mm_loadu_si128((const __m128i *)&h[0]);
	__m128i st1 = _mm_loadu_si128((const __m128i *)&h[4]);
	tmp = _mm_shuffle_epi32(tmp, 0xB1);       /* CDAB */
	st1 = _mm_shuffle_epi32(st1, 0x1B);       /* EFGH */
	__m128i st0 = _mm_alignr_epi8(tmp, st1, 8); /* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xF0);    /* CDGH */
	for (; n; n--, p += 64) {
		__m128i abef = st0, cdgh = st1, w[4];
		for (int g = 0; g < 16; g++) {
			__m128i m;
			if (g < 4) {
				m = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), mask);
			} else {
				m = _mm_sha256msg1_epu32(w[g & 3], w[(g - 3) & 3]);
				m = _mm_add_epi32(m, _mm_alignr_epi8(w[(g - 1) & 3], w[(g - 2) & 3], 4));
				m = _mm_sha256msg2_epu32(m, w[(g - 1) & 3]);
			}
			w[g & 3] = m;
			__m128i k = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[4 * g]));
			st1 = _mm_sha256rnds2_epu32(st1, st0, k);
			st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(k, 0x0E));
		}
		st0 = _mm_add_epi32(st0, abef);
		st1 = _mm_add_epi32(st1, cdgh);
	}
	tmp = _mm_shuffle_epi32(st0, 0x1B);       /* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xB1);       /* DCHG */
	st0 = _mm_blend_epi16(tmp, st1, 0xF0);    /* DCBA */
	st1 = _mm_alignr_epi8(st1, tmp, 8);       /* HGFE */
	_mm_storeu_si128((__m128i *)&h[0], st0);
	_mm_storeu_si128((__m128i *)&h[4], st1);
}

static bool cpu_has_sha(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3))
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return (b & (1u << 29)) != 0;
}
#endif

static void (*compress)(uint32_t h[8], const uint8_t *p, size_t n);
static bool forced_portable;

static void pick(void)
{
	compress = compress_c;
#if defined(__x86_64__)
	if (!forced_portable && cpu_has_sha())
		compress = compress_ni;
#endif
}

bool au_sha256_accelerated(void)
{
	if (!compress)
		pick();
	return compress != compress_c;
}

void au_sha256_force_portable(bool portable)
{
	forced_portable = portable;
	pick();
}

void au_sha256_init(struct au_sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	if (!compress)
		pick();
	memcpy(s->h, iv, sizeof(iv));
	s->bytes = 0;
	s->fill = 0;
}

void au_sha256_update(struct au_sha256 *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	if (len == 0)
		return; /* (data may be NULL) */
	s->bytes += len;
	if (s->fill) {
		size_t k = 64 - s->fill < len ? 64 - s->fill : len;
		memcpy(s->buf + s->fill, p, k);
		s->fill += (uint32_t)k;
		p += k;
		len -= k;
		if (s->fill < 64)
			return;
		compress(s->h, s->buf, 1);
		s->fill = 0;
	}
	if (len >= 64) {
		compress(s->h, p, len / 64);
		p += len / 64 * 64;
		len %= 64;
	}
	memcpy(s->buf, p, len);
	s->fill = (uint32_t)len;
}

void au_sha256_digest(const struct au_sha256 *s, uint8_t out[32])
{
	struct au_sha256 c = *s;
	uint64_t bits = c.bytes * 8;
	uint8_t pad[72] = {0x80};
	size_t padlen = (c.fill < 56 ? 56 : 120) - c.fill;
	au_sha256_update(&c, pad, padlen);
	uint8_t len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	au_sha256_update(&c, len, 8);
	for (int i = 0; i < 8; i++)
		for (int b = 0; b < 4; b++)
			out[4 * i + b] = (uint8_t)(c.h[i] >> (24 - 8 * b));
}

void au_sha256_hex(const struct au_sha256 *s, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[32];
	au_sha256_digest(s, d);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}

void au_sha256(const void *data, size_t len, uint8_t out[32])
{
	struct au_sha256 s;
	au_sha256_init(&s);
	au_sha256_update(&s, data, len);
	au_sha256_digest(&s, out);
}
