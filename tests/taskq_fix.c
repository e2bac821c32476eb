/* taskq_fix.c — see taskq_fix.h. */
#include "taskq_fix.h"

#include <check.h>

static void record_ev(void *ctx, const struct au_taskq_event *ev)
{
	struct qfix *f = ctx;
	struct au_taskq_event e = *ev;
	e.task = NULL;
	g_array_append_val(f->events, e);
}

void qfix_init(struct qfix *f)
{
	f->q = au_taskq_new(NULL);
	f->index = 0;
	au_taskq_batch_init(&f->b);
	f->events = g_array_new(FALSE, FALSE, sizeof(struct au_taskq_event));
	ck_assert_int_eq(au_taskq_observe(f->q, record_ev, f), 0);
}

void qfix_free(struct qfix *f)
{
	au_taskq_free(f->q);
	au_taskq_batch_free(&f->b);
	g_array_free(f->events, TRUE);
}

void qfix_commit(struct qfix *f)
{
	g_array_set_size(f->events, 0);
	int n = au_taskq_apply(f->q, ++f->index, f->b.buf, f->b.len);
	ck_assert_int_eq(n, (int)f->b.ops);
	au_taskq_batch_reset(&f->b);
}
