/*
 * A tiny application built against an installed libtriad, the way a user
 * would build one: only the installed headers and pkg-config.  It loads a
 * topology file and batches a record, so a missing header, symbol or
 * dependency in the install fails the build or the run.
 */
#include <stdio.h>
#include <string.h>

#include <triad/batch.h>
#include <triad/producer.h>
#include <triad/topo.h>

int main(int argc, char **argv)
{
	char err[TRIAD_ERRLEN];
	struct batch_builder bb = {0};
	struct buf out = {0};
	struct topo *t;

	if (argc != 2) {
		fprintf(stderr, "usage: app TOPOLOGY\n");
		return 2;
	}
	t = topo_load(argv[1], err);
	if (t == NULL) {
		fprintf(stderr, "app: %s\n", err);
		return 1;
	}
	if (batch_add(&bb, "hello", 5) == -1 || batch_seal(&bb, 1, &out) == -1)
		return 1;
	printf("regions=%d first=%s batch_bytes=%zu\n", t->nregions,
	    t->regions[0].name, out.len);
	buf_free(&out);
	batch_builder_free(&bb);
	topo_destroy(&t);
	return 0;
}
