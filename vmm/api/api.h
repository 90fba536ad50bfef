/* api.h: the Cloud Hypervisor-compatible REST API: HTTP/1.1 on a Unix socket, served by its own thread. */
#ifndef CELLVM_API_H
#define CELLVM_API_H

#include <http_parser.h>
#include <stddef.h>

#include "vmm.h"

#define API_MAX_BODY     (64 * 1024)  /* larger bodies get 413 */
#define API_MAX_HEADER   (16 * 1024)  /* larger request heads get 431 */
#define API_MAX_FDS      16           /* SCM_RIGHTS fds kept per request */
#define API_MAX_CONNS    32
#define API_STALL_SECS   10           /* a half-sent request is dropped after this */
#define API_IDLE_SECS    300          /* an idle keep-alive connection after this */

struct api_request {
	enum http_method method;
	char path[256];
	const char *body;      /* NUL-terminated, may be empty */
	size_t body_len;
	int fds[API_MAX_FDS];  /* received with SCM_RIGHTS; a handler that keeps one sets it -1 */
	int nr_fds;
};

struct api_response {
	int status;
	char *body;            /* malloc'd JSON, or NULL for no body */
};

struct api_server;

/* spec is a socket path or "fd=N" (an already bound and listening socket). Returns NULL
 * with a one-line reason in err. */
struct api_server *api_server_open(struct vmm *vmm, const char *spec, char *err, size_t errlen);
/* Starts the API thread (after the VMM's jail: the thread narrows its own filter). */
int api_server_run(struct api_server *srv, struct vmm *vmm, char *err, size_t errlen);
/* The fds the jail must keep (listening socket, epoll, stop eventfd): returns the count. */
int api_server_fds(const struct api_server *srv, int *fds);
/* The socket path we created, or NULL; leave_path: do not unlink it at stop. */
const char *api_server_path(const struct api_server *srv);
void api_server_leave_path(struct api_server *srv);
/* Stops the thread (after it sent any response in progress) and closes everything. */
void api_server_stop(struct api_server *srv);

/* routes.c: answers one request (runs in the API thread; VM work goes through vmm_call). */
void api_dispatch(struct vmm *vmm, struct api_request *req, struct api_response *resp);
void api_error(struct api_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
