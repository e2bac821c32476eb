/* phold_min.c — the classic PHOLD workload on a bare binary heap, with no
 * engine around it.
 *
 * This is the baseline for the engine's PHOLD benchmark: the engine's
 * overhead is quoted as its time per event divided by this program's, both
 * measured in the same run.  It is meant to be an honest, plain
 * implementation: an array-based binary min-heap of events keyed by
 * (time in ns, insertion sequence), separate pop and push, the LP id as the
 * only payload, and one PCG32 generator for all randomness.
 *
 * Workload: N logical processes each start with E events.  Processing an
 * event at LP i schedules exactly one new event, at a uniformly random other
 * LP with probability R and at i otherwise, due at now + 1 us lookahead +
 * an exponential delay of mean 1 us.  The run stops after M processed
 * events, so N*E events are pending throughout.
 *
 * Build:
 *   gcc -std=c11 -Wall -Wextra -Werror -O2 -g -ffp-contract=off -D_GNU_SOURCE -Icore \
 *       -o phold_min bench/phold_min.c core/pcg32.c -lm
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "pcg32.h"

#define LOOKAHEAD_NS 1000  /* fixed part of every delay */
#define MEAN_EXTRA_NS 1000.0 /* mean of the exponential part of every delay */
#define PCG_STREAM 54u     /* PCG32 sequence selector */

/* One pending event: due time, tie-breaking insertion sequence, target LP. */
struct event {
	int64_t time_ns;
	uint64_t seq;
	uint32_t lp;
};

/* The event queue: a binary min-heap stored in one array. */
struct heap {
	struct event *items;
	size_t len;
	size_t cap;
	uint64_t next_seq; /* sequence number given to the next pushed event */
};

/* Command-line settings. */
struct options {
	uint64_t lps;
	uint64_t init;
	double remote;
	uint64_t events;
	uint64_t seed;
	bool json;
};

/* What the run measured. */
struct results {
	double elapsed_sec;
	int64_t final_time_ns;
	uint64_t checksum;
	long long peak_rss_bytes;
};

/* True when event a must be processed before event b. */
static inline bool event_before(const struct event *a, const struct event *b)
{
	return a->time_ns < b->time_ns || (a->time_ns == b->time_ns && a->seq < b->seq);
}

/* Allocate an empty heap able to hold `cap` events; exits on failure. */
static void heap_init(struct heap *h, size_t cap)
{
	h->items = malloc(cap * sizeof(*h->items));
	if (!h->items) {
		fprintf(stderr, "phold_min: out of memory allocating %zu events\n", cap);
		exit(1);
	}
	h->len = 0;
	h->cap = cap;
	h->next_seq = 0;
}

/* Release the heap's storage. */
static void heap_free(struct heap *h)
{
	free(h->items);
	h->items = NULL;
	h->len = h->cap = 0;
}

/* Insert an event for `lp` due at `time_ns`, sifting it up to its place. */
static inline void heap_push(struct heap *h, int64_t time_ns, uint32_t lp)
{
	if (h->len == h->cap) {
		fprintf(stderr, "phold_min: internal error: heap overflow\n");
		abort();
	}
	struct event ev = { .time_ns = time_ns, .seq = h->next_seq++, .lp = lp };
	size_t hole = h->len++;
	while (hole > 0) {
		size_t parent = (hole - 1) / 2;
		if (!event_before(&ev, &h->items[parent]))
			break;
		h->items[hole] = h->items[parent];
		hole = parent;
	}
	h->items[hole] = ev;
}

/* Remove the earliest event into *out, refilling the root by sifting the
 * last event down; the heap must not be empty. */
static inline void heap_pop(struct heap *h, struct event *out)
{
	*out = h->items[0];
	struct event last = h->items[--h->len];
	size_t len = h->len;
	if (len == 0)
		return;
	size_t hole = 0;
	for (;;) {
		size_t child = 2 * hole + 1;
		if (child >= len)
			break;
		if (child + 1 < len && event_before(&h->items[child + 1], &h->items[child]))
			child++;
		if (!event_before(&h->items[child], &last))
			break;
		h->items[hole] = h->items[child];
		hole = child;
	}
	h->items[hole] = last;
}

/* Draw a PHOLD delay: the lookahead plus an exponential of mean 1 us. */
static inline int64_t draw_delay_ns(struct au_pcg32 *rng)
{
	double u = 1.0 - au_pcg32_unit(rng); /* in (0, 1] */
	return LOOKAHEAD_NS + (int64_t)(-MEAN_EXTRA_NS * log(u));
}

/* Pick the LP that receives the event spawned at `self`. */
static inline uint32_t draw_destination(struct au_pcg32 *rng, uint32_t self, uint32_t lps,
					double remote)
{
	if (au_pcg32_unit(rng) >= remote)
		return self;
	uint32_t other = au_pcg32_below(rng, lps - 1); /* uniform over the others */
	return other >= self ? other + 1 : other;
}

/* Seconds elapsed between two CLOCK_MONOTONIC readings. */
static double seconds_between(const struct timespec *start, const struct timespec *end)
{
	return (double)(end->tv_sec - start->tv_sec) + (double)(end->tv_nsec - start->tv_nsec) * 1e-9;
}

/* Peak resident set size of this process in bytes. */
static long long peak_rss_bytes(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (long long)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

/* Fill the heap with every LP's initial events, then process `events` of
 * them, timing only the processing loop. */
static void run_phold(const struct options *opt, struct results *res)
{
	struct au_pcg32 rng;
	au_pcg32_seed(&rng, opt->seed, PCG_STREAM);
	uint32_t lps = (uint32_t)opt->lps;
	struct heap heap;
	heap_init(&heap, (size_t)(opt->lps * opt->init));
	for (uint32_t lp = 0; lp < lps; lp++)
		for (uint64_t k = 0; k < opt->init; k++)
			heap_push(&heap, draw_delay_ns(&rng), lp);

	uint64_t checksum = 0;
	int64_t now = 0;
	struct timespec start, end;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (uint64_t done = 0; done < opt->events; done++) {
		struct event ev;
		heap_pop(&heap, &ev);
		now = ev.time_ns;
		checksum += ev.lp;
		uint32_t dest = draw_destination(&rng, ev.lp, lps, opt->remote);
		heap_push(&heap, now + draw_delay_ns(&rng), dest);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);

	res->elapsed_sec = seconds_between(&start, &end);
	res->final_time_ns = now;
	res->checksum = checksum;
	heap_free(&heap);
	res->peak_rss_bytes = peak_rss_bytes();
}

/* Print the usage text to `out`. */
static void print_usage(FILE *out)
{
	fprintf(out,
		"usage: phold_min [--lps N] [--init E] [--remote R] [--events M] [--seed S] [--json]\n"
		"  PHOLD on a bare binary heap: the baseline for the engine's PHOLD benchmark.\n"
		"  --lps N      logical processes, >= 1 (default 1024)\n"
		"  --init E     initial events per LP, >= 1 (default 16)\n"
		"  --remote R   probability in [0,1] that an event goes to another LP (default 0.9)\n"
		"  --events M   events to process, >= 1 (default 20000000)\n"
		"  --seed S     PCG32 seed (default 42; stream is always %u)\n"
		"  --json       print one JSON line instead of a human-readable one\n"
		"  --help       print this text\n",
		PCG_STREAM);
}

/* Report a bad command line and exit with status 2. */
static _Noreturn void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "phold_min: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(try --help)\n");
	exit(2);
}

/* Parse a whole decimal unsigned integer for option `name`; exits on error. */
static uint64_t parse_u64(const char *name, const char *text)
{
	if (!text)
		usage_error("%s needs a value", name);
	if (text[0] < '0' || text[0] > '9') /* strtoull would accept "-1", " 1", "+1" */
		usage_error("not a non-negative integer: '%s'", text);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (*end != '\0')
		usage_error("not a non-negative integer: '%s'", text);
	if (errno == ERANGE)
		usage_error("integer out of range: '%s'", text);
	return (uint64_t)v;
}

/* Parse a whole probability in [0, 1] for option `name`; exits on error. */
static double parse_probability(const char *name, const char *text)
{
	if (!text)
		usage_error("%s needs a value", name);
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || *end != '\0' || isspace((unsigned char)text[0]))
		usage_error("not a number: '%s'", text);
	if (!(v >= 0.0 && v <= 1.0)) /* also rejects NaN */
		usage_error("--remote must be in [0,1], got '%s'", text);
	return v;
}

/* Fill *opt from argv, applying defaults and checking consistency; exits on
 * a bad command line or after --help. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	*opt = (struct options){ .lps = 1024, .init = 16, .remote = 0.9,
				 .events = 20000000, .seed = 42, .json = false };
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			print_usage(stdout);
			exit(0);
		} else if (strcmp(arg, "--json") == 0) {
			opt->json = true;
		} else if (strcmp(arg, "--lps") == 0) {
			opt->lps = parse_u64(arg, value);
			i++;
		} else if (strcmp(arg, "--init") == 0) {
			opt->init = parse_u64(arg, value);
			i++;
		} else if (strcmp(arg, "--remote") == 0) {
			opt->remote = parse_probability(arg, value);
			i++;
		} else if (strcmp(arg, "--events") == 0) {
			opt->events = parse_u64(arg, value);
			i++;
		} else if (strcmp(arg, "--seed") == 0) {
			opt->seed = parse_u64(arg, value);
			i++;
		} else {
			usage_error("unknown argument '%s'", arg);
		}
	}
	if (opt->lps == 0)
		usage_error("%s", "--lps must be at least 1");
	if (opt->lps > UINT32_MAX)
		usage_error("%s", "--lps must fit in 32 bits");
	if (opt->init == 0)
		usage_error("%s", "--init must be at least 1");
	if (opt->events == 0)
		usage_error("%s", "--events must be at least 1");
	if (opt->lps == 1 && opt->remote > 0.0)
		usage_error("%s", "with --lps 1 there is no other LP: pass --remote 0 (the default is 0.9)");
	if (opt->init > SIZE_MAX / sizeof(struct event) / opt->lps)
		usage_error("%s", "--lps times --init is too many pending events");
}

/* Write `v` into buf (size n) with the fewest digits that read back exactly. */
static void format_shortest(char *buf, size_t n, double v)
{
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(buf, n, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* Print the results as one JSON line or one human-readable line. */
static void print_results(const struct options *opt, const struct results *res)
{
	double elapsed = res->elapsed_sec > 0.0 ? res->elapsed_sec : 1e-9;
	double events_per_sec = (double)opt->events / elapsed;
	double ns_per_event = elapsed * 1e9 / (double)opt->events;
	char remote[32];
	format_shortest(remote, sizeof(remote), opt->remote);
	if (opt->json) {
		printf("{\"lps\":%" PRIu64 ",\"init\":%" PRIu64 ",\"remote\":%s,\"events\":%" PRIu64
		       ",\"events_per_sec\":%.1f,\"ns_per_event\":%.3f,\"peak_rss_bytes\":%lld"
		       ",\"final_time_ns\":%" PRId64 ",\"checksum\":%" PRIu64 "}\n",
		       opt->lps, opt->init, remote, opt->events, events_per_sec, ns_per_event,
		       res->peak_rss_bytes, res->final_time_ns, res->checksum);
	} else {
		printf("phold_min: lps %" PRIu64 ", init %" PRIu64 ", remote %s, events %" PRIu64
		       ": %.1f events/s, %.3f ns/event, peak RSS %lld bytes, final time %" PRId64
		       " ns, checksum %" PRIu64 "\n",
		       opt->lps, opt->init, remote, opt->events, events_per_sec, ns_per_event,
		       res->peak_rss_bytes, res->final_time_ns, res->checksum);
	}
}

/* Parse the command line, run the workload and report. */
int main(int argc, char **argv)
{
	struct options opt;
	parse_options(argc, argv, &opt);
	struct results res;
	run_phold(&opt, &res);
	print_results(&opt, &res);
	return 0;
}
