/* ctl_main.c — aureon-ctl: talk to a running cluster.
 *
 * aureon-ctl is a client node for the length of one command.  It picks a
 * fresh random node id at or above AU_CLIENT_ID_MIN (nodes learn its
 * address from its authenticated packets and answer there) and a fresh
 * random 64-bit Raft client session, and speaks the same authenticated UDP
 * datagrams as the nodes:
 *
 *   put/get/cas  the kv model's own REQ/RESP protocol (models/kv.c), like
 *                the simulated clients: attempt numbers, NOT_LEADER answers
 *                with a leader hint that we follow, RETRY when a leader lost
 *                its leadership mid-write (the same session sequence number
 *                makes the retry safe: Raft applies it at most once)
 *   status       the nodes' control service (ctlproto.h), asked of every node
 *   drain/resume the control service of the leader (execctl.h), which
 *   submit       proposes a node mark / enqueues tasks in the execution
 *                layer's task queue and answers DONE once a ReadIndex round
 *                confirmed the effect is committed
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <math.h>
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels.h"
#include "rqml.h"
#include "wire.h"
#include "cluster.h"
#include "config/values.h"
#include "ctlproto.h"
#include "ctl_client.h"
#include "ctl_jobs.h"
#include "ctl_ops.h"
#include "ctl_results.h"
#include "ctl_batch.h"
#include "jobfile.h"
#include "node.h"
#include "identity.h"
#include "packet.h"

#define AUREON_VERSION "0.1.0"

static const char *const usage =
	"usage: aureon-ctl --config CLUSTER.ini [--timeout T] [--json] COMMAND\n"
	"       aureon-ctl keygen FILE\n"
	"       aureon-ctl keygen --identity FILE\n"
	"\n"
	"commands:\n"
	"  put KEY VALUE          write VALUE under KEY (the kv service stores signed\n"
	"                         64-bit integer keys and values)\n"
	"  get KEY                linearizable read (absent keys read as 0)\n"
	"  cas KEY EXPECTED NEW   set KEY to NEW if it holds EXPECTED\n"
	"  status                 every node's view: role, term, leader, log indexes,\n"
	"                         members; the cluster's leader\n"
	"  submit JOB.ini         start the RQML job JOB.ini describes (kind = pagerank,\n"
	"                         jacobi or kmeans), or enqueue plain tasks (kind = tasks);\n"
	"                         format: shim/README.md. Prints the job id\n"
	"  drain NODE             NODE (n2) takes no new leases; what it runs finishes\n"
	"  resume NODE            NODE takes leases again\n"
	"  keygen FILE            write a new random 256-bit cluster key (hex, mode 0600)\n"
	"  result get JOB --out FILE [--force]\n"
	"                         fetch JOB's result bytes from the blob store's holders;\n"
	"                         written to FILE only if their SHA-256 is ONE's digest\n"
	"  result make JOB SIZE [--seed S]\n"
	"                         run a synthetic job of SIZE bytes (docs/one.md, Results)\n"
	"  keygen --identity FILE write a node's identity key pair (X25519, mode 0600)\n"
	"                         and print its public key for [identities]\n"
	"%s%s%s"
	"\n"
	"options:\n"
	"  --config FILE   the cluster file the nodes run with (hosts, key)\n"
	"  --timeout T     give up after T (a duration: 5s, 500ms; default 5s)\n"
	"  --json          status: one JSON object on stdout\n"
	"  --wait          submit: also wait until the job's record is in ONE (exit 1\n"
	"                  unless it converged), or every task is done or dead (exit 1\n"
	"                  if any is dead); mind --timeout\n"
	"\n"
	"The leader is found by itself: any node is asked first, and answers naming\n"
	"the leader are followed.\n"
	"\n"
	"exit codes: 0 done; 1 the operation ran and failed (cas: value differs; submit\n"
	"--wait: the job did not converge or a task is dead; the job id exists with\n"
	"another spec); 2 usage, configuration or I/O error; 3 unavailable: no leader\n"
	"answered within the timeout (no quorum, nodes down or unreachable) or a\n"
	"write's outcome is unknown.\n";

static int usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "aureon-ctl: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n\n");
	fprintf(stderr, usage, ctl_ops_usage, au_ctl_jobs_usage, ctl_batch_usage);
	va_end(ap);
	return EXIT_USAGE;
}

static bool decode_admin(void *ctx, const uint8_t *p, size_t len, uint8_t *answer, au_node_id *hint)
{
	struct au_ctl_admin_resp *want = ctx, a;
	if (!au_ctl_decode_admin_resp(p, len, &a) || a.nonce != want->nonce)
		return false;
	*want = a;
	*answer = a.answer;
	*hint = a.leader;
	return true;
}

static int cmd_admin(struct ctl *t, uint8_t op, au_node_id node, int64_t timeout_ns)
{
	struct au_ctl_admin_req q = {os_random64(), op, node};
	uint8_t req[64];
	size_t rl = au_ctl_encode_admin_req(&q, req, sizeof(req));
	struct au_ctl_admin_resp a = {.nonce = q.nonce};
	g_autofree char *what = g_strdup_printf("%s n%u", op == AU_CTL_DRAIN ? "drain" : "resume", node);
	struct leader_call c = {req, rl, decode_admin, &a, what, "aureon"};
	int rc = leader_call(t, &c, timeout_ns);
	if (rc != EXIT_OK)
		return rc;
	if (op == AU_CTL_DRAIN)
		printf("n%u drained: it takes no new leases; the %u it holds finish (aureon-ctl resume n%u "
		       "undoes it)\n", node, a.leases, node);
	else
		printf("n%u resumed: it takes leases again\n", node);
	return EXIT_OK;
}

static bool decode_submit(void *ctx, const uint8_t *p, size_t len, uint8_t *answer, au_node_id *hint)
{
	struct au_ctl_submit_resp *want = ctx, a;
	if (!au_ctl_decode_submit_resp(p, len, &a) || a.nonce != want->nonce)
		return false;
	*want = a;
	*answer = a.answer;
	*hint = a.leader;
	return true;
}

static int cmd_submit(struct ctl *t, struct au_jobfile *j, bool wait, int64_t timeout_ns)
{
	struct au_ctl_submit_req *q = &j->q;
	int64_t deadline = mono_ns() + timeout_ns;
	uint8_t req[64 + AU_CTL_PAYLOAD_MAX];
	size_t rl = au_ctl_encode_submit_req(q, req, sizeof(req));
	struct au_ctl_submit_resp a = {.nonce = q->nonce};
	g_autofree char *what = g_strdup_printf("submit job %" G_GUINT64_FORMAT, j->job);
	struct leader_call c = {req, rl, decode_submit, &a, what, "aureon"};
	int rc = leader_call(t, &c, timeout_ns);
	if (rc != EXIT_OK)
		return rc;
	printf("job %" G_GUINT64_FORMAT ": %u tasks in the queue, ids %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
	       " (%u queued, %u leased, %u done, %u dead)\n",
	       j->job, q->count, q->first_id, q->first_id + q->count - 1, a.queued, a.leased, a.done, a.dead);
	if (!wait)
		return EXIT_OK;
	/* Ask the leader, confirmed each time, until nothing is left to run. */
	q->query_only = 1;
	while (a.done + a.dead < q->count) {
		int64_t left = deadline - mono_ns();
		if (left <= 0)
			break;
		g_usleep(100000);
		q->nonce = a.nonce = os_random64();
		rl = au_ctl_encode_submit_req(q, req, sizeof(req));
		c.req_len = rl;
		rc = leader_call(t, &c, left);
		if (rc != EXIT_OK)
			return rc;
	}
	if (a.done + a.dead < q->count) {
		fprintf(stderr, "aureon-ctl: job %" G_GUINT64_FORMAT ": not finished within the timeout: %u "
				"queued, %u leased, %u done, %u dead\n",
			j->job, a.queued, a.leased, a.done, a.dead);
		return EXIT_UNAVAILABLE;
	}
	printf("job %" G_GUINT64_FORMAT ": finished: %u done, %u dead\n", j->job, a.done, a.dead);
	return a.dead ? EXIT_FAILED : EXIT_OK;
}

static bool decode_job(void *ctx, const uint8_t *p, size_t len, uint8_t *answer, au_node_id *hint)
{
	struct au_ctl_job_resp *want = ctx, a;
	if (!au_ctl_decode_job_resp(p, len, &a) || a.nonce != want->nonce)
		return false;
	*want = a;
	*answer = a.answer;
	*hint = a.leader;
	return true;
}

static const char *verdict_name(uint8_t v)
{
	static const char *const names[] = {"running", "converged", "stopped at max_rounds", "stalled",
					    "failed", "cancelled"};
	return v < G_N_ELEMENTS(names) ? names[v] : "?";
}

/* Start an RQML job; with `wait`, follow it until its record is in ONE. */
static int cmd_job(struct ctl *t, struct au_jobfile *j, bool wait, int64_t timeout_ns)
{
	struct au_ctl_job_req *q = &j->r;
	int64_t deadline = mono_ns() + timeout_ns;
	uint8_t req[128];
	size_t rl = au_ctl_encode_job_req(q, req, sizeof(req));
	struct au_ctl_job_resp a = {.nonce = q->nonce};
	g_autofree char *what = g_strdup_printf("submit job %" G_GUINT64_FORMAT, j->job);
	struct leader_call c = {req, rl, decode_job, &a, what, "rqml"};
	int rc = leader_call(t, &c, timeout_ns);
	if (rc != EXIT_OK)
		return rc;
	printf("job %" G_GUINT64_FORMAT ": %s, size %u, %u shards, tolerance %g, at most %u rounds: %s",
	       j->job, au_kernel_kind_name((enum au_kernel_kind)q->kind), q->size, q->shards, q->tolerance,
	       q->max_rounds, a.finished ? verdict_name(a.verdict) : "running");
	if (a.rounds)
		printf(" (round %u, residual %.3g)", a.rounds, a.residual);
	printf("\n");
	if (!wait)
		return EXIT_OK;
	/* Until the record is in ONE (finished and written), confirmed by the
	 * leader each time. */
	q->query_only = 1;
	while (!(a.finished && a.one_index)) {
		if (deadline - mono_ns() <= 0)
			break;
		g_usleep(200000);
		q->nonce = a.nonce = os_random64();
		c.req_len = au_ctl_encode_job_req(q, req, sizeof(req));
		rc = leader_call(t, &c, deadline - mono_ns());
		if (rc != EXIT_OK)
			return rc;
	}
	if (!(a.finished && a.one_index)) {
		fprintf(stderr, "aureon-ctl: job %" G_GUINT64_FORMAT ": not finished within the timeout "
				"(round %u, residual %.3g)\n", j->job, a.rounds, a.residual);
		return EXIT_UNAVAILABLE;
	}
	char hex[65];
	for (int i = 0; i < 32; i++)
		g_snprintf(hex + 2 * i, 3, "%02x", a.digest[i]);
	printf("job %" G_GUINT64_FORMAT ": %s after %u rounds, residual %.3g; result sha256 %s; in ONE at "
	       "log index %" G_GUINT64_FORMAT "\n",
	       j->job, verdict_name(a.verdict), a.rounds, a.residual, hex, a.one_index);
	return a.verdict == AU_KERNEL_CONVERGED ? EXIT_OK : EXIT_FAILED;
}

/* ctl_jobs.c's way to the leader (struct au_ctl_jobs_env). */
static int jobs_call(void *ctx, const uint8_t *req, size_t len,
		     bool (*decode)(void *dctx, const uint8_t *p, size_t len, uint8_t *answer,
				    au_node_id *hint),
		     void *dctx, const char *what, int64_t timeout_ns)
{
	struct leader_call c = {req, len, decode, dctx, what, "aureon"};
	return leader_call(ctx, &c, timeout_ns);
}

/* ---- status ------------------------------------------------------------------------ */

static const char *role_name(int role)
{
	static const char *const names[] = {"follower", "pre-candidate", "candidate", "leader"};
	return role >= 0 && role <= 3 ? names[role] : "-";
}

static int cmd_status(struct ctl *t, int64_t timeout_ns, bool json)
{
	const uint32_t nodes = t->c->nodes;
	g_autofree struct au_ctl_status *st = g_new0(struct au_ctl_status, nodes + 1);
	g_autofree bool *got = g_new0(bool, nodes + 1);
	uint64_t nonce = os_random64();
	/* A status round is short: nodes answer at once or are down. */
	int64_t end = mono_ns() + (timeout_ns < AU_NS_PER_S ? timeout_ns : AU_NS_PER_S);
	uint32_t answered = 0;
	while (answered < nodes && mono_ns() < end) {
		uint8_t req[32];
		size_t rl = au_ctl_encode_status_req(nonce, req, sizeof(req));
		for (au_node_id n = 1; n <= nodes; n++)
			if (!got[n])
				ctl_send(t, n, t->control_tag, req, rl);
		int64_t round_end = mono_ns() + 250 * AU_NS_PER_MS;
		if (round_end > end)
			round_end = end;
		while (answered < nodes) {
			au_node_id from;
			const uint8_t *p;
			size_t len = ctl_recv(t, round_end, t->control_tag, &from, &p);
			if (len == 0)
				break;
			struct au_ctl_status s;
			if (got[from] || !au_ctl_decode_status_resp(p, len, &s) || s.nonce != nonce ||
			    s.st.id != from)
				continue;
			st[from] = s;
			got[from] = true;
			answered++;
		}
	}
	/* The leader: a node that says it leads, in the highest term. */
	au_node_id leader = 0;
	uint64_t term = 0;
	for (au_node_id n = 1; n <= nodes; n++)
		if (got[n] && st[n].st.role == 3 && (!leader || st[n].st.term > term)) {
			leader = n;
			term = st[n].st.term;
		}
	uint64_t voters = 0;
	bool voters_known = false;
	au_node_id view = leader;
	for (au_node_id n = 1; !view && n <= nodes; n++)
		if (got[n] && st[n].st.has_raft)
			view = n;
	if (view) {
		voters = st[view].st.voters;
		voters_known = true;
	}
	/* The queue as the leader's replica has it (the most up to date), or
	 * else any node's that runs the execution layer. */
	au_node_id qview = leader && st[leader].st.has_queue ? leader : 0;
	for (au_node_id n = 1; !qview && n <= nodes; n++)
		if (got[n] && st[n].st.has_queue)
			qview = n;
	const struct au_node_status *qs = qview ? &st[qview].st : NULL;
	if (json) {
		g_autoptr(GString) o = g_string_new(NULL);
		g_string_append_printf(o, "{\"cluster\": \"%s\", \"nodes\": %u, ", t->c->path, nodes);
		if (leader)
			g_string_append_printf(o, "\"leader\": \"n%u\", \"term\": %" G_GUINT64_FORMAT ", ", leader, term);
		else
			g_string_append(o, "\"leader\": null, \"term\": null, ");
		g_string_append(o, "\"members\": [");
		bool first = true;
		for (unsigned v = 1; voters_known && v < 64; v++)
			if (voters & (UINT64_C(1) << v)) {
				g_string_append_printf(o, "%s\"n%u\"", first ? "" : ", ", v);
				first = false;
			}
		if (qs)
			g_string_append_printf(o, "], \"queue_depth\": %" G_GUINT64_FORMAT ", \"queue\": {\"from\": \"n%u\", "
						  "\"queued\": %" G_GUINT64_FORMAT ", \"leased\": %" G_GUINT64_FORMAT
						  ", \"done\": %" G_GUINT64_FORMAT ", \"dead\": %" G_GUINT64_FORMAT "}, \"status\": [",
					       qs->queue_depth, qview, qs->queue_depth, qs->q_leased, qs->q_done, qs->q_dead);
		else
			g_string_append(o, "], \"queue_depth\": null, \"queue\": null, \"status\": [");
		for (au_node_id n = 1; n <= nodes; n++) {
			const struct au_node_status *s = &st[n].st;
			g_string_append_printf(o, "%s{\"node\": \"n%u\", \"address\": \"%s\", \"reachable\": %s",
					       n > 1 ? ", " : "", n, t->c->host_text[n], got[n] ? "true" : "false");
			if (got[n]) {
				g_string_append_printf(o, ", \"role\": \"%s\", \"term\": %" G_GUINT64_FORMAT
							  ", \"leader\": %s%u%s, \"commit_index\": %" G_GUINT64_FORMAT
							  ", \"applied_index\": %" G_GUINT64_FORMAT
							  ", \"last_index\": %" G_GUINT64_FORMAT ", \"epoch\": %" G_GUINT64_FORMAT
							  ", \"uptime_ns\": %" G_GINT64_FORMAT ", \"services\": \"%s\""
							  ", \"accepted\": %" G_GUINT64_FORMAT ", \"dropped\": %" G_GUINT64_FORMAT,
						       role_name(s->role), s->term, s->leader ? "\"n" : "", s->leader,
						       s->leader ? "\"" : "", s->commit, s->applied, s->last_index, s->epoch,
						       s->uptime_ns, st[n].services, st[n].rx_delivered, st[n].rx_dropped);
				g_string_append_printf(o, ", \"auth\": \"%s\"", s->auth); /* printable, no quotes */
				if (s->has_queue)
					g_string_append_printf(o, ", \"queue\": {\"leases\": %u, \"running\": %u, "
								  "\"waiting\": %u, \"draining\": %s}",
							       s->leases, s->running, s->waiting, s->draining ? "true" : "false");
			}
			g_string_append(o, "}");
		}
		g_string_append(o, "]}\n");
		fputs(o->str, stdout);
	} else {
		printf("cluster %s: %u nodes, %u answered\n", t->c->path, nodes, answered);
		if (leader)
			printf("leader: n%u (term %" G_GUINT64_FORMAT ")\n", leader, term);
		else
			printf("leader: none known\n");
		if (voters_known) {
			printf("members:");
			for (unsigned v = 1; v < 64; v++)
				if (voters & (UINT64_C(1) << v))
					printf(" n%u", v);
			printf("\n");
		}
		printf("%-5s %-22s %-13s %6s %6s %8s %8s %8s %6s %9s\n", "node", "address", "role", "term",
		       "leader", "commit", "applied", "last", "epoch", "uptime");
		for (au_node_id n = 1; n <= nodes; n++) {
			const struct au_node_status *s = &st[n].st;
			g_autofree char *name = g_strdup_printf("n%u", n);
			if (!got[n]) {
				printf("%-5s %-22s %s\n", name, t->c->host_text[n], "unreachable (no answer)");
				continue;
			}
			g_autofree char *ld = s->leader ? g_strdup_printf("n%u", s->leader) : g_strdup("-");
			printf("%-5s %-22s %-13s %6" G_GUINT64_FORMAT " %6s %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT
			       " %8" G_GUINT64_FORMAT " %6" G_GUINT64_FORMAT " %8.1fs\n",
			       name, t->c->host_text[n], s->has_raft ? role_name(s->role) : "(no raft)", s->term, ld,
			       s->commit, s->applied, s->last_index, s->epoch, (double)s->uptime_ns / 1e9);
		}
		for (au_node_id n = 1; n <= nodes; n++)
			if (got[n] && st[n].st.auth[0])
				printf("n%u sees: %s\n", n, st[n].st.auth);
		if (!qs) {
			printf("queue depth: unknown (no node answered that runs the aureon service)\n");
		} else {
			printf("queue depth: %" G_GUINT64_FORMAT " (n%u's replica: %" G_GUINT64_FORMAT " leased, %" G_GUINT64_FORMAT
			       " done, %" G_GUINT64_FORMAT " dead)\n",
			       qs->queue_depth, qview, qs->q_leased, qs->q_done, qs->q_dead);
			printf("%-5s %7s %8s %8s %9s\n", "node", "leases", "running", "waiting", "draining");
			for (au_node_id n = 1; n <= nodes; n++) {
				const struct au_node_status *s = &st[n].st;
				if (!got[n] || !s->has_queue)
					continue;
				g_autofree char *name = g_strdup_printf("n%u", n);
				printf("%-5s %7u %8u %8u %9s\n", name, s->leases, s->running, s->waiting,
				       s->draining ? "yes" : "no");
			}
		}
	}
	if (!answered) {
		fprintf(stderr, "aureon-ctl: no node answered: the cluster is down or unreachable\n");
		return EXIT_UNAVAILABLE;
	}
	if (!leader) {
		fprintf(stderr, "aureon-ctl: no leader: the cluster has no quorum (or is electing one)\n");
		return EXIT_UNAVAILABLE;
	}
	return EXIT_OK;
}

/* ---- keygen ---------------------------------------------------------------------------- */

static int cmd_keygen(const char *path)
{
	uint8_t key[32];
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		fprintf(stderr, "aureon-ctl: getrandom: %s\n", g_strerror(errno));
		return EXIT_USAGE;
	}
	char hex[2 * sizeof(key) + 2];
	for (size_t i = 0; i < sizeof(key); i++)
		g_snprintf(hex + 2 * i, 3, "%02x", key[i]);
	hex[2 * sizeof(key)] = '\n';
	hex[2 * sizeof(key) + 1] = '\0';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "aureon-ctl: keygen %s: %s%s\n", path, g_strerror(errno),
			errno == EEXIST ? " (refusing to overwrite a key)" : "");
		return EXIT_USAGE;
	}
	bool ok = write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	memset(key, 0, sizeof(key));
	memset(hex, 0, sizeof(hex));
	if (!ok) {
		fprintf(stderr, "aureon-ctl: keygen %s: %s\n", path, g_strerror(errno));
		return EXIT_USAGE;
	}
	fprintf(stderr, "aureon-ctl: wrote a new 256-bit cluster key to %s (mode 0600); copy it to "
			"every node and keep it secret\n", path);
	return EXIT_OK;
}

/* A node's identity key pair (identity.h): the file holds the secret and
 * public keys; the public key is printed for the cluster file. */
static int cmd_keygen_identity(const char *path)
{
	struct au_ident_keypair kp;
	g_autofree char *pub = NULL;
	char *text = au_ident_generate(&kp, &pub);
	memset(&kp, 0, sizeof(kp));
	if (!text) {
		fprintf(stderr, "aureon-ctl: keygen --identity: libsodium failed to initialise\n");
		return EXIT_USAGE;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text) && fsync(fd) == 0;
	int e = errno;
	if (fd >= 0)
		ok = close(fd) == 0 && ok;
	memset(text, 0, strlen(text));
	g_free(text);
	if (!ok) {
		fprintf(stderr, "aureon-ctl: keygen --identity %s: %s%s\n", path, g_strerror(e),
			e == EEXIST ? " (refusing to overwrite a key)" : "");
		return EXIT_USAGE;
	}
	printf("%s\n", pub);
	fprintf(stderr, "aureon-ctl: wrote a node identity key pair to %s (mode 0600); keep it on that node "
			"only (aureon-node reads DATA/identity.key or --identity FILE) and list the public key "
			"above in every cluster file's [identities] group: nK = %s\n", path, pub);
	return EXIT_OK;
}

/* ---- main ---------------------------------------------------------------------------------- */

static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	if (!s || !*s)
		return false;
	gint64 v = g_ascii_strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	if (au_ctl_results_is_cmd(argc, argv))
		return au_ctl_results_main(argc, argv); /* ctl_results.c: result get / make */
	const char *config = NULL;
	int64_t timeout_ns = 5 * AU_NS_PER_S;
	bool json = false, wait = false, identity = false;
	/* Options may come before or after the command; anything else is a
	 * positional argument (negative numbers included). */
	g_autofree char **pos = g_new0(char *, (gsize)argc + 1);
	int npos = 0;
	for (int i = 1, k; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			printf(usage, ctl_ops_usage, au_ctl_jobs_usage, ctl_batch_usage);
			return EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			printf("aureon-ctl %s\n", AUREON_VERSION);
			return EXIT_OK;
		} else if (strcmp(a, "--config") == 0) {
			if (i + 1 >= argc)
				return usage_error("--config needs a file");
			config = argv[++i];
		} else if (strcmp(a, "--timeout") == 0) {
			if (i + 1 >= argc || !au_parse_duration(argv[i + 1], &timeout_ns) || timeout_ns <= 0)
				return usage_error("--timeout needs a duration with a unit, e.g. 5s");
			i++;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--wait") == 0) {
			wait = true;
		} else if (strcmp(a, "--identity") == 0) {
			identity = true;
		} else if ((k = ctl_ops_option(argc, argv, i)) != 0 || (k = ctl_batch_option(argc, argv, i)) != 0) {
			if (k < 0)
				return EXIT_USAGE;
			i += k - 1;
		} else if (g_str_has_prefix(a, "--")) {
			return usage_error("unknown option '%s'", a);
		} else {
			pos[npos++] = argv[i];
		}
	}
	if (npos == 0)
		return usage_error("a command is required");
	g_autofree char *err_early = NULL;
	const char *cmd = pos[0];
	int nargs = npos - 1;
	char **args = pos + 1;
	if (strcmp(cmd, "help") == 0) {
		printf(usage, ctl_ops_usage, au_ctl_jobs_usage, ctl_batch_usage);
		return EXIT_OK;
	}
	if (strcmp(cmd, "keygen") == 0) {
		if (nargs != 1)
			return usage_error("keygen needs FILE");
		return identity ? cmd_keygen_identity(args[0]) : cmd_keygen(args[0]);
	}
	if (ctl_ops_handles(cmd))
		return ctl_ops_main(config, cmd, nargs, args, timeout_ns, json);
	if (ctl_batch_handles(cmd))
		return ctl_batch_main(config, cmd, nargs, args, timeout_ns, json);
	struct {
		const char *name;
		int nargs;
	} known[] = {{"put", 2}, {"get", 1}, {"cas", 3}, {"status", 0},
		     {"submit", 1}, {"drain", 1}, {"resume", 1}};
	bool jobs_cmd = strcmp(cmd, "job") == 0 || strcmp(cmd, "dead") == 0; /* ctl_jobs.c */
	uint64_t jobs_id;
	if (jobs_cmd && !au_ctl_jobs_parse(cmd, nargs, args, &jobs_id, &err_early))
		return usage_error("%s", err_early);
	int want = jobs_cmd ? nargs : -1;
	for (size_t k = 0; k < G_N_ELEMENTS(known); k++)
		if (strcmp(cmd, known[k].name) == 0)
			want = known[k].nargs;
	if (want < 0)
		return usage_error("unknown command '%s'", cmd);
	if (nargs != want)
		return usage_error("%s takes %d argument%s", cmd, want, want == 1 ? "" : "s");
	if (!config)
		return usage_error("--config CLUSTER.ini is required for %s", cmd);
	bool exec_cmd = strcmp(cmd, "submit") == 0 || strcmp(cmd, "drain") == 0 ||
			strcmp(cmd, "resume") == 0 || jobs_cmd;
	int64_t key = 0, value = 0, expected = 0;
	if ((nargs >= 1 && strcmp(cmd, "status") != 0 && !exec_cmd && !parse_i64(args[0], &key)) ||
	    (strcmp(cmd, "put") == 0 && !parse_i64(args[1], &value)) ||
	    (strcmp(cmd, "cas") == 0 && (!parse_i64(args[1], &expected) || !parse_i64(args[2], &value))))
		return usage_error("keys and values are signed 64-bit integers (the kv service stores "
				   "integers)");

	char *err = NULL;
	struct au_cluster *c = au_cluster_load(config, &err);
	if (!c) {
		fprintf(stderr, "aureon-ctl: %s\n", err);
		g_free(err);
		return EXIT_USAGE;
	}
	bool has_kv = false, has_aureon = false;
	for (uint32_t s = 0; s < c->spec.n_services; s++) {
		has_kv = has_kv || strcmp(c->spec.services[s]->name, "kv") == 0;
		has_aureon = has_aureon || strcmp(c->spec.services[s]->name, "aureon") == 0;
	}
	if (strcmp(cmd, "status") != 0 && (exec_cmd ? !has_aureon : !has_kv)) {
		fprintf(stderr, "aureon-ctl: %s: the cluster does not run the %s service ([cluster] services)\n",
			config, exec_cmd ? "aureon (execution layer)" : "kv");
		au_cluster_free(c);
		return EXIT_USAGE;
	}
	au_node_id node = 0;
	struct au_jobfile job;
	if ((strcmp(cmd, "drain") == 0 || strcmp(cmd, "resume") == 0) &&
	    !au_parse_node(args[0], c->nodes, &node)) {
		fprintf(stderr, "aureon-ctl: %s %s: unknown node: %s has nodes n1..n%u\n", cmd, args[0], config,
			c->nodes);
		au_cluster_free(c);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "submit") == 0 && !au_jobfile_load(args[0], c, os_random64, &job, &err)) {
		fprintf(stderr, "aureon-ctl: %s\n", err);
		g_free(err);
		au_cluster_free(c);
		return EXIT_USAGE;
	}
	struct ctl t;
	int rc;
	if (!ctl_open(&t, c, &err)) {
		fprintf(stderr, "aureon-ctl: %s\n", err);
		g_free(err);
		rc = EXIT_USAGE;
	} else if (strcmp(cmd, "status") == 0) {
		rc = cmd_status(&t, timeout_ns, json);
	} else if (jobs_cmd) {
		struct au_ctl_jobs_env env = {&t, jobs_call, timeout_ns};
		rc = au_ctl_jobs_run(&env, cmd, nargs, args, json);
	} else if (node) {
		rc = cmd_admin(&t, strcmp(cmd, "drain") == 0 ? AU_CTL_DRAIN : AU_CTL_RESUME, node, timeout_ns);
	} else if (exec_cmd) {
		rc = job.rqml ? cmd_job(&t, &job, wait, timeout_ns) : cmd_submit(&t, &job, wait, timeout_ns);
	} else {
		uint8_t op = strcmp(cmd, "get") == 0 ? KV_GET : strcmp(cmd, "put") == 0 ? KV_PUT : KV_CAS;
		struct kv_result res = {0};
		rc = kv_op(&t, op, key, value, expected, timeout_ns, &res);
		if (rc == EXIT_OK) {
			if (op == KV_GET)
				printf("%" G_GINT64_FORMAT "\n", res.value);
			else if (op == KV_PUT)
				printf("ok\n");
			else if (res.cas_ok)
				printf("ok\n");
			else {
				printf("failed: %" G_GINT64_FORMAT " holds %" G_GINT64_FORMAT "\n", key, res.value);
				rc = EXIT_FAILED;
			}
		}
	}
	ctl_close(&t);
	au_cluster_free(c);
	return rc;
}
