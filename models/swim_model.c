/* swim_model.c — SWIM as a model (service "swim"; see swim.c for the
 * design): its lifecycle (init, which starts from the incarnation record,
 * persisted, destroy, summary, admin, validate), the public API of
 * swim.h, and the [swim] keys and tables.
 */
#include "swim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "swim_internal.h"
#include "trace_kinds.h"
#include "wire.h"

/* ---- lifecycle ------------------------------------------------------------------------ */

static void *swim_init(const struct au_env *env, const void *config)
{
	size_t bytes = (sizeof(struct au_swim) + 63) & ~(size_t)63;
	struct au_swim *sw = aligned_alloc(64, bytes);
	if (!sw)
		abort();
	memset(sw, 0, bytes);
	const struct au_swim_config *cfg = config;
	sw->queue = sw->inline_queue;
	sw->queue_cap = QUEUE_INLINE;
	sw->reap_due_ns = INT64_MAX;
	sw->env = env;
	sw->cfg = cfg;
	sw->n = env->nodes;
	sw->view = g_new0(uint32_t, (gsize)sw->n + 1); /* all alive at 0 */
	sw->view[0] = ST_NONE; /* there is no member 0 */
	uint32_t bits = 0;
	while (bits < 32 && (UINT64_C(1) << bits) < sw->n)
		bits++;
	sw->perm_half = (bits + 1) / 2;
	swim_new_round(sw);

	/* A restart finds the incarnation of its previous life. */
	uint8_t rec[12];
	int64_t got = env->ops->storage_read(env->ctx, "swim", 0, rec, sizeof(rec));
	struct au_rbuf r;
	bool restart = false;
	uint32_t inc = 0;
	if (got == (int64_t)sizeof(rec) && au_rbuf_unseal(&r, rec, sizeof(rec)) &&
	    au_get_u32(&r) == STATE_MAGIC) {
		restart = true;
		inc = au_get_u32(&r) + 1;
	} else if (got >= 0) {
		restart = true; /* a torn record: we did live before */
	}
	au_node_id me = env->self;
	int mode;
	if (inc > INC_MAX)
		inc = INC_MAX;
	if (cfg->seeds.all && !restart) {
		/* The zeroed view already says: everyone alive at 0. */
		sw->count[ST_ALIVE] = sw->n;
		sw->joined = true;
		mode = 0;
	} else {
		for (au_node_id m = 1; m <= sw->n; m++)
			set_entry(sw, m, ST_NONE, 0);
		set_entry(sw, me, ST_ALIVE, 0);
		sw->count[ST_ALIVE] = 1;
		mode = 1;
	}
	set_entry(sw, me, ST_ALIVE, inc);
	swim_persist_inc(sw);
	au_trace(env, AU_TR_SWIM_BOOT, inc, mode, known_members(sw));

	sw->gossip_phase_ns = au_random_between(env, 0, cfg->gossip_interval_ns - 1);
	(void)au_timer_set(env, au_random_between(env, 0, cfg->probe_interval_ns - 1), TIMER_PROBE, 0);
	if (cfg->push_pull_interval_ns > 0)
		(void)au_timer_set(env, au_random_between(env, 0, swim_push_pull_period(sw) - 1),
				   TIMER_PUSH_PULL, 0);
	if (cfg->stats_interval_ns > 0)
		(void)au_timer_set(env, cfg->stats_interval_ns, TIMER_STATS, 0);
	if (cfg->reconnect_interval_ns > 0)
		(void)au_timer_set(env, au_random_between(env, 1, cfg->reconnect_interval_ns),
				   TIMER_RECONNECT, 0);
	if (!sw->joined) {
		/* Tell whoever hears first that we are here, then join. */
		swim_enqueue(sw, U_ALIVE, me, inc, me);
		swim_join_try(sw);
	}
	return sw;
}

/* The incarnation record is advisory: nothing waits for it.  A restarted
 * node that finds an older incarnation than it last used (the write or
 * its sync failed, or a crash beat the sync) may come back at an
 * incarnation others already hold it dead at; it hears that it is
 * suspected or dead and refutes with a higher one, as memberlist does
 * without any disk at all.  So a failed write or sync is counted and
 * traced, and nothing else changes. */
static void swim_persisted(void *state, uint64_t token, int status)
{
	struct au_swim *sw = state;
	(void)token;
	if (status < 0) {
		sw->disk_errors++;
		au_trace_storage(sw->env, AU_STORAGE_SYNC, status, AU_STORAGE_IGNORED);
	}
}

static void swim_destroy(void *state)
{
	struct au_swim *sw = state;
	g_free(sw->view);
	if (sw->queue != sw->inline_queue)
		g_free(sw->queue);
	g_free(sw->sus);
	g_free(sw->reap);
	g_free(sw->dead_ids);
	free(sw);
}

static void swim_summary(void *state, char *buf, size_t len)
{
	struct au_swim *sw = state;
	snprintf(buf, len,
		 "inc=%u alive=%u suspect=%u dead=%u left=%u probes=%llu failed=%llu refutes=%llu "
		 "out=%llu in=%llu bytes_out=%llu queue=%u drops=%llu bad=%llu%s",
		 self_inc(sw), sw->count[ST_ALIVE], sw->count[ST_SUSPECT], sw->count[ST_DEAD],
		 sw->count[ST_LEFT], (unsigned long long)sw->probes,
		 (unsigned long long)sw->probe_fails, (unsigned long long)sw->refutes,
		 (unsigned long long)sw->msgs_out, (unsigned long long)sw->msgs_in,
		 (unsigned long long)sw->bytes_out, sw->queue_len,
		 (unsigned long long)sw->queue_drops, (unsigned long long)sw->bad,
		 sw->quiet ? " (left)" : "");
	size_t used = strlen(buf);
	if (sw->disk_errors && used < len)
		snprintf(buf + used, len - used, " disk_errors=%llu",
			 (unsigned long long)sw->disk_errors);
}

static int swim_admin(void *state, const char *action, au_node_id target)
{
	struct au_swim *sw = state;
	(void)target;
	if (strcmp(action, "leave") != 0)
		return -AU_EINVAL;
	au_swim_leave(sw);
	return 0;
}

/* Keys that depend on each other. */
static bool swim_validate(const void *config, uint32_t nodes, char *err, size_t errlen)
{
	const struct au_swim_config *c = config;
	(void)nodes;
	if (c->probe_timeout_ns >= c->probe_interval_ns) {
		snprintf(err, errlen, "probe_timeout: must be shorter than probe_interval (the ping-req "
				      "round needs the rest of the interval)");
		return false;
	}
	if (c->gossip_interval_ns > c->probe_interval_ns * 1000) {
		snprintf(err, errlen, "gossip_interval: more than 1000 probe intervals");
		return false;
	}
	return true;
}

/* ---- public API ------------------------------------------------------------------------ */

void au_swim_observe(struct au_swim *sw, au_swim_observer fn, void *ctx)
{
	if (!sw || !fn || sw->n_obs >= AU_SWIM_MAX_OBSERVERS)
		return;
	sw->obs[sw->n_obs++] = (struct observer){fn, ctx};
}

enum au_swim_state au_swim_member_state(const struct au_swim *sw, au_node_id member)
{
	if (!sw || member < 1 || member > sw->n)
		return AU_SWIM_UNKNOWN;
	return public_state(st_of(sw, member));
}

uint32_t au_swim_member_incarnation(const struct au_swim *sw, au_node_id member)
{
	if (!sw || member < 1 || member > sw->n)
		return 0;
	return inc_of(sw, member);
}

void au_swim_get_counters(const struct au_swim *sw, struct au_swim_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (!sw)
		return;
	out->msgs_out = sw->msgs_out;
	out->msgs_in = sw->msgs_in;
	out->bytes_out = sw->bytes_out;
	out->bytes_in = sw->bytes_in;
	out->probes = sw->probes;
	out->probe_fails = sw->probe_fails;
	out->refutes = sw->refutes;
	out->declared_dead = sw->declared_dead;
	out->queue_drops = sw->queue_drops;
	out->bad = sw->bad;
}

size_t au_swim_memory(const struct au_swim *sw)
{
	if (!sw)
		return 0;
	return sizeof(*sw) + ((size_t)sw->n + 1) * sizeof(uint32_t) +
	       (sw->queue != sw->inline_queue ? (size_t)sw->queue_cap * sizeof(struct bcast) : 0) +
	       (size_t)sw->cap_sus * sizeof(struct suspicion) +
	       (size_t)sw->reap_cap * sizeof(struct reap_entry) +
	       (size_t)sw->dead_cap * sizeof(au_node_id);
}

uint32_t au_swim_alive_count(const struct au_swim *sw)
{
	return sw ? sw->count[ST_ALIVE] : 0;
}

/* ---- the model ------------------------------------------------------------------------- */

static const struct au_config_key swim_keys[] = {
	{"probe_interval", AU_CFG_DURATION, offsetof(struct au_swim_config, probe_interval_ns), "1s",
	 AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "one probe per interval", NULL},
	{"probe_timeout", AU_CFG_DURATION, offsetof(struct au_swim_config, probe_timeout_ns), "500ms",
	 AU_NS_PER_US, UINT64_C(3600) * AU_NS_PER_S,
	 "no ack to the direct ping within this: ask indirect_probes members", NULL},
	{"indirect_probes", AU_CFG_UINT, offsetof(struct au_swim_config, indirect_probes), "3", 0, 16,
	 "members asked to ping a silent target for us (ping-req)", NULL},
	{"suspicion_mult", AU_CFG_UINT, offsetof(struct au_swim_config, suspicion_mult), "4", 1, 32,
	 "min suspicion timeout = mult * max(1, log10 n) * probe_interval", NULL},
	{"suspicion_max_timeout_mult", AU_CFG_UINT,
	 offsetof(struct au_swim_config, suspicion_max_timeout_mult), "6", 1, 100,
	 "max suspicion timeout = this * min", NULL},
	{"gossip_interval", AU_CFG_DURATION, offsetof(struct au_swim_config, gossip_interval_ns),
	 "200ms", AU_NS_PER_MS, UINT64_C(3600) * AU_NS_PER_S, "period of gossip rounds", NULL},
	{"gossip_nodes", AU_CFG_UINT, offsetof(struct au_swim_config, gossip_nodes), "3", 0, 16,
	 "members gossiped to per round (0: piggyback only)", NULL},
	{"retransmit_mult", AU_CFG_UINT, offsetof(struct au_swim_config, retransmit_mult), "4", 1, 32,
	 "each update is sent mult * ceil(log10(n+1)) times", NULL},
	{"push_pull_interval", AU_CFG_DURATION, offsetof(struct au_swim_config, push_pull_interval_ns),
	 "30s", 0, UINT64_C(86400) * AU_NS_PER_S,
	 "full-state exchange period (scaled up for n > 32; 0: never)", NULL},
	{"seeds", AU_CFG_NODE_LIST, offsetof(struct au_swim_config, seeds), "all", 0, 0,
	 "nodes to join through: all (first boot starts from the whole cluster) or n1,n2,...", NULL},
	{"gossip_to_dead", AU_CFG_DURATION, offsetof(struct au_swim_config, gossip_to_dead_ns), "30s",
	 0, UINT64_C(86400) * AU_NS_PER_S,
	 "dead and left members are still gossiped to for this long, then forgotten", NULL},
	{"suspicion", AU_CFG_BOOL, offsetof(struct au_swim_config, suspicion), "true", 0, 1,
	 "false: a failed probe declares the member dead at once (SWIM without suspicion)", NULL},
	{"reconnect_interval", AU_CFG_DURATION, offsetof(struct au_swim_config, reconnect_interval_ns),
	 "30s", 0, UINT64_C(86400) * AU_NS_PER_S,
	 "ping one member held dead this often, push-pull if it answers (Serf; 0: never)", NULL},
	{"stats_interval", AU_CFG_DURATION, offsetof(struct au_swim_config, stats_interval_ns), "10s",
	 0, UINT64_C(3600) * AU_NS_PER_S, "period of /swim_load rows (0: none)", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const char *const state_names[] = {"alive", "suspect", "dead", "left", "unknown"};
static const char *const via_names[] = {"self", "gossip", "push_pull"};

static const struct au_table_col membership_cols[] = {
	{"member", AU_COL_U32, offsetof(struct au_swim_membership_row, member), NULL, 0},
	{"state", AU_COL_ENUM8, offsetof(struct au_swim_membership_row, state), state_names, 5},
	{"incarnation", AU_COL_U32, offsetof(struct au_swim_membership_row, incarnation), NULL, 0},
	{"via", AU_COL_ENUM8, offsetof(struct au_swim_membership_row, via), via_names, 3},
};

static const struct au_table_col load_cols[] = {
	{"msgs_out", AU_COL_I64, offsetof(struct load_row, msgs_out), NULL, 0},
	{"msgs_in", AU_COL_I64, offsetof(struct load_row, msgs_in), NULL, 0},
	{"bytes_out", AU_COL_I64, offsetof(struct load_row, bytes_out), NULL, 0},
	{"bytes_in", AU_COL_I64, offsetof(struct load_row, bytes_in), NULL, 0},
	{"alive", AU_COL_U32, offsetof(struct load_row, alive), NULL, 0},
	{"suspect", AU_COL_U32, offsetof(struct load_row, suspect), NULL, 0},
	{"dead", AU_COL_U32, offsetof(struct load_row, dead), NULL, 0},
	{"left", AU_COL_U32, offsetof(struct load_row, left), NULL, 0},
	{"queue", AU_COL_U32, offsetof(struct load_row, queue), NULL, 0},
};

static const struct au_table_desc swim_tables[] = {
	{"membership",
	 "one row each time a node's view of a member changes state: member, new state, "
	 "incarnation, and whether the node concluded it itself, heard it in gossip or in a "
	 "push-pull",
	 membership_cols, 4, sizeof(struct au_swim_membership_row)},
	{"swim_load",
	 "every stats_interval per node: messages and bytes sent and received so far, the "
	 "view's alive/suspect/dead/left counts (reaped members excluded) and the gossip queue",
	 load_cols, 9, sizeof(struct load_row)},
};

static const char *const swim_message_names[] = {NULL, "PING", "ACK", "PING_REQ", "GOSSIP",
						 "PUSH_PULL"};

const struct au_model au_swim_model = {
	.name = "swim",
	.config_group = "swim",
	.config_keys = swim_keys,
	.config_size = sizeof(struct au_swim_config),
	.init = swim_init,
	.recv = swim_recv,
	.timer = swim_timer,
	.persisted = swim_persisted,
	.destroy = swim_destroy,
	.summary = swim_summary,
	.tables = swim_tables,
	.n_tables = 2,
	.message_names = swim_message_names,
	.n_message_names = MSG_TYPES_,
	.admin = swim_admin,
	.validate = swim_validate,
	.about = "SWIM membership: failure detection by probes, gossip of who is alive",
};
