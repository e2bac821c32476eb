/* ctlproto.c — encoding of the control protocol (see ctlproto.h). */
#include "ctlproto.h"

#include <string.h>

#include "../models/wire.h"

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
	au_put_u64(&w, st->queue_depth);
	au_put_u64(&w, s->rx_delivered);
	au_put_u64(&w, s->rx_dropped);
	size_t sl = strnlen(s->services, AU_CTL_SERVICES_MAX);
	au_put_u16(&w, (uint16_t)sl);
	au_put_bytes(&w, s->services, sl);
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
	st->queue_depth = au_get_u64(&r);
	s->rx_delivered = au_get_u64(&r);
	s->rx_dropped = au_get_u64(&r);
	uint16_t sl = au_get_u16(&r);
	if (r.short_read || type != AU_CTL_STATUS_RESP || sl > AU_CTL_SERVICES_MAX ||
	    sl != r.len - r.pos || (role > 3 && role != 255))
		return false;
	au_get_bytes(&r, s->services, sl);
	s->services[sl] = '\0';
	for (uint16_t i = 0; i < sl; i++)
		if ((unsigned char)s->services[i] < 0x20 || (unsigned char)s->services[i] > 0x7e)
			return false;
	return !r.short_read;
}
