/* ctl_jobs.c — aureon-ctl's job and dead-letter commands (jobctl.h):
 *
 *   job list             every job of the task queue: state, task counts
 *   job show JOB         the job, its failure reason, and each of its tasks
 *   job cancel JOB       cancel it; waits until the cancel is committed
 *   dead list            every dead letter with its reason and last error
 *   dead requeue TASK    put a dead letter back in the queue, retries reset
 *
 * Requests go to the leader's control service and are answered once it
 * confirmed them by a ReadIndex round (ctl_main.c's leader_call, reached
 * through the `call` function it passes).  Exit 1 when a cancel or a
 * requeue is refused (unknown id, a done job, a task that is not dead, a
 * cancelled job's task).
 */
#include "ctl_jobs.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "ctlproto.h"
#include "jobctl.h"
#include "taskq.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

const char *const au_ctl_jobs_usage =
	"  job list               the task queue's jobs: state, tasks queued/leased/done/dead\n"
	"  job show JOB           a job, why it failed, and each of its tasks\n"
	"  job cancel JOB         cancel JOB: nothing of it runs or completes any more\n"
	"  dead list              dead letters: reason (attempts_exhausted, malformed,\n"
	"                         cancelled, job_failed) and last error\n"
	"  dead requeue TASK      put dead letter TASK back in the queue (retries reset;\n"
	"                         a failed job reopens)\n";

static uint64_t nonce64(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)g_get_real_time() ^ (uint64_t)g_get_monotonic_time() << 20;
	return v;
}

static bool decode(void *ctx, const uint8_t *p, size_t len, uint8_t *answer, au_node_id *hint)
{
	struct au_jobctl_resp *want = ctx;
	struct au_jobctl_resp *a = g_new(struct au_jobctl_resp, 1);
	bool ok = au_jobctl_decode_resp(p, len, a) && a->nonce == want->nonce;
	if (ok) {
		*want = *a;
		*answer = a->answer;
		*hint = a->leader;
	}
	g_free(a);
	return ok;
}

/* One confirmed request; the reply in *a. */
static int ask(const struct au_ctl_jobs_env *env, uint8_t op, uint64_t id, uint64_t from,
	       const char *what, struct au_jobctl_resp *a)
{
	struct au_jobctl_req q = {.nonce = nonce64(), .op = op, .id = id, .from = from};
	uint8_t req[64];
	size_t len = au_jobctl_encode_req(&q, req, sizeof(req));
	memset(a, 0, sizeof(*a));
	a->nonce = q.nonce;
	return env->call(env->ctx, req, len, decode, a, what, env->timeout_ns);
}

static void print_job(const struct au_jobctl_row *r, bool json)
{
	if (json) {
		printf("{\"job\": %" G_GUINT64_FORMAT ", \"state\": \"%s\", \"tasks\": %u, \"queued\": %u, "
		       "\"leased\": %u, \"done\": %u, \"dead\": %u", r->id,
		       au_taskq_job_state_name(r->state), r->a, r->b, r->c, r->d, r->e);
		if (r->state == AU_JOB_FAILED)
			printf(", \"reason\": \"%s\", \"last_error\": \"%s\", \"failed_task\": %" G_GUINT64_FORMAT,
			       au_taskq_dead_reason_name(r->reason), au_taskq_error_name(r->error), r->ref);
		printf("}\n");
		return;
	}
	printf("job %" G_GUINT64_FORMAT ": %s, %u tasks (%u queued, %u leased, %u done, %u dead)", r->id,
	       au_taskq_job_state_name(r->state), r->a, r->b, r->c, r->d, r->e);
	if (r->state == AU_JOB_FAILED)
		printf(": task %" G_GUINT64_FORMAT " %s, last error %s", r->ref,
		       au_taskq_dead_reason_name(r->reason), au_taskq_error_name(r->error));
	printf("\n");
}

static const char *task_state_name(uint8_t s)
{
	static const char *const names[] = {"queued", "leased", "done", "dead"};
	return s < 4 ? names[s] : "?";
}

static void print_task(const struct au_jobctl_row *r, bool json)
{
	if (json) {
		printf("{\"task\": %" G_GUINT64_FORMAT ", \"job\": %" G_GUINT64_FORMAT ", \"state\": \"%s\", "
		       "\"retries\": %u, \"max_retries\": %u, \"attempts\": %u, \"requeues\": %u",
		       r->id, r->ref, task_state_name(r->state), r->a, r->e, r->b, r->c);
		if (r->state == AU_TASK_DEAD)
			printf(", \"reason\": \"%s\"", au_taskq_dead_reason_name(r->reason));
		if (r->error)
			printf(", \"last_error\": \"%s\"", au_taskq_error_name(r->error));
		if (r->d)
			printf(", \"holder\": \"n%u\"", r->d);
		printf("}\n");
		return;
	}
	printf("task %" G_GUINT64_FORMAT ": %s", r->id, task_state_name(r->state));
	if (r->state == AU_TASK_DEAD)
		printf(" (%s)", au_taskq_dead_reason_name(r->reason));
	if (r->d)
		printf(" by n%u", r->d);
	printf(", job %" G_GUINT64_FORMAT ", retries %u of %u, attempts %u, requeues %u", r->ref, r->a,
	       r->e, r->b, r->c);
	if (r->error)
		printf(", last error %s", au_taskq_error_name(r->error));
	printf("\n");
}

/* A list, page by page. */
static int list(const struct au_ctl_jobs_env *env, uint8_t op, uint64_t id, const char *what,
		bool json)
{
	struct au_jobctl_resp *a = g_new(struct au_jobctl_resp, 1);
	uint64_t from = 0;
	uint32_t shown = 0;
	int rc;
	for (;;) {
		rc = ask(env, op, id, from, what, a);
		if (rc != EXIT_OK)
			break;
		if (a->result == AU_JOBCTL_UNKNOWN) {
			fprintf(stderr, "aureon-ctl: %s: the queue has no job %" G_GUINT64_FORMAT "\n", what, id);
			rc = EXIT_FAILED;
			break;
		}
		for (uint32_t i = 0; i < a->n_rows; i++) {
			/* The job heads every page of `show`: print it once. */
			if (a->rows[i].kind == AU_JOBCTL_ROW_JOB && from != 0)
				continue;
			if (a->rows[i].kind == AU_JOBCTL_ROW_JOB)
				print_job(&a->rows[i], json);
			else
				print_task(&a->rows[i], json);
			shown++;
		}
		if (!a->next)
			break;
		from = a->next;
	}
	if (rc == EXIT_OK && shown == 0 && !json)
		printf(op == AU_JOBCTL_DEAD ? "no dead letters\n" : "no jobs\n");
	g_free(a);
	return rc;
}

static int change(const struct au_ctl_jobs_env *env, uint8_t op, uint64_t id, const char *what,
		  bool json)
{
	struct au_jobctl_resp *a = g_new(struct au_jobctl_resp, 1);
	int rc = ask(env, op, id, 0, what, a);
	if (rc == EXIT_OK) {
		static const char *const why[] = {
			[AU_JOBCTL_UNKNOWN] = "no such %s in the queue",
			[AU_JOBCTL_JOB_DONE] = "refused: the %s is done already",
			[AU_JOBCTL_NOT_DEAD] = "refused: the %s is not a dead letter",
			[AU_JOBCTL_CANCELLED] = "refused: the %s belongs to a cancelled job",
		};
		const char *noun = op == AU_JOBCTL_CANCEL ? "job" : "task";
		if (a->result != AU_JOBCTL_OK) {
			fprintf(stderr, "aureon-ctl: %s: ", what);
			fprintf(stderr, why[a->result], noun);
			fprintf(stderr, "\n");
			rc = EXIT_FAILED;
		} else if (op == AU_JOBCTL_CANCEL) {
			if (!json)
				printf("cancelled: ");
			print_job(&a->rows[0], json);
		} else {
			if (!json)
				printf("requeued: ");
			print_task(&a->rows[0], json);
		}
	}
	g_free(a);
	return rc;
}

bool au_ctl_jobs_parse(const char *cmd, int nargs, char **args, uint64_t *id, char **err)
{
	*id = 0;
	const char *sub = nargs >= 1 ? args[0] : "";
	bool is_job = strcmp(cmd, "job") == 0;
	int want = (is_job && strcmp(sub, "list") == 0) || (!is_job && strcmp(sub, "list") == 0) ? 1
		   : (is_job && (strcmp(sub, "show") == 0 || strcmp(sub, "cancel") == 0)) ||
				   (!is_job && strcmp(sub, "requeue") == 0)
			   ? 2 : 0;
	if (!want) {
		*err = g_strdup_printf("%s needs a subcommand: %s", cmd,
				       is_job ? "list, show JOB or cancel JOB" : "list or requeue TASK");
		return false;
	}
	if (nargs != want) {
		*err = g_strdup_printf("%s %s takes %s", cmd, sub,
				       want == 1 ? "no argument" : is_job ? "a job id" : "a task id");
		return false;
	}
	if (want == 2 && (!g_ascii_string_to_unsigned(args[1], 10, 1, UINT64_MAX, id, NULL))) {
		*err = g_strdup_printf("%s %s: '%s' is not a %s id (a positive integer)", cmd, sub,
				       args[1], is_job ? "job" : "task");
		return false;
	}
	return true;
}

int au_ctl_jobs_run(const struct au_ctl_jobs_env *env, const char *cmd, int nargs, char **args,
		    bool json)
{
	uint64_t id;
	char *err = NULL;
	if (!au_ctl_jobs_parse(cmd, nargs, args, &id, &err)) {
		fprintf(stderr, "aureon-ctl: %s\n", err);
		g_free(err);
		return EXIT_USAGE;
	}
	g_autofree char *what = g_strdup_printf("%s %s%s%s", cmd, args[0], id ? " " : "",
						id ? args[1] : "");
	bool is_job = strcmp(cmd, "job") == 0;
	if (strcmp(args[0], "list") == 0)
		return list(env, is_job ? AU_JOBCTL_LIST : AU_JOBCTL_DEAD, 0, what, json);
	if (strcmp(args[0], "show") == 0)
		return list(env, AU_JOBCTL_SHOW, id, what, json);
	return change(env, is_job ? AU_JOBCTL_CANCEL : AU_JOBCTL_REQUEUE, id, what, json);
}
