/* vsock.c: virtio-vsock tests over the probe's virtio-pci transport: vsock-connect, vsock-listen,
   vsock-stream. One stream at a time; the host side is a Unix socket (hybrid vsock). */
#include "virtio.h"

#define VIRTIO_ID_VSOCK 19
#define Q_RX 0
#define Q_TX 1
#define HOST_CID 2
#define RXN 64
#define RXSZ (4096 + 44)
#define TX_PAYLOAD 4096
#define BUF_ALLOC (64 * 1024)	/* what this guest buffers per stream */

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE, OP_CREDIT_REQUEST };

struct vs_hdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

struct stream {
	u32 lport, rport;
	u32 rx_cnt, fwd_cnt, told;	/* received, consumed, last fwd_cnt sent */
	u32 tx_cnt, peer_alloc, peer_fwd;
	u32 peer_shut;			/* SHUTDOWN flags the host sent */
};

static struct vdev v;
static u64 cid;
static u8 rxbuf[RXN][RXSZ] __attribute__((aligned(64)));
static u8 txbuf[sizeof(struct vs_hdr) + TX_PAYLOAD] __attribute__((aligned(64)));
static volatile int tx_busy;
static u16 pend_id[RXN];
static u32 pend_len[RXN];
static int pend_head, pend_n;

static void on_done(void *cookie, u32 len)
{
	if (cookie == txbuf) {
		tx_busy = 0;
		return;
	}
	int i = (int)(((u8 *)cookie - &rxbuf[0][0]) / RXSZ);
	if (i < 0 || i >= RXN || pend_n == RXN)
		test_fail("rx completion for an unknown buffer");
	pend_id[(pend_head + pend_n) % RXN] = (u16)i;
	pend_len[(pend_head + pend_n) % RXN] = len;
	pend_n++;
}

static void rx_post(int i)
{
	struct vbuf b = { (u64)rxbuf[i], RXSZ, 1 };
	if (vq_add(&v.vq[Q_RX], &b, 1, rxbuf[i]) < 0)
		test_fail("rx queue full");
}

static void wait_any(void)
{
	struct vq *qs[2] = { &v.vq[Q_RX], &v.vq[Q_TX] };
	vq_wait(&v, qs, 2, on_done, 30);
}

static void vs_open(void)
{
	u64 want;
	if (virtio_find(&v, VIRTIO_ID_VSOCK))
		test_fail("no virtio-vsock device (1af4:1053) on PCI bus 0");
	virtio_irq_start();
	virtio_start(&v, 0, 3);
	cid = virtio_cfg64(&v, 0);
	if (param_size("vsock_cid", &want) && want != cid)
		test_fail("config space guest_cid %lu, expected %lu", cid, want);
	pr("probe: vsock: guest cid %lu\n", cid);
	for (int i = 0; i < RXN; i++)
		rx_post(i);
	vq_kick(&v, &v.vq[Q_RX]);
}

static void send_pkt(struct stream *s, u16 op, u32 flags, const u8 *data, u32 len)
{
	struct vs_hdr h = { cid, HOST_CID, s->lport, s->rport, len, 1, op, flags, BUF_ALLOC, s->fwd_cnt };
	struct vbuf b = { (u64)txbuf, (u32)sizeof(h) + len, 0 };
	s->told = s->fwd_cnt;
	memcpy(txbuf, &h, sizeof(h));
	if (len && data != txbuf + sizeof(h))
		memcpy(txbuf + sizeof(h), data, len);
	tx_busy = 1;
	if (vq_add(&v.vq[Q_TX], &b, 1, txbuf) < 0)
		test_fail("tx queue full");
	vq_kick(&v, &v.vq[Q_TX]);
	while (tx_busy)
		wait_any();
}

/* The next received packet: header copied to *h, payload left in the buffer (*id). */
static u8 *recv_pkt(struct vs_hdr *h, int *id)
{
	while (!pend_n)
		wait_any();
	int i = pend_id[pend_head];
	u32 len = pend_len[pend_head];
	pend_head = (pend_head + 1) % RXN;
	pend_n--;
	if (len < sizeof(*h))
		test_fail("rx buffer used with %u bytes, less than a header", len);
	memcpy(h, rxbuf[i], sizeof(*h));
	if (h->len != len - sizeof(*h))
		test_fail("rx header len %u, used len %u", h->len, len);
	if (h->src_cid != HOST_CID || h->dst_cid != cid || h->type != 1)
		test_fail("rx packet from cid %lu to %lu type %u", h->src_cid, h->dst_cid, h->type);
	*id = i;
	return rxbuf[i] + sizeof(*h);
}

static void rx_done(int i)
{
	rx_post(i);
	vq_kick(&v, &v.vq[Q_RX]);
}

/* Accounts one packet to s: credit, data (checked by check()), replies to credit requests. */
static u32 account(struct stream *s, const struct vs_hdr *h)
{
	if (h->src_port != s->rport || h->dst_port != s->lport)
		test_fail("packet for port %u from %u, stream is %u <- %u", h->dst_port, h->src_port, s->lport,
			  s->rport);
	s->peer_alloc = h->buf_alloc;
	s->peer_fwd = h->fwd_cnt;
	if (h->op == OP_RW) {
		if (s->rx_cnt + h->len - s->told > BUF_ALLOC)
			test_fail("the device sent past our credit (%u bytes unacknowledged)", s->rx_cnt + h->len - s->told);
		s->rx_cnt += h->len;
		s->fwd_cnt += h->len;
		return h->len;
	}
	if (h->op == OP_CREDIT_REQUEST)
		send_pkt(s, OP_CREDIT_UPDATE, 0, 0, 0);
	if (h->op == OP_SHUTDOWN)
		s->peer_shut |= h->flags;
	return 0;
}

static void give_credit(struct stream *s)
{
	if (s->fwd_cnt - s->told >= BUF_ALLOC / 2)
		send_pkt(s, OP_CREDIT_UPDATE, 0, 0, 0);
}

/* Receives until op arrives (data on the way is appended to buf, up to *n of cap). */
static void expect_op(struct stream *s, u16 op, u8 *buf, u32 cap, u32 *n)
{
	for (;;) {
		struct vs_hdr h;
		int id;
		u8 *p = recv_pkt(&h, &id);
		u32 got = account(s, &h);
		if (got && buf) {
			if (*n + got > cap)
				test_fail("more data than expected (%u bytes)", *n + got);
			memcpy(buf + *n, p, got);
			*n += got;
		}
		rx_done(id);
		if (h.op == op)
			return;
		if (h.op == OP_RST)
			test_fail("stream %u <-> %u reset by the host", s->lport, s->rport);
	}
}

static u32 port_param(const char *key, u32 dflt)
{
	u64 p;
	return param_size(key, &p) ? (u32)p : dflt;
}

static void connect_host(struct stream *s, u32 port)
{
	*s = (struct stream){ .lport = 49152, .rport = port };
	send_pkt(s, OP_REQUEST, 0, 0, 0);
	expect_op(s, OP_RESPONSE, 0, 0, 0);
	pr("probe: vsock: connected to host port %u\n", port);
}

static void close_stream(struct stream *s)
{
	send_pkt(s, OP_SHUTDOWN, 3, 0, 0);
	for (;;) {
		struct vs_hdr h;
		int id;
		recv_pkt(&h, &id);
		rx_done(id);
		if (h.op == OP_RST)
			return;
	}
}

/* vsock-connect: the guest connects to host port vsock_port (default 1234), where an echo
   server listens on <socket>_<port>; a line goes there and back. */
noreturn void test_vsock_connect(void)
{
	static const char msg[] = "hello from the cellvm probe over vsock\n";
	static u8 back[sizeof(msg)];
	struct stream s;
	u32 n = 0;
	vs_open();
	connect_host(&s, port_param("vsock_port", 1234));
	send_pkt(&s, OP_RW, 0, (const u8 *)msg, sizeof(msg) - 1);
	while (n < sizeof(msg) - 1)
		expect_op(&s, OP_RW, back, sizeof(msg) - 1, &n);
	if (memcmp(back, msg, sizeof(msg) - 1))
		test_fail("the echo differs");
	close_stream(&s);
	test_pass();
}

/* vsock-listen: the guest waits for the host's CONNECT to vsock_port (default 5000), reads
   "ping\n", answers "pong\n" and waits for the host to close. */
noreturn void test_vsock_listen(void)
{
	u32 port = port_param("vsock_port", 5000), n = 0;
	struct stream s;
	struct vs_hdr h;
	u8 line[8];
	int id;
	vs_open();
	pr("probe: vsock-listen: listening on port %u\n", port);
	recv_pkt(&h, &id);
	rx_done(id);
	if (h.op != OP_REQUEST || h.dst_port != port)
		test_fail("expected a REQUEST to port %u, got op %u to port %u", port, h.op, h.dst_port);
	s = (struct stream){ .lport = port, .rport = h.src_port, .peer_alloc = h.buf_alloc, .peer_fwd = h.fwd_cnt };
	send_pkt(&s, OP_RESPONSE, 0, 0, 0);
	while (n < 5)
		expect_op(&s, OP_RW, line, 5, &n);
	if (memcmp(line, "ping\n", 5))
		test_fail("expected ping from the host");
	send_pkt(&s, OP_RW, 0, (const u8 *)"pong\n", 5);
	if (!s.peer_shut)
		expect_op(&s, OP_SHUTDOWN, 0, 0, 0);
	pr("probe: vsock-listen: the host closed its side\n");
	close_stream(&s);
	test_pass();
}

static u8 pat(u64 off)
{
	return (u8)(off * 7 + (off >> 9) + 13);
}

/* Byte loops run at CPL3: native speed under PVM, where CPL0 code is slow (as in blk.c). */
struct pat_job {
	u8 *buf;
	u64 off;
	u32 len, bad;
	int verify;
};

static void user_pat(void *arg)
{
	struct pat_job *j = arg;
	for (u32 i = 0; i < j->len; i++) {
		if (!j->verify) {
			j->buf[i] = pat(j->off + i);
		} else if (j->buf[i] != pat(j->off + i)) {
			j->bad = i + 1;
			return;
		}
	}
}

static void pattern(u8 *buf, u64 off, u32 len, int verify)
{
	static struct pat_job job;
	job = (struct pat_job){ buf, off, len, 0, verify };
	run_user(user_pat, &job);
	if (job.bad)
		test_fail("byte %lu came back as 0x%x, sent 0x%x", off + job.bad - 1, buf[job.bad - 1],
			  pat(off + job.bad - 1));
}

/* vsock-stream: vsock_bytes (default 4M) to the host's echo server and back, every byte
   checked, credit honoured both ways. */
noreturn void test_vsock_stream(void)
{
	u8 *chunk = txbuf + sizeof(struct vs_hdr);
	u64 total = 4 * MiB, sent = 0, got = 0;
	struct stream s;
	param_size("vsock_bytes", &total);
	vs_open();
	connect_host(&s, port_param("vsock_port", 1234));
	while (got < total) {
		u32 in_flight = s.tx_cnt - s.peer_fwd;
		u32 credit = in_flight > s.peer_alloc ? 0 : s.peer_alloc - in_flight;
		int can_send = sent < total && credit;
		if (can_send) {
			u32 n = credit < TX_PAYLOAD ? credit : TX_PAYLOAD;
			if (n > total - sent)
				n = (u32)(total - sent);
			pattern(chunk, sent, n, 0);
			send_pkt(&s, OP_RW, 0, chunk, n);
			sent += n;
			s.tx_cnt += n;
		}
		if (!can_send && !pend_n)
			wait_any();
		while (pend_n) {
			struct vs_hdr h;
			int id;
			u8 *p = recv_pkt(&h, &id);
			u32 k = account(&s, &h);
			if (k)
				pattern(p, got, k, 1);
			got += k;
			rx_done(id);
			if (h.op == OP_RST || h.op == OP_SHUTDOWN)
				test_fail("the host ended the stream after %lu of %lu bytes", got, total);
			give_credit(&s);
		}
	}
	pr("probe: vsock-stream: %lu bytes there and back, intact\n", total);
	close_stream(&s);
	test_pass();
}
