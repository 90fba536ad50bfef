/* netfront.c: cellvm-net tests: this process plays the guest's driver and the host peer on the tap. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vnet.h"

#define QSIZE 256
#define GSO_TCPV4 1
#define F_NEEDS_CSUM 1
#define CHECK(c, ...) do { if (!(c)) { fprintf(stderr, "FAIL: " __VA_ARGS__); \
	fputc('\n', stderr); return 1; } } while (0)

struct ctx {
	const char *sock, *ifname;
	bool mrg;
	struct vn n;
	int peer;
	uint8_t *a, *b;     /* frame buffers, VN_MAX_FRAME + 4096 each */
};

static const uint64_t base_features = (1ull << VN_F_MAC) | (1ull << VN_F_STATUS) |
				      (1ull << VN_F_MQ);

static int start(struct ctx *c, uint64_t features, unsigned pairs)
{
	int rc = vn_start(&c->n, c->sock, base_features | features |
			  (c->mrg ? 1ull << VN_F_MRG_RXBUF : 0), pairs, QSIZE);

	CHECK(rc == 0, "frontend start-up: %s", strerror(-rc));
	CHECK(c->n.status == 1, "config status %u, want LINK_UP", c->n.status);
	CHECK(c->n.max_pairs == pairs, "config max_virtqueue_pairs %u, want %u", c->n.max_pairs,
	      pairs);
	CHECK(!(c->n.mac[0] & 1), "config mac is multicast");
	CHECK(vn_has(&c->n, VN_F_MRG_RXBUF) == c->mrg, "MRG_RXBUF not negotiated as asked");
	return 0;
}

/* Sends one frame from the driver and checks it reaches the peer byte for byte. */
static int tx_check(struct ctx *c, unsigned pair, const struct vn_hdr *h, size_t len,
		    unsigned nseg, bool indirect, uint32_t seq, struct vn_hdr *got)
{
	int rc, r;

	vn_frame(c->a, len, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x01 }, seq);
	rc = vn_tx(&c->n, pair, h, c->a, len, nseg, indirect);
	CHECK(rc == 0, "tx of %zu bytes: chain not returned: %s", len, strerror(-rc));
	r = peer_recv(c->peer, 2000, got, c->b, VN_MAX_FRAME + 4096);
	CHECK(r == (int)len, "tx of %zu bytes: the peer got %d", len, r);
	CHECK(!memcmp(c->a, c->b, len), "tx of %zu bytes: the peer's copy differs", len);
	return 0;
}

/* An IPv4/TCP frame of len bytes for TSO: headers, then the payload pattern. */
static void tcp_frame(uint8_t *f, size_t len)
{
	uint16_t tot = htons((uint16_t)(len - 14));

	vn_frame(f, len, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x01 }, 7);
	f[12] = 0x08, f[13] = 0x00;
	memset(f + 14, 0, 40);
	f[14] = 0x45, f[22] = 64, f[23] = 6;            /* IPv4, ttl, TCP */
	memcpy(f + 16, &tot, 2);
	memcpy(f + 26, (const uint8_t[8]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
	f[34] = 0x30, f[35] = 0x39, f[36] = 0x00, f[37] = 0x50; /* ports 12345 -> 80 */
	f[46] = 0x50, f[47] = 0x10, f[48] = 0xff, f[49] = 0xff; /* data offset 5, ACK, window */
}

static int t_tx(struct ctx *c)
{
	static const size_t sizes[] = { 60, 64, 128, 333, 512, 1000, 1514 };
	struct vn_hdr h = { 0 }, got;

	if (start(c, (1ull << VN_F_CSUM) | (1ull << VN_F_HOST_TSO4), 1))
		return 1;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (tx_check(c, 0, &h, sizes[i], i % 4, i % 2, i, &got))
			return 1;
	/* 64 KiB TSO: one frame, segmented by the host, its vnet header carried through. */
	tcp_frame(c->a, 65000);
	h = (struct vn_hdr){ .flags = F_NEEDS_CSUM, .gso_type = GSO_TCPV4, .hdr_len = 54,
			     .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	CHECK(vn_tx(&c->n, 0, &h, c->a, 65000, 8, true) == 0, "TSO frame not returned");
	int r = peer_recv(c->peer, 2000, &got, c->b, VN_MAX_FRAME + 4096);

	CHECK(r == 65000, "TSO frame: the peer got %d bytes", r);
	CHECK(!memcmp(c->a, c->b, 65000), "TSO frame: the peer's copy differs");
	CHECK(got.gso_type == GSO_TCPV4 && got.gso_size == 1448 && (got.flags & F_NEEDS_CSUM),
	      "TSO frame: the peer saw gso_type %u gso_size %u flags %u", got.gso_type,
	      got.gso_size, got.flags);
	printf("tx: %zu frame sizes and a 65000-byte TSO frame arrived intact\n",
	       sizeof(sizes) / sizeof(sizes[0]));
	return 0;
}

/* The peer sends a frame; the driver gets it from its rx chains. */
static int rx_check(struct ctx *c, unsigned pair, size_t len, uint32_t seq)
{
	struct vn_hdr h = { 0 };
	int r;

	vn_frame(c->a, len, c->n.mac, seq);
	CHECK(peer_send(c->peer, &h, c->a, len) == 0, "peer send of %zu bytes: %m", len);
	do
		r = vn_rx(&c->n, pair, 2000, &h, c->b, VN_MAX_FRAME + 4096);
	while (r >= 14 && (c->b[12] != 0x88 || c->b[13] != 0xb5)); /* host chatter */
	CHECK(r == (int)len, "rx of %zu bytes: the driver got %d", len, r);
	CHECK(!memcmp(c->a, c->b, len), "rx of %zu bytes: the driver's copy differs", len);
	CHECK(h.gso_type == 0 && h.flags == 0, "rx header flags %u gso %u", h.flags, h.gso_type);
	return 0;
}

static int t_rx(struct ctx *c)
{
	static const size_t sizes[] = { 60, 100, 512, 1000, 1514, 4000, 9014 };

	if (start(c, 0, 1))
		return 1;
	/* MRG_RXBUF: 2 KiB single buffers, so big frames span chains (num_buffers > 1);
	 * without: chains of three buffers (header, then two) that hold the largest frame. */
	if (c->mrg)
		CHECK(vn_rx_post(&c->n, 0, 64, 2048, 1) == 0, "rx post");
	else
		CHECK(vn_rx_post(&c->n, 0, 32, 9100, 3) == 0, "rx post");
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (rx_check(c, 0, sizes[i], i))
			return 1;
	printf("rx%s: %zu frame sizes up to 9014 bytes arrived intact\n", c->mrg ? " (mrg)" : "",
	       sizeof(sizes) / sizeof(sizes[0]));
	return 0;
}

/* A 64 KiB TSO frame from the host: one frame when the driver took GUEST_TSO4 (the tap's
 * offloads follow the negotiated features), MSS-sized segments when it did not. */
static int t_rx_tso(struct ctx *c, bool tso)
{
	struct vn_hdr h = { .flags = F_NEEDS_CSUM, .gso_type = GSO_TCPV4, .hdr_len = 54,
			    .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	unsigned segs = 0;
	size_t bytes = 0;
	int r;

	if (start(c, tso ? (1ull << VN_F_GUEST_CSUM) | (1ull << VN_F_GUEST_TSO4) : 0, 1))
		return 1;
	CHECK(c->mrg, "rx-tso needs -m (MRG_RXBUF)");
	CHECK(vn_rx_post(&c->n, 0, 128, 2048, 1) == 0, "rx post");
	tcp_frame(c->a, 65000);
	CHECK(peer_send(c->peer, &h, c->a, 65000) == 0, "peer send of a TSO frame: %m");
	while ((r = vn_rx(&c->n, 0, 1000, &h, c->b, VN_MAX_FRAME + 4096)) > 0) {
		if (r < 54 || c->b[23] != 6)
			continue; /* not our TCP frame */
		if (tso) {
			CHECK(r == 65000 && !memcmp(c->a, c->b, 65000), "TSO rx: %d bytes or differs", r);
			CHECK(h.gso_type == GSO_TCPV4 && h.gso_size == 1448 && (h.flags & F_NEEDS_CSUM),
			      "TSO rx header: gso_type %u gso_size %u flags %u", h.gso_type, h.gso_size,
			      h.flags);
			printf("rx-tso: one 65000-byte frame with its TSO header (GUEST_TSO4)\n");
			return 0;
		}
		CHECK(r <= 1514 && h.gso_type == 0 && h.flags == 0, "segment of %d bytes, gso %u flags %u",
		      r, h.gso_type, h.flags);
		CHECK(!memcmp(c->b + 54, c->a + 54 + bytes, (size_t)r - 54), "segment payload differs");
		segs++, bytes += (size_t)r - 54;
	}
	CHECK(!tso && bytes == 65000 - 54, "rx: %u segments, %zu payload bytes of %d", segs, bytes,
	      65000 - 54);
	printf("rx-notso: the host split the frame into %u segments (no GUEST_TSO4)\n", segs);
	return 0;
}

/* MRG_RXBUF: a frame needing 5 chains while 2 are posted waits, holding them, and comes
 * whole (num_buffers 5) once the driver posts more. */
static int t_rx_partial(struct ctx *c)
{
	struct vn_hdr h = { 0 };
	uint32_t id, len;
	int r;

	if (start(c, 0, 1))
		return 1;
	CHECK(c->mrg, "rx-partial needs -m (MRG_RXBUF)");
	CHECK(vn_rx_post(&c->n, 0, 2, 2048, 1) == 0, "rx post");
	vn_frame(c->a, 9014, c->n.mac, 42);
	CHECK(peer_send(c->peer, &h, c->a, 9014) == 0, "peer send: %m");
	usleep(200 * 1000);
	CHECK(vf_wait_used(&c->n.f, 0, 100, &id, &len) == -ETIMEDOUT,
	      "a part of the frame was published before all of it fitted");
	CHECK(vn_rx_post(&c->n, 0, 3, 2048, 1) == 0, "rx post");
	r = vn_rx(&c->n, 0, 2000, &h, c->b, VN_MAX_FRAME + 4096);
	CHECK(r == 9014 && !memcmp(c->a, c->b, 9014), "held frame: got %d bytes or they differ", r);
	CHECK(h.num_buffers == 5, "held frame: num_buffers %u, want 5", h.num_buffers);
	printf("rx-partial: a 9014-byte frame waited on 2 chains, then arrived over 5\n");
	return 0;
}

/* An IPv4/UDP frame to the guest, port chosen by seq: flows spread over tap queues. */
static void udp_frame(struct ctx *c, size_t len, uint32_t seq)
{
	uint16_t tot = htons((uint16_t)(len - 14)), port = htons((uint16_t)(1000 + seq * 7919));

	vn_frame(c->a, len, c->n.mac, seq);
	c->a[12] = 0x08, c->a[13] = 0x00;
	memset(c->a + 14, 0, 28);
	c->a[14] = 0x45, c->a[22] = 64, c->a[23] = 17;
	memcpy(c->a + 16, &tot, 2);
	memcpy(c->a + 26, (const uint8_t[8]){ 10, 0, 0, 2, 10, 0, 0, 1 }, 8);
	memcpy(c->a + 34, &port, 2);
	memcpy(c->a + 36, &port, 2);
	tot = htons((uint16_t)(len - 34));
	memcpy(c->a + 38, &tot, 2);
	memcpy(c->a + 42, &seq, 4);
}

static int mq_rx(struct ctx *c, unsigned nframes, unsigned per_pair[2])
{
	struct vn_hdr h = { 0 };
	unsigned got = 0;

	for (uint32_t s = 0; s < nframes; s++) {
		udp_frame(c, 200, s);
		CHECK(peer_send(c->peer, &h, c->a, 200) == 0, "peer send: %m");
	}
	for (int idle = 0; got < nframes && idle < 20; idle++)
		for (unsigned p = 0; p < 2; p++) {
			int r;

			while ((r = vn_rx(&c->n, p, 50, &h, c->b, VN_MAX_FRAME)) > 0)
				if (r == 200 && c->b[23] == 17)
					got++, per_pair[p]++, idle = 0;
		}
	CHECK(got == nframes, "mq rx: %u of %u frames arrived", got, nframes);
	return 0;
}

static int t_mq(struct ctx *c)
{
	unsigned rx[2] = { 0, 0 };
	struct vn_hdr h = { 0 }, got;

	if (start(c, 0, 2))
		return 1;
	for (uint32_t s = 0; s < 40; s++)
		if (tx_check(c, s % 2, &h, 100 + s, 0, false, s, &got))
			return 1;
	for (unsigned p = 0; p < 2; p++)
		CHECK(vn_rx_post(&c->n, p, 100, 2048, 1) == 0, "rx post");
	if (mq_rx(c, 64, rx))
		return 1;
	CHECK(rx[0] && rx[1], "mq rx: pair 0 got %u, pair 1 got %u: not both", rx[0], rx[1]);
	printf("mq: tx 20+20 frames on 2 pairs; rx 64 flows: pair 0 %u, pair 1 %u\n", rx[0], rx[1]);
	return 0;
}

/* Frames wait in the tap while the rx ring is empty; none lost once buffers come. */
static int t_backpressure(struct ctx *c)
{
	struct vn_hdr h = { 0 };
	uint32_t id, len;
	const unsigned total = 200;

	if (start(c, 0, 1))
		return 1;
	for (uint32_t s = 0; s < total; s++) {
		vn_frame(c->a, 300, c->n.mac, s);
		CHECK(peer_send(c->peer, &h, c->a, 300) == 0, "peer send: %m");
	}
	usleep(200 * 1000);
	CHECK(vf_wait_used(&c->n.f, 0, 100, &id, &len) == -ETIMEDOUT, "used entry with no buffers");
	for (uint32_t s = 0, posted = 0; s < total; s++) {
		uint32_t seq;
		int r;

		if (s == posted) { /* a few buffers at a time: every refill is a kick */
			CHECK(vn_rx_post(&c->n, 0, 50, 2048, 1) == 0, "rx post");
			posted += 50;
		}
		do
			r = vn_rx(&c->n, 0, 2000, &h, c->b, VN_MAX_FRAME);
		while (r > 14 && (c->b[12] != 0x88 || c->b[13] != 0xb5));
		CHECK(r == 300, "back-pressure: frame %u: got %d", s, r);
		memcpy(&seq, c->b + 14, 4);
		CHECK(seq == s, "back-pressure: frame %u arrived as %u (lost or reordered)", s, seq);
	}
	printf("backpressure: %u frames held in the tap while the ring was empty, none lost\n",
	       total);
	return 0;
}

/* The rest of the device still works after one queue broke. */
static int survives(struct ctx *c, bool tx_broken)
{
	uint64_t feat;
	struct vn_hdr h = { 0 }, got;

	CHECK(vf_msg(&c->n.f, 1, NULL, 0, NULL, 0, &feat, 8) == 8, "backend stopped answering");
	if (tx_broken) {
		CHECK(vn_rx_post(&c->n, 0, 4, 2048, 1) == 0, "rx post");
		return rx_check(c, 0, 500, 1);
	}
	return tx_check(c, 0, &h, 500, 0, false, 1, &got);
}

static int bad_tx(struct ctx *c, const struct vf_buf *b, unsigned nb)
{
	uint32_t id, len;

	vf_post(&c->n.f, 1, b, nb, false);
	vf_kick(&c->n.f, 1);
	CHECK(vf_wait_used(&c->n.f, 1, 300, &id, &len) == -ETIMEDOUT, "bad tx chain was used");
	return survives(c, true);
}

static int t_bad(struct ctx *c, const char *what)
{
	uint64_t at;
	uint32_t id, len;

	if (start(c, 0, 1))
		return 1;
	at = vf_alloc(&c->n.f, VN_HDR_LEN + VN_MAX_FRAME + 16);
	memset(vf_ptr(&c->n.f, at), 0, 64);
	if (!strcmp(what, "short-hdr"))
		return bad_tx(c, (struct vf_buf[]){ { at, 8, false } }, 1);
	if (!strcmp(what, "oversize"))
		return bad_tx(c, (struct vf_buf[]){ { at, VN_HDR_LEN, false },
						     { at + 64, VN_MAX_FRAME + 1, false } }, 2);
	if (!strcmp(what, "writable"))
		return bad_tx(c, (struct vf_buf[]){ { at, VN_HDR_LEN + 60, false },
						     { at + 4096, 64, true } }, 2);
	if (!strcmp(what, "addr"))
		return bad_tx(c, (struct vf_buf[]){ { at, VN_HDR_LEN, false },
						     { VF_HOLE_GPA, 60, false } }, 2);
	if (!strcmp(what, "rx-readable")) {
		struct vn_hdr h = { 0 };

		vf_post(&c->n.f, 0, (struct vf_buf[]){ { at, 2048, false } }, 1, false);
		vf_kick(&c->n.f, 0);
		vn_frame(c->a, 100, c->n.mac, 0);
		CHECK(peer_send(c->peer, &h, c->a, 100) == 0, "peer send: %m");
		CHECK(vf_wait_used(&c->n.f, 0, 300, &id, &len) == -ETIMEDOUT, "bad rx chain used");
		return survives(c, false);
	}
	return fprintf(stderr, "unknown bad case %s\n", what), 2;
}

int main(int argc, char **argv)
{
	static struct ctx c;
	const char *test = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "s:i:t:m")) != -1) {
		if (opt == 's') c.sock = optarg;
		else if (opt == 'i') c.ifname = optarg;
		else if (opt == 't') test = optarg;
		else if (opt == 'm') c.mrg = true;
		else return 2;
	}
	if (!c.sock || !c.ifname || !test)
		return fprintf(stderr, "usage: netfront -s SOCK -i TAP -t TEST [-m]\n"), 2;
	c.a = malloc(VN_MAX_FRAME + 4096);
	c.b = malloc(VN_MAX_FRAME + 4096);
	c.peer = peer_open(c.ifname);
	if (!c.a || !c.b || c.peer < 0)
		return fprintf(stderr, "peer on %s: %s\n", c.ifname, strerror(-c.peer)), 1;
	if (!strcmp(test, "tx"))
		return t_tx(&c);
	if (!strcmp(test, "rx"))
		return t_rx(&c);
	if (!strcmp(test, "rx-tso") || !strcmp(test, "rx-notso"))
		return t_rx_tso(&c, !strcmp(test, "rx-tso"));
	if (!strcmp(test, "rx-partial"))
		return t_rx_partial(&c);
	if (!strcmp(test, "mq"))
		return t_mq(&c);
	if (!strcmp(test, "backpressure"))
		return t_backpressure(&c);
	if (!strncmp(test, "bad-", 4))
		return t_bad(&c, test + 4);
	return fprintf(stderr, "unknown test %s\n", test), 2;
}
