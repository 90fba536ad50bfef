/* server.c: the API thread: a Unix-socket listener, bounded connections, http-parser, SCM_RIGHTS. */
#define _GNU_SOURCE
#include "api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"

struct conn {
	struct api_server *srv;
	int fd;                     /* -1: slot free */
	http_parser parser;
	char url[256];
	size_t url_len;
	char *body;                 /* API_MAX_BODY + 1 bytes */
	size_t body_len;
	size_t head_bytes;          /* bytes fed before the headers completed */
	bool headers_done, complete, too_large, bad_url;
	int fds[API_MAX_FDS];
	int nr_fds;
	time_t last_active;
};

struct api_server {
	struct vmm *vmm;
	int listen_fd;
	char *path;                 /* unlinked at stop when we created it */
	int epfd;
	int stop_fd;
	pthread_t thread;
	bool thread_started;
	bool leave_path;            /* the broker removes the path (the jailed VMM cannot) */
	http_parser_settings settings;
	struct conn conns[API_MAX_CONNS];
};

static time_t now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void conn_drop_fds(struct conn *c)
{
	for (int i = 0; i < c->nr_fds; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	c->nr_fds = 0;
}

static void conn_reset_request(struct conn *c)
{
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->url_len = 0;
	c->body_len = 0;
	c->head_bytes = 0;
	c->headers_done = c->complete = c->too_large = c->bad_url = false;
	conn_drop_fds(c);
}

static void conn_close(struct conn *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	conn_drop_fds(c);
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;

	if (c->url_len + len >= sizeof(c->url)) {
		c->bad_url = true;
		return 0;
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	c->url[c->url_len] = '\0';
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct conn *c = p->data;

	c->headers_done = true;
	if (p->content_length != ULLONG_MAX && p->content_length > API_MAX_BODY)
		c->too_large = true;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct conn *c = p->data;

	if (c->too_large || c->body_len + len > API_MAX_BODY) {
		c->too_large = true;
		return 0; /* keep parsing to the end of the message, drop the bytes */
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct conn *c = p->data;

	c->complete = true;
	http_parser_pause(p, 1); /* one request at a time: pipelined ones are parsed after it */
	return 0;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

/* Sends all of buf, waiting (bounded) while the peer's socket buffer is full. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN && poll(&pfd, 1, 5000) == 1) {
			continue;
		} else if (!(n < 0 && errno == EINTR)) {
			return -1;
		}
	}
	return 0;
}

static int send_response(struct conn *c, const struct api_response *r, bool close_after)
{
	char head[256];
	size_t len = r->body ? strlen(r->body) : 0;
	int n;

	if (r->status == 204)
		n = snprintf(head, sizeof(head), "HTTP/1.1 204 No Content\r\n%s\r\n",
			     close_after ? "Connection: close\r\n" : "");
	else
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n%s\r\n", r->status, status_text(r->status), len,
			     close_after ? "Connection: close\r\n" : "");
	if (send_all(c->fd, head, (size_t)n) < 0 || (len && send_all(c->fd, r->body, len) < 0))
		return -1;
	return 0;
}

/* Answers a request-level error and closes: the stream cannot be trusted after it. */
static void reject(struct conn *c, int status, const char *why)
{
	struct api_response r = { 0 };

	api_error(&r, status, "%s", why);
	send_response(c, &r, true);
	free(r.body);
	conn_close(c);
}

static void handle_request(struct conn *c)
{
	struct api_request req = { .method = (enum http_method)c->parser.method };
	struct api_response resp = { 0 };
	bool keep = http_should_keep_alive(&c->parser);
	char *q = strchr(c->url, '?');

	if (q)
		*q = '\0';
	snprintf(req.path, sizeof(req.path), "%s", c->url);
	c->body[c->body_len] = '\0';
	req.body = c->body;
	req.body_len = c->body_len;
	memcpy(req.fds, c->fds, sizeof(c->fds));
	req.nr_fds = c->nr_fds;
	c->nr_fds = 0;
	api_dispatch(c->srv->vmm, &req, &resp);
	for (int i = 0; i < req.nr_fds; i++)
		if (req.fds[i] >= 0)
			close(req.fds[i]); /* fds no handler kept */
	if (send_response(c, &resp, !keep) < 0 || !keep)
		conn_close(c);
	free(resp.body);
}

/* Feeds received bytes to the parser, answering each complete request in turn. */
static void conn_feed(struct conn *c, const char *data, size_t len)
{
	while (len > 0 && c->fd >= 0) {
		size_t n = http_parser_execute(&c->parser, &c->srv->settings, data, len);

		if (!c->headers_done && (c->head_bytes += n) > API_MAX_HEADER)
			return reject(c, 431, "request head larger than 16 KiB");
		if (c->bad_url)
			return reject(c, 414, "request path too long");
		if (c->too_large)
			return reject(c, 413, "request body larger than 64 KiB");
		if (c->complete) {
			handle_request(c);
			if (c->fd < 0)
				return;
			conn_reset_request(c);
		} else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
			char why[96];
			snprintf(why, sizeof(why), "malformed HTTP request (%s)",
				 http_errno_name(HTTP_PARSER_ERRNO(&c->parser)));
			return reject(c, 400, why);
		}
		data += n;
		len -= n;
	}
}

/* Keeps the fds that came with these bytes for the request being read (closed with it);
 * returns false when they are more than a request may carry (every one is still kept, to be
 * closed with the connection). */
static bool take_fds(struct conn *c, struct msghdr *m)
{
	bool fit = true;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		size_t nfds;
		int *fds;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < nfds; i++) {
			if (c->nr_fds < API_MAX_FDS) {
				c->fds[c->nr_fds++] = fds[i];
			} else {
				close(fds[i]);
				fit = false;
			}
		}
	}
	return fit;
}

static void conn_readable(struct conn *c)
{
	char buf[8192];
	union {
		char space[CMSG_SPACE(sizeof(int) * API_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.space,
			    .msg_controllen = sizeof(cbuf.space) };
	ssize_t n = recvmsg(c->fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	/* The kernel closes what did not fit in cbuf (MSG_CTRUNC); what did is ours to close. */
	if (!take_fds(c, &m) || (m.msg_flags & MSG_CTRUNC))
		return reject(c, 400, "more than 16 fds sent with one request (SCM_RIGHTS)");
	c->last_active = now_secs();
	conn_feed(c, buf, (size_t)n);
}

static void accept_conn(struct api_server *srv)
{
	int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct conn *c = NULL;

	if (fd < 0)
		return;
	for (int i = 0; i < API_MAX_CONNS && !c; i++)
		if (srv->conns[i].fd < 0)
			c = &srv->conns[i];
	if (!c) {
		log_warn("api: %d connections open, refusing another", API_MAX_CONNS);
		close(fd);
		return;
	}
	c->fd = fd;
	c->last_active = now_secs();
	conn_reset_request(c);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		conn_close(c);
}

/* Drops connections that stalled mid-request or idled too long. */
static void reap_stale(struct api_server *srv)
{
	time_t now = now_secs();

	for (int i = 0; i < API_MAX_CONNS; i++) {
		struct conn *c = &srv->conns[i];
		bool partial = c->head_bytes > 0 || c->url_len > 0;

		if (c->fd < 0)
			continue;
		if (now - c->last_active > (partial ? API_STALL_SECS : API_IDLE_SECS)) {
			log_info("api: dropping a %s connection", partial ? "stalled" : "idle");
			conn_close(c);
		}
	}
}

static void *api_thread(void *arg)
{
	struct api_server *srv = arg;
	struct epoll_event evs[16];

	pthread_setname_np(pthread_self(), "api"); /* prctl: the jail has no /proc */
	if (vmm_policy_thread(VMM_THREAD_API) < 0) {
		log_error("api: cannot load the API thread's seccomp filter; not serving");
		return NULL;
	}
	for (;;) {
		int n = epoll_wait(srv->epfd, evs, 16, 1000);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;
			if (tag == &srv->stop_fd)
				return NULL;
			if (tag == srv)
				accept_conn(srv);
			else if (((struct conn *)tag)->fd >= 0)
				conn_readable(tag);
		}
		reap_stale(srv);
	}
	return NULL;
}

/* A path nobody listens on any more is a stale socket from a dead VMM: reuse it. */
static bool socket_in_use(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used = fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;

	if (fd >= 0)
		close(fd);
	return used;
}

static int listen_on_path(struct api_server *srv, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "--api-socket %s: path too long", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || socket_in_use(&addr)) {
			snprintf(err, errlen, "--api-socket %s: %s", path, S_ISSOCK(st.st_mode) ?
				 "already in use by another process" : "exists and is not a socket");
			return -1;
		}
		unlink(path);
	}
	srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->listen_fd < 0 || bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(srv->listen_fd, 16) < 0) {
		snprintf(err, errlen, "--api-socket %s: %s", path, strerror(errno));
		return -1;
	}
	srv->path = strdup(path);
	return 0;
}

static int listen_on_fd(struct api_server *srv, const char *num, char *err, size_t errlen)
{
	char *end;
	long fd = strtol(num, &end, 10);
	int accepting = 0;
	socklen_t len = sizeof(accepting);

	if (*num == '\0' || *end != '\0' || fd < 0 || fd > 65535 ||
	    getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0 || !accepting) {
		snprintf(err, errlen, "--api-socket fd=%s: not a listening socket", num);
		return -1;
	}
	srv->listen_fd = (int)fd;
	fcntl(srv->listen_fd, F_SETFL, fcntl(srv->listen_fd, F_GETFL) | O_NONBLOCK);
	fcntl(srv->listen_fd, F_SETFD, FD_CLOEXEC);
	return 0;
}

static int server_setup(struct api_server *srv, const char *spec, char *err, size_t errlen)
{
	struct epoll_event ls = { .events = EPOLLIN, .data.ptr = srv };
	struct epoll_event st = { .events = EPOLLIN, .data.ptr = &srv->stop_fd };
	int rc = strncmp(spec, "fd=", 3) ? listen_on_path(srv, spec, err, errlen)
					  : listen_on_fd(srv, spec + 3, err, errlen);

	if (rc < 0)
		return -1;
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	srv->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (srv->epfd < 0 || srv->stop_fd < 0 ||
	    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->listen_fd, &ls) < 0 ||
	    epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->stop_fd, &st) < 0) {
		snprintf(err, errlen, "api: epoll set-up: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < API_MAX_CONNS; i++) {
		srv->conns[i].body = malloc(API_MAX_BODY + 1);
		if (!srv->conns[i].body) {
			snprintf(err, errlen, "api: out of memory");
			return -1;
		}
	}
	return 0;
}

struct api_server *api_server_open(struct vmm *vmm, const char *spec, char *err, size_t errlen)
{
	struct api_server *srv = calloc(1, sizeof(*srv));

	if (!srv) {
		snprintf(err, errlen, "api: out of memory");
		return NULL;
	}
	*srv = (struct api_server){ .vmm = vmm, .listen_fd = -1, .epfd = -1, .stop_fd = -1 };
	for (int i = 0; i < API_MAX_CONNS; i++)
		srv->conns[i] = (struct conn){ .srv = srv, .fd = -1 }; /* before anything can fail */
	srv->settings = (http_parser_settings){ .on_url = on_url, .on_body = on_body,
		.on_headers_complete = on_headers_complete, .on_message_complete = on_message_complete };
	if (server_setup(srv, spec, err, errlen) == 0)
		return srv;
	api_server_stop(srv);
	return NULL;
}

int api_server_run(struct api_server *srv, struct vmm *vmm, char *err, size_t errlen)
{
	int rc;

	srv->vmm = vmm;
	rc = pthread_create(&srv->thread, NULL, api_thread, srv);
	srv->thread_started = rc == 0;
	if (rc == 0)
		return 0;
	snprintf(err, errlen, "api: pthread_create: %s", strerror(rc));
	return -1;
}

int api_server_fds(const struct api_server *srv, int *fds)
{
	fds[0] = srv->listen_fd;
	fds[1] = srv->epfd;
	fds[2] = srv->stop_fd;
	return 3;
}

const char *api_server_path(const struct api_server *srv)
{
	return srv->path;
}

void api_server_leave_path(struct api_server *srv)
{
	srv->leave_path = true;
}

void api_server_stop(struct api_server *srv)
{
	uint64_t one = 1;

	if (!srv)
		return;
	if (srv->thread_started) {
		if (write(srv->stop_fd, &one, sizeof(one)) < 0)
			log_error("api: stop eventfd: %s", strerror(errno));
		pthread_join(srv->thread, NULL);
	}
	for (int i = 0; i < API_MAX_CONNS; i++) {
		conn_close(&srv->conns[i]);
		free(srv->conns[i].body);
	}
	if (srv->path && !srv->leave_path)
		unlink(srv->path);
	free(srv->path);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->epfd >= 0)
		close(srv->epfd);
	if (srv->stop_fd >= 0)
		close(srv->stop_fd);
	free(srv);
}
