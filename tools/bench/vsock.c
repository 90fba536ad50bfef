/* vsock.c: vsock stream throughput through cellvm-vsock (a host thread <-> a Linux-like guest driver thread) against a Unix socketpair (a writer thread <-> a reader thread). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vsock_guest.h"

#define CHUNK (64u << 10)   /* what the host application and the socketpair ends write/read */
#define PORT  5000u

/* One side of a transfer on its own thread: the host application, or the socketpair writer. */
struct peer {
	int fd;
	bool write;
	uint64_t bytes;
	double t_end;
	int rc;
	pthread_t th;
};

struct result { double secs; unsigned kicks, irqs, credit_updates; };

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Blocking writes or reads of CHUNK bytes until p->bytes have moved. */
static void *peer_run(void *arg)
{
	struct peer *p = arg;
	uint8_t *buf = calloc(1, CHUNK);
	uint64_t done = 0;

	p->rc = buf ? 0 : -ENOMEM;
	while (buf && done < p->bytes) {
		size_t n = p->bytes - done < CHUNK ? (size_t)(p->bytes - done) : CHUNK;
		ssize_t r = p->write ? send(p->fd, buf, n, MSG_NOSIGNAL) : recv(p->fd, buf, n, 0);

		if (r <= 0) {
			p->rc = r < 0 ? -errno : -EPIPE;
			break;
		}
		done += (uint64_t)r;
	}
	p->t_end = now_s();
	free(buf);
	return NULL;
}

static int peer_start(struct peer *p, int fd, bool write, uint64_t bytes)
{
	*p = (struct peer){ .fd = fd, .write = write, .bytes = bytes };
	return pthread_create(&p->th, NULL, peer_run, p) ? -EAGAIN : 0;
}

static void snap_stats(const struct gd *g, struct result *r, int sign)
{
	r->kicks += (unsigned)sign * g->kicks;
	r->irqs += (unsigned)sign * g->irqs;
	r->credit_updates += (unsigned)sign * g->credit_updates;
}

/* Host to guest: the host application writes on its thread; the guest's vCPU (this thread)
 * takes rx buffers and reads them into its application buffer. */
static int host_to_guest(struct gd *g, int hfd, uint64_t bytes, struct result *r)
{
	struct peer p;
	uint64_t base = g->rx_bytes;
	double t0 = now_s();

	snap_stats(g, r, -1);
	if (peer_start(&p, hfd, true, bytes))
		return -EAGAIN;
	while (g->rx_bytes - base < bytes && !g->bad)
		if (!gd_rx(g) && gd_wait(g, 2000))
			break;
	r->secs = now_s() - t0;
	pthread_join(p.th, NULL);
	snap_stats(g, r, 1);
	return g->rx_bytes - base == bytes && !g->bad && !p.rc ? 0 : -EIO;
}

/* Guest to host: the guest's vCPU (this thread) writes 64 KiB packets within credit; the
 * host application reads on its thread. */
static int guest_to_host(struct gd *g, int hfd, uint64_t bytes, struct result *r)
{
	struct peer p;
	uint64_t sent = 0;
	double t0 = now_s();

	snap_stats(g, r, -1);
	if (peer_start(&p, hfd, false, bytes))
		return -EAGAIN;
	while (sent < bytes && !g->bad) {
		uint64_t n = gd_tx(g, g->app, bytes - sent);

		sent += n;
		if (!gd_rx(g) && !n && gd_wait(g, 2000))
			break;
	}
	pthread_join(p.th, NULL);
	r->secs = p.t_end - t0;
	snap_stats(g, r, 1);
	return sent == bytes && !g->bad && !p.rc ? 0 : -EIO;
}

/* A third stage for reference: a thread that receives from one socket and sends to another
 * (what a user-space proxy does), as cellvm-vsock stands between the host and the guest. */
struct relay {
	int in, out;
	uint64_t bytes;
	int rc;
	pthread_t th;
};

static void *relay_run(void *arg)
{
	struct relay *r = arg;
	uint8_t *buf = malloc(CHUNK);
	uint64_t done = 0;

	r->rc = buf ? 0 : -ENOMEM;
	while (buf && done < r->bytes) {
		ssize_t n = recv(r->in, buf, CHUNK, 0), w = 0;

		while (n > 0 && w < n) {
			ssize_t k = send(r->out, buf + w, (size_t)(n - w), MSG_NOSIGNAL);

			if (k <= 0)
				n = -1;
			w += k;
		}
		if (n <= 0) {
			r->rc = -EPIPE;
			break;
		}
		done += (uint64_t)n;
	}
	free(buf);
	return NULL;
}

/* Reads bytes from fd, 64 KiB at a time; true when all came. */
static bool read_all(int fd, uint64_t bytes)
{
	static uint8_t buf[CHUNK];
	uint64_t in = 0;

	while (in < bytes) {
		ssize_t n = recv(fd, buf, bytes - in < CHUNK ? bytes - in : CHUNK, 0);

		if (n <= 0)
			return false;
		in += (uint64_t)n;
	}
	return true;
}

/* The peer: the same bytes through a socketpair, a writer thread and a reader thread; with
 * relay, through two socketpairs and a relay thread between them. Seconds, or -1. */
static double socketpair_secs(uint64_t bytes, bool relay)
{
	struct relay r = { .bytes = bytes };
	struct peer p;
	int a[2], b[2] = { -1, -1 };
	bool ok;
	double t0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) < 0)
		return -1;
	if (relay && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) < 0)
		return -1;
	r.in = a[1];
	r.out = b[0];
	t0 = now_s();
	if (peer_start(&p, a[0], true, bytes) ||
	    (relay && pthread_create(&r.th, NULL, relay_run, &r)))
		return -1;
	ok = read_all(relay ? b[1] : a[1], bytes);
	t0 = now_s() - t0;
	pthread_join(p.th, NULL);
	if (relay)
		pthread_join(r.th, NULL);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		if (b[i] >= 0)
			close(b[i]);
	}
	return ok && !p.rc && !r.rc ? t0 : -1;
}

/* The host application connects through the hybrid socket; the guest accepts. */
static int host_connect(struct gd *g, const char *uds)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[32], want[32];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), n;
	size_t got = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
	n = snprintf(line, sizeof(line), "CONNECT %u\n", PORT);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, line, (size_t)n) != n || gd_accept(g, 3000))
		return fprintf(stderr, "host: cannot connect through %s\n", uds), -1;
	n = snprintf(want, sizeof(want), "OK %u\n", g->rport);
	memset(line, 0, sizeof(line));
	while (got < (size_t)n && poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 3000) == 1 &&
	       read(fd, line + got, 1) == 1)
		got++;
	if (strcmp(line, want))
		return fprintf(stderr, "host: got \"%s\", want \"%s\"", line, want), -1;
	return fd;
}

static double rate(uint64_t mib, double secs)
{
	return secs > 0 ? (double)mib / secs : 0; /* 0: that transfer was not run (-d) */
}

/* Bracketed by socketpair timings: a result over the mean of the two around it. */
static double ratio(double v, double before, double after)
{
	return before + after > 0 ? 2 * v / (before + after) : 0;
}

/* The socketpair is timed before, between and after the two vsock transfers and the relay:
 * each is compared with the mean of the two timings around it (the machine's load drifts). */
static void print_json(uint64_t mib, const struct result *h2g, const struct result *g2h,
		       const double sp[4], double relay)
{
	double r[4], h = rate(mib, h2g->secs), g = rate(mib, g2h->secs), x = rate(mib, relay);

	for (int i = 0; i < 4; i++)
		r[i] = rate(mib, sp[i]);
	printf("{\"mib\": %llu, \"host_to_guest_mib_s\": %.0f, \"guest_to_host_mib_s\": %.0f, "
	       "\"relay_mib_s\": %.0f, \"socketpair_mib_s\": %.0f, "
	       "\"socketpair_runs_mib_s\": [%.0f, %.0f, %.0f, %.0f], "
	       "\"host_to_guest_ratio\": %.3f, \"guest_to_host_ratio\": %.3f, \"relay_ratio\": %.3f, "
	       "\"h2g_kicks\": %u, \"h2g_irqs\": %u, \"h2g_credit_updates\": %u, "
	       "\"g2h_kicks\": %u, \"g2h_irqs\": %u}\n",
	       (unsigned long long)mib, h, g, x, (r[0] + r[1] + r[2] + r[3]) / 4, r[0], r[1], r[2],
	       r[3], ratio(h, r[0], r[1]), ratio(g, r[1], r[2]), ratio(x, r[2], r[3]),
	       h2g->kicks, h2g->irqs, h2g->credit_updates, g2h->kicks, g2h->irqs);
}

struct opts {
	const char *sock, *uds;
	uint64_t mib;
	int dirs;                  /* 1 host to guest, 2 guest to host, 4 socketpairs (profiling) */
	uint32_t buf_alloc;        /* the guest application's vsock buffer (0: Linux's 256 KiB) */
};

static int parse(int argc, char **argv, struct opts *o)
{
	int opt;

	*o = (struct opts){ .mib = 256, .dirs = 7 };
	while ((opt = getopt(argc, argv, "s:u:n:d:b:")) != -1) {
		if (opt == 's')
			o->sock = optarg;
		else if (opt == 'u')
			o->uds = optarg;
		else if (opt == 'n')
			o->mib = strtoull(optarg, NULL, 10);
		else if (opt == 'd')
			o->dirs = atoi(optarg);
		else if (opt == 'b') /* KiB, what SO_VM_SOCKETS_BUFFER_SIZE would set */
			o->buf_alloc = (uint32_t)strtoul(optarg, NULL, 10) << 10;
		else
			return -1;
	}
	if (!o->sock || !o->uds || !o->mib || o->mib > 65536 || o->dirs < 1 || o->dirs > 7 ||
	    (o->buf_alloc && (o->buf_alloc < GD_PKT_MAX || o->buf_alloc > (16u << 20))))
		return -1;
	return 0;
}

/* 16 MiB of each part, untimed: the first socketpair of a process ran up to 40% slower
 * (fresh slabs and pages), and the first vsock MiBs fault in the guest memory's pages. */
static int warm_up(struct gd *g, int hfd, const struct opts *o)
{
	struct result r = { 0 };
	uint64_t n = 16u << 20;

	if ((o->dirs & 4) && socketpair_secs(n, false) <= 0)
		return -1;
	if ((o->dirs & 1) && host_to_guest(g, hfd, n, &r))
		return -1;
	return (o->dirs & 2) ? guest_to_host(g, hfd, n, &r) : 0;
}

int main(int argc, char **argv)
{
	static struct gd g;
	struct result h2g = { 0 }, g2h = { 0 };
	double sp[4] = { 0 }, relay = 0;
	struct opts o;
	uint64_t bytes;
	int hfd;

	if (parse(argc, argv, &o))
		return fputs("usage: vsock_harness -s VHOST_SOCKET -u UDS_PATH [-n MiB] [-d 1-7] "
			     "[-b KiB]\n", stderr), 2;
	bytes = o.mib << 20;
	g.buf_alloc = o.buf_alloc;
	g.app = calloc(1, GD_PKT_MAX);
	if (!g.app || gd_start(&g, o.sock))
		return fputs("frontend start-up failed\n", stderr), 1;
	if ((hfd = host_connect(&g, o.uds)) < 0)
		return 1;
	if (warm_up(&g, hfd, &o))
		return fputs("warm-up transfer failed\n", stderr), 1;
	for (int i = 0; i < 4; i++) { /* socketpair, h2g, socketpair, g2h, socketpair, relay, ... */
		if ((o.dirs & 4) && (sp[i] = socketpair_secs(bytes, false)) <= 0)
			return fputs("socketpair transfer failed\n", stderr), 1;
		if ((i == 0 && (o.dirs & 1) && host_to_guest(&g, hfd, bytes, &h2g)) ||
		    (i == 1 && (o.dirs & 2) && guest_to_host(&g, hfd, bytes, &g2h)) ||
		    (i == 2 && (o.dirs & 4) && (relay = socketpair_secs(bytes, true)) <= 0))
			return fputs("transfer failed\n", stderr), 1;
	}
	print_json(o.mib, &h2g, &g2h, sp, relay);
	return 0;
}
