/* shared.c — read-only inputs shared by every node of a run (env.h,
 * shared_input): the simulator builds each one once per specification.
 *
 * Entries are filed under the SHA-256 of their specification bytes; a
 * request whose key does not match its bytes is refused (the model then
 * builds its own), and a hit compares the bytes too, so two specifications
 * never share an object.  Objects live until the run ends.  Building is
 * host CPU only: no event, no random draw, so sharing leaves every trace
 * as it was.
 */
#include "sim_internal.h"

#include <string.h>

struct shared_entry {
	uint8_t key[32];
	uint8_t *spec;
	size_t spec_len;
	void *obj;
	void (*destroy)(void *obj);
};

static guint key_hash(gconstpointer k)
{
	guint h;
	memcpy(&h, k, sizeof(h));
	return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
	return memcmp(a, b, 32) == 0;
}

static void entry_free(gpointer p)
{
	struct shared_entry *e = p;
	if (e->destroy)
		e->destroy(e->obj);
	g_free(e->spec);
	g_free(e);
}

const void *au_sim_shared_input(struct au_sim *sim, const uint8_t key[32], const void *spec,
				size_t spec_len, void *(*build)(const void *spec, size_t len),
				void (*destroy)(void *obj))
{
	if (!key || !build || (!spec && spec_len))
		return NULL;
	uint8_t want[32];
	au_sha256(spec, spec_len, want);
	if (memcmp(want, key, 32) != 0)
		return NULL; /* the key is not the bytes' digest */
	if (!sim->shared)
		sim->shared = g_hash_table_new_full(key_hash, key_equal, NULL, entry_free);
	struct shared_entry *e = g_hash_table_lookup(sim->shared, key);
	if (e) {
		if (e->spec_len != spec_len || memcmp(e->spec, spec, spec_len) != 0)
			return NULL;
		sim->stats.shared_hits++;
		return e->obj;
	}
	void *obj = build(spec, spec_len);
	if (!obj)
		return NULL;
	e = g_new0(struct shared_entry, 1);
	memcpy(e->key, key, 32);
	e->spec = g_memdup2(spec, spec_len);
	e->spec_len = spec_len;
	e->obj = obj;
	e->destroy = destroy;
	g_hash_table_insert(sim->shared, e->key, e);
	sim->stats.shared_builds++;
	return obj;
}

void au_sim_shared_free(struct au_sim *sim)
{
	if (sim->shared)
		g_hash_table_destroy(sim->shared);
	sim->shared = NULL;
}
