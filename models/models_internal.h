/* models_internal.h — small helpers several models share: allocation that
 * aborts when memory runs out, GTrees keyed by a uint64_t, handing a
 * GByteArray's bytes over as a malloc'd buffer, and picking the replica
 * that applied the most.  For models/ only: not part of any model's API.
 */
#ifndef AU_MODELS_INTERNAL_H
#define AU_MODELS_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "env.h"

/* malloc / calloc (of at least one byte) that abort when out of memory:
 * nothing sensible is left to do then.  Free with free(). */
static inline void *au_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

static inline void *au_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		abort();
	return p;
}

/* GCompareDataFunc of keys that point to uint64_t. */
static inline gint au_u64p_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
	(void)unused;
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* A GTree keyed by pointers to uint64_t (iteration in key order), owning
 * its values through value_free (NULL: not owned). */
static inline GTree *au_u64_tree(GDestroyNotify value_free)
{
	return g_tree_new_full(au_u64p_cmp, NULL, NULL, value_free);
}

/* Move the bytes of `b` into a malloc'd buffer (*out; the caller free()s
 * it) and free `b`: how snapshots built in a GByteArray are handed to
 * Raft.  Returns the length. */
static inline size_t au_bytes_take(GByteArray *b, uint8_t **out)
{
	size_t len = b->len;
	uint8_t *buf = au_xmalloc(len);
	memcpy(buf, b->data, len);
	g_byte_array_free(b, TRUE);
	*out = buf;
	return len;
}

/* The node whose replica applied the most (the lowest such id), among
 * states[1..nodes] (NULL: no replica there); 0 if there is none.
 * `applied` reads a state's applied log index.  End-of-run reports show
 * this replica. */
static inline au_node_id au_most_applied(void *const *states, uint32_t nodes,
					 uint64_t (*applied)(const void *state))
{
	au_node_id best = 0;
	for (au_node_id n = 1; n <= nodes; n++)
		if (states[n] && (!best || applied(states[n]) > applied(states[best])))
			best = n;
	return best;
}

#endif
