/*
 * ctl_util.c - the helpers triadctl's commands share (see ctl.h): messages
 * and usage lines, option and number parsing, opening the cluster,
 * reading Prometheus text, printing tables, and the numbers the workloads
 * derive their data from.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "bytes.h"
#include "cluster.h"
#include "ctl.h"
#include "log.h"
#include "rclient.h"
#include "triad.h"

/* ---- messages and usage ------------------------------------------------- */

static void vwarn_cmd(const struct cmd *c, const char *fmt, va_list ap)
{
	fprintf(stderr, "triadctl %s: ", c->name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void ctl_errx(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn_cmd(c, fmt, ap);
	va_end(ap);
}

void ctl_put_usage(FILE *f, const char *prefix, const struct cmd *c)
{
	int indent = (int)(strlen(prefix) + strlen(c->name) + 1);

	fputs(prefix, f);
	for (const char *u = c->usage; *u != '\0'; u++) {
		fputc(*u, f);
		if (*u == '\n')
			fprintf(f, "%*s", indent, "");
	}
	fputc('\n', f);
}

static void print_usage(FILE *f, const struct cmd *c)
{
	ctl_put_usage(f, "usage: triadctl ", c);
}

void ctl_print_help(FILE *f, const struct cmd *c)
{
	print_usage(f, c);
	fprintf(f, "\n%s\n", c->help);
}

int ctl_usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		vwarn_cmd(c, fmt, ap);
		va_end(ap);
	}
	print_usage(stderr, c);
	return EXIT_USAGE;
}

/* ---- options and numbers ------------------------------------------------ */

void ctl_args_begin(struct ctl_args *a, const struct cmd *c, char **argv)
{
	a->conf = NULL;
	a->dir = NULL;
	snprintf(a->prog, sizeof(a->prog), "triadctl %s", c->name);
	argv[0] = a->prog;
	optind = 1;
	opterr = 1;
}

int ctl_args_opt(const struct cmd *c, int ch, struct ctl_args *a, int *rc)
{
	switch (ch) {
	case 'f':
		a->conf = optarg;
		return 0;
	case 'D':
		a->dir = optarg;
		return 0;
	case 'h':
		ctl_print_help(stdout, c);
		*rc = 0;
		return -1;
	default:
		*rc = ctl_usage_error(c, NULL);
		return -1;
	}
}

int ctl_no_operands(const struct cmd *c, int argc, char **argv)
{
	if (optind != argc)
		return ctl_usage_error(c, "unexpected argument \"%s\"",
		    argv[optind]);
	return 0;
}

int ctl_need_target(const struct cmd *c, const struct ctl_args *a)
{
	if ((a->conf == NULL) == (a->dir == NULL))
		return ctl_usage_error(c, "give either -f FILE or --dir DIR");
	return 0;
}

int ctl_parse_u64(const struct cmd *c, const char *what, const char *s,
    uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9') {
		ctl_errx(c, "%s must be a number, not \"%s\"", what, s);
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || *end != '\0') {
		ctl_errx(c, "%s must be a number, not \"%s\"", what, s);
		return -1;
	}
	if (v < min || v > max) {
		ctl_errx(c, "%s must be between %" PRIu64 " and %" PRIu64
		    ", not %s", what, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

int ctl_parse_uid(const struct cmd *c, const char *s, uint64_t *uid)
{
	return ctl_parse_u64(c, "UID", s, 0, INT64_MAX, uid);
}

/* ---- the cluster -------------------------------------------------------- */

cluster_t *ctl_open_cluster(const struct cmd *c, const struct ctl_args *a)
{
	char err[TRIAD_ERRLEN];
	cluster_t *cl;

	if (a->dir != NULL)
		cl = cluster_open(a->dir, NULL, err);
	else
		cl = cluster_open_file(a->conf, NULL, err);
	if (cl == NULL)
		ctl_errx(c, "%s", err);
	return cl;
}

void *ctl_zmq_ctx(const struct cmd *c)
{
	void *zctx = zmq_ctx_new();

	if (zctx == NULL)
		ctl_errx(c, "could not create a ZeroMQ context: %s",
		    zmq_strerror(errno));
	return zctx;
}

/* ---- Prometheus text ---------------------------------------------------- */

void ctl_prom_each(const char *text, size_t len, const char *name,
    int (*fn)(void *, const char *, double), void *arg)
{
	size_t nlen = strlen(name), pos = 0;

	while (pos < len) {
		const char *line = text + pos, *nl, *v;
		char val[64], labels[512], *end;
		size_t llen, vlen;
		double d;

		nl = memchr(line, '\n', len - pos);
		llen = nl != NULL ? (size_t)(nl - line) : len - pos;
		pos += llen + 1;
		if (llen <= nlen || line[0] == '#' ||
		    strncmp(line, name, nlen) != 0 ||
		    (line[nlen] != ' ' && line[nlen] != '{'))
			continue;
		v = line + nlen;
		labels[0] = '\0';
		if (*v == '{') {
			const char *close = memchr(v, '}', llen - nlen);
			size_t lablen;

			if (close == NULL)
				continue;
			lablen = (size_t)(close - v - 1);
			if (lablen >= sizeof(labels))
				continue;
			memcpy(labels, v + 1, lablen);
			labels[lablen] = '\0';
			v = close + 1;
		}
		while (v < line + llen && *v == ' ')
			v++;
		vlen = (size_t)(line + llen - v);
		if (vlen == 0 || vlen >= sizeof(val))
			continue;
		memcpy(val, v, vlen);
		val[vlen] = '\0';
		/* A timestamp may follow the value. */
		end = strchr(val, ' ');
		if (end != NULL)
			*end = '\0';
		errno = 0;
		d = strtod(val, &end);
		if (errno != 0 || *end != '\0' || end == val)
			continue;
		if (fn(arg, labels, d) != 0)
			return;
	}
}

struct prom_found {
	int found;
	double v;
};

static int prom_first(void *arg, const char *labels, double v)
{
	struct prom_found *f = arg;

	(void)labels;
	f->found = 1;
	f->v = v;
	return 1;
}

int ctl_prom_value(const char *text, size_t len, const char *name,
    double *out)
{
	struct prom_found f = { 0 };

	ctl_prom_each(text, len, name, prom_first, &f);
	if (!f.found)
		return -1;
	*out = f.v;
	return 0;
}

int ctl_prom_label(const char *labels, const char *key, char *out,
    size_t cap)
{
	size_t klen = strlen(key);
	const char *p = labels;

	while (*p != '\0') {
		const char *q;
		size_t n = 0;

		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=' &&
		    p[klen + 1] == '"') {
			for (q = p + klen + 2; *q != '\0' && *q != '"'; q++) {
				if (*q == '\\' && q[1] != '\0')
					q++;
				if (n + 1 >= cap)
					return -1;
				out[n++] = *q;
			}
			out[n] = '\0';
			return *q == '"' ? 0 : -1;
		}
		/* Skip this label: to the end of its quoted value. */
		q = strchr(p, '"');
		if (q == NULL)
			return -1;
		for (q++; *q != '\0' && *q != '"'; q++)
			if (*q == '\\' && q[1] != '\0')
				q++;
		if (*q == '\0')
			return -1;
		p = q + 1;
	}
	return -1;
}

/* ---- tables ------------------------------------------------------------- */

void ctl_heads(struct ctl_row *row, const char *const *heads, int n)
{
	for (int k = 0; k < n; k++)
		snprintf(row->cells[k], sizeof(row->cells[k]), "%s", heads[k]);
}

void ctl_cell(struct ctl_row *row, int k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(row->cells[k], sizeof(row->cells[k]), fmt, ap);
	va_end(ap);
}

void ctl_table_print(const struct ctl_row *rows, int nrows, int ncols,
    unsigned right)
{
	size_t width[CTL_COLS] = { 0 };

	for (int i = 0; i < nrows; i++)
		for (int k = 0; k < ncols; k++)
			if (strlen(rows[i].cells[k]) > width[k])
				width[k] = strlen(rows[i].cells[k]);
	for (int i = 0; i < nrows; i++)
		for (int k = 0; k < ncols; k++) {
			/* No padding after the last column. */
			if (k == ncols - 1 && !(right & (1u << k)))
				printf("%s\n", rows[i].cells[k]);
			else
				printf((right & (1u << k)) ? "%*s%s" :
				    "%-*s%s", (int)width[k], rows[i].cells[k],
				    k == ncols - 1 ? "\n" : "  ");
		}
}

/* ---- numbers for the workloads ------------------------------------------ */

uint64_t ctl_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void ctl_fill(uint8_t *out, uint32_t len, uint64_t seed)
{
	uint64_t s = seed;

	for (uint32_t i = 0; i < len; i += 8) {
		uint8_t w[8];
		uint32_t n = len - i < 8 ? len - i : 8;

		s = ctl_mix64(s);
		put_u64(w, s);
		memcpy(out + i, w, n);
	}
}

double ctl_ms(uint64_t us)
{
	return (double)us / 1000.0;
}

double ctl_per_s(uint64_t n, uint64_t us)
{
	return us > 0 ? (double)n * 1e6 / (double)us : 0;
}

int ctl_client_open(const struct cmd *c, const struct ctl_args *a,
    const char *region, int timeout_ms, struct ctl_client *k, int *rc)
{
	char err[TRIAD_ERRLEN];
	const struct topo *t;

	memset(k, 0, sizeof(*k));
	*rc = 1;
	log_init("triadctl", NULL, NULL, -1);
	k->cl = ctl_open_cluster(c, a);
	if (k->cl == NULL)
		return -1;
	t = cluster_topo(k->cl);
	if (region == NULL) {
		for (int r = 0; r < t->nregions && region == NULL; r++)
			if (t->regions[r].nrouters > 0)
				region = t->regions[r].name;
		if (region == NULL) {
			ctl_errx(c, "no region of \"%s\" has routers",
			    cluster_conf(k->cl));
			goto fail;
		}
	} else if (topo_region(t, region) == NULL) {
		ctl_errx(c, "no region \"%s\" in \"%s\"", region,
		    cluster_conf(k->cl));
		*rc = EXIT_USAGE;
		goto fail;
	}
	k->zctx = ctl_zmq_ctx(c);
	if (k->zctx == NULL)
		goto fail;
	k->rc = rclient_new(k->zctx, t, region, timeout_ms, err);
	if (k->rc == NULL) {
		ctl_errx(c, "%s", err);
		goto fail;
	}
	return 0;
fail:
	ctl_client_close(k);
	return -1;
}

void ctl_client_close(struct ctl_client *k)
{
	rclient_destroy(&k->rc);
	if (k->zctx != NULL)
		zmq_ctx_term(k->zctx);
	k->zctx = NULL;
	cluster_destroy(&k->cl);
}
