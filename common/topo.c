/*
 * topo.c - load, validate and save the topology file (layout in topo.h).
 *
 * The loader walks the libconfig tree once, top to bottom, copying every
 * value into struct topo and checking it on the way; the first problem
 * stops the load with "FILE:LINE: SETTING: message".  Settings the loader
 * does not know are errors too: a misspelt "retention_hour" must not
 * silently fall back to the default.
 *
 * The tree is kept in priv after the load so that topo_save() can write the
 * file back with only the addresses and directories changed; priv also
 * holds every node in file order (for topo_node()) and every home range
 * sorted by its first uid (for topo_home()).
 *
 * libconfig 1.5 stores an integer written without the L suffix in an int
 * and wraps it silently when it does not fit (10737418240 becomes
 * -2147483648).  check_literal() compares the stored value with the text
 * of the file so that such a value is an error, not a surprise.
 */
#include "topo.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Room for a dotted setting path such as regions.[3].groups.[12].nodes. */
#define SETPATHLEN 160

/* Largest file read for check_literal(); a topology is a few KiB. */
#define MAX_SOURCE_BYTES (16u << 20)

#define Z85_KEYLEN 40

enum node_kind { NODE_QUEUE, NODE_ROUTER, NODE_REPLAYER };

struct node_ref {
	struct topo_node *node;
	config_setting_t *set; /* the node's group in the tree */
};

struct home_ref {
	uint64_t from, to;
	int region;
	int index;     /* in regions[region].home */
	unsigned line;
};

struct topo_priv {
	config_t cfg;
	struct node_ref *nodes; /* every node, in file order */
	int nnodes;
	int nodes_cap;
	struct home_ref *homes; /* every home range, sorted by from */
	int nhomes;
	int homes_cap;
};

struct loader {
	struct topo *t;
	struct topo_priv *p;
	char *err;
	char dir[TRIAD_PATHLEN];     /* absolute directory of the file */
	char srcfile[TRIAD_PATHLEN]; /* file whose text is in src */
	char *src;
	size_t srclen;
};

/* Numeric settings that map one to one onto a member of struct topo. */
struct num_field {
	const char *section;
	const char *name;
	size_t off;   /* offsetof(struct topo, ...) */
	size_t width; /* 4 or 8 bytes */
	uint64_t min;
};

#define NUM(sec, field, lo) { #sec, #field, offsetof(struct topo, sec.field), \
	sizeof(((struct topo *)0)->sec.field), lo }

static const struct num_field num_fields[] = {
	NUM(limits, max_message_bytes, 1),
	NUM(limits, max_entry_bytes, 1),
	NUM(limits, max_entries, 1),
	NUM(limits, max_batch_raw_bytes, 1),
	NUM(limits, max_batch_records, 1),
	NUM(limits, max_record_bytes, 1),
	NUM(timeouts, ack_ms, 1),
	NUM(timeouts, give_up_ms, 1),
	NUM(timeouts, fetch_wait_ms, 1),
	NUM(timeouts, node_timeout_ms, 1),
	NUM(timeouts, shield_failures, 1),
	NUM(timeouts, shield_cooldown_ms, 1),
	NUM(queue, segment_bytes, 1),
	NUM(queue, retention_bytes, 1),
	NUM(queue, max_sync_batch, 1),
	NUM(producer, batch_bytes, 1),
	NUM(producer, linger_ms, 0),
	NUM(producer, max_inflight, 1),
	NUM(consumer, fetch_bytes, 1),
	NUM(consumer, dedupe_window, 1),
	NUM(drill, baseline_s, 1),
	NUM(drill, block_s, 1),
	NUM(drill, after_s, 1),
	NUM(drill, settle_ms, 0),
	NUM(drill, block_ttl_s, 1),
	NUM(drill, probe_rate, 1),
	NUM(drill, probe_timeout_ms, 1),
	NUM(drill, slice_ms, 10),
	NUM(drill, p99_slack_ms, 0),
	NUM(drill, max_daemon_errors, 0),
	NUM(drill, max_lag_ms, 1),
	NUM(drill, max_blocks_in_force, 0),
	NUM(ids, section_size, 1),
	NUM(ids, step, 1),
	NUM(ids, lease_ms, 1000),
	NUM(ids, genid_borrow_ms, 1),
};

/* Numeric settings of the drill that may be fractions. */
static const struct {
	const char *name;
	size_t off;
	double min, max;
} drill_reals[] = {
	{ "max_error_increase_pct",
	    offsetof(struct topo, drill.max_error_increase_pct), 0, 100 },
	{ "abort_error_pct", offsetof(struct topo, drill.abort_error_pct),
	    0, 100 },
	{ "p99_factor", offsetof(struct topo, drill.p99_factor), 1, 1000 },
};

/* Sections holding num_fields, with the members they hold besides. */
static const struct {
	const char *name;
	const char *extra[4];
} num_sections[] = {
	{ "limits", { NULL } },
	{ "timeouts", { NULL } },
	{ "queue", { "retention_hours", "retention_s", NULL } },
	{ "producer", { "compress", NULL } },
	{ "consumer", { NULL } },
	{ "drill", { "max_error_increase_pct", "abort_error_pct",
	    "p99_factor" } },
	{ "ids", { NULL } },
};

static const char *const root_keys[] = { "cluster", "limits", "timeouts",
	"queue", "producer", "consumer", "security", "regions", "drill",
	"ids", NULL };
static const char *const cluster_keys[] = { "name", "global_master", NULL };
static const char *const security_keys[] = { "curve", "server_public",
	"server_secret_file", "client_public", "client_secret_file",
	"allow_file", NULL };
static const char *const region_keys[] = { "name", "campuses", "postgres",
	"home", "routers", "replayers", "groups", NULL };
static const char *const home_keys[] = { "from", "to", NULL };
static const char *const group_keys[] = { "name", "nodes", NULL };
static const char *const queue_node_keys[] = { "name", "campus", "endpoint",
	"metrics", "data_dir", NULL };
static const char *const daemon_node_keys[] = { "name", "campus", "endpoint",
	"metrics", NULL };

static const char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyz"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

static void set_defaults(struct topo *t)
{
	t->limits.max_message_bytes = 16u << 20;
	t->limits.max_entry_bytes = 4u << 20;
	t->limits.max_entries = 1024;
	t->limits.max_batch_raw_bytes = 64u << 20;
	t->limits.max_batch_records = 1000000;
	t->limits.max_record_bytes = 1u << 20;
	t->timeouts.ack_ms = 500;
	t->timeouts.give_up_ms = 30000;
	t->timeouts.fetch_wait_ms = 200;
	t->timeouts.node_timeout_ms = 1000;
	t->timeouts.shield_failures = 3;
	t->timeouts.shield_cooldown_ms = 5000;
	t->queue.segment_bytes = 64u << 20;
	t->queue.retention_bytes = (uint64_t)10 << 30;
	t->queue.retention_s = 7 * 24 * 3600;
	t->queue.max_sync_batch = 4096;
	t->producer.batch_bytes = 65536;
	t->producer.linger_ms = 2;
	t->producer.max_inflight = 64;
	t->producer.compress = 1;
	t->consumer.fetch_bytes = 1u << 20;
	t->consumer.dedupe_window = 1000000;
	t->security.curve = 0;
	t->drill.baseline_s = 300;
	t->drill.block_s = 600;
	t->drill.after_s = 300;
	t->drill.settle_ms = 3000;
	t->drill.block_ttl_s = 3600;
	t->drill.probe_rate = 20;
	t->drill.probe_timeout_ms = 3000;
	t->drill.slice_ms = 1000;
	t->drill.max_error_increase_pct = 0.5;
	t->drill.abort_error_pct = 20.0;
	t->drill.p99_factor = 3.0;
	t->drill.p99_slack_ms = 100;
	t->drill.max_daemon_errors = 10;
	t->drill.max_lag_ms = 30000;
	t->drill.max_blocks_in_force = 0;
	t->ids.section_size = 100000;
	t->ids.step = 10000;
	t->ids.lease_ms = 10000;
	t->ids.genid_borrow_ms = 1000;
}

/*
 * Format into a buffer of size bytes.  A message that does not fit is cut
 * and ends in "..." so that the reader knows; paths are far shorter than
 * their buffers, so for them this never happens.
 */
static void bprintf(char *dst, size_t size, const char *fmt, ...)
    TRIAD_PRINTF(3, 4);

static void bprintf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= size && size > 4)
		memcpy(dst + size - 4, "...", 4);
}

/*
 * Fill ld->err with "FILE:LINE: PATH: message" for setting s.  A setting
 * missing at the top level has no line of its own; it is reported at
 * line 1, the start of the file.
 */
static int fail(struct loader *ld, const config_setting_t *s,
    const char *path, const char *fmt, ...) TRIAD_PRINTF(4, 5);

static int fail(struct loader *ld, const config_setting_t *s,
    const char *path, const char *fmt, ...)
{
	char msg[TRIAD_ERRLEN];
	const char *file = NULL;
	unsigned line = 1;
	va_list ap;

	if (s != NULL && !config_setting_is_root(s)) {
		file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (file == NULL || strcmp(file, ld->t->path) == 0)
		bprintf(ld->err, TRIAD_ERRLEN, "%s:%u: %s: %s",
		    file != NULL ? file : ld->t->path, line, path, msg);
	else	/* @include'd, named as written: show where it is. */
		bprintf(ld->err, TRIAD_ERRLEN, "%s/%s:%u: %s: %s", ld->dir,
		    file, line, path, msg);
	return -1;
}

static void subpath(char *dst, const char *parent, const char *name)
{
	if (parent[0] == '\0')
		bprintf(dst, SETPATHLEN, "%s", name);
	else
		bprintf(dst, SETPATHLEN, "%s.%s", parent, name);
}

static void elempath(char *dst, const char *parent, int i)
{
	bprintf(dst, SETPATHLEN, "%s.[%d]", parent, i);
}

/* Read a whole file into a NUL-terminated buffer; NULL with errno set. */
static char *slurp(const char *path, size_t *lenp)
{
	struct stat st;
	char *text;
	size_t len;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	if (fstat(fileno(f), &st) == -1) {
		fclose(f);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (uint64_t)st.st_size > MAX_SOURCE_BYTES) {
		fclose(f);
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return NULL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		fclose(f);
		return NULL;
	}
	len = fread(text, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		free(text);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	text[len] = '\0';
	*lenp = len;
	return text;
}

/* The text of one line of the file s comes from, or NULL when unknown. */
static const char *source_line(struct loader *ld, const config_setting_t *s,
    size_t *lenp)
{
	const char *file = config_setting_source_file(s);
	unsigned line = config_setting_source_line(s);
	const char *p, *end, *nl;
	char path[TRIAD_PATHLEN];
	size_t len;
	char *text;

	if (file == NULL || line == 0 || strlen(file) >= sizeof(ld->srcfile))
		return NULL;
	if (ld->src == NULL || strcmp(ld->srcfile, file) != 0) {
		/*
		 * An @include'd file, named as written; libconfig 1.5 found
		 * it in the include directory (even a name starting with /).
		 * Read it in place of the cached one.
		 */
		bprintf(path, sizeof(path), "%s/%s", ld->dir, file);
		text = slurp(path, &len);
		if (text == NULL)
			return NULL;
		free(ld->src);
		ld->src = text;
		ld->srclen = len;
		snprintf(ld->srcfile, sizeof(ld->srcfile), "%s", file);
	}
	p = ld->src;
	end = ld->src + ld->srclen;
	while (--line > 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return NULL;
		p = nl + 1;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	*lenp = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
	return p;
}

static int is_name_char(int c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/*
 * Whether the literal written in the file for int setting s has the value
 * libconfig stored (v).  0 when it has, or when the literal cannot be
 * found; -1 with the literal copied to lit when libconfig wrapped it.
 */
static int check_literal(struct loader *ld, const config_setting_t *s,
    long long v, char *lit, size_t litsize)
{
	const char *name = config_setting_name(s);
	const char *line, *p, *q, *start;
	size_t len, nlen;
	char num[32];
	unsigned long long u;
	long long x;
	int found = 0, ok;

	if (name == NULL || (line = source_line(ld, s, &len)) == NULL)
		return 0;
	nlen = strlen(name);
	for (p = line; p + nlen <= line + len; p++) {
		if (memcmp(p, name, nlen) != 0 ||
		    (p > line && is_name_char(p[-1])))
			continue;
		q = p + nlen;
		while (q < line + len && (*q == ' ' || *q == '\t'))
			q++;
		if (q == line + len || (*q != '=' && *q != ':'))
			continue;
		q++;
		while (q < line + len && (*q == ' ' || *q == '\t'))
			q++;
		start = q;
		if (q < line + len && (*q == '-' || *q == '+'))
			q++;
		while (q < line + len && isalnum((unsigned char)*q))
			q++;
		if (q == start || (size_t)(q - start) >= sizeof(num))
			continue;
		memcpy(num, start, (size_t)(q - start));
		num[q - start] = '\0';
		errno = 0;
		if (num[0] == '0' && (num[1] == 'x' || num[1] == 'X')) {
			u = strtoull(num, NULL, 16);
			ok = errno == 0 && u <= LLONG_MAX &&
			    (long long)u == v;
		} else {
			x = strtoll(num, NULL, 10);
			ok = errno == 0 && x == v;
		}
		if (ok)
			return 0;
		if (!found)
			snprintf(lit, litsize, "%s", num);
		found = 1;
	}
	return found ? -1 : 0;
}

static int check_known(struct loader *ld, const config_setting_t *g,
    const char *gpath, const char *const *known)
{
	char path[SETPATHLEN];
	const config_setting_t *m;
	const char *name;
	int i, k;

	for (i = 0; i < config_setting_length(g); i++) {
		m = config_setting_get_elem(g, (unsigned)i);
		name = config_setting_name(m);
		for (k = 0; known[k] != NULL; k++)
			if (strcmp(known[k], name) == 0)
				break;
		if (known[k] == NULL) {
			subpath(path, gpath, name);
			return fail(ld, m, path, "unknown setting");
		}
	}
	return 0;
}

/*
 * The member name of group g in *sp, NULL when absent.  A group that is
 * absent and required is an error.
 */
static int get_member(struct loader *ld, const config_setting_t *g,
    const char *gpath, const char *name, int required,
    config_setting_t **sp)
{
	char path[SETPATHLEN];

	*sp = config_setting_get_member(g, name);
	if (*sp == NULL && required) {
		subpath(path, gpath, name);
		return fail(ld, g, path, "missing");
	}
	return 0;
}

static int get_group(struct loader *ld, const config_setting_t *g,
    const char *gpath, const char *name, int required,
    config_setting_t **sp)
{
	char path[SETPATHLEN];

	if (get_member(ld, g, gpath, name, required, sp) == -1)
		return -1;
	if (*sp != NULL && !config_setting_is_group(*sp)) {
		subpath(path, gpath, name);
		return fail(ld, *sp, path, "must be a group { ... }");
	}
	return 0;
}

static int get_list(struct loader *ld, const config_setting_t *g,
    const char *gpath, const char *name, int required,
    config_setting_t **sp)
{
	char path[SETPATHLEN];

	if (get_member(ld, g, gpath, name, required, sp) == -1)
		return -1;
	if (*sp != NULL && !config_setting_is_list(*sp)) {
		subpath(path, gpath, name);
		return fail(ld, *sp, path, "must be a list ( ... )");
	}
	return 0;
}

/* Copy string setting s into dst, which must hold it whole. */
static int copy_string(struct loader *ld, const config_setting_t *s,
    const char *path, char *dst, size_t size)
{
	const char *v;
	size_t len;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(ld, s, path, "must be a string");
	v = config_setting_get_string(s);
	len = strlen(v);
	if (len >= size)
		return fail(ld, s, path, "too long (%zu bytes, at most %zu)",
		    len, size - 1);
	memcpy(dst, v, len + 1);
	return 0;
}

/* An optional string member: dst keeps its value when it is absent. */
static int get_string(struct loader *ld, const config_setting_t *g,
    const char *gpath, const char *name, int required, char *dst,
    size_t size, config_setting_t **sp)
{
	char path[SETPATHLEN];
	config_setting_t *s;

	if (get_member(ld, g, gpath, name, required, &s) == -1)
		return -1;
	if (sp != NULL)
		*sp = s;
	if (s == NULL)
		return 0;
	subpath(path, gpath, name);
	return copy_string(ld, s, path, dst, size);
}

/* A name of a cluster, region, campus, group or node. */
static int check_name(struct loader *ld, const config_setting_t *s,
    const char *path, const char *v)
{
	const char *p;

	if (v[0] == '\0')
		return fail(ld, s, path, "must not be empty");
	for (p = v; *p != '\0'; p++)
		if (!is_name_char(*p))
			return fail(ld, s, path, "\"%s\" may hold only "
			    "letters, digits, '.', '_' and '-'", v);
	return 0;
}

static int get_name(struct loader *ld, const config_setting_t *g,
    const char *gpath, const char *name, char *dst, size_t size,
    config_setting_t **sp)
{
	char path[SETPATHLEN];
	config_setting_t *s;

	if (get_string(ld, g, gpath, name, 1, dst, size, &s) == -1)
		return -1;
	if (sp != NULL)
		*sp = s;
	subpath(path, gpath, name);
	return check_name(ld, s, path, dst);
}

/* An integer setting within [min, max]. */
static int get_uint(struct loader *ld, const config_setting_t *s,
    const char *path, uint64_t min, uint64_t max, uint64_t *out)
{
	char lit[32];
	long long v;
	int type = config_setting_type(s);

	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
		return fail(ld, s, path, "must be an integer");
	v = config_setting_get_int64(s);
	if (type == CONFIG_TYPE_INT &&
	    check_literal(ld, s, v, lit, sizeof(lit)) == -1)
		return fail(ld, s, path, "%s does not fit in 32 bits; "
		    "write it as %sL", lit, lit);
	if (v < 0)
		return fail(ld, s, path, "must not be negative, found %lld", v);
	if ((unsigned long long)v < min)
		return fail(ld, s, path, "must be at least %llu, found %lld",
		    (unsigned long long)min, v);
	if ((unsigned long long)v > max)
		return fail(ld, s, path, "must be at most %llu, found %lld",
		    (unsigned long long)max, v);
	*out = (uint64_t)v;
	return 0;
}

static int get_bool(struct loader *ld, const config_setting_t *s,
    const char *path, int accept_int, int *out)
{
	int type = config_setting_type(s);
	long long v;

	if (type == CONFIG_TYPE_BOOL) {
		*out = config_setting_get_bool(s) ? 1 : 0;
		return 0;
	}
	if (accept_int && (type == CONFIG_TYPE_INT ||
	    type == CONFIG_TYPE_INT64)) {
		v = config_setting_get_int64(s);
		if (v == 0 || v == 1) {
			*out = (int)v;
			return 0;
		}
	}
	return fail(ld, s, path, "must be true or false");
}

static const char *check_hostport(const char *hp)
{
	const char *colon = strrchr(hp, ':'), *p;
	unsigned long port = 0;

	if (colon == NULL || colon == hp || colon[1] == '\0')
		return "must look like HOST:PORT";
	for (p = hp; p < colon; p++)
		if (isspace((unsigned char)*p) || *p == '/')
			return "has a bad character in its host";
	for (p = colon + 1; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p) || p - colon > 5)
			return "needs a port of 0 to 65535";
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port > 65535)
		return "needs a port of 0 to 65535";
	return NULL;
}

static const char *check_endpoint(const char *ep)
{
	if (strncmp(ep, "tcp://", 6) == 0)
		return check_hostport(ep + 6);
	if (strncmp(ep, "ipc://", 6) == 0)
		return ep[6] != '\0' ? NULL : "needs a path after ipc://";
	if (strncmp(ep, "inproc://", 9) == 0)
		return ep[9] != '\0' ? NULL : "needs a name after inproc://";
	return "must look like tcp://HOST:PORT, ipc://PATH or inproc://NAME";
}

/* Make a relative path absolute against the file's directory, in place. */
static int resolve_path(struct loader *ld, const config_setting_t *s,
    const char *path, char *dst, size_t size)
{
	char tmp[TRIAD_PATHLEN];
	int n;

	if (dst[0] == '/')
		return 0;
	n = snprintf(tmp, sizeof(tmp), "%s/%s", ld->dir, dst);
	if (n < 0 || (size_t)n >= size || (size_t)n >= sizeof(tmp))
		return fail(ld, s, path, "too long once made absolute "
		    "(%d bytes, at most %zu)", n, size - 1);
	memcpy(dst, tmp, (size_t)n + 1);
	return 0;
}

static int add_node_ref(struct loader *ld, struct topo_node *n,
    config_setting_t *set)
{
	struct topo_priv *p = ld->p;
	struct node_ref *nr;
	int cap;

	if (p->nnodes == p->nodes_cap) {
		cap = p->nodes_cap ? p->nodes_cap * 2 : 32;
		nr = realloc(p->nodes, (size_t)cap * sizeof(*nr));
		if (nr == NULL)
			return fail(ld, set, "regions", "out of memory");
		p->nodes = nr;
		p->nodes_cap = cap;
	}
	p->nodes[p->nnodes].node = n;
	p->nodes[p->nnodes].set = set;
	p->nnodes++;
	return 0;
}

static int load_node(struct loader *ld, config_setting_t *s,
    const char *path, enum node_kind kind, int ri, int gi, int idx,
    struct topo_node *n)
{
	const struct topo_region *r = &ld->t->regions[ri];
	config_setting_t *ns, *cs, *es, *ms, *ds, *other;
	char sp[SETPATHLEN];
	const char *why;
	int i;

	if (!config_setting_is_group(s))
		return fail(ld, s, path, "must be a group { ... }");
	if (check_known(ld, s, path, kind == NODE_QUEUE ? queue_node_keys :
	    daemon_node_keys) == -1)
		return -1;
	n->region = ri;
	n->group = gi;
	n->index = idx;

	if (get_name(ld, s, path, "name", n->name, sizeof(n->name), &ns) == -1)
		return -1;
	for (i = 0; i < ld->p->nnodes; i++) {
		if (strcmp(ld->p->nodes[i].node->name, n->name) != 0)
			continue;
		other = config_setting_get_member(ld->p->nodes[i].set, "name");
		subpath(sp, path, "name");
		return fail(ld, ns, sp, "node name \"%s\" is already used "
		    "at line %u", n->name, config_setting_source_line(other));
	}

	if (get_name(ld, s, path, "campus", n->campus, sizeof(n->campus),
	    &cs) == -1)
		return -1;
	if (topo_campus_index(r, n->campus) < 0) {
		subpath(sp, path, "campus");
		return fail(ld, cs, sp, "\"%s\" is not a campus of region "
		    "\"%s\"", n->campus, r->name);
	}

	if (get_string(ld, s, path, "endpoint", kind != NODE_REPLAYER,
	    n->endpoint, sizeof(n->endpoint), &es) == -1)
		return -1;
	/* A replay daemon serves no socket; an empty endpoint is allowed. */
	if (es != NULL && (kind != NODE_REPLAYER || n->endpoint[0] != '\0') &&
	    (why = check_endpoint(n->endpoint)) != NULL) {
		subpath(sp, path, "endpoint");
		return fail(ld, es, sp, "\"%s\" %s", n->endpoint, why);
	}

	if (get_string(ld, s, path, "metrics", 1, n->metrics,
	    sizeof(n->metrics), &ms) == -1)
		return -1;
	if ((why = check_hostport(n->metrics)) != NULL) {
		subpath(sp, path, "metrics");
		return fail(ld, ms, sp, "\"%s\" %s", n->metrics, why);
	}

	if (kind == NODE_QUEUE) {
		if (get_string(ld, s, path, "data_dir", 1, n->data_dir,
		    sizeof(n->data_dir), &ds) == -1)
			return -1;
		subpath(sp, path, "data_dir");
		if (n->data_dir[0] == '\0')
			return fail(ld, ds, sp, "must not be empty");
		if (resolve_path(ld, ds, sp, n->data_dir,
		    sizeof(n->data_dir)) == -1)
			return -1;
	}
	return add_node_ref(ld, n, s);
}

/* routers or replayers of region ri. */
static int load_daemons(struct loader *ld, config_setting_t *rs,
    const char *rpath, int ri, enum node_kind kind)
{
	struct topo_region *r = &ld->t->regions[ri];
	const char *name = kind == NODE_ROUTER ? "routers" : "replayers";
	struct topo_node **arr = kind == NODE_ROUTER ? &r->routers :
	    &r->replayers;
	int *np = kind == NODE_ROUTER ? &r->nrouters : &r->nreplayers;
	char lpath[SETPATHLEN], epath[SETPATHLEN];
	config_setting_t *ls;
	int i, n;

	if (get_list(ld, rs, rpath, name, 0, &ls) == -1)
		return -1;
	if (ls == NULL || (n = config_setting_length(ls)) == 0)
		return 0;
	subpath(lpath, rpath, name);
	*arr = calloc((size_t)n, sizeof(**arr));
	if (*arr == NULL)
		return fail(ld, ls, lpath, "out of memory");
	*np = n;
	for (i = 0; i < n; i++) {
		elempath(epath, lpath, i);
		if (load_node(ld, config_setting_get_elem(ls, (unsigned)i),
		    epath, kind, ri, -1, i, &(*arr)[i]) == -1)
			return -1;
	}
	return 0;
}

static int load_groups(struct loader *ld, config_setting_t *rs,
    const char *rpath, int ri)
{
	struct topo_region *r = &ld->t->regions[ri];
	char lpath[SETPATHLEN], gpath[SETPATHLEN], npath[SETPATHLEN];
	char nodepath[SETPATHLEN];
	config_setting_t *ls, *gs, *ns, *names;
	struct topo_group *g;
	int gi, i, j, k, n;

	if (get_list(ld, rs, rpath, "groups", 0, &ls) == -1)
		return -1;
	if (ls == NULL || (n = config_setting_length(ls)) == 0)
		return 0;
	subpath(lpath, rpath, "groups");
	r->groups = calloc((size_t)n, sizeof(*r->groups));
	if (r->groups == NULL)
		return fail(ld, ls, lpath, "out of memory");
	r->ngroups = n;
	for (gi = 0; gi < n; gi++) {
		g = &r->groups[gi];
		gs = config_setting_get_elem(ls, (unsigned)gi);
		elempath(gpath, lpath, gi);
		if (!config_setting_is_group(gs))
			return fail(ld, gs, gpath, "must be a group { ... }");
		if (check_known(ld, gs, gpath, group_keys) == -1)
			return -1;
		if (get_name(ld, gs, gpath, "name", g->name, sizeof(g->name),
		    &names) == -1)
			return -1;
		/* Group names are unique in the file, like node names. */
		for (i = 0; i <= ri; i++) {
			for (j = 0; j < (i < ri ? ld->t->regions[i].ngroups :
			    gi); j++) {
				if (strcmp(ld->t->regions[i].groups[j].name,
				    g->name) != 0)
					continue;
				subpath(npath, gpath, "name");
				return fail(ld, names, npath, "group name "
				    "\"%s\" is already used by regions.[%d]."
				    "groups.[%d]", g->name, i, j);
			}
		}
		if (get_list(ld, gs, gpath, "nodes", 1, &ns) == -1)
			return -1;
		subpath(npath, gpath, "nodes");
		k = config_setting_length(ns);
		if (k != TOPO_GROUP_NODES)
			return fail(ld, ns, npath, "a group needs exactly %d "
			    "nodes, found %d", TOPO_GROUP_NODES, k);
		for (i = 0; i < TOPO_GROUP_NODES; i++) {
			elempath(nodepath, npath, i);
			if (load_node(ld, config_setting_get_elem(ns,
			    (unsigned)i), nodepath, NODE_QUEUE, ri, gi, i,
			    &g->nodes[i]) == -1)
				return -1;
		}
	}
	return 0;
}

static int load_home(struct loader *ld, config_setting_t *rs,
    const char *rpath, int ri)
{
	struct topo_region *r = &ld->t->regions[ri];
	struct topo_priv *p = ld->p;
	char lpath[SETPATHLEN], epath[SETPATHLEN], fpath[SETPATHLEN];
	config_setting_t *ls, *es, *fs;
	struct home_ref *hr;
	int i, n, cap;

	if (get_list(ld, rs, rpath, "home", 0, &ls) == -1)
		return -1;
	if (ls == NULL || (n = config_setting_length(ls)) == 0)
		return 0;
	subpath(lpath, rpath, "home");
	r->home = calloc((size_t)n, sizeof(*r->home));
	if (r->home == NULL)
		return fail(ld, ls, lpath, "out of memory");
	r->nhome = n;
	for (i = 0; i < n; i++) {
		es = config_setting_get_elem(ls, (unsigned)i);
		elempath(epath, lpath, i);
		if (!config_setting_is_group(es))
			return fail(ld, es, epath, "must be a group "
			    "{ from = ...; to = ...; }");
		if (check_known(ld, es, epath, home_keys) == -1)
			return -1;
		if (get_member(ld, es, epath, "from", 1, &fs) == -1)
			return -1;
		subpath(fpath, epath, "from");
		if (get_uint(ld, fs, fpath, 0, INT64_MAX,
		    &r->home[i].from) == -1)
			return -1;
		if (get_member(ld, es, epath, "to", 1, &fs) == -1)
			return -1;
		subpath(fpath, epath, "to");
		if (get_uint(ld, fs, fpath, 0, INT64_MAX, &r->home[i].to) == -1)
			return -1;
		if (r->home[i].from > r->home[i].to)
			return fail(ld, es, epath, "from (%llu) is greater "
			    "than to (%llu)",
			    (unsigned long long)r->home[i].from,
			    (unsigned long long)r->home[i].to);
		if (p->nhomes == p->homes_cap) {
			cap = p->homes_cap ? p->homes_cap * 2 : 16;
			hr = realloc(p->homes, (size_t)cap * sizeof(*hr));
			if (hr == NULL)
				return fail(ld, es, epath, "out of memory");
			p->homes = hr;
			p->homes_cap = cap;
		}
		hr = &p->homes[p->nhomes++];
		hr->from = r->home[i].from;
		hr->to = r->home[i].to;
		hr->region = ri;
		hr->index = i;
		hr->line = config_setting_source_line(es);
	}
	return 0;
}

static int load_campuses(struct loader *ld, config_setting_t *rs,
    const char *rpath, int ri)
{
	struct topo_region *r = &ld->t->regions[ri];
	char cpath[SETPATHLEN], epath[SETPATHLEN];
	config_setting_t *cs, *es;
	int i, j, n;

	if (get_member(ld, rs, rpath, "campuses", 1, &cs) == -1)
		return -1;
	subpath(cpath, rpath, "campuses");
	if (!config_setting_is_array(cs) && !config_setting_is_list(cs))
		return fail(ld, cs, cpath, "must be an array [ \"a\", \"b\", "
		    "\"c\" ]");
	n = config_setting_length(cs);
	if (n != TOPO_CAMPUSES)
		return fail(ld, cs, cpath, "a region needs exactly %d "
		    "campuses, found %d", TOPO_CAMPUSES, n);
	for (i = 0; i < n; i++) {
		es = config_setting_get_elem(cs, (unsigned)i);
		elempath(epath, cpath, i);
		if (copy_string(ld, es, epath, r->campuses[i],
		    sizeof(r->campuses[i])) == -1 ||
		    check_name(ld, es, epath, r->campuses[i]) == -1)
			return -1;
		for (j = 0; j < i; j++)
			if (strcmp(r->campuses[j], r->campuses[i]) == 0)
				return fail(ld, es, epath, "campus \"%s\" is "
				    "listed twice", r->campuses[i]);
	}
	return 0;
}

static int load_region(struct loader *ld, config_setting_t *rs, int ri)
{
	struct topo_region *r = &ld->t->regions[ri];
	char rpath[SETPATHLEN], npath[SETPATHLEN];
	config_setting_t *ns;
	int i;

	elempath(rpath, "regions", ri);
	if (!config_setting_is_group(rs))
		return fail(ld, rs, rpath, "must be a group { ... }");
	if (check_known(ld, rs, rpath, region_keys) == -1)
		return -1;
	if (get_name(ld, rs, rpath, "name", r->name, sizeof(r->name),
	    &ns) == -1)
		return -1;
	for (i = 0; i < ri; i++) {
		if (strcmp(ld->t->regions[i].name, r->name) == 0) {
			subpath(npath, rpath, "name");
			return fail(ld, ns, npath, "region \"%s\" is already "
			    "defined as regions.[%d]", r->name, i);
		}
	}
	if (load_campuses(ld, rs, rpath, ri) == -1)
		return -1;
	/* Queue-only setups (tests, benchmarks) have no database. */
	if (get_string(ld, rs, rpath, "postgres", 0, r->postgres,
	    sizeof(r->postgres), NULL) == -1)
		return -1;
	if (load_home(ld, rs, rpath, ri) == -1 ||
	    load_daemons(ld, rs, rpath, ri, NODE_ROUTER) == -1 ||
	    load_daemons(ld, rs, rpath, ri, NODE_REPLAYER) == -1 ||
	    load_groups(ld, rs, rpath, ri) == -1)
		return -1;
	return 0;
}

static int cmp_home(const void *a, const void *b)
{
	const struct home_ref *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return 0;
}

/* No uid may have two homes: sort all ranges and compare neighbours. */
static int check_homes(struct loader *ld)
{
	struct topo_priv *p = ld->p;
	const struct home_ref *a, *b, *later, *earlier;
	const config_setting_t *s;
	char path[SETPATHLEN];
	int i;

	if (p->nhomes == 0)
		return 0;
	qsort(p->homes, (size_t)p->nhomes, sizeof(*p->homes), cmp_home);
	for (i = 1; i < p->nhomes; i++) {
		a = &p->homes[i - 1];
		b = &p->homes[i];
		if (b->from > a->to)
			continue;
		/* Report at the range that comes later in the file. */
		if (a->region > b->region || (a->region == b->region &&
		    a->index > b->index)) {
			later = a;
			earlier = b;
		} else {
			later = b;
			earlier = a;
		}
		snprintf(path, sizeof(path), "regions.[%d].home.[%d]",
		    later->region, later->index);
		s = config_lookup(&p->cfg, "regions");
		s = config_setting_get_elem(s, (unsigned)later->region);
		s = config_setting_get_member(s, "home");
		s = config_setting_get_elem(s, (unsigned)later->index);
		return fail(ld, s, path, "range %llu..%llu overlaps "
		    "regions.[%d].home.[%d] (%llu..%llu, line %u)",
		    (unsigned long long)later->from,
		    (unsigned long long)later->to, earlier->region,
		    earlier->index, (unsigned long long)earlier->from,
		    (unsigned long long)earlier->to, earlier->line);
	}
	return 0;
}

static int load_cluster(struct loader *ld, config_setting_t *root)
{
	struct topo *t = ld->t;
	config_setting_t *cs;

	if (get_group(ld, root, "", "cluster", 1, &cs) == -1)
		return -1;
	if (check_known(ld, cs, "cluster", cluster_keys) == -1 ||
	    get_name(ld, cs, "cluster", "name", t->name, sizeof(t->name),
	    NULL) == -1 ||
	    get_name(ld, cs, "cluster", "global_master", t->global_master,
	    sizeof(t->global_master), NULL) == -1)
		return -1;
	return 0;
}

/* A number within [min, max], written as an integer or with a fraction. */
static int get_real(struct loader *ld, const config_setting_t *s,
    const char *path, double min, double max, double *out)
{
	int type = config_setting_type(s);
	double v;

	if (type == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
		v = (double)config_setting_get_int64(s);
	else
		return fail(ld, s, path, "must be a number");
	if (!(v >= min && v <= max))
		return fail(ld, s, path, "must be between %g and %g, found %g",
		    min, max, v);
	*out = v;
	return 0;
}

/* Upper bounds of the ID service's settings (the lower ones are in NUM). */
static int load_ids(struct loader *ld)
{
	const struct topo_ids *ids = &ld->t->ids;
	config_setting_t *s;

	if (ids->lease_ms > 3600000) {
		s = config_lookup(&ld->p->cfg, "ids.lease_ms");
		return fail(ld, s, "ids.lease_ms", "must be at most 3600000 "
		    "(an hour: a dead router holds its sections until its "
		    "lease ends), found %lu", (unsigned long)ids->lease_ms);
	}
	if (ids->genid_borrow_ms >= ids->lease_ms) {
		s = config_lookup(&ld->p->cfg, "ids.genid_borrow_ms");
		return fail(ld, s, "ids.genid_borrow_ms", "must be below "
		    "ids.lease_ms (%lu), found %lu",
		    (unsigned long)ids->lease_ms,
		    (unsigned long)ids->genid_borrow_ms);
	}
	return 0;
}

/*
 * The drill's fractional thresholds, and the one rule tying its windows
 * together: the drill's own block must not lapse while it still measures.
 */
static int load_drill(struct loader *ld)
{
	char path[SETPATHLEN];
	struct topo_drill *d = &ld->t->drill;
	config_setting_t *s;
	double v = 0;
	size_t i;

	for (i = 0; i < TRIAD_ARRAY_LEN(drill_reals); i++) {
		snprintf(path, sizeof(path), "drill.%s", drill_reals[i].name);
		s = config_lookup(&ld->p->cfg, path);
		if (s == NULL)
			continue;
		if (get_real(ld, s, path, drill_reals[i].min,
		    drill_reals[i].max, &v) == -1)
			return -1;
		memcpy((char *)ld->t + drill_reals[i].off, &v, sizeof(v));
	}
	if ((uint64_t)d->block_ttl_s * 1000 <=
	    (uint64_t)d->block_s * 1000 + d->settle_ms) {
		s = config_lookup(&ld->p->cfg, "drill.block_ttl_s");
		if (s == NULL)
			s = config_lookup(&ld->p->cfg, "drill.block_s");
		return fail(ld, s, "drill.block_ttl_s", "the drill's block "
		    "(TTL %lu s) must outlast settle_ms + block_s (%llu ms)",
		    (unsigned long)d->block_ttl_s,
		    (unsigned long long)d->block_s * 1000 + d->settle_ms);
	}
	return 0;
}

static int load_numbers(struct loader *ld, config_setting_t *root)
{
	char path[SETPATHLEN];
	const char *known[TRIAD_ARRAY_LEN(num_fields) + 4];
	config_setting_t *gs, *s, *hs;
	uint64_t v, max;
	uint32_t v32;
	size_t i, k, n;

	for (i = 0; i < TRIAD_ARRAY_LEN(num_sections); i++) {
		if (get_group(ld, root, "", num_sections[i].name, 0, &gs) == -1)
			return -1;
		if (gs == NULL)
			continue;
		n = 0;
		for (k = 0; k < TRIAD_ARRAY_LEN(num_fields); k++)
			if (strcmp(num_fields[k].section,
			    num_sections[i].name) == 0)
				known[n++] = num_fields[k].name;
		for (k = 0; num_sections[i].extra[k] != NULL; k++)
			known[n++] = num_sections[i].extra[k];
		known[n] = NULL;
		if (check_known(ld, gs, num_sections[i].name, known) == -1)
			return -1;
	}
	for (i = 0; i < TRIAD_ARRAY_LEN(num_fields); i++) {
		s = config_lookup(&ld->p->cfg, num_fields[i].section);
		if (s == NULL ||
		    (s = config_setting_get_member(s, num_fields[i].name)) ==
		    NULL)
			continue;
		snprintf(path, sizeof(path), "%s.%s", num_fields[i].section,
		    num_fields[i].name);
		max = num_fields[i].width == 4 ? UINT32_MAX : INT64_MAX;
		if (get_uint(ld, s, path, num_fields[i].min, max, &v) == -1)
			return -1;
		if (num_fields[i].width == 4) {
			v32 = (uint32_t)v;
			memcpy((char *)ld->t + num_fields[i].off, &v32,
			    sizeof(v32));
		} else {
			memcpy((char *)ld->t + num_fields[i].off, &v,
			    sizeof(v));
		}
	}

	/* Retention is written in hours; retention_s is for tests. */
	hs = config_lookup(&ld->p->cfg, "queue.retention_hours");
	s = config_lookup(&ld->p->cfg, "queue.retention_s");
	if (hs != NULL && s != NULL)
		return fail(ld, s, "queue.retention_s", "give retention_hours "
		    "or retention_s, not both");
	if (hs != NULL) {
		if (get_uint(ld, hs, "queue.retention_hours", 1,
		    INT64_MAX / 3600, &v) == -1)
			return -1;
		ld->t->queue.retention_s = v * 3600;
	}
	if (s != NULL) {
		if (get_uint(ld, s, "queue.retention_s", 1, INT64_MAX,
		    &v) == -1)
			return -1;
		ld->t->queue.retention_s = v;
	}
	s = config_lookup(&ld->p->cfg, "producer.compress");
	if (s != NULL && get_bool(ld, s, "producer.compress", 1,
	    &ld->t->producer.compress) == -1)
		return -1;
	if (load_drill(ld) == -1)
		return -1;
	return load_ids(ld);
}

/* The setting at path, or the one at alt when path is absent. */
static config_setting_t *either(struct loader *ld, const char **path,
    const char *alt)
{
	config_setting_t *s = config_lookup(&ld->p->cfg, *path);

	if (s == NULL) {
		*path = alt;
		s = config_lookup(&ld->p->cfg, alt);
	}
	return s;
}

/* Sizes that only make sense in one order. */
static int check_limits(struct loader *ld)
{
	const struct topo *t = ld->t;
	const char *path;
	config_setting_t *s;

	if (t->limits.max_entry_bytes > t->limits.max_message_bytes) {
		path = "limits.max_entry_bytes";
		s = either(ld, &path, "limits.max_message_bytes");
		return fail(ld, s, path, "an entry (%lu bytes) cannot be "
		    "larger than a message (%llu bytes)",
		    (unsigned long)t->limits.max_entry_bytes,
		    (unsigned long long)t->limits.max_message_bytes);
	}
	if (t->limits.max_record_bytes > t->limits.max_batch_raw_bytes) {
		path = "limits.max_record_bytes";
		s = either(ld, &path, "limits.max_batch_raw_bytes");
		return fail(ld, s, path, "a record (%lu bytes) cannot be "
		    "larger than a batch (%llu bytes)",
		    (unsigned long)t->limits.max_record_bytes,
		    (unsigned long long)t->limits.max_batch_raw_bytes);
	}
	if (t->producer.batch_bytes > t->limits.max_batch_raw_bytes) {
		path = "producer.batch_bytes";
		s = either(ld, &path, "limits.max_batch_raw_bytes");
		return fail(ld, s, path, "a batch (%lu bytes) cannot be "
		    "larger than limits.max_batch_raw_bytes (%llu bytes)",
		    (unsigned long)t->producer.batch_bytes,
		    (unsigned long long)t->limits.max_batch_raw_bytes);
	}
	return 0;
}

static int check_key(struct loader *ld, const config_setting_t *s,
    const char *path, const char *key)
{
	if (strlen(key) != Z85_KEYLEN || strspn(key, z85_chars) != Z85_KEYLEN)
		return fail(ld, s, path, "must be a %d-character Z85 key",
		    Z85_KEYLEN);
	return 0;
}

static int load_security(struct loader *ld, config_setting_t *root)
{
	struct topo_security *sec = &ld->t->security;
	config_setting_t *gs, *s;
	struct {
		const char *name;
		char *dst;
		size_t size;
		int is_key;
	} f[] = {
		{ "server_public", sec->server_public,
		  sizeof(sec->server_public), 1 },
		{ "server_secret_file", sec->server_secret_file,
		  sizeof(sec->server_secret_file), 0 },
		{ "client_public", sec->client_public,
		  sizeof(sec->client_public), 1 },
		{ "client_secret_file", sec->client_secret_file,
		  sizeof(sec->client_secret_file), 0 },
		{ "allow_file", sec->allow_file, sizeof(sec->allow_file), 0 },
	};
	char path[SETPATHLEN];
	size_t i;

	if (get_group(ld, root, "", "security", 0, &gs) == -1)
		return -1;
	if (gs == NULL)
		return 0;
	if (check_known(ld, gs, "security", security_keys) == -1)
		return -1;
	s = config_setting_get_member(gs, "curve");
	if (s != NULL && get_bool(ld, s, "security.curve", 0,
	    &sec->curve) == -1)
		return -1;
	for (i = 0; i < TRIAD_ARRAY_LEN(f); i++) {
		subpath(path, "security", f[i].name);
		s = config_setting_get_member(gs, f[i].name);
		if (s == NULL) {
			if (sec->curve)
				return fail(ld, gs, path, "missing; it is "
				    "required when curve is true");
			continue;
		}
		if (copy_string(ld, s, path, f[i].dst, f[i].size) == -1)
			return -1;
		if (f[i].dst[0] == '\0') {
			if (sec->curve)
				return fail(ld, s, path, "must not be empty "
				    "when curve is true");
			continue;
		}
		if (f[i].is_key && check_key(ld, s, path, f[i].dst) == -1)
			return -1;
		if (!f[i].is_key && resolve_path(ld, s, path, f[i].dst,
		    f[i].size) == -1)
			return -1;
	}
	return 0;
}

static int load_regions(struct loader *ld, config_setting_t *root)
{
	config_setting_t *ls, *gm;
	int i, n;

	if (get_list(ld, root, "", "regions", 1, &ls) == -1)
		return -1;
	n = config_setting_length(ls);
	if (n < 1 || n > TOPO_MAX_REGIONS)
		return fail(ld, ls, "regions", "a cluster needs 1 to %d "
		    "regions, found %d", TOPO_MAX_REGIONS, n);
	ld->t->nregions = n;
	for (i = 0; i < n; i++)
		if (load_region(ld, config_setting_get_elem(ls, (unsigned)i),
		    i) == -1)
			return -1;
	if (check_homes(ld) == -1)
		return -1;
	if (topo_region(ld->t, ld->t->global_master) == NULL) {
		gm = config_lookup(&ld->p->cfg, "cluster.global_master");
		return fail(ld, gm, "cluster.global_master", "\"%s\" is not "
		    "a region", ld->t->global_master);
	}
	return 0;
}

/* The absolute directory holding path, into ld->dir. */
static int find_dir(struct loader *ld, const char *path)
{
	char dir[TRIAD_PATHLEN], *slash, *abs;
	size_t len;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	abs = realpath(dir, NULL);
	if (abs == NULL) {
		bprintf(ld->err, TRIAD_ERRLEN, "%s: could not resolve its "
		    "directory: %s", path, strerror(errno));
		return -1;
	}
	len = strlen(abs);
	if (len >= sizeof(ld->dir)) {
		free(abs);
		bprintf(ld->err, TRIAD_ERRLEN, "%s: its directory's path is "
		    "too long", path);
		return -1;
	}
	memcpy(ld->dir, abs, len + 1);
	free(abs);
	return 0;
}

struct topo *topo_load(const char *path, char *err)
{
	struct loader ld;
	struct topo *t;
	config_setting_t *root;
	const char *efile;

	assert(path != NULL && err != NULL);
	memset(&ld, 0, sizeof(ld));
	ld.err = err;
	err[0] = '\0';
	if (strlen(path) >= TRIAD_PATHLEN) {
		bprintf(err, TRIAD_ERRLEN, "topology file path is too long");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	ld.p = calloc(1, sizeof(*ld.p));
	if (t == NULL || ld.p == NULL) {
		free(t);
		free(ld.p);
		bprintf(err, TRIAD_ERRLEN, "%s: out of memory", path);
		return NULL;
	}
	ld.t = t;
	t->priv = ld.p;
	config_init(&ld.p->cfg);
	snprintf(t->path, sizeof(t->path), "%s", path);
	set_defaults(t);

	/* Read the text first, for errno on failure and for check_literal(). */
	ld.src = slurp(path, &ld.srclen);
	if (ld.src == NULL) {
		bprintf(err, TRIAD_ERRLEN, "%s: could not read: %s", path,
		    strerror(errno));
		goto fail;
	}
	snprintf(ld.srcfile, sizeof(ld.srcfile), "%s", path);
	if (find_dir(&ld, path) == -1)
		goto fail;
	/* @include "x" is relative to the file, like data directories. */
	config_set_include_dir(&ld.p->cfg, ld.dir);
	if (config_read_file(&ld.p->cfg, path) != CONFIG_TRUE) {
		efile = config_error_file(&ld.p->cfg);
		if (config_error_type(&ld.p->cfg) == CONFIG_ERR_FILE_IO)
			bprintf(err, TRIAD_ERRLEN, "%s: could not read",
			    efile != NULL ? efile : path);
		else
			bprintf(err, TRIAD_ERRLEN, "%s:%d: %s",
			    efile != NULL ? efile : path,
			    config_error_line(&ld.p->cfg),
			    config_error_text(&ld.p->cfg));
		goto fail;
	}
	root = config_root_setting(&ld.p->cfg);
	if (check_known(&ld, root, "", root_keys) == -1 ||
	    load_cluster(&ld, root) == -1 ||
	    load_numbers(&ld, root) == -1 ||
	    check_limits(&ld) == -1 ||
	    load_security(&ld, root) == -1 ||
	    load_regions(&ld, root) == -1)
		goto fail;
	free(ld.src);
	return t;
fail:
	free(ld.src);
	topo_destroy(&t);
	return NULL;
}

void topo_destroy(struct topo **tp)
{
	struct topo *t;
	struct topo_priv *p;
	int i;

	if (tp == NULL || *tp == NULL)
		return;
	t = *tp;
	for (i = 0; i < TOPO_MAX_REGIONS; i++) {
		free(t->regions[i].home);
		free(t->regions[i].groups);
		free(t->regions[i].routers);
		free(t->regions[i].replayers);
	}
	p = t->priv;
	if (p != NULL) {
		config_destroy(&p->cfg);
		free(p->nodes);
		free(p->homes);
		free(p);
	}
	free(t);
	*tp = NULL;
}

const struct topo_region *topo_region(const struct topo *t, const char *name)
{
	int i;

	assert(t != NULL && name != NULL);
	for (i = 0; i < t->nregions; i++)
		if (strcmp(t->regions[i].name, name) == 0)
			return &t->regions[i];
	return NULL;
}

const struct topo_node *topo_node(const struct topo *t, const char *name)
{
	const struct topo_priv *p;
	int i;

	assert(t != NULL && t->priv != NULL && name != NULL);
	p = t->priv;
	for (i = 0; i < p->nnodes; i++)
		if (strcmp(p->nodes[i].node->name, name) == 0)
			return p->nodes[i].node;
	return NULL;
}

int topo_campus_index(const struct topo_region *r, const char *campus)
{
	int i;

	assert(r != NULL && campus != NULL);
	for (i = 0; i < TOPO_CAMPUSES; i++)
		if (strcmp(r->campuses[i], campus) == 0)
			return i;
	return -1;
}

const struct topo_region *topo_home(const struct topo *t, uint64_t uid)
{
	const struct topo_priv *p;
	int lo = 0, hi, mid;

	assert(t != NULL && t->priv != NULL);
	p = t->priv;
	hi = p->nhomes;
	/* The last range starting at or before uid is the only candidate. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (p->homes[mid].from <= uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || uid > p->homes[lo - 1].to)
		return NULL;
	return &t->regions[p->homes[lo - 1].region];
}

/* Set string member name of group g, adding it when absent and non-empty. */
static int set_member(config_setting_t *g, const char *name, const char *v)
{
	config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL) {
		if (v[0] == '\0')
			return 0;
		s = config_setting_add(g, name, CONFIG_TYPE_STRING);
		if (s == NULL)
			return -1;
	}
	return config_setting_set_string(s, v) == CONFIG_TRUE ? 0 : -1;
}

/* Put the struct's addresses and paths back into the tree. */
static int update_tree(const struct topo *t)
{
	struct topo_priv *p = t->priv;
	const struct topo_security *sec = &t->security;
	const struct topo_node *n;
	config_setting_t *s;
	int i;

	for (i = 0; i < p->nnodes; i++) {
		n = p->nodes[i].node;
		s = p->nodes[i].set;
		if (set_member(s, "endpoint", n->endpoint) == -1 ||
		    set_member(s, "metrics", n->metrics) == -1)
			return -1;
		if (n->group >= 0 && set_member(s, "data_dir",
		    n->data_dir) == -1)
			return -1;
	}
	/*
	 * Each region's connection string: `triadctl up` puts the address
	 * of the PostgreSQL it started there.  Regions were loaded in list
	 * order, so element i is t->regions[i].
	 */
	s = config_lookup(&p->cfg, "regions");
	for (i = 0; s != NULL && i < t->nregions; i++) {
		config_setting_t *rs = config_setting_get_elem(s, (unsigned)i);

		if (rs == NULL || set_member(rs, "postgres",
		    t->regions[i].postgres) == -1)
			return -1;
	}
	/* Relative key file paths were resolved at load: keep them so. */
	s = config_lookup(&p->cfg, "security");
	if (s != NULL && (set_member(s, "server_secret_file",
	    sec->server_secret_file) == -1 ||
	    set_member(s, "client_secret_file",
	    sec->client_secret_file) == -1 ||
	    set_member(s, "allow_file", sec->allow_file) == -1))
		return -1;
	return 0;
}

int topo_save(const struct topo *t, const char *path, char *err)
{
	struct topo_priv *p;
	char tmp[TRIAD_PATHLEN], dir[TRIAD_PATHLEN], *slash;
	struct stat st;
	FILE *f = NULL;
	int fd = -1, dfd, n;

	assert(t != NULL && t->priv != NULL && path != NULL && err != NULL);
	p = t->priv;
	err[0] = '\0';
	n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		bprintf(err, TRIAD_ERRLEN, "%s: path is too long", path);
		return -1;
	}
	if (update_tree(t) == -1) {
		bprintf(err, TRIAD_ERRLEN, "%s: out of memory", path);
		return -1;
	}
	config_set_options(&p->cfg, CONFIG_OPTION_SEMICOLON_SEPARATORS);

	fd = mkstemp(tmp);
	if (fd == -1) {
		bprintf(err, TRIAD_ERRLEN, "%s: could not create: %s", tmp,
		    strerror(errno));
		return -1;
	}
	/* Keep the mode of the file we replace; a new file is 0644. */
	if (fchmod(fd, stat(path, &st) == 0 ? (st.st_mode & 07777) :
	    0644) == -1)
		goto fail;
	f = fdopen(fd, "w");
	if (f == NULL)
		goto fail;
	fd = -1;
	config_write(&p->cfg, f);
	if (fflush(f) == EOF || ferror(f) || fsync(fileno(f)) == -1)
		goto fail;
	if (fclose(f) == EOF) {
		f = NULL;
		goto fail;
	}
	f = NULL;
	if (rename(tmp, path) == -1)
		goto fail;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd == -1 || fsync(dfd) == -1) {
		bprintf(err, TRIAD_ERRLEN, "%s: could not sync directory: %s",
		    dir, strerror(errno));
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	close(dfd);
	return 0;
fail:
	bprintf(err, TRIAD_ERRLEN, "%s: could not write: %s", tmp,
	    strerror(errno));
	if (f != NULL)
		fclose(f);
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}
