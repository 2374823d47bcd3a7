/*
 * ctl_util.c - the helpers triadctl's commands share (see ctl.h): messages
 * and usage lines, option and number parsing, opening the cluster,
 * printing tables, and the numbers the workloads derive their data from.
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
