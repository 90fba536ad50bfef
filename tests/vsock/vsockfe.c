/* vsockfe.c: vhost-user-vsock tests: this program is the VMM, the guest's driver and the host's clients. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsock_drv.h"

#define MiB (1ull << 20)
#define CHECK(cond, ...) \
	do { if (!(cond)) { fprintf(stderr, "FAIL: " __VA_ARGS__); fputc('\n', stderr); return 1; } } while (0)

/* 1: the fd reads EOF (or a reset) within 3 s, before any byte. */
static int host_sees_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, 3000) != 1)
		return 0;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* 1: reading the fd reaches EOF (or a reset) within 3 s, whatever bytes come first. */
static int host_drains_to_eof(int fd)
{
	static char buf[65536];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 3000) != 1)
			return 0;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n < 0 && errno != EAGAIN)
			return 0;
	}
}

static bool got(const struct vd_stream *s, int op)
{
	return s->ops & (1u << op);
}

/* The device still serves: a new host stream opens. */
static int still_works(struct vd *d)
{
	struct vd_stream *s = vd_host_connect(d, 7777, true);

	CHECK(s && vd_host_ok(s) == 0, "the device stopped serving");
	return 0;
}

static int t_host_connect(struct vd *d)
{
	struct vd_stream *s = vd_host_connect(d, 5000, true);

	CHECK(s, "no stream");
	CHECK(vd_host_ok(s) == 0, "no OK line");
	CHECK(vd_pump(d, 4 * MiB, 60000) == 0, "4 MiB each way did not arrive intact");
	return 0;
}

static int t_guest_connect(struct vd *d)
{
	int lfd = vd_listen(d->uds, 1024);
	struct vd_stream *s;

	CHECK(lfd >= 0, "listen: %m");
	s = vd_guest_connect(d, 40000, 1024, lfd);
	CHECK(s && got(s, OP_RESPONSE) && s->hfd >= 0, "no RESPONSE or no host-side accept");
	CHECK(vd_pump(d, 4 * MiB, 60000) == 0, "4 MiB each way did not arrive intact");
	return 0;
}

static int t_guest_refused(struct vd *d)
{
	struct vd_stream *s = vd_guest_connect(d, 40001, 1025, -1);

	CHECK(s && got(s, OP_RST) && !got(s, OP_RESPONSE), "no RST for a port with no listener");
	return still_works(d);
}

static int t_host_refused(struct vd *d)
{
	struct vd_stream *s = vd_host_connect(d, 6000, false);

	CHECK(s, "no REQUEST");
	CHECK(host_sees_eof(s->hfd), "the host socket was not closed");
	return still_works(d);
}

/* n host-initiated and n guest-initiated streams, all open at once. */
static int open_many(struct vd *d, unsigned n)
{
	int lfd = vd_listen(d->uds, 2000);

	CHECK(lfd >= 0, "listen: %m");
	for (unsigned i = 0; i < n; i++) {
		struct vd_stream *h = vd_host_connect(d, 3000 + i, true);
		struct vd_stream *g = vd_guest_connect(d, 50000 + i, 2000, lfd);

		CHECK(h && vd_host_ok(h) == 0, "host stream %u", i);
		CHECK(g && got(g, OP_RESPONSE) && g->hfd >= 0, "guest stream %u", i);
	}
	close(lfd);
	return 0;
}

static int t_many(struct vd *d)
{
	CHECK(open_many(d, 40) == 0, "could not open 80 streams");
	CHECK(vd_pump(d, 256 << 10, 60000) == 0, "256 KiB each way on 80 streams");
	return 0;
}

/* rx buffers of 100 payload bytes: one recvmsg spans many, most given back unfilled. */
static int t_rx_small(struct vd *d)
{
	CHECK(open_many(d, 4) == 0, "could not open 8 streams");
	CHECK(vd_pump(d, 256 << 10, 60000) == 0, "256 KiB each way through 100-byte rx buffers");
	return 0;
}

/* rx buffers of 100 pieces each: the recvmsg iovec fills up after two of them. */
static int t_rx_split(struct vd *d)
{
	CHECK(open_many(d, 4) == 0, "could not open 8 streams");
	CHECK(vd_pump(d, 256 << 10, 60000) == 0, "256 KiB each way through 100-piece rx buffers");
	return 0;
}

static int t_close_host(struct vd *d)
{
	CHECK(open_many(d, 8) == 0, "could not open 16 streams");
	CHECK(vd_pump(d, 64 << 10, 30000) == 0, "64 KiB each way");
	for (unsigned i = 0; i < d->ns; i++)
		close(d->s[i].hfd);
	vd_drain(d, 300);
	for (unsigned i = 0; i < d->ns; i++)
		CHECK(d->s[i].shut_flags & 2, "stream %u: no SHUTDOWN(SEND) after the host closed", i);
	for (unsigned i = 0; i < d->ns; i++) {
		struct vd_hdr h = vd_hdr(d, &d->s[i], OP_SHUTDOWN, 0);

		h.flags = 3;
		vd_send(d, &h, NULL, 0, 1);
	}
	vd_drain(d, 300);
	for (unsigned i = 0; i < d->ns; i++)
		CHECK(got(&d->s[i], OP_RST), "stream %u: no RST after both sides closed", i);
	return still_works(d);
}

static int t_close_guest(struct vd *d)
{
	CHECK(open_many(d, 8) == 0, "could not open 16 streams");
	CHECK(vd_pump(d, 64 << 10, 30000) == 0, "64 KiB each way");
	for (unsigned i = 0; i < d->ns; i++) {
		struct vd_hdr h = vd_hdr(d, &d->s[i], OP_SHUTDOWN, 0);

		h.flags = 3;
		vd_send(d, &h, NULL, 0, 1);
	}
	vd_drain(d, 300);
	for (unsigned i = 0; i < d->ns; i++) {
		CHECK(got(&d->s[i], OP_RST), "stream %u: no RST after the guest closed", i);
		CHECK(host_sees_eof(d->s[i].hfd), "stream %u: the host end is still open", i);
	}
	return still_works(d);
}

static int t_close_vm(struct vd *d)
{
	CHECK(open_many(d, 8) == 0, "could not open 16 streams");
	close(d->f.sock); /* the VMM goes away */
	for (unsigned i = 0; i < d->ns; i++)
		CHECK(host_sees_eof(d->s[i].hfd), "stream %u: the host end is still open", i);
	return 0;
}

/* The driver resets the device (the VMM stops the rings): every host side is closed. */
static int t_reset(struct vd *d)
{
	uint32_t st[2] = { 1, 0 };

	CHECK(open_many(d, 8) == 0, "could not open 16 streams");
	CHECK(vf_msg(&d->f, 11 /* GET_VRING_BASE */, st, 8, NULL, 0, st, 8) == 8,
	      "GET_VRING_BASE for the tx ring");
	for (unsigned i = 0; i < d->ns; i++)
		CHECK(host_sees_eof(d->s[i].hfd), "stream %u: the host end is still open", i);
	return 0;
}

static int t_half_close(struct vd *d)
{
	struct vd_stream *s = vd_host_connect(d, 5001, true);
	struct vd_hdr h;
	char buf[8];

	CHECK(s && vd_host_ok(s) == 0, "no stream");
	shutdown(s->hfd, SHUT_WR);
	vd_drain(d, 300);
	CHECK(s->shut_flags == 2 && !got(s, OP_RST), "want SHUTDOWN(SEND) only, got flags %u",
	      s->shut_flags);
	h = vd_hdr(d, s, OP_RW, 5);
	vd_send(d, &h, "hello", 5, 1);
	CHECK(recv(s->hfd, buf, 5, MSG_WAITALL) == 5 && !memcmp(buf, "hello", 5),
	      "guest bytes after the host's half-close were lost");
	h = vd_hdr(d, s, OP_SHUTDOWN, 0);
	h.flags = 2;
	vd_send(d, &h, NULL, 0, 1);
	CHECK(host_sees_eof(s->hfd), "no EOF after the guest's SHUTDOWN(SEND)");
	vd_drain(d, 300);
	CHECK(got(s, OP_RST), "no RST once both directions were shut");
	return 0;
}

/* ---- malicious guests ---- */

static int t_m_len(struct vd *d)
{
	struct vd_stream *s = vd_host_connect(d, 5002, true);
	struct vd_hdr h;

	CHECK(s && vd_host_ok(s) == 0, "no stream");
	h = vd_hdr(d, s, OP_RW, 100000); /* far more than the 10 bytes that follow */
	vd_send(d, &h, "0123456789", 10, 1);
	vd_drain(d, 300);
	CHECK(got(s, OP_RST) && host_sees_eof(s->hfd), "a bogus length did not reset the stream");
	return still_works(d);
}

static int t_m_type(struct vd *d)
{
	struct vd_stream s = { .lport = 41000, .rport = 7 };
	struct vd_hdr h = vd_hdr(d, &s, OP_REQUEST, 0);

	h.type = 2; /* SEQPACKET: not offered */
	vd_send(d, &h, NULL, 0, 1);
	CHECK(vd_recv(d, 1000) == 0 && d->last.op == OP_RST && d->last.dst_port == 41000,
	      "no RST for a seqpacket REQUEST");
	return still_works(d);
}

static int t_m_addr(struct vd *d)
{
	struct vd_stream s = { .lport = 41001, .rport = 7 };
	struct vd_hdr h = vd_hdr(d, &s, OP_REQUEST, 0);

	h.src_cid = d->cid + 1; /* another VM's CID */
	vd_send(d, &h, NULL, 0, 1);
	CHECK(vd_recv(d, 500) == -ETIMEDOUT, "a packet with a spoofed source CID was answered");
	h = vd_hdr(d, &s, OP_REQUEST, 0);
	h.dst_cid = 7; /* not the host */
	vd_send(d, &h, NULL, 0, 1);
	CHECK(vd_recv(d, 1000) == 0 && d->last.op == OP_RST, "no RST for another destination CID");
	return still_works(d);
}

static int t_m_credit(struct vd *d)
{
	int lfd = vd_listen(d->uds, 1030);
	struct vd_stream *s = vd_guest_connect(d, 40002, 1030, lfd);
	static uint8_t buf[65536];

	CHECK(s && s->hfd >= 0, "no stream");
	/* The host end never reads; the guest ignores the credit it was given. */
	for (unsigned i = 0; i < 64 && !got(s, OP_RST); i++) {
		struct vd_hdr h = vd_hdr(d, s, OP_RW, sizeof(buf));

		vd_send(d, &h, buf, sizeof(buf), 1);
		vd_drain(d, 0);
	}
	vd_drain(d, 300);
	CHECK(got(s, OP_RST), "4 MiB past the credit did not reset the stream");
	CHECK(host_drains_to_eof(s->hfd), "the host end was not closed");
	return still_works(d);
}

/* Run with --max-conns 16: the 17th stream on is refused both ways. */
static int t_m_flood(struct vd *d)
{
	int lfd = vd_listen(d->uds, 1031);
	unsigned ok = 0, rst = 0;

	CHECK(lfd >= 0, "listen: %m");
	for (unsigned i = 0; i < 24; i++) {
		struct vd_stream *s = vd_guest_connect(d, 42000 + i, 1031, lfd);

		CHECK(s, "stream %u: no answer", i);
		ok += got(s, OP_RESPONSE);
		rst += got(s, OP_RST);
	}
	CHECK(ok == 16 && rst == 8, "%u RESPONSE and %u RST, want 16 and 8", ok, rst);
	int fd = vd_dial(d->uds);

	CHECK(fd >= 0, "connect: %m");
	CHECK(host_sees_eof(fd), "a host connection past the table was not closed");
	/* One stream ends: its slot serves again. */
	struct vd_hdr h = vd_hdr(d, &d->s[0], OP_RST, 0);

	vd_send(d, &h, NULL, 0, 1);
	return still_works(d);
}

static int t_m_ops(struct vd *d)
{
	struct vd_stream *s = vd_host_connect(d, 5003, true), *t, ghost = { .lport = 43000, .rport = 9 };
	struct vd_hdr h;

	CHECK(s && vd_host_ok(s) == 0, "no stream");
	h = vd_hdr(d, s, OP_CREDIT_REQUEST, 0);
	vd_send(d, &h, NULL, 0, 1);
	vd_drain(d, 300);
	CHECK(got(s, OP_CREDIT_UPDATE), "no CREDIT_UPDATE for a CREDIT_REQUEST");
	h = vd_hdr(d, s, 99, 0);
	vd_send(d, &h, NULL, 0, 1);
	vd_drain(d, 300);
	CHECK(got(s, OP_RST) && host_sees_eof(s->hfd), "an unknown op did not reset the stream");
	t = vd_host_connect(d, 5004, true);
	CHECK(t && vd_host_ok(t) == 0, "no second stream");
	h = vd_hdr(d, t, OP_RESPONSE, 0); /* RESPONSE on an open stream */
	vd_send(d, &h, NULL, 0, 1);
	vd_drain(d, 300);
	CHECK(got(t, OP_RST), "a RESPONSE on an open stream did not reset it");
	h = vd_hdr(d, &ghost, OP_RW, 3);
	vd_send(d, &h, "abc", 3, 1);
	CHECK(vd_recv(d, 1000) == 0 && d->last.op == OP_RST && d->last.dst_port == 43000,
	      "no RST for data on no stream");
	return still_works(d);
}

static int t_m_line(struct vd *d)
{
	static const char *lines[] = { "CONNECT abc\n", "CONNECT 99999999999\n", "CONNECT -1\n",
				       "connect 5\n", "CONNECT 5 6\n",
				       "CONNECT 1111111111111111111111111111111111111111" };

	for (unsigned i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		int fd = vd_dial(d->uds);

		CHECK(fd >= 0, "connect: %m");
		CHECK(write(fd, lines[i], strlen(lines[i])) == (ssize_t)strlen(lines[i]), "write");
		CHECK(host_sees_eof(fd), "line %u was not refused", i);
		close(fd);
	}
	CHECK(vd_recv(d, 300) == -ETIMEDOUT, "a bad CONNECT line reached the guest");
	return still_works(d);
}

/* Idle host connections (no line; a REQUEST the guest never answers) go after 2 s. */
static int t_m_idle(struct vd *d)
{
	int quiet = vd_dial(d->uds), waiting = vd_dial(d->uds);

	CHECK(quiet >= 0 && waiting >= 0, "connect: %m");
	CHECK(write(waiting, "CONNECT 6001\n", 13) == 13, "write");
	CHECK(vd_recv(d, 3000) == 0 && d->last.op == OP_REQUEST, "no REQUEST");
	uint32_t host_port = d->last.src_port;

	CHECK(host_drains_to_eof(quiet), "a connection that sent nothing was kept");
	CHECK(host_drains_to_eof(waiting), "a connection the guest never answered was kept");
	CHECK(vd_recv(d, 1000) == 0 && d->last.op == OP_RST && d->last.src_port == host_port,
	      "the guest was not told (RST) that the host side gave up");
	return still_works(d);
}

static int t_m_txchain(struct vd *d)
{
	struct vf_queue *q = &d->f.q[1];
	uint32_t id, len;

	/* A header-less 8-byte buffer, then a device-writable-only chain. */
	q->desc[0] = (struct vf_desc){ d->tx_area, 8, 0, 0 };
	vf_post_head(&d->f, 1, 0);
	vf_kick(&d->f, 1);
	CHECK(vf_wait_used(&d->f, 1, 2000, &id, &len) == 0, "short tx buffer not returned");
	q->desc[0] = (struct vf_desc){ d->tx_area, 4096, VF_DESC_WRITE, 0 };
	vf_post_head(&d->f, 1, 0);
	vf_kick(&d->f, 1);
	CHECK(vf_wait_used(&d->f, 1, 2000, &id, &len) == 0, "writable tx buffer not returned");
	return still_works(d);
}

/* A tx chain that loops: the tx queue breaks (logged), nothing is returned, no crash. */
static int t_m_txloop(struct vd *d)
{
	struct vf_queue *q = &d->f.q[1];
	uint32_t id, len;

	q->desc[0] = (struct vf_desc){ d->tx_area, 64, VF_DESC_NEXT, 1 };
	q->desc[1] = (struct vf_desc){ d->tx_area, 64, VF_DESC_NEXT, 0 };
	vf_post_head(&d->f, 1, 0);
	vf_kick(&d->f, 1);
	CHECK(vf_wait_used(&d->f, 1, 500, &id, &len) == -ETIMEDOUT, "a looping chain was consumed");
	return 0;
}

static int t_m_rxshort(struct vd *d)
{
	char line[] = "CONNECT 5\n";
	int fd = vd_dial(d->uds);

	/* d->rxlen was 8: the REQUEST cannot fit; the rx queue must break, not overflow. */
	CHECK(fd >= 0, "connect: %m");
	CHECK(write(fd, line, strlen(line)) > 0, "write");
	CHECK(vd_recv(d, 500) == -ETIMEDOUT, "a packet was written into an 8-byte buffer");
	return 0;
}

/* socat as the host process: CONNECT, a line each way, the guest closes. */
static int t_socat(struct vd *d)
{
	char cmd[512], out[128] = { 0 }, want[64];
	struct vd_stream *s;
	struct vd_hdr h;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "(printf 'CONNECT 5005\\nping\\n'; sleep 2) | "
		 "socat -t 1 - UNIX-CONNECT:%s", d->uds);
	p = popen(cmd, "r");
	CHECK(p, "popen: %m");
	CHECK(vd_recv(d, 3000) == 0 && d->last.op == OP_REQUEST && d->last.dst_port == 5005,
	      "no REQUEST from socat's CONNECT");
	s = &d->s[d->ns++];
	*s = (struct vd_stream){ .lport = 5005, .rport = d->last.src_port, .hfd = -1 };
	h = vd_hdr(d, s, OP_RESPONSE, 0);
	vd_send(d, &h, NULL, 0, 1);
	CHECK(vd_recv(d, 3000) == 0 && d->last.op == OP_RW && d->last.len == 5 &&
	      !memcmp(d->payload, "ping\n", 5), "socat's bytes did not arrive");
	h = vd_hdr(d, s, OP_RW, 5);
	vd_send(d, &h, "pong\n", 5, 1);
	h = vd_hdr(d, s, OP_SHUTDOWN, 0);
	h.flags = 3;
	vd_send(d, &h, NULL, 0, 1);
	size_t n = fread(out, 1, sizeof(out) - 1, p);

	pclose(p);
	snprintf(want, sizeof(want), "OK %u\npong\n", s->rport);
	CHECK(n == strlen(want) && !strcmp(out, want), "socat printed \"%s\"", out);
	return 0;
}

static const struct { const char *name; int (*fn)(struct vd *); } tests[] = {
	{ "host-connect", t_host_connect }, { "guest-connect", t_guest_connect },
	{ "guest-refused", t_guest_refused }, { "host-refused", t_host_refused },
	{ "many", t_many }, { "rx-small", t_rx_small }, { "rx-split", t_rx_split },
	{ "close-host", t_close_host }, { "close-guest", t_close_guest },
	{ "close-slow", t_close_slow },
	{ "close-slow-rst", t_close_slow_rst },
	{ "close-vm", t_close_vm }, { "reset", t_reset }, { "half-close", t_half_close },
	{ "m-len", t_m_len }, { "m-type", t_m_type }, { "m-addr", t_m_addr },
	{ "m-credit", t_m_credit }, { "m-flood", t_m_flood }, { "m-ops", t_m_ops },
	{ "m-line", t_m_line }, { "socat", t_socat }, { "m-idle", t_m_idle }, { "m-txchain", t_m_txchain }, { "m-txloop", t_m_txloop }, { "m-rxshort", t_m_rxshort },
};

int main(int argc, char **argv)
{
	static struct vd d;
	const char *sock = NULL, *uds = NULL, *test = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "s:u:t:")) != -1) {
		if (opt == 's')
			sock = optarg;
		else if (opt == 'u')
			uds = optarg;
		else if (opt == 't')
			test = optarg;
		else
			return 2;
	}
	if (!sock || !uds || !test)
		return fputs("usage: vsockfe -s VHOST_SOCKET -u UDS_PATH -t TEST\n", stderr), 2;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		int rc;

		if (strcmp(tests[i].name, test))
			continue;
		if (!strcmp(test, "m-rxshort"))
			d.rxlen = 8;
		if (!strcmp(test, "rx-small"))
			d.rxlen = 44 + 100;
		if (!strcmp(test, "rx-split"))
			d.rxsplit = 100;
		rc = vd_start(&d, sock, uds);
		if (rc)
			return fprintf(stderr, "FAIL: frontend start-up: %s\n", strerror(-rc)), 1;
		if (d.cid != 3 && fprintf(stderr, "FAIL: config space cid %llu, want 3\n",
					  (unsigned long long)d.cid))
			return 1;
		rc = tests[i].fn(&d);
		return rc;
	}
	return fprintf(stderr, "unknown test %s\n", test), 2;
}
