/* ctl_client.c — aureon-ctl's client node (see ctl_client.h). */
#include "ctl_client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "wire.h"
#include "ctlproto.h"
#include "node.h"

/* ---- a client node for one command --------------------------------------- */


uint64_t os_random64(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)g_get_real_time() ^ ((uint64_t)getpid() << 40);
	return v;
}

int64_t mono_ns(void)
{
	return g_get_monotonic_time() * 1000;
}

bool ctl_open(struct ctl *t, const struct au_cluster *c, char **err)
{
	memset(t, 0, sizeof(*t));
	t->c = c;
	t->key = au_pkt_key_new(c->key, c->key_len);
	t->self = AU_CLIENT_ID_MIN + (au_node_id)(os_random64() % (UINT32_MAX - AU_CLIENT_ID_MIN));
	t->win = g_new0(struct au_replay, c->nodes + 1);
	t->kv_tag = au_pkt_service_tag("kv");
	t->control_tag = au_pkt_service_tag(AU_NODE_CONTROL_SERVICE);
	g_autoptr(GError) gerr = NULL;
	GSocketFamily fam = g_socket_address_get_family(G_SOCKET_ADDRESS(c->host[1]));
	t->sock = g_socket_new(fam, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &gerr);
	if (!t->sock) {
		*err = g_strdup_printf("cannot create a UDP socket: %s", gerr->message);
		return false;
	}
	/* An ephemeral port on the wildcard address of the cluster's family. */
	g_autoptr(GInetAddress) any = g_inet_address_new_any(fam);
	g_autoptr(GSocketAddress) local = g_inet_socket_address_new(any, 0);
	if (!g_socket_bind(t->sock, local, FALSE, &gerr)) {
		*err = g_strdup_printf("cannot bind a UDP socket: %s", gerr->message);
		return false;
	}
	return true;
}

void ctl_close(struct ctl *t)
{
	if (t->sock)
		g_object_unref(t->sock);
	au_pkt_key_free(t->key);
	g_free(t->win);
}

void ctl_send(struct ctl *t, au_node_id to, uint32_t tag, const void *msg, size_t len)
{
	uint8_t out[AU_PKT_MAX];
	struct au_pkt_hdr h = {t->self, to, ++t->seq_counter, tag};
	size_t plen = au_pkt_seal(t->key, &h, msg, len, out);
	g_autoptr(GError) err = NULL;
	/* A failed send is a lost datagram: the attempt times out and we move on. */
	g_socket_send_to(t->sock, G_SOCKET_ADDRESS(t->c->host[to]), (const gchar *)out, plen, NULL, &err);
}

/* Wait until `deadline_ns` for one authentic datagram from a member, for
 * service `tag`.  Returns its payload length (payload in *p), 0 on timeout. */
size_t ctl_recv(struct ctl *t, int64_t deadline_ns, uint32_t tag, au_node_id *from,
		       const uint8_t **p)
{
	for (;;) {
		int64_t left = deadline_ns - mono_ns();
		if (left <= 0)
			return 0;
		if (!g_socket_condition_timed_wait(t->sock, G_IO_IN, left / 1000 + 1, NULL, NULL))
			continue; /* re-check the clock */
		gssize r = g_socket_receive(t->sock, (gchar *)t->buf, sizeof(t->buf), NULL, NULL);
		if (r <= 0)
			continue;
		struct au_pkt_hdr h;
		size_t plen;
		if (au_pkt_open(t->key, t->buf, (size_t)r, &h, p, &plen) >= 0)
			continue;
		if (h.receiver != t->self || h.sender < 1 || h.sender > t->c->nodes || h.service != tag ||
		    !au_replay_accept(&t->win[h.sender], h.counter))
			continue;
		*from = h.sender;
		return plen;
	}
}

/* ---- put / get / cas ---------------------------------------------------------- */


const char *node_list(GString *s, const bool *tried, uint32_t nodes)
{
	for (uint32_t n = 1; n <= nodes; n++)
		if (tried[n])
			g_string_append_printf(s, "%sn%u", s->len ? ", " : "", n);
	return s->str;
}

/* Run one operation to completion against whichever node leads.  Returns
 * an exit code; fills *res on success. */
/* A member `from` refused our request to it as `target`, naming `hint` as
 * leader (0: none): the member to ask next.  A named leader is tried at
 * once; with none (an election is on) the next member, after a backoff that
 * doubles up to 200 ms so we do not spin.  Says why in `last` (len bytes). */
static au_node_id follow_hint(au_node_id from, au_node_id hint, au_node_id target, uint32_t nodes,
			      int64_t *backoff_ns, char *last, size_t len)
{
	if (hint && hint <= nodes && hint != from) {
		g_snprintf(last, len, "n%u named n%u as leader", from, hint);
		*backoff_ns = 20 * AU_NS_PER_MS;
		return hint;
	}
	g_snprintf(last, len, "n%u knows no leader", from);
	g_usleep((gulong)(*backoff_ns / 1000));
	if (*backoff_ns < 200 * AU_NS_PER_MS)
		*backoff_ns *= 2;
	return target % nodes + 1;
}

int kv_op(struct ctl *t, uint8_t op, int64_t key, int64_t value, int64_t expected,
		 int64_t timeout_ns, struct kv_result *res)
{
	const uint32_t nodes = t->c->nodes;
	uint64_t client = os_random64() | 1; /* a fresh Raft session; never 0 */
	const uint64_t seq = 1;
	uint32_t attempt = 0;
	au_node_id target = 1 + (au_node_id)(os_random64() % nodes);
	int64_t deadline = mono_ns() + timeout_ns;
	bool maybe_applied = false;
	g_autofree bool *tried = g_new0(bool, nodes + 1);
	char last_answer[160] = "";
	int64_t backoff_ns = 20 * AU_NS_PER_MS;
	while (mono_ns() < deadline) {
		uint8_t msg[64];
		struct au_wbuf w;
		au_wbuf_init(&w, msg, sizeof(msg));
		au_put_u8(&w, KV_REQ);
		au_put_u64(&w, client);
		au_put_u64(&w, seq);
		au_put_u32(&w, ++attempt);
		au_put_u8(&w, op);
		au_put_u64(&w, (uint64_t)key);
		au_put_u64(&w, (uint64_t)value);
		au_put_u64(&w, (uint64_t)expected);
		au_wbuf_seal(&w);
		ctl_send(t, target, t->kv_tag, msg, w.len);
		tried[target] = true;
		int64_t attempt_end = mono_ns() + ATTEMPT_NS;
		if (attempt_end > deadline)
			attempt_end = deadline;
		au_node_id next = 0;
		for (;;) {
			au_node_id from;
			const uint8_t *p;
			size_t len = ctl_recv(t, attempt_end, t->kv_tag, &from, &p);
			if (len == 0) {
				/* No answer: the request may have reached a leader that
				 * committed it and then went silent. */
				if (op != KV_GET)
					maybe_applied = true;
				g_snprintf(last_answer, sizeof(last_answer), "n%u did not answer", target);
				next = target % nodes + 1;
				break;
			}
			struct au_rbuf rb;
			if (!au_rbuf_unseal(&rb, p, len))
				continue;
			uint8_t type = au_get_u8(&rb);
			uint64_t rc = au_get_u64(&rb), rs = au_get_u64(&rb);
			uint32_t ra = au_get_u32(&rb);
			uint8_t status = au_get_u8(&rb);
			au_node_id hint = au_get_u32(&rb);
			int64_t v = (int64_t)au_get_u64(&rb);
			uint8_t flag = au_get_u8(&rb);
			if (rb.short_read || type != KV_RESP || rc != client || rs != seq)
				continue;
			if (status == KV_ST_OK) {
				res->ok = true;
				res->value = v;
				res->cas_ok = flag != 0;
				res->served_by = from;
				return EXIT_OK;
			}
			/* Only a refusal of our latest attempt redirects us. */
			if (ra != attempt || from != target)
				continue;
			if (status == KV_ST_RETRY)
				maybe_applied = true;
			next = follow_hint(from, hint, target, nodes, &backoff_ns, last_answer,
					   sizeof(last_answer));
			break;
		}
		target = next;
	}
	g_autoptr(GString) list = g_string_new(NULL);
	if (maybe_applied)
		fprintf(stderr, "aureon-ctl: no acknowledgement within the timeout; the write may or may "
				"not have been applied (at most once). Tried %s; last: %s\n",
			node_list(list, tried, nodes), last_answer);
	else
		fprintf(stderr, "aureon-ctl: no leader answered within the timeout: the cluster has no "
				"quorum or its nodes are down or unreachable. Tried %s; last: %s\n",
			node_list(list, tried, nodes), last_answer);
	return EXIT_UNAVAILABLE;
}


/* ---- drain / resume / submit: requests the leader confirms -------------------------- */


int leader_call(struct ctl *t, const struct leader_call *c, int64_t timeout_ns)
{
	const uint32_t nodes = t->c->nodes;
	au_node_id target = 1 + (au_node_id)(os_random64() % nodes);
	int64_t deadline = mono_ns() + timeout_ns;
	bool proposed = false;
	g_autofree bool *tried = g_new0(bool, nodes + 1);
	char last_answer[160] = "";
	int64_t backoff_ns = 20 * AU_NS_PER_MS;
	while (mono_ns() < deadline) {
		ctl_send(t, target, t->control_tag, c->req, c->req_len);
		tried[target] = true;
		int64_t attempt_end = mono_ns() + ATTEMPT_NS;
		if (attempt_end > deadline)
			attempt_end = deadline;
		au_node_id next = 0;
		for (;;) {
			au_node_id from;
			const uint8_t *p;
			size_t len = ctl_recv(t, attempt_end, t->control_tag, &from, &p);
			if (len == 0) {
				g_snprintf(last_answer, sizeof(last_answer), "n%u did not answer", target);
				next = target % nodes + 1;
				break;
			}
			uint8_t answer;
			au_node_id hint;
			if (from != target || !c->decode(c->ctx, p, len, &answer, &hint))
				continue;
			if (answer == AU_CTL_DONE)
				return EXIT_OK;
			if (answer == AU_CTL_NO_SERVICE) {
				fprintf(stderr, "aureon-ctl: %s: n%u runs no %s service; the cluster file "
						"given here may not be the one the nodes run\n", c->what, from,
					c->service);
				return EXIT_USAGE;
			}
			if (answer == AU_CTL_REFUSED) {
				fprintf(stderr, "aureon-ctl: %s: n%u refused the request\n", c->what, from);
				return EXIT_USAGE;
			}
			if (answer == AU_CTL_CONFLICT) {
				fprintf(stderr, "aureon-ctl: %s: the cluster already has a job with this id and "
						"another specification (pick another job id)\n", c->what);
				return EXIT_FAILED;
			}
			if (answer == AU_CTL_PENDING) {
				/* The leader proposed it, or is confirming it: ask again soon. */
				proposed = true;
				g_snprintf(last_answer, sizeof(last_answer),
					   "n%u (leader) had not confirmed it committed", from);
				next = target;
				g_usleep(50000);
			} else {
				next = follow_hint(from, hint, target, nodes, &backoff_ns, last_answer,
						   sizeof(last_answer));
			}
			break;
		}
		target = next;
	}
	g_autoptr(GString) list = g_string_new(NULL);
	if (proposed)
		fprintf(stderr, "aureon-ctl: %s: proposed, but not confirmed committed within the timeout "
				"(it may still take effect; asking again is safe). Tried %s; last: %s\n",
			c->what, node_list(list, tried, nodes), last_answer);
	else
		fprintf(stderr, "aureon-ctl: %s: no leader answered within the timeout: the cluster has no "
				"quorum or its nodes are down or unreachable. Tried %s; last: %s\n",
			c->what, node_list(list, tried, nodes), last_answer);
	return EXIT_UNAVAILABLE;
}
