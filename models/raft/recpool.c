/* recpool.c — chunks that hold a Raft node's small log records (see
 * recpool.h for why and how). */
#include "recpool.h"

#include <assert.h>

#include <glib.h>

struct rec_chunk {
	uint32_t live; /* records cut from it and not yet freed */
	uint32_t used; /* bytes cut from data */
	uint8_t data[];
};

uint8_t *au_raft__rec_alloc(struct rec_pool *p, size_t len, struct rec_chunk **chunk)
{
	if (len > REC_SMALL_MAX) {
		*chunk = NULL;
		return g_malloc(len ? len : 1);
	}
	uint32_t size = ((uint32_t)len + 7u) & ~7u;
	struct rec_chunk *c = p->cur;
	if (!c || c->used + size > REC_CHUNK_BYTES) {
		if (c && c->live == 0) {
			c->used = 0; /* empty: cut from its start again */
		} else {
			/* A full chunk with live records is freed by its last
			 * one (au_raft__rec_free: it is no longer current). */
			c = g_malloc(sizeof(*c) + REC_CHUNK_BYTES);
			c->live = 0;
			c->used = 0;
			p->cur = c;
			p->chunks++;
		}
	}
	uint8_t *rec = c->data + c->used;
	c->used += size;
	c->live++;
	*chunk = c;
	return rec;
}

void au_raft__rec_free(struct rec_pool *p, uint8_t *rec, struct rec_chunk *c)
{
	if (!c) {
		g_free(rec);
		return;
	}
	assert(c->live > 0 && rec >= c->data && rec < c->data + c->used);
	if (--c->live)
		return;
	if (c == p->cur) {
		c->used = 0; /* kept: records are cut from it again */
	} else {
		g_free(c);
		p->chunks--;
	}
}

void au_raft__rec_pool_clear(struct rec_pool *p)
{
	if (p->cur) {
		assert(p->cur->live == 0);
		g_free(p->cur);
		p->chunks--;
	}
	p->cur = NULL;
}
