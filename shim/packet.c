/* packet.c — sealing and opening datagrams, anti-replay (see packet.h). */
#include "packet.h"

#include <glib.h>
#include <string.h>

#include "wire.h"

const char *const au_pkt_drop_names[AU_DROP_COUNT_] = {
	"truncated", "oversize", "auth", "version", "misdirected",
	"unknown_sender", "replay", "unknown_service", "forbidden", "quarantined", "revoked",
};

struct au_pkt_key {
	GHmac *base; /* keyed, never updated: copied per datagram */
};

struct au_pkt_key *au_pkt_key_new(const uint8_t *key, size_t len)
{
	if (!key || len < 16)
		return NULL;
	struct au_pkt_key *k = g_new0(struct au_pkt_key, 1);
	k->base = g_hmac_new(G_CHECKSUM_SHA256, key, len);
	return k;
}

void au_pkt_key_free(struct au_pkt_key *k)
{
	if (!k)
		return;
	g_hmac_unref(k->base);
	g_free(k);
}

uint32_t au_pkt_service_tag(const char *name)
{
	return au_crc32c(0, name, strlen(name));
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void mac(const struct au_pkt_key *k, const uint8_t *buf, size_t len, uint8_t out[32])
{
	GHmac *h = g_hmac_copy(k->base);
	g_hmac_update(h, buf, (gssize)len);
	gsize n = AU_PKT_MAC;
	g_hmac_get_digest(h, out, &n);
	g_hmac_unref(h);
	g_assert(n == AU_PKT_MAC);
}

size_t au_pkt_seal(const struct au_pkt_key *k, const struct au_pkt_hdr *h, const void *payload,
		   size_t len, uint8_t *out)
{
	if (len == 0 || len > AU_MSG_MAX || !payload)
		return 0;
	out[0] = AU_PKT_MAGIC0;
	out[1] = AU_PKT_MAGIC1;
	out[2] = AU_PKT_VERSION;
	out[3] = 0; /* flags: none defined */
	put32(out + 4, h->sender);
	put32(out + 8, h->receiver);
	put64(out + 12, h->counter);
	put32(out + 20, h->service);
	memcpy(out + AU_PKT_HDR, payload, len);
	mac(k, out, AU_PKT_HDR + len, out + AU_PKT_HDR + len);
	return AU_PKT_HDR + len + AU_PKT_MAC;
}

/* Compare MACs in time independent of where they differ. */
static bool mac_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;
	for (unsigned i = 0; i < AU_PKT_MAC; i++)
		diff |= (uint8_t)(a[i] ^ b[i]);
	return diff == 0;
}

int au_pkt_open(const struct au_pkt_key *k, const uint8_t *buf, size_t len, struct au_pkt_hdr *h,
		const uint8_t **payload, size_t *plen)
{
	if (len < AU_PKT_HDR + 1 + AU_PKT_MAC)
		return AU_DROP_TRUNCATED;
	if (len > AU_PKT_MAX)
		return AU_DROP_OVERSIZE;
	uint8_t want[AU_PKT_MAC];
	mac(k, buf, len - AU_PKT_MAC, want);
	if (!mac_equal(want, buf + len - AU_PKT_MAC))
		return AU_DROP_AUTH;
	if (buf[0] != AU_PKT_MAGIC0 || buf[1] != AU_PKT_MAGIC1 || buf[2] != AU_PKT_VERSION ||
	    buf[3] != 0)
		return AU_DROP_VERSION;
	h->sender = get32(buf + 4);
	h->receiver = get32(buf + 8);
	h->counter = get64(buf + 12);
	h->service = get32(buf + 20);
	*payload = buf + AU_PKT_HDR;
	*plen = len - AU_PKT_HDR - AU_PKT_MAC;
	return -1;
}

uint32_t au_pkt_peek_sender(const uint8_t *buf, size_t len)
{
	return len >= AU_PKT_HDR ? get32(buf + 4) : 0;
}

bool au_replay_accept(struct au_replay *r, uint64_t counter)
{
	const uint64_t w = AU_REPLAY_WINDOW;
	if (counter == 0)
		return false;
	if (counter > r->top) {
		/* Slide: forget the slots of counters that fall out of the window. */
		uint64_t gap = counter - r->top;
		if (gap >= w) {
			memset(r->bits, 0, sizeof(r->bits));
		} else {
			for (uint64_t c = r->top + 1; c <= counter; c++)
				r->bits[(c % w) / 64] &= ~(UINT64_C(1) << (c % 64));
		}
		r->top = counter;
		r->bits[(counter % w) / 64] |= UINT64_C(1) << (counter % 64);
		return true;
	}
	if (r->top - counter >= w)
		return false; /* too old to tell: treat as a replay */
	uint64_t *word = &r->bits[(counter % w) / 64];
	uint64_t bit = UINT64_C(1) << (counter % 64);
	if (*word & bit)
		return false;
	*word |= bit;
	return true;
}

uint8_t *au_pkt_parse_key_text(const char *text, size_t *len, const char **why)
{
	size_t n = 0, cap = strlen(text) / 2 + 1;
	uint8_t *key = g_malloc(cap);
	int hi = -1;
	for (const char *p = text; *p; p++) {
		if (g_ascii_isspace(*p))
			continue;
		int v = g_ascii_xdigit_value(*p);
		if (v < 0) {
			*why = "the key file must hold hex digits only (e.g. from aureon-ctl keygen)";
			g_free(key);
			return NULL;
		}
		if (hi < 0) {
			hi = v;
		} else {
			key[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		*why = "the key file holds an odd number of hex digits";
		g_free(key);
		return NULL;
	}
	if (n < 32) {
		*why = "the key is shorter than 32 bytes (64 hex digits)";
		g_free(key);
		return NULL;
	}
	*len = n;
	return key;
}
