/*
 * curve.h - optional CURVE encryption and client allow-list for sockets.
 *
 * With security.curve = true in the topology, every server socket is a
 * CURVE server holding the cluster's server key pair and every client
 * socket authenticates with the client key pair.  Servers accept only
 * clients whose public key is in security.allow_file (one Z85 key a line,
 * '#' comments), checked by a ZAP handler that the daemon polls in its own
 * event loop (curve_zap_socket() / curve_zap_handle()).
 *
 * Keys are 40-character Z85 strings; secret keys are read from files so
 * that the topology file holds no secret.
 */
#ifndef TRIAD_CURVE_H
#define TRIAD_CURVE_H

#include "topo.h"
#include "triad.h"

typedef struct curve_zap curve_zap_t;

/* Make a key pair (41-byte buffers, Z85 plus NUL).  0 / -1. */
int curve_keygen(char public_key[41], char secret_key[41]);

/* Read a Z85 key from the first non-comment line of a file.  0 / -1 with err. */
int curve_read_key(const char *path, char key[41], char *err);

/* Set a server socket up per t->security (nothing when curve is off). */
int curve_server_setup(void *sock, const struct topo *t, char *err);

/* Set a client socket up per t->security (nothing when curve is off). */
int curve_client_setup(void *sock, const struct topo *t, char *err);

/*
 * The ZAP handler of a server process: binds inproc://zeromq.zap.01 on
 * zctx.  Returns NULL with err when curve is on and it fails; when curve is
 * off it returns a handle whose socket is NULL.
 */
curve_zap_t *curve_zap_new(void *zctx, const struct topo *t, char *err);
void *curve_zap_socket(curve_zap_t *z);
/*
 * Answer one pending ZAP request.  0 / -1 (errno EAGAIN when none is
 * pending).  Only CURVE clients with a listed key get 200, with their Z85
 * key as User-Id; others get 400, malformed requests 500.  Rejections
 * (400 and 500) are counted.  Create the handler before binding server
 * sockets: without one, libzmq lets every CURVE client in.
 */
int curve_zap_handle(curve_zap_t *z);
unsigned long curve_zap_rejected(const curve_zap_t *z);
void curve_zap_destroy(curve_zap_t **zp);

#endif
