/* fault.c — applying a scenario's [fault.*] timeline: crashes, restarts,
 * partitions, clogs, loss and corruption on links, pauses, clock skew and
 * disk faults, extra duplication.  Targets `leader`, `random`,
 * `lease_holder` and `lock_holder` are resolved when the fault fires
 * (random ones from the fault stream, among the nodes the action can apply
 * to); a fault with no eligible target is traced as skipped.
 */
#include "sim_internal.h"

#include <string.h>

void au_fault_schedule(struct au_sim *sim)
{
	const struct au_scenario *sc = sim->sc;
	for (uint32_t i = 0; i < sc->n_faults; i++) {
		const struct au_fault *f = &sc->faults[i];
		struct au_event ev = {0};
		ev.type = AU_EV_FAULT;
		ev.a = i;
		ev.len = 0;
		au_sim_push(sim, f->at, &ev);
	}
	/* Ends are pushed after all starts so that a fault ending at the same
	 * instant another starts is ordered by the file, not by accident. */
	for (uint32_t i = 0; i < sc->n_faults; i++) {
		const struct au_fault *f = &sc->faults[i];
		if (f->until < 0)
			continue;
		struct au_event ev = {0};
		ev.type = AU_EV_FAULT;
		ev.a = i;
		ev.len = 1;
		au_sim_push(sim, f->until, &ev);
	}
	for (uint32_t i = 0; i < sc->n_faults && !sim->holder_tasks; i++)
		if (sc->faults[i].target.kind == AU_TARGET_LEASE_HOLDER ||
		    sc->faults[i].target.kind == AU_TARGET_LOCK_HOLDER) {
			sim->holder_tasks = g_new0(uint32_t, (gsize)sim->nodes + 1);
			sim->holder_lock = g_new0(uint64_t, (gsize)sim->nodes + 1);
		}
	sim->fault_node = g_new0(au_node_id, sc->n_faults ? sc->n_faults : 1);
	sim->fault_outcome = g_new0(uint8_t, sc->n_faults ? sc->n_faults : 1);
}

enum au_fault_outcome au_sim_fault_outcome(const struct au_sim *sim, uint32_t idx)
{
	if (!sim->fault_outcome || idx >= sim->sc->n_faults)
		return AU_FAULT_PENDING;
	return (enum au_fault_outcome)sim->fault_outcome[idx];
}

static bool eligible(const struct au_sim *sim, enum au_fault_action a, au_node_id n)
{
	const struct au_sim_node *nd = &sim->node[n];
	switch (a) {
	case AU_FAULT_CRASH:
	case AU_FAULT_LEAVE:
		return nd->up;
	case AU_FAULT_PAUSE:
		return nd->up && !nd->paused;
	case AU_FAULT_RESTART:
		return !nd->up;
	case AU_FAULT_RESUME:
		return nd->paused;
	default:
		return true;
	}
}

/* Who holds what, from the orchestrator's own traces: a worker runs a task
 * from ORCH_START until ORCH_FINISH (its ack is sent) or ORCH_ABANDON; a
 * lock client holds a lock from ORCH_LOCK_HELD until a replica applies the
 * release of that token.  A crash or a reboot forgets both.  Approximate
 * by design (a lease outlives ORCH_FINISH until the ack applies): it only
 * steers where faults land, it judges nothing. */
void au_fault_track(struct au_sim *sim, au_node_id node, uint16_t kind, int64_t a, int64_t b)
{
	(void)a;
	if (node > sim->nodes)
		return;
	switch (kind) {
	case AU_TR_ORCH_START:
		sim->holder_tasks[node]++;
		break;
	case AU_TR_ORCH_FINISH:
	case AU_TR_ORCH_ABANDON:
		if (sim->holder_tasks[node])
			sim->holder_tasks[node]--;
		break;
	case AU_TR_ORCH_BOOT:
	case AU_TR_NODE_CRASH:
		sim->holder_tasks[node] = 0;
		sim->holder_lock[node] = 0;
		break;
	case AU_TR_ORCH_LOCK_HELD:
		sim->holder_lock[node] = (uint64_t)b;
		break;
	case AU_TR_LOCK_RELEASE:
		for (au_node_id n = 1; n <= sim->servers; n++)
			if (sim->holder_lock[n] == (uint64_t)b)
				sim->holder_lock[n] = 0;
		break;
	default:
		break;
	}
}

static bool holds(const struct au_sim *sim, enum au_target_kind k, au_node_id n)
{
	if (k == AU_TARGET_LEASE_HOLDER)
		return sim->holder_tasks && sim->holder_tasks[n] > 0 && n != sim->leader;
	if (k == AU_TARGET_LOCK_HOLDER)
		return sim->holder_lock && sim->holder_lock[n] != 0;
	return true;
}

/* The node a fault acts on, or 0 when none is eligible. */
static au_node_id resolve(struct au_sim *sim, const struct au_fault *f)
{
	switch (f->target.kind) {
	case AU_TARGET_LEASE_HOLDER:
	case AU_TARGET_LOCK_HOLDER: {
		uint32_t count = 0;
		for (au_node_id n = 1; n <= sim->servers; n++)
			count += eligible(sim, f->action, n) && holds(sim, f->target.kind, n);
		if (count == 0)
			return 0;
		uint32_t pick = au_pcg32_below(&sim->fault_rng, count);
		for (au_node_id n = 1; n <= sim->servers; n++)
			if (eligible(sim, f->action, n) && holds(sim, f->target.kind, n) && pick-- == 0)
				return n;
		return 0;
	}
	case AU_TARGET_NODE:
		return eligible(sim, f->action, f->target.node) ? f->target.node : 0;
	case AU_TARGET_LEADER:
		return sim->leader && eligible(sim, f->action, sim->leader) ? sim->leader : 0;
	case AU_TARGET_RANDOM: {
		uint32_t count = 0;
		for (au_node_id n = 1; n <= sim->servers; n++)
			count += eligible(sim, f->action, n);
		if (count == 0)
			return 0;
		uint32_t pick = au_pcg32_below(&sim->fault_rng, count);
		for (au_node_id n = 1; n <= sim->servers; n++)
			if (eligible(sim, f->action, n) && pick-- == 0)
				return n;
		return 0;
	}
	default:
		return 0;
	}
}

static void start_partition(struct au_sim *sim, uint32_t idx, const struct au_fault *f)
{
	struct au_partition *p = g_new0(struct au_partition, 1);
	p->fault = idx;
	p->oneway = f->oneway;
	p->group_of = g_new0(uint32_t, (gsize)sim->nodes + 1);
	uint32_t rest_group = 0;
	for (uint32_t m = 0; m < f->n_members; m++) {
		const struct au_group_member *gm = &f->members[m];
		au_node_id n = 0;
		if (gm->who.kind == AU_TARGET_NODE)
			n = gm->who.node;
		else if (gm->who.kind == AU_TARGET_LEADER)
			n = sim->leader;
		else if (gm->who.kind == AU_TARGET_REST)
			rest_group = gm->group;
		if (n)
			p->group_of[n] = gm->group;
	}
	if (rest_group) /* servers only: client nodes stay outside partitions */
		for (au_node_id n = 1; n <= sim->servers; n++)
			if (p->group_of[n] == 0)
				p->group_of[n] = rest_group;
	g_ptr_array_add(sim->partitions, p);
	au_sim_record_event(sim, 0, AU_TR_PARTITION_START, idx, f->n_groups, f->oneway);
}

static void end_partition(struct au_sim *sim, uint32_t idx)
{
	for (guint i = 0; i < sim->partitions->len; i++) {
		struct au_partition *p = g_ptr_array_index(sim->partitions, i);
		if (p->fault != idx)
			continue;
		g_ptr_array_remove_index(sim->partitions, i);
		g_free(p->group_of);
		g_free(p);
		au_sim_record_event(sim, 0, AU_TR_PARTITION_END, idx, 0, 0);
		return;
	}
}

static void start_link_fault(struct au_sim *sim, uint32_t idx, const struct au_fault *f,
			     au_node_id target)
{
	struct au_link_fault *lf = g_new0(struct au_link_fault, 1);
	lf->fault = idx;
	lf->action = f->action;
	lf->is_link = f->has_link;
	lf->a = f->has_link ? f->link_a : target;
	lf->b = f->has_link ? f->link_b : 0;
	lf->rate = f->rate;
	lf->extra = f->extra;
	if (f->action == AU_FAULT_CLOG && f->extra < 0)
		lf->held = g_array_new(FALSE, FALSE, sizeof(struct au_deferred));
	g_ptr_array_add(sim->link_faults, lf);
	au_sim_record_event(sim, 0, AU_TR_LINK_FAULT_START, idx, f->action,
			    f->has_link ? (int64_t)f->link_a * 1000000 + f->link_b : target);
}

static void drop_link_fault(struct au_sim *sim, guint i)
{
	struct au_link_fault *lf = g_ptr_array_index(sim->link_faults, i);
	uint64_t released = lf->held ? lf->held->len : 0;
	au_net_release_held(sim, lf);
	g_ptr_array_remove_index(sim->link_faults, i);
	au_sim_record_event(sim, 0, AU_TR_LINK_FAULT_END, lf->fault, (int64_t)released, 0);
	if (lf->held)
		g_array_free(lf->held, TRUE);
	g_free(lf);
}

static void end_link_fault(struct au_sim *sim, uint32_t idx)
{
	for (guint i = 0; i < sim->link_faults->len; i++) {
		struct au_link_fault *lf = g_ptr_array_index(sim->link_faults, i);
		if (lf->fault == idx) {
			drop_link_fault(sim, i);
			return;
		}
	}
}

static void heal(struct au_sim *sim)
{
	int64_t parts = sim->partitions->len, clogs = 0;
	while (sim->partitions->len) {
		struct au_partition *p = g_ptr_array_index(sim->partitions, 0);
		end_partition(sim, p->fault);
	}
	for (guint i = 0; i < sim->link_faults->len;) {
		struct au_link_fault *lf = g_ptr_array_index(sim->link_faults, i);
		if (lf->action == AU_FAULT_CLOG) {
			drop_link_fault(sim, i);
			clogs++;
		} else {
			i++;
		}
	}
	au_sim_record_event(sim, 0, AU_TR_HEAL, parts, clogs, 0);
}

/* Operator commands go to the current Raft leader's models (a drain's end
 * is the command "resume"). */
static void admin(struct au_sim *sim, uint32_t idx, const struct au_fault *f, au_node_id target,
		  bool ending)
{
	static const char *const names[] = {"transfer_leader", "add_voter", "remove_voter", "leave",
					    "drain"};
	const char *action = ending ? "resume" : names[f->action - AU_FAULT_TRANSFER];
	int rc = -AU_EINVAL;
	au_node_id leader = sim->leader;
	for (uint32_t i = 0; leader && i < sim->sc->cluster.n_services; i++) {
		const struct au_model *m = sim->sc->cluster.services[i];
		void *st = sim->node[leader].svc[i].state;
		if (!m->admin || !st)
			continue;
		int r = m->admin(st, action, target); /* models ignore actions not theirs */
		if (r == 0 || rc != 0)
			rc = rc == 0 ? 0 : r;
	}
	au_sim_record_event(sim, leader, AU_TR_ADMIN, idx, target, rc);
}

/* A leave goes to the target node's own models (SWIM leaves the cluster). */
static void leave(struct au_sim *sim, uint32_t idx, au_node_id n)
{
	int rc = -AU_EINVAL;
	for (uint32_t i = 0; i < sim->sc->cluster.n_services; i++) {
		const struct au_model *m = sim->sc->cluster.services[i];
		void *st = sim->node[n].svc[i].state;
		if (m->admin && st && strcmp(m->name, "swim") == 0)
			rc = m->admin(st, "leave", n);
	}
	au_sim_record_event(sim, n, AU_TR_ADMIN, idx, n, rc);
}

static void fire_start(struct au_sim *sim, uint32_t idx, const struct au_fault *f)
{
	bool needs_node = f->action != AU_FAULT_PARTITION && f->action != AU_FAULT_HEAL &&
			  !f->has_link;
	au_node_id n = needs_node ? resolve(sim, f) : 0;
	if (needs_node && n == 0) {
		sim->fault_outcome[idx] = AU_FAULT_WAS_SKIPPED;
		sim->stats.faults_skipped++;
		au_sim_record_event(sim, 0, AU_TR_FAULT_SKIPPED, idx, f->action, 0);
		return;
	}
	sim->fault_node[idx] = n;
	sim->fault_outcome[idx] = AU_FAULT_WAS_APPLIED;
	sim->stats.faults_applied++;
	struct au_sim_node *nd = n ? &sim->node[n] : NULL;
	switch (f->action) {
	case AU_FAULT_CRASH:
		au_sim_crash(sim, n, idx);
		if (f->restart_after >= 0) {
			struct au_event ev = {0};
			ev.type = AU_EV_RESTART;
			ev.node = n;
			ev.a = idx;
			au_sim_push(sim, sim->now + f->restart_after, &ev);
		}
		break;
	case AU_FAULT_RESTART:
		au_sim_restart(sim, n, idx);
		break;
	case AU_FAULT_PAUSE:
		au_sim_pause(sim, n, idx);
		break;
	case AU_FAULT_RESUME:
		au_sim_resume(sim, n);
		break;
	case AU_FAULT_PARTITION:
		start_partition(sim, idx, f);
		break;
	case AU_FAULT_HEAL:
		heal(sim);
		break;
	case AU_FAULT_CLOG:
	case AU_FAULT_LOSS:
	case AU_FAULT_CORRUPT:
	case AU_FAULT_DUPLICATE:
		start_link_fault(sim, idx, f, n);
		break;
	case AU_FAULT_SKEW:
		nd->skew_ns += f->skew;
		au_sim_set_drift(sim, n, f->drift_ppm);
		au_sim_record_event(sim, n, AU_TR_CLOCK_SKEW, f->skew, f->drift_ppm, 0);
		break;
	case AU_FAULT_DISK:
		switch (f->disk_kind) {
		case AU_DISK_READ_ERROR:
			nd->read_error = true;
			break;
		case AU_DISK_SLOW_SYNC:
			nd->slow_sync_ns = f->slow_extra;
			break;
		case AU_DISK_CORRUPT:
			au_disk_corrupt_sector(sim, n);
			break;
		case AU_DISK_FULL:
			/* Full: no room beyond what the files hold now (what they
			 * free later may be taken again). */
			nd->disk_full = true;
			nd->disk_full_limit = au_disk_used(sim, n);
			break;
		case AU_DISK_WRITE_ERROR:
			nd->write_error = true;
			nd->write_error_rate = f->rate;
			break;
		case AU_DISK_SYNC_ERROR:
			nd->sync_error = true;
			nd->sync_error_rate = f->rate;
			break;
		}
		au_sim_record_event(sim, n, AU_TR_DISK_FAULT_START, idx, f->disk_kind, 0);
		break;
	case AU_FAULT_TRANSFER:
	case AU_FAULT_ADD_VOTER:
	case AU_FAULT_REMOVE_VOTER:
	case AU_FAULT_DRAIN:
		admin(sim, idx, f, n, false);
		break;
	case AU_FAULT_LEAVE:
		leave(sim, idx, n);
		break;
	case AU_FAULT_ACTIONS_:
		break;
	}
	au_net_update_plain(sim);
}

static void fire_end(struct au_sim *sim, uint32_t idx, const struct au_fault *f)
{
	au_node_id n = sim->fault_node[idx];
	switch (f->action) {
	case AU_FAULT_PARTITION:
		end_partition(sim, idx);
		break;
	case AU_FAULT_CLOG:
	case AU_FAULT_LOSS:
	case AU_FAULT_CORRUPT:
	case AU_FAULT_DUPLICATE:
		end_link_fault(sim, idx);
		break;
	case AU_FAULT_PAUSE:
		if (n && sim->node[n].paused)
			au_sim_resume(sim, n);
		break;
	case AU_FAULT_SKEW:
		if (n) {
			au_sim_set_drift(sim, n, 0);
			au_sim_record_event(sim, n, AU_TR_CLOCK_SKEW, 0, 0, 0);
		}
		break;
	case AU_FAULT_DRAIN:
		if (n)
			admin(sim, idx, f, n, true);
		break;
	case AU_FAULT_DISK:
		if (n) {
			/* Only this fault's kind ends: another disk fault on the
			 * node may still be on. */
			struct au_sim_node *nd = &sim->node[n];
			switch (f->disk_kind) {
			case AU_DISK_READ_ERROR:
				nd->read_error = false;
				break;
			case AU_DISK_SLOW_SYNC:
				nd->slow_sync_ns = 0;
				break;
			case AU_DISK_FULL:
				nd->disk_full = false;
				break;
			case AU_DISK_WRITE_ERROR:
				nd->write_error = false;
				break;
			case AU_DISK_SYNC_ERROR:
				nd->sync_error = false;
				break;
			case AU_DISK_CORRUPT:
				break;
			}
			au_sim_record_event(sim, n, AU_TR_DISK_FAULT_END, idx, 0, 0);
		}
		break;
	default:
		break;
	}
	au_net_update_plain(sim);
}

void au_fault_fire(struct au_sim *sim, const struct au_event *ev)
{
	uint32_t idx = (uint32_t)ev->a;
	const struct au_fault *f = &sim->sc->faults[idx];
	if (ev->len == 0)
		fire_start(sim, idx, f);
	else
		fire_end(sim, idx, f);
}
