/* taskq_map.h — a map from uint64 keys to non-NULL pointers, for the task
 * queue's lookups by id (taskq_internal.h: every task by id).
 *
 * Open addressing with linear probing and backward-shift removal (no
 * tombstones); a slot is its key and its value, a NULL value marking it
 * empty, so any key (0 too) can be stored.  A lookup is one inline hash
 * (splitmix64's finaliser, so clustered ids spread) and, typically, one
 * cache line — the GHashTable it replaces cost a call, a hash call and an
 * equality call per probe.  Never iterated where order matters: slot
 * order is for freeing only.
 */
#ifndef AU_TASKQ_MAP_H
#define AU_TASKQ_MAP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "hash.h"

struct taskq_map_slot {
	uint64_t key;
	void *val; /* NULL: empty */
};

struct taskq_map {
	struct taskq_map_slot *s;
	uint32_t cap; /* a power of two, or 0 before the first put */
	uint32_t len;
};

static inline void taskq_map_free(struct taskq_map *m)
{
	g_free(m->s);
	m->s = NULL;
	m->cap = m->len = 0;
}

/* Forget every entry (the slots are kept). */
static inline void taskq_map_clear(struct taskq_map *m)
{
	if (m->cap)
		memset(m->s, 0, (size_t)m->cap * sizeof(*m->s));
	m->len = 0;
}

static inline uint32_t taskq_map__home(const struct taskq_map *m, uint64_t key)
{
	return (uint32_t)au_hash_mix64(key) & (m->cap - 1);
}

/* The value of `key`, or NULL. */
static inline void *taskq_map_get(const struct taskq_map *m, uint64_t key)
{
	if (m->len == 0)
		return NULL;
	for (uint32_t i = taskq_map__home(m, key);; i = (i + 1) & (m->cap - 1)) {
		const struct taskq_map_slot *s = &m->s[i];
		if (!s->val)
			return NULL;
		if (s->key == key)
			return s->val;
	}
}

static inline void taskq_map__grow(struct taskq_map *m)
{
	struct taskq_map old = *m;
	m->cap = old.cap ? old.cap * 2 : 64;
	m->s = g_new0(struct taskq_map_slot, m->cap);
	for (uint32_t j = 0; j < old.cap; j++) {
		if (!old.s[j].val)
			continue;
		uint32_t i = taskq_map__home(m, old.s[j].key);
		while (m->s[i].val)
			i = (i + 1) & (m->cap - 1);
		m->s[i] = old.s[j];
	}
	g_free(old.s);
}

/* Map `key` to val (not NULL), replacing what it mapped to. */
static inline void taskq_map_put(struct taskq_map *m, uint64_t key, void *val)
{
	if ((m->len + 1) * 4 > m->cap * 3) /* load at most 3/4 */
		taskq_map__grow(m);
	uint32_t i = taskq_map__home(m, key);
	for (; m->s[i].val; i = (i + 1) & (m->cap - 1))
		if (m->s[i].key == key) {
			m->s[i].val = val;
			return;
		}
	m->s[i].key = key;
	m->s[i].val = val;
	m->len++;
}

/* Remove `key`; false if it was absent. */
static inline bool taskq_map_remove(struct taskq_map *m, uint64_t key)
{
	if (m->len == 0)
		return false;
	uint32_t mask = m->cap - 1, i = taskq_map__home(m, key);
	for (;; i = (i + 1) & mask) {
		if (!m->s[i].val)
			return false;
		if (m->s[i].key == key)
			break;
	}
	/* Backward shift: move later members of the probe run into the hole
	 * unless their home lies cyclically in (hole, them]. */
	for (uint32_t j = (i + 1) & mask; m->s[j].val; j = (j + 1) & mask) {
		uint32_t h = taskq_map__home(m, m->s[j].key);
		bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
		if (stays)
			continue;
		m->s[i] = m->s[j];
		i = j;
	}
	m->s[i].val = NULL;
	m->len--;
	return true;
}

#endif
