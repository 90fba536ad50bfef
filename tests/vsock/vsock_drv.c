/* vsock_drv.c: a test virtio-vsock guest driver (rx/tx rings, streams, credit) and the host ends. */
#define _GNU_SOURCE
#include "vsock_drv.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HDR sizeof(struct vd_hdr)
#define TX_MAX (HDR + (64u << 10))

/* Buffer i as an indirect table of d->rxsplit device-writable pieces. */
static void rx_table(struct vd *d, uint16_t i, uint64_t addr, uint32_t len)
{
	uint64_t t = d->rx_ind + (uint64_t)i * d->rxsplit * sizeof(struct vf_desc);
	struct vf_desc *e = vf_ptr(&d->f, t);
	uint32_t per = len / d->rxsplit;

	for (uint32_t k = 0; k < d->rxsplit; k++)
		e[k] = (struct vf_desc){ addr + (uint64_t)per * k,
					 k + 1 == d->rxsplit ? len - per * k : per,
					 (uint16_t)(VF_DESC_WRITE | (k + 1 < d->rxsplit ? VF_DESC_NEXT : 0)),
					 (uint16_t)(k + 1 < d->rxsplit ? k + 1 : 0) };
	d->f.q[0].desc[i] = (struct vf_desc){ t, d->rxsplit * (uint32_t)sizeof(struct vf_desc),
					      VF_DESC_INDIRECT, 0 };
}

static void post_rx(struct vd *d, uint16_t i)
{
	struct vf_queue *q = &d->f.q[0];
	uint64_t addr = d->rx_area + (uint64_t)i * VD_RXBUF;
	uint32_t len = d->rxlen ? d->rxlen : VD_RXBUF;

	if (d->rxsplit)
		rx_table(d, i, addr, len);
	else
		q->desc[i] = (struct vf_desc){ addr, len, VF_DESC_WRITE, 0 };
	vf_post_head(&d->f, 0, i);
}

int vd_start(struct vd *d, const char *sock, const char *uds)
{
	int rc = vf_connect(&d->f, sock);

	if (!rc)
		rc = vf_start(&d->f, 3, VD_QSIZE);
	if (rc)
		return rc;
	memcpy(&d->cid, d->f.cfg, 8);
	d->uds = uds;
	d->rx_area = vf_alloc(&d->f, (uint64_t)VD_QSIZE * VD_RXBUF);
	d->tx_area = vf_alloc(&d->f, 4 * TX_MAX);
	if (d->rxsplit)
		d->rx_ind = vf_alloc(&d->f, (uint64_t)VD_QSIZE * d->rxsplit * sizeof(struct vf_desc));
	for (uint16_t i = 0; i < VD_QSIZE; i++)
		post_rx(d, i);
	vf_kick(&d->f, 0);
	return 0;
}

int vd_send(struct vd *d, const struct vd_hdr *h, const void *data, uint32_t len, unsigned ndesc)
{
	struct vf_queue *q = &d->f.q[1];
	uint8_t *buf = vf_ptr(&d->f, d->tx_area);
	uint32_t total = (uint32_t)HDR + len, id, ulen, per;

	if (total > TX_MAX || !ndesc || ndesc > 8)
		return -EINVAL;
	memcpy(buf, h, HDR);
	if (len)
		memcpy(buf + HDR, data, len);
	per = total / ndesc;
	for (unsigned i = 0; i < ndesc; i++) {
		uint32_t l = i + 1 == ndesc ? total - per * i : per;

		q->desc[i] = (struct vf_desc){ d->tx_area + (uint64_t)per * i, l,
					       (uint16_t)(i + 1 < ndesc ? VF_DESC_NEXT : 0),
					       (uint16_t)(i + 1) };
	}
	vf_post_head(&d->f, 1, 0);
	vf_kick(&d->f, 1);
	return vf_wait_used(&d->f, 1, 3000, &id, &ulen);
}

struct vd_hdr vd_hdr(struct vd *d, struct vd_stream *s, uint16_t op, uint32_t len)
{
	s->told = s->fwd_cnt;
	return (struct vd_hdr){ .src_cid = d->cid, .dst_cid = 2, .src_port = s->lport,
				.dst_port = s->rport, .len = len, .type = 1, .op = op,
				.buf_alloc = VD_BUF_ALLOC, .fwd_cnt = s->fwd_cnt };
}

int vd_recv(struct vd *d, int timeout_ms)
{
	uint32_t id, len;
	int rc = vf_wait_used(&d->f, 0, timeout_ms, &id, &len);

	if (rc)
		return rc;
	if (id >= VD_QSIZE || len < HDR || len > VD_RXBUF) {
		fprintf(stderr, "rx: bad used element id %u len %u\n", id, len);
		memset(&d->last, 0, sizeof(d->last));
	} else {
		uint8_t *b = vf_ptr(&d->f, d->rx_area + (uint64_t)id * VD_RXBUF);

		memcpy(&d->last, b, HDR);
		memcpy(d->payload, b + HDR, len - HDR);
		if (d->last.len != len - HDR) {
			fprintf(stderr, "rx: header len %u, used len %u\n", d->last.len, len);
			d->last.len = 0;
		}
	}
	if (id < VD_QSIZE) {
		post_rx(d, (uint16_t)id);
		vf_kick(&d->f, 0);
	}
	return 0;
}

uint8_t vd_pattern(uint64_t off, uint32_t stream, int dir)
{
	return (uint8_t)(off * 7 + (off >> 9) + stream * 13 + (unsigned)dir * 101);
}

static struct vd_stream *find(struct vd *d, uint32_t lport, uint32_t rport)
{
	for (unsigned i = 0; i < d->ns; i++)
		if (d->s[i].lport == lport && d->s[i].rport == rport)
			return &d->s[i];
	return NULL;
}

static void deliver_rw(struct vd *d, struct vd_stream *s, unsigned idx)
{
	const struct vd_hdr *h = &d->last;

	if (s->rx_cnt + h->len - s->told > VD_BUF_ALLOC) { /* the device overran our credit */
		fprintf(stderr, "stream %u: credit violated (rx %u told %u len %u)\n", idx,
			s->rx_cnt, s->told, h->len);
		s->bad = true;
	}
	for (uint32_t i = 0; i < h->len; i++)
		if (d->payload[i] != vd_pattern(s->g_in + i, idx, 0)) {
			if (!s->bad)
				fprintf(stderr, "stream %u: byte %llu differs\n", idx,
					(unsigned long long)(s->g_in + i));
			s->bad = true;
			break;
		}
	s->g_in += h->len;
	s->rx_cnt += h->len;
	s->fwd_cnt += h->len; /* consumed at once */
	if (s->fwd_cnt - s->told >= VD_BUF_ALLOC / 2) {
		struct vd_hdr c = vd_hdr(d, s, OP_CREDIT_UPDATE, 0);

		vd_send(d, &c, NULL, 0, 1);
	}
}

void vd_deliver(struct vd *d)
{
	const struct vd_hdr *h = &d->last;
	struct vd_stream *s = find(d, h->dst_port, h->src_port);

	if (!s) {
		d->unmatched++;
		return;
	}
	s->ops |= 1u << h->op;
	s->peer_alloc = h->buf_alloc;
	s->peer_fwd = h->fwd_cnt;
	if (h->src_cid != 2 || h->dst_cid != d->cid || h->type != 1)
		s->bad = true, fprintf(stderr, "rx: bad addresses or type\n");
	if (h->op == OP_SHUTDOWN)
		s->shut_flags |= h->flags;
	if (h->op == OP_RW)
		deliver_rw(d, s, (unsigned)(s - d->s));
	if (h->op == OP_CREDIT_REQUEST) {
		struct vd_hdr c = vd_hdr(d, s, OP_CREDIT_UPDATE, 0);

		vd_send(d, &c, NULL, 0, 1);
	}
}

void vd_drain(struct vd *d, int timeout_ms)
{
	while (vd_recv(d, timeout_ms) == 0)
		vd_deliver(d);
}

int vd_dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct vd_stream *new_stream(struct vd *d, uint32_t lport, uint32_t rport, int hfd)
{
	struct vd_stream *s;

	if (d->ns == VD_MAX_STREAMS)
		return NULL;
	s = &d->s[d->ns++];
	*s = (struct vd_stream){ .lport = lport, .rport = rport, .hfd = hfd };
	return s;
}

struct vd_stream *vd_host_connect(struct vd *d, uint32_t port, bool accept)
{
	char line[32];
	int fd = vd_dial(d->uds), n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	struct vd_stream *s;
	struct vd_hdr r;

	if (fd < 0 || write(fd, line, (size_t)n) != n)
		return fprintf(stderr, "host: cannot connect to %s: %m\n", d->uds), NULL;
	if (vd_recv(d, 3000))
		return fprintf(stderr, "guest: no REQUEST for port %u\n", port), close(fd), NULL;
	if (d->last.op != OP_REQUEST || d->last.dst_port != port || d->last.src_cid != 2)
		return fprintf(stderr, "guest: op %u to port %u, want REQUEST to %u\n",
			       d->last.op, d->last.dst_port, port), close(fd), NULL;
	s = new_stream(d, port, d->last.src_port, fd);
	if (!s)
		return close(fd), NULL;
	s->peer_alloc = d->last.buf_alloc;
	s->peer_fwd = d->last.fwd_cnt;
	r = vd_hdr(d, s, accept ? OP_RESPONSE : OP_RST, 0);
	vd_send(d, &r, NULL, 0, 1);
	return s;
}

int vd_host_ok(struct vd_stream *s)
{
	char line[32] = { 0 }, want[32];
	struct pollfd p = { .fd = s->hfd, .events = POLLIN };
	size_t n = 0;

	snprintf(want, sizeof(want), "OK %u\n", s->rport);
	while (n < strlen(want) && poll(&p, 1, 3000) == 1) {
		if (read(s->hfd, line + n, 1) != 1)
			break;
		n++;
	}
	if (strcmp(line, want))
		return fprintf(stderr, "host: got \"%s\", want \"%s\"\n", line, want), -1;
	return 0;
}

int vd_listen(const char *uds, uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", uds, port);
	unlink(sa.sun_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 256) < 0)
		return -1;
	/* The backend's jail runs as another uid (65534 when started as root). */
	chmod(sa.sun_path, 0777);
	return fd;
}

struct vd_stream *vd_guest_connect(struct vd *d, uint32_t lport, uint32_t port, int listen_fd)
{
	struct vd_stream *s = new_stream(d, lport, port, -1);
	struct vd_hdr h;

	if (!s)
		return NULL;
	h = vd_hdr(d, s, OP_REQUEST, 0);
	if (vd_send(d, &h, NULL, 0, 1) || vd_recv(d, 3000))
		return fprintf(stderr, "guest: no answer to REQUEST\n"), NULL;
	vd_deliver(d);
	if (listen_fd >= 0 && (s->ops & (1u << OP_RESPONSE))) {
		struct pollfd p = { .fd = listen_fd, .events = POLLIN };

		if (poll(&p, 1, 3000) == 1)
			s->hfd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	}
	return s;
}

/* ---- the transfer engine ---- */

static void host_side(struct vd_stream *s, unsigned idx, uint64_t bytes)
{
	uint8_t buf[16384];
	ssize_t n;

	while (s->h_out < bytes) {
		size_t want = bytes - s->h_out < sizeof(buf) ? bytes - s->h_out : sizeof(buf);

		for (size_t i = 0; i < want; i++)
			buf[i] = vd_pattern(s->h_out + i, idx, 0);
		n = send(s->hfd, buf, want, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;
		s->h_out += (uint64_t)n;
	}
	while ((n = recv(s->hfd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != vd_pattern(s->h_in + (uint64_t)i, idx, 1)) {
				if (!s->bad)
					fprintf(stderr, "host %u: byte %llu differs\n", idx,
						(unsigned long long)(s->h_in + (uint64_t)i));
				s->bad = true;
				break;
			}
		s->h_in += (uint64_t)n;
	}
}

static void guest_side(struct vd *d, struct vd_stream *s, unsigned idx, uint64_t bytes)
{
	static uint8_t buf[16384];

	while (s->g_out < bytes) {
		uint32_t credit = s->peer_alloc - (s->tx_cnt - s->peer_fwd), n = sizeof(buf);
		struct vd_hdr h;

		if (s->tx_cnt - s->peer_fwd > s->peer_alloc || !credit)
			return;
		if (n > credit)
			n = credit;
		if (n > bytes - s->g_out)
			n = (uint32_t)(bytes - s->g_out);
		for (uint32_t i = 0; i < n; i++)
			buf[i] = vd_pattern(s->g_out + i, idx, 1);
		h = vd_hdr(d, s, OP_RW, n);
		if (vd_send(d, &h, buf, n, 1 + (unsigned)(s->g_out % 3)))
			return;
		s->g_out += n;
		s->tx_cnt += n;
	}
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int vd_pump(struct vd *d, uint64_t bytes, int timeout_ms)
{
	long start = now_ms();

	for (;;) {
		bool done = true;

		for (unsigned i = 0; i < d->ns; i++) {
			struct vd_stream *s = &d->s[i];

			if (s->hfd < 0)
				continue;
			host_side(s, i, bytes);
			guest_side(d, s, i, bytes);
			done &= s->h_in == bytes && s->g_in == bytes;
		}
		vd_drain(d, 1);
		for (unsigned i = 0; i < d->ns; i++)
			if (d->s[i].bad)
				return -EIO;
		if (done)
			return 0;
		if (now_ms() - start > timeout_ms)
			return -ETIMEDOUT;
	}
}
