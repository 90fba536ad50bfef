/* vsock.c: vsock stream throughput through cellvm-vsock (host socket <-> test guest driver) against a Unix socketpair. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../tests/vsock/vsock_drv.h"

#define CHUNK (64u << 10)

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Host -> guest: the host end writes, the guest driver takes rx packets and returns credit. */
static int host_to_guest(struct vd *d, struct vd_stream *s, uint64_t bytes, double *secs)
{
	static uint8_t buf[CHUNK];
	uint64_t out = 0, in = 0;
	double t0 = now_s();

	while (in < bytes) {
		while (out < bytes) {
			size_t n = bytes - out < CHUNK ? bytes - out : CHUNK;
			ssize_t w = send(s->hfd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w <= 0)
				break;
			out += (uint64_t)w;
		}
		int rc = vd_recv(d, out < bytes ? 0 : 1000);

		if (rc && out == bytes)
			return -1; /* a second with nothing while everything was written */
		if (rc || d->last.op != OP_RW)
			continue;
		in += d->last.len;
		s->fwd_cnt += d->last.len;
		if (s->fwd_cnt - s->told >= VD_BUF_ALLOC / 2) {
			struct vd_hdr c = vd_hdr(d, s, OP_CREDIT_UPDATE, 0);

			vd_send(d, &c, NULL, 0, 1);
		}
	}
	*secs = now_s() - t0;
	return 0;
}

/* Guest -> host: the guest driver sends 64 KiB packets within credit, the host end reads. */
static int guest_to_host(struct vd *d, struct vd_stream *s, uint64_t bytes, double *secs)
{
	static uint8_t buf[CHUNK], sink[CHUNK];
	uint64_t out = 0, in = 0;
	double t0 = now_s();

	while (in < bytes) {
		uint32_t credit = s->peer_alloc - (s->tx_cnt - s->peer_fwd), n = CHUNK;
		ssize_t r;

		if (out < bytes && credit && s->tx_cnt - s->peer_fwd <= s->peer_alloc) {
			struct vd_hdr h;

			if (n > credit)
				n = credit;
			if (n > bytes - out)
				n = (uint32_t)(bytes - out);
			h = vd_hdr(d, s, OP_RW, n);
			if (vd_send(d, &h, buf, n, 1))
				return -1;
			out += n;
			s->tx_cnt += n;
		}
		while ((r = recv(s->hfd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
			in += (uint64_t)r;
		while (vd_recv(d, 0) == 0) { /* credit updates */
			s->peer_alloc = d->last.buf_alloc;
			s->peer_fwd = d->last.fwd_cnt;
		}
		if (out == bytes && in < bytes)
			poll(&(struct pollfd){ .fd = s->hfd, .events = POLLIN }, 1, 100);
	}
	*secs = now_s() - t0;
	return 0;
}

/* The floor: the same bytes through a socketpair, one process writing and reading. */
static double socketpair_secs(uint64_t bytes)
{
	static uint8_t buf[CHUNK];
	uint64_t out = 0, in = 0;
	int sp[2];
	double t0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		return -1;
	t0 = now_s();
	while (in < bytes) {
		ssize_t n;

		if (out < bytes && (n = send(sp[0], buf, bytes - out < CHUNK ? bytes - out : CHUNK,
					     MSG_DONTWAIT)) > 0)
			out += (uint64_t)n;
		while ((n = recv(sp[1], buf, CHUNK, MSG_DONTWAIT)) > 0)
			in += (uint64_t)n;
	}
	t0 = now_s() - t0;
	close(sp[0]);
	close(sp[1]);
	return t0;
}

int main(int argc, char **argv)
{
	static struct vd d;
	const char *sock = NULL, *uds = NULL;
	uint64_t mib = 256, bytes;
	double h2g, g2h, sp;
	struct vd_stream *s;
	int opt;

	while ((opt = getopt(argc, argv, "s:u:n:")) != -1) {
		if (opt == 's')
			sock = optarg;
		else if (opt == 'u')
			uds = optarg;
		else if (opt == 'n')
			mib = strtoull(optarg, NULL, 10);
		else
			return 2;
	}
	if (!sock || !uds || !mib || mib > 65536)
		return fputs("usage: vsock_harness -s VHOST_SOCKET -u UDS_PATH [-n MiB]\n", stderr), 2;
	bytes = mib << 20;
	if (vd_start(&d, sock, uds))
		return fputs("frontend start-up failed\n", stderr), 1;
	s = vd_host_connect(&d, 5000, true);
	if (!s || vd_host_ok(s) || host_to_guest(&d, s, bytes, &h2g) || guest_to_host(&d, s, bytes, &g2h))
		return fputs("transfer failed\n", stderr), 1;
	sp = socketpair_secs(bytes);
	printf("{\"mib\": %llu, \"host_to_guest_mib_s\": %.0f, \"guest_to_host_mib_s\": %.0f, "
	       "\"socketpair_mib_s\": %.0f}\n", (unsigned long long)mib, mib / h2g, mib / g2h, mib / sp);
	return 0;
}
