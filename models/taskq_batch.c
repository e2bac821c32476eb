/* taskq_batch.c — commands of the task queue: batches of operations
 * (taskq.h) built by the leader's front end, and the walk that validates
 * and applies them.  The lock machine (lock.c) uses the same format with
 * its own operation codes.
 *
 * Format (little-endian): u32 op count, then per operation
 * [u8 code][u32 body length][body].
 */
#include "taskq.h"

#include <string.h>

#include <glib.h>

#include "taskq_internal.h"
#include "trace_kinds.h"
#include "wire.h"

void au_taskq_batch_init(struct au_taskq_batch *b)
{
	memset(b, 0, sizeof(*b));
	au_taskq_batch_reset(b);
}

void au_taskq_batch_reset(struct au_taskq_batch *b)
{
	if (b->cap < 64) {
		b->cap = 1024;
		b->buf = g_realloc(b->buf, b->cap);
	}
	memset(b->buf, 0, 4);
	b->len = 4;
	b->ops = 0;
}

void au_taskq_batch_free(struct au_taskq_batch *b)
{
	g_free(b->buf);
	memset(b, 0, sizeof(*b));
}

int au_taskq_batch_append(struct au_taskq_batch *b, uint8_t code, const void *body, size_t len)
{
	if (len > UINT32_MAX / 2)
		return -AU_EINVAL;
	size_t need = b->len + 5 + len;
	if (need > b->cap) {
		while (b->cap < need)
			b->cap *= 2;
		b->buf = g_realloc(b->buf, b->cap);
	}
	b->buf[b->len] = code;
	for (int i = 0; i < 4; i++)
		b->buf[b->len + 1 + i] = (uint8_t)(len >> (8 * i));
	if (len)
		memcpy(b->buf + b->len + 5, body, len);
	b->len = need;
	b->ops++;
	for (int i = 0; i < 4; i++)
		b->buf[i] = (uint8_t)(b->ops >> (8 * i));
	return 0;
}

int au_taskq_batch_walk(const uint8_t *cmd, size_t len,
			bool (*op)(void *ctx, uint8_t code, const uint8_t *body, size_t len),
			void *ctx)
{
	struct au_rbuf rb;
	au_rbuf_init(&rb, cmd, len);
	uint32_t n = au_get_u32(&rb);
	if (rb.short_read)
		return -AU_ECORRUPT;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t code = au_get_u8(&rb);
		uint32_t blen = au_get_u32(&rb);
		if (rb.short_read || blen > len - rb.pos || !op(ctx, code, cmd + rb.pos, blen))
			return -AU_ECORRUPT;
		rb.pos += blen;
	}
	return rb.pos == len ? (int)n : -AU_ECORRUPT;
}

int au_taskq_batch_check(const struct au_env *env, uint16_t entry_kind, uint64_t index,
			 uint64_t chain, const uint8_t *cmd, size_t len,
			 bool (*op)(void *ctx, uint8_t code, const uint8_t *body, size_t len),
			 void *ctx)
{
	int n = au_taskq_batch_walk(cmd, len, op, ctx);
	if (!env)
		return n;
	if (n < 0)
		au_trace(env, AU_TR_MODEL_BAD_MESSAGE, 0, (int64_t)len, (int64_t)index);
	else
		au_trace(env, entry_kind, (int64_t)index, (int64_t)chain, n);
	return n;
}

int au_taskq_add_enqueue(struct au_taskq_batch *b, const struct au_task_spec *t)
{
	if (t->id == 0 || t->rounds == 0 || t->payload_len > AU_TASKQ_PAYLOAD_MAX ||
	    (t->payload_len && !t->payload))
		return -AU_EINVAL;
	uint8_t buf[64 + AU_TASKQ_PAYLOAD_MAX];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u64(&w, t->id);
	au_put_u32(&w, t->kind);
	au_put_u32(&w, t->topic);
	au_put_u32(&w, (uint32_t)t->priority);
	au_put_u32(&w, t->caps);
	au_put_u32(&w, t->max_retries);
	au_put_u32(&w, t->rounds);
	au_put_u32(&w, t->payload_len);
	au_put_bytes(&w, t->payload, t->payload_len);
	if (t->job)
		au_put_u64(&w, t->job); /* absent for job 0: the old encoding */
	return au_taskq_batch_append(b, OP_ENQ, buf, w.len);
}

/* An operation whose body is one nonzero u64 (cancel, requeue). */
static int add_u64_op(struct au_taskq_batch *b, uint8_t code, uint64_t v)
{
	if (v == 0)
		return -AU_EINVAL;
	uint8_t buf[8];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u64(&w, v);
	return au_taskq_batch_append(b, code, buf, w.len);
}

int au_taskq_add_cancel(struct au_taskq_batch *b, uint64_t job)
{
	return add_u64_op(b, OP_CANCEL, job);
}

int au_taskq_add_requeue(struct au_taskq_batch *b, uint64_t id)
{
	return add_u64_op(b, OP_REQUEUE, id);
}

int au_taskq_add_lease(struct au_taskq_batch *b, au_node_id node, uint32_t inc, uint32_t caps,
		       uint32_t want, au_time deadline_ns)
{
	uint8_t buf[32];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u32(&w, node);
	au_put_u32(&w, inc);
	au_put_u32(&w, caps);
	au_put_u32(&w, want);
	au_put_u64(&w, (uint64_t)deadline_ns);
	return au_taskq_batch_append(b, OP_LEASE, buf, w.len);
}

int au_taskq_add_renew(struct au_taskq_batch *b, au_node_id node, uint64_t id, uint64_t token,
		       au_time deadline_ns)
{
	uint8_t buf[32];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u32(&w, node);
	au_put_u64(&w, id);
	au_put_u64(&w, token);
	au_put_u64(&w, (uint64_t)deadline_ns);
	return au_taskq_batch_append(b, OP_RENEW, buf, w.len);
}

static int add_with_data(struct au_taskq_batch *b, uint8_t code, au_node_id node, uint64_t id,
			 uint64_t token, const uint32_t *round, const uint8_t *data, uint32_t len,
			 uint32_t max)
{
	if (len > max || (len && !data))
		return -AU_EINVAL;
	uint8_t *buf = g_malloc(32 + len);
	struct au_wbuf w;
	au_wbuf_init(&w, buf, 32 + len);
	au_put_u32(&w, node);
	au_put_u64(&w, id);
	au_put_u64(&w, token);
	if (round)
		au_put_u32(&w, *round);
	au_put_u32(&w, len);
	au_put_bytes(&w, data, len);
	int rc = au_taskq_batch_append(b, code, buf, w.len);
	g_free(buf);
	return rc;
}

int au_taskq_add_ack(struct au_taskq_batch *b, au_node_id node, uint64_t id, uint64_t token,
		     const uint8_t *result, uint32_t len)
{
	return add_with_data(b, OP_ACK, node, id, token, NULL, result, len, AU_TASKQ_RESULT_MAX);
}

int au_taskq_add_checkpoint(struct au_taskq_batch *b, au_node_id node, uint64_t id,
			    uint64_t token, uint32_t round, const uint8_t *data, uint32_t len)
{
	return add_with_data(b, OP_CKPT, node, id, token, &round, data, len, AU_TASKQ_CKPT_MAX);
}

static int add_node_id_token(struct au_taskq_batch *b, uint8_t code, au_node_id node, uint64_t id,
			     uint64_t token, int flag)
{
	uint8_t buf[32];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u32(&w, node);
	au_put_u64(&w, id);
	au_put_u64(&w, token);
	if (flag >= 0)
		au_put_u8(&w, (uint8_t)flag);
	return au_taskq_batch_append(b, code, buf, w.len);
}

int au_taskq_add_nack(struct au_taskq_batch *b, au_node_id node, uint64_t id, uint64_t token,
		      bool requeue)
{
	return add_node_id_token(b, OP_NACK, node, id, token, requeue ? 1 : 0);
}

int au_taskq_add_release(struct au_taskq_batch *b, au_node_id node, uint64_t id, uint64_t token)
{
	return add_node_id_token(b, OP_RELEASE, node, id, token, -1);
}

int au_taskq_add_expire(struct au_taskq_batch *b, uint64_t id, uint64_t token)
{
	uint8_t buf[16];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u64(&w, id);
	au_put_u64(&w, token);
	return au_taskq_batch_append(b, OP_EXPIRE, buf, w.len);
}

int au_taskq_add_node(struct au_taskq_batch *b, au_node_id node, enum au_taskq_node_op op)
{
	if ((unsigned)op > AU_TASKQ_NODE_RESUME)
		return -AU_EINVAL;
	uint8_t buf[8];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u32(&w, node);
	au_put_u8(&w, (uint8_t)op);
	return au_taskq_batch_append(b, OP_NODE, buf, w.len);
}
