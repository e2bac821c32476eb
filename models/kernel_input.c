/* kernel_input.c — a job's generated input (kernels.h), shared between the
 * nodes of one host when the host offers it (env.h, shared_input).
 *
 * Every node that runs or supervises an RQML job needs the same read-only
 * problem (an R-MAT graph, a right-hand side, points), generated from the
 * job's parameters alone.  In the simulator all nodes live in one process,
 * so building it once per parameter set and handing every node the same
 * pointer saves the build on all nodes but one.  The parameters are
 * encoded in a fixed little-endian layout, and that encoding is the
 * content address: its SHA-256 is the key, which the host checks against
 * the bytes.  A host without the op (aureon-node, test fixtures) or one
 * that refuses the key leaves the model to build its own copy, bit for bit
 * the same problem.
 */
#include "kernels.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "sha256.h"

#define SPEC_LEN 48u

static void put_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

size_t au_kernel_spec_encode(const struct au_kernel_params *p, uint8_t out[48])
{
	uint64_t damping;
	memcpy(&damping, &p->damping, sizeof(damping));
	put_le(out, (uint64_t)p->kind);
	put_le(out + 8, p->seed);
	put_le(out + 16, (uint64_t)p->size << 32 | p->edges);
	put_le(out + 24, (uint64_t)p->k << 32 | p->dims);
	put_le(out + 32, p->shards);
	put_le(out + 40, damping);
	return SPEC_LEN;
}

/* The inverse of au_kernel_spec_encode. */
static void spec_decode(const uint8_t *b, struct au_kernel_params *p)
{
	memset(p, 0, sizeof(*p));
	p->kind = (enum au_kernel_kind)get_le(b);
	p->seed = get_le(b + 8);
	uint64_t v = get_le(b + 16);
	p->size = (uint32_t)(v >> 32);
	p->edges = (uint32_t)v;
	v = get_le(b + 24);
	p->k = (uint32_t)(v >> 32);
	p->dims = (uint32_t)v;
	p->shards = (uint32_t)get_le(b + 32);
	v = get_le(b + 40);
	memcpy(&p->damping, &v, sizeof(v));
}

/* build() for the host: a heap problem from the encoded parameters. */
static void *build_shared(const void *spec, size_t len)
{
	if (len != SPEC_LEN)
		return NULL;
	struct au_kernel_params p;
	spec_decode(spec, &p);
	struct au_kernel_problem *kp = calloc(1, sizeof(*kp));
	if (!kp || au_kernel_build(kp, &p, NULL, 0) != 0) {
		free(kp);
		return NULL;
	}
	return kp;
}

/* destroy() for the host. */
static void free_shared(void *obj)
{
	au_kernel_free(obj);
	free(obj);
}

void au_kernel_spec_key(const uint8_t *spec, size_t len, uint8_t key[32])
{
	au_sha256(spec, len, key);
}

const struct au_kernel_problem *au_kernel_acquire(const struct au_env *env,
						  const struct au_kernel_params *p,
						  struct au_kernel_problem *own, bool *owned)
{
	*owned = false;
	if (env && env->ops->shared_input) {
		uint8_t spec[SPEC_LEN], key[32];
		size_t len = au_kernel_spec_encode(p, spec);
		au_kernel_spec_key(spec, len, key);
		const struct au_kernel_problem *kp =
			env->ops->shared_input(env->ctx, key, spec, len, build_shared, free_shared);
		if (kp)
			return kp;
	}
	if (au_kernel_build(own, p, NULL, 0) != 0)
		return NULL;
	*owned = true;
	return own;
}
