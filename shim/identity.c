/* identity.c — per-node keys, pair keys and the quarantine of peers that
 * send invalid proofs (see identity.h). */
#include "identity.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#define QUAR_MAX_FACTOR 8 /* a quarantine grows to at most 8 periods */

bool au_quar_active(const struct au_peer_auth *p, au_time now)
{
	return p->until > now;
}

bool au_quar_wrong_key(const struct au_peer_auth *p, const struct au_quar_cfg *cfg, au_time now)
{
	return p->wrong_key && now - p->last_invalid < cfg->period * QUAR_MAX_FACTOR;
}

enum au_ident_event au_quar_record(struct au_peer_auth *p, const struct au_quar_cfg *cfg, bool valid,
				   au_time now)
{
	if (valid) {
		p->valid++;
		bool was = p->wrong_key;
		p->streak = 0;
		p->wrong_key = false;
		p->period = 0;
		p->until = 0;
		return was ? AU_IDENT_RECOVERED : AU_IDENT_NONE;
	}
	p->invalid++;
	p->last_invalid = now;
	if (p->streak < UINT32_MAX)
		p->streak++;
	if (p->streak < cfg->after)
		return AU_IDENT_NONE;
	/* `after` in a row, or failing again on probation after a quarantine:
	 * quarantine (again), each time twice as long, up to the cap. */
	au_time len = p->period ? p->period : cfg->period;
	p->until = now + len;
	p->period = len < cfg->period * QUAR_MAX_FACTOR ? len * 2 : len;
	if (p->period > cfg->period * QUAR_MAX_FACTOR)
		p->period = cfg->period * QUAR_MAX_FACTOR;
	p->wrong_key = true;
	p->quarantines++;
	return AU_IDENT_QUARANTINED;
}

/* ---- keys ----------------------------------------------------------------- */

static struct au_pkt_key *key32(const uint8_t k[AU_IDENT_KEY])
{
	return au_pkt_key_new(k, AU_IDENT_KEY);
}

struct au_ident *au_ident_new(uint32_t nodes, au_node_id self, const uint8_t *cluster_key,
			      size_t cluster_key_len, const uint8_t (*pubs)[AU_IDENT_KEY],
			      const bool *revoked, const struct au_ident_keypair *me,
			      struct au_quar_cfg cfg, char **err)
{
	if (sodium_init() < 0) {
		*err = g_strdup("libsodium failed to initialise");
		return NULL;
	}
	struct au_ident *id = g_new0(struct au_ident, 1);
	id->nodes = nodes;
	id->self = self;
	id->cfg = cfg;
	if (id->cfg.after == 0)
		id->cfg.after = AU_QUAR_AFTER_DEFAULT;
	if (id->cfg.period <= 0)
		id->cfg.period = AU_QUAR_PERIOD_DEFAULT;
	id->cluster = au_pkt_key_new(cluster_key, cluster_key_len);
	id->tx = g_new0(struct au_pkt_key *, nodes + 1);
	id->rx = g_new0(struct au_pkt_key *, nodes + 1);
	id->peer = g_new0(struct au_peer_auth, nodes + 1);
	if (!id->cluster) {
		*err = g_strdup("the cluster key is shorter than 16 bytes");
		au_ident_free(id);
		return NULL;
	}
	id->per_node = pubs != NULL;
	if (!id->per_node)
		return id;
	if (!me || revoked[self]) {
		*err = g_strdup_printf("n%u's key is revoked in [identities]: this node may not join", self);
		au_ident_free(id);
		return NULL;
	}
	if (sodium_memcmp(me->pk, pubs[self], AU_IDENT_KEY) != 0) {
		*err = g_strdup_printf("wrong key: the secret key file does not belong to the public key "
				       "[identities] lists for n%u",
				       self);
		au_ident_free(id);
		return NULL;
	}
	for (au_node_id p = 1; p <= nodes; p++) {
		if (revoked[p])
			continue;
		uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
		/* The lower id plays crypto_kx's client: both ends then agree on
		 * which key is which direction.  To itself a node uses the
		 * client's transmit key both ways. */
		int rc = self <= p ? crypto_kx_client_session_keys(rx, tx, me->pk, me->sk, pubs[p])
				   : crypto_kx_server_session_keys(rx, tx, me->pk, me->sk, pubs[p]);
		if (rc != 0) {
			*err = g_strdup_printf("[identities] n%u: not a usable X25519 public key", p);
			au_ident_free(id);
			return NULL;
		}
		id->tx[p] = key32(tx);
		id->rx[p] = key32(p == self ? tx : rx);
		sodium_memzero(rx, sizeof(rx));
		sodium_memzero(tx, sizeof(tx));
	}
	return id;
}

void au_ident_free(struct au_ident *id)
{
	if (!id)
		return;
	for (uint32_t p = 0; id->tx && p <= id->nodes; p++) {
		au_pkt_key_free(id->tx[p]);
		au_pkt_key_free(id->rx[p]);
	}
	au_pkt_key_free(id->cluster);
	g_free(id->tx);
	g_free(id->rx);
	g_free(id->peer);
	g_free(id);
}

static bool member(const struct au_ident *id, au_node_id n)
{
	return n >= 1 && n <= id->nodes;
}

const struct au_pkt_key *au_ident_tx_key(struct au_ident *id, au_node_id to)
{
	if (!id->per_node || !member(id, to))
		return id->cluster;
	if (!id->tx[to])
		id->tx_revoked++;
	return id->tx[to];
}

int au_ident_open(struct au_ident *id, const uint8_t *buf, size_t len, bool from_host, au_time now,
		  struct au_pkt_hdr *h, const uint8_t **payload, size_t *plen, enum au_ident_event *ev)
{
	*ev = AU_IDENT_NONE;
	if (len < AU_PKT_HDR + 1 + AU_PKT_MAC)
		return AU_DROP_TRUNCATED;
	if (len > AU_PKT_MAX)
		return AU_DROP_OVERSIZE;
	au_node_id s = au_pkt_peek_sender(buf, len);
	if (!member(id, s))
		return au_pkt_open(id->cluster, buf, len, h, payload, plen);
	struct au_peer_auth *p = &id->peer[s];
	if (from_host && au_quar_active(p, now)) {
		p->ignored++;
		return AU_DROP_QUARANTINED;
	}
	const struct au_pkt_key *k = id->per_node ? id->rx[s] : id->cluster;
	int v = k ? au_pkt_open(k, buf, len, h, payload, plen) : AU_DROP_REVOKED;
	bool invalid = v == AU_DROP_AUTH || v == AU_DROP_REVOKED;
	if (!from_host) {
		if (invalid)
			p->forged++;
		return v;
	}
	/* A proof was checked (anything else dropped before the MAC). */
	*ev = au_quar_record(p, &id->cfg, !invalid, now);
	return v;
}

/* ---- reporting ------------------------------------------------------------ */

void au_ident_render_metrics(const struct au_ident *id, au_time now, GString *out)
{
	static const struct {
		const char *name, *type, *help;
	} series[] = {
		{"aureon_peer_quarantined", "gauge", "1 while the member's datagrams are ignored after invalid proofs"},
		{"aureon_peer_wrong_key", "gauge", "1 while the member's recent proofs all failed (wrong or revoked key)"},
		{"aureon_auth_failures_total", "counter", "Invalid proofs from the member's own address"},
		{"aureon_auth_forged_total", "counter", "Invalid proofs claiming the member's id from another address"},
		{"aureon_peer_quarantines_total", "counter", "Times the member was quarantined"},
		{"aureon_quarantine_ignored_total", "counter", "Datagrams from the member dropped unread in quarantine"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(series); i++) {
		g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", series[i].name, series[i].help,
				       series[i].name, series[i].type);
		for (au_node_id n = 1; n <= id->nodes; n++) {
			if (n == id->self)
				continue;
			const struct au_peer_auth *p = &id->peer[n];
			uint64_t v = i == 0 ? au_quar_active(p, now)
				   : i == 1 ? au_quar_wrong_key(p, &id->cfg, now)
				   : i == 2 ? p->invalid
				   : i == 3 ? p->forged
				   : i == 4 ? p->quarantines
					    : p->ignored;
			g_string_append_printf(out, "%s{peer=\"n%u\"} %" G_GUINT64_FORMAT "\n", series[i].name, n, v);
		}
	}
}

void au_ident_peer_json(const struct au_ident *id, au_node_id peer, au_time now, GString *out)
{
	if (!member(id, peer)) {
		g_string_append(out, "null");
		return;
	}
	const struct au_peer_auth *p = &id->peer[peer];
	bool q = au_quar_active(p, now);
	g_string_append_printf(out,
			       "{\"wrong_key\": %s, \"quarantined\": %s, \"quarantine_left_s\": %.3f, "
			       "\"invalid_proofs\": %" G_GUINT64_FORMAT ", \"forged\": %" G_GUINT64_FORMAT
			       ", \"quarantines\": %" G_GUINT64_FORMAT ", \"ignored\": %" G_GUINT64_FORMAT
			       ", \"revoked\": %s}",
			       au_quar_wrong_key(p, &id->cfg, now) ? "true" : "false", q ? "true" : "false",
			       q ? (double)(p->until - now) / 1e9 : 0.0, p->invalid, p->forged, p->quarantines,
			       p->ignored, id->per_node && !id->rx[peer] ? "true" : "false");
}

char *au_ident_status_text(const struct au_ident *id, au_time now)
{
	GString *s = g_string_new(NULL);
	for (au_node_id n = 1; n <= id->nodes; n++) {
		const struct au_peer_auth *p = &id->peer[n];
		bool revoked = id->per_node && !id->rx[n];
		if (!au_quar_wrong_key(p, &id->cfg, now) && !revoked)
			continue;
		g_string_append_printf(s, "%sn%u %s", s->len ? "; " : "", n, revoked ? "revoked" : "wrong key");
		if (au_quar_active(p, now))
			g_string_append_printf(s, " (quarantined %.1fs, %" G_GUINT64_FORMAT " invalid)",
					       (double)(p->until - now) / 1e9, p->invalid);
		else if (p->invalid)
			g_string_append_printf(s, " (%" G_GUINT64_FORMAT " invalid, the last %.1fs ago)", p->invalid,
					       (double)(now - p->last_invalid) / 1e9);
	}
	return g_string_free(s, FALSE);
}

/* ---- key files ------------------------------------------------------------ */

bool au_ident_parse_public(const char *text, uint8_t out[AU_IDENT_KEY], const char **why)
{
	size_t n = 0;
	const char *p = text;
	while (g_ascii_isspace(*p))
		p++;
	for (; *p && !g_ascii_isspace(*p); p++, n++) {
		int v = g_ascii_xdigit_value(*p);
		if (v < 0) {
			*why = "a key is 64 hex digits (from aureon-ctl keygen --identity); found a non-hex character";
			return false;
		}
		if (n < 2 * AU_IDENT_KEY)
			out[n / 2] = (uint8_t)(n % 2 ? out[n / 2] | v : v << 4);
	}
	while (g_ascii_isspace(*p))
		p++;
	if (*p) {
		*why = "a key is one word of 64 hex digits; found more after it";
		return false;
	}
	if (n != 2 * AU_IDENT_KEY) {
		*why = "a key is exactly 64 hex digits (32 bytes)";
		return false;
	}
	return true;
}

bool au_ident_parse_secret(const char *path, const char *text, struct au_ident_keypair *out, char **err)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	bool have_sk = false, have_pk = false;
	for (gsize i = 0; lines[i]; i++) {
		g_autofree char *l = g_strstrip(g_strdup(lines[i]));
		if (!*l || l[0] == '#')
			continue;
		char *eq = strchr(l, '=');
		if (!eq) {
			*err = g_strdup_printf("%s: line %u: expected 'secret = HEX' or 'public = HEX'", path,
					       (unsigned)i + 1);
			return false;
		}
		*eq = '\0';
		const char *name = g_strstrip(l);
		const char *why = NULL;
		bool sk = strcmp(name, "secret") == 0;
		if (!sk && strcmp(name, "public") != 0) {
			*err = g_strdup_printf("%s: line %u: unknown field '%s' (known: secret, public)", path,
					       (unsigned)i + 1, name);
			return false;
		}
		if ((sk && have_sk) || (!sk && have_pk)) {
			*err = g_strdup_printf("%s: line %u: '%s' given twice", path, (unsigned)i + 1, name);
			return false;
		}
		if (!au_ident_parse_public(eq + 1, sk ? out->sk : out->pk, &why)) {
			*err = g_strdup_printf("%s: line %u: %s: %s", path, (unsigned)i + 1, name, why);
			return false;
		}
		have_sk = have_sk || sk;
		have_pk = have_pk || !sk;
	}
	if (!have_sk || !have_pk) {
		*err = g_strdup_printf("%s: no '%s = HEX' line (make the file with aureon-ctl keygen --identity)",
				       path, have_sk ? "public" : "secret");
		return false;
	}
	uint8_t derived[AU_IDENT_KEY];
	crypto_scalarmult_base(derived, out->sk);
	if (sodium_memcmp(derived, out->pk, AU_IDENT_KEY) != 0) {
		*err = g_strdup_printf("%s: the public key is not the secret key's (a damaged or mixed-up file)",
				       path);
		return false;
	}
	return true;
}

static char *hex(const uint8_t *k)
{
	char *s = g_malloc(2 * AU_IDENT_KEY + 1);
	for (unsigned i = 0; i < AU_IDENT_KEY; i++)
		g_snprintf(s + 2 * i, 3, "%02x", k[i]);
	return s;
}

char *au_ident_generate(struct au_ident_keypair *kp, char **pub_hex)
{
	if (sodium_init() < 0)
		return NULL;
	crypto_kx_keypair(kp->pk, kp->sk);
	g_autofree char *sk = hex(kp->sk);
	*pub_hex = hex(kp->pk);
	char *text = g_strdup_printf("# aureon node identity (X25519): keep this file on its node only, mode 0600.\n"
				     "# Its public key goes in the cluster file's [identities] group.\n"
				     "secret = %s\npublic = %s\n",
				     sk, *pub_hex);
	sodium_memzero(sk, strlen(sk));
	return text;
}

bool au_ident_load_secret(const char *path, struct au_ident_keypair *out, char **err)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		*err = g_strdup_printf("identity key %s: %s (make it with aureon-ctl keygen --identity %s, "
				       "and put its public key in [identities])",
				       path, g_strerror(errno), path);
		return false;
	}
	if (st.st_mode & 077) {
		*err = g_strdup_printf("identity key %s is readable or writable by group or others (mode %03o); "
				       "chmod 600 it: whoever reads it can speak as this node",
				       path, (unsigned)(st.st_mode & 0777));
		return false;
	}
	g_autofree char *text = NULL;
	g_autoptr(GError) gerr = NULL;
	if (!g_file_get_contents(path, &text, NULL, &gerr)) {
		*err = g_strdup_printf("identity key: %s", gerr->message);
		return false;
	}
	bool ok = au_ident_parse_secret(path, text, out, err);
	sodium_memzero(text, strlen(text));
	return ok;
}
