/* net.c — the simulated network: per-message latency from the scenario's
 * distribution, optional bandwidth (serialisation delay, FIFO per link),
 * loss, duplication, corruption, partitions (symmetric and one-way) and
 * clogs.  Reordering is not a separate knob: it emerges from latency
 * jitter.  Payloads are copied at send; no bytes are shared between nodes.
 * The copies live in blocks of the run's own pool (power-of-two sizes,
 * reused once delivered), not one malloc each.
 * Every random choice is drawn from the sender's network stream.
 */
#include "sim_internal.h"

#include <string.h>

void au_net_update_plain(struct au_sim *sim)
{
	const struct au_scenario *sc = sim->sc;
	sim->net_plain = sc->loss == 0.0 && sc->duplicate == 0.0 && sc->bandwidth_bps == 0 &&
			 sim->partitions->len == 0 && sim->link_faults->len == 0;
}

static bool partitioned(const struct au_sim *sim, au_node_id src, au_node_id dst)
{
	for (guint i = 0; i < sim->partitions->len; i++) {
		const struct au_partition *p = g_ptr_array_index(sim->partitions, i);
		uint32_t gs = p->group_of[src], gd = p->group_of[dst];
		if (gs == 0 || gd == 0 || gs == gd)
			continue;
		if (!p->oneway || (gs == 1 && gd == 2))
			return true;
	}
	return false;
}

static bool link_matches(const struct au_link_fault *lf, au_node_id src, au_node_id dst)
{
	if (lf->is_link)
		return (src == lf->a && dst == lf->b) || (src == lf->b && dst == lf->a);
	return src == lf->a || dst == lf->a;
}

static bool draw(struct au_pcg32 *rng, double p)
{
	if (p <= 0.0)
		return false;
	if (p >= 1.0)
		return true;
	return au_pcg32_unit(rng) < p;
}

/* The pool class of an out-of-line payload of `len` bytes
 * (AU_EVQ_INLINE < len <= AU_MSG_MAX). */
static inline unsigned pay_class(size_t len)
{
	unsigned bits = 64u - (unsigned)__builtin_clzll((unsigned long long)(len - 1));
	return bits > AU_PAY_MIN_SHIFT ? bits - AU_PAY_MIN_SHIFT : 0;
}

_Static_assert(AU_MSG_MAX <= (1u << (AU_PAY_MIN_SHIFT + AU_PAY_CLASSES - 1)),
	       "the largest message fits the largest payload block");

static void *pay_alloc(struct au_sim *sim, size_t len)
{
	unsigned c = pay_class(len);
	void *b = sim->pay_free[c];
	if (b) {
		memcpy(&sim->pay_free[c], b, sizeof(void *));
		return b;
	}
	return g_malloc((size_t)1 << (c + AU_PAY_MIN_SHIFT));
}

void au_msg_free_payload(struct au_sim *sim, struct au_event *ev)
{
	if (ev->type != AU_EV_DELIVER || (ev->flags & AU_EVF_INLINE))
		return;
	unsigned c = pay_class(ev->len);
	memcpy(ev->u.ref.p, &sim->pay_free[c], sizeof(void *));
	sim->pay_free[c] = ev->u.ref.p;
	ev->u.ref.p = NULL;
}

/* Build a delivery event carrying a private copy of the payload. */
static void make_delivery(struct au_sim *sim, struct au_event *ev, struct au_sim_svc *svc,
			  au_node_id to, au_time now, const void *msg, size_t len)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = AU_EV_DELIVER;
	ev->service = (uint8_t)svc->index;
	ev->node = to;
	ev->aux = svc->node;
	ev->len = (uint32_t)len;
	ev->a = now;
	if (len <= AU_EVQ_INLINE) {
		ev->flags = AU_EVF_INLINE;
		memcpy(ev->u.inl, msg, len);
	} else {
		ev->u.ref.p = pay_alloc(sim, len);
		memcpy(ev->u.ref.p, msg, len);
	}
}

static uint8_t *payload_of(struct au_event *ev)
{
	return (ev->flags & AU_EVF_INLINE) ? ev->u.inl : ev->u.ref.p;
}

static au_time departure(struct au_sim *sim, au_node_id src, au_node_id dst, size_t len)
{
	uint64_t bps = sim->sc->bandwidth_bps;
	if (bps == 0)
		return sim->now;
	if (!sim->link_free)
		sim->link_free = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	gint64 key = ((gint64)src << 32) | dst;
	au_time *free_at = g_hash_table_lookup(sim->link_free, &key);
	if (!free_at) {
		gint64 *k = g_new(gint64, 1);
		*k = key;
		free_at = g_new(au_time, 1);
		*free_at = 0;
		g_hash_table_insert(sim->link_free, k, free_at);
	}
	au_time start = *free_at > sim->now ? *free_at : sim->now;
	au_u128 bits = (au_u128)len * 8u * 1000000000u;
	au_time ser = (au_time)((bits + bps - 1) / bps);
	*free_at = start + ser;
	return start + ser;
}

/* Schedule one copy: apply clogs (delay or hold), then push. */
static void schedule_copy(struct au_sim *sim, au_time arrive, struct au_event *ev)
{
	au_node_id src = ev->aux, dst = ev->node;
	for (guint i = 0; i < sim->link_faults->len; i++) {
		struct au_link_fault *lf = g_ptr_array_index(sim->link_faults, i);
		if (lf->action != AU_FAULT_CLOG || !link_matches(lf, src, dst))
			continue;
		if (lf->extra < 0) {
			struct au_deferred d = {arrive, *ev};
			g_array_append_val(lf->held, d);
			return;
		}
		arrive += lf->extra;
	}
	au_sim_push(sim, arrive, ev);
}

int au_net_send(struct au_sim *sim, struct au_sim_svc *svc, au_node_id to, const void *msg,
		size_t len)
{
	au_node_id src = svc->node;
	struct au_sim_node *nd = &sim->node[src];
	if (to == 0 || to > sim->nodes || len == 0 || len > AU_MSG_MAX || !msg) {
		au_sim_record_event(sim, src, AU_TR_SEND_REJECTED, to, (int64_t)len, 0);
		return len > AU_MSG_MAX ? -AU_EMSGSIZE : -AU_EINVAL;
	}
	nd->msgs_out++;
	sim->stats.messages_sent++;
	const struct au_scenario *sc = sim->sc;
	struct au_event ev;
	if (sim->net_plain) {
		au_time lat = au_dist_sample(&sc->latency, &nd->net_rng);
		make_delivery(sim, &ev, svc, to, sim->now, msg, len);
		au_sim_push(sim, sim->now + lat, &ev);
		return 0;
	}
	uint8_t type = *(const uint8_t *)msg;
	if (partitioned(sim, src, to)) {
		au_sim_record_message(sim, sim->now, -1, src, to, (uint8_t)svc->index, type,
				      (uint32_t)len, AU_FATE_PARTITIONED);
		return 0;
	}
	/* Independent loss sources combine: keep = (1-base) * prod(1-fault). */
	double keep = 1.0 - sc->loss, corrupt_keep = 1.0, single = 1.0;
	for (guint i = 0; i < sim->link_faults->len; i++) {
		const struct au_link_fault *lf = g_ptr_array_index(sim->link_faults, i);
		if (!link_matches(lf, src, to))
			continue;
		if (lf->action == AU_FAULT_LOSS)
			keep *= 1.0 - lf->rate;
		else if (lf->action == AU_FAULT_CORRUPT)
			corrupt_keep *= 1.0 - lf->rate;
		else if (lf->action == AU_FAULT_DUPLICATE)
			single *= 1.0 - lf->rate;
	}
	if (draw(&nd->net_rng, 1.0 - keep)) {
		au_sim_record_message(sim, sim->now, -1, src, to, (uint8_t)svc->index, type,
				      (uint32_t)len, AU_FATE_DROPPED);
		return 0;
	}
	/* Without a duplicate fault on the link the base probability is used
	 * as it is (bit-exact: 1 - (1 - p) need not equal p). */
	double dup = single == 1.0 ? sc->duplicate : 1.0 - (1.0 - sc->duplicate) * single;
	int copies = draw(&nd->net_rng, dup) ? 2 : 1;
	au_time leave = departure(sim, src, to, len);
	for (int c = 0; c < copies; c++) {
		make_delivery(sim, &ev, svc, to, sim->now, msg, len);
		if (c == 1)
			ev.flags |= AU_EVF_DUP;
		if (draw(&nd->net_rng, 1.0 - corrupt_keep)) {
			uint32_t bit = au_pcg32_below(&nd->net_rng, (uint32_t)len * 8u);
			payload_of(&ev)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			ev.flags |= AU_EVF_CORRUPT;
		}
		au_time lat = au_dist_sample(&sc->latency, &nd->net_rng);
		schedule_copy(sim, leave + lat, &ev);
	}
	return 0;
}

void au_net_deliver(struct au_sim *sim, struct au_event *ev)
{
	au_node_id dst = ev->node, src = ev->aux;
	struct au_sim_node *nd = &sim->node[dst];
	uint8_t *payload = payload_of(ev);
	enum au_fate fate = AU_FATE_DELIVERED;
	if (!nd->up || !nd->svc[ev->service].state)
		fate = AU_FATE_DST_DOWN; /* crashed, or the service does not run there */
	else if (sim->partitions->len && partitioned(sim, src, dst))
		fate = AU_FATE_PARTITIONED; /* the cut started while in flight */
	else if (ev->flags & AU_EVF_CORRUPT)
		fate = AU_FATE_CORRUPTED;
	else if (ev->flags & AU_EVF_DUP)
		fate = AU_FATE_DUPLICATED;
	bool arrives = fate != AU_FATE_DST_DOWN && fate != AU_FATE_PARTITIONED;
	au_sim_record_message(sim, ev->a, arrives ? sim->now : -1, src, dst, ev->service,
			      payload[0], ev->len, fate);
	if (arrives) {
		nd->msgs_in++;
		struct au_sim_svc *s = &nd->svc[ev->service];
		sim->delivering_from = src; /* who served what a client records now */
		sim->sc->cluster.services[ev->service]->recv(s->state, src, payload, ev->len);
		sim->delivering_from = 0;
	}
	au_msg_free_payload(sim, ev);
}

void au_net_release_held(struct au_sim *sim, struct au_link_fault *lf)
{
	if (!lf->held)
		return;
	for (guint i = 0; i < lf->held->len; i++) {
		struct au_deferred *d = &g_array_index(lf->held, struct au_deferred, i);
		au_sim_push(sim, d->t > sim->now ? d->t : sim->now, &d->ev);
	}
	g_array_set_size(lf->held, 0);
}

void au_net_free(struct au_sim *sim)
{
	for (guint i = 0; i < sim->partitions->len; i++) {
		struct au_partition *p = g_ptr_array_index(sim->partitions, i);
		g_free(p->group_of);
		g_free(p);
	}
	g_ptr_array_free(sim->partitions, TRUE);
	for (guint i = 0; i < sim->link_faults->len; i++) {
		struct au_link_fault *lf = g_ptr_array_index(sim->link_faults, i);
		if (lf->held) {
			for (guint j = 0; j < lf->held->len; j++)
				au_msg_free_payload(sim, &g_array_index(lf->held, struct au_deferred, j).ev);
			g_array_free(lf->held, TRUE);
		}
		g_free(lf);
	}
	g_ptr_array_free(sim->link_faults, TRUE);
	if (sim->link_free)
		g_hash_table_destroy(sim->link_free);
	for (unsigned c = 0; c < AU_PAY_CLASSES; c++)
		for (void *b = sim->pay_free[c], *next; b; b = next) {
			memcpy(&next, b, sizeof(void *));
			g_free(b);
		}
}
