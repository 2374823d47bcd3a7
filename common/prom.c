/*
 * prom.c - reading the Prometheus text format (see prom.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

void prom_each(const char *text, size_t len, const char *name,
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

int prom_value(const char *text, size_t len, const char *name,
    double *out)
{
	struct prom_found f = { 0 };

	prom_each(text, len, name, prom_first, &f);
	if (!f.found)
		return -1;
	*out = f.v;
	return 0;
}

int prom_label(const char *labels, const char *key, char *out,
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
