/* blk.c: vhost-user-blk benchmark harness: 4 KiB random I/O at a fixed queue depth, per-request latency. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../tests/vhost/vfront.h"
#include "../../devices/lib/virtio_blk.h"

#define BS          4096u
#define MAX_DEPTH   64u
#define QSIZE       256u       /* three descriptors per request, fixed per slot */
#define F_EVENT_IDX 29

struct slot {
	uint64_t hdr_gpa, data_gpa;
	uint8_t *hdr;
	uint64_t t0;
};

struct job {
	const char *name;
	uint32_t type;
	unsigned depth;
};

struct stats {
	uint32_t *lat;             /* ns per completed request inside the window */
	size_t n, cap;
	uint64_t kicks, waits, errors;
	uint64_t start, end;       /* the window: after warm-up to the last completion */
	bool rec;
};

struct bench {
	struct vf f;
	struct slot slots[MAX_DEPTH];
	uint16_t free[MAX_DEPTH];
	unsigned nfree;
	uint64_t blocks, rng;
	uint64_t poll_ns;          /* --poll-us: the driver spins this long before sleeping */
	bool event_idx;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t next_block(struct bench *b)
{
	b->rng ^= b->rng << 13; /* xorshift64 */
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng % b->blocks;
}

/* Slot s owns descriptors 3s..3s+2: header, data, status; they never change. */
static void setup_slots(struct bench *b)
{
	struct vf_queue *q = &b->f.q[0];
	uint64_t hdrs = vf_alloc(&b->f, MAX_DEPTH * 32), data = vf_alloc(&b->f, MAX_DEPTH * BS);

	for (unsigned s = 0; s < MAX_DEPTH; s++) {
		struct slot *sl = &b->slots[s];
		uint16_t d = (uint16_t)(3 * s);

		sl->hdr_gpa = hdrs + 32ull * s;
		sl->data_gpa = data + (uint64_t)BS * s;
		sl->hdr = vf_ptr(&b->f, sl->hdr_gpa);
		q->desc[d] = (struct vf_desc){ sl->hdr_gpa, 16, VF_DESC_NEXT, (uint16_t)(d + 1) };
		q->desc[d + 1] = (struct vf_desc){ sl->data_gpa, BS, VF_DESC_NEXT, (uint16_t)(d + 2) };
		q->desc[d + 2] = (struct vf_desc){ sl->hdr_gpa + 16, 1, VF_DESC_WRITE, 0 };
	}
}

static void fill_request(struct bench *b, unsigned s, uint32_t type)
{
	struct vf_queue *q = &b->f.q[0];
	struct virtio_blk_hdr h = { .type = type, .sector = next_block(b) * (BS / VIRTIO_BLK_SECTOR) };

	memcpy(b->slots[s].hdr, &h, 16);
	b->slots[s].hdr[16] = 0xff;
	q->desc[3 * s + 1].flags = (uint16_t)(VF_DESC_NEXT | (type == VIRTIO_BLK_T_IN ? VF_DESC_WRITE : 0));
	q->avail[2 + (q->avail_idx % q->num)] = (uint16_t)(3 * s);
	q->avail_idx++;
}

/* Publishes every free slot as a request, then kicks unless the backend suppressed it. */
static void submit_free(struct bench *b, uint32_t type, struct stats *st)
{
	struct vf_queue *q = &b->f.q[0];
	uint16_t old = q->avail_idx, ev;
	uint64_t t = now_ns();

	if (!b->nfree)
		return;
	while (b->nfree) {
		unsigned s = b->free[--b->nfree];

		b->slots[s].t0 = t;
		fill_request(b, s, type);
	}
	__atomic_store_n(&q->avail[1], q->avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ev = __atomic_load_n((uint16_t *)(q->used + 4 + (size_t)q->num * 8), __ATOMIC_RELAXED);
	if (!b->event_idx || (uint16_t)(q->avail_idx - ev - 1) < (uint16_t)(q->avail_idx - old)) {
		vf_kick(&b->f, 0);
		st->kicks += st->rec;
	}
}

static void record(struct stats *st, uint64_t ns)
{
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 1u << 16;
		st->lat = realloc(st->lat, st->cap * sizeof(*st->lat));
		if (!st->lat)
			exit(2);
	}
	st->lat[st->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* Takes every used element; returns how many. Latency counts only when recording. */
static unsigned reap(struct bench *b, struct stats *st)
{
	struct vf_queue *q = &b->f.q[0];
	uint16_t idx = __atomic_load_n((uint16_t *)(q->used + 2), __ATOMIC_ACQUIRE);
	uint64_t t = idx != q->last_used ? now_ns() : 0;
	unsigned n = 0;

	for (; q->last_used != idx; q->last_used++, n++) {
		uint32_t id;
		unsigned s;

		memcpy(&id, q->used + 4 + (size_t)(q->last_used % q->num) * 8, 4);
		s = id / 3;
		if (id % 3 || s >= MAX_DEPTH) {
			fprintf(stderr, "blk: bad used id %u\n", id);
			exit(2);
		}
		if (b->slots[s].hdr[16] != 0)
			st->errors++;
		if (st->rec)
			record(st, t - b->slots[s].t0);
		b->free[b->nfree++] = (uint16_t)s;
	}
	return n;
}

/* Re-arms the call (used_event) and sleeps in read(2) on the call eventfd: an irqfd's cost. */
static void wait_call(struct bench *b, struct stats *st)
{
	struct vf_queue *q = &b->f.q[0];
	uint64_t v;

	q->avail[2 + q->num] = q->last_used;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n((uint16_t *)(q->used + 2), __ATOMIC_ACQUIRE) != q->last_used)
		return;
	st->waits += st->rec;
	if (read(q->call, &v, 8) < 0 && errno != EINTR) {
		perror("blk: call eventfd");
		exit(2);
	}
}

/*
 * --poll-us: a driver with polled queues (Linux: virtio_blk.poll_queues, used by io_uring
 * IOPOLL and RWF_HIPRI) keeps the queue's interrupt off (used_event half the index space
 * away, no call) and spins on the used ring. Here it spins at most poll_ns, then wait_call()
 * arms used_event and sleeps as the interrupt-driven driver does. True if something came.
 */
static bool poll_used(struct bench *b)
{
	struct vf_queue *q = &b->f.q[0];
	uint64_t end;

	if (!b->poll_ns)
		return false;
	q->avail[2 + q->num] = (uint16_t)(q->last_used + 0x8000);
	end = now_ns() + b->poll_ns;
	do {
		if (__atomic_load_n((uint16_t *)(q->used + 2), __ATOMIC_ACQUIRE) != q->last_used)
			return true;
		__builtin_ia32_pause();
	} while (now_ns() < end);
	return false;
}

static unsigned inflight(const struct bench *b, unsigned depth)
{
	return depth - b->nfree;
}

/* Keeps depth requests in flight for warm + secs seconds; latencies from after warm-up. */
static void run_job(struct bench *b, const struct job *j, double warm, double secs,
		    struct stats *st)
{
	uint64_t t = now_ns(), end;

	st->start = t + (uint64_t)(warm * 1e9);
	end = st->start + (uint64_t)(secs * 1e9);
	b->nfree = 0;
	for (unsigned s = 0; s < j->depth; s++)
		b->free[b->nfree++] = (uint16_t)(j->depth - 1 - s);
	while (t < end) {
		submit_free(b, j->type, st);
		while (!reap(b, st))
			if (!poll_used(b))
				wait_call(b, st);
		t = now_ns();
		if (!st->rec && t >= st->start)
			st->start = t, st->rec = true;
	}
	st->end = t;
	st->rec = false;
	while (inflight(b, j->depth))
		if (!reap(b, st))
			wait_call(b, st);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const struct stats *st, double p)
{
	size_t i = (size_t)(p * (double)(st->n - 1) + 0.5);

	return st->n ? st->lat[i] / 1000.0 : 0;
}

static void report(const struct job *j, struct stats *st, uint64_t poll_ns, bool inflight)
{
	double secs = (double)(st->end - st->start) / 1e9;

	qsort(st->lat, st->n, sizeof(*st->lat), cmp_u32);
	printf("{\"job\": \"%s\", \"depth\": %u, \"poll_us\": %llu, \"ios\": %zu, \"iops\": %.0f, "
	       "\"p50_us\": %.2f, \"p99_us\": %.2f, \"kicks_per_io\": %.3f, \"waits_per_io\": %.3f, "
	       "\"errors\": %llu, \"inflight\": %s}\n",
	       j->name, j->depth, (unsigned long long)(poll_ns / 1000), st->n, (double)st->n / secs,
	       pct_us(st, 0.5), pct_us(st, 0.99),
	       st->n ? (double)st->kicks / (double)st->n : 0,
	       st->n ? (double)st->waits / (double)st->n : 0, (unsigned long long)st->errors,
	       inflight ? "true" : "false");
	fflush(stdout);
}

/* "randread:1,randwrite:32" into jobs; returns how many, or -1. */
static int parse_jobs(char *s, struct job *jobs, int max)
{
	int n = 0;

	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		char *colon = strchr(tok, ':');
		long d = colon ? strtol(colon + 1, NULL, 10) : 0;

		if (!colon || n == max || d < 1 || d > (long)MAX_DEPTH)
			return -1;
		*colon = 0;
		if (strcmp(tok, "randread") && strcmp(tok, "randwrite"))
			return -1;
		jobs[n++] = (struct job){ tok, strcmp(tok, "randread") ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, (unsigned)d };
	}
	return n;
}

static int start(struct bench *b, const char *sock, bool inflight)
{
	int rc = vf_connect(&b->f, sock);

	/* As cellvm and QEMU do with a backend that offers it: the inflight region, whose
	 * tracking the backend then pays on every request. */
	b->f.inflight = b->f.inflight_if_offered = inflight;

	if (!rc)
		rc = vf_start(&b->f, 1, QSIZE);
	if (rc) {
		fprintf(stderr, "blk: vhost-user start on %s: %s\n", sock, strerror(-rc));
		return -1;
	}
	if (b->f.capacity < BS / VIRTIO_BLK_SECTOR) {
		fprintf(stderr, "blk: the backend reports no usable capacity\n");
		return -1;
	}
	/* The harness sleeps in a blocking read(2) on the call eventfd, as a vCPU waits on irqfd. */
	fcntl(b->f.q[0].call, F_SETFL, fcntl(b->f.q[0].call, F_GETFL) & ~O_NONBLOCK);
	b->blocks = b->f.capacity / (BS / VIRTIO_BLK_SECTOR);
	b->rng = 0x9E3779B97F4A7C15ull;
	b->event_idx = b->f.features & (1ull << F_EVENT_IDX);
	setup_slots(b);
	return 0;
}

static const char usage[] =
	"usage: blk --socket PATH [--jobs randread:1,randread:32,randwrite:1,randwrite:32]\n"
	"           [--seconds S] [--warmup S] [--poll-us US] [--no-inflight]\n"
	"  --poll-us US    the driver polls the used ring up to US microseconds (interrupt off)\n"
	"                  before it arms it and sleeps on the call eventfd (default 0: sleeps)\n"
	"  --no-inflight   no inflight region (PROTOCOL_F_INFLIGHT_SHMFD), which is asked for by\n"
	"                  default when the backend offers it, as cellvm and QEMU do\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", 1, 0, 's' }, { "jobs", 1, 0, 'j' }, { "seconds", 1, 0, 't' },
		{ "warmup", 1, 0, 'w' }, { "poll-us", 1, 0, 'p' }, { "no-inflight", 0, 0, 'i' },
		{ 0, 0, 0, 0 } };
	static struct bench b;
	char jobspec[256] = "randread:1,randread:32,randwrite:1,randwrite:32";
	const char *sock = NULL;
	double secs = 5, warm = 0.5, poll_us = 0;
	bool inflight = true;
	struct job jobs[16];
	int c, n;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			sock = optarg;
		else if (c == 'j')
			snprintf(jobspec, sizeof(jobspec), "%s", optarg);
		else if (c == 't')
			secs = atof(optarg);
		else if (c == 'w')
			warm = atof(optarg);
		else if (c == 'p')
			poll_us = atof(optarg);
		else if (c == 'i')
			inflight = false;
		else
			return fputs(usage, stderr), 64;
	}
	n = parse_jobs(jobspec, jobs, 16);
	if (!sock || n < 1 || secs <= 0 || warm < 0 || poll_us < 0 || poll_us > 1e6)
		return fputs(usage, stderr), 64;
	b.poll_ns = (uint64_t)(poll_us * 1000);
	if (start(&b, sock, inflight))
		return 1;
	for (int i = 0; i < n; i++) {
		struct stats st = { 0 };

		run_job(&b, &jobs[i], warm, secs, &st);
		report(&jobs[i], &st, b.poll_ns, b.f.inflight);
		free(st.lat);
	}
	return 0;
}
