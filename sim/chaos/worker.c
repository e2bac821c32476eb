/* worker.c — the workers of a chaos sweep: forked processes that each run
 * one job at a time (a seed, a re-run, a diagnosis with record dumps, a
 * shrink) and send back a fixed-size result over a pipe; and the pool
 * that feeds them, replacing a worker that dies (a crash in the code under
 * test) or overruns its time.
 */
#include "chaos_internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pin.h"
#include "sim/check/check.h"
#include "sim/report/report.h"

const char *const au_chaos_verdict_names[V_COUNT_] = {AU_VERDICT_PASS, AU_VERDICT_FAIL,
						      AU_VERDICT_NOT_RUN, AU_VERDICT_UNKNOWN};

enum verdict au_chaos_verdict_of(const char *name)
{
	for (int v = 0; v < V_COUNT_; v++)
		if (strcmp(name, au_chaos_verdict_names[v]) == 0)
			return (enum verdict)v;
	return V_UNKNOWN; /* a verdict this sweep does not know is no verdict */
}

/* ---- one run ------------------------------------------------------------- */

char *au_chaos_seed_text(const struct runner *R, uint64_t seed, bool perturb,
			 struct au_chaos_plan **plan_out)
{
	struct au_chaos_plan *plan = au_chaos_plan_new(R->sc, seed);
	char *text = au_chaos_render(R->sc, plan, NULL);
	if (perturb) {
		char at[40];
		au_format_duration(R->sc->duration / 2, at, sizeof(at));
		char *more = g_strdup_printf("%s\n[fault.nondeterminism-self-test]\nat = %s\naction = heal\n",
					     text, at);
		g_free(text);
		text = more;
	}
	if (plan_out)
		*plan_out = plan;
	else
		au_chaos_plan_free(plan);
	return text;
}

static void run_seed(const struct runner *R, uint64_t seed, bool perturb, const char *records,
		     struct result *res)
{
	struct au_chaos_plan *plan = NULL;
	g_autofree char *text = au_chaos_seed_text(R, seed, perturb, &plan);
	res->enabled = plan->enabled;
	res->n_faults = plan->n_faults;
	res->chains_planned = plan->chains > 0;
	au_chaos_plan_free(plan);
	char *err = NULL;
	struct au_scenario *sc = au_scenario_load_text(R->path, text, &err);
	if (!sc) {
		res->rc = 2;
		res->out.rc = 2;
		g_snprintf(res->out.detail, sizeof(res->out.detail), "generated scenario did not load: %s",
			   err);
		g_free(err);
		return;
	}
	FILE *dump = records ? fopen(records, "w") : NULL;
	struct au_chaos_cov *cov = au_chaos_cov_new(sc);
	struct au_sim *sim = au_sim_new(sc, seed);
	au_sim_set_observer(sim, au_chaos_cov_observe, cov);
	au_sim_set_record_dump(sim, dump);
	int rc = au_sim_run(sim, sc->duration);
	if (rc == 0)
		rc = au_sim_finish(sim);
	res->rc = rc;
	res->out.rc = rc;
	const struct au_violation *v = au_sim_violation(sim);
	if (v) {
		g_strlcpy(res->out.check, v->check, sizeof(res->out.check));
		res->out.t_ns = v->t_ns;
		res->out.node = v->node;
		res->out.record = v->record;
		g_strlcpy(res->out.detail, v->detail, sizeof(res->out.detail));
		res->out.viol = *v;
	}
	au_sim_trace_hash(sim, res->out.hash);
	res->out.events = au_sim_stats(sim)->events;
	res->out.sim_ns = au_sim_stats(sim)->sim_time_ns;
	for (uint32_t i = 0; i < sc->n_faults; i++) {
		int k = au_chaos_fault_kind(sc->faults[i].name);
		if (k < 0)
			continue;
		res->planned |= 1u << k;
		bool applied = au_sim_fault_outcome(sim, i) == AU_FAULT_WAS_APPLIED && !au_chaos_cov_admin_failed(cov, i);
		if (applied)
			res->applied |= 1u << k;
		if (applied && g_str_has_suffix(sc->faults[i].name, "-then-crash"))
			res->chains_applied = 1;
	}
	res->combos = au_chaos_cov_combos(cov);
	const char *names[MAX_CHECKS], *results[MAX_CHECKS];
	size_t n = au_check_results(sim, names, results, MAX_CHECKS);
	res->n_checks = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		g_strlcpy(res->check_names[i], names[i], sizeof(res->check_names[i]));
		res->check_verdict[i] = (uint8_t)au_chaos_verdict_of(results[i]);
		au_check_reason(sim, i, res->check_reason[i], sizeof(res->check_reason[i]));
	}
	au_sim_free(sim);
	if (dump)
		fclose(dump);
	au_chaos_cov_free(cov);
	au_scenario_free(sc);
}

char *au_chaos_repro_path(const struct runner *R, uint64_t seed, const char *suffix)
{
	return g_strdup_printf("%s/repro-%" G_GUINT64_FORMAT "%s", R->out_dir, seed, suffix);
}

static void shrink_seed(const struct runner *R, const struct job *j, struct result *res)
{
	g_autofree char *text = au_chaos_seed_text(R, j->seed, false, NULL);
	char *min = NULL;
	res->shrink_rc = au_chaos_shrink(R->path, text, j->want, R->shrink_budget_s, &min, &res->shrink);
	if (res->shrink_rc != 0) {
		if (res->shrink.timed_out)
			g_snprintf(res->message, sizeof(res->message),
				   "one run takes longer than --shrink-time; try aureon-sim shrink "
				   "with a larger --time");
		else
			g_snprintf(res->message, sizeof(res->message),
				   "the reproducer did not fail %s again in a fresh process (%s)", j->want,
				   res->shrink.check[0] ? res->shrink.check : "it passed");
		return;
	}
	const struct au_shrink_stats *st = &res->shrink;
	char t[40], d0[32], d1[32];
	au_report_seconds(st->t_ns, t, sizeof(t));
	au_format_duration(st->duration_before, d0, sizeof(d0));
	au_format_duration(st->duration_after, d1, sizeof(d1));
	g_autofree char *file = au_chaos_repro_path(R, j->seed, ".min.ini");
	g_autofree char *base = g_path_get_basename(file);
	g_autofree char *pin = au_pin_header();
	g_autofree char *header = g_strdup_printf(
		"aureon-sim chaos reproducer, shrunk: scenario %s (%s), seed %" G_GUINT64_FORMAT "\n"
		"Fails %s at t=%s; trace hash %s\n"
		"Replay: aureon-sim run %s\n"
		"Shrunk from %u to %u faults, %s to %s, %u to %u nodes, clients %u to %u, rates %u/s to\n"
		"%u/s (%u candidate runs, %.1f s%s).\n%s",
		R->sc->name, R->path, j->seed, st->check, t, st->hash, base, st->faults_before,
		st->faults_after, d0, d1, st->nodes_before, st->nodes_after, st->clients_before,
		st->clients_after, st->rate_before, st->rate_after, st->runs, st->wall_s,
		st->budget_hit ? ", stopped by the time budget" : "", pin);
	g_autofree char *fixed = au_pin_shrunk_text(min, st->faults_after);
	struct au_ini *ini = au_ini_parse(fixed);
	au_ini_prepend_comment(ini, header);
	g_autofree char *out = au_ini_to_text(ini);
	au_ini_free(ini);
	g_free(min);
	GError *gerr = NULL;
	if (!g_file_set_contents(file, out, -1, &gerr)) {
		g_snprintf(res->message, sizeof(res->message), "%s", gerr->message);
		g_error_free(gerr);
		res->shrink_rc = -2;
		return;
	}
	g_strlcpy(res->message, file, sizeof(res->message));
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read exactly len bytes; false on EOF or error. */
static bool read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void worker_main(const struct runner *R, int in, int out)
{
	struct job j;
	while (read_all(in, &j, sizeof(j))) {
		struct timespec c0, c1;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
		struct result *res = g_new0(struct result, 1);
		res->type = j.type;
		res->index = j.index;
		res->seed = j.seed;
		switch (j.type) {
		case JOB_RUN:
			run_seed(R, j.seed, false, NULL, res);
			break;
		case JOB_RERUN:
			run_seed(R, j.seed, R->perturb_test, NULL, res);
			break;
		case JOB_DIAG: {
			g_autofree char *rec = g_strdup_printf("%s/nondet-%" G_GUINT64_FORMAT "-%c.records",
							       R->out_dir, j.seed, 'a' + (int)j.attempt);
			run_seed(R, j.seed, R->perturb_test && j.attempt == 1, rec, res);
			g_strlcpy(res->message, rec, sizeof(res->message));
			break;
		}
		case JOB_SHRINK:
			shrink_seed(R, &j, res);
			break;
		default:
			break;
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
		res->cpu_s = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
		bool ok = write_all(out, res, sizeof(*res));
		g_free(res);
		if (!ok)
			break;
	}
}

/* ---- the pool -------------------------------------------------------------- */

static bool spawn(struct pool *P, uint32_t i)
{
	int down[2], up[2];
	if (pipe(down) != 0)
		return false;
	if (pipe(up) != 0) {
		close(down[0]);
		close(down[1]);
		return false;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(down[0]);
		close(down[1]);
		close(up[0]);
		close(up[1]);
		return false;
	}
	if (pid == 0) {
		/* Only this worker's own ends stay open: a dead worker's pipe must
		 * reach EOF in the parent. */
		for (uint32_t k = 0; k < P->n; k++) {
			if (k == i || P->w[k].pid <= 0)
				continue;
			close(P->w[k].to);
			close(P->w[k].from);
		}
		close(down[1]);
		close(up[0]);
		signal(SIGPIPE, SIG_DFL);
		if (!P->R->verbose) {
			FILE *null = freopen("/dev/null", "w", stderr);
			(void)null;
		}
		worker_main(P->R, down[0], up[1]);
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	P->w[i] = (struct worker){.pid = pid, .to = down[1], .from = up[0]};
	return true;
}

static void reap(struct pool *P, uint32_t i, int *status)
{
	struct worker *w = &P->w[i];
	close(w->to);
	close(w->from);
	int st = 0;
	while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (status)
		*status = st;
	w->pid = -1;
}

bool au_chaos_pool_start(struct pool *P, struct runner *R, uint32_t n)
{
	P->R = R;
	P->n = n;
	P->tick = NULL;
	P->tick_ctx = NULL;
	P->w = g_new0(struct worker, n);
	for (uint32_t i = 0; i < n; i++)
		P->w[i].pid = -1;
	for (uint32_t i = 0; i < n; i++)
		if (!spawn(P, i))
			return false;
	return true;
}

void au_chaos_pool_stop(struct pool *P)
{
	for (uint32_t i = 0; i < P->n; i++)
		if (P->w[i].pid > 0)
			reap(P, i, NULL); /* closing its job pipe ends its loop */
	g_free(P->w);
}

bool au_chaos_run_batch(struct pool *P, struct job *jobs, uint32_t n, double limit_s,
			on_result_fn on_result, void *ctx)
{
	uint32_t next = 0, done = 0;
	struct pollfd *pfd = g_new(struct pollfd, P->n);
	struct result *res = g_new0(struct result, 1);
	bool ok = true;
	while (done < n && ok) {
		for (uint32_t i = 0; i < P->n && next < n; i++) {
			struct worker *w = &P->w[i];
			if (w->pid <= 0 && !spawn(P, i)) {
				ok = false;
				break;
			}
			if (w->busy)
				continue;
			if (!write_all(w->to, &jobs[next], sizeof(jobs[next]))) {
				reap(P, i, NULL); /* died idle; respawn on the next pass */
				continue;
			}
			w->busy = true;
			w->job = jobs[next++];
			w->started = au_report_wall_seconds();
		}
		uint32_t np = 0;
		for (uint32_t i = 0; i < P->n; i++) {
			pfd[i].fd = P->w[i].busy ? P->w[i].from : -1;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			np += P->w[i].busy;
		}
		if (np == 0)
			continue;
		int pr = poll(pfd, P->n, 100);
		if (pr < 0 && errno != EINTR) {
			ok = false;
			break;
		}
		if (P->tick)
			P->tick(P->tick_ctx);
		double t = au_report_wall_seconds();
		for (uint32_t i = 0; i < P->n; i++) {
			struct worker *w = &P->w[i];
			if (!w->busy)
				continue;
			bool ready = pfd[i].revents & (POLLIN | POLLHUP | POLLERR);
			bool overdue = t - w->started > limit_s;
			if (!ready && !overdue)
				continue;
			memset(res, 0, sizeof(*res));
			if (ready && read_all(w->from, res, sizeof(*res))) {
				w->busy = false;
			} else {
				int status = 0;
				if (overdue && !ready)
					kill(w->pid, SIGKILL);
				reap(P, i, &status);
				memset(res, 0, sizeof(*res));
				res->type = w->job.type;
				res->index = w->job.index;
				res->seed = w->job.seed;
				if (overdue && !ready) {
					res->rc = 4;
					g_strlcpy(res->out.check, "timeout", sizeof(res->out.check));
					g_snprintf(res->out.detail, sizeof(res->out.detail),
						   "no result after %.0f s of wall time (--timeout)", limit_s);
				} else {
					res->rc = 3;
					int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
					g_snprintf(res->out.check, sizeof(res->out.check), "signal %d", sig);
					g_snprintf(res->out.detail, sizeof(res->out.detail),
						   "the run crashed: %s (exit status %d)",
						   sig ? strsignal(sig) : "worker ended", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
				}
				res->out.rc = 1;
				res->shrink_rc = -1;
				w->busy = false;
			}
			done++;
			on_result(ctx, res);
		}
	}
	g_free(res);
	g_free(pfd);
	return ok;
}
