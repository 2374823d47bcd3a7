/*
 * drill_report.c - history and report: the runs kept in PostgreSQL
 * (drill_runs, drill_windows), read from the first region that answers.
 *
 * The HTML report is one self-contained page: inline CSS and, per run, an
 * inline SVG chart of the probe's error rate (red, left axis) and p99
 * latency (blue, right axis) over the baseline, block (shaded) and after
 * windows, one point per slice.  No script and nothing fetched: the page
 * must open on a machine without internet.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"

#define REPORT_MAX_RUNS 200
#define CHART_W 760
#define CHART_H 240
#define PAD_L 56
#define PAD_R 64
#define PAD_T 16
#define PAD_B 36

enum { OPT_LIMIT = 256, OPT_LAST, OPT_FORMAT, OPT_JSONF };

static const struct option report_longopts[] = {
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "last", required_argument, NULL, OPT_LAST },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "json", no_argument, NULL, OPT_JSONF },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct report_opts {
	const char *conf;
	const char *out;
	const char *format;
	uint64_t limit;
	char **ids;
	int nids;
};

static int parse(const char *name, int argc, char **argv,
    struct report_opts *o, int takes_ids)
{
	char prog[64];
	double v;
	int ch;

	memset(o, 0, sizeof(*o));
	o->limit = takes_ids ? 5 : 20;
	o->format = "text";
	snprintf(prog, sizeof(prog), "drillctl %s", name);
	argv[0] = prog;
	optind = 1;
	while ((ch = getopt_long(argc, argv, takes_ids ? "f:o:h" : "f:h",
	    report_longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			o->conf = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case OPT_LIMIT:
		case OPT_LAST:
			if (drill_parse_real(optarg, 1, REPORT_MAX_RUNS, &v) ==
			    -1 || v != (double)(int)v)
				return drill_usage_error(name, "--%s takes 1 "
				    "to %d", ch == OPT_LIMIT ? "limit" : "last",
				    REPORT_MAX_RUNS);
			o->limit = (uint64_t)v;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "text") != 0 &&
			    strcmp(optarg, "json") != 0 &&
			    strcmp(optarg, "html") != 0)
				return drill_usage_error(name, "--format is "
				    "text, json or html");
			o->format = optarg;
			break;
		case OPT_JSONF:
			o->format = "json";
			break;
		case 'h':
			drill_help(name, stdout);
			return -1;
		default:
			return drill_usage_error(name, NULL);
		}
	}
	if (o->conf == NULL)
		return drill_usage_error(name, "-f FILE is required");
	if (!takes_ids && optind != argc)
		return drill_usage_error(name, "unexpected argument \"%s\"",
		    argv[optind]);
	o->ids = argv + optind;
	o->nids = argc - optind;
	if (o->nids > REPORT_MAX_RUNS)
		return drill_usage_error(name, "at most %d runs",
		    REPORT_MAX_RUNS);
	return 0;
}

#define RUN_COLS "id, module, region, campus, status, reason, " \
	"to_char(started_at AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
	"coalesce(extract(epoch FROM finished_at - started_at)::bigint, -1), " \
	"coalesce(daily, ''), settings::text"

/* One run as JSON (without windows). */
static json_t *run_json(db_res_t *r, int i)
{
	int64_t secs = -1;
	json_t *settings;

	db_get_i64(r, i, 7, &secs);
	settings = json_loads(db_get_text(r, i, 9), 0, NULL);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:o}",
	    "id", db_get_text(r, i, 0), "module", db_get_text(r, i, 1),
	    "region", db_get_text(r, i, 2), "campus", db_get_text(r, i, 3),
	    "status", db_get_text(r, i, 4), "reason", db_get_text(r, i, 5),
	    "started", db_get_text(r, i, 6), "duration_s", (json_int_t)secs,
	    "daily", db_get_text(r, i, 8),
	    "settings", settings != NULL ? settings : json_object());
}

static json_t *windows_json(db_t *db, const char *id, char *err)
{
	static const char *const cols[] = { "requests", "errors", "p50_us",
		"p99_us", "max_us", "daemon_errors", "lag_ms" };
	struct db_param p[1] = { DB_TEXT(id) };
	json_t *arr;
	db_res_t *r;

	r = db_query(db, "SELECT phase, requests, errors, p50_us, p99_us, "
	    "max_us, daemon_errors, lag_ms, calls::text, series::text FROM "
	    "drill_windows WHERE run_id = $1 ORDER BY CASE phase WHEN "
	    "'baseline' THEN 0 WHEN 'block' THEN 1 ELSE 2 END", p, 1, err);
	if (r == NULL)
		return NULL;
	arr = json_array();
	for (int i = 0; i < db_rows(r); i++) {
		json_t *w = json_pack("{s:s}", "phase", db_get_text(r, i, 0));
		json_t *calls = json_loads(db_get_text(r, i, 8), 0, NULL);
		json_t *series = json_loads(db_get_text(r, i, 9), 0, NULL);
		int64_t v;

		for (int k = 0; k < 7; k++) {
			v = 0;
			db_get_i64(r, i, k + 1, &v);
			json_object_set_new(w, cols[k], json_integer(v));
		}
		json_object_set_new(w, "calls", calls != NULL ? calls :
		    json_object());
		json_object_set_new(w, "series", series != NULL ? series :
		    json_array());
		json_array_append_new(arr, w);
	}
	db_res_free(&r);
	return arr;
}

/* The runs asked for, newest first, each with its windows. */
static json_t *load_runs(db_t *db, const struct report_opts *o,
    int with_windows, char *err)
{
	struct db_param p[1];
	json_t *arr = json_array();
	db_res_t *r;

	if (o->nids == 0) {
		p[0] = DB_I64(o->limit);
		r = db_query(db, "SELECT " RUN_COLS " FROM drill_runs ORDER BY "
		    "started_at DESC, id LIMIT $1::bigint", p, 1, err);
		if (r == NULL) {
			json_decref(arr);
			return NULL;
		}
		for (int i = 0; i < db_rows(r); i++)
			json_array_append_new(arr, run_json(r, i));
		db_res_free(&r);
	} else {
		for (int k = 0; k < o->nids; k++) {
			p[0] = DB_TEXT(o->ids[k]);
			r = db_query(db, "SELECT " RUN_COLS " FROM drill_runs "
			    "WHERE id = $1", p, 1, err);
			if (r == NULL) {
				json_decref(arr);
				return NULL;
			}
			if (db_rows(r) == 0) {
				snprintf(err, TRIAD_ERRLEN, "no run \"%s\"",
				    o->ids[k]);
				db_res_free(&r);
				json_decref(arr);
				return NULL;
			}
			json_array_append_new(arr, run_json(r, 0));
			db_res_free(&r);
		}
	}
	if (!with_windows)
		return arr;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *run = json_array_get(arr, i);
		json_t *w = windows_json(db, json_string_value(
		    json_object_get(run, "id")), err);

		if (w == NULL) {
			json_decref(arr);
			return NULL;
		}
		json_object_set_new(run, "windows", w);
	}
	return arr;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "";
}

static json_int_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static double pct(json_int_t err, json_int_t req)
{
	return req > 0 ? 100.0 * (double)err / (double)req : 0;
}

/* ---- text ---------------------------------------------------------------- */

static void text_report(FILE *f, json_t *runs)
{
	for (size_t i = 0; i < json_array_size(runs); i++) {
		json_t *run = json_array_get(runs, i);
		json_t *ws = json_object_get(run, "windows");

		fprintf(f, "%s  %s %s/%s  %s  (%s, %" JSON_INTEGER_FORMAT
		    " s)\n  %s\n", jstr(run, "status"), jstr(run, "module"),
		    jstr(run, "region"), jstr(run, "campus"), jstr(run, "id"),
		    jstr(run, "started"), jint(run, "duration_s"),
		    jstr(run, "reason"));
		for (size_t k = 0; k < json_array_size(ws); k++) {
			json_t *w = json_array_get(ws, k);

			fprintf(f, "    %-8s %6" JSON_INTEGER_FORMAT " calls "
			    "%6.2f%% errors  p50 %7.1f ms  p99 %7.1f ms  "
			    "daemon errors %" JSON_INTEGER_FORMAT "  lag %"
			    JSON_INTEGER_FORMAT " ms\n", jstr(w, "phase"),
			    jint(w, "requests"), pct(jint(w, "errors"),
			    jint(w, "requests")),
			    (double)jint(w, "p50_us") / 1000,
			    (double)jint(w, "p99_us") / 1000,
			    jint(w, "daemon_errors"), jint(w, "lag_ms"));
		}
	}
	if (json_array_size(runs) == 0)
		fprintf(f, "no drill runs recorded\n");
}

/* ---- HTML ---------------------------------------------------------------- */

static void html_text(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f); break;
		}
	}
}

/* A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten. */
static double nice_max(double v)
{
	double p = 1;

	if (v <= 0)
		return 1;
	while (p * 10 <= v)
		p *= 10;
	while (p > v)
		p /= 10;
	if (v <= p)
		return p;
	if (v <= 2 * p)
		return 2 * p;
	if (v <= 5 * p)
		return 5 * p;
	return 10 * p;
}

struct point {
	double t_s;     /* since the baseline began, windows back to back */
	double err_pct;
	double p99_ms;
	int has;        /* the slice had calls */
};

static void svg_chart(FILE *f, json_t *ws)
{
	struct point *pts = NULL;
	size_t n = 0, cap = 0;
	double off = 0, tmax = 0, emax = 0, lmax = 0, x, y, tick;
	double bstart = -1, bend = -1, wlen[3] = { 0, 0, 0 };
	double plot_w = CHART_W - PAD_L - PAD_R, plot_h = CHART_H - PAD_T -
	    PAD_B;

	for (size_t k = 0; k < json_array_size(ws); k++) {
		json_t *w = json_array_get(ws, k), *s = json_object_get(w,
		    "series");
		size_t ns = json_array_size(s);
		double step = 1;

		/* Slices are evenly spaced; a point stands at its middle. */
		if (ns > 1)
			step = (double)(jint(json_array_get(s, 1), "t_ms") -
			    jint(json_array_get(s, 0), "t_ms")) / 1000;
		if (step <= 0)
			step = 1;
		if (strcmp(jstr(w, "phase"), "block") == 0)
			bstart = off;
		for (size_t i = 0; i < ns; i++) {
			json_t *pt = json_array_get(s, i);
			struct point *np;

			if (n == cap) {
				cap = cap != 0 ? cap * 2 : 64;
				np = realloc(pts, cap * sizeof(*pts));
				if (np == NULL)
					goto out;
				pts = np;
			}
			pts[n].t_s = off + (double)jint(pt, "t_ms") / 1000 +
			    step / 2;
			pts[n].has = jint(pt, "req") > 0;
			pts[n].err_pct = pct(jint(pt, "err"), jint(pt, "req"));
			pts[n].p99_ms = (double)jint(pt, "p99_us") / 1000;
			if (pts[n].err_pct > emax)
				emax = pts[n].err_pct;
			if (pts[n].p99_ms > lmax)
				lmax = pts[n].p99_ms;
			n++;
		}
		if (k < 3)
			wlen[k] = (double)ns * step;
		off += (double)ns * step;
		if (strcmp(jstr(w, "phase"), "block") == 0)
			bend = off;
	}
	tmax = off > 0 ? off : 1;
	emax = nice_max(emax > 1 ? emax : 1);
	lmax = nice_max(lmax > 1 ? lmax : 1);
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	    "aria-label=\"error rate and p99 latency\">\n", CHART_W, CHART_H,
	    CHART_W, CHART_H);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" "
	    "fill=\"#fafafa\" stroke=\"#999\"/>\n", PAD_L, PAD_T, plot_w,
	    plot_h);
	if (bstart >= 0 && bend > bstart)
		fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"#f3e3b5\" opacity=\"0.7\"/>\n"
		    "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
		    "text-anchor=\"middle\" fill=\"#8a6d1d\">blocked</text>\n",
		    PAD_L + plot_w * bstart / tmax, PAD_T,
		    plot_w * (bend - bstart) / tmax, plot_h,
		    PAD_L + plot_w * (bstart + bend) / 2 / tmax, PAD_T + 12);
	/* Grid and axes: 4 steps each side. */
	for (int g = 0; g <= 4; g++) {
		y = PAD_T + plot_h - plot_h * g / 4;
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		    "stroke=\"#ddd\"/>\n<text x=\"%d\" y=\"%.1f\" "
		    "font-size=\"11\" text-anchor=\"end\" fill=\"#c0392b\">"
		    "%g%%</text>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
		    "fill=\"#2266aa\">%g ms</text>\n", PAD_L, y,
		    PAD_L + plot_w, y, PAD_L - 4, y + 4, emax * g / 4,
		    PAD_L + plot_w + 4, y + 4, lmax * g / 4);
	}
	/* Time ticks at a round step, at most about six of them. */
	tick = nice_max(tmax / 6);
	for (double tt = 0; tt <= tmax + tick / 1000; tt += tick) {
		x = PAD_L + plot_w * tt / tmax;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\" stroke=\"#999\"/>\n<text x=\"%.1f\" "
		    "y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
		    "fill=\"#333\">%g s</text>\n", x, PAD_T + plot_h, x,
		    PAD_T + plot_h + 4, x, CHART_H - PAD_B + 16, tt);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
	    "text-anchor=\"middle\" fill=\"#333\">baseline %.1f s, block "
	    "%.1f s, after %.1f s (one point per slice)</text>\n", PAD_L + plot_w / 2,
	    CHART_H - 6, wlen[0], wlen[1], wlen[2]);
	for (int line = 0; line < 2; line++) {
		int started = 0;

		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" "
		    "stroke-width=\"2\" points=\"", line == 0 ? "#c0392b" :
		    "#2266aa");
		for (size_t i = 0; i < n; i++) {
			double v = line == 0 ? pts[i].err_pct / emax :
			    pts[i].p99_ms / lmax;

			if (!pts[i].has)
				continue;
			x = PAD_L + plot_w * pts[i].t_s / tmax;
			y = PAD_T + plot_h - plot_h * (v > 1 ? 1 : v);
			fprintf(f, "%s%.1f,%.1f", started ? " " : "", x, y);
			started = 1;
		}
		fputs("\"/>\n", f);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#c0392b\">"
	    "error rate</text><text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
	    "text-anchor=\"end\" fill=\"#2266aa\">p99 latency</text>\n",
	    PAD_L + 4, PAD_T + 26, PAD_L + plot_w - 4, PAD_T + 26);
	fputs("</svg>\n", f);
out:
	free(pts);
}

static void html_report(FILE *f, json_t *runs, const char *cluster)
{
	/* Well-formed XML too (XHTML syntax), so xmllint can check it. */
	fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" "
	    "lang=\"en\"><head><meta charset=\"utf-8"
	    "\"/>\n<title>triad drill report</title>\n<style>\n"
	    "body{font-family:sans-serif;margin:24px;color:#222}\n"
	    "h1{font-size:20px}h2{font-size:16px;margin-top:28px}\n"
	    "table{border-collapse:collapse;margin:8px 0}\n"
	    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;"
	    "font-size:13px}\nth{background:#eee}td.l{text-align:left}\n"
	    ".pass{color:#1e7e34;font-weight:bold}"
	    ".fail,.aborted,.error{color:#c0392b;font-weight:bold}"
	    ".refused,.halted,.running{color:#8a6d1d;font-weight:bold}\n"
	    "p.reason{font-size:13px}\n</style></head>\n<body>\n", f);
	fputs("<h1>triad drill report: ", f);
	html_text(f, cluster);
	fputs("</h1>\n<table><tr><th>run</th><th>module</th><th>campus</th>"
	    "<th>status</th><th>started</th></tr>\n", f);
	for (size_t i = 0; i < json_array_size(runs); i++) {
		json_t *run = json_array_get(runs, i);

		fprintf(f, "<tr><td class=\"l\"><a href=\"#r%zu\">", i);
		html_text(f, jstr(run, "id"));
		fputs("</a></td><td class=\"l\">", f);
		html_text(f, jstr(run, "module"));
		fputs("</td><td class=\"l\">", f);
		html_text(f, jstr(run, "region"));
		fputc('/', f);
		html_text(f, jstr(run, "campus"));
		fputs("</td><td class=\"l ", f);
		html_text(f, jstr(run, "status"));
		fputs("\">", f);
		html_text(f, jstr(run, "status"));
		fputs("</td><td class=\"l\">", f);
		html_text(f, jstr(run, "started"));
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
	if (json_array_size(runs) == 0)
		fputs("<p>No drill runs recorded.</p>\n", f);
	for (size_t i = 0; i < json_array_size(runs); i++) {
		json_t *run = json_array_get(runs, i);
		json_t *ws = json_object_get(run, "windows");

		fprintf(f, "<h2 id=\"r%zu\">", i);
		html_text(f, jstr(run, "module"));
		fputc(' ', f);
		html_text(f, jstr(run, "region"));
		fputc('/', f);
		html_text(f, jstr(run, "campus"));
		fputs(": <span class=\"", f);
		html_text(f, jstr(run, "status"));
		fputs("\">", f);
		html_text(f, jstr(run, "status"));
		fputs("</span></h2>\n<p class=\"reason\">", f);
		html_text(f, jstr(run, "id"));
		fputs(" &#8212; ", f);
		html_text(f, jstr(run, "reason"));
		fputs("</p>\n", f);
		if (json_array_size(ws) == 0)
			continue;
		fputs("<table><tr><th>window</th><th>calls</th><th>errors</th>"
		    "<th>error rate</th><th>p50 ms</th><th>p99 ms</th>"
		    "<th>max ms</th><th>daemon errors</th><th>lag ms</th>"
		    "</tr>\n", f);
		for (size_t k = 0; k < json_array_size(ws); k++) {
			json_t *w = json_array_get(ws, k);

			fputs("<tr><td class=\"l\">", f);
			html_text(f, jstr(w, "phase"));
			fprintf(f, "</td><td>%" JSON_INTEGER_FORMAT "</td><td>%"
			    JSON_INTEGER_FORMAT "</td><td>%.2f%%</td><td>%.1f"
			    "</td><td>%.1f</td><td>%.1f</td><td>%"
			    JSON_INTEGER_FORMAT "</td><td>%" JSON_INTEGER_FORMAT
			    "</td></tr>\n", jint(w, "requests"),
			    jint(w, "errors"), pct(jint(w, "errors"),
			    jint(w, "requests")),
			    (double)jint(w, "p50_us") / 1000,
			    (double)jint(w, "p99_us") / 1000,
			    (double)jint(w, "max_us") / 1000,
			    jint(w, "daemon_errors"), jint(w, "lag_ms"));
		}
		fputs("</table>\n", f);
		svg_chart(f, ws);
	}
	fputs("</body></html>\n", f);
}

static int report_common(const char *name, int argc, char **argv,
    int takes_ids)
{
	struct drill_cmd c = { .name = name };
	char err[TRIAD_ERRLEN];
	struct report_opts o;
	struct drill_dbs dbs;
	struct topo *t = NULL;
	json_t *runs;
	FILE *f = stdout;
	db_t *db;
	int rc;

	if ((rc = parse(name, argc, argv, &o, takes_ids)) != 0)
		return rc == -1 ? 0 : rc;
	if ((rc = drill_open(&c, o.conf, &t)) != 0)
		return rc;
	drill_dbs_open(t, &dbs);
	db = drill_dbs_first(&dbs);
	rc = DRILL_EXIT_ERROR;
	if (db == NULL) {
		drill_errx(&c, "%s", dbs.errs[0]);
		goto out;
	}
	runs = load_runs(db, &o, takes_ids, err);
	if (runs == NULL) {
		drill_errx(&c, "%s", err);
		goto out;
	}
	if (o.out != NULL && (f = fopen(o.out, "w")) == NULL) {
		drill_errx(&c, "%s: cannot write", o.out);
		json_decref(runs);
		goto out;
	}
	if (strcmp(o.format, "json") == 0) {
		char *s = json_dumps(runs, JSON_COMPACT);

		if (s != NULL)
			fprintf(f, "%s\n", s);
		free(s);
	} else if (strcmp(o.format, "html") == 0) {
		html_report(f, runs, t->name);
	} else if (!takes_ids) {
		if (json_array_size(runs) == 0)
			fprintf(f, "no drill runs recorded\n");
		for (size_t i = 0; i < json_array_size(runs); i++) {
			json_t *r = json_array_get(runs, i);

			fprintf(f, "%-8s %-7s %s/%s  %s  %s\n",
			    jstr(r, "status"), jstr(r, "module"),
			    jstr(r, "region"), jstr(r, "campus"),
			    jstr(r, "started"), jstr(r, "id"));
		}
	} else {
		text_report(f, runs);
	}
	json_decref(runs);
	rc = 0;
	if (f != stdout && fclose(f) != 0) {
		drill_errx(&c, "%s: write failed", o.out);
		rc = DRILL_EXIT_ERROR;
	}
out:
	drill_dbs_close(&dbs);
	topo_destroy(&t);
	return rc;
}

int drill_cmd_history(int argc, char **argv)
{
	return report_common("history", argc, argv, 0);
}

int drill_cmd_report(int argc, char **argv)
{
	return report_common("report", argc, argv, 1);
}
