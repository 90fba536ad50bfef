/* closeslow.c: vsock tests close-slow and close-slow-rst: the guest closes (and resets) a stream while cellvm-vsock still buffers its bytes for a slow host reader. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsock_drv.h"

#define CS_PORT     1040
#define CS_TOTAL    (3u << 20)  /* guest -> host bytes, sent within the device's credit */
#define CS_MIN_HELD (64u << 10) /* what must wait in the device's ring when the guest closes */
#define CS_FAST     (64u << 10) /* one host read while the guest waits for credit */
#define CS_SLOW     (8u << 10)  /* one host read after the guest closed, */
#define CS_PAUSE_MS 2           /* then this long for packets to the guest */
#define CS_LIMIT_MS 30000

#define CHECK(cond, ...) \
	do { if (!(cond)) { fprintf(stderr, "FAIL: " __VA_ARGS__); fputc('\n', stderr); return 1; } } while (0)

/* The stream under test, as the guest and the host end see it. */
struct cs {
	struct vd_stream *s;
	unsigned idx;
	bool closed;          /* the guest sent SHUTDOWN(RCV|SEND) */
	bool eof;             /* the host end read EOF */
	bool host_bad;        /* the host end read a wrong byte */
	unsigned rst;         /* RSTs received after the close */
	unsigned credits;     /* CREDIT_UPDATEs received after the close (harmless) */
	unsigned stray;       /* other packets after the close (data, SHUTDOWN, ...) */
	uint64_t at_rst;      /* bytes written to the host socket when the RST came */
};

/* Bytes the host end can read without blocking. */
static uint64_t host_queued(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? (uint64_t)n : 0;
}

/* Receives packets for up to ms of quiet; after the close, notes what the guest was sent. */
static void guest_poll(struct vd *d, struct cs *t, int ms)
{
	while (vd_recv(d, ms) == 0) {
		const struct vd_hdr *h = &d->last;
		bool ours = h->dst_port == t->s->lport && h->src_port == t->s->rport;

		if (ours && t->closed && h->op == OP_RST) {
			if (!t->rst++)
				t->at_rst = t->s->h_in + host_queued(t->s->hfd);
		} else if (ours && t->closed && h->op != OP_CREDIT_UPDATE) {
			t->stray++; /* a closed guest has no use for it: not accounted */
			continue;
		} else if (ours && t->closed) {
			t->credits++;
		}
		vd_deliver(d);
		ms = 0;
	}
}

/* Reads up to max bytes at the host end, checking each; 0 when nothing was there. */
static size_t host_read(struct cs *t, size_t max)
{
	static uint8_t buf[CS_FAST];
	ssize_t n = recv(t->s->hfd, buf, max < sizeof(buf) ? max : sizeof(buf), MSG_DONTWAIT);

	if (n == 0)
		t->eof = true;
	if (n <= 0)
		return 0;
	for (ssize_t i = 0; i < n && !t->host_bad; i++)
		if (buf[i] != vd_pattern(t->s->h_in + (uint64_t)i, t->idx, 1)) {
			fprintf(stderr, "host: byte %llu differs\n",
				(unsigned long long)(t->s->h_in + (uint64_t)i));
			t->host_bad = true;
		}
	t->s->h_in += (uint64_t)n;
	return (size_t)n;
}

/* The guest sends as much as the credit allows, up to CS_TOTAL in all. */
static int guest_send(struct vd *d, struct cs *t)
{
	static uint8_t buf[64u << 10];
	struct vd_stream *s = t->s;

	while (s->g_out < CS_TOTAL && s->tx_cnt - s->peer_fwd < s->peer_alloc) {
		uint32_t n = s->peer_alloc - (s->tx_cnt - s->peer_fwd);
		struct vd_hdr h;

		if (n > sizeof(buf))
			n = sizeof(buf);
		if (n > CS_TOTAL - s->g_out)
			n = (uint32_t)(CS_TOTAL - s->g_out);
		for (uint32_t i = 0; i < n; i++)
			buf[i] = vd_pattern(s->g_out + i, t->idx, 1);
		h = vd_hdr(d, s, OP_RW, n);
		if (vd_send(d, &h, buf, n, 1))
			return -1;
		s->g_out += n;
		s->tx_cnt += n;
	}
	return 0;
}

/* All CS_TOTAL bytes sent: the host reads nothing until the credit runs out (the device's
 * socket and ring fill), then 64 KiB each time the guest waits for credit. */
static int fill(struct vd *d, struct cs *t)
{
	for (unsigned i = 0; t->s->g_out < CS_TOTAL; i++) {
		CHECK(i < 10000 && guest_send(d, t) == 0, "the guest could not send %u bytes "
		      "(sent %llu)", CS_TOTAL, (unsigned long long)t->s->g_out);
		if (t->s->g_out == CS_TOTAL)
			break;
		guest_poll(d, t, 1);
		if (t->s->tx_cnt - t->s->peer_fwd >= t->s->peer_alloc)
			host_read(t, CS_FAST);
	}
	return 0;
}

/* The device's exact fwd_cnt (CREDIT_REQUEST): how many sent bytes it has not written. */
static int64_t device_holds(struct vd *d, struct cs *t)
{
	struct vd_hdr h = vd_hdr(d, t->s, OP_CREDIT_REQUEST, 0);

	t->s->ops &= ~(1u << OP_CREDIT_UPDATE);
	if (vd_send(d, &h, NULL, 0, 1))
		return -1;
	for (int i = 0; i < 1000 && !(t->s->ops & (1u << OP_CREDIT_UPDATE)); i++)
		guest_poll(d, t, 1);
	if (!(t->s->ops & (1u << OP_CREDIT_UPDATE)))
		return -1;
	return (int64_t)(uint32_t)(t->s->tx_cnt - t->s->peer_fwd);
}

/* After the close: the host reads 8 KiB every 2 ms to EOF, watching what the guest gets. */
static int drain_slowly(struct vd *d, struct cs *t)
{
	for (int ms = 0; !t->eof && !t->host_bad; ms += CS_PAUSE_MS) {
		CHECK(ms < CS_LIMIT_MS, "the host read %llu of %u bytes and no EOF in %d s",
		      (unsigned long long)t->s->h_in, CS_TOTAL, CS_LIMIT_MS / 1000);
		host_read(t, CS_SLOW);
		guest_poll(d, t, CS_PAUSE_MS);
	}
	for (int i = 0; i < 100 && !t->rst; i++)
		guest_poll(d, t, 10);
	return 0;
}

/* Guest to host, 3 MiB; the guest closes (SHUTDOWN RCV|SEND, as Linux does on close) with
 * bytes still in cellvm-vsock's ring; with guest_rst it then resets the stream too, as Linux
 * does when its close timeout (8 s) ends first. The host then reads slowly. Every byte must
 * arrive, then EOF; the RST (none after the guest's own) must wait until all were written;
 * nothing else may reach the guest, not even bytes the host sends after the close. */
static int close_slow(struct vd *d, bool guest_rst)
{
	const char *name = guest_rst ? "close-slow-rst" : "close-slow";
	int lfd = vd_listen(d->uds, CS_PORT);
	struct cs t = { 0 };
	struct vd_hdr h;
	int64_t held;
	ssize_t late;

	CHECK(lfd >= 0, "listen: %m");
	t.s = vd_guest_connect(d, 44000, CS_PORT, lfd);
	CHECK(t.s && t.s->hfd >= 0 && (t.s->ops & (1u << OP_RESPONSE)), "no stream");
	t.idx = (unsigned)(t.s - d->s);
	CHECK(fill(d, &t) == 0, "fill");
	held = device_holds(d, &t);
	CHECK(held >= CS_MIN_HELD, "cellvm-vsock held %lld bytes at the close, want >= %u: the "
	      "test did not set up the case", (long long)held, CS_MIN_HELD);
	printf("%s: the guest closes with %lld bytes in cellvm-vsock, %llu read so far\n", name,
	       (long long)held, (unsigned long long)t.s->h_in);
	h = vd_hdr(d, t.s, OP_SHUTDOWN, 0);
	h.flags = 3;
	CHECK(vd_send(d, &h, NULL, 0, 1) == 0, "SHUTDOWN not taken");
	t.closed = true;
	if (guest_rst) {
		h = vd_hdr(d, t.s, OP_RST, 0);
		CHECK(vd_send(d, &h, NULL, 0, 1) == 0, "RST not taken");
	}
	/* Host bytes for a guest that closed: never sent (Linux would answer with RST). The
	 * device's end is still open (it holds bytes): EPIPE means it was closed too early. */
	late = send(t.s->hfd, "late", 4, MSG_NOSIGNAL);
	CHECK(drain_slowly(d, &t) == 0, "drain");
	printf("%s: host read %llu bytes then EOF; %u RST (with %llu written); after the close %u "
	       "credit updates, %u other packets\n", name, (unsigned long long)t.s->h_in, t.rst,
	       (unsigned long long)t.at_rst, t.credits, t.stray);
	CHECK(!t.host_bad && !t.s->bad, "the host read a wrong byte, or a credit check failed");
	CHECK(t.s->h_in == CS_TOTAL, "the host read %llu of %u bytes before EOF",
	      (unsigned long long)t.s->h_in, CS_TOTAL);
	CHECK(t.rst == (guest_rst ? 0u : 1u), "%u RSTs after the guest's close, want %u", t.rst,
	      guest_rst ? 0u : 1u);
	CHECK(guest_rst || t.at_rst == CS_TOTAL, "the RST came when %llu of %u bytes were written",
	      (unsigned long long)t.at_rst, CS_TOTAL);
	CHECK(!t.stray && (!guest_rst || !t.credits), "%u data or control packets (%u credit "
	      "updates) reached the guest after its close", t.stray, t.credits);
	CHECK(late == 4, "the host end was closed at the guest's close (send: %zd)", late);
	close(lfd);
	t.s = vd_host_connect(d, 7777, true);
	CHECK(t.s && vd_host_ok(t.s) == 0, "the device stopped serving");
	return 0;
}

int t_close_slow(struct vd *d)
{
	return close_slow(d, false);
}

int t_close_slow_rst(struct vd *d)
{
	return close_slow(d, true);
}
