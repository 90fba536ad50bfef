/* net.c: cellvm-net benchmark harness: frames/s through the backend (tx or rx) or straight through a tap fd. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../../tests/net/vnet.h"

#define QSIZE 256u

struct bench {
	const char *sock, *ifname, *mode;
	size_t size;
	double secs;
	struct vn n;
	volatile bool stop;
	uint8_t frame[VN_HDR_LEN + 9100];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t if_stat(const char *ifname, const char *what)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, what);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* The host side of rx: an AF_PACKET socket blasting frames into the tap until told to stop. */
static void *blaster(void *arg)
{
	struct bench *b = arg;
	struct vn_hdr h = { 0 };
	int fd = peer_open(b->ifname);

	if (fd < 0)
		return NULL;
	while (!b->stop)
		peer_send(fd, &h, b->frame + VN_HDR_LEN, b->size);
	close(fd);
	return NULL;
}

/* Guest tx: keeps the ring full of one-buffer chains; the tap's rx_packets counts delivery. */
static uint64_t run_vtx(struct bench *b, double *secs)
{
	uint64_t at = vf_alloc(&b->n.f, VN_HDR_LEN + b->size), done = 0;
	unsigned inflight = 0;
	uint64_t start_pk = if_stat(b->ifname, "rx_packets");
	double t0 = now();

	memcpy(vf_ptr(&b->n.f, at), b->frame, VN_HDR_LEN + b->size);
	while ((*secs = now() - t0) < b->secs) {
		uint32_t id, len;

		while (inflight < QSIZE) {
			vf_post(&b->n.f, 1, (struct vf_buf[]){ { at, (uint32_t)(VN_HDR_LEN + b->size), false } },
				1, false);
			inflight++;
		}
		vf_kick(&b->n.f, 1);
		if (vf_wait_used(&b->n.f, 1, 1000, &id, &len))
			break;
		inflight--, done++;
		while (vf_wait_used(&b->n.f, 1, 0, &id, &len) == 0)
			inflight--, done++;
	}
	return if_stat(b->ifname, "rx_packets") - start_pk;
}

/* Guest rx: the ring full of 2 KiB chains, reposted as they come back. */
static uint64_t run_vrx(struct bench *b, double *secs)
{
	uint64_t at = vf_alloc(&b->n.f, QSIZE * 2048ull), got = 0;
	pthread_t th;
	double t0;

	for (unsigned i = 0; i < QSIZE; i++)
		vf_post(&b->n.f, 0, (struct vf_buf[]){ { at + i * 2048ull, 2048, true } }, 1, false);
	vf_kick(&b->n.f, 0);
	pthread_create(&th, NULL, blaster, b);
	t0 = now();
	while ((*secs = now() - t0) < b->secs) {
		uint32_t id, len;
		unsigned n = 0;

		if (vf_wait_used(&b->n.f, 0, 1000, &id, &len))
			break;
		do {
			struct vf_desc *d = &b->n.f.q[0].desc[id];

			vf_post(&b->n.f, 0, (struct vf_buf[]){ { d->addr, 2048, true } }, 1, false);
			got++, n++;
		} while (vf_wait_used(&b->n.f, 0, 0, &id, &len) == 0);
		vf_kick(&b->n.f, 0);
	}
	b->stop = true;
	pthread_join(th, NULL);
	return got;
}

/* Only the host's sender for -d seconds (a DPDK frontend on the other end counts). */
static uint64_t run_blast(struct bench *b, double *secs)
{
	struct vn_hdr h = { 0 };
	int fd = peer_open(b->ifname);
	uint64_t sent = 0;
	double t0 = now();

	if (fd < 0)
		return perror("AF_PACKET"), 0;
	while ((*secs = now() - t0) < b->secs)
		sent += peer_send(fd, &h, b->frame + VN_HDR_LEN, b->size) == 0;
	close(fd);
	return sent;
}

static int tap_fd(const char *ifname)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), sz = VN_HDR_LEN;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
		return -1;
	return fd;
}

/* The baselines: the same frames written to / read from a tap fd, no virtio in between. */
static uint64_t run_raw(struct bench *b, bool tx, double *secs)
{
	int fd = tap_fd(b->ifname);
	uint64_t start_pk = if_stat(b->ifname, "rx_packets"), got = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t buf[VN_HDR_LEN + 9100];
	pthread_t th;
	double t0;

	if (fd < 0)
		return perror("tap"), 0;
	if (!tx)
		pthread_create(&th, NULL, blaster, b);
	t0 = now();
	while ((*secs = now() - t0) < b->secs) {
		if (tx) {
			if (write(fd, b->frame, VN_HDR_LEN + b->size) < 0)
				break;
		} else if (poll(&p, 1, 1000) == 1 && read(fd, buf, sizeof(buf)) > 0) {
			got++;
		}
	}
	if (!tx) {
		b->stop = true;
		pthread_join(th, NULL);
	}
	close(fd);
	return tx ? if_stat(b->ifname, "rx_packets") - start_pk : got;
}

int main(int argc, char **argv)
{
	static struct bench b = { .size = 64, .secs = 2 };
	uint64_t frames;
	double secs = 0;
	int opt;

	while ((opt = getopt(argc, argv, "s:i:m:z:d:")) != -1) {
		if (opt == 's') b.sock = optarg;
		else if (opt == 'i') b.ifname = optarg;
		else if (opt == 'm') b.mode = optarg;
		else if (opt == 'z') b.size = strtoul(optarg, NULL, 10);
		else if (opt == 'd') b.secs = strtod(optarg, NULL);
		else return 2;
	}
	if (!b.ifname || !b.mode || b.size < 60 || b.size > 9014)
		return fprintf(stderr, "usage: net_harness -i TAP -m vtx|vrx|rawtx|rawrx|blast [-s SOCK] "
			       "[-z 60..9014] [-d SECONDS]\n"), 2;
	vn_frame(b.frame + VN_HDR_LEN, b.size, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x01 }, 1);
	if (b.mode[0] == 'v') {
		int rc = b.sock ? vn_start(&b.n, b.sock, 1ull << VN_F_MRG_RXBUF, 1, QSIZE) : -EINVAL;

		if (rc)
			return fprintf(stderr, "frontend: %s\n", strerror(-rc)), 1;
	}
	if (!strcmp(b.mode, "vtx"))
		frames = run_vtx(&b, &secs);
	else if (!strcmp(b.mode, "vrx"))
		frames = run_vrx(&b, &secs);
	else if (!strcmp(b.mode, "blast"))
		frames = run_blast(&b, &secs);
	else
		frames = run_raw(&b, !strcmp(b.mode, "rawtx"), &secs);
	printf("%s %zu %llu %.3f %.0f %.3f\n", b.mode, b.size, (unsigned long long)frames, secs,
	       frames / secs, frames * b.size * 8 / secs / 1e9);
	return 0;
}
