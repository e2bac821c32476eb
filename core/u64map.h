/* u64map.h — a map from uint64 keys to small fixed-size values: the
 * checkers' per-record state (tasks, leases and locks by id; check_exec.c)
 * and the task queue's tasks by id (taskq_internal.h, a pointer each).
 *
 * Open addressing with linear probing and backward-shift removal (no
 * tombstones); values live inline beside their key, so a lookup is one
 * hash and, typically, one cache line — GHashTable with boxed int64 keys
 * cost a call, a hash call and an equality call per probe, plus an
 * allocation per entry.  The hash mixes the key (splitmix64's finaliser),
 * so clustered ids spread.  Any key, 0 too, can be stored.
 *
 * A value pointer stays valid until the next put or remove on the map.
 * Iterating (slot order) depends only on the keys and the order of puts
 * and removes, never on addresses; a user whose result depends on an
 * order still sorts (the checkers take minima or sort by key; the task
 * queue never iterates it).
 */
#ifndef AU_U64MAP_H
#define AU_U64MAP_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hash.h"

struct au_u64map {
	uint8_t *slots;  /* cap slots of `stride` bytes: the key, then the value */
	uint8_t *used;   /* cap flags */
	uint32_t cap;    /* a power of two, or 0 before the first put */
	uint32_t len;
	uint32_t stride;
};

/* An empty map of values of `vsize` bytes. */
static inline void au_u64map_init(struct au_u64map *m, size_t vsize)
{
	memset(m, 0, sizeof(*m));
	m->stride = (uint32_t)(sizeof(uint64_t) + ((vsize + 7u) & ~(size_t)7u));
}

static inline void au_u64map_free(struct au_u64map *m)
{
	g_free(m->slots);
	g_free(m->used);
	m->slots = m->used = NULL;
	m->cap = m->len = 0;
}

static inline uint32_t au_u64map__home(const struct au_u64map *m, uint64_t key)
{
	return (uint32_t)au_hash_mix64(key) & (m->cap - 1);
}

static inline uint64_t au_u64map_key(const struct au_u64map *m, uint32_t slot)
{
	uint64_t k;
	memcpy(&k, m->slots + (size_t)slot * m->stride, sizeof(k));
	return k;
}

static inline void *au_u64map_value(const struct au_u64map *m, uint32_t slot)
{
	return m->slots + (size_t)slot * m->stride + sizeof(uint64_t);
}

/* The value of `key`, or NULL. */
static inline void *au_u64map_get(const struct au_u64map *m, uint64_t key)
{
	if (m->len == 0)
		return NULL;
	for (uint32_t i = au_u64map__home(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (!m->used[i])
			return NULL;
		if (au_u64map_key(m, i) == key)
			return au_u64map_value(m, i);
	}
}

static inline void au_u64map__grow(struct au_u64map *m)
{
	struct au_u64map old = *m;
	m->cap = old.cap ? old.cap * 2 : 16;
	m->len = 0;
	m->slots = g_malloc((size_t)m->cap * m->stride);
	m->used = g_malloc0(m->cap);
	for (uint32_t s = 0; s < old.cap; s++) {
		if (!old.used[s])
			continue;
		uint64_t k = au_u64map_key(&old, s);
		uint32_t i = au_u64map__home(m, k);
		while (m->used[i])
			i = (i + 1) & (m->cap - 1);
		m->used[i] = 1;
		memcpy(m->slots + (size_t)i * m->stride, old.slots + (size_t)s * old.stride, m->stride);
		m->len++;
	}
	g_free(old.slots);
	g_free(old.used);
}

/* The value of `key`, added (zeroed) if absent; *fresh (if given) says
 * whether it was. */
static inline void *au_u64map_put(struct au_u64map *m, uint64_t key, bool *fresh)
{
	if ((m->len + 1) * 4 > m->cap * 3) /* load at most 3/4 */
		au_u64map__grow(m);
	uint32_t i = au_u64map__home(m, key);
	for (; m->used[i]; i = (i + 1) & (m->cap - 1))
		if (au_u64map_key(m, i) == key) {
			if (fresh)
				*fresh = false;
			return au_u64map_value(m, i);
		}
	m->used[i] = 1;
	memcpy(m->slots + (size_t)i * m->stride, &key, sizeof(key));
	memset(au_u64map_value(m, i), 0, m->stride - sizeof(uint64_t));
	m->len++;
	if (fresh)
		*fresh = true;
	return au_u64map_value(m, i);
}

/* Remove `key`; false if it was absent. */
static inline bool au_u64map_remove(struct au_u64map *m, uint64_t key)
{
	if (m->len == 0)
		return false;
	uint32_t mask = m->cap - 1, i = au_u64map__home(m, key);
	for (;; i = (i + 1) & mask) {
		if (!m->used[i])
			return false;
		if (au_u64map_key(m, i) == key)
			break;
	}
	/* Backward shift: move later members of the probe run into the hole
	 * when their home does not lie cyclically in (hole, them]. */
	for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
		if (!m->used[j])
			break;
		uint32_t h = au_u64map__home(m, au_u64map_key(m, j));
		bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
		if (stays)
			continue;
		memcpy(m->slots + (size_t)i * m->stride, m->slots + (size_t)j * m->stride, m->stride);
		i = j;
	}
	m->used[i] = 0;
	m->len--;
	return true;
}

/* Remove every key (the memory stays). */
static inline void au_u64map_clear(struct au_u64map *m)
{
	if (m->cap)
		memset(m->used, 0, m->cap);
	m->len = 0;
}

#endif
