/* opsctl.c — operators' controls on the nodes: membership and locks (see
 * opsctl.h). */
#include "opsctl.h"

#include <string.h>

#include "lock.h"
#include "raft/raft.h"
#include "taskq.h"
#include "wire.h"
#include "ctlproto.h"

#define OPS_PENDING_MAX 64u    /* requests waiting for a ReadIndex at once */
#define OPS_PROPOSED_MAX 1024u /* remembered proposals (forgotten all at once beyond) */
#define OPS_REPROPOSE_US 1000000
#define OPS_LOCK_DEADLINE_NS (2 * AU_NS_PER_S) /* informational (lock.h): the leader times leases */

/* ---- the protocol -------------------------------------------------------------- */

size_t au_ctl_encode_ops_req(const struct au_ctl_ops_req *q, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_CTL_OPS_REQ);
	au_put_u64(&w, q->nonce);
	au_put_u8(&w, q->op);
	au_put_u32(&w, q->target);
	au_put_u64(&w, q->key);
	au_put_u64(&w, q->token);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_ctl_decode_ops_req(const uint8_t *buf, size_t len, struct au_ctl_ops_req *q)
{
	struct au_rbuf r;
	memset(q, 0, sizeof(*q));
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	uint8_t type = au_get_u8(&r);
	q->nonce = au_get_u64(&r);
	q->op = au_get_u8(&r);
	q->target = au_get_u32(&r);
	q->key = au_get_u64(&r);
	q->token = au_get_u64(&r);
	return !r.short_read && r.pos == r.len && type == AU_CTL_OPS_REQ && q->op >= 1 &&
	       q->op < AU_OPS_OPS_;
}

size_t au_ctl_encode_ops_resp(const struct au_ctl_ops_resp *a, uint8_t *buf, size_t cap)
{
	struct au_wbuf w;
	au_wbuf_init(&w, buf, cap);
	au_put_u8(&w, AU_CTL_OPS_RESP);
	au_put_u64(&w, a->nonce);
	au_put_u8(&w, a->answer);
	au_put_u32(&w, a->leader);
	au_put_u64(&w, a->voters);
	au_put_u64(&w, a->holder);
	au_put_u64(&w, a->token);
	au_wbuf_seal(&w);
	return w.overflow ? 0 : w.len;
}

bool au_ctl_decode_ops_resp(const uint8_t *buf, size_t len, struct au_ctl_ops_resp *a)
{
	struct au_rbuf r;
	memset(a, 0, sizeof(*a));
	if (!au_rbuf_unseal(&r, buf, len))
		return false;
	uint8_t type = au_get_u8(&r);
	a->nonce = au_get_u64(&r);
	a->answer = au_get_u8(&r);
	a->leader = au_get_u32(&r);
	a->voters = au_get_u64(&r);
	a->holder = au_get_u64(&r);
	a->token = au_get_u64(&r);
	return !r.short_read && r.pos == r.len && type == AU_CTL_OPS_RESP &&
	       a->answer < AU_CTL_ANSWERS_;
}

/* ---- serving ---------------------------------------------------------------------- */

struct ops_pending {
	struct au_opsctl *x;
	au_node_id client;
	struct au_ctl_ops_req q;
};

struct ops_proposed {
	uint64_t term;
	int64_t at_us;
};

struct au_opsctl {
	struct au_node *n;
	GPtrArray *pending;   /* struct ops_pending* */
	GHashTable *proposed; /* uint64 key -> struct ops_proposed */
};

struct au_opsctl *au_opsctl_new(struct au_node *n)
{
	struct au_opsctl *x = g_new0(struct au_opsctl, 1);
	x->n = n;
	x->pending = g_ptr_array_new_with_free_func(g_free);
	x->proposed = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	return x;
}

void au_opsctl_free(struct au_opsctl *x)
{
	if (!x)
		return;
	g_ptr_array_free(x->pending, TRUE);
	g_hash_table_destroy(x->proposed);
	g_free(x);
}

static void reply(struct au_opsctl *x, au_node_id to, const struct au_ctl_ops_resp *a)
{
	uint8_t buf[96];
	size_t len = au_ctl_encode_ops_resp(a, buf, sizeof(buf));
	if (len)
		au_node_control_send(x->n, to, buf, len);
}

/* Whether `key` was proposed in this term less than OPS_REPROPOSE_US ago;
 * if not, remember that it is being proposed now.  A client asks again
 * every ~50 ms: this keeps copies out of the log while the first commits. */
static bool recently_proposed(struct au_opsctl *x, uint64_t key, uint64_t term)
{
	int64_t now = g_get_monotonic_time();
	struct ops_proposed *p = g_hash_table_lookup(x->proposed, &key);
	if (p && p->term == term && now - p->at_us < OPS_REPROPOSE_US)
		return true;
	if (!p) {
		if (g_hash_table_size(x->proposed) >= OPS_PROPOSED_MAX)
			g_hash_table_remove_all(x->proposed);
		p = g_new(struct ops_proposed, 1);
		g_hash_table_insert(x->proposed, g_memdup2(&key, sizeof(key)), p);
	}
	p->term = term;
	p->at_us = now;
	return false;
}

static void serve(struct au_opsctl *x, const struct ops_pending *r, bool confirmed);

static void read_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	struct ops_pending *p = ctx;
	struct au_opsctl *x = p->x;
	(void)index;
	(void)result;
	(void)len;
	struct ops_pending r = *p;
	g_ptr_array_remove_fast(x->pending, p); /* frees p */
	serve(x, &r, ok);
}

/* Ask Raft to confirm our leadership and applied state, then serve `r`
 * again; false (answer PENDING) when that cannot start. */
static bool confirm(struct au_opsctl *x, struct au_raft *raft, const struct ops_pending *r)
{
	if (x->pending->len >= OPS_PENDING_MAX)
		return false;
	struct ops_pending *p = g_memdup2(r, sizeof(*r));
	g_ptr_array_add(x->pending, p);
	if (au_raft_read_index(raft, read_done, p) != 0) {
		g_ptr_array_remove_fast(x->pending, p);
		return false;
	}
	return true;
}

/* The result of a proposal: what it did shows in the lock table, which the
 * client's next ask reads. */
static void ignore_done(void *ctx, bool ok, uint64_t index, const uint8_t *result, size_t len)
{
	(void)ctx;
	(void)ok;
	(void)index;
	(void)result;
	(void)len;
}

/* Propose one lock operation (a batch of one) to the lock machine. */
static void propose_lock(struct au_raft *raft, bool lock, uint64_t key, uint64_t owner_or_token,
			 au_time now_ns)
{
	struct au_taskq_batch b;
	au_taskq_batch_init(&b);
	int rc = lock ? au_lock_add_lock(&b, key, owner_or_token, now_ns + OPS_LOCK_DEADLINE_NS)
		      : au_lock_add_unlock(&b, key, owner_or_token);
	if (rc == 0)
		au_raft_submit(raft, AU_LOCK_MACHINE, 0, 0, b.buf, b.len, ignore_done, NULL);
	au_taskq_batch_free(&b);
}

/* Serve the member operations; returns the answer, or -1 if a ReadIndex
 * round will serve the request again. */
static int serve_member(struct au_opsctl *x, const struct ops_pending *r, struct au_raft *raft,
			const struct au_node_status *st, bool confirmed)
{
	const struct au_ctl_ops_req *q = &r->q;
	uint64_t bit = UINT64_C(1) << q->target;
	uint64_t key = (uint64_t)q->op << 56 | q->target;
	if (q->op == AU_OPS_TRANSFER) {
		if (!(st->voters & bit))
			return AU_CTL_REFUSED; /* only a voter can lead */
		if (q->target == st->id)
			return confirmed ? AU_CTL_DONE : confirm(x, raft, r) ? -1 : AU_CTL_PENDING;
		if (!recently_proposed(x, key, st->term))
			au_raft_transfer(raft, q->target);
		return AU_CTL_PENDING;
	}
	bool add = q->op == AU_OPS_MEMBER_ADD;
	if (!add && (st->voters & ~bit) == 0)
		return AU_CTL_REFUSED; /* the last voter */
	if (((st->voters & bit) != 0) != add) {
		/* Raft refuses while another change is uncommitted; asking again
		 * proposes it once that one committed. */
		if (!recently_proposed(x, key, st->term))
			au_raft_change_member(raft, q->target, add);
		return AU_CTL_PENDING;
	}
	if (st->commit < st->config_index)
		return AU_CTL_PENDING; /* in effect, not committed yet */
	return confirmed ? AU_CTL_DONE : confirm(x, raft, r) ? -1 : AU_CTL_PENDING;
}

static int serve_lock(struct au_opsctl *x, const struct ops_pending *r, struct au_raft *raft,
		      const struct au_node_status *st, bool confirmed, struct au_ctl_ops_resp *a)
{
	const struct au_ctl_ops_req *q = &r->q;
	struct au_locks *locks = au_raft_machine_state(raft, AU_LOCK_MACHINE);
	if (!locks)
		return AU_CTL_NO_SERVICE;
	a->holder = au_locks_holder(locks, q->key, &a->token, NULL);
	const struct au_env *env = au_node_env(x->n, "raft");
	uint64_t key = (uint64_t)q->op << 56 ^ q->key * UINT64_C(0x9e3779b97f4a7c15) ^ r->client;
	uint64_t owner = AU_LOCK_OWNER(r->client, 0);
	if (q->op == AU_OPS_LOCK_ACQUIRE && (!a->holder || a->holder == owner)) {
		/* A grant, or a renewal of the asker's own lease. */
		if (!recently_proposed(x, key, st->term))
			propose_lock(raft, true, q->key, owner, au_now(env));
		if (!a->holder)
			return AU_CTL_PENDING;
	}
	if (q->op == AU_OPS_LOCK_RELEASE && a->holder) {
		if (q->token && q->token != a->token)
			return AU_CTL_REFUSED; /* another grant than the one named */
		if (!recently_proposed(x, key ^ a->token, st->term))
			propose_lock(raft, false, q->key, a->token, au_now(env));
		return AU_CTL_PENDING;
	}
	/* Held (by the asker or another: the reply says who), or free. */
	return confirmed ? AU_CTL_DONE : confirm(x, raft, r) ? -1 : AU_CTL_PENDING;
}

static void serve(struct au_opsctl *x, const struct ops_pending *r, bool confirmed)
{
	struct au_ctl_ops_resp a = {.nonce = r->q.nonce, .answer = AU_CTL_PENDING};
	struct au_raft *raft = au_node_service_state(x->n, "raft");
	if (!raft) {
		a.answer = AU_CTL_NO_SERVICE;
		reply(x, r->client, &a);
		return;
	}
	struct au_node_status st;
	au_node_get_status(x->n, &st);
	if (!au_raft_is_leader(raft)) {
		a.answer = AU_CTL_NOT_LEADER;
		a.leader = au_raft_leader_hint(raft);
		reply(x, r->client, &a);
		return;
	}
	a.leader = st.id;
	a.voters = st.voters;
	int answer;
	if (r->q.op <= AU_OPS_TRANSFER) {
		const struct au_cluster *c = au_node_cluster(x->n);
		if (r->q.target < 1 || r->q.target > c->nodes || r->q.target > AU_RAFT_MAX_NODES)
			answer = AU_CTL_REFUSED;
		else
			answer = serve_member(x, r, raft, &st, confirmed);
	} else {
		answer = serve_lock(x, r, raft, &st, confirmed, &a);
	}
	if (answer < 0)
		return; /* answered when the read completes */
	a.answer = (uint8_t)answer;
	reply(x, r->client, &a);
}

void au_opsctl_recv(struct au_opsctl *x, au_node_id from, const uint8_t *msg, size_t len)
{
	struct ops_pending r = {.x = x, .client = from};
	if (!au_ctl_decode_ops_req(msg, len, &r.q))
		return;
	serve(x, &r, false);
}
