/* inflight.c: inflight I/O tracking against cellvm-blk: resubmission after a backend dies with requests in flight (out of order), and hostile regions. */
#define _GNU_SOURCE
#include "inflight.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../devices/lib/virtio_blk.h"

#define SKIP 77
#define QSIZE 128
#define CHECK(cond, ...) do { if (!(cond)) { printf("FAIL %s:%d: ", __func__, __LINE__); \
	printf(__VA_ARGS__); printf("\n"); return 1; } } while (0)

/* The region's layout, from QEMU's docs/interop/vhost-user.rst (split rings). */
struct ifl_desc { uint8_t inflight, pad[5]; uint16_t next; uint64_t counter; };
struct ifl_queue { uint64_t features; uint16_t version, desc_num, last_batch_head, used_idx;
		   struct ifl_desc desc[]; };

static uint64_t part_bytes(uint16_t qsize)
{
	return (16 + 16ull * qsize + 63) & ~63ull;
}

static struct ifl_queue *part(struct vf *f, unsigned q)
{
	return (struct ifl_queue *)(f->ifl + q * part_bytes(f->ifl_qsize ? f->ifl_qsize : QSIZE));
}

static uint16_t used_idx(struct vf *f, unsigned q)
{
	return __atomic_load_n((uint16_t *)(f->q[q].used + 2), __ATOMIC_ACQUIRE);
}

static void pattern(uint8_t *p, uint32_t len, uint64_t seed)
{
	for (uint32_t i = 0; i < len; i += 8) {
		uint64_t v = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;

		memcpy(p + i, &v, 8);
	}
}

/* ---- backends this test starts and kills ---- */

static pid_t spawn(const struct inflight_args *a, const char *nq)
{
	pid_t pid;

	unlink(a->sock);
	pid = fork();
	if (pid == 0) {
		execl(a->blk, a->blk, "--socket", a->sock, "--path", a->image, "--num-queues", nq,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* The jailed worker is the child of the process we started (its pid namespace's waiter). */
static pid_t worker_of(pid_t waiter)
{
	char path[64];
	FILE *fp;
	int pid = -1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)waiter, (int)waiter);
	for (int i = 0; i < 200 && pid < 0; i++) {
		fp = fopen(path, "r");
		if (!fp || fscanf(fp, "%d", &pid) != 1)
			pid = -1;
		if (fp)
			fclose(fp);
		if (pid < 0)
			usleep(10000);
	}
	return pid;
}

static bool gone(pid_t pid)
{
	char path[64], st = 'Z';
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (fp && fscanf(fp, "%*d %*s %c", &st) != 1)
		st = 'Z';
	if (fp)
		fclose(fp);
	return st == 'Z' || st == 'X';
}

/* SIGKILL: the waiter at once, the worker by its parent-death signal; both gone on return. */
static int kill_backend(pid_t waiter, pid_t worker)
{
	kill(waiter, SIGKILL);
	waitpid(waiter, NULL, 0);
	if (worker > 0)
		kill(worker, SIGKILL); /* a --no-jail run has no waiter; harmless otherwise */
	for (int i = 0; worker > 0 && i < 500 && !gone(worker); i++)
		usleep(10000);
	return worker <= 0 || gone(worker) ? 0 : -1;
}

/* Waits for n completions on queue 0; ids[] gets their heads. */
static int collect_used(struct vf *f, unsigned n, uint32_t *ids)
{
	uint32_t len;

	for (unsigned i = 0; i < n; i++)
		if (vf_wait_used(f, 0, 5000, &ids[i], &len))
			return (int)i;
	return (int)n;
}

static unsigned count_of(const uint32_t *ids, unsigned n, uint32_t head)
{
	unsigned c = 0;

	for (unsigned i = 0; i < n; i++)
		c += ids[i] == head;
	return c;
}

/* ---- a backend dies with requests in flight, completed out of order ---- */

#define NREQ 4

struct req { int head; uint64_t gpa, status; uint64_t sector; };

/* Posts a 4 KiB write of pattern seed to sector on queue 0 (no kick). */
static int post_write(struct vf *f, struct req *r, uint64_t sector, uint64_t seed)
{
	r->gpa = vf_alloc(f, 4096);
	r->sector = sector;
	pattern(vf_ptr(f, r->gpa), 4096, seed);
	r->head = vf_blk_post(f, 0, VIRTIO_BLK_T_OUT, sector, r->gpa, 4096, 1, false, &r->status);
	return r->head;
}

/*
 * What a backend leaves when it dies in the middle of publishing an out-of-order completion:
 * it popped r[0..2] (counters), completed r[1] (its write done, the used ring published), and
 * died before clearing r[1]'s flag. r[3] was posted, never popped.
 */
static void leave_crashed_state(struct vf *f, const struct inflight_args *a, struct req *r,
				const uint8_t *done_data)
{
	struct ifl_queue *p = part(f, 0);
	uint8_t *used = f->q[0].used;
	uint16_t u = used_idx(f, 0);
	int fd = open(a->image, O_WRONLY);
	uint32_t e[2] = { (uint32_t)r[1].head, 1 };

	for (unsigned i = 0; i < 3; i++)
		p->desc[r[i].head] = (struct ifl_desc){ .inflight = 1, .counter = (1ull << 62) + i };
	if (fd >= 0 && pwrite(fd, done_data, 4096, (off_t)(r[1].sector * 512)) != 4096)
		perror("pwrite");
	if (fd >= 0)
		close(fd);
	*(uint8_t *)vf_ptr(f, r[1].status) = 0;
	p->desc[r[1].head].next = p->last_batch_head;
	p->last_batch_head = (uint16_t)r[1].head;
	memcpy(used + 4 + (u % QSIZE) * 8, e, 8);
	__atomic_store_n((uint16_t *)(used + 2), (uint16_t)(u + 1), __ATOMIC_RELEASE);
	vf_wait_used(f, 0, 0, e, e + 1); /* the driver saw it */
}

static int check_fresh_region(struct vf *f)
{
	struct ifl_queue *p = part(f, 0);

	CHECK(f->ifl_size == part_bytes(QSIZE), "region of %llu bytes, want %llu",
	      (unsigned long long)f->ifl_size, (unsigned long long)part_bytes(QSIZE));
	CHECK(p->version == 1 && p->desc_num == QSIZE && p->used_idx == 0, "header %u/%u/%u",
	      p->version, p->desc_num, p->used_idx);
	return 0;
}

/* A request through the first backend: tracked, then cleared with used_idx advanced. */
static int check_tracking(struct vf *f)
{
	struct ifl_queue *p = part(f, 0);
	uint64_t gpa = vf_alloc(f, 4096);

	CHECK(vf_blk(f, 0, VIRTIO_BLK_T_IN, 0, gpa, 4096, 1, false) == 0, "read");
	CHECK(p->used_idx == 1, "region used_idx %u after one request", p->used_idx);
	for (unsigned i = 0; i < QSIZE; i++)
		CHECK(p->desc[i].inflight == 0, "head %u still flagged after its completion", i);
	return 0;
}

static int check_resubmitted(struct vf *f, const struct inflight_args *a, struct req *r,
			     const uint8_t *done_data)
{
	uint32_t ids[8];
	int n = collect_used(f, 3, ids);
	struct ifl_queue *p = part(f, 0);

	CHECK(n == 3, "%d of 3 requests completed after the restart (one lost)", n);
	usleep(300000);
	CHECK(used_idx(f, 0) == 5, "used idx %u, want 5: a request done twice", used_idx(f, 0));
	for (unsigned i = 0; i < NREQ; i++) {
		unsigned want = i == 1 ? 0 : 1;

		CHECK(count_of(ids, 3, (uint32_t)r[i].head) == want, "request %u (head %d) completed "
		      "%u times after the restart, want %u", i, r[i].head,
		      count_of(ids, 3, (uint32_t)r[i].head), want);
		CHECK(*(uint8_t *)vf_ptr(f, r[i].status) == 0, "request %u status", i);
		CHECK(vf_file_has(a->image, r[i].sector * 512, i == 1 ? done_data : vf_ptr(f, r[i].gpa),
			       4096), "request %u: wrong data on disk%s", i,
		      i == 1 ? " (done twice)" : "");
	}
	CHECK(p->used_idx == used_idx(f, 0), "region used_idx %u, ring %u", p->used_idx,
	      used_idx(f, 0));
	for (unsigned i = 0; i < QSIZE; i++)
		CHECK(p->desc[i].inflight == 0, "head %u still flagged", i);
	return 0;
}

static int t_resubmit(struct vf *f, const struct inflight_args *a)
{
	struct req r[NREQ];
	uint8_t done_data[4096];
	pid_t pid = spawn(a, "1"), worker;
	int rc;

	CHECK(pid > 0, "fork");
	CHECK(vf_connect(f, a->sock) == 0, "connect");
	f->inflight = true;
	CHECK(vf_start(f, 1, QSIZE) == 0, "first backend set-up");
	worker = worker_of(pid);
	if ((rc = check_fresh_region(f)) || (rc = check_tracking(f)))
		return kill_backend(pid, worker), rc;
	CHECK(kill_backend(pid, worker) == 0, "first backend did not die");
	for (unsigned i = 0; i < NREQ; i++)
		CHECK(post_write(f, &r[i], 64 + 8 * i, 0x1000 + i) >= 0, "post");
	pattern(done_data, sizeof(done_data), 0xd0e);
	leave_crashed_state(f, a, r, done_data);
	pid = spawn(a, "1");
	CHECK(vf_resume(f, a->sock) == 0, "second backend set-up");
	vf_kick(f, 0);
	rc = check_resubmitted(f, a, r, done_data);
	kill_backend(pid, worker_of(pid));
	return rc;
}

/* ---- the same with a real backend, stopped while requests are in flight ---- */

#define NLIVE 16 /* 6 descriptors each: 96 of the ring's 128, none reused */
#define LIVE_LEN (1u << 20)

/* Posts NLIVE 1 MiB writes, kicks, stops the worker once the region shows one in flight.
 * Returns how many were flagged at the stop. */
static int stop_in_flight(struct vf *f, pid_t worker, struct req *r)
{
	struct ifl_queue *p = part(f, 0);
	unsigned flagged = 0;

	for (unsigned i = 0; i < NLIVE; i++) {
		r[i].gpa = vf_alloc(f, LIVE_LEN);
		r[i].sector = 4096 + (uint64_t)i * (LIVE_LEN / 512);
		pattern(vf_ptr(f, r[i].gpa), LIVE_LEN, 0x2000 + i);
		r[i].head = vf_blk_post(f, 0, VIRTIO_BLK_T_OUT, r[i].sector, r[i].gpa, LIVE_LEN, 4,
					false, &r[i].status);
	}
	vf_kick(f, 0);
	for (long spin = 0; spin < 400000000L && !flagged && used_idx(f, 0) != 1 + NLIVE; spin++)
		for (unsigned i = 0; i < NLIVE && !flagged; i++)
			flagged = __atomic_load_n(&p->desc[r[i].head].inflight, __ATOMIC_ACQUIRE);
	kill(worker, SIGSTOP);
	usleep(20000);
	flagged = 0;
	for (unsigned i = 0; i < QSIZE; i++)
		flagged += p->desc[i].inflight;
	return (int)flagged;
}

static int t_kill(struct vf *f, const struct inflight_args *a)
{
	static struct req r[NLIVE];
	uint32_t ids[NLIVE + 1];
	pid_t pid = spawn(a, "1"), worker;
	int flagged, before, n;

	CHECK(pid > 0, "fork");
	CHECK(vf_connect(f, a->sock) == 0, "connect");
	f->inflight = true;
	CHECK(vf_start(f, 1, QSIZE) == 0, "first backend set-up");
	worker = worker_of(pid);
	CHECK(worker > 0, "no jailed worker under pid %d", (int)pid);
	CHECK(vf_blk(f, 0, VIRTIO_BLK_T_IN, 0, vf_alloc(f, 4096), 4096, 1, false) == 0, "read");
	flagged = stop_in_flight(f, worker, r);
	before = (uint16_t)(used_idx(f, 0) - 1);
	CHECK(kill_backend(pid, worker) == 0, "first backend did not die");
	pid = spawn(a, "1");
	CHECK(vf_resume(f, a->sock) == 0, "second backend set-up");
	vf_kick(f, 0);
	n = collect_used(f, NLIVE, ids);
	kill_backend(pid, worker_of(pid));
	CHECK(n == NLIVE, "%d of %d writes completed (%d before the kill)", n, NLIVE, before);
	for (unsigned i = 0; i < NLIVE; i++) {
		CHECK(count_of(ids, NLIVE, (uint32_t)r[i].head) == 1, "write %u completed %u times", i,
		      count_of(ids, NLIVE, (uint32_t)r[i].head));
		CHECK(*(uint8_t *)vf_ptr(f, r[i].status) == 0, "write %u status", i);
		CHECK(vf_file_has(a->image, r[i].sector * 512, vf_ptr(f, r[i].gpa), LIVE_LEN),
		      "write %u: wrong data on disk", i);
	}
	printf("i-kill: %d requests flagged in flight at the kill, %d completed before it\n",
	       flagged, before);
	if (flagged == 0) {
		printf("SKIP i-kill: no request was in flight when the backend was stopped\n");
		return SKIP;
	}
	return 0;
}

/* ---- hostile regions: queue 0's part is garbage, queue 1's fine ---- */

static void h_version(struct vf *f) { part(f, 0)->version = 7; }
static void h_features(struct vf *f) { part(f, 0)->features = 1; }
static void h_descnum(struct vf *f) { part(f, 0)->desc_num = 64; }
static void h_flag(struct vf *f) { part(f, 0)->desc[5].inflight = 2; }
static void h_beyond(struct vf *f) { part(f, 0)->desc[200].inflight = 1; }
static void h_batch(struct vf *f) { part(f, 0)->used_idx = 1000; }

static void h_posted(struct vf *f)
{
	for (unsigned i = 1; i <= 3; i++)
		part(f, 0)->desc[i] = (struct ifl_desc){ .inflight = 1, .counter = i };
}

static void h_batchhead(struct vf *f)
{
	part(f, 0)->used_idx = 0xffff;
	part(f, 0)->last_batch_head = 5000;
}

static void h_counter(struct vf *f)
{
	part(f, 0)->desc[1] = (struct ifl_desc){ .inflight = 1, .counter = 7 };
	part(f, 0)->desc[2] = (struct ifl_desc){ .inflight = 1, .counter = 7 };
}

static void h_limit(struct vf *f)
{
	part(f, 0)->desc[1] = (struct ifl_desc){ .inflight = 1, .counter = UINT64_MAX };
}

static int serving(struct vf *f, unsigned q)
{
	return vf_blk(f, q, VIRTIO_BLK_T_IN, 0, vf_alloc(f, 4096), 4096, 1, false) == 0;
}

static int stalled(struct vf *f, unsigned q)
{
	uint64_t st;
	uint32_t id, len;

	vf_blk_post(f, q, VIRTIO_BLK_T_IN, 0, vf_alloc(f, 4096), 4096, 1, false, &st);
	vf_kick(f, q);
	return vf_wait_used(f, q, 300, &id, &len) == -ETIMEDOUT;
}

static int hostile(struct vf *f, const struct inflight_args *a, void (*hook)(struct vf *f),
		   uint16_t ifl_qsize)
{
	CHECK(vf_connect(f, a->sock) == 0, "connect");
	f->inflight = true;
	f->ifl_qsize = ifl_qsize;
	f->ifl_hook = hook;
	int rc = vf_start(f, 2, QSIZE);

	CHECK(rc == 0, "set-up: %s", strerror(-rc));
	CHECK(stalled(f, 0), "queue 0 serves requests with a garbage inflight region");
	CHECK(serving(f, 1), "queue 1 stopped serving");
	return 0;
}

/* ---- refused messages: the queues then run untracked ---- */

static int t_unsealed(struct vf *f, const struct inflight_args *a)
{
	int fd = memfd_create("not-sealed", MFD_CLOEXEC);

	CHECK(vf_connect(f, a->sock) == 0, "connect");
	f->inflight = true;
	CHECK(vf_start(f, 0, QSIZE) == 0, "set-up");
	CHECK(fd >= 0 && ftruncate(fd, (off_t)part_bytes(QSIZE)) == 0, "memfd");
	CHECK(vf_set_inflight(f, fd, part_bytes(QSIZE), 1, QSIZE) == -EREMOTEIO,
	      "an unsealed region (shrinkable: SIGBUS) was accepted");
	return 0;
}

static int t_short(struct vf *f, const struct inflight_args *a)
{
	CHECK(vf_connect(f, a->sock) == 0, "connect");
	f->inflight = true;
	CHECK(vf_start(f, 0, QSIZE) == 0, "set-up");
	CHECK(vf_get_inflight(f, 2, QSIZE) == 0, "get");
	CHECK(vf_set_inflight(f, f->ifl_fd, f->ifl_size / 2, 2, QSIZE) == -EREMOTEIO,
	      "a region too small for its queues was accepted");
	CHECK(vf_set_inflight(f, f->ifl_fd, f->ifl_size, 2, 3) == -EREMOTEIO,
	      "a queue size of 3 was accepted");
	CHECK(vf_get_inflight(f, 2, 3) == -ENOENT, "a region for queues of 3 was made");
	CHECK(vf_get_inflight(f, 0, QSIZE) == -ENOENT, "a region for no queue was made");
	CHECK(vf_set_inflight(f, f->ifl_fd, f->ifl_size, 2, QSIZE) == 0, "the good region");
	return 0;
}

struct hostile_case { const char *name; void (*hook)(struct vf *f); uint16_t qsize; };

static const struct hostile_case cases[] = {
	{ "i-version", h_version, QSIZE }, { "i-features", h_features, QSIZE },
	{ "i-descnum", h_descnum, QSIZE }, { "i-flag", h_flag, QSIZE },
	{ "i-beyond", h_beyond, 256 }, { "i-posted", h_posted, QSIZE },
	{ "i-batch", h_batch, QSIZE }, { "i-batchhead", h_batchhead, QSIZE },
	{ "i-counter", h_counter, QSIZE }, { "i-limit", h_limit, QSIZE },
};

int inflight_main(struct vf *f, const char *name, const struct inflight_args *a)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(name, cases[i].name))
			return hostile(f, a, cases[i].hook, cases[i].qsize);
	if (!strcmp(name, "i-unsealed"))
		return t_unsealed(f, a);
	if (!strcmp(name, "i-short"))
		return t_short(f, a);
	if (!a->blk && (!strcmp(name, "i-resubmit") || !strcmp(name, "i-kill")))
		return printf("FAIL %s: -b CELLVM_BLK needed\n", name), 1;
	if (!strcmp(name, "i-resubmit"))
		return t_resubmit(f, a);
	if (!strcmp(name, "i-kill"))
		return t_kill(f, a);
	return -1;
}
