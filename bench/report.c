/* SPDX-License-Identifier: MIT */
/*
 * report.c - logkeep-bench's output, drawn from the figures of every
 * repetition (report.h):
 *
 *   Markdown  the machine and the engines' configurations; the median of
 *             every figure over the repetitions, per engine; for the
 *             headline figures (results.c) the ratio logkeep / peer,
 *             taken within each repetition (both ran minutes apart on
 *             the same machine) and summarised as median (min..max); the
 *             physical-limits probe; notes on what is not comparable.
 *   JSON      all of it, with every repetition's value.
 *   plots     for each headline figure, one plot of every engine's median
 *             with its min..max, and one plot of logkeep's advantage over
 *             each peer on every headline figure; a data file per plot
 *             and one gnuplot script, run once for SVG and PNG.
 *
 * A figure that is NAN in a repetition (not measured, or not applicable)
 * is left out of its median; one that is NAN in every repetition prints
 * as n/a.  Ratios use only the repetitions where both engines have it.
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/vfs.h>
#endif

#include "bench_util.h"
#include "report.h"

/* ---------------------------------------------------------------------- */
/* Medians and spreads                                                    */
/* ---------------------------------------------------------------------- */

/* More than any run takes (REPS_MAX in bench.c). */
#define REPORT_REPS_MAX 100u

struct spread {
	double median, min, max;
	size_t count; /* repetitions with a value */
	double values[REPORT_REPS_MAX]; /* per repetition, NAN where none */
};

static void spread_finish(struct spread *s, size_t reps)
{
	double sorted[REPORT_REPS_MAX];
	size_t n = 0;

	for (size_t i = 0; i < reps; i++) {
		if (!isnan(s->values[i]))
			sorted[n++] = s->values[i];
	}
	s->count = n;
	if (n == 0) {
		s->median = s->min = s->max = NAN;
		return;
	}
	qsort(sorted, n, sizeof sorted[0], cmp_double);
	s->min = sorted[0];
	s->max = sorted[n - 1];
	s->median = n % 2 ? sorted[n / 2]
			  : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static const struct results *res_at(const struct report *rp, size_t rep,
				    size_t engine)
{
	return &rp->res[rep * rp->engine_count + engine];
}

static void engine_spread(const struct report *rp, size_t engine,
			  const struct figure *f, struct spread *s)
{
	for (size_t rep = 0; rep < rp->reps; rep++)
		s->values[rep] = figure_get(res_at(rp, rep, engine), f);
	spread_finish(s, rp->reps);
}

/* logkeep / peer within each repetition. */
static void ratio_spread(const struct report *rp, size_t logkeep,
			 size_t peer, const struct figure *f,
			 struct spread *s)
{
	for (size_t rep = 0; rep < rp->reps; rep++) {
		double a = figure_get(res_at(rp, rep, logkeep), f);
		double b = figure_get(res_at(rp, rep, peer), f);
		s->values[rep] = b != 0 ? a / b : NAN; /* NAN stays NAN */
	}
	spread_finish(s, rp->reps);
}

static void probe_spread(const struct report *rp, const struct figure *f,
			 struct spread *s)
{
	for (size_t rep = 0; rep < rp->reps; rep++)
		s->values[rep] = figure_get(&rp->probes[rep], f);
	spread_finish(s, rp->reps);
}

/* The engine index of logkeep, or engine_count when not in the run. */
static size_t logkeep_index(const struct report *rp)
{
	for (size_t k = 0; k < rp->engine_count; k++) {
		if (rp->engines[k] == &logkeep_engine)
			return k;
	}
	return rp->engine_count;
}

/* Whether any engine has f in any repetition. */
static bool figure_measured(const struct report *rp, const struct figure *f)
{
	for (size_t i = 0; i < (size_t)rp->reps * rp->engine_count; i++) {
		if (!isnan(figure_get(&rp->res[i], f)))
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------------- */
/* The machine                                                            */
/* ---------------------------------------------------------------------- */

#define MACHINE_TEXT_BYTES 192 /* a utsname sysname and release: 65 each */

struct machine {
	char cpu[MACHINE_TEXT_BYTES];
	long cpus;
	double mem_gib;
	char kernel[MACHINE_TEXT_BYTES];
	char fs[MACHINE_TEXT_BYTES];
};

/* The value of the first line of a /proc file that starts with key. */
static bool proc_value(const char *path, const char *key, char *out,
		       size_t out_bytes)
{
	FILE *f = fopen(path, "r");
	char line[256];
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, key, strlen(key)) != 0)
			continue;
		const char *v = strchr(line, ':');
		if (v == NULL)
			continue;
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		snprintf(out, out_bytes, "%s", v);
		out[strcspn(out, "\n")] = '\0';
		found = true;
	}
	fclose(f);
	return found;
}

static const char *fs_name(const char *dir)
{
#ifdef __linux__
	struct statfs st;

	if (statfs(dir, &st) != 0)
		return "unknown";
	switch ((unsigned long)st.f_type) {
	case 0xEF53: return "ext4";
	case 0x58465342: return "xfs";
	case 0x9123683EUL: return "btrfs";
	case 0xF2F52010UL: return "f2fs";
	case 0x01021994: return "tmpfs";
	case 0x794C7630: return "overlayfs";
	case 0x24051905: return "ubifs";
	}
#else
	(void)dir;
#endif
	return "unknown";
}

static void machine_read(struct machine *m, const char *dir)
{
	char mem[MACHINE_TEXT_BYTES];
	struct utsname u;

	if (!proc_value("/proc/cpuinfo", "model name", m->cpu, sizeof m->cpu))
		snprintf(m->cpu, sizeof m->cpu, "unknown CPU");
	m->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	m->mem_gib = NAN;
	if (proc_value("/proc/meminfo", "MemTotal", mem, sizeof mem))
		m->mem_gib = strtod(mem, NULL) / (1024.0 * 1024.0); /* KiB */
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof m->kernel, "%s %s", u.sysname,
			 u.release);
	else
		snprintf(m->kernel, sizeof m->kernel, "unknown kernel");
	snprintf(m->fs, sizeof m->fs, "%s", fs_name(dir));
}

/* ---------------------------------------------------------------------- */
/* Markdown                                                               */
/* ---------------------------------------------------------------------- */

static void md_number(FILE *f, double v, int decimals)
{
	if (isnan(v))
		fputs("n/a", f);
	else
		fprintf(f, "%.*f", decimals, v);
}

/* A ratio to three significant digits: 0.0123, 1.23, 123. */
static void md_ratio(FILE *f, const struct spread *s)
{
	if (s->count == 0) {
		fputs("n/a", f);
		return;
	}
	fprintf(f, "%.3g", s->median);
	if (s->count > 1)
		fprintf(f, " (%.3g..%.3g)", s->min, s->max);
}

static const char *better_word(enum better b)
{
	return b == BETTER_HIGHER ? "higher" : b == BETTER_LOWER ? "lower"
								 : "";
}

static void md_write(FILE *f, const struct report *rp,
		     const struct machine *m)
{
	static struct spread s; /* static: REPORT_REPS_MAX doubles */
	size_t lk = logkeep_index(rp);
	char when[64];
	struct tm tm;

	gmtime_r(&rp->started, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
	fprintf(f, "## logkeep-bench %s%s: %llu keys of %u bytes, values of "
		"%u bytes, %u repetition%s\n\n", rp->version,
		rp->smoke ? " (smoke)" : "", (unsigned long long)rp->keys,
		rp->key_bytes, rp->value_bytes, rp->reps,
		rp->reps == 1 ? "" : "s");
	fprintf(f, "Machine: %s, %ld CPUs online, %.1f GiB RAM, %s; %s under "
		"%s. Started %s, took %.0f s.\n\n", m->cpu, m->cpus,
		m->mem_gib, m->kernel, m->fs, rp->dir, when, rp->wall_s);
	fprintf(f, "Each engine runs its workloads in processes of its own, "
		"forked from the harness (%.1f MiB resident before the first "
		"fork: the most a child's peak RSS owes to it); the engine "
		"order rotates by one per repetition. Durable workloads: at most %llu single puts, %llu mix operations "
		"(%u%% durable puts), %u threads x %llu durable puts, each "
		"within %.0f s. Killed writer: %llu overwrites in synced "
		"batches of %u, then SIGKILL.\n\n",
		(double)rp->rss_harness_kib / 1024.0,
		(unsigned long long)rp->durable_count,
		(unsigned long long)rp->mix_count, rp->mix_put_percent,
		rp->writer_threads, (unsigned long long)rp->writer_count,
		rp->budget_s, (unsigned long long)rp->killed_count,
		rp->batch_ops);

	fprintf(f, "| engine | configuration |\n|---|---|\n");
	for (size_t k = 0; k < rp->engine_count; k++)
		fprintf(f, "| %s | %s |\n", rp->engines[k]->name,
			rp->engines[k]->config);

	fprintf(f, "\n### Medians over %u repetition%s\n\n| figure | unit |",
		rp->reps, rp->reps == 1 ? "" : "s");
	for (size_t k = 0; k < rp->engine_count; k++)
		fprintf(f, " %s |", rp->engines[k]->name);
	fprintf(f, "\n|---|---|");
	for (size_t k = 0; k < rp->engine_count; k++)
		fprintf(f, "---:|");
	fprintf(f, "\n");
	for (size_t i = 0; i < figure_count; i++) {
		const struct figure *fig = &figures[i];
		if (!figure_measured(rp, fig))
			continue;
		fprintf(f, "| %s | %s |", fig->label, fig->unit);
		for (size_t k = 0; k < rp->engine_count; k++) {
			engine_spread(rp, k, fig, &s);
			fputc(' ', f);
			md_number(f, s.median, fig->decimals);
			fprintf(f, " |");
		}
		fprintf(f, "\n");
	}

	if (lk < rp->engine_count && rp->engine_count > 1) {
		fprintf(f, "\n### logkeep / peer, within each repetition: "
			"median (min..max)\n\nWhere higher is better, above 1 "
			"favours logkeep; where lower is better, below 1 "
			"does.\n\n| figure | unit | better |");
		for (size_t k = 0; k < rp->engine_count; k++) {
			if (k != lk)
				fprintf(f, " / %s |", rp->engines[k]->name);
		}
		fprintf(f, "\n|---|---|---|");
		for (size_t k = 0; k + 1 < rp->engine_count; k++)
			fprintf(f, "---:|");
		fprintf(f, "\n");
		for (size_t i = 0; i < figure_count; i++) {
			const struct figure *fig = &figures[i];
			if (!fig->headline)
				continue;
			fprintf(f, "| %s | %s | %s |", fig->label, fig->unit,
				better_word(fig->better));
			for (size_t k = 0; k < rp->engine_count; k++) {
				if (k == lk)
					continue;
				ratio_spread(rp, lk, k, fig, &s);
				fputc(' ', f);
				md_ratio(f, &s);
				fprintf(f, " |");
			}
			fprintf(f, "\n");
		}
	}

	fprintf(f, "\n### Physical limits, same run: median (min..max)\n\n"
		   "| probe | unit | median | min..max |\n|---|---|---:|---|\n");
	for (size_t i = 0; i < probe_figure_count; i++) {
		const struct figure *fig = &probe_figures[i];
		probe_spread(rp, fig, &s);
		fprintf(f, "| %s | %s | ", fig->label, fig->unit);
		md_number(f, s.median, fig->decimals);
		fprintf(f, " | ");
		md_number(f, s.min, fig->decimals);
		fprintf(f, "..");
		md_number(f, s.max, fig->decimals);
		fprintf(f, " |\n");
	}

	fprintf(f, "\nNotes: n/a is a figure the engine does not have (logkeep's "
		   "snapshots and compaction counters) or does not report "
		   "(index size).");
	for (size_t k = 0; k < rp->engine_count; k++) {
		if (!rp->engines[k]->concurrent_writers)
			fprintf(f, " %s's writer threads were serialised by "
				"the bench.", rp->engines[k]->name);
		if (rp->engines[k]->note != NULL)
			fprintf(f, " %s", rp->engines[k]->note);
	}
	fprintf(f, "\n");
}

/* ---------------------------------------------------------------------- */
/* JSON                                                                   */
/* ---------------------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_number(FILE *f, double v, int decimals)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.*f", decimals, v);
}

/* {"median": .., "min": .., "max": .., "values": [..]} */
static void json_spread(FILE *f, const struct spread *s, size_t reps,
			int decimals)
{
	fprintf(f, "{\"median\": ");
	json_number(f, s->median, decimals);
	fprintf(f, ", \"min\": ");
	json_number(f, s->min, decimals);
	fprintf(f, ", \"max\": ");
	json_number(f, s->max, decimals);
	fprintf(f, ", \"values\": [");
	for (size_t i = 0; i < reps; i++) {
		fprintf(f, "%s", i ? ", " : "");
		json_number(f, s->values[i], decimals);
	}
	fprintf(f, "]}");
}

static bool json_write(const char *path, const struct report *rp,
		       const struct machine *m)
{
	static struct spread s;
	size_t lk = logkeep_index(rp);
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "logkeep-bench: %s: %s\n", path,
			strerror(errno));
		return false;
	}
	fprintf(f, "{\n  \"bench\": \"logkeep-bench\",\n  \"logkeep_version\": ");
	json_string(f, rp->version);
	fprintf(f, ",\n  \"smoke\": %s,\n", rp->smoke ? "true" : "false");
	fprintf(f, "  \"started\": %lld,\n  \"wall_s\": %.0f,\n",
		(long long)rp->started, rp->wall_s);
	fprintf(f, "  \"keys\": %llu,\n  \"key_bytes\": %u,\n"
		"  \"value_bytes\": %u,\n  \"batch_ops\": %u,\n",
		(unsigned long long)rp->keys, rp->key_bytes, rp->value_bytes,
		rp->batch_ops);
	fprintf(f, "  \"durable_count_max\": %llu,\n  \"mix_count_max\": %llu,"
		"\n  \"mix_put_percent\": %u,\n  \"writer_threads\": %u,\n"
		"  \"writer_count_max\": %llu,\n  \"budget_s\": %.3f,\n"
		"  \"killed_writer_overwrites\": %llu,\n  \"reps\": %u,\n",
		(unsigned long long)rp->durable_count,
		(unsigned long long)rp->mix_count, rp->mix_put_percent,
		rp->writer_threads, (unsigned long long)rp->writer_count,
		rp->budget_s, (unsigned long long)rp->killed_count, rp->reps);
	fprintf(f, "  \"rss_harness_kib\": %ld,\n  \"dir\": ",
		rp->rss_harness_kib);
	json_string(f, rp->dir);
	fprintf(f, ",\n  \"machine\": {\"cpu\": ");
	json_string(f, m->cpu);
	fprintf(f, ", \"cpus\": %ld, \"mem_gib\": ", m->cpus);
	json_number(f, m->mem_gib, 1);
	fprintf(f, ", \"kernel\": ");
	json_string(f, m->kernel);
	fprintf(f, ", \"fs\": ");
	json_string(f, m->fs);
	fprintf(f, "},\n  \"engines\": [");
	for (size_t k = 0; k < rp->engine_count; k++) {
		fprintf(f, "%s\n    {\"engine\": ", k ? "," : "");
		json_string(f, rp->engines[k]->name);
		fprintf(f, ", \"config\": ");
		json_string(f, rp->engines[k]->config);
		fprintf(f, ",\n     \"figures\": {");
		for (size_t i = 0; i < figure_count; i++) {
			engine_spread(rp, k, &figures[i], &s);
			fprintf(f, "%s\n      \"%s\": ", i ? "," : "",
				figures[i].json_name);
			json_spread(f, &s, rp->reps, figures[i].decimals);
		}
		fprintf(f, "}}");
	}
	fprintf(f, "\n  ],\n  \"ratios_logkeep_over\": [");
	bool first = true;
	for (size_t k = 0; lk < rp->engine_count && k < rp->engine_count;
	     k++) {
		if (k == lk)
			continue;
		fprintf(f, "%s\n    {\"peer\": ", first ? "" : ",");
		first = false;
		json_string(f, rp->engines[k]->name);
		fprintf(f, ", \"figures\": {");
		for (size_t i = 0; i < figure_count; i++) {
			ratio_spread(rp, lk, k, &figures[i], &s);
			fprintf(f, "%s\n      \"%s\": ", i ? "," : "",
				figures[i].json_name);
			json_spread(f, &s, rp->reps, 4);
		}
		fprintf(f, "}}");
	}
	fprintf(f, "\n  ],\n  \"probe\": {");
	for (size_t i = 0; i < probe_figure_count; i++) {
		probe_spread(rp, &probe_figures[i], &s);
		fprintf(f, "%s\n    \"%s\": ", i ? "," : "",
			probe_figures[i].json_name);
		json_spread(f, &s, rp->reps, probe_figures[i].decimals);
	}
	fprintf(f, "\n  }\n}\n");

	bool ok = !ferror(f);
	if (fclose(f) != 0)
		ok = false;
	if (!ok)
		fprintf(stderr, "logkeep-bench: writing %s failed\n", path);
	return ok;
}

/* ---------------------------------------------------------------------- */
/* Plots                                                                  */
/* ---------------------------------------------------------------------- */

/* Above this spread of medians, a plot's axis is logarithmic: bars of
 * 1,000 and 1,000,000 ops/s on one linear axis would show one bar. */
#define PLOT_LOG_SPREAD 50.0
#define PLOT_SCRIPT "plots.gp"
#define RATIOS_NAME "ratios"

static bool on_path(const char *program)
{
	const char *path = getenv("PATH");

	if (path == NULL)
		return false;
	while (*path != '\0') {
		size_t len = strcspn(path, ":");
		char full[4096];
		int n = snprintf(full, sizeof full, "%.*s/%s", (int)len, path,
				 program);
		if (n > 0 && (size_t)n < sizeof full &&
		    access(full, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* dir/name, or false if it does not fit. */
static bool plot_path(char *out, size_t out_bytes, const char *dir,
		      const char *name, const char *ext)
{
	int n = snprintf(out, out_bytes, "%s/%s%s", dir, name, ext);
	return n >= 0 && (size_t)n < out_bytes;
}

/* One figure: "engine" median min max per engine that has it.  *log: the
 * medians spread over more than PLOT_LOG_SPREAD (and are all positive). */
static bool plot_figure_data(const char *path, const struct report *rp,
			     const struct figure *fig, bool *log,
			     size_t *rows)
{
	static struct spread s;
	FILE *f = fopen(path, "w");
	double lo = INFINITY, hi = 0;

	if (f == NULL)
		return false;
	*rows = 0;
	for (size_t k = 0; k < rp->engine_count; k++) {
		engine_spread(rp, k, fig, &s);
		if (s.count == 0)
			continue;
		fprintf(f, "\"%s\" %.6g %.6g %.6g\n", rp->engines[k]->name,
			s.median, s.min, s.max);
		(*rows)++;
		if (s.median < lo)
			lo = s.median;
		if (s.median > hi)
			hi = s.median;
	}
	*log = lo > 0 && hi / lo > PLOT_LOG_SPREAD;
	return fclose(f) == 0;
}

/* logkeep's advantage over each peer on each headline figure: the ratio
 * where higher is better, its inverse where lower is better, as log2 so
 * that 2x better and 2x worse are bars of the same length. */
static bool plot_ratio_data(const char *path, const struct report *rp,
			    size_t lk, size_t *rows, double *extent)
{
	static struct spread s;
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return false;
	*rows = 0;
	*extent = 1; /* the axis shows 1/2..2 at least */
	fprintf(f, "figure");
	for (size_t k = 0; k < rp->engine_count; k++) {
		if (k != lk)
			fprintf(f, " \"%s\"", rp->engines[k]->name);
	}
	fprintf(f, "\n");
	for (size_t i = 0; i < figure_count; i++) {
		const struct figure *fig = &figures[i];
		if (!fig->headline || fig->better == BETTER_NONE)
			continue;
		fprintf(f, "\"%s\"", fig->label);
		for (size_t k = 0; k < rp->engine_count; k++) {
			if (k == lk)
				continue;
			ratio_spread(rp, lk, k, fig, &s);
			double adv = fig->better == BETTER_HIGHER
					     ? s.median
					     : 1 / s.median;
			if (s.count == 0 || !(adv > 0) || isinf(adv))
				fprintf(f, " NaN");
			else
				fprintf(f, " %.4f", log2(adv));
			if (s.count > 0 && adv > 0 && !isinf(adv) &&
			    fabs(log2(adv)) > *extent)
				*extent = fabs(log2(adv));
		}
		fprintf(f, "\n");
		(*rows)++;
	}
	return fclose(f) == 0;
}

/* The script draws every plot twice: SVG, then PNG (pngcairo where
 * gnuplot has it, else libgd's png). */
static void script_terminal(FILE *g, const char *name, bool svg,
			    unsigned width, unsigned height)
{
	if (svg) {
		fprintf(g, "set terminal svg size %u,%u dynamic font "
			   "'sans,11' background '#ffffff'\n", width, height);
		fprintf(g, "set output '%s.svg'\n", name);
	} else {
		fprintf(g, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) "
			   "{ set terminal pngcairo size %u,%u font 'sans,10' "
			   "} else { set terminal png size %u,%u }\n",
			width, height, width, height);
		fprintf(g, "set output '%s.png'\n", name);
	}
}

static void script_figure(FILE *g, const struct report *rp,
			  const struct figure *fig, bool log, bool svg)
{
	fprintf(g, "reset session\n");
	script_terminal(g, fig->json_name, svg, 720, 440);
	fprintf(g, "set title '%s (%s, %s is better): median and min..max "
		   "of %u repetition%s' noenhanced\n", fig->label, fig->unit,
		better_word(fig->better)[0] ? better_word(fig->better)
					    : "neither",
		rp->reps, rp->reps == 1 ? "" : "s");
	fprintf(g, "set style fill solid 0.5 border -1\nset boxwidth 0.6\n"
		   "set grid ytics\nunset key\nset xtics rotate by -25 "
		   "noenhanced\nset ylabel '%s' noenhanced\n", fig->unit);
	if (log)
		fprintf(g, "set logscale y\n");
	else
		fprintf(g, "set yrange [0:*]\n");
	fprintf(g, "plot '%s.dat' using 0:2:xtic(1) with boxes lc rgb "
		   "'#4477aa', '' using 0:2:3:4 with yerrorbars lc rgb "
		   "'#000000' pt 0\n", fig->json_name);
}

/* extent: the largest |log2| of an advantage, so that no bar leaves the
 * plot (the axis is symmetric: 1/x and x equally far from 1). */
static void script_ratios(FILE *g, const struct report *rp, double extent,
			  bool svg)
{
	size_t peers = rp->engine_count - 1;

	fprintf(g, "reset session\n");
	script_terminal(g, RATIOS_NAME, svg, 1280, 560);
	fprintf(g, "set title \"logkeep's advantage over each engine, median "
		   "of %u repetition%s (up: logkeep better; the ratio where "
		   "higher is better, its inverse where lower is better)\" "
		   "noenhanced\n", rp->reps, rp->reps == 1 ? "" : "s");
	fprintf(g, "set style data histograms\nset style histogram clustered "
		   "gap 1\nset style fill solid 0.7 border -1\n"
		   "set grid ytics\nset key outside right top noenhanced\n"
		   "set xtics rotate by -30 noenhanced\n"
		   "set ylabel 'logkeep / peer (log scale)'\n"
		   "set ytics ('1/10000' -13.288, '1/1000' -9.966, '1/100' "
		   "-6.644, '1/10' -3.322, '1/4' -2, '1/2' -1, '1' 0, '2' 1, "
		   "'4' 2, '10' 3.322, '100' 6.644, '1000' 9.966, '10000' "
		   "13.288)\n"
		   "set yrange [%.2f:%.2f]\nset xzeroaxis lt -1\n",
		-(extent + 0.5), extent + 0.5);
	fprintf(g, "plot for [i=2:%zu] '%s.dat' using i:xtic(1) title "
		   "columnheader(i)\n", peers + 1, RATIOS_NAME);
}

/* Runs gnuplot on the script in dir; false if it failed. */
static bool run_gnuplot(const char *dir)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "logkeep-bench: fork: %s\n", strerror(errno));
		return false;
	}
	if (pid == 0) {
		if (chdir(dir) != 0)
			_exit(126);
		execlp("gnuplot", "gnuplot", PLOT_SCRIPT, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "logkeep-bench: waitpid: %s\n",
				strerror(errno));
			return false;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "logkeep-bench: gnuplot %s/%s failed (wait "
			"status %d)\n", dir, PLOT_SCRIPT, status);
		return false;
	}
	return true;
}

static bool plots_write(const char *dir, const struct report *rp)
{
	char path[4096];
	size_t lk = logkeep_index(rp), rows;
	double extent;
	bool log;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "logkeep-bench: mkdir %s: %s\n", dir,
			strerror(errno));
		return false;
	}
	if (!plot_path(path, sizeof path, dir, PLOT_SCRIPT, ""))
		goto too_long;
	FILE *g = fopen(path, "w");
	if (g == NULL) {
		fprintf(stderr, "logkeep-bench: %s: %s\n", path,
			strerror(errno));
		return false;
	}
	fprintf(g, "# logkeep-bench's plots: run `gnuplot %s` in this "
		   "directory.\n", PLOT_SCRIPT);
	bool ok = true;
	for (size_t i = 0; ok && i < figure_count; i++) {
		const struct figure *fig = &figures[i];
		if (!fig->headline)
			continue;
		if (!plot_path(path, sizeof path, dir, fig->json_name,
			       ".dat")) {
			ok = false;
			break;
		}
		if (!plot_figure_data(path, rp, fig, &log, &rows)) {
			fprintf(stderr, "logkeep-bench: writing %s failed\n",
				path);
			ok = false;
			break;
		}
		if (rows == 0)
			continue; /* no engine has it: no plot */
		script_figure(g, rp, fig, log, true);
		script_figure(g, rp, fig, log, false);
	}
	if (ok && lk < rp->engine_count && rp->engine_count > 1) {
		if (!plot_path(path, sizeof path, dir, RATIOS_NAME, ".dat") ||
		    !plot_ratio_data(path, rp, lk, &rows, &extent)) {
			fprintf(stderr, "logkeep-bench: writing the ratio "
				"plot's data in %s failed\n", dir);
			ok = false;
		} else if (rows > 0) {
			script_ratios(g, rp, extent, true);
			script_ratios(g, rp, extent, false);
		}
	}
	if (ferror(g))
		ok = false;
	if (fclose(g) != 0)
		ok = false;
	if (!ok) {
		fprintf(stderr, "logkeep-bench: writing the plots in %s "
			"failed\n", dir);
		return false;
	}
	if (!on_path("gnuplot")) {
		fprintf(stderr, "logkeep-bench: gnuplot not found: plots "
			"skipped (data and %s are in %s; apt-get install "
			"gnuplot-nox)\n", PLOT_SCRIPT, dir);
		return true;
	}
	return run_gnuplot(dir);

too_long:
	fprintf(stderr, "logkeep-bench: --plot %s: path too long\n", dir);
	return false;
}

/* ---------------------------------------------------------------------- */
/* Entry                                                                  */
/* ---------------------------------------------------------------------- */

bool report_write(const struct report *rp, const char *md_path,
		  const char *json_path, const char *plot_dir)
{
	struct machine m;
	bool ok = true;

	if (rp->reps > REPORT_REPS_MAX) {
		fprintf(stderr, "logkeep-bench: more than %u repetitions\n",
			REPORT_REPS_MAX);
		return false;
	}
	machine_read(&m, rp->dir);
	FILE *f = md_path != NULL ? fopen(md_path, "w") : stdout;
	if (f == NULL) {
		fprintf(stderr, "logkeep-bench: %s: %s\n", md_path,
			strerror(errno));
		return false;
	}
	md_write(f, rp, &m);
	if (ferror(f) || (md_path != NULL ? fclose(f) : fflush(f)) != 0) {
		fprintf(stderr, "logkeep-bench: writing %s failed\n",
			md_path != NULL ? md_path : "stdout");
		ok = false;
	}
	if (ok && json_path != NULL)
		ok = json_write(json_path, rp, &m);
	if (ok && plot_dir != NULL)
		ok = plots_write(plot_dir, rp);
	return ok;
}
