/* gen.c — the plan generator's draws (every one from the seed's
 * AU_STREAM_CHAOS stream, on a 1 ms grid) and the bookkeeping that keeps
 * explicit faults from contradicting each other (see plan_internal.h).
 * Shared by plan.c and orders.c.
 */
#include "plan_internal.h"

uint64_t au_gen_next64(struct gen *g)
{
	uint64_t hi = au_pcg32_next(&g->rng);
	return hi << 32 | au_pcg32_next(&g->rng);
}

uint32_t au_gen_below(struct gen *g, uint32_t n)
{
	return n ? au_pcg32_below(&g->rng, n) : 0;
}

bool au_gen_chance(struct gen *g, uint32_t percent)
{
	return au_gen_below(g, 100) < percent;
}

/* Uniform on the 1 ms grid in [lo, hi]; lo if hi <= lo. */
au_time au_gen_time_in(struct gen *g, au_time lo, au_time hi)
{
	au_time lo_ms = (lo + AU_NS_PER_MS - 1) / AU_NS_PER_MS, hi_ms = hi / AU_NS_PER_MS;
	if (hi_ms <= lo_ms)
		return lo_ms * AU_NS_PER_MS;
	return (lo_ms + (au_time)(au_gen_next64(g) % (uint64_t)(hi_ms - lo_ms + 1))) * AU_NS_PER_MS;
}

bool au_gen_busy_at(struct gen *g, au_node_id n, au_time from, au_time to)
{
	GArray *b = g->busy[n];
	for (guint i = 0; i < b->len; i++) {
		const struct span *s = &g_array_index(b, struct span, i);
		if (from <= s->to && s->from <= to)
			return true;
	}
	return false;
}

void au_gen_mark_busy(struct gen *g, au_node_id n, au_time from, au_time to)
{
	struct span s = {from, to};
	g_array_append_val(g->busy[n], s);
}

au_node_id au_gen_any_node(struct gen *g)
{
	return 1 + au_gen_below(g, g->servers);
}

struct au_fault *au_gen_add_fault(struct gen *g, enum au_chaos_kind kind,
				  enum au_fault_action action, au_time at)
{
	struct au_fault f = {0};
	f.action = action;
	f.at = at;
	f.until = -1;
	f.restart_after = -1;
	f.extra = -1;
	f.slow_extra = 100 * AU_NS_PER_MS;
	g_array_append_val(g->faults, f);
	uint8_t k = (uint8_t)kind, no = 0;
	g_array_append_val(g->kinds, k);
	g_array_append_val(g->chained, no);
	return &g_array_index(g->faults, struct au_fault, g->faults->len - 1);
}
