/*
 * ctl_keygen.c - `triadctl keygen`: make a CURVE key pair (common/curve.h)
 * and print it, or write it to PREFIX.key (0600) and PREFIX.pub (0644).
 * A key file is created with O_EXCL and synced, so an existing key is
 * never replaced and a key reported written is on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "curve.h"
#include "triad.h"

/* Write a key to path with mode; refuses to replace a file. */
static int write_key(const struct cmd *c, const char *path, const char *key,
    mode_t mode)
{
	char line[48];
	size_t len;
	int fd;

	snprintf(line, sizeof(line), "%s\n", key);
	len = strlen(line);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1) {
		ctl_errx(c, "could not create \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	if (write(fd, line, len) != (ssize_t)len || fsync(fd) == -1) {
		ctl_errx(c, "could not write \"%s\": %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) == -1) {
		ctl_errx(c, "could not write \"%s\": %s", path,
		    strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int cmd_keygen(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	char pub[41], sec[41];
	char keypath[TRIAD_PATHLEN], pubpath[TRIAD_PATHLEN];
	const char *prefix = NULL;
	struct ctl_args a;
	int ch, n1, n2, rc;

	ctl_args_begin(&a, c, argv);
	while ((ch = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			prefix = optarg;
			break;
		default:
			if (ctl_args_opt(c, ch, &a, &rc) == -1)
				return rc;
		}
	}
	if ((rc = ctl_no_operands(c, argc, argv)) != 0)
		return rc;
	if (prefix != NULL && prefix[0] == '\0')
		return ctl_usage_error(c, "-o needs a non-empty prefix");
	if (curve_keygen(pub, sec) == -1) {
		ctl_errx(c, "could not make a key pair (is libzmq built with "
		    "CURVE?)");
		return 1;
	}
	if (prefix == NULL) {
		printf("public %s\nsecret %s\n", pub, sec);
		return 0;
	}
	n1 = snprintf(keypath, sizeof(keypath), "%s.key", prefix);
	n2 = snprintf(pubpath, sizeof(pubpath), "%s.pub", prefix);
	if (n1 < 0 || (size_t)n1 >= sizeof(keypath) || n2 < 0 ||
	    (size_t)n2 >= sizeof(pubpath))
		return ctl_usage_error(c, "prefix too long");
	if (write_key(c, keypath, sec, 0600) == -1)
		return 1;
	if (write_key(c, pubpath, pub, 0644) == -1) {
		unlink(keypath);
		return 1;
	}
	printf("secret key: %s\npublic key: %s (%s)\n", keypath, pubpath, pub);
	return 0;
}
