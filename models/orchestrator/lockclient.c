/* lockclient.c — the orchestrator's lock client ([workload] lock_keys,
 * lock_clients): it takes a random key, writes a value under it (checked
 * against its view of the lease, made durable, then sent with the fencing
 * token), renews while it holds it, and unlocks after lock_hold.  The
 * lock machine itself is lock.c; the leader's side is frontend.c.
 */
#include <math.h>

#include "hashes.h"
#include "orchestrator_internal.h"
#include "trace_kinds.h"

static uint64_t lock_owner(const struct au_orch *o)
{
	return AU_LOCK_OWNER(o->env->self, o->inc);
}

static void lc_send(struct au_orch *o, uint8_t type, int64_t value)
{
	uint8_t buf[64];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u8(&w, type);
	au_put_u64(&w, o->lc_key);
	if (type == M_LOCK) {
		au_put_u64(&w, lock_owner(o));
	} else if (type == M_UNLOCK) {
		au_put_u64(&w, o->lc_token);
	} else {
		au_put_u64(&w, lock_owner(o));
		au_put_u64(&w, o->lc_token);
		au_put_u64(&w, (uint64_t)value);
	}
	o->lc_sent = au_now(o->env);
	orch_send_to(o, orch_leader_of(o), &w);
}

/* (Re)arm the lock client's timer: it never has more than one. */
void orch_lc_arm(struct au_orch *o, au_time delay)
{
	au_timer_cancel(o->env, o->lc_timer);
	o->lc_timer = au_timer_set(o->env, delay > 0 ? delay : 1, TM_LOCK, 0);
}

static void lc_think(struct au_orch *o)
{
	o->lc_state = LC_IDLE;
	double u = 1.0 - (double)au_random(o->env) / 4294967296.0;
	au_time think = (au_time)(-log(u) * (double)o->cfg->lock_think_ns);
	orch_lc_arm(o, think);
}

/* The value could not be made durable: it is not sent; the lock goes back. */
void orch_lc_storage_failed(struct au_orch *o, enum au_storage_op op, int err)
{
	o->disk_errors++;
	au_trace_storage(o->env, op, err, AU_STORAGE_GAVE_BACK);
	lc_send(o, M_UNLOCK, 0);
	lc_think(o);
}

/* A lock client's write: checked against its view of the lease, put on
 * its disk, and sent once synced — a pause between the check and the
 * send is exactly what fencing tokens are for. */
static void lc_write(struct au_orch *o)
{
	if (au_now(o->env) > o->lc_belief) {
		lc_think(o); /* we may have lost it: do not write */
		return;
	}
	o->lc_value = (int64_t)au_hash_mix64((uint64_t)o->env->self << 40 ^ o->lc_writes++);
	uint8_t buf[32];
	struct au_wbuf w;
	au_wbuf_init(&w, buf, sizeof(buf));
	au_put_u64(&w, o->lc_key);
	au_put_u64(&w, o->lc_token);
	au_put_u64(&w, (uint64_t)o->lc_value);
	au_wbuf_seal(&w);
	int rc = o->env->ops->storage_write(o->env->ctx, "lk.val", 0, buf, w.len);
	if (rc < 0) {
		orch_lc_storage_failed(o, AU_STORAGE_WRITE, rc);
		return;
	}
	o->env->ops->storage_sync(o->env->ctx, "lk.val", TOKEN(T_LOCKVAL, 0));
	o->lc_state = LC_SYNCING;
}

void orch_lc_timer(struct au_orch *o)
{
	au_time now = au_now(o->env);
	switch (o->lc_state) {
	case LC_IDLE:
		if (!o->booted || !orch_leader_of(o)) {
			orch_lc_arm(o, o->cfg->retry_ns);
			return;
		}
		o->lc_key = au_random_below(o->env, o->cfg->lock_keys);
		o->lc_state = LC_ASKING;
		lc_send(o, M_LOCK, 0);
		orch_lc_arm(o, o->cfg->retry_ns);
		break;
	case LC_ASKING:
		if (orch_waited(now, o->lc_sent, o->cfg->retry_ns))
			lc_send(o, M_LOCK, 0);
		orch_lc_arm(o, o->cfg->retry_ns);
		break;
	case LC_HOLDING:
		if (now >= o->lc_release_at || now > o->lc_belief) {
			lc_send(o, M_UNLOCK, 0);
			lc_think(o);
			return;
		}
		lc_write(o);
		break;
	case LC_SYNCING:
		break;
	}
}

void orch_lc_synced(struct au_orch *o)
{
	if (o->lc_state != LC_SYNCING)
		return;
	au_trace(o->env, AU_TR_ORCH_LOCK_WRITE, (int64_t)o->lc_key, (int64_t)o->lc_token, 0);
	lc_send(o, M_WRITE, o->lc_value);
	o->lc_state = LC_HOLDING;
	/* Renew by asking again while holding; write again halfway. */
	lc_send(o, M_LOCK, 0);
	orch_lc_arm(o, o->cfg->lock_hold_ns / 2);
}

void orch_on_lock_resp(struct au_orch *o, struct au_rbuf *rb)
{
	uint64_t key = au_get_u64(rb), token = au_get_u64(rb), owner = au_get_u64(rb);
	uint8_t what = au_get_u8(rb);
	au_time remaining = (au_time)au_get_u64(rb);
	if (rb->short_read || remaining < 0) {
		o->bad++;
		return;
	}
	if (owner != lock_owner(o) || key != o->lc_key)
		return;
	au_time now = au_now(o->env);
	if (what == L_GRANTED && o->lc_state == LC_ASKING) {
		o->lc_token = token;
		o->lc_belief = now + remaining / 4 * 3;
		o->lc_release_at = now + o->cfg->lock_hold_ns;
		o->locks_held++;
		au_trace(o->env, AU_TR_ORCH_LOCK_HELD, (int64_t)key, (int64_t)token, 0);
		lc_write(o);
	} else if (what == L_GRANTED && token == o->lc_token &&
		   (o->lc_state == LC_HOLDING || o->lc_state == LC_SYNCING)) {
		au_time until = now + remaining / 4 * 3;
		if (until > o->lc_belief)
			o->lc_belief = until;
	} else if (what == L_BUSY && o->lc_state == LC_ASKING) {
		lc_think(o);
	} else if (what == L_LOST && token == o->lc_token && o->lc_state == LC_HOLDING) {
		lc_think(o);
	}
}

