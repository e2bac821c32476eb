/* packet.h — the datagram format between aureon nodes and aureon-ctl.
 *
 * One model message travels as one UDP datagram: a 24-byte header (magic,
 * version, sender id, receiver id, a per-sender counter, the service tag),
 * the model's bytes unchanged, and an HMAC-SHA256 over everything before it
 * under the cluster key.  The receive path checks length, then the MAC, and
 * only then reads a single header field; a replay window per sender drops
 * counters already seen.  Pure functions (no sockets, no node state), so the
 * unit tests and the fuzz target drive them directly.
 */
#ifndef AU_SHIM_PACKET_H
#define AU_SHIM_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"

#define AU_PKT_MAGIC0 0x41u /* 'A' */
#define AU_PKT_MAGIC1 0x55u /* 'U' */
#define AU_PKT_VERSION 1u
#define AU_PKT_HDR 24u
#define AU_PKT_MAC 32u
/* Largest datagram we send or accept: header + AU_MSG_MAX + MAC (65056,
 * under the 65507 bytes a UDP/IPv4 datagram can carry). */
#define AU_PKT_MAX (AU_PKT_HDR + AU_MSG_MAX + AU_PKT_MAC)
/* Node ids from here up are aureon-ctl clients (chosen at random per
 * invocation); ids between the cluster size and this are reserved. */
#define AU_CLIENT_ID_MIN 0x80000000u
/* A counter is (epoch << AU_PKT_SEQ_BITS) | seq: the epoch is bumped and
 * made durable at every boot, so counters never repeat across restarts. */
#define AU_PKT_SEQ_BITS 40u
#define AU_PKT_SEQ_MAX ((UINT64_C(1) << AU_PKT_SEQ_BITS) - 1)
/* Replay window: counters up to this far below the highest seen are
 * accepted once each (UDP reorders). */
#define AU_REPLAY_WINDOW 1024u

/* Why a datagram was dropped; metric labels come from au_pkt_drop_names. */
enum au_pkt_drop {
	AU_DROP_TRUNCATED,       /* shorter than header + MAC + one byte */
	AU_DROP_OVERSIZE,        /* longer than AU_PKT_MAX */
	AU_DROP_AUTH,            /* the MAC does not verify under the cluster key */
	AU_DROP_VERSION,         /* authentic, but a magic/version/flags we do not speak */
	AU_DROP_MISDIRECTED,     /* authentic, addressed to another node */
	AU_DROP_UNKNOWN_SENDER,  /* authentic, from an id that is neither a member nor a client */
	AU_DROP_REPLAY,          /* counter already seen, or too old for the window */
	AU_DROP_UNKNOWN_SERVICE, /* no such service on this node */
	AU_DROP_FORBIDDEN,       /* a client addressed a service clients may not use */
	AU_DROP_QUARANTINED,     /* from a member in quarantine: dropped unread (identity.h) */
	AU_DROP_REVOKED,         /* from a member whose key is revoked in [identities] */
	AU_DROP_COUNT_
};
extern const char *const au_pkt_drop_names[AU_DROP_COUNT_];

struct au_pkt_hdr {
	uint32_t sender, receiver;
	uint64_t counter;
	uint32_t service; /* au_pkt_service_tag of the service name */
};

/* The cluster key, with the HMAC key schedule done once. */
struct au_pkt_key;

/* Make a key from raw bytes (at least 16); NULL if too short. */
struct au_pkt_key *au_pkt_key_new(const uint8_t *key, size_t len);
void au_pkt_key_free(struct au_pkt_key *k);

/* The tag that names a service on the wire: CRC-32C of its name. */
uint32_t au_pkt_service_tag(const char *name);

/* Build a datagram into `out` (room for AU_PKT_MAX bytes).  Returns its
 * length, or 0 if the payload is empty or longer than AU_MSG_MAX. */
size_t au_pkt_seal(const struct au_pkt_key *k, const struct au_pkt_hdr *h, const void *payload,
		   size_t len, uint8_t *out);

/* Check a received datagram: length, then MAC, then magic and version.
 * On success fill *h and point *payload into buf and return -1; otherwise
 * return the enum au_pkt_drop reason (nothing past the MAC check was read
 * from an unauthenticated datagram). */
int au_pkt_open(const struct au_pkt_key *k, const uint8_t *buf, size_t len, struct au_pkt_hdr *h,
		const uint8_t **payload, size_t *plen);

/* The sender id of a datagram long enough to have a header, unauthenticated:
 * only for choosing the key to verify it with (identity.h).  0 if short. */
uint32_t au_pkt_peek_sender(const uint8_t *buf, size_t len);

/* Anti-replay state for one sender: the highest counter accepted and a
 * bitmap of the AU_REPLAY_WINDOW counters below it. */
struct au_replay {
	uint64_t top;
	uint64_t bits[AU_REPLAY_WINDOW / 64];
};

/* True if `counter` was not accepted before and is not older than the
 * window; if so, remember it.  Counter 0 is never valid. */
bool au_replay_accept(struct au_replay *r, uint64_t counter);

/* Parse a key file's text: hex digits (whitespace ignored), at least 32
 * bytes.  Returns a malloc'd key and its length, or NULL with *why set. */
uint8_t *au_pkt_parse_key_text(const char *text, size_t *len, const char **why);

#endif
