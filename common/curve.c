/*
 * curve.c - CURVE set-up of sockets and the ZAP allow-list handler
 * (see curve.h).
 *
 * Key files hold one 40-character Z85 key on their first line that is not
 * blank and not a comment.  A line starting with '#' is always a comment:
 * no Z85 key can start with '#' (or '$'), because a first character worth
 * 83 or more makes the first 4-byte group exceed 2^32 - 1.
 *
 * ZAP (ZeroMQ RFC 27): when a ZAP handler is bound to
 * inproc://zeromq.zap.01 in a context, every CURVE handshake on a server
 * socket of that context asks it, over a REQ/REP exchange, whether the
 * client may connect.  The request is
 *
 *   "1.0" | request id | domain | address | routing id | mechanism |
 *   credentials...
 *
 * where a CURVE request has one credential frame: the client's 32-byte
 * long-term public key.  The reply is
 *
 *   "1.0" | request id | status code | status text | user id | metadata
 *
 * with status 200 (allowed), 400 (refused) or 500 (malformed request).
 * The user id of an allowed client is its Z85 public key, which the
 * server reads from a message with zmq_msg_gets(msg, "User-Id").  The
 * domain is not checked: every triad server socket uses "triad", and the
 * allow list is the same for all of them.
 *
 * Without a handler bound, libzmq lets every CURVE client in, so a server
 * process must call curve_zap_new() before it binds its sockets.
 */
#include "curve.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#define KEY_LEN 32        /* a binary CURVE key */
#define Z85_KEY_LEN 40    /* the same in Z85 */
#define KEY_LINE_MAX 256  /* longest line we read from a key file */
#define ALLOW_MAX_KEYS 65536

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "triad"
#define ZAP_MAX_FRAMES 8  /* a CURVE request has 7 */
#define ZAP_FRAME_MAX 255 /* longer than any field libzmq sends */

static const char z85_alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ".-:+=^!/*?&<>()[]{}@%$#";

struct curve_zap {
	void *sock;               /* REP on ZAP_ENDPOINT; NULL if curve off */
	uint8_t (*keys)[KEY_LEN]; /* allowed client keys, sorted */
	size_t nkeys;
	unsigned long rejected;
};

/* Decode a 40-character Z85 key (not NUL-terminated) into out.  0 / -1. */
static int key_decode(const char *s, size_t len, uint8_t out[KEY_LEN])
{
	char z[Z85_KEY_LEN + 1];
	size_t i;

	if (len != Z85_KEY_LEN)
		return -1;
	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(z85_alphabet, s[i]) == NULL)
			return -1;
	memcpy(z, s, len);
	z[len] = '\0';
	/* libzmq also refuses groups whose value overflows 32 bits. */
	return zmq_z85_decode(out, z) == NULL ? -1 : 0;
}

static int key_valid(const char *z85)
{
	uint8_t bin[KEY_LEN];

	return key_decode(z85, strnlen(z85, Z85_KEY_LEN + 1), bin);
}

/*
 * The next line of f that is neither blank nor a comment, without
 * surrounding white space, in line[] (NUL-terminated).  1 when found, 0 at
 * the end of the file, -1 with err on a read error or an overlong line.
 */
static int next_line(FILE *f, const char *path, int *lineno,
    char line[KEY_LINE_MAX + 2], size_t *len, char *err)
{
	char *p, *end;

	while (fgets(line, KEY_LINE_MAX + 2, f) != NULL) {
		(*lineno)++;
		end = line + strlen(line);
		if (end > line && end[-1] != '\n' && !feof(f)) {
			snprintf(err, TRIAD_ERRLEN, "%s:%d: line too long",
			    path, *lineno);
			return -1;
		}
		while (end > line && strchr(" \t\r\n", end[-1]) != NULL)
			end--;
		*end = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		*len = (size_t)(end - p);
		memmove(line, p, *len + 1);
		return 1;
	}
	if (ferror(f)) {
		snprintf(err, TRIAD_ERRLEN, "could not read \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int curve_keygen(char public_key[41], char secret_key[41])
{
	assert(public_key != NULL && secret_key != NULL);
	return zmq_curve_keypair(public_key, secret_key) == 0 ? 0 : -1;
}

int curve_read_key(const char *path, char key[41], char *err)
{
	char line[KEY_LINE_MAX + 2];
	uint8_t bin[KEY_LEN];
	size_t len = 0;
	int lineno = 0, found, rc = -1;
	FILE *f;

	assert(path != NULL && key != NULL && err != NULL);
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, TRIAD_ERRLEN,
		    "could not open key file \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	/* Unbuffered: no copy of a secret key is left in freed memory. */
	setvbuf(f, NULL, _IONBF, 0);
	found = next_line(f, path, &lineno, line, &len, err);
	fclose(f);
	if (found == 0) {
		snprintf(err, TRIAD_ERRLEN, "%s: no key found", path);
	} else if (found == 1 && key_decode(line, len, bin) == -1) {
		snprintf(err, TRIAD_ERRLEN,
		    "%s:%d: not a 40-character Z85 key", path, lineno);
	} else if (found == 1) {
		memcpy(key, line, Z85_KEY_LEN + 1);
		rc = 0;
	}
	/* The file may hold a secret key: leave no copy on the stack. */
	explicit_bzero(line, sizeof(line));
	explicit_bzero(bin, sizeof(bin));
	return rc;
}

/*
 * Read a secret key and check that it belongs to the public key the
 * topology names, so a wrong file fails at start rather than as refused
 * handshakes later.
 */
static int read_secret(const char *path, const char *public_key,
    const char *setting, char secret[41], char *err)
{
	char derived[41];

	if (key_valid(public_key) == -1) {
		snprintf(err, TRIAD_ERRLEN,
		    "security.%s: not a 40-character Z85 key", setting);
		return -1;
	}
	if (curve_read_key(path, secret, err) == -1)
		return -1;
	if (zmq_curve_public(derived, secret) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not use key \"%s\": %s",
		    path, zmq_strerror(errno));
		explicit_bzero(secret, 41);
		return -1;
	}
	if (strcmp(derived, public_key) != 0) {
		snprintf(err, TRIAD_ERRLEN,
		    "secret key in \"%s\" does not match security.%s", path,
		    setting);
		explicit_bzero(secret, 41);
		return -1;
	}
	return 0;
}

static int set_opt(void *sock, int opt, const void *val, size_t len,
    const char *what, char *err)
{
	if (zmq_setsockopt(sock, opt, val, len) == 0)
		return 0;
	snprintf(err, TRIAD_ERRLEN, "could not set %s on a socket: %s", what,
	    zmq_strerror(errno));
	return -1;
}

int curve_server_setup(void *sock, const struct topo *t, char *err)
{
	const struct topo_security *s;
	char secret[41];
	int one = 1, rc = -1;

	assert(sock != NULL && t != NULL && err != NULL);
	s = &t->security;
	if (!s->curve)
		return 0;
	if (read_secret(s->server_secret_file, s->server_public,
	    "server_public", secret, err) == -1)
		return -1;
	if (set_opt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one),
	    "the CURVE server role", err) == -1 ||
	    set_opt(sock, ZMQ_CURVE_SECRETKEY, secret, sizeof(secret),
	    "the CURVE secret key", err) == -1 ||
	    set_opt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN),
	    "the ZAP domain", err) == -1)
		goto out;
	rc = 0;
out:
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

int curve_client_setup(void *sock, const struct topo *t, char *err)
{
	const struct topo_security *s;
	char secret[41];
	int rc = -1;

	assert(sock != NULL && t != NULL && err != NULL);
	s = &t->security;
	if (!s->curve)
		return 0;
	if (key_valid(s->server_public) == -1) {
		snprintf(err, TRIAD_ERRLEN,
		    "security.server_public: not a 40-character Z85 key");
		return -1;
	}
	if (read_secret(s->client_secret_file, s->client_public,
	    "client_public", secret, err) == -1)
		return -1;
	if (set_opt(sock, ZMQ_CURVE_SERVERKEY, s->server_public,
	    Z85_KEY_LEN + 1, "the CURVE server key", err) == -1 ||
	    set_opt(sock, ZMQ_CURVE_PUBLICKEY, s->client_public,
	    Z85_KEY_LEN + 1, "the CURVE public key", err) == -1 ||
	    set_opt(sock, ZMQ_CURVE_SECRETKEY, secret, sizeof(secret),
	    "the CURVE secret key", err) == -1)
		goto out;
	rc = 0;
out:
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, KEY_LEN);
}

/* Every non-comment line of the allow file must be a key.  0 / -1. */
static int load_allow(curve_zap_t *z, const char *path, char *err)
{
	char line[KEY_LINE_MAX + 2];
	uint8_t (*keys)[KEY_LEN];
	size_t cap = 0, len = 0;
	int lineno = 0, rc;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, TRIAD_ERRLEN,
		    "could not open allow file \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	while ((rc = next_line(f, path, &lineno, line, &len, err)) == 1) {
		if (z->nkeys == ALLOW_MAX_KEYS) {
			snprintf(err, TRIAD_ERRLEN,
			    "%s:%d: more than %d keys", path, lineno,
			    ALLOW_MAX_KEYS);
			rc = -1;
			break;
		}
		if (z->nkeys == cap) {
			cap = cap ? cap * 2 : 16;
			keys = realloc(z->keys, cap * sizeof(*keys));
			if (keys == NULL) {
				snprintf(err, TRIAD_ERRLEN,
				    "could not load \"%s\": %s", path,
				    strerror(errno));
				rc = -1;
				break;
			}
			z->keys = keys;
		}
		if (key_decode(line, len, z->keys[z->nkeys]) == -1) {
			snprintf(err, TRIAD_ERRLEN,
			    "%s:%d: not a 40-character Z85 key", path, lineno);
			rc = -1;
			break;
		}
		z->nkeys++;
	}
	fclose(f);
	if (rc == -1)
		return -1;
	if (z->nkeys > 1)
		qsort(z->keys, z->nkeys, KEY_LEN, key_cmp);
	return 0;
}

curve_zap_t *curve_zap_new(void *zctx, const struct topo *t, char *err)
{
	curve_zap_t *z;
	int zero = 0;

	assert(zctx != NULL && t != NULL && err != NULL);
	if ((z = calloc(1, sizeof(*z))) == NULL) {
		snprintf(err, TRIAD_ERRLEN,
		    "could not start the ZAP handler: %s", strerror(errno));
		return NULL;
	}
	if (!t->security.curve)
		return z;
	if (load_allow(z, t->security.allow_file, err) == -1)
		goto fail;
	if ((z->sock = zmq_socket(zctx, ZMQ_REP)) == NULL ||
	    zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof(zero)) == -1 ||
	    zmq_bind(z->sock, ZAP_ENDPOINT) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not bind %s: %s",
		    ZAP_ENDPOINT, zmq_strerror(errno));
		goto fail;
	}
	return z;
fail:
	curve_zap_destroy(&z);
	return NULL;
}

void *curve_zap_socket(curve_zap_t *z)
{
	assert(z != NULL);
	return z->sock;
}

struct zap_frame {
	size_t len;
	uint8_t data[ZAP_FRAME_MAX];
};

static int frame_is(const struct zap_frame *f, const char *s)
{
	return f->len == strlen(s) && memcmp(f->data, s, f->len) == 0;
}

/*
 * Read every frame of one request.  Frames past ZAP_MAX_FRAMES or longer
 * than ZAP_FRAME_MAX are read and dropped (a REP socket must take the
 * whole request before it may reply) and make the request malformed; an
 * overlong frame is kept as an empty one so later frames keep their place.
 * Returns the number of frames kept, or -1 (errno EAGAIN: none pending).
 */
static int recv_request(void *sock, struct zap_frame fr[ZAP_MAX_FRAMES],
    int *malformed)
{
	zmq_msg_t msg;
	size_t size;
	int n = 0, more;

	*malformed = 0;
	do {
		zmq_msg_init(&msg);
		/* Parts after the first arrive with it: no wait there. */
		if (zmq_msg_recv(&msg, sock, n == 0 ? ZMQ_DONTWAIT : 0) == -1) {
			zmq_msg_close(&msg);
			return -1;
		}
		more = zmq_msg_more(&msg);
		size = zmq_msg_size(&msg);
		if (n == ZAP_MAX_FRAMES || size > ZAP_FRAME_MAX)
			*malformed = 1;
		if (n < ZAP_MAX_FRAMES) {
			fr[n].len = size <= ZAP_FRAME_MAX ? size : 0;
			if (fr[n].len > 0)
				memcpy(fr[n].data, zmq_msg_data(&msg),
				    fr[n].len);
			n++;
		}
		zmq_msg_close(&msg);
	} while (more);
	return n;
}

/*
 * The status of one request: 500 when it is malformed (too few or too
 * many frames, an overlong frame, another version, a CURVE request without
 * exactly one 32-byte key), 400 for another mechanism or a key not in the
 * list, 200 for a listed key.
 */
static const char *verdict(const curve_zap_t *z,
    const struct zap_frame fr[ZAP_MAX_FRAMES], int n, int malformed,
    const char **text)
{
	*text = "malformed request";
	if (malformed || n < 6 || !frame_is(&fr[0], "1.0"))
		return "500";
	if (!frame_is(&fr[5], "CURVE")) {
		*text = "mechanism not allowed";
		return "400";
	}
	if (n != 7 || fr[6].len != KEY_LEN)
		return "500";
	if (z->nkeys == 0 || bsearch(fr[6].data, z->keys, z->nkeys, KEY_LEN,
	    key_cmp) == NULL) {
		*text = "client key not allowed";
		return "400";
	}
	*text = "OK";
	return "200";
}

int curve_zap_handle(curve_zap_t *z)
{
	struct zap_frame fr[ZAP_MAX_FRAMES];
	char user[Z85_KEY_LEN + 1] = "";
	const char *status, *text;
	const void *id = NULL;
	size_t idlen = 0;
	int n, malformed;

	assert(z != NULL && z->sock != NULL);
	if ((n = recv_request(z->sock, fr, &malformed)) == -1)
		return -1;
	/* Echo the request id whenever there is one, even in a 500. */
	if (n >= 2) {
		id = fr[1].data;
		idlen = fr[1].len;
	}
	status = verdict(z, fr, n, malformed, &text);
	if (strcmp(status, "200") == 0)
		zmq_z85_encode(user, fr[6].data, KEY_LEN);
	else
		z->rejected++;

	if (zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE) == -1 ||
	    zmq_send(z->sock, id, idlen, ZMQ_SNDMORE) == -1 ||
	    zmq_send(z->sock, status, 3, ZMQ_SNDMORE) == -1 ||
	    zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE) == -1 ||
	    zmq_send(z->sock, user, strlen(user), ZMQ_SNDMORE) == -1 ||
	    zmq_send(z->sock, NULL, 0, 0) == -1)
		return -1;
	return 0;
}

unsigned long curve_zap_rejected(const curve_zap_t *z)
{
	assert(z != NULL);
	return z->rejected;
}

void curve_zap_destroy(curve_zap_t **zp)
{
	curve_zap_t *z;

	if (zp == NULL || (z = *zp) == NULL)
		return;
	if (z->sock != NULL)
		zmq_close(z->sock);
	free(z->keys);
	free(z);
	*zp = NULL;
}
