/* identity.h — per-node identities and the quarantine of peers that send
 * invalid proofs.
 *
 * Identities.  With an [identities] group in the cluster file every node
 * has its own X25519 key pair: the secret in a file on its host only
 * (aureon-ctl keygen --identity FILE), the public keys of all nodes in
 * [identities] (n1 = 64 hex digits, or `revoked`).  Two nodes i < j derive
 * a pair of direction keys from a static-static Diffie-Hellman exchange
 * (libsodium's crypto_kx: BLAKE2b of the shared point and both public
 * keys), and every datagram from i to j carries the usual HMAC-SHA256
 * (packet.h) under the i->j key.  Only i and j can compute it: a node
 * speaks for itself alone, and replacing a node's public key by `revoked`
 * (or a new key) in the others' cluster files removes it.  aureon-ctl
 * clients keep using the cluster key of [auth] key_file, which no longer
 * lets anyone speak as a member.  Without [identities] every datagram
 * uses the cluster key, as before.
 *
 * Quarantine (both modes).  A member whose datagrams, arriving from its
 * own [hosts] address, fail authentication `after` times in a row (default
 * 16) is quarantined: its datagrams are dropped unread for `period`
 * (default 5 s), doubling while it goes on failing (at most 8 times the
 * period).  One valid proof ends it.  Corruption alone, independent with
 * rate p per datagram, quarantines an honest peer with probability at most
 * p^after per datagram (2^-32 at p = 25 %); a peer with the wrong key fails
 * every proof and is quarantined after `after` datagrams.  Invalid proofs
 * that claim a member's id but come from another address are counted as
 * forged and do not count toward its quarantine (so a spoofer cannot shut
 * a member out without also spoofing its address).
 *
 * The verification + quarantine step (au_ident_open) is a pure function
 * of its inputs: no sockets, no clocks (the caller passes `now`), so the
 * tests drive it with seeded corrupted and forged datagrams.
 */
#ifndef AU_SHIM_IDENTITY_H
#define AU_SHIM_IDENTITY_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "packet.h"

#define AU_IDENT_KEY 32u /* bytes of an X25519 public or secret key */

/* A node's identity key pair, as read from its secret key file. */
struct au_ident_keypair {
	uint8_t pk[AU_IDENT_KEY], sk[AU_IDENT_KEY];
};

/* Quarantine settings ([auth] quarantine_after, quarantine_for). */
struct au_quar_cfg {
	uint32_t after;  /* invalid proofs in a row that quarantine a peer */
	au_time period;  /* first quarantine; doubles up to 8x while it goes on */
};
#define AU_QUAR_AFTER_DEFAULT 16u
#define AU_QUAR_PERIOD_DEFAULT (5 * AU_NS_PER_S)

/* What one member's proofs look like to this node. */
struct au_peer_auth {
	uint32_t streak;       /* invalid proofs in a row from its address */
	au_time until;         /* quarantined while now < until */
	au_time period;        /* the next quarantine's length (0: cfg.period) */
	bool wrong_key;        /* `after` invalid in a row and no valid one since */
	au_time last_invalid;  /* when the last invalid proof came */
	uint64_t valid;        /* datagrams whose proof verified */
	uint64_t invalid;      /* proofs that failed, from its address */
	uint64_t forged;       /* proofs that failed, claiming its id from elsewhere */
	uint64_t ignored;      /* datagrams dropped unread while quarantined */
	uint64_t quarantines;  /* times it was quarantined */
};

/* What au_ident_open saw happen to a peer, for the caller to log. */
enum au_ident_event {
	AU_IDENT_NONE = 0,
	AU_IDENT_QUARANTINED, /* reached `after` (or failed again on probation) */
	AU_IDENT_RECOVERED,   /* a valid proof from a peer that had the wrong key */
};

/* One node's view: its keys for every peer and every peer's record. */
struct au_ident {
	uint32_t nodes;
	au_node_id self;
	bool per_node;                /* [identities] given: pair keys */
	struct au_pkt_key *cluster;   /* [auth] key_file: clients (and members without identities) */
	struct au_pkt_key **tx, **rx; /* [nodes + 1]: self->peer, peer->self; NULL: revoked */
	struct au_quar_cfg cfg;
	struct au_peer_auth *peer;    /* [nodes + 1] */
	uint64_t tx_revoked;          /* datagrams not sent because the peer is revoked */
};

/* Build a node's view.  `pubs` is NULL (shared-key mode) or [nodes + 1]
 * public keys with revoked[i] set for `revoked` entries; `me` is this
 * node's key pair (NULL in shared-key mode).  NULL with *err set if the
 * key pair does not match pubs[self], pubs[self] is revoked, or a public
 * key is not a usable X25519 point. */
struct au_ident *au_ident_new(uint32_t nodes, au_node_id self, const uint8_t *cluster_key,
			      size_t cluster_key_len, const uint8_t (*pubs)[AU_IDENT_KEY],
			      const bool *revoked, const struct au_ident_keypair *me,
			      struct au_quar_cfg cfg, char **err);
void au_ident_free(struct au_ident *id);

/* The key to seal a datagram to `to` with; NULL if `to` is revoked (do
 * not send). */
const struct au_pkt_key *au_ident_tx_key(struct au_ident *id, au_node_id to);

/* Verify a received datagram and keep the quarantine records: as
 * au_pkt_open (returns -1 and fills *h, *payload, *plen, or an enum
 * au_pkt_drop), choosing the key by the sender id in the header (only read
 * to choose it) and dropping datagrams of a quarantined member unread
 * (AU_DROP_QUARANTINED).  `from_host` says the datagram came from the
 * claimed member's [hosts] address.  *ev tells what changed. */
int au_ident_open(struct au_ident *id, const uint8_t *buf, size_t len, bool from_host, au_time now,
		  struct au_pkt_hdr *h, const uint8_t **payload, size_t *plen, enum au_ident_event *ev);

/* The quarantine state machine alone: a proof from a member's address was
 * valid or not at `now`.  Returns what changed. */
enum au_ident_event au_quar_record(struct au_peer_auth *p, const struct au_quar_cfg *cfg, bool valid,
				   au_time now);
/* True while p is reported as having the wrong key: wrong_key, and an
 * invalid proof within the longest quarantine (8 periods) before `now`
 * (a peer that went quiet, e.g. a follower that only talks to the
 * leader, is not reported for ever). */
bool au_quar_wrong_key(const struct au_peer_auth *p, const struct au_quar_cfg *cfg, au_time now);
/* True while p is quarantined at `now`. */
bool au_quar_active(const struct au_peer_auth *p, au_time now);

/* Prometheus series for every member (aureon_peer_quarantined,
 * aureon_peer_wrong_key, aureon_auth_failures_total,
 * aureon_auth_forged_total, aureon_peer_quarantines_total,
 * aureon_quarantine_ignored_total), appended to `out`. */
void au_ident_render_metrics(const struct au_ident *id, au_time now, GString *out);
/* One member's record as a JSON object for /peers: {"wrong_key": bool,
 * "quarantined": bool, "quarantine_left_s": x, "invalid_proofs": n,
 * "forged": n, "quarantines": n, "ignored": n, "revoked": bool}. */
void au_ident_peer_json(const struct au_ident *id, au_node_id peer, au_time now, GString *out);
/* The members this node sees with a wrong key, for status:
 * "n3 wrong key (quarantined 4.2s, 40 invalid)" joined by "; ", or "". */
char *au_ident_status_text(const struct au_ident *id, au_time now);

/* Parse a secret key file's text ("secret = HEX" and "public = HEX"
 * lines; # comments).  false with *err = "FILE: line N: what". */
bool au_ident_parse_secret(const char *path, const char *text, struct au_ident_keypair *out, char **err);
/* Parse 64 hex digits into a public key; false with *why. */
bool au_ident_parse_public(const char *text, uint8_t out[AU_IDENT_KEY], const char **why);
/* Read a secret key file: must exist, mode 0600 (no group/other bits). */
bool au_ident_load_secret(const char *path, struct au_ident_keypair *out, char **err);
/* Make a key pair and its file text; the public key's hex in *pub_hex. */
char *au_ident_generate(struct au_ident_keypair *kp, char **pub_hex);

#endif
