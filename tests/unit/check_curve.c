/*
 * check_curve.c - CURVE keys, key files, socket set-up and the ZAP
 * allow-list handler, end to end over real ZeroMQ sockets on 127.0.0.1.
 *
 * Each test builds its own struct topo by hand (only the security fields
 * matter here) and its own key files in a temporary directory, so the
 * suite does not depend on the topology parser.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "curve.h"
#include "topo.h"

#define DEADLINE_MS 5000
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

static const char z85_alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ".-:+=^!/*?&<>()[]{}@%$#";

/* A temporary directory with a server key pair, a client key pair, an
 * allow file listing the client, and a topology pointing at them. */
struct env {
	char dir[32];
	struct topo *t;
	char srv_pub[41], srv_sec[41];
	char cli_pub[41], cli_sec[41];
	char other_pub[41], other_sec[41]; /* not in the allow file */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void path_in(const struct env *e, const char *name,
    char out[TRIAD_PATHLEN])
{
	int n = snprintf(out, TRIAD_PATHLEN, "%s/%s", e->dir, name);

	ck_assert(n > 0 && n < TRIAD_PATHLEN);
}

static void write_file(const struct env *e, const char *name,
    const char *text)
{
	char path[TRIAD_PATHLEN];
	FILE *f;

	path_in(e, name, path);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static void env_init(struct env *e)
{
	char text[512];

	memset(e, 0, sizeof(*e));
	strcpy(e->dir, "/tmp/check_curve.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	ck_assert_int_eq(curve_keygen(e->srv_pub, e->srv_sec), 0);
	ck_assert_int_eq(curve_keygen(e->cli_pub, e->cli_sec), 0);
	ck_assert_int_eq(curve_keygen(e->other_pub, e->other_sec), 0);

	snprintf(text, sizeof(text), "# server secret key\n\n  %s  \n",
	    e->srv_sec);
	write_file(e, "server.key", text);
	snprintf(text, sizeof(text), "%s\n", e->cli_sec);
	write_file(e, "client.key", text);
	snprintf(text, sizeof(text), "%s\n", e->other_sec);
	write_file(e, "other.key", text);
	snprintf(text, sizeof(text),
	    "# clients allowed in\n%s\n\n# ops\n%s\n", e->srv_pub,
	    e->cli_pub);
	write_file(e, "allow", text);

	e->t = calloc(1, sizeof(*e->t));
	ck_assert_ptr_nonnull(e->t);
	e->t->security.curve = 1;
	memcpy(e->t->security.server_public, e->srv_pub, 41);
	memcpy(e->t->security.client_public, e->cli_pub, 41);
	path_in(e, "server.key", e->t->security.server_secret_file);
	path_in(e, "client.key", e->t->security.client_secret_file);
	path_in(e, "allow", e->t->security.allow_file);
}

static void env_fini(struct env *e)
{
	char path[TRIAD_PATHLEN];
	struct dirent *d;
	DIR *dir;

	dir = opendir(e->dir);
	ck_assert_ptr_nonnull(dir);
	while ((d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		path_in(e, d->d_name, path);
		ck_assert_int_eq(unlink(path), 0);
	}
	closedir(dir);
	ck_assert_int_eq(rmdir(e->dir), 0);
	free(e->t);
	e->t = NULL;
}

static void *new_socket(void *ctx, int type)
{
	void *s = zmq_socket(ctx, type);
	int zero = 0;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)),
	    0);
	return s;
}

/* Wait until sock is readable; 1 when it is, 0 at the deadline. */
static int wait_readable(void *sock, int ms)
{
	int64_t deadline = now_ms() + ms;
	zmq_pollitem_t it = { .socket = sock, .events = ZMQ_POLLIN };

	for (;;) {
		int64_t left = deadline - now_ms();

		if (left <= 0)
			return 0;
		if (zmq_poll(&it, 1, (long)left) > 0 &&
		    (it.revents & ZMQ_POLLIN))
			return 1;
	}
}

START_TEST(test_keygen)
{
	char pub[41], sec[41], pub2[41], sec2[41], derived[41];
	uint8_t bin[32];
	int i;

	ck_assert_int_eq(curve_keygen(pub, sec), 0);
	ck_assert_int_eq(curve_keygen(pub2, sec2), 0);
	ck_assert_uint_eq(strlen(pub), 40);
	ck_assert_uint_eq(strlen(sec), 40);
	for (i = 0; i < 40; i++) {
		ck_assert_ptr_nonnull(strchr(z85_alphabet, pub[i]));
		ck_assert_ptr_nonnull(strchr(z85_alphabet, sec[i]));
	}
	ck_assert_ptr_nonnull(zmq_z85_decode(bin, pub));
	ck_assert_ptr_nonnull(zmq_z85_decode(bin, sec));
	ck_assert_int_eq(zmq_curve_public(derived, sec), 0);
	ck_assert_str_eq(derived, pub);
	ck_assert_str_ne(pub, pub2);
	ck_assert_str_ne(sec, sec2);
}
END_TEST

START_TEST(test_read_key)
{
	struct env e;
	char key[41], path[TRIAD_PATHLEN], err[TRIAD_ERRLEN];
	char text[TRIAD_PATHLEN + TRIAD_ERRLEN];
	char big[400];

	env_init(&e);
	ck_assert_int_eq(curve_read_key(e.t->security.server_secret_file, key,
	    err), 0);
	ck_assert_str_eq(key, e.srv_sec);

	/* CRLF line endings and tabs. */
	snprintf(text, sizeof(text), "#c\r\n\r\n\t%s\r\n", e.cli_pub);
	write_file(&e, "crlf.key", text);
	path_in(&e, "crlf.key", path);
	ck_assert_int_eq(curve_read_key(path, key, err), 0);
	ck_assert_str_eq(key, e.cli_pub);

	/* Too short, on line 3. */
	write_file(&e, "short.key", "# x\n\nabcdefghij\n");
	path_in(&e, "short.key", path);
	ck_assert_int_eq(curve_read_key(path, key, err), -1);
	snprintf(text, sizeof(text), "%s:3: not a 40-character Z85 key",
	    path);
	ck_assert_str_eq(err, text);

	/* 40 characters, one outside the alphabet. */
	snprintf(text, sizeof(text), "%.39s,\n", e.cli_pub);
	write_file(&e, "char.key", text);
	path_in(&e, "char.key", path);
	ck_assert_int_eq(curve_read_key(path, key, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a 40-character Z85 key"));

	/* Valid characters, but the groups overflow 32 bits. */
	write_file(&e, "big.key", "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%\n");
	path_in(&e, "big.key", path);
	ck_assert_int_eq(curve_read_key(path, key, err), -1);
	ck_assert_ptr_nonnull(strstr(err, ":1: not a 40-character Z85 key"));

	/* The first key wins; trailing text on its line does not. */
	snprintf(text, sizeof(text), "%s extra\n%s\n", e.cli_pub, e.srv_pub);
	write_file(&e, "two.key", text);
	path_in(&e, "two.key", path);
	ck_assert_int_eq(curve_read_key(path, key, err), -1);

	write_file(&e, "empty.key", "# nothing here\n\n   \n");
	path_in(&e, "empty.key", path);
	ck_assert_int_eq(curve_read_key(path, key, err), -1);
	snprintf(text, sizeof(text), "%s: no key found", path);
	ck_assert_str_eq(err, text);

	memset(big, 'a', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	write_file(&e, "long.key", big);
	path_in(&e, "long.key", path);
	ck_assert_int_eq(curve_read_key(path, key, err), -1);
	snprintf(text, sizeof(text), "%s:1: line too long", path);
	ck_assert_str_eq(err, text);

	path_in(&e, "missing.key", path);
	ck_assert_int_eq(curve_read_key(path, key, err), -1);
	snprintf(text, sizeof(text), "could not open key file \"%s\": %s",
	    path, strerror(ENOENT));
	ck_assert_str_eq(err, text);
	env_fini(&e);
}
END_TEST

START_TEST(test_curve_off)
{
	struct topo *t = calloc(1, sizeof(*t));
	char err[TRIAD_ERRLEN] = "";
	void *ctx = zmq_ctx_new(), *s, *c;
	curve_zap_t *z;
	int mech = -1;
	size_t len = sizeof(mech);

	ck_assert_ptr_nonnull(t);
	s = new_socket(ctx, ZMQ_REP);
	c = new_socket(ctx, ZMQ_REQ);
	ck_assert_int_eq(curve_server_setup(s, t, err), 0);
	ck_assert_int_eq(curve_client_setup(c, t, err), 0);
	ck_assert_int_eq(zmq_getsockopt(s, ZMQ_MECHANISM, &mech, &len), 0);
	ck_assert_int_eq(mech, ZMQ_NULL);
	ck_assert_int_eq(zmq_getsockopt(c, ZMQ_MECHANISM, &mech, &len), 0);
	ck_assert_int_eq(mech, ZMQ_NULL);
	z = curve_zap_new(ctx, t, err);
	ck_assert_ptr_nonnull(z);
	ck_assert_ptr_null(curve_zap_socket(z));
	ck_assert_uint_eq(curve_zap_rejected(z), 0);
	curve_zap_destroy(&z);
	ck_assert_ptr_null(z);
	curve_zap_destroy(&z);
	zmq_close(s);
	zmq_close(c);
	zmq_ctx_term(ctx);
	free(t);
}
END_TEST

START_TEST(test_setup_options)
{
	struct env e;
	char err[TRIAD_ERRLEN] = "", z85[41], domain[32];
	void *ctx = zmq_ctx_new(), *s, *c;
	int v = -1;
	size_t len;

	env_init(&e);
	s = new_socket(ctx, ZMQ_REP);
	c = new_socket(ctx, ZMQ_REQ);
	ck_assert_msg(curve_server_setup(s, e.t, err) == 0, "%s", err);
	ck_assert_msg(curve_client_setup(c, e.t, err) == 0, "%s", err);

	len = sizeof(v);
	ck_assert_int_eq(zmq_getsockopt(s, ZMQ_MECHANISM, &v, &len), 0);
	ck_assert_int_eq(v, ZMQ_CURVE);
	ck_assert_int_eq(zmq_getsockopt(s, ZMQ_CURVE_SERVER, &v, &len), 0);
	ck_assert_int_eq(v, 1);
	len = sizeof(domain);
	ck_assert_int_eq(zmq_getsockopt(s, ZMQ_ZAP_DOMAIN, domain, &len), 0);
	ck_assert_str_eq(domain, "triad");

	len = sizeof(v);
	ck_assert_int_eq(zmq_getsockopt(c, ZMQ_MECHANISM, &v, &len), 0);
	ck_assert_int_eq(v, ZMQ_CURVE);
	len = sizeof(z85);
	ck_assert_int_eq(zmq_getsockopt(c, ZMQ_CURVE_SERVERKEY, z85, &len),
	    0);
	ck_assert_str_eq(z85, e.srv_pub);
	len = sizeof(z85);
	ck_assert_int_eq(zmq_getsockopt(c, ZMQ_CURVE_PUBLICKEY, z85, &len),
	    0);
	ck_assert_str_eq(z85, e.cli_pub);
	zmq_close(s);
	zmq_close(c);
	zmq_ctx_term(ctx);
	env_fini(&e);
}
END_TEST

START_TEST(test_setup_errors)
{
	struct env e;
	char err[TRIAD_ERRLEN], path[TRIAD_PATHLEN];
	char want[TRIAD_PATHLEN + TRIAD_ERRLEN];
	void *ctx = zmq_ctx_new(), *s, *c;

	env_init(&e);
	s = new_socket(ctx, ZMQ_REP);
	c = new_socket(ctx, ZMQ_REQ);

	/* A secret that is not the topology's public key's. */
	memcpy(e.t->security.server_public, e.cli_pub, 41);
	ck_assert_int_eq(curve_server_setup(s, e.t, err), -1);
	snprintf(want, sizeof(want), "secret key in \"%s\" does not match "
	    "security.server_public", e.t->security.server_secret_file);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(curve_client_setup(c, e.t, err), 0);

	strcpy(e.t->security.server_public, "not a key");
	ck_assert_int_eq(curve_server_setup(s, e.t, err), -1);
	ck_assert_str_eq(err,
	    "security.server_public: not a 40-character Z85 key");
	ck_assert_int_eq(curve_client_setup(c, e.t, err), -1);
	ck_assert_str_eq(err,
	    "security.server_public: not a 40-character Z85 key");
	memcpy(e.t->security.server_public, e.srv_pub, 41);

	path_in(&e, "nope.key", path);
	strcpy(e.t->security.server_secret_file, path);
	ck_assert_int_eq(curve_server_setup(s, e.t, err), -1);
	ck_assert_ptr_nonnull(strstr(err, path));

	write_file(&e, "client.key", "# bad\nxyz\n");
	ck_assert_int_eq(curve_client_setup(c, e.t, err), -1);
	snprintf(want, sizeof(want), "%s:2: not a 40-character Z85 key",
	    e.t->security.client_secret_file);
	ck_assert_str_eq(err, want);
	zmq_close(s);
	zmq_close(c);
	zmq_ctx_term(ctx);
	env_fini(&e);
}
END_TEST

START_TEST(test_allow_file_errors)
{
	struct env e;
	char err[TRIAD_ERRLEN], text[256];
	char want[TRIAD_PATHLEN + TRIAD_ERRLEN];
	void *ctx = zmq_ctx_new();
	curve_zap_t *z, *z2;

	env_init(&e);
	snprintf(text, sizeof(text), "# ok\n%s\n\n%.39s\n", e.cli_pub,
	    e.srv_pub);
	write_file(&e, "allow", text);
	ck_assert_ptr_null(curve_zap_new(ctx, e.t, err));
	snprintf(want, sizeof(want), "%s:4: not a 40-character Z85 key",
	    e.t->security.allow_file);
	ck_assert_str_eq(err, want);

	path_in(&e, "absent", e.t->security.allow_file);
	ck_assert_ptr_null(curve_zap_new(ctx, e.t, err));
	snprintf(want, sizeof(want), "could not open allow file \"%s\": %s",
	    e.t->security.allow_file, strerror(ENOENT));
	ck_assert_str_eq(err, want);

	/* One handler per context. */
	write_file(&e, "absent", "# nobody\n");
	z = curve_zap_new(ctx, e.t, err);
	ck_assert_msg(z != NULL, "%s", err);
	ck_assert_ptr_nonnull(curve_zap_socket(z));
	z2 = curve_zap_new(ctx, e.t, err);
	ck_assert_ptr_null(z2);
	ck_assert_ptr_nonnull(strstr(err, ZAP_ENDPOINT));
	curve_zap_destroy(&z);
	zmq_ctx_term(ctx);
	env_fini(&e);
}
END_TEST

/* Send a raw ZAP request of n frames and return the reply's frames. */
struct zap_reply {
	int nframes;
	char f[8][300];
};

static void zap_ask(curve_zap_t *z, void *req, const char *const *frames,
    const size_t *lens, int n, struct zap_reply *r)
{
	int i, more;
	size_t mlen = sizeof(more);

	for (i = 0; i < n; i++)
		ck_assert_int_eq(zmq_send(req, frames[i], lens[i],
		    i + 1 < n ? ZMQ_SNDMORE : 0), (int)lens[i]);
	ck_assert_int_eq(wait_readable(curve_zap_socket(z), DEADLINE_MS), 1);
	ck_assert_int_eq(curve_zap_handle(z), 0);
	ck_assert_int_eq(wait_readable(req, DEADLINE_MS), 1);
	memset(r, 0, sizeof(*r));
	do {
		int got = zmq_recv(req, r->f[r->nframes],
		    sizeof(r->f[0]) - 1, 0);

		ck_assert_int_ge(got, 0);
		ck_assert_int_lt(got, (int)sizeof(r->f[0]));
		ck_assert_int_lt(r->nframes, 7);
		r->nframes++;
		ck_assert_int_eq(zmq_getsockopt(req, ZMQ_RCVMORE, &more,
		    &mlen), 0);
	} while (more);
}

START_TEST(test_zap_protocol)
{
	struct env e;
	char err[TRIAD_ERRLEN] = "", big[1000];
	void *ctx = zmq_ctx_new(), *req;
	uint8_t cli[32], other[32];
	struct zap_reply r;
	curve_zap_t *z;
	int i;

	env_init(&e);
	ck_assert_ptr_nonnull(zmq_z85_decode(cli, e.cli_pub));
	ck_assert_ptr_nonnull(zmq_z85_decode(other, e.other_pub));
	z = curve_zap_new(ctx, e.t, err);
	ck_assert_msg(z != NULL, "%s", err);
	req = new_socket(ctx, ZMQ_REQ);
	ck_assert_int_eq(zmq_connect(req, ZAP_ENDPOINT), 0);

	/* Nothing pending. */
	errno = 0;
	ck_assert_int_eq(curve_zap_handle(z), -1);
	ck_assert_int_eq(errno, EAGAIN);

	{
		const char *f[] = { "1.0", "id-1", "triad", "127.0.0.1", "",
		    "CURVE", (const char *)cli };
		const size_t l[] = { 3, 4, 5, 9, 0, 5, 32 };

		zap_ask(z, req, f, l, 7, &r);
		ck_assert_int_eq(r.nframes, 6);
		ck_assert_str_eq(r.f[0], "1.0");
		ck_assert_str_eq(r.f[1], "id-1");
		ck_assert_str_eq(r.f[2], "200");
		ck_assert_str_eq(r.f[4], e.cli_pub);
		ck_assert_str_eq(r.f[5], "");
		ck_assert_uint_eq(curve_zap_rejected(z), 0);
	}
	{
		const char *f[] = { "1.0", "id-2", "triad", "127.0.0.1", "",
		    "CURVE", (const char *)other };
		const size_t l[] = { 3, 4, 5, 9, 0, 5, 32 };

		zap_ask(z, req, f, l, 7, &r);
		ck_assert_str_eq(r.f[1], "id-2");
		ck_assert_str_eq(r.f[2], "400");
		ck_assert_str_eq(r.f[4], "");
		ck_assert_uint_eq(curve_zap_rejected(z), 1);
	}
	{
		/* Another mechanism is refused. */
		const char *f[] = { "1.0", "id-3", "triad", "127.0.0.1", "",
		    "NULL" };
		const size_t l[] = { 3, 4, 5, 9, 0, 4 };

		zap_ask(z, req, f, l, 6, &r);
		ck_assert_str_eq(r.f[2], "400");
		ck_assert_uint_eq(curve_zap_rejected(z), 2);
	}
	{
		/* Too few frames. */
		const char *f[] = { "1.0", "id-4", "triad" };
		const size_t l[] = { 3, 4, 5 };

		zap_ask(z, req, f, l, 3, &r);
		ck_assert_int_eq(r.nframes, 6);
		ck_assert_str_eq(r.f[1], "id-4");
		ck_assert_str_eq(r.f[2], "500");
		ck_assert_uint_eq(curve_zap_rejected(z), 3);
	}
	{
		/* Another version. */
		const char *f[] = { "2.0", "id-5", "triad", "127.0.0.1", "",
		    "CURVE", (const char *)cli };
		const size_t l[] = { 3, 4, 5, 9, 0, 5, 32 };

		zap_ask(z, req, f, l, 7, &r);
		ck_assert_str_eq(r.f[2], "500");
		ck_assert_uint_eq(curve_zap_rejected(z), 4);
	}
	{
		/* A short key, then a listed key with a frame too many. */
		const char *f[] = { "1.0", "id-6", "triad", "127.0.0.1", "",
		    "CURVE", (const char *)cli, "x" };
		const size_t l[] = { 3, 4, 5, 9, 0, 5, 31 };
		const size_t l2[] = { 3, 4, 5, 9, 0, 5, 32, 1 };

		zap_ask(z, req, f, l, 7, &r);
		ck_assert_str_eq(r.f[2], "500");
		zap_ask(z, req, f, l2, 8, &r);
		ck_assert_str_eq(r.f[2], "500");
		ck_assert_uint_eq(curve_zap_rejected(z), 6);
	}
	{
		/* Far too many frames, and an overlong frame. */
		const char *f[20];
		size_t l[20];

		for (i = 0; i < 20; i++) {
			f[i] = "1.0";
			l[i] = 3;
		}
		f[1] = "id-7";
		l[1] = 4;
		zap_ask(z, req, f, l, 20, &r);
		ck_assert_str_eq(r.f[1], "id-7");
		ck_assert_str_eq(r.f[2], "500");

		memset(big, 'b', sizeof(big));
		{
			const char *g[] = { "1.0", "id-8", "triad", big, "",
			    "CURVE", (const char *)cli };
			const size_t gl[] = { 3, 4, 5, sizeof(big), 0, 5,
			    32 };

			zap_ask(z, req, g, gl, 7, &r);
			ck_assert_str_eq(r.f[1], "id-8");
			ck_assert_str_eq(r.f[2], "500");
		}
		ck_assert_uint_eq(curve_zap_rejected(z), 8);
	}
	zmq_close(req);
	curve_zap_destroy(&z);
	zmq_ctx_term(ctx);
	env_fini(&e);
}
END_TEST

/*
 * A CURVE server (REP) in its own context with the ZAP handler, and a
 * client (REQ) in another.  The client sends "ping"; the test's event loop
 * polls the server socket and the ZAP socket, as a daemon's loop does.
 */
struct pair {
	void *sctx, *cctx, *srv, *cli;
	curve_zap_t *zap;
};

static void pair_open(struct pair *p, const struct topo *srv_topo,
    const struct topo *cli_topo)
{
	char err[TRIAD_ERRLEN] = "", endpoint[256];
	size_t len = sizeof(endpoint);

	p->sctx = zmq_ctx_new();
	p->cctx = zmq_ctx_new();
	ck_assert_ptr_nonnull(p->sctx);
	ck_assert_ptr_nonnull(p->cctx);
	p->zap = curve_zap_new(p->sctx, srv_topo, err);
	ck_assert_msg(p->zap != NULL, "%s", err);
	p->srv = new_socket(p->sctx, ZMQ_REP);
	ck_assert_msg(curve_server_setup(p->srv, srv_topo, err) == 0, "%s",
	    err);
	ck_assert_int_eq(zmq_bind(p->srv, "tcp://127.0.0.1:*"), 0);
	ck_assert_int_eq(zmq_getsockopt(p->srv, ZMQ_LAST_ENDPOINT, endpoint,
	    &len), 0);
	p->cli = new_socket(p->cctx, ZMQ_REQ);
	ck_assert_msg(curve_client_setup(p->cli, cli_topo, err) == 0, "%s",
	    err);
	ck_assert_int_eq(zmq_connect(p->cli, endpoint), 0);
	ck_assert_int_eq(zmq_send(p->cli, "ping", 4, ZMQ_DONTWAIT), 4);
}

static void pair_close(struct pair *p)
{
	zmq_close(p->srv);
	zmq_close(p->cli);
	curve_zap_destroy(&p->zap);
	zmq_ctx_term(p->sctx);
	zmq_ctx_term(p->cctx);
}

START_TEST(test_allowed_client)
{
	struct env e;
	struct pair p;
	int64_t deadline;
	int served = 0, answered = 0;

	env_init(&e);
	pair_open(&p, e.t, e.t);
	deadline = now_ms() + DEADLINE_MS;
	while (!answered) {
		zmq_pollitem_t it[3] = {
			{ .socket = p.srv, .events = ZMQ_POLLIN },
			{ .socket = curve_zap_socket(p.zap),
			    .events = ZMQ_POLLIN },
			{ .socket = p.cli, .events = ZMQ_POLLIN },
		};
		int64_t left = deadline - now_ms();
		char buf[16];

		ck_assert_msg(left > 0, "no reply before the deadline");
		ck_assert_int_ge(zmq_poll(it, 3, (long)left), 0);
		if (it[1].revents & ZMQ_POLLIN)
			ck_assert_int_eq(curve_zap_handle(p.zap), 0);
		if (it[0].revents & ZMQ_POLLIN) {
			zmq_msg_t msg;
			const char *user;

			zmq_msg_init(&msg);
			ck_assert_int_eq(zmq_msg_recv(&msg, p.srv, 0), 4);
			ck_assert_int_eq(memcmp(zmq_msg_data(&msg), "ping", 4),
			    0);
			/* The ZAP reply's user id is the client's key. */
			user = zmq_msg_gets(&msg, "User-Id");
			ck_assert_ptr_nonnull(user);
			ck_assert_str_eq(user, e.cli_pub);
			zmq_msg_close(&msg);
			ck_assert_int_eq(zmq_send(p.srv, "pong", 4, 0), 4);
			served++;
		}
		if (it[2].revents & ZMQ_POLLIN) {
			ck_assert_int_eq(zmq_recv(p.cli, buf, sizeof(buf), 0),
			    4);
			ck_assert_int_eq(memcmp(buf, "pong", 4), 0);
			answered = 1;
		}
	}
	ck_assert_int_eq(served, 1);
	ck_assert_uint_eq(curve_zap_rejected(p.zap), 0);
	pair_close(&p);
	env_fini(&e);
}
END_TEST

START_TEST(test_refused_client)
{
	struct env e;
	struct topo *other;
	struct pair p;
	int64_t deadline, quiet_until = 0;

	env_init(&e);
	/* A client with a good key pair that is not in the allow file. */
	other = malloc(sizeof(*other));
	ck_assert_ptr_nonnull(other);
	memcpy(other, e.t, sizeof(*other));
	memcpy(other->security.client_public, e.other_pub, 41);
	path_in(&e, "other.key", other->security.client_secret_file);
	pair_open(&p, e.t, other);

	/*
	 * Serve until the handler has refused the client, then a while
	 * longer to see that nothing reaches the server after a refusal
	 * (the client keeps reconnecting and is refused again).
	 */
	deadline = now_ms() + DEADLINE_MS;
	for (;;) {
		zmq_pollitem_t it[2] = {
			{ .socket = p.srv, .events = ZMQ_POLLIN },
			{ .socket = curve_zap_socket(p.zap),
			    .events = ZMQ_POLLIN },
		};
		int64_t now = now_ms(), until;

		if (quiet_until == 0 && curve_zap_rejected(p.zap) > 0)
			quiet_until = now + 300;
		if (quiet_until != 0 && now >= quiet_until)
			break;
		ck_assert_msg(now < deadline, "the client was never refused");
		until = quiet_until != 0 ? quiet_until : deadline;
		ck_assert_int_ge(zmq_poll(it, 2, (long)(until - now)), 0);
		ck_assert_msg(!(it[0].revents & ZMQ_POLLIN),
		    "a refused client reached the server");
		if (it[1].revents & ZMQ_POLLIN)
			ck_assert_int_eq(curve_zap_handle(p.zap), 0);
	}
	ck_assert_uint_ge(curve_zap_rejected(p.zap), 1);
	{
		/* And the client never got an answer. */
		zmq_pollitem_t it = { .socket = p.cli, .events = ZMQ_POLLIN };

		ck_assert_int_eq(zmq_poll(&it, 1, 0), 0);
	}
	pair_close(&p);
	free(other);
	env_fini(&e);
}
END_TEST

static Suite *curve_suite(void)
{
	Suite *s = suite_create("curve");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_keygen);
	tcase_add_test(tc, test_read_key);
	tcase_add_test(tc, test_curve_off);
	tcase_add_test(tc, test_setup_options);
	tcase_add_test(tc, test_setup_errors);
	tcase_add_test(tc, test_allow_file_errors);
	tcase_add_test(tc, test_zap_protocol);
	tcase_add_test(tc, test_allowed_client);
	tcase_add_test(tc, test_refused_client);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(curve_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
