/* jobfile.c — reading JOB.ini for aureon-ctl submit (see jobfile.h). */
#include "jobfile.h"

#include <string.h>

#include "config/keys.h"
#include "config/values.h"
#include "kernels.h"
#include "rqml.h"

#define JOB_MAX ((UINT64_C(1) << 30) - 1)
#define JOB_TASK_ID(job, i) (UINT64_C(1) << 62 | (uint64_t)(job) << 20 | (uint64_t)(i))

/* A value of [job] (inline comment and blanks removed), or NULL. */
static char *job_value(struct au_keys *K, const char *key)
{
	return au_keys_value(K, "job", key);
}

static bool job_uint(struct au_keys *K, const char *key, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	g_autofree char *v = job_value(K, key);
	if (!v)
		return true; /* the default stays */
	guint64 x;
	if (!g_ascii_string_to_unsigned(v, 10, min, max, &x, NULL))
		return au_keys_fail(K, "job", key, "'%s' is not an integer in %" G_GUINT64_FORMAT
						   "..%" G_GUINT64_FORMAT, v, min, max);
	*out = x;
	return true;
}

static bool job_double(struct au_keys *K, const char *key, double *out)
{
	g_autofree char *v = job_value(K, key);
	if (!v)
		return true;
	double x;
	if (!au_parse_double(v, &x) || x < 0)
		return au_keys_fail(K, "job", key, "'%s' is not a finite number >= 0", v);
	*out = x;
	return true;
}

/* An RQML job: the fields of the model's job spec (models/rqml.h), with
 * the defaults of the cluster's [workload] KIND_* keys. */
static bool load_rqml_job(struct au_keys *K, const struct au_cluster *c,
			  uint64_t (*random64)(void), enum au_kernel_kind kk, struct au_jobfile *j)
{
	const struct au_rqml_config *rc = NULL;
	for (uint32_t i = 0; i < c->spec.n_services; i++)
		if (strcmp(c->spec.services[i]->name, "rqml") == 0)
			rc = c->spec.service_config[i];
	const char *name = au_kernel_kind_name(kk);
	if (!rc)
		return au_keys_fail(K, "job", "kind", "%s is an RQML job, and %s does not run the rqml "
						      "service ([cluster] services)", name, c->path);
	const struct au_rqml_kind_config *kc = &rc->kind[kk - 1];
	uint64_t job = AU_RQML_SUBMIT_MIN + random64() % (AU_RQML_SUBMIT_MAX - AU_RQML_SUBMIT_MIN + 1);
	uint64_t size = kc->size, edges = kc->edges, k = kc->k, dims = kc->dims, shards = kc->shards;
	uint64_t max_rounds = kc->max_rounds, seed;
	double tolerance = kc->tolerance, damping = 0.85;
	if ((kk != AU_KERNEL_PAGERANK && (g_key_file_has_key(K->kf, "job", "edges", NULL) ||
					  g_key_file_has_key(K->kf, "job", "damping", NULL))) ||
	    (kk != AU_KERNEL_KMEANS && (g_key_file_has_key(K->kf, "job", "k", NULL) ||
					g_key_file_has_key(K->kf, "job", "dims", NULL)))) {
		return au_keys_fail(K, "job", NULL, "edges and damping are pagerank's, k and dims kmeans' "
				       "(kind is %s)", name);
	}
	if (!job_uint(K, "job", AU_RQML_SUBMIT_MIN, AU_RQML_SUBMIT_MAX, &job))
		return false;
	seed = job; /* the same file describes the same problem every time */
	if (!job_uint(K, "seed", 0, UINT64_MAX, &seed) ||
	    !job_uint(K, "size", 1, UINT32_MAX, &size) ||
	    !job_uint(K, "edges", 1, UINT32_MAX, &edges) ||
	    !job_uint(K, "k", 1, UINT32_MAX, &k) ||
	    !job_uint(K, "dims", 1, UINT32_MAX, &dims) ||
	    !job_uint(K, "shards", 1, UINT32_MAX, &shards) ||
	    !job_uint(K, "max_rounds", 1, AU_RQML_MAX_ROUNDS, &max_rounds) ||
	    !job_double(K, "tolerance", &tolerance) || !job_double(K, "damping", &damping))
		return false;
	g_autofree char *pol = job_value(K, "policy");
	struct au_rqml_policy policy;
	if (!au_rqml_policy_parse(pol ? g_strstrip(pol) : kc->policy, &policy)) {
		return au_keys_fail(K, "job", "policy", "'%s' is not threshold or stall:K (K >= 2)",
				    pol ? pol : kc->policy);
	}
	struct au_rqml_job_spec spec = {.job = job};
	spec.params.kind = kk;
	spec.params.seed = seed;
	spec.params.size = (uint32_t)size;
	spec.params.edges = kk == AU_KERNEL_PAGERANK ? (uint32_t)edges : 0;
	spec.params.k = kk == AU_KERNEL_KMEANS ? (uint32_t)k : 0;
	spec.params.dims = kk == AU_KERNEL_KMEANS ? (uint32_t)dims : 0;
	spec.params.shards = (uint32_t)shards;
	spec.params.damping = kk == AU_KERNEL_PAGERANK ? damping : 0.0;
	spec.policy = policy;
	spec.policy.tolerance = tolerance;
	spec.policy.max_rounds = (uint32_t)max_rounds;
	char why[256];
	if (au_rqml_check_submit(&spec, why, sizeof(why)) != 0)
		return au_keys_fail(K, NULL, NULL, "[job] %s", why);
	j->rqml = true;
	j->job = job;
	struct au_ctl_job_req *r = &j->r;
	r->nonce = random64();
	r->job = job;
	r->kind = (uint8_t)kk;
	r->seed = seed;
	r->size = spec.params.size;
	r->edges = spec.params.edges;
	r->k = spec.params.k;
	r->dims = spec.params.dims;
	r->shards = spec.params.shards;
	r->damping = spec.params.damping;
	r->policy = policy.kind;
	r->stall_rounds = policy.stall_rounds;
	r->tolerance = tolerance;
	r->max_rounds = (uint32_t)max_rounds;
	return true;
}

static bool load(struct au_keys *K, const struct au_cluster *c, uint64_t (*random64)(void),
		 struct au_jobfile *j)
{
	g_autoptr(GError) gerr = NULL;
	if (!g_key_file_load_from_file(K->kf, K->path, G_KEY_FILE_NONE, &gerr))
		return au_keys_fail(K, NULL, NULL, "%s", gerr->message);
	g_auto(GStrv) groups = g_key_file_get_groups(K->kf, NULL);
	for (gsize i = 0; groups[i]; i++)
		if (strcmp(groups[i], "job") != 0)
			return au_keys_fail(K, groups[i], NULL,
					    "unknown group (a job file has one group, [job])");
	if (!g_key_file_has_group(K->kf, "job"))
		return au_keys_fail(K, "job", NULL, "missing");
	g_autofree char *kind = job_value(K, "kind");
	if (kind)
		g_strstrip(kind);
	enum au_kernel_kind kk = kind ? au_kernel_kind_parse(kind) : 0;
	if (!kind || (strcmp(kind, "tasks") != 0 && !kk))
		return au_keys_fail(K, "job", "kind", "%s (an RQML job: pagerank, jacobi or kmeans; or "
						      "tasks: plain tasks for the task queue's synthetic "
						      "executor)", kind ? "unknown kind" : "missing");
	static const char *const task_keys[] = {"kind", "count", "job", "rounds", "priority", "topic",
						"max_retries", "caps", "payload", NULL};
	static const char *const rqml_keys[] = {"kind", "job", "seed", "size", "edges", "k", "dims",
						"shards", "damping", "tolerance", "max_rounds", "policy", NULL};
	const char *const *keys = kk ? rqml_keys : task_keys;
	g_auto(GStrv) have = g_key_file_get_keys(K->kf, "job", NULL, NULL);
	for (gsize i = 0; have && have[i]; i++)
		if (!g_strv_contains(keys, have[i])) {
			g_autofree char *known = g_strjoinv(", ", (char **)keys);
			return au_keys_fail(K, "job", have[i], "unknown key for kind %s (known: %s)", kind,
					    known);
		}
	memset(j, 0, sizeof(*j));
	if (kk)
		return load_rqml_job(K, c, random64, kk, j);
	uint64_t count = 0, job = 1 + random64() % JOB_MAX, rounds = 1, topic = 0, retries = 5;
	int64_t prio = 0;
	if (!g_key_file_has_key(K->kf, "job", "count", NULL)) {
		return au_keys_fail(K, "job", "count", "missing (how many tasks, 1..%u)", AU_CTL_SUBMIT_MAX);
	}
	if (!job_uint(K, "count", 1, AU_CTL_SUBMIT_MAX, &count) ||
	    !job_uint(K, "job", 1, JOB_MAX, &job) ||
	    !job_uint(K, "rounds", 1, 100000, &rounds) ||
	    !job_uint(K, "topic", 0, UINT32_MAX, &topic) ||
	    !job_uint(K, "max_retries", 0, 1000, &retries))
		return false;
	g_autofree char *pv = job_value(K, "priority");
	if (pv) {
		g_strstrip(pv);
		if (!g_ascii_string_to_signed(pv, 10, -1000000, 1000000, &prio, NULL)) {
			return au_keys_fail(K, "job", "priority", "'%s' is not an integer in -1000000..1000000 "
					       "(higher runs first)", pv);
		}
	}
	uint32_t caps = 0;
	g_autofree char *cv = job_value(K, "caps");
	if (cv && strcmp(g_strstrip(cv), "none") != 0) {
		g_auto(GStrv) names = g_strsplit(cv, ",", -1);
		for (gsize i = 0; names[i]; i++) {
			const char *nm = g_strstrip(names[i]);
			int bit = au_strv_index(c->spec.cap_names, nm);
			if (bit < 0) {
				return au_keys_fail(K, "job", "caps", "'%s' is not a capability of %s ([cluster] "
						       "capabilities)", nm, c->path);
			}
			caps |= UINT32_C(1) << bit;
		}
	}
	g_autofree char *payload = job_value(K, "payload");
	size_t plen = payload ? strlen(payload) : 0;
	if (plen > AU_CTL_PAYLOAD_MAX) {
		return au_keys_fail(K, "job", "payload", "%zu bytes, at most %u", plen, AU_CTL_PAYLOAD_MAX);
	}
	j->job = job;
	struct au_ctl_submit_req *q = &j->q;
	q->nonce = random64();
	q->first_id = JOB_TASK_ID(job, 1);
	q->count = (uint32_t)count;
	q->kind = 0;
	q->topic = (uint32_t)topic;
	q->priority = (int32_t)prio;
	q->caps = caps;
	q->max_retries = (uint32_t)retries;
	q->rounds = (uint32_t)rounds;
	q->payload_len = (uint16_t)plen;
	if (plen)
		memcpy(q->payload, payload, plen);
	return true;
}

bool au_jobfile_load(const char *path, const struct au_cluster *c, uint64_t (*random64)(void),
		     struct au_jobfile *j, char **err)
{
	struct au_keys K = {.path = path, .kf = g_key_file_new()};
	bool ok = load(&K, c, random64, j);
	g_key_file_free(K.kf);
	if (!ok)
		*err = K.err;
	return ok;
}
