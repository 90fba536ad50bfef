/* net.c: virtio-net tests over the probe's virtio-pci transport: net-tx, net-rx, net-mq and
   net-ctrl-bad. Frames are IPv4/UDP test frames a host peer on the tap builds and checks. */
#include "virtio.h"

#define NET_F_MAC 5
#define NET_F_MRG_RXBUF 15
#define NET_F_STATUS 16
#define NET_F_CTRL_VQ 17
#define NET_F_MQ 22
#define F(b) (1ULL << (b))

#define CFG_MAC 0
#define CFG_STATUS 6
#define CFG_MAX_PAIRS 8

#define CTRL_RX 0
#define CTRL_MQ 4
#define CTRL_MQ_VQ_PAIRS_SET 0
#define NET_OK 0
#define NET_ERR 1

#define HDR_LEN 12		/* virtio_net_hdr_mrg_rxbuf: always 12 bytes with VERSION_1 */
#define FRAME_MAX 1514
#define FRAME_HDRS 42		/* Ethernet 14 + IPv4 20 + UDP 8 */
#define FRAME_MIN 60
#define RXBUF_MRG 512		/* small, so full frames span several merged buffers */
#define RXBUF_BIG 2048
#define TXSLOT 2048
#define NFRAMES 32
#define MAX_PAIRS 2
#define UDP_PORT 34997

/* test frame kinds (payload byte 4) */
#define K_TX 1
#define K_READY 2
#define K_RX 3
#define K_ECHO 4

enum { NB_RX = 1, NB_TX, NB_CTRL };

struct nbuf {
	u8 kind, q, busy, pad;
	u32 size;
	u64 addr;
};

struct rxstate {
	u8 frame[FRAME_MAX + 16];
	u32 got;
	u16 left;
};

static struct vdev v;
static struct nbuf rxb[MAX_PAIRS][VQ_MAX_SIZE], txb[MAX_PAIRS][VQ_MAX_SIZE / 2], ctrlb;
static struct rxstate rxs[MAX_PAIRS];
static u8 expect_buf[FRAME_MAX + 16];
static u8 mac[6];
static const u8 peer_mac[6] = { 0x02, 0xce, 0x11, 0x00, 0x00, 0x01 };
static const u8 guest_ip[4] = { 10, 207, 0, 2 }, peer_ip[4] = { 10, 207, 0, 1 };
static int mrg, npairs, ctrl_q = -1;
static u32 dirty;		/* queues with added but unpublished chains */
static u64 rx_frames[MAX_PAIRS], rx_total, rx_other, tx_done[MAX_PAIRS], tx_sent[MAX_PAIRS], rx_seen;
static u8 ctrl_done;

static u32 frame_size(u32 seq)
{
	static const u32 sz[] = { 60, 61, 64, 127, 512, 1000, 1513, 1514 };
	return sz[seq % 8];
}

static void put16(u8 *p, u32 x)
{
	p[0] = (u8)(x >> 8);
	p[1] = (u8)x;
}

/* The test frame (seq, kind, len): flow = seq % 16; from_guest picks the direction. The host
   peer (tests/integration/net_peer.py) builds the same bytes. */
static void build_frame(u8 *f, u32 seq, u8 kind, u32 len, int from_guest)
{
	u32 flow = seq % 16;
	memcpy(f, from_guest ? peer_mac : mac, 6);
	memcpy(f + 6, from_guest ? mac : peer_mac, 6);
	put16(f + 12, 0x0800);
	u8 *ip = f + 14, *udp = f + 34, *pl = f + 42;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, len - 14);
	put16(ip + 4, seq);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, from_guest ? guest_ip : peer_ip, 4);
	memcpy(ip + 16, from_guest ? peer_ip : guest_ip, 4);
	put16(udp, from_guest ? 40000 + flow : UDP_PORT);
	put16(udp + 2, from_guest ? UDP_PORT : 40000 + flow);
	put16(udp + 4, len - 34);
	put16(udp + 6, 0);
	memcpy(pl, "CVN1", 4);
	pl[4] = kind;
	pl[5] = (u8)flow;
	put16(pl + 6, seq);
	put16(pl + 8, len);
	for (u32 i = FRAME_HDRS + 10; i < len; i++)
		f[i] = (u8)(seq * 7 + i * 13);
}

static void post_rx(int p, struct nbuf *b)
{
	struct vbuf vb = { b->addr, b->size, 1 };
	if (vq_add(&v.vq[2 * p], &vb, 1, b) < 0)
		test_fail("rx queue %d: no free descriptor to repost a buffer", 2 * p);
	dirty |= 1u << (2 * p);
}

static struct nbuf *tx_slot(int p)
{
	u32 n = v.vq[2 * p + 1].size / 2;
	for (u32 i = 0; i < n; i++)
		if (!txb[p][i].busy)
			return &txb[p][i];
	test_fail("tx queue %d: all %u slots in flight", 2 * p + 1, n);
}

/* Queues frame (len bytes) on pair p's tx queue: header and frame as two descriptors. */
static void send_frame(int p, const u8 *frame, u32 len)
{
	struct nbuf *b = tx_slot(p);
	memset(phys(b->addr), 0, HDR_LEN);
	memcpy(phys(b->addr + HDR_LEN), frame, len);
	struct vbuf vb[2] = { { b->addr, HDR_LEN, 0 }, { b->addr + HDR_LEN, len, 0 } };
	if (vq_add(&v.vq[2 * p + 1], vb, 2, b) < 0)
		test_fail("tx queue %d: no free descriptors", 2 * p + 1);
	b->busy = 1;
	tx_sent[p]++;
	dirty |= 1u << (2 * p + 1);
}

static void send_test_frame(int p, u32 seq, u8 kind, u32 len)
{
	build_frame(expect_buf, seq, kind, len, 1);
	send_frame(p, expect_buf, len);
}

static u32 get16(const u8 *p)
{
	return (u32)p[0] << 8 | p[1];
}

/* A whole received frame from pair p: ours (IPv4/UDP to our port with the magic) is checked
   byte for byte against what the peer must have sent, then echoed on the same pair. */
static void on_frame(int p, u8 *f, u32 len)
{
	if (len < FRAME_HDRS + 10 || get16(f + 12) != 0x0800 || f[23] != 17 || get16(f + 34) != UDP_PORT ||
	    memcmp(f + 42, "CVN1", 4)) {
		rx_other++;
		return;
	}
	u32 seq = get16(f + 48), flen = get16(f + 50);
	if (f[46] != K_RX || seq >= NFRAMES || flen != len || len > FRAME_MAX)
		test_fail("rx queue %d: bad test frame: kind %u seq %u length field %u, frame length %u", 2 * p, f[46],
			  seq, flen, len);
	if (rx_seen & (1ULL << seq))
		test_fail("rx queue %d: frame %u received twice", 2 * p, seq);
	build_frame(expect_buf, seq, K_RX, len, 0);
	for (u32 i = 0; i < len; i++)
		if (f[i] != expect_buf[i])
			test_fail("rx queue %d: frame %u (%u bytes): byte %u is 0x%x, expected 0x%x", 2 * p, seq, len, i,
				  f[i], expect_buf[i]);
	rx_seen |= 1ULL << seq;
	rx_frames[p]++;
	rx_total++;
	/* echo: swap MACs, addresses and ports; kind ECHO */
	u8 t[6];
	memcpy(t, f, 6);
	memcpy(f, f + 6, 6);
	memcpy(f + 6, t, 6);
	memcpy(t, f + 26, 4);
	memcpy(f + 26, f + 30, 4);
	memcpy(f + 30, t, 4);
	memcpy(t, f + 34, 2);
	memcpy(f + 34, f + 36, 2);
	memcpy(f + 36, t, 2);
	f[46] = K_ECHO;
	send_frame(p, f, len);
}

static void on_rx(struct nbuf *b, u32 len)
{
	int p = b->q;
	struct rxstate *s = &rxs[p];
	const u8 *data = phys(b->addr);
	if (len > b->size)
		test_fail("rx queue %d: used length %u exceeds the %u-byte buffer", 2 * p, len, b->size);
	if (!s->left) {
		if (len < HDR_LEN)
			test_fail("rx queue %d: used length %u is shorter than the header", 2 * p, len);
		u16 nb = (u16)(data[10] | data[11] << 8);
		if (!mrg)
			nb = 1;
		if (!nb)
			test_fail("rx queue %d: num_buffers 0", 2 * p);
		s->left = nb;
		s->got = 0;
		data += HDR_LEN;
		len -= HDR_LEN;
	}
	if (s->got + len > sizeof(s->frame))
		test_fail("rx queue %d: frame longer than %u bytes", 2 * p, FRAME_MAX);
	memcpy(s->frame + s->got, data, len);
	s->got += len;
	s->left--;
	post_rx(p, b);
	if (!s->left)
		on_frame(p, s->frame, s->got);
}

static void on_done(void *cookie, u32 len)
{
	struct nbuf *b = cookie;
	if (b->kind == NB_RX) {
		on_rx(b, len);
	} else if (b->kind == NB_TX) {
		b->busy = 0;
		tx_done[b->q]++;
	} else {
		if (len != 1)
			pr("probe: net: note: control command completed with used len %u, expected 1\n", len);
		ctrl_done = 1;
	}
}

static void kick_dirty(void)
{
	for (int i = 0; i < v.nq; i++)
		if (dirty & (1u << i))
			vq_kick(&v, &v.vq[i]);
	dirty = 0;
}

/* Publishes pending chains, then waits for completions on every active queue until
   *count reaches want. */
static void wait_for(volatile u64 *count, u64 want, const char *what)
{
	struct vq *qs[2 * MAX_PAIRS + 1];
	int n = 0;
	for (int p = 0; p < npairs; p++) {
		qs[n++] = &v.vq[2 * p];
		qs[n++] = &v.vq[2 * p + 1];
	}
	if (ctrl_q >= 0)
		qs[n++] = &v.vq[ctrl_q];
	kick_dirty();
	u64 deadline = rdtsc() + 60 * tsc_hz();
	while (*count < want) {
		if (rdtsc() > deadline)
			test_fail("waiting for %s: %lu of %lu", what, *count, want);
		vq_wait(&v, qs, n, on_done, 30);
		kick_dirty();
	}
}

static void wait_tx_all(void)
{
	for (int p = 0; p < npairs; p++)
		wait_for(&tx_done[p], tx_sent[p], "tx completions");
}

/* Sends one control command laid out as the given out segments plus the ack byte; returns
   the ack. */
static u8 ctrl_cmd(const struct vbuf *out, int nout)
{
	struct vbuf vb[4];
	u8 *ack = phys(ctrlb.addr + 2048);
	*ack = 0xee;
	for (int i = 0; i < nout; i++)
		vb[i] = out[i];
	vb[nout] = (struct vbuf){ ctrlb.addr + 2048, 1, 1 };
	if (vq_add(&v.vq[ctrl_q], vb, nout + 1, &ctrlb) < 0)
		test_fail("control queue: no free descriptors");
	dirty |= 1u << ctrl_q;
	ctrl_done = 0;
	struct vq *q = &v.vq[ctrl_q];
	kick_dirty();
	u64 deadline = rdtsc() + 30 * tsc_hz();
	while (!ctrl_done) {
		if (rdtsc() > deadline)
			test_fail("control command not completed");
		vq_wait(&v, &q, 1, on_done, 30);
	}
	return *ack;
}

/* class, command and data in separate descriptors (as Linux lays them out). */
static u8 ctrl_simple(u8 cls, u8 cmd, const void *data, u32 dlen)
{
	u8 *h = phys(ctrlb.addr);
	h[0] = cls;
	h[1] = cmd;
	memcpy(h + 16, data, dlen);
	struct vbuf out[2] = { { ctrlb.addr, 2, 0 }, { ctrlb.addr + 16, dlen, 0 } };
	return ctrl_cmd(out, dlen ? 2 : 1);
}

static void set_pairs(u16 n)
{
	u8 a = ctrl_simple(CTRL_MQ, CTRL_MQ_VQ_PAIRS_SET, &n, 2);
	if (a != NET_OK)
		test_fail("VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET %u: ack %u, expected VIRTIO_NET_OK", n, a);
	pr("probe: net: VQ_PAIRS_SET %u acknowledged OK\n", n);
}

static void alloc_bufs(void)
{
	u32 rsz = mrg ? RXBUF_MRG : RXBUF_BIG;
	for (int p = 0; p < npairs; p++) {
		struct vq *rq = &v.vq[2 * p], *tq = &v.vq[2 * p + 1];
		u64 r = heap_alloc((u64)rq->size * rsz, 4096), t = heap_alloc((u64)tq->size / 2 * TXSLOT, 4096);
		for (u32 i = 0; i < rq->size; i++) {
			rxb[p][i] = (struct nbuf){ NB_RX, (u8)p, 0, 0, rsz, r + i * rsz };
			memset(phys(rxb[p][i].addr), 0xa5, rsz);
			post_rx(p, &rxb[p][i]);
		}
		for (u32 i = 0; i < tq->size / 2u; i++)
			txb[p][i] = (struct nbuf){ NB_TX, (u8)p, 0, 0, TXSLOT, t + i * TXSLOT };
		rxs[p].left = 0;
	}
	if (ctrl_q >= 0)
		ctrlb = (struct nbuf){ NB_CTRL, 0, 0, 0, 4096, heap_alloc(4096, 4096) };
}

/* Finds the device and starts it; with_mq: CTRL_VQ + MQ and every queue (ctrl = 2 * max). */
static void net_open(int with_mq)
{
	if (virtio_find(&v, 1))
		test_fail("no virtio-net device (1af4:1041, or transitional 1af4:1000) on PCI bus 0");
	virtio_irq_start();
	u64 want = F(NET_F_MAC) | F(NET_F_MRG_RXBUF) | F(NET_F_STATUS);
	if (with_mq)
		want |= F(NET_F_CTRL_VQ) | F(NET_F_MQ);
	virtio_start(&v, want, 2);
	u16 maxp = 1;
	if (with_mq) {
		if ((v.features & (F(NET_F_CTRL_VQ) | F(NET_F_MQ))) != (F(NET_F_CTRL_VQ) | F(NET_F_MQ)))
			test_fail("VIRTIO_NET_F_CTRL_VQ and VIRTIO_NET_F_MQ not both offered (features 0x%lx)",
				  v.offered);
		maxp = virtio_cfg16(&v, CFG_MAX_PAIRS);
		if (maxp < 2)
			test_fail("max_virtqueue_pairs %u: fewer than 2", maxp);
		if (2 * maxp + 1 > VIRTIO_MAX_QUEUES)
			test_fail("max_virtqueue_pairs %u: the probe sets up at most %d queues", maxp, VIRTIO_MAX_QUEUES);
		virtio_start(&v, want, 2 * maxp + 1);
		ctrl_q = 2 * maxp;
		npairs = MAX_PAIRS;
	} else {
		npairs = 1;
	}
	mrg = !!(v.features & F(NET_F_MRG_RXBUF));
	if (!(v.features & F(NET_F_MAC)))
		test_fail("VIRTIO_NET_F_MAC not offered");
	for (int i = 0; i < 6; i++)
		mac[i] = virtio_cfg8(&v, CFG_MAC + (u32)i);
	u16 st = v.features & F(NET_F_STATUS) ? virtio_cfg16(&v, CFG_STATUS) : 1;
	pr("probe: net: mac %02x:%02x:%02x:%02x:%02x:%02x, status 0x%x, max_virtqueue_pairs %u, mrg_rxbuf %s, "
	   "ctrl queue %d\n",
	   mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], st, maxp, mrg ? "yes" : "no", ctrl_q);
	alloc_bufs();
}

static noreturn void report_and_pass(const char *tag)
{
	u64 irqs = 0, by_irq = 0, by_poll = 0;
	for (int i = 0; i < v.nq; i++) {
		struct vq *q = &v.vq[i];
		pr("probe: %s: queue %d: %lu chains, %lu interrupts on vector 0x%x, %lu completions via interrupt, "
		   "%lu by polling\n",
		   tag, i, q->requests, q->irqs, q->vector, q->by_irq, q->by_poll);
		irqs += q->irqs;
		by_irq += q->by_irq;
		by_poll += q->by_poll;
	}
	pr("probe: %s: %lu interrupts, %lu completions via interrupt, %lu polled, %lu other frames ignored\n", tag,
	   irqs, by_irq, by_poll, rx_other);
	if (!by_irq)
		test_fail("no completion was signalled by an MSI-X interrupt");
	virtio_reset(&v);
	virtio_irq_stop();
	test_pass();
}

/* Sends the NFRAMES test frames; frame s goes on pair (s % 16) % npairs (its flow's pair). */
static void tx_phase(const char *tag)
{
	for (u32 s = 0; s < NFRAMES; s++)
		send_test_frame((int)((s % 16) % (u32)npairs), s, K_TX, frame_size(s));
	wait_tx_all();
	pr("probe: %s: %u frames sent (tx pair 0: %lu, pair 1: %lu)\n", tag, NFRAMES, tx_done[0], tx_done[1]);
}

/* Tells the peer we are ready, then verifies and echoes its NFRAMES frames. */
static void rx_phase(const char *tag)
{
	send_test_frame(0, 0, K_READY, FRAME_MIN);
	wait_tx_all();
	pr("probe: %s: READY sent, waiting for %u frames\n", tag, NFRAMES);
	wait_for(&rx_total, NFRAMES, "received test frames");
	wait_tx_all();
	pr("probe: %s: %u frames received, verified byte for byte and echoed (pair 0: %lu, pair 1: %lu)\n", tag,
	   NFRAMES, rx_frames[0], rx_frames[1]);
}

noreturn void test_net_tx(void)
{
	net_open(0);
	tx_phase("net-tx");
	report_and_pass("net-tx");
}

noreturn void test_net_rx(void)
{
	net_open(0);
	rx_phase("net-rx");
	report_and_pass("net-rx");
}

noreturn void test_net_mq(void)
{
	net_open(1);
	set_pairs(MAX_PAIRS);
	tx_phase("net-mq");
	rx_phase("net-mq");
	for (int p = 0; p < MAX_PAIRS; p++) {
		if (!tx_done[p])
			test_fail("pair %d: no frame sent", p);
		if (!rx_frames[p])
			test_fail("pair %d: no frame received", p);
	}
	report_and_pass("net-mq");
}

/* Multi-queue device, the driver uses one pair (as Linux with one vCPU): every frame of every
   flow must still arrive, on pair 0 (a tap queue nobody reads must leave the tap's steering). */
noreturn void test_net_mq_one(void)
{
	net_open(1);
	set_pairs(1);
	rx_phase("net-mq-one");
	if (rx_frames[1])
		test_fail("%lu frames on pair 1, which the driver does not use", rx_frames[1]);
	report_and_pass("net-mq-one");
}

/* Control commands a device must refuse with VIRTIO_NET_ERR, then valid ones (one of them
   with header and data in a single descriptor) that must still work. */
noreturn void test_net_ctrl_bad(void)
{
	net_open(1);
	u16 maxp = virtio_cfg16(&v, CFG_MAX_PAIRS), z = 0, big = (u16)(maxp + 1), two = 2;
	struct {
		const char *what;
		u8 cls, cmd;
		const void *data;
		u32 len;
	} bad[] = {
		{ "VQ_PAIRS_SET 0", CTRL_MQ, CTRL_MQ_VQ_PAIRS_SET, &z, 2 },
		{ "VQ_PAIRS_SET max+1", CTRL_MQ, CTRL_MQ_VQ_PAIRS_SET, &big, 2 },
		{ "VQ_PAIRS_SET with 1 data byte", CTRL_MQ, CTRL_MQ_VQ_PAIRS_SET, &two, 1 },
		{ "unknown class 0x7f", 0x7f, 0, &two, 2 },
		{ "unknown MQ command 0x7f", CTRL_MQ, 0x7f, &two, 2 },
	};
	for (u32 i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		u8 a = ctrl_simple(bad[i].cls, bad[i].cmd, bad[i].data, bad[i].len);
		pr("probe: net-ctrl-bad: %s: ack %u\n", bad[i].what, a);
		if (a != NET_ERR)
			test_fail("%s: ack %u, expected VIRTIO_NET_ERR", bad[i].what, a);
	}
	u8 *h = phys(ctrlb.addr);
	h[0] = CTRL_MQ;
	h[1] = CTRL_MQ_VQ_PAIRS_SET;
	h[2] = 2;
	h[3] = 0;
	struct vbuf one[1] = { { ctrlb.addr, 4, 0 } };
	u8 a = ctrl_cmd(one, 1);
	pr("probe: net-ctrl-bad: VQ_PAIRS_SET 2 in one descriptor: ack %u\n", a);
	if (a != NET_OK)
		test_fail("VQ_PAIRS_SET 2 in one descriptor: ack %u, expected VIRTIO_NET_OK", a);
	set_pairs(1);
	u16 st = virtio_status(&v);
	if (st & 0xc0)
		test_fail("device status 0x%x after the commands", st);
	report_and_pass("net-ctrl-bad");
}

/* A control-queue chain the device must refuse as a whole: bad=loop (the ack descriptor's
   next points back at the head) or bad=oob (the header buffer lies far outside RAM). The
   device must show DEVICE_NEEDS_RESET (0x40) within 10 s; it must not complete the chain. */
noreturn void test_net_ctrl_ring_bad(void)
{
	char kind[16] = "loop";
	cmdline_get("bad", kind, sizeof(kind));
	int loop = !strcmp(kind, "loop");
	if (!loop && strcmp(kind, "oob"))
		test_fail("bad= must be loop or oob, not '%s'", kind);
	net_open(1);
	kick_dirty();
	u8 *h = phys(ctrlb.addr);
	h[0] = CTRL_MQ;
	h[1] = CTRL_MQ_VQ_PAIRS_SET;
	h[2] = 1;
	h[3] = 0;
	struct vq *q = &v.vq[ctrl_q];
	u16 head = q->free_head;
	struct vbuf vb[2] = { { loop ? ctrlb.addr : 0xfff00000000ULL, 4, 0 }, { ctrlb.addr + 2048, 1, 1 } };
	if (vq_add(q, vb, 2, &ctrlb) < 0)
		test_fail("control queue: no free descriptors");
	if (loop) {
		u16 second = q->desc[head].next;
		q->desc[second].flags |= VIRTQ_DESC_F_NEXT;
		q->desc[second].next = head;
	}
	pr("probe: net-ctrl-ring-bad: %s chain at head %u sent\n", kind, head);
	vq_kick(&v, q);
	u64 deadline = rdtsc() + 10 * tsc_hz();
	while (!(virtio_status(&v) & 0x40)) {
		if (rdtsc() > deadline)
			test_fail("status 0x%x: no DEVICE_NEEDS_RESET 10 s after a %s chain (used idx %u)",
				  virtio_status(&v), kind, q->used->idx);
		__asm__ volatile("sti; hlt; cli");
	}
	if (q->used->idx)
		test_fail("the bad chain was completed (used idx %u)", q->used->idx);
	pr("probe: net-ctrl-ring-bad: device status 0x%x: DEVICE_NEEDS_RESET, chain not completed\n",
	   virtio_status(&v));
	pr("probe: net-ctrl-ring-bad: resetting the device and sending a good command\n");
	virtio_start(&v, v.features, v.nq);	/* a reset must bring the device back */
	alloc_bufs();
	set_pairs(1);
	virtio_reset(&v);
	virtio_irq_stop();
	test_pass();
}
