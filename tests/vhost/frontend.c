/* frontend.c: functional and malicious-driver tests against a vhost-user-blk backend. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inflight.h"
#include "vfront.h"
#include "../../devices/lib/virtio_blk.h"

#define CHUNK (256u << 10)
#define SKIP 77

static struct vf F;
static const char *image, *serial;
static int backend_pid;

#define CHECK(cond, ...) do { if (!(cond)) { printf("FAIL %s:%d: ", __func__, __LINE__); \
	printf(__VA_ARGS__); printf("\n"); return 1; } } while (0)

static bool has(unsigned bit)
{
	return F.features & (1ull << bit);
}

static void pattern(uint8_t *p, uint64_t off, uint32_t len, uint64_t seed)
{
	for (uint32_t i = 0; i < len; i += 8) {
		uint64_t v = (off + i) * 0x9E3779B97F4A7C15ull ^ seed;

		memcpy(p + i, &v, 8);
	}
}

static unsigned nseg_for(uint32_t len)
{
	unsigned n = 4;

	if (has(1) && F.size_max)
		while (len / n > F.size_max)
			n *= 2;
	return n;
}

static int io(unsigned q, uint32_t type, uint64_t sector, uint64_t gpa, uint32_t len, bool ind)
{
	return vf_blk(&F, q, type, sector, gpa, len, len ? nseg_for(len) : 0, ind && has(28));
}

static int file_matches(uint64_t off, const uint8_t *want, uint32_t len)
{
	return vf_file_has(image, off, want, len);
}

static int t_rw(void)
{
	uint64_t bytes = F.capacity * 512, gpa = vf_alloc(&F, CHUNK);
	uint8_t *buf = vf_ptr(&F, gpa), *want = malloc(CHUNK);

	CHECK(F.capacity >= 2048, "capacity %llu", (unsigned long long)F.capacity);
	for (uint64_t off = 0; off < bytes; off += CHUNK) {
		uint32_t len = bytes - off < CHUNK ? (uint32_t)(bytes - off) : CHUNK;

		pattern(buf, off, len, 0x1234);
		CHECK(io(0, VIRTIO_BLK_T_OUT, off / 512, gpa, len, (off / CHUNK) & 1) == 0, "write at %llu",
		      (unsigned long long)off);
	}
	for (uint64_t off = 0; off < bytes; off += CHUNK) {
		uint32_t len = bytes - off < CHUNK ? (uint32_t)(bytes - off) : CHUNK;

		memset(buf, 0xee, len);
		CHECK(io(0, VIRTIO_BLK_T_IN, off / 512, gpa, len, !((off / CHUNK) & 1)) == 0, "read");
		pattern(want, off, len, 0x1234);
		CHECK(memcmp(buf, want, len) == 0, "data differs at %llu", (unsigned long long)off);
		CHECK(file_matches(off, want, len), "file differs at %llu", (unsigned long long)off);
	}
	free(want);
	return 0;
}

static int t_flush(void)
{
	uint64_t gpa = vf_alloc(&F, 4096);

	if (!has(9))
		return SKIP;
	pattern(vf_ptr(&F, gpa), 0, 4096, 7);
	CHECK(io(0, VIRTIO_BLK_T_OUT, 8, gpa, 4096, false) == 0, "write");
	CHECK(io(0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false) == 0, "flush");
	return 0;
}

static int t_getid(void)
{
	uint64_t gpa = vf_alloc(&F, 20);
	char *id = vf_ptr(&F, gpa);

	memset(id, 0xaa, 20);
	CHECK(vf_blk(&F, 0, VIRTIO_BLK_T_GET_ID, 0, gpa, 20, 1, false) == 0, "get-id status");
	if (serial)
		CHECK(strncmp(id, serial, 20) == 0, "serial '%.20s' != '%s'", id, serial);
	return 0;
}

static int range_req(unsigned q, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint64_t gpa = vf_alloc(&F, 16);
	struct virtio_blk_range seg = { sector, n, flags };

	memcpy(vf_ptr(&F, gpa), &seg, 16);
	/* The segment travels device-readable: out direction like a write. */
	return vf_blk(&F, q, type, 0, gpa, 16, 1, false);
}

static int t_ro(void)
{
	uint64_t gpa = vf_alloc(&F, 4096);

	CHECK(has(5), "VIRTIO_BLK_F_RO not offered");
	pattern(vf_ptr(&F, gpa), 0, 4096, 99);
	CHECK(io(0, VIRTIO_BLK_T_OUT, 0, gpa, 4096, false) == 1, "write not refused with IOERR");
	CHECK(io(0, VIRTIO_BLK_T_IN, 0, gpa, 4096, false) == 0, "read");
	if (has(13))
		CHECK(range_req(0, VIRTIO_BLK_T_DISCARD, 0, 8, 0) == 1, "discard not refused");
	if (has(14))
		CHECK(range_req(0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0) == 1, "write-zeroes not refused");
	return 0;
}

static int t_zeroes(void)
{
	uint32_t len = 1u << 20;
	uint64_t gpa = vf_alloc(&F, len);
	uint8_t *buf = vf_ptr(&F, gpa), *want = malloc(len);

	if (!has(13) || !has(14))
		return SKIP;
	pattern(buf, 0, len, 5);
	memcpy(want, buf, len);
	CHECK(io(0, VIRTIO_BLK_T_OUT, 0, gpa, len, false) == 0, "write");
	CHECK(range_req(0, VIRTIO_BLK_T_WRITE_ZEROES, 128, 128, 0) == 0, "write-zeroes");
	CHECK(range_req(0, VIRTIO_BLK_T_WRITE_ZEROES, 1024, 64, 1) == 0, "write-zeroes with unmap");
	memset(want + 128 * 512, 0, 128 * 512);
	memset(want + 1024 * 512, 0, 64 * 512);
	memset(buf, 0xee, len);
	CHECK(io(0, VIRTIO_BLK_T_IN, 0, gpa, len, false) == 0, "read");
	CHECK(memcmp(buf, want, len) == 0, "zeroed ranges wrong");
	CHECK(range_req(0, VIRTIO_BLK_T_DISCARD, 512, 256, 0) == 0, "discard");
	free(want);
	return 0;
}

/* Every queue gets requests in flight at the same time before any is reaped. */
static int t_mq(void)
{
	enum { PER_Q = 8, LEN = 64 << 10 };
	uint64_t gpa[VF_MAX_QUEUES][PER_Q], st[VF_MAX_QUEUES][PER_Q];
	uint32_t id, ulen;

	CHECK(F.nq >= 2, "only %u queues", F.nq);
	for (unsigned q = 0; q < F.nq; q++)
		for (unsigned i = 0; i < PER_Q; i++) {
			uint64_t sector = (q * PER_Q + i) * (LEN / 512);

			gpa[q][i] = vf_alloc(&F, LEN);
			pattern(vf_ptr(&F, gpa[q][i]), sector * 512, LEN, 0x77);
			CHECK(vf_blk_post(&F, q, VIRTIO_BLK_T_OUT, sector, gpa[q][i], LEN, 2, false,
					  &st[q][i]) >= 0, "post");
		}
	for (unsigned q = 0; q < F.nq; q++)
		vf_kick(&F, q);
	for (unsigned q = 0; q < F.nq; q++)
		for (unsigned i = 0; i < PER_Q; i++)
			CHECK(vf_wait_used(&F, q, 5000, &id, &ulen) == 0, "queue %u stalled", q);
	for (unsigned q = 0; q < F.nq; q++)
		for (unsigned i = 0; i < PER_Q; i++) {
			uint64_t sector = (q * PER_Q + i) * (LEN / 512);

			CHECK(*(uint8_t *)vf_ptr(&F, st[q][i]) == 0, "status q%u/%u", q, i);
			memset(vf_ptr(&F, gpa[q][i]), 0, LEN);
			CHECK(io(q, VIRTIO_BLK_T_IN, sector, gpa[q][i], LEN, false) == 0, "read");
			CHECK(file_matches(sector * 512, vf_ptr(&F, gpa[q][i]), LEN), "file");
		}
	return 0;
}

/* Written and flushed, then the backend is SIGKILLed: the data must be in the file. */
static int t_persist(void)
{
	uint32_t len = 1u << 20;
	uint64_t gpa = vf_alloc(&F, len);
	char path[64], st = 0;

	CHECK(backend_pid > 0, "--pid needed");
	pattern(vf_ptr(&F, gpa), 0, len, 0xdead);
	CHECK(io(0, VIRTIO_BLK_T_OUT, 4096, gpa, len, false) == 0, "write");
	CHECK(io(0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false) == 0, "flush");
	CHECK(kill(backend_pid, SIGKILL) == 0, "kill: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/stat", backend_pid);
	for (int i = 0; i < 200 && st != 'Z'; i++) {
		FILE *fp = fopen(path, "r");

		if (!fp || fscanf(fp, "%*d %*s %c", &st) != 1)
			st = 'Z';
		if (fp)
			fclose(fp);
		usleep(10000);
	}
	CHECK(st == 'Z', "backend did not die");
	CHECK(file_matches(4096 * 512, vf_ptr(&F, gpa), len), "flushed data missing");
	return 0;
}

/* Which of the len/4096 pages at off are in the page cache (bit 0 of each byte); -1 on error. */
static int resident(int fd, uint64_t off, uint64_t len, unsigned char *vec)
{
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
	int rc = m == MAP_FAILED || mincore(m, len, vec) ? -1 : 0;

	if (m != MAP_FAILED)
		munmap(m, len);
	return rc;
}

/*
 * Drops [off, off+len) of the image from the page cache (whole folios only: ext4 caches large
 * ones), then caches its first page alone when it can (no readahead). Returns 2 if pages 0 and
 * 1 are then cached and not, 1 if the whole range is gone, 0 if it could not be dropped.
 */
static int evict(uint64_t off, uint64_t len)
{
	int fd = open(image, O_RDWR), gone = 1;
	unsigned char vec[64];
	char page[4096];

	if (fd < 0 || len > sizeof(vec) * 4096ull)
		return fd >= 0 ? close(fd), 0 : 0;
	fdatasync(fd); /* dirty pages cannot be dropped */
	posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
	if (resident(fd, off, len, vec))
		gone = 0;
	for (uint64_t i = 0; gone && i < len / 4096; i++)
		gone = !(vec[i] & 1);
	posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_RANDOM);
	if (gone && pread(fd, page, sizeof(page), (off_t)off) == (ssize_t)sizeof(page) &&
	    !resident(fd, off, 8192, vec) && (vec[0] & 1) && !(vec[1] & 1))
		gone = 2;
	close(fd);
	return gone;
}

static int read_check(uint64_t off, uint32_t len, uint64_t gpa, uint64_t seed)
{
	uint8_t *buf = vf_ptr(&F, gpa), *want = malloc(len);
	int ok;

	memset(buf, 0xee, len);
	pattern(want, off, len, seed);
	ok = want && io(0, VIRTIO_BLK_T_IN, off / 512, gpa, len, false) == 0 &&
	     memcmp(buf, want, len) == 0;
	free(want);
	return ok;
}

/*
 * The inline path and its fallback (run.sh reads the backend's counts in its log): reads of
 * cached data (inline), of evicted data (RWF_NOWAIT says EAGAIN: io_uring), of half-cached
 * data (a short inline read, redone whole by io_uring), and a write into a never-touched hole
 * at the end of the image. With --direct everything must go through io_uring.
 */
static int t_inline(void)
{
	uint32_t len = 64u << 10;
	uint64_t gpa = vf_alloc(&F, len), end = F.capacity * 512 - len;

	CHECK(F.capacity * 512 >= 4 * len, "capacity %llu", (unsigned long long)F.capacity);
	pattern(vf_ptr(&F, gpa), 0, len, 0x5eed);
	CHECK(io(0, VIRTIO_BLK_T_OUT, 0, gpa, len, false) == 0, "write");
	CHECK(read_check(0, len, gpa, 0x5eed), "cached read");
	switch (evict(0, len)) {
	case 0:
		printf("SKIP inline: the page cache cannot be dropped here (posix_fadvise)\n");
		return SKIP;
	case 1:
		printf("note: no half-cached read (a single page could not be cached alone)\n");
		break;
	default:
		CHECK(read_check(0, 8192, gpa, 0x5eed), "half-cached read");
	}
	CHECK(read_check(32768, 16384, gpa, 0x5eed), "evicted read");
	CHECK(read_check(0, len, gpa, 0x5eed), "re-read");
	pattern(vf_ptr(&F, gpa), end, len, 0xbeef);
	CHECK(io(0, VIRTIO_BLK_T_OUT, end / 512, gpa, len, false) == 0, "write into a hole");
	CHECK(file_matches(end, vf_ptr(&F, gpa), len), "file differs after the hole write");
	CHECK(read_check(end, len, gpa, 0xbeef), "read of the hole write");
	return 0;
}

/* Posts n requests of 4 KiB at sectors 8*i (data at gpa + 4096*i) and kicks once; waits for
 * all n and checks every status. The backend is idle first (its spin ends within 2 ms), so it
 * wakes to all n at once: a batch. */
static int batch_io(uint32_t type, unsigned n, uint64_t gpa)
{
	uint64_t st[16];
	uint32_t id, len;

	usleep(50 * 1000);
	for (unsigned i = 0; i < n; i++)
		if (vf_blk_post(&F, 0, type, 8ull * i, gpa + 4096ull * i, 4096, 1, false, &st[i]) < 0)
			return -1;
	vf_kick(&F, 0);
	for (unsigned i = 0; i < n; i++)
		if (vf_wait_used(&F, 0, 5000, &id, &len))
			return -1;
	for (unsigned i = 0; i < n; i++)
		if (*(uint8_t *)vf_ptr(&F, st[i]) != VIRTIO_BLK_S_OK)
			return -1;
	return 0;
}

/*
 * Requests posted together go to io_uring in one submission, none inline and no write alone
 * in the loop (run.sh reads the backend's counts: all zero); then a lone write does go to the
 * loop. The data must land and read back either way.
 */
static int t_batch(void)
{
	unsigned n = 16;
	uint64_t gpa = vf_alloc(&F, 4096ull * n), rd = vf_alloc(&F, 4096ull * n);

	CHECK(F.capacity >= 8ull * n, "capacity %llu", (unsigned long long)F.capacity);
	for (unsigned i = 0; i < n; i++)
		pattern(vf_ptr(&F, gpa + 4096ull * i), 4096ull * i, 4096, 0xba7c);
	CHECK(batch_io(VIRTIO_BLK_T_OUT, n, gpa) == 0, "batched writes");
	CHECK(file_matches(0, vf_ptr(&F, gpa), 4096 * n), "file differs after batched writes");
	memset(vf_ptr(&F, rd), 0xee, 4096ull * n);
	CHECK(batch_io(VIRTIO_BLK_T_IN, n, rd) == 0, "batched reads");
	CHECK(memcmp(vf_ptr(&F, rd), vf_ptr(&F, gpa), 4096ull * n) == 0, "batched reads differ");
	return 0;
}

/* ---- malicious driver: attack queue 0, then queue 0 must be dead and queue 1 alive ---- */

static int serving(unsigned q)
{
	return io(q, VIRTIO_BLK_T_IN, 0, vf_alloc(&F, 4096), 4096, false) == 0;
}

static int stalled(unsigned q)
{
	uint64_t st;
	uint32_t id, len;

	vf_blk_post(&F, q, VIRTIO_BLK_T_IN, 0, vf_alloc(&F, 4096), 4096, 1, false, &st);
	vf_kick(&F, q);
	return vf_wait_used(&F, q, 300, &id, &len) == -ETIMEDOUT;
}

/* Writes raw descriptors d[0..n) at slots s[0..n) of queue 0 and posts s[0]. */
static void raw_chain(const struct vf_desc *d, const uint16_t *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		F.q[0].desc[s[i]] = d[i];
		if (s[i] >= F.q[0].next_desc)
			F.q[0].next_desc = (uint16_t)(s[i] + 1); /* later chains go after it */
	}
	vf_post_head(&F, 0, s[0]);
	vf_kick(&F, 0);
}

static uint64_t hdr_in(void)
{
	uint64_t h = vf_alloc(&F, 32);
	uint32_t v[4] = { VIRTIO_BLK_T_IN, 0, 0, 0 };

	memcpy(vf_ptr(&F, h), v, 16);
	return h;
}

static int a_loop(void)
{
	uint64_t h = hdr_in();
	/* A zero-length self-loop: no buffer limit stops it, only the walk's bound. */
	struct vf_desc d[2] = { { h, 16, VF_DESC_NEXT, 1 }, { h + 16, 0, VF_DESC_NEXT, 1 } };

	raw_chain(d, (uint16_t[]){ 0, 1 }, 2);
	return 0;
}

static int a_long(void)
{
	uint64_t h = hdr_in(), data = vf_alloc(&F, 300 * 512);
	struct vf_buf b[302];

	b[0] = (struct vf_buf){ h, 16, false };
	for (unsigned i = 0; i < 300; i++)
		b[i + 1] = (struct vf_buf){ data + i * 512, 512, true };
	b[301] = (struct vf_buf){ h + 16, 1, true };
	vf_post(&F, 0, b, 302, false);
	vf_kick(&F, 0);
	return 0;
}

static int a_big_indirect(void)
{
	uint64_t t = vf_alloc(&F, 2048 * 16);
	struct vf_desc d = { t, 2048 * 16, VF_DESC_INDIRECT, 0 };

	raw_chain(&d, (uint16_t[]){ 0 }, 1);
	return 0;
}

static int data_at(uint64_t gpa, uint32_t len)
{
	uint64_t h = hdr_in();
	struct vf_desc d[3] = { { h, 16, VF_DESC_NEXT, 1 }, { gpa, len, VF_DESC_WRITE | VF_DESC_NEXT, 2 },
				{ h + 16, 1, VF_DESC_WRITE, 0 } };

	raw_chain(d, (uint16_t[]){ 0, 1, 2 }, 3);
	return 0;
}

static int a_oob(void) { return data_at(VF_HOLE_GPA, 4096); }
static int a_end(void) { return data_at(VF_R1_GPA + VF_R_SIZE - 512, 1024); }
static int a_wrap(void) { return data_at(0xFFFFFFFFFFFFF000ull, 0x2000); }

static int a_avail(void)
{
	F.q[0].avail_idx = (uint16_t)(F.q[0].avail_idx + F.q[0].num + 5);
	__atomic_store_n(&F.q[0].avail[1], F.q[0].avail_idx, __ATOMIC_RELEASE);
	vf_kick(&F, 0);
	return 0;
}

static int a_head(void)
{
	vf_post_head(&F, 0, (uint16_t)(F.q[0].num + 3));
	vf_kick(&F, 0);
	return 0;
}

static int a_nested(void)
{
	uint64_t t = vf_alloc(&F, 32), t2 = vf_alloc(&F, 32);
	struct vf_desc *tab = vf_ptr(&F, t);
	struct vf_desc d = { t, 32, VF_DESC_INDIRECT, 0 };

	tab[0] = (struct vf_desc){ t2, 32, VF_DESC_INDIRECT, 0 };
	tab[1] = (struct vf_desc){ 0, 0, 0, 0 };
	raw_chain(&d, (uint16_t[]){ 0 }, 1);
	return 0;
}

static int a_direction(void)
{
	uint64_t h = hdr_in();
	struct vf_desc d[2] = { { h + 16, 1, VF_DESC_WRITE | VF_DESC_NEXT, 1 }, { h, 16, 0, 0 } };

	raw_chain(d, (uint16_t[]){ 0, 1 }, 2);
	return 0;
}

static int a_nostatus(void)
{
	uint64_t h = hdr_in();
	struct vf_desc d = { h, 16, 0, 0 };

	raw_chain(&d, (uint16_t[]){ 0 }, 1);
	return 0;
}

static int broken_attack(int (*attack)(void))
{
	attack();
	CHECK(stalled(0), "queue 0 still completes requests after the attack");
	CHECK(serving(1), "queue 1 stopped serving");
	return 0;
}

#define BROKEN(name) static int m_##name(void) { return broken_attack(a_##name); }
BROKEN(loop) BROKEN(long) BROKEN(big_indirect) BROKEN(oob) BROKEN(end) BROKEN(wrap)
BROKEN(avail) BROKEN(head) BROKEN(nested) BROKEN(direction) BROKEN(nostatus)

static int m_header(void)
{
	uint64_t h = hdr_in();
	struct vf_desc d[2] = { { h, 8, VF_DESC_NEXT, 1 }, { h + 16, 1, VF_DESC_WRITE, 0 } };
	uint32_t id, len;

	raw_chain(d, (uint16_t[]){ 0, 1 }, 2);
	CHECK(vf_wait_used(&F, 0, 2000, &id, &len) == 0, "no completion");
	CHECK(*(uint8_t *)vf_ptr(&F, h + 16) == 1, "short header: status %u, want IOERR",
	      *(uint8_t *)vf_ptr(&F, h + 16));
	CHECK(serving(0), "queue 0 stopped serving");
	return 0;
}

/* Another host process shrinks the image under the backend, then grows it back (sparse): a
 * read past the new end fails with IOERR and one before it still works, the queue keeps
 * serving, and once the file has grown back the lost part reads as zeros. */
static int t_shrink(void)
{
	uint64_t half = F.capacity * 512 / 2, gpa = vf_alloc(&F, 4096);
	uint8_t *buf = vf_ptr(&F, gpa), want[4096], zero[4096] = { 0 };
	int fd, ok;

	CHECK(F.capacity >= 2048, "capacity %llu", (unsigned long long)F.capacity);
	pattern(buf, half + 4096, 4096, 7);
	CHECK(io(0, VIRTIO_BLK_T_OUT, (half + 4096) / 512, gpa, 4096, false) == 0, "write");
	pattern(want, 0, 4096, 8);
	memcpy(buf, want, 4096);
	CHECK(io(0, VIRTIO_BLK_T_OUT, 0, gpa, 4096, false) == 0, "write");
	fd = open(image, O_RDWR);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)half) == 0, "shrinking the image");
	ok = io(0, VIRTIO_BLK_T_IN, (half + 4096) / 512, gpa, 4096, false) == 1;
	ok = ok && io(0, VIRTIO_BLK_T_IN, 0, gpa, 4096, false) == 0 && !memcmp(buf, want, 4096);
	if (ftruncate(fd, (off_t)(F.capacity * 512)) < 0)
		ok = -1;
	close(fd);
	CHECK(ok == 1, ok < 0 ? "growing the image back" : "past the new end not IOERR, or the start wrong");
	CHECK(io(0, VIRTIO_BLK_T_IN, (half + 4096) / 512, gpa, 4096, false) == 0, "read after the regrowth");
	CHECK(!memcmp(buf, zero, 4096), "the part lost to the shrink does not read as zeros");
	CHECK(serving(0), "queue 0 stopped serving");
	return 0;
}

static int m_range(void)
{
	uint64_t end = VF_R1_GPA + VF_R_SIZE - 4096;

	CHECK(io(0, VIRTIO_BLK_T_IN, F.capacity, vf_alloc(&F, 512), 512, false) == 1, "read past capacity");
	CHECK(io(0, VIRTIO_BLK_T_IN, F.capacity - 1, vf_alloc(&F, 1024), 1024, false) == 1, "straddling");
	CHECK(io(0, VIRTIO_BLK_T_OUT, 1ull << 63, vf_alloc(&F, 512), 512, false) == 1, "sector 2^63");
	CHECK(vf_blk(&F, 0, VIRTIO_BLK_T_IN, 0, vf_alloc(&F, 4096), 700, 1, false) == 1, "700 bytes");
	CHECK(vf_blk(&F, 0, 0x7777, 0, 0, 0, 0, false) == 2, "unknown type not UNSUPP");
	CHECK(range_req(0, VIRTIO_BLK_T_DISCARD, 0, 8, 0x80) == 2, "discard reserved flag not UNSUPP");
	CHECK(range_req(0, VIRTIO_BLK_T_WRITE_ZEROES, F.capacity - 4, 8, 0) == 1, "zeroes past end");
	CHECK(range_req(0, VIRTIO_BLK_T_DISCARD, ~0ull - 2, 8, 0) == 1, "discard range wraps");
	/* A buffer ending exactly at the last byte of guest memory is fine. */
	CHECK(vf_blk(&F, 0, VIRTIO_BLK_T_IN, 0, end, 4096, 1, false) == 0, "buffer at the end of RAM");
	CHECK(serving(0) && serving(1), "queues stopped serving");
	return 0;
}

static int m_config(void)
{
	struct { uint32_t off, size, flags; uint8_t data[8]; } c = { 0, 8, 0, { 0xff } };
	struct { uint32_t off, size, flags; uint8_t data[60]; } g = { 0, 60, 0, { 0 } };
	uint64_t cap;

	CHECK(vf_msg(&F, 25, &c, sizeof(c), NULL, 0, NULL, 0) == -EREMOTEIO,
	      "capacity write accepted");
	c.off = 200; /* past the config space */
	CHECK(vf_msg(&F, 25, &c, sizeof(c), NULL, 0, NULL, 0) == -EREMOTEIO, "write past end");
	CHECK(vf_msg(&F, 24, &g, sizeof(g), NULL, 0, &g, sizeof(g)) == (int)sizeof(g), "get");
	memcpy(&cap, g.data, 8);
	CHECK(cap == F.capacity, "capacity changed to %llu", (unsigned long long)cap);
	g.off = 250; /* a read past the space: an empty reply says "error" */
	CHECK(vf_msg(&F, 24, &g, sizeof(g), NULL, 0, &g, sizeof(g)) == 0, "read past end");
	CHECK(serving(0), "queue 0 stopped serving");
	return 0;
}

static int expect_hangup(const void *msg, size_t len)
{
	char b;

	CHECK(vf_send_raw(&F, msg, len) == 0, "send");
	CHECK(recv(F.sock, &b, 1, 0) == 0, "backend did not close the connection");
	return 0;
}

static int m_msg_size(void)
{
	uint32_t m[4] = { 8 /* SET_VRING_NUM */, 1, 4, 0 };

	return expect_hangup(m, sizeof(m));
}

static int m_msg_huge(void)
{
	uint32_t m[3] = { 5 /* SET_MEM_TABLE */, 1, 0xffffffffu };

	return expect_hangup(m, sizeof(m));
}

static int m_msg_memtable(void)
{
	/* Claims 9 regions (more than the protocol allows) and sends no fds. */
	uint32_t m[3 + 2 + 8 * 9] = { 5, 1, 8 + 32 * 8, 9 };

	return expect_hangup(m, 12 + 8 + 32 * 8);
}

struct test { const char *name; int (*fn)(void); unsigned queues; uint16_t qsize; };

static const struct test tests[] = {
	{ "rw", t_rw, 1, 128 }, { "flush", t_flush, 1, 128 }, { "getid", t_getid, 1, 128 },
	{ "ro", t_ro, 1, 128 }, { "zeroes", t_zeroes, 1, 128 }, { "mq", t_mq, 2, 128 },
	{ "mq4", t_mq, 4, 128 }, { "persist", t_persist, 1, 128 }, { "inline", t_inline, 1, 128 },
	{ "batch", t_batch, 1, 128 }, { "shrink", t_shrink, 1, 128 },
	{ "m-loop", m_loop, 2, 512 }, { "m-long", m_long, 2, 512 },
	{ "m-big-indirect", m_big_indirect, 2, 512 }, { "m-oob", m_oob, 2, 512 },
	{ "m-end", m_end, 2, 512 }, { "m-wrap", m_wrap, 2, 512 }, { "m-avail", m_avail, 2, 512 },
	{ "m-head", m_head, 2, 512 }, { "m-nested", m_nested, 2, 512 },
	{ "m-direction", m_direction, 2, 512 }, { "m-nostatus", m_nostatus, 2, 512 },
	{ "m-header", m_header, 2, 512 }, { "m-range", m_range, 2, 512 },
	{ "m-config", m_config, 2, 512 }, { "m-msg-size", m_msg_size, 1, 128 },
	{ "m-msg-huge", m_msg_huge, 1, 128 }, { "m-msg-memtable", m_msg_memtable, 1, 128 },
};

int main(int argc, char **argv)
{
	const char *sock = NULL, *name = NULL, *blk = NULL;
	const struct test *t = NULL;
	int rc, opt;

	while ((opt = getopt(argc, argv, "s:i:t:S:p:b:")) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'i': image = optarg; break;
		case 't': name = optarg; break;
		case 'S': serial = optarg; break;
		case 'p': backend_pid = atoi(optarg); break;
		case 'b': blk = optarg; break;
		default: return 2;
		}
	}
	for (size_t i = 0; name && i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!strcmp(tests[i].name, name))
			t = &tests[i];
	if (sock && image && name && !strncmp(name, "i-", 2)) {
		rc = inflight_main(&F, name, &(struct inflight_args){ sock, image, blk });
		if (rc >= 0 && rc != SKIP)
			printf("%s %s\n", rc == 0 ? "PASS" : "FAIL", name);
		if (rc >= 0)
			return rc;
	}
	if (!sock || !image || !t) {
		fprintf(stderr, "usage: frontend -s SOCK -i IMAGE -t TEST [-S SERIAL] [-p PID] "
			"[-b CELLVM_BLK]\n");
		return 2;
	}
	rc = vf_connect(&F, sock);
	if (rc == 0 && strncmp(t->name, "m-msg", 5))
		rc = vf_start(&F, t->queues, t->qsize);
	if (rc) {
		printf("FAIL %s: frontend set-up: %s\n", t->name, strerror(-rc));
		return 1;
	}
	rc = t->fn();
	printf("%s %s\n", rc == 0 ? "PASS" : rc == SKIP ? "SKIP" : "FAIL", t->name);
	return rc;
}
