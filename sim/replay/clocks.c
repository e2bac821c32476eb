/* clocks.c — placing boots recorded on several hosts on one timeline
 * (see clocks.h).
 *
 * Each boot's anchor says where its time 0 was on its host's
 * CLOCK_REALTIME; hosts' realtime clocks differ by their synchronisation
 * error.  Every datagram matched with its send bounds the difference: it
 * was received after it was sent, so with host offsets O (added to the
 * realtime anchors)
 *
 *     O[dst] - O[src] >= t_send - t_recv      (both on the anchored timeline)
 *
 * The largest such bound from host a to host b is d[a][b]; from both
 * directions the true difference O[b] - O[a] lies in [d[a][b], -d[b][a]].
 * Each host takes the middle of its interval against the reference host
 * (the first host, offset 0), as NTP estimates an offset from a round
 * trip, and then every bound is enforced (longest-path relaxation), so no
 * matched datagram arrives before it left.
 */
#include "sim/replay/clocks.h"

#include <string.h>

#include "sim/replay/replay.h"
#include "wire.h"

#define NO_BOUND INT64_MIN

struct ev {
	uint64_t link;    /* au_replay_link_key */
	uint64_t content; /* au_replay_content_key */
	au_time t;        /* on the realtime-anchored timeline */
	guint boot;
};

struct collect {
	GArray *sends, *recvs; /* struct ev */
	guint boot;
	au_time t; /* the current input's time */
};

uint64_t au_replay_content_key(const void *msg, size_t len)
{
	return (uint64_t)au_crc32c(0, msg, len) << 32 | (uint32_t)len;
}

static void c_send(void *ctx, au_node_id node, uint32_t svc, au_node_id to, const void *msg, size_t len)
{
	struct collect *c = ctx;
	struct ev e = {au_replay_link_key(node, to, svc), au_replay_content_key(msg, len), c->t, c->boot};
	g_array_append_val(c->sends, e);
}

static void c_recv(void *ctx, au_node_id node, uint32_t svc, au_node_id from, const void *msg, size_t len)
{
	struct collect *c = ctx;
	struct ev e = {au_replay_link_key(from, node, svc), au_replay_content_key(msg, len), c->t, c->boot};
	g_array_append_val(c->recvs, e);
}

static gint ev_cmp(gconstpointer a, gconstpointer b)
{
	const struct ev *x = a, *y = b;
	if (x->link != y->link)
		return x->link < y->link ? -1 : 1;
	if (x->content != y->content)
		return x->content < y->content ? -1 : 1;
	return x->t < y->t ? -1 : x->t > y->t;
}

bool au_clocks_place(GPtrArray *boots, int64_t *offset, struct au_clocks_report *rep)
{
	guint n = boots->len;
	memset(rep, 0, sizeof(*rep));
	/* Hosts, by boot id, in order of first appearance. */
	guint *host = g_new0(guint, n);
	const char *ids[AU_CLOCKS_MAX_HOSTS];
	for (guint i = 0; i < n; i++) {
		const struct au_rl_boot *b = boots->pdata[i];
		guint h = 0;
		while (h < rep->hosts && strcmp(ids[h], b->host_id) != 0)
			h++;
		if (h == rep->hosts) {
			if (rep->hosts == AU_CLOCKS_MAX_HOSTS) {
				g_free(host);
				return false;
			}
			rep->first_node[rep->hosts] = b->node;
			ids[rep->hosts++] = b->host_id;
		}
		host[i] = h;
		offset[i] = b->t0_real_ns;
	}
	/* Pass 1: every boot alone, collecting its sends and receives. */
	struct collect c = {g_array_new(FALSE, FALSE, sizeof(struct ev)), g_array_new(FALSE, FALSE, sizeof(struct ev)),
			    0, 0};
	struct au_rb_sink sink = {&c, NULL, NULL, c_send, c_recv};
	for (guint i = 0; i < n; i++) {
		struct au_replay_result res;
		struct au_rb *rb = au_rb_open(boots->pdata[i], &sink, &res);
		if (!rb)
			continue;
		c.boot = i;
		au_time t;
		unsigned type;
		while (au_rb_next(rb, &t, &type) && type != AU_REC_STOP) {
			c.t = offset[i] + t;
			if (!au_rb_feed(rb))
				break;
		}
		au_rb_free(rb);
	}
	/* Match, per link and content, in time order (one host's clock orders
	 * its own sends and receives). */
	g_array_sort(c.sends, ev_cmp);
	g_array_sort(c.recvs, ev_cmp);
	int64_t d[AU_CLOCKS_MAX_HOSTS][AU_CLOCKS_MAX_HOSTS];
	for (guint a = 0; a < AU_CLOCKS_MAX_HOSTS; a++)
		for (guint b = 0; b < AU_CLOCKS_MAX_HOSTS; b++)
			d[a][b] = NO_BOUND;
	for (guint s = 0, r = 0; s < c.sends->len && r < c.recvs->len;) {
		const struct ev *x = &g_array_index(c.sends, struct ev, s), *y = &g_array_index(c.recvs, struct ev, r);
		if (x->link != y->link || x->content != y->content) {
			if (x->link < y->link || (x->link == y->link && x->content < y->content))
				s++;
			else
				r++;
			continue;
		}
		/* The k-th send of these bytes on this link is the k-th receive
		 * of them (lost ones shift this only for repeated bytes). */
		guint ha = host[x->boot], hb = host[y->boot];
		if (ha != hb) {
			int64_t bound = x->t - y->t + 1; /* strictly after: a tie could replay the receive first */
			if (bound > d[ha][hb])
				d[ha][hb] = bound;
			rep->pairs++;
		}
		s++;
		r++;
	}
	g_array_free(c.sends, TRUE);
	g_array_free(c.recvs, TRUE);
	/* Middle of each host's interval against host 0, then every bound. */
	int64_t O[AU_CLOCKS_MAX_HOSTS] = {0};
	for (guint h = 1; h < rep->hosts; h++) {
		int64_t lo = d[0][h], hi = d[h][0] == NO_BOUND ? NO_BOUND : -d[h][0];
		if (lo != NO_BOUND && hi != NO_BOUND)
			O[h] = lo <= hi ? lo + (hi - lo) / 2 : lo;
		else if (lo != NO_BOUND && lo > 0)
			O[h] = lo;
		else if (hi != NO_BOUND && hi < 0)
			O[h] = hi;
	}
	for (guint round = 0; round < rep->hosts; round++)
		for (guint a = 0; a < rep->hosts; a++)
			for (guint b = 0; b < rep->hosts; b++)
				if (a != b && d[a][b] != NO_BOUND && O[b] < O[a] + d[a][b])
					O[b] = O[a] + d[a][b];
	for (guint h = 0; h < rep->hosts; h++)
		rep->offset_ns[h] = O[h];
	int64_t base = INT64_MAX;
	for (guint i = 0; i < n; i++) {
		offset[i] += O[host[i]];
		base = offset[i] < base ? offset[i] : base;
	}
	for (guint i = 0; i < n; i++)
		offset[i] -= base;
	g_free(host);
	return true;
}
