/* ctlproto.c — encoding of the control protocol (see ctlproto.h). */
#include "ctlproto.h"

#include <math.h>
#include <string.h>

#include "kernels.h"
#include "wire.h"

size_t au_ctl_encode_status_req(uint64_t nonce, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_CTL_STATUS_REQ);
	au_put_u64(&w, nonce);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_ctl_decode_status_req(const uint8_t *buf, size_t len, uint64_t *nonce)
{
	struct au_rbuf r;
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	uint8_t type = au_get_u8(&r);
	*nonce = au_get_u64(&r);
	return !r.short_read && type == AU_CTL_STATUS_REQ && r.pos == r.len;
}

size_t au_ctl_encode_status_resp(const struct au_ctl_status *s, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	const struct au_node_status *st = &s->st;
	au_put_u8(&w, AU_CTL_STATUS_RESP);
	au_put_u64(&w, s->nonce);
	au_put_u32(&w, st->id);
	au_put_u32(&w, st->nodes);
	au_put_u64(&w, st->epoch);
	au_put_u64(&w, (uint64_t)st->uptime_ns);
	au_put_u8(&w, st->has_raft);
	au_put_u8(&w, (uint8_t)(st->role < 0 ? 255 : st->role));
	au_put_u64(&w, st->term);
	au_put_u32(&w, st->leader);
	au_put_u64(&w, st->commit);
	au_put_u64(&w, st->applied);
	au_put_u64(&w, st->last_index);
	au_put_u64(&w, st->voters);
	au_put_u8(&w, st->voters_known);
	au_put_u8(&w, st->has_queue);
	au_put_u64(&w, st->queue_depth);
	au_put_u64(&w, st->q_leased);
	au_put_u64(&w, st->q_done);
	au_put_u64(&w, st->q_dead);
	au_put_u32(&w, st->leases);
	au_put_u32(&w, st->running);
	au_put_u32(&w, st->waiting);
	au_put_u8(&w, st->draining);
	au_put_u64(&w, s->rx_delivered);
	au_put_u64(&w, s->rx_dropped);
	size_t sl = strnlen(s->services, AU_CTL_SERVICES_MAX);
	au_put_u16(&w, (uint16_t)sl);
	au_put_bytes(&w, s->services, sl);
	size_t al = strnlen(st->auth, AU_NODE_AUTH_MAX);
	au_put_u16(&w, (uint16_t)al);
	au_put_bytes(&w, st->auth, al);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_ctl_decode_status_resp(const uint8_t *buf, size_t len, struct au_ctl_status *s)
{
	struct au_rbuf r;
	memset(s, 0, sizeof(*s));
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	struct au_node_status *st = &s->st;
	uint8_t type = au_get_u8(&r);
	s->nonce = au_get_u64(&r);
	st->id = au_get_u32(&r);
	st->nodes = au_get_u32(&r);
	st->epoch = au_get_u64(&r);
	st->uptime_ns = (int64_t)au_get_u64(&r);
	st->has_raft = au_get_u8(&r) != 0;
	uint8_t role = au_get_u8(&r);
	st->role = role == 255 ? -1 : role;
	st->term = au_get_u64(&r);
	st->leader = au_get_u32(&r);
	st->commit = au_get_u64(&r);
	st->applied = au_get_u64(&r);
	st->last_index = au_get_u64(&r);
	st->voters = au_get_u64(&r);
	st->voters_known = au_get_u8(&r) != 0;
	st->has_queue = au_get_u8(&r) != 0;
	st->queue_depth = au_get_u64(&r);
	st->q_leased = au_get_u64(&r);
	st->q_done = au_get_u64(&r);
	st->q_dead = au_get_u64(&r);
	st->leases = au_get_u32(&r);
	st->running = au_get_u32(&r);
	st->waiting = au_get_u32(&r);
	st->draining = au_get_u8(&r) != 0;
	s->rx_delivered = au_get_u64(&r);
	s->rx_dropped = au_get_u64(&r);
	uint16_t sl = au_get_u16(&r);
	if (r.short_read || type != AU_CTL_STATUS_RESP || sl > AU_CTL_SERVICES_MAX ||
	    sl + 2u > r.len - r.pos || (role > 3 && role != 255))
		return false;
	au_get_bytes(&r, s->services, sl);
	s->services[sl] = '\0';
	uint16_t al = au_get_u16(&r);
	if (r.short_read || al > AU_NODE_AUTH_MAX || al != r.len - r.pos)
		return false;
	au_get_bytes(&r, st->auth, al);
	st->auth[al] = '\0';
	for (uint16_t i = 0; i < sl; i++)
		if ((unsigned char)s->services[i] < 0x20 || (unsigned char)s->services[i] > 0x7e)
			return false;
	for (uint16_t i = 0; i < al; i++)
		if ((unsigned char)st->auth[i] < 0x20 || (unsigned char)st->auth[i] > 0x7e || st->auth[i] == '"' ||
		    st->auth[i] == '\\')
			return false;
	return !r.short_read;
}

int au_ctl_type(const uint8_t *buf, size_t len)
{
	struct au_rbuf r;
	if (!au_rbuf_unseal(&r, buf, len))
		return -1;
	uint8_t type = au_get_u8(&r);
	return r.short_read ? -1 : type;
}

size_t au_ctl_encode_admin_req(const struct au_ctl_admin_req *q, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_CTL_ADMIN_REQ);
	au_put_u64(&w, q->nonce);
	au_put_u8(&w, q->op);
	au_put_u32(&w, q->target);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_ctl_decode_admin_req(const uint8_t *buf, size_t len, struct au_ctl_admin_req *q)
{
	struct au_rbuf r;
	memset(q, 0, sizeof(*q));
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	uint8_t type = au_get_u8(&r);
	q->nonce = au_get_u64(&r);
	q->op = au_get_u8(&r);
	q->target = au_get_u32(&r);
	return !r.short_read && r.pos == r.len && type == AU_CTL_ADMIN_REQ &&
	       (q->op == AU_CTL_DRAIN || q->op == AU_CTL_RESUME);
}

size_t au_ctl_encode_admin_resp(const struct au_ctl_admin_resp *a, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_CTL_ADMIN_RESP);
	au_put_u64(&w, a->nonce);
	au_put_u8(&w, a->answer);
	au_put_u32(&w, a->leader);
	au_put_u8(&w, a->draining);
	au_put_u32(&w, a->leases);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_ctl_decode_admin_resp(const uint8_t *buf, size_t len, struct au_ctl_admin_resp *a)
{
	struct au_rbuf r;
	memset(a, 0, sizeof(*a));
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	uint8_t type = au_get_u8(&r);
	a->nonce = au_get_u64(&r);
	a->answer = au_get_u8(&r);
	a->leader = au_get_u32(&r);
	a->draining = au_get_u8(&r);
	a->leases = au_get_u32(&r);
	return !r.short_read && r.pos == r.len && type == AU_CTL_ADMIN_RESP &&
	       a->answer < AU_CTL_ANSWERS_ && a->draining <= 1;
}

size_t au_ctl_encode_submit_req(const struct au_ctl_submit_req *q, uint8_t *buf, size_t cap)
{
	if (q->payload_len > AU_CTL_PAYLOAD_MAX)
		return 0;
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_CTL_SUBMIT_REQ);
	au_put_u64(&w, q->nonce);
	au_put_u8(&w, q->query_only);
	au_put_u64(&w, q->first_id);
	au_put_u32(&w, q->count);
	au_put_u32(&w, q->kind);
	au_put_u32(&w, q->topic);
	au_put_u32(&w, q->caps);
	au_put_u32(&w, q->max_retries);
	au_put_u32(&w, q->rounds);
	au_put_u32(&w, (uint32_t)q->priority);
	au_put_u16(&w, q->payload_len);
	au_put_bytes(&w, q->payload, q->payload_len);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_ctl_decode_submit_req(const uint8_t *buf, size_t len, struct au_ctl_submit_req *q)
{
	struct au_rbuf r;
	memset(q, 0, sizeof(*q));
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	uint8_t type = au_get_u8(&r);
	q->nonce = au_get_u64(&r);
	q->query_only = au_get_u8(&r);
	q->first_id = au_get_u64(&r);
	q->count = au_get_u32(&r);
	q->kind = au_get_u32(&r);
	q->topic = au_get_u32(&r);
	q->caps = au_get_u32(&r);
	q->max_retries = au_get_u32(&r);
	q->rounds = au_get_u32(&r);
	q->priority = (int32_t)au_get_u32(&r);
	q->payload_len = au_get_u16(&r);
	if (r.short_read || type != AU_CTL_SUBMIT_REQ || q->query_only > 1 ||
	    q->payload_len > AU_CTL_PAYLOAD_MAX || r.len - r.pos != q->payload_len)
		return false;
	au_get_bytes(&r, q->payload, q->payload_len);
	/* Ids first..first+count-1: nonzero and not wrapping around. */
	return !r.short_read && q->count >= 1 && q->count <= AU_CTL_SUBMIT_MAX && q->first_id != 0 &&
	       q->first_id <= UINT64_MAX - q->count && q->rounds >= 1;
}

size_t au_ctl_encode_submit_resp(const struct au_ctl_submit_resp *a, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_CTL_SUBMIT_RESP);
	au_put_u64(&w, a->nonce);
	au_put_u8(&w, a->answer);
	au_put_u32(&w, a->leader);
	au_put_u32(&w, a->present);
	au_put_u32(&w, a->queued);
	au_put_u32(&w, a->leased);
	au_put_u32(&w, a->done);
	au_put_u32(&w, a->dead);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_ctl_decode_submit_resp(const uint8_t *buf, size_t len, struct au_ctl_submit_resp *a)
{
	struct au_rbuf r;
	memset(a, 0, sizeof(*a));
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	uint8_t type = au_get_u8(&r);
	a->nonce = au_get_u64(&r);
	a->answer = au_get_u8(&r);
	a->leader = au_get_u32(&r);
	a->present = au_get_u32(&r);
	a->queued = au_get_u32(&r);
	a->leased = au_get_u32(&r);
	a->done = au_get_u32(&r);
	a->dead = au_get_u32(&r);
	return !r.short_read && r.pos == r.len && type == AU_CTL_SUBMIT_RESP &&
	       a->answer < AU_CTL_ANSWERS_ && a->present <= AU_CTL_SUBMIT_MAX &&
	       (uint64_t)a->queued + a->leased + a->done + a->dead == a->present;
}

size_t au_ctl_encode_job_req(const struct au_ctl_job_req *q, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_CTL_JOB_REQ);
	au_put_u64(&w, q->nonce);
	au_put_u8(&w, q->query_only);
	au_put_u64(&w, q->job);
	au_put_u8(&w, q->kind);
	au_put_u64(&w, q->seed);
	au_put_u32(&w, q->size);
	au_put_u32(&w, q->edges);
	au_put_u32(&w, q->k);
	au_put_u32(&w, q->dims);
	au_put_u32(&w, q->shards);
	au_put_f64(&w, q->damping);
	au_put_u8(&w, q->policy);
	au_put_u32(&w, q->stall_rounds);
	au_put_f64(&w, q->tolerance);
	au_put_u32(&w, q->max_rounds);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_ctl_decode_job_req(const uint8_t *buf, size_t len, struct au_ctl_job_req *q)
{
	struct au_rbuf r;
	memset(q, 0, sizeof(*q));
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	uint8_t type = au_get_u8(&r);
	q->nonce = au_get_u64(&r);
	q->query_only = au_get_u8(&r);
	q->job = au_get_u64(&r);
	q->kind = au_get_u8(&r);
	q->seed = au_get_u64(&r);
	q->size = au_get_u32(&r);
	q->edges = au_get_u32(&r);
	q->k = au_get_u32(&r);
	q->dims = au_get_u32(&r);
	q->shards = au_get_u32(&r);
	q->damping = au_get_f64(&r);
	q->policy = au_get_u8(&r);
	q->stall_rounds = au_get_u32(&r);
	q->tolerance = au_get_f64(&r);
	q->max_rounds = au_get_u32(&r);
	/* The values themselves are the model's to judge (au_rqml_check_submit). */
	return !r.short_read && r.pos == r.len && type == AU_CTL_JOB_REQ && q->query_only <= 1 &&
	       q->job != 0 && isfinite(q->damping) && isfinite(q->tolerance);
}

size_t au_ctl_encode_job_resp(const struct au_ctl_job_resp *a, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_CTL_JOB_RESP);
	au_put_u64(&w, a->nonce);
	au_put_u8(&w, a->answer);
	au_put_u32(&w, a->leader);
	au_put_u8(&w, a->known);
	au_put_u8(&w, a->finished);
	au_put_u8(&w, a->verdict);
	au_put_u32(&w, a->rounds);
	au_put_f64(&w, a->residual);
	au_put_bytes(&w, a->digest, sizeof(a->digest));
	au_put_u64(&w, a->one_index);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_ctl_decode_job_resp(const uint8_t *buf, size_t len, struct au_ctl_job_resp *a)
{
	struct au_rbuf r;
	memset(a, 0, sizeof(*a));
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	uint8_t type = au_get_u8(&r);
	a->nonce = au_get_u64(&r);
	a->answer = au_get_u8(&r);
	a->leader = au_get_u32(&r);
	a->known = au_get_u8(&r);
	a->finished = au_get_u8(&r);
	a->verdict = au_get_u8(&r);
	a->rounds = au_get_u32(&r);
	a->residual = au_get_f64(&r);
	au_get_bytes(&r, a->digest, sizeof(a->digest));
	a->one_index = au_get_u64(&r);
	return !r.short_read && r.pos == r.len && type == AU_CTL_JOB_RESP && a->answer < AU_CTL_ANSWERS_ &&
	       a->known <= 1 && a->finished <= 1 && a->verdict < AU_KERNEL_VERDICTS && (a->known || !a->finished);
}
