/* node_timers.c — aureon-node's model timers: a heap ordered by (deadline,
 * arming order) behind one timerfd (see node.h). */
#include "node_internal.h"

/* ---- timers: a heap behind one timerfd --------------------------------- */

static bool tmr_less(const struct tmr *a, const struct tmr *b)
{
	return a->due != b->due ? a->due < b->due : a->handle < b->handle;
}

void au_node__heap_push(GArray *h, const struct tmr *t)
{
	g_array_append_val(h, *t);
	struct tmr *a = (struct tmr *)(void *)h->data;
	for (guint i = h->len - 1; i > 0;) {
		guint p = (i - 1) / 2;
		if (!tmr_less(&a[i], &a[p]))
			break;
		struct tmr x = a[i];
		a[i] = a[p];
		a[p] = x;
		i = p;
	}
}

static struct tmr heap_pop(GArray *h)
{
	struct tmr *a = (struct tmr *)(void *)h->data;
	struct tmr top = a[0];
	a[0] = a[h->len - 1];
	g_array_set_size(h, h->len - 1);
	for (guint i = 0;;) {
		guint l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->len && tmr_less(&a[l], &a[m]))
			m = l;
		if (r < h->len && tmr_less(&a[r], &a[m]))
			m = r;
		if (m == i)
			break;
		struct tmr x = a[i];
		a[i] = a[m];
		a[m] = x;
		i = m;
	}
	return top;
}

/* Point the timerfd at the earliest live deadline. */
void au_node__rearm(struct au_node *n)
{
	while (n->heap->len) {
		const struct tmr *top = &g_array_index(n->heap, struct tmr, 0);
		if (g_hash_table_contains(n->live, (gpointer)(uintptr_t)top->handle))
			break;
		heap_pop(n->heap); /* cancelled: discard lazily */
	}
	au_time due = n->heap->len ? g_array_index(n->heap, struct tmr, 0).due : INT64_MAX;
	if (due == n->armed_due || n->tfd < 0)
		return;
	n->armed_due = due;
	struct itimerspec its = {0};
	if (due != INT64_MAX) {
		/* Absolute CLOCK_MONOTONIC time; a deadline in the past fires at once. */
		int64_t abs_ns = (int64_t)n->t0.tv_sec * AU_NS_PER_S + n->t0.tv_nsec + (due > 0 ? due : 0);
		if (abs_ns <= 0)
			abs_ns = 1;
		its.it_value.tv_sec = abs_ns / AU_NS_PER_S;
		its.it_value.tv_nsec = abs_ns % AU_NS_PER_S;
	}
	if (timerfd_settime(n->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		au_node__log(n, true, "timerfd_settime: %s", g_strerror(errno));
}

void au_node_run_timers(struct au_node *n)
{
	au_time now = au_node__now(n);
	for (unsigned fired = 0; fired < TIMERS_PER_WAKE && n->heap->len && n->running;) {
		const struct tmr *top = &g_array_index(n->heap, struct tmr, 0);
		if (top->due > now)
			break;
		struct tmr t = heap_pop(n->heap);
		if (!g_hash_table_remove(n->live, (gpointer)(uintptr_t)t.handle))
			continue; /* cancelled */
		fired++;
		n->m.timers_fired++;
		struct svc *s = &n->svcs[t.svc];
		if (n->rec) {
			au_rec_begin(n->rec, AU_REC_TIMER, now);
			au_rec_uv(n->rec, t.svc);
			au_rec_uv(n->rec, t.kind);
			au_rec_uv(n->rec, t.arg);
		}
		s->model->timer(s->state, t.kind, t.arg);
		if (n->rec)
			au_node__rec_end(n);
	}
	n->armed_due = -1; /* force a re-arm: the timerfd expired */
	au_node__rearm(n);
}

gboolean au_node__on_timerfd(gint fd, GIOCondition cond, gpointer data)
{
	(void)cond;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		au_node__log(data, true, "timerfd read: %s", g_strerror(errno));
	au_node_run_timers(data);
	au_node__rec_flush(data);
	return G_SOURCE_CONTINUE;
}
