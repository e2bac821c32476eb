/* node_net.c — aureon-node's network: authenticated UDP datagrams out and
 * in, aureon-ctl clients and the control service's receive path (see node.h). */
#include "node_internal.h"
#include "jobctl.h"

/* ---- network ----------------------------------------------------------- */

static GSocketAddress *dest_addr(struct au_node *n, au_node_id to)
{
	if (to >= 1 && to <= n->c->nodes)
		return G_SOCKET_ADDRESS(n->c->host[to]);
	if (to >= AU_CLIENT_ID_MIN) {
		struct client *cl = g_hash_table_lookup(n->clients, GUINT_TO_POINTER(to));
		return cl ? cl->addr : NULL;
	}
	return NULL;
}

static void transmit(struct au_node *n, GSocketAddress *addr, const uint8_t *buf, size_t len)
{
	g_autoptr(GError) err = NULL;
	gssize w = g_socket_send_to(n->sock, addr, (const gchar *)buf, len, NULL, &err);
	if (w != (gssize)len) {
		n->m.tx_failed++;
		return;
	}
	n->m.tx_datagrams++;
	n->m.tx_bytes += len;
}

void au_node__rec_flush(struct au_node *n)
{
	if (!n->rec)
		return;
	au_rec_flush(n->rec);
	/* The held datagrams in as few system calls as the kernel takes
	 * (sendmmsg), in the order they were sealed. */
	enum { BATCH = 64 };
	GOutputMessage msgs[BATCH];
	GOutputVector vecs[BATCH];
	guint done = 0, len = n->held_tx->len;
	while (done < len) {
		guint k = len - done < BATCH ? len - done : BATCH;
		for (guint i = 0; i < k; i++) {
			struct au_held_pkt *hp = &g_array_index(n->held_tx, struct au_held_pkt, done + i);
			vecs[i] = (GOutputVector){n->held_bytes->data + hp->off, hp->len};
			msgs[i] = (GOutputMessage){hp->addr, &vecs[i], 1, 0, NULL, 0};
		}
		g_autoptr(GError) err = NULL;
		gint sent = g_socket_send_messages(n->sock, msgs, k, 0, NULL, &err);
		if (sent <= 0) { /* the first failed: lost, as any socket trouble */
			n->m.tx_failed++;
			sent = 1;
		} else {
			for (gint i = 0; i < sent; i++) {
				n->m.tx_datagrams++;
				n->m.tx_bytes += vecs[i].size;
			}
		}
		done += (guint)sent;
	}
	for (guint i = 0; i < len; i++)
		g_object_unref(g_array_index(n->held_tx, struct au_held_pkt, i).addr);
	g_array_set_size(n->held_tx, 0);
	g_byte_array_set_size(n->held_bytes, 0);
}

/* Send one model message as one datagram.  Socket trouble is loss, as the
 * models expect of any network; a bad destination or size is the model's
 * error and is reported to it. */
static int send_tagged(struct au_node *n, uint32_t tag, au_node_id to, const void *msg, size_t len)
{
	if (!msg || len == 0) {
		n->m.tx_rejected++;
		return -AU_EINVAL;
	}
	if (len > AU_MSG_MAX) {
		n->m.tx_rejected++;
		return -AU_EMSGSIZE;
	}
	GSocketAddress *addr = dest_addr(n, to);
	if (!addr) {
		n->m.tx_rejected++;
		return -AU_EINVAL;
	}
	const struct au_pkt_key *key = au_ident_tx_key(n->ident, to);
	if (!key)
		return 0; /* revoked: as if lost (counted in tx_revoked) */
	struct au_pkt_hdr h = {n->self, to, au_node__next_counter(n), tag};
	size_t plen = au_pkt_seal(key, &h, msg, len, n->txbuf);
	g_assert(plen > 0);
	if (!n->sock) {
		n->m.tx_failed++;
		return 0;
	}
	if (n->rec) {
		/* Output commit: sent once the causing input's record is written. */
		struct au_held_pkt hp = {g_object_ref(addr), n->held_bytes->len, plen};
		g_byte_array_append(n->held_bytes, n->txbuf, (guint)plen);
		g_array_append_val(n->held_tx, hp);
		return 0;
	}
	transmit(n, addr, n->txbuf, plen);
	return 0;
}

int au_node_control_send(struct au_node *n, au_node_id to, const void *msg, size_t len)
{
	return send_tagged(n, n->control_tag, to, msg, len);
}

int au_node__send(void *ctx, au_node_id to, const void *msg, size_t len)
{
	struct svc *s = ctx;
	int rc = send_tagged(s->node, s->tag, to, msg, len);
	if (s->node->rec) {
		au_rec_op(s->node->rec, AU_OP_SEND, s->index, to, len, 0, msg, msg ? len : 0);
		if (rc)
			au_rec_answer(s->node->rec, AU_ANS_SEND, rc);
	}
	return rc;
}

static struct client *client_for(struct au_node *n, au_node_id id)
{
	struct client *cl = g_hash_table_lookup(n->clients, GUINT_TO_POINTER(id));
	if (cl)
		return cl;
	if (g_hash_table_size(n->clients) >= CLIENTS_MAX) {
		/* Forget the client heard from longest ago.  A replay of its old
		 * packets is then accepted once more: a KV write replayed that
		 * way is applied at most once anyway (Raft client sessions). */
		struct client *old = NULL;
		GHashTableIter it;
		gpointer k, v;
		g_hash_table_iter_init(&it, n->clients);
		while (g_hash_table_iter_next(&it, &k, &v))
			if (!old || ((struct client *)v)->last_ns < old->last_ns)
				old = v;
		g_hash_table_remove(n->clients, GUINT_TO_POINTER(old->id));
		n->m.clients_evicted++;
	}
	cl = g_new0(struct client, 1);
	cl->id = id;
	g_hash_table_insert(n->clients, GUINT_TO_POINTER(id), cl);
	return cl;
}

void au_node__free_client(gpointer p)
{
	struct client *cl = p;
	if (cl->addr)
		g_object_unref(cl->addr);
	g_free(cl);
}

static void control_recv(struct au_node *n, au_node_id from, const uint8_t *msg, size_t len)
{
	uint64_t nonce;
	n->m.control_requests++;
	int type = au_ctl_type(msg, len);
	bool exec = type == AU_CTL_ADMIN_REQ || type == AU_CTL_SUBMIT_REQ || type == AU_CTL_JOB_REQ ||
		    type == AU_CTL_JOBS_REQ;
	if (exec || type == AU_CTL_OPS_REQ) {
		if (!n->running)
			return;
		/* These may act on the models (propose, transfer, read index):
		 * recorded, though a replay stops at them (docs/replay.md). */
		if (n->rec) {
			au_rec_begin(n->rec, AU_REC_CONTROL, au_node__now(n));
			au_rec_uv(n->rec, from);
			au_rec_blob(n->rec, msg, len);
		}
		if (exec)
			au_execctl_recv(n->exec, from, msg, len);
		else
			au_opsctl_recv(n->ops, from, msg, len);
		if (n->rec)
			au_node__rec_end(n);
		return;
	}
	if (!au_ctl_decode_status_req(msg, len, &nonce))
		return;
	struct au_ctl_status s = {0};
	s.nonce = nonce;
	au_node_get_status(n, &s.st);
	s.rx_delivered = n->m.rx_delivered;
	for (int i = 0; i < AU_DROP_COUNT_; i++)
		s.rx_dropped += n->m.drops[i];
	GString *names = g_string_new(NULL);
	for (uint32_t i = 0; i < n->n_svcs; i++)
		g_string_append_printf(names, "%s%s", i ? "," : "", n->svcs[i].model->name);
	g_strlcpy(s.services, names->str, sizeof(s.services));
	g_string_free(names, TRUE);
	uint8_t buf[1024];
	size_t blen = au_ctl_encode_status_resp(&s, buf, sizeof(buf));
	if (blen)
		send_tagged(n, n->control_tag, from, buf, blen);
}

static void drop(struct au_node *n, enum au_pkt_drop why)
{
	n->m.drops[why]++;
}

/* Whether a datagram came from `host` (NULL `from`: tests feeding
 * datagrams directly; taken as from the claimed member's address). */
static bool same_addr(GSocketAddress *from, GInetSocketAddress *host)
{
	if (!from)
		return true;
	if (!G_IS_INET_SOCKET_ADDRESS(from))
		return false;
	GInetSocketAddress *f = G_INET_SOCKET_ADDRESS(from);
	return g_inet_socket_address_get_port(f) == g_inet_socket_address_get_port(host) &&
	       g_inet_address_equal(g_inet_socket_address_get_address(f), g_inet_socket_address_get_address(host));
}

/* Say why a member is shut out, or that it is back (always logged: this
 * is what an operator needs to see when a node never joins). */
static void log_auth_event(struct au_node *n, au_node_id peer, enum au_ident_event ev)
{
	const struct au_peer_auth *p = &n->ident->peer[peer];
	bool revoked = n->ident->per_node && !n->ident->rx[peer];
	if (ev == AU_IDENT_QUARANTINED)
		au_node__log(n, true,
			     "auth: n%u (%s): %s: %" G_GUINT64_FORMAT " invalid proofs (%u in a row), none valid "
			     "since; quarantined for %.1fs (quarantine %" G_GUINT64_FORMAT ")%s",
			     peer, n->c->host_text[peer], revoked ? "revoked key" : "wrong key", p->invalid, p->streak,
			     (double)(p->until - au_node__now(n)) / 1e9, p->quarantines,
			     revoked ? ": its key is revoked in [identities]"
			     : n->ident->per_node
				     ? ": its identity key is not the one [identities] lists for it, or its cluster file "
				       "lists another key for this node"
				     : ": it holds another cluster key ([auth] key_file)");
	else
		au_node__log(n, true, "auth: n%u (%s): valid proof again after %" G_GUINT64_FORMAT
				      " invalid; wrong key cleared, quarantine lifted",
			     peer, n->c->host_text[peer], p->invalid);
}

void au_node_peer_auth_json(struct au_node *n, au_node_id peer, GString *out)
{
	au_ident_peer_json(n->ident, peer, au_node__now(n), out);
}

bool au_node_peer_trust(struct au_node *n, au_node_id peer, bool *quarantined, int64_t *left_ns,
			uint64_t *invalid, bool *wrong_key)
{
	if (!n->ident || peer < 1 || peer > n->ident->nodes)
		return false;
	const struct au_peer_auth *p = &n->ident->peer[peer];
	au_time now = au_node__now(n);
	*quarantined = au_quar_active(p, now);
	*left_ns = *quarantined ? p->until - now : 0;
	*invalid = p->invalid;
	*wrong_key = au_quar_wrong_key(p, &n->ident->cfg, now);
	return true;
}

void au_node_input(struct au_node *n, const uint8_t *buf, size_t len, GSocketAddress *from)
{
	n->m.rx_datagrams++;
	n->m.rx_bytes += len;
	struct au_pkt_hdr h;
	const uint8_t *payload;
	size_t plen;
	enum au_ident_event ev;
	au_node_id claimed = au_pkt_peek_sender(buf, len);
	bool from_host = claimed >= 1 && claimed <= n->c->nodes && same_addr(from, n->c->host[claimed]);
	int v = au_ident_open(n->ident, buf, len, from_host, au_node__now(n), &h, &payload, &plen, &ev);
	if (ev != AU_IDENT_NONE)
		log_auth_event(n, claimed, ev);
	if (v >= 0) {
		drop(n, (enum au_pkt_drop)v);
		return;
	}
	/* Authentic from here on. */
	if (h.receiver != n->self) {
		drop(n, AU_DROP_MISDIRECTED);
		return;
	}
	bool is_client = h.sender >= AU_CLIENT_ID_MIN;
	if (!is_client && (h.sender < 1 || h.sender > n->c->nodes)) {
		drop(n, AU_DROP_UNKNOWN_SENDER);
		return;
	}
	/* Find the service before touching replay state, so a packet we
	 * would drop anyway leaves no trace of its sender. */
	struct svc *s = NULL;
	bool control = h.service == n->control_tag;
	for (uint32_t i = 0; !control && i < n->n_svcs; i++)
		if (n->svcs[i].tag == h.service)
			s = &n->svcs[i];
	if (!control && !s) {
		drop(n, AU_DROP_UNKNOWN_SERVICE);
		return;
	}
	/* Clients may use the control service and client-side models (kv),
	 * never the members' own protocols (raft, swim). */
	if (is_client && s && !s->model->client_side) {
		drop(n, AU_DROP_FORBIDDEN);
		return;
	}
	uint32_t epoch = (uint32_t)(h.counter >> AU_PKT_SEQ_BITS);
	if (is_client) {
		struct client *cl = client_for(n, h.sender);
		if (!au_replay_accept(&cl->win, h.counter)) {
			drop(n, AU_DROP_REPLAY);
			return;
		}
		cl->last_ns = au_node__now(n);
		if (from) {
			/* Replies go where the client's latest authentic packet came from. */
			if (cl->addr)
				g_object_unref(cl->addr);
			cl->addr = g_object_ref(from);
		}
	} else {
		if (epoch < n->peer_floor[h.sender] || !au_replay_accept(&n->peer_win[h.sender], h.counter)) {
			drop(n, AU_DROP_REPLAY);
			return;
		}
		if (epoch > n->peer_floor[h.sender]) {
			n->peer_floor[h.sender] = epoch;
			n->floors_dirty = true;
		}
	}
	n->m.rx_delivered++;
	if (control)
		control_recv(n, h.sender, payload, plen);
	else if (n->running) {
		if (n->rec) {
			au_rec_begin(n->rec, AU_REC_RECV, au_node__now(n));
			au_rec_uv(n->rec, s->index);
			au_rec_uv(n->rec, h.sender);
			au_rec_blob(n->rec, payload, plen);
		}
		s->model->recv(s->state, h.sender, payload, plen);
		if (n->rec)
			au_node__rec_end(n);
	}
}

gboolean au_node__on_socket(GSocket *sock, GIOCondition cond, gpointer data)
{
	struct au_node *n = data;
	(void)cond;
	for (unsigned i = 0; i < RX_PER_WAKE; i++) {
		GSocketAddress *from = NULL;
		g_autoptr(GError) err = NULL;
		/* One byte more than the largest valid datagram: a longer one
		 * shows up as oversize, never silently cut to a valid length. */
		gssize r = g_socket_receive_from(sock, &from, (gchar *)n->rxbuf, AU_PKT_MAX + 1, NULL, &err);
		if (r < 0) {
			if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
				au_node__log(n, false, "receive: %s", err->message);
			break;
		}
		au_node_input(n, n->rxbuf, (size_t)r, from);
		if (from)
			g_object_unref(from);
	}
	au_node__rec_flush(n);
	return G_SOURCE_CONTINUE;
}
