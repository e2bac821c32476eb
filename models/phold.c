/* phold.c — the PHOLD workload (see phold.h). */
#include "phold.h"

#include <math.h>
#include <stdlib.h>

struct phold_node {
	const struct au_env *env;
	const struct au_phold_config *cfg;
	uint64_t processed;
};

/* Delay for a self-event: lookahead + exponential(mean), from this node's
 * stream.  Remote events get the same law from the network's latency
 * distribution, which the bench sets to exponential(mean, lookahead). */
static au_time self_delay(struct phold_node *p)
{
	double u = ((double)(au_random(p->env) >> 5) * 67108864.0 +
		    (double)(au_random(p->env) >> 6) + 1.0) *
		   (1.0 / 9007199254740992.0);
	return p->cfg->lookahead_ns + (au_time)(-(double)p->cfg->mean_ns * log(u));
}

static void schedule_next(struct phold_node *p)
{
	const struct au_env *env = p->env;
	if (env->nodes > 1 && au_random_below(env, 1000000) < p->cfg->remote_ppm) {
		au_node_id to = 1 + au_random_below(env, env->nodes - 1);
		if (to >= env->self)
			to++;
		uint8_t msg[8] = {1};
		(void)au_send(env, to, msg, sizeof(msg));
	} else {
		(void)au_timer_set(env, self_delay(p), 1, 0);
	}
}

static void *phold_init(const struct au_env *env, const void *config)
{
	struct phold_node *p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->env = env;
	p->cfg = config;
	for (uint32_t i = 0; i < p->cfg->init; i++)
		(void)au_timer_set(env, self_delay(p), 1, 0);
	return p;
}

static void phold_recv(void *state, au_node_id from, const void *msg, size_t len)
{
	(void)from;
	(void)msg;
	(void)len;
	struct phold_node *p = state;
	p->processed++;
	schedule_next(p);
}

static void phold_timer(void *state, uint32_t kind, uint64_t arg)
{
	(void)kind;
	(void)arg;
	struct phold_node *p = state;
	p->processed++;
	schedule_next(p);
}

static void phold_persisted(void *state, uint64_t token, int status)
{
	/* This model writes nothing to storage: no sync is ever its own. */
	(void)state;
	(void)token;
	(void)status;
}

static void phold_destroy(void *state)
{
	free(state);
}

static const struct au_config_key phold_keys[] = {
	{"init", AU_CFG_UINT, offsetof(struct au_phold_config, init), "16", 1, 1000000,
	 "initial events per node", NULL},
	{"remote_ppm", AU_CFG_UINT, offsetof(struct au_phold_config, remote_ppm), "900000", 0,
	 1000000, "probability of a remote event, in millionths", NULL},
	{"lookahead", AU_CFG_DURATION, offsetof(struct au_phold_config, lookahead_ns), "1us", 0,
	 AU_NS_PER_S, "fixed part of every delay", NULL},
	{"mean", AU_CFG_DURATION, offsetof(struct au_phold_config, mean_ns), "1us", 0,
	 AU_NS_PER_S, "mean of the exponential part of the delay", NULL},
	{NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

const struct au_model au_phold_model = {
	.name = "phold",
	.config_group = "phold",
	.config_keys = phold_keys,
	.config_size = sizeof(struct au_phold_config),
	.init = phold_init,
	.recv = phold_recv,
	.timer = phold_timer,
	.persisted = phold_persisted,
	.destroy = phold_destroy,
	.summary = NULL,
	.about = "PHOLD: the classic synthetic event benchmark for the engine",
};
