/* blk.c: virtio-blk tests over the probe's virtio-pci transport: blk-rw, blk-flush, blk-id,
   blk-ro, blk-mq. Patterns are generated and verified at CPL3 (native speed under PVM). */
#include "virtio.h"
#include "../../devices/lib/virtio_blk.h"

#define F(b) (1ULL << (b))
#define CFG(field) offsetof(struct virtio_blk_config, field)

#define REQ_MAX (64 * 1024)
#define MAX_REQS 256
#define MAX_SEGS 32
#define BATCH_MAX (4 * MiB)

struct blk_req {
	struct virtio_blk_hdr hdr;
	u8 status;
	u8 done;
	u16 q;
	u32 len, used_len;
	u64 buf;
};

static struct vdev v;
static struct blk_req reqs[MAX_REQS];
static struct blk_req *reqp[MAX_REQS];
static u64 completed, len_warned;
static u32 seg_bytes, max_segs, req_bytes;

static const char *type_name(u32 t)
{
	return t == VIRTIO_BLK_T_IN ? "read" : t == VIRTIO_BLK_T_OUT ? "write" : t == VIRTIO_BLK_T_FLUSH ? "flush" : t == VIRTIO_BLK_T_GET_ID ? "get-id" : "?";
}

static void on_done(void *cookie, u32 len)
{
	struct blk_req *r = cookie;
	r->done = 1;
	r->used_len = len;
	completed++;
	u32 want = (r->hdr.type == VIRTIO_BLK_T_IN || r->hdr.type == VIRTIO_BLK_T_GET_ID ? r->len : 0) + 1;
	if (len != want && !len_warned++)
		pr("probe: blk: note: %s request completed with used len %u, expected %u\n", type_name(r->hdr.type),
		   len, want);
}

static int req_descs(const struct blk_req *r, struct vbuf *b)
{
	int n = 0, dw = r->hdr.type == VIRTIO_BLK_T_IN || r->hdr.type == VIRTIO_BLK_T_GET_ID;
	b[n++] = (struct vbuf){ (u64)&r->hdr, sizeof(r->hdr), 0 };
	for (u32 off = 0; off < r->len; off += seg_bytes) {
		u32 l = r->len - off < seg_bytes ? r->len - off : seg_bytes;
		b[n++] = (struct vbuf){ r->buf + off, l, dw };
	}
	b[n++] = (struct vbuf){ (u64)&r->status, 1, 1 };
	return n;
}

/* Puts every request on its queue (as many as fit), kicks, and waits for interrupts until
   all have completed. */
static void run_reqs(struct blk_req **rq, int n)
{
	struct vq *qs[VIRTIO_MAX_QUEUES];
	for (int i = 0; i < v.nq; i++)
		qs[i] = &v.vq[i];
	u64 target = completed + (u64)n;
	int next = 0;
	while (completed < target) {
		u32 touched = 0;
		while (next < n) {
			struct blk_req *r = rq[next];
			struct vbuf b[MAX_SEGS + 2];
			int nb = req_descs(r, b);
			r->done = 0;
			r->status = 0xff;
			if (vq_add(&v.vq[r->q], b, nb, r) < 0)
				break;
			touched |= 1u << r->q;
			next++;
		}
		for (int i = 0; i < v.nq; i++)
			if (touched & (1u << i))
				vq_kick(&v, &v.vq[i]);
		if (completed < target)
			vq_wait(&v, qs, v.nq, on_done, 30);
	}
}

static struct blk_req *mkreq(int i, u32 type, u64 sector, u64 buf, u32 len, u16 q)
{
	struct blk_req *r = &reqs[i];
	memset(r, 0, sizeof(*r));
	r->hdr.type = type;
	r->hdr.sector = sector;
	r->buf = buf;
	r->len = len;
	r->q = q;
	reqp[i] = r;
	return r;
}

static void one_req(u32 type, u64 sector, u64 buf, u32 len)
{
	mkreq(0, type, sector, buf, len, 0);
	run_reqs(reqp, 1);
}

/* ---- patterns, at CPL3 ---- */
struct pat_job {
	u64 buf, sector, nsect, salt;
	int op;			/* 0 fill, 1 verify, 2 poison */
	int cpl, bad;
	u64 bad_sector, bad_word, bad_val, want;
};
static struct pat_job job;
static u64 salt;

static u64 pat(u64 sector, u64 w, u64 s)
{
	u64 x = ((sector << 6) | w) ^ s;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return x;
}

static void user_pattern(void *arg)
{
	struct pat_job *j = arg;
	volatile u64 *p = (volatile u64 *)j->buf;
	j->cpl = read_cs() & 3;
	for (u64 s = 0; s < j->nsect; s++) {
		for (u64 w = 0; w < VIRTIO_BLK_SECTOR / 8; w++, p++) {
			u64 want = pat(j->sector + s, w, j->salt);
			if (j->op == 0) {
				*p = want;
			} else if (j->op == 2) {
				*p = ~want;
			} else if (*p != want) {
				j->bad = 1;
				j->bad_sector = j->sector + s;
				j->bad_word = w;
				j->bad_val = *p;
				j->want = want;
				return;
			}
		}
	}
}

static void pattern(int op, u64 buf, u64 sector, u64 nsect)
{
	job = (struct pat_job){ .buf = buf, .sector = sector, .nsect = nsect, .salt = salt, .op = op };
	run_user(user_pattern, &job);
	if (job.cpl != 3)
		test_fail("pattern loop ran at CPL%d, not CPL3", job.cpl);
	if (job.bad)
		test_fail("data mismatch at sector %lu word %lu: read 0x%lx, expected 0x%lx", job.bad_sector,
			  job.bad_word, job.bad_val, job.want);
}

/* ---- device bring-up ---- */
static u64 capacity;

static void blk_open(u64 wanted, int nq)
{
	if (virtio_find(&v, 2))
		test_fail("no virtio-blk device (1af4:1042, or transitional 1af4:1001) on PCI bus 0");
	virtio_irq_start();
	virtio_start(&v, wanted | F(VIRTIO_BLK_F_SIZE_MAX) | F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE), nq);
	capacity = virtio_cfg64(&v, CFG(capacity));
	seg_bytes = 16 * 1024;
	max_segs = MAX_SEGS;
	if (v.features & F(VIRTIO_BLK_F_SIZE_MAX)) {
		u32 sm = virtio_cfg32(&v, CFG(size_max)) & ~(VIRTIO_BLK_SECTOR - 1u);
		if (sm && sm < seg_bytes)
			seg_bytes = sm;
	}
	if (v.features & F(VIRTIO_BLK_F_SEG_MAX)) {
		u32 sm = virtio_cfg32(&v, CFG(seg_max));
		if (sm && sm < max_segs)
			max_segs = sm;
	}
	if (max_segs + 2 > v.vq[0].size)
		max_segs = v.vq[0].size - 2u;
	req_bytes = seg_bytes * max_segs < REQ_MAX ? seg_bytes * max_segs : REQ_MAX;
	u32 bs = v.features & F(VIRTIO_BLK_F_BLK_SIZE) ? virtio_cfg32(&v, CFG(blk_size)) : 0;
	pr("probe: blk: capacity %lu sectors (%lu MiB + %lu KiB), blk_size %u, size_max %s, seg_max %s; "
	   "requests up to %u bytes in segments of %u\n",
	   capacity, capacity * VIRTIO_BLK_SECTOR >> 20, (u64)((capacity * VIRTIO_BLK_SECTOR & (MiB - 1)) >> 10), bs,
	   v.features & F(VIRTIO_BLK_F_SIZE_MAX) ? "yes" : "no", v.features & F(VIRTIO_BLK_F_SEG_MAX) ? "yes" : "no",
	   req_bytes, seg_bytes);
	u64 want;
	if (param_size("blk_size", &want) && want != capacity * VIRTIO_BLK_SECTOR)
		test_fail("capacity is %lu bytes, blk_size= expects %lu", capacity * VIRTIO_BLK_SECTOR, want);
	if (!capacity)
		test_fail("capacity is 0");
	salt = rdtsc() * 0x9e3779b97f4a7c15ULL;
}

static noreturn void blk_pass(void)
{
	virtio_reset(&v);
	virtio_irq_stop();
	test_pass();
}

static void check_status(struct blk_req **rq, int n, u8 want)
{
	for (int i = 0; i < n; i++)
		if (!rq[i]->done || rq[i]->status != want)
			test_fail("%s of sector %lu: status %u, expected %u", type_name(rq[i]->hdr.type),
				  rq[i]->hdr.sector, rq[i]->status, want);
}

/* Writes a sector-derived pattern over the whole disk, reads it all back and verifies;
   request i goes to queue i % nq for writes and (i + 1) % nq for reads. */
static void whole_disk(const char *tag)
{
	int nq = v.nq;
	u64 total = capacity * VIRTIO_BLK_SECTOR, batch = total < BATCH_MAX ? total : BATCH_MAX;
	if (batch > heap_free_bytes() / 2)
		batch = (heap_free_bytes() / 2) & ~(u64)(req_bytes - 1);
	if ((batch / req_bytes) > MAX_REQS)
		batch = (u64)MAX_REQS * req_bytes;
	if (batch < req_bytes && batch < total)
		test_fail("not enough RAM for a %u-byte buffer", req_bytes);
	u64 buf = heap_alloc(batch, 4096);
	u64 nreq[2] = { 0, 0 };
	pr("probe: %s: writing %lu MiB + %lu KiB in batches of %lu KiB on %d queue(s)\n", tag, total >> 20,
	   (u64)((total & (MiB - 1)) >> 10), batch >> 10, nq);
	for (int pass = 0; pass < 2; pass++) {
		u32 type = pass ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		u64 ri = 0;
		for (u64 off = 0; off < total; off += batch) {
			u64 len = total - off < batch ? total - off : batch;
			u64 s0 = off / VIRTIO_BLK_SECTOR;
			pattern(pass ? 2 : 0, buf, s0, len / VIRTIO_BLK_SECTOR);
			int n = 0;
			for (u64 o = 0; o < len; o += req_bytes, ri++) {
				u32 l = (u32)(len - o < req_bytes ? len - o : req_bytes);
				mkreq(n++, type, (off + o) / VIRTIO_BLK_SECTOR, buf + o, l, (u16)((ri + (u64)pass) % (u64)nq));
			}
			run_reqs(reqp, n);
			check_status(reqp, n, VIRTIO_BLK_S_OK);
			nreq[pass] += (u64)n;
			if (pass)
				pattern(1, buf, s0, len / VIRTIO_BLK_SECTOR);
		}
		pr("probe: %s: %s pass done: %lu requests\n", tag, pass ? "read+verify" : "write", nreq[pass]);
	}
	u64 irqs = 0, by_irq = 0, by_poll = 0;
	for (int i = 0; i < nq; i++) {
		struct vq *q = &v.vq[i];
		pr("probe: %s: queue %d: %lu requests, %lu interrupts on vector 0x%x, %lu completions seen via "
		   "interrupt, %lu by polling\n",
		   tag, i, q->requests, q->irqs, q->vector, q->by_irq, q->by_poll);
		if (!q->irqs || !q->by_irq)
			test_fail("queue %d: no completion was signalled by its MSI-X interrupt", i);
		irqs += q->irqs;
		by_irq += q->by_irq;
		by_poll += q->by_poll;
	}
	pr("probe: %s: %lu MiB written and verified (pattern at CPL3), %lu write + %lu read requests, "
	   "%lu interrupts, %lu polled completions\n",
	   tag, total >> 20, nreq[0], nreq[1], irqs, by_poll);
}

noreturn void test_blk_rw(void)
{
	blk_open(0, 1);
	if (v.offered & F(VIRTIO_BLK_F_RO))
		test_fail("device offers VIRTIO_BLK_F_RO: read-only disk");
	whole_disk("blk-rw");
	blk_pass();
}

noreturn void test_blk_flush(void)
{
	blk_open(F(VIRTIO_BLK_F_FLUSH), 1);
	if (!(v.features & F(VIRTIO_BLK_F_FLUSH)))
		test_fail("VIRTIO_BLK_F_FLUSH not offered");
	u64 n = capacity < 8 ? capacity : 8;
	u64 buf = heap_alloc(n * VIRTIO_BLK_SECTOR, 4096);
	pattern(0, buf, 0, n);
	one_req(VIRTIO_BLK_T_OUT, 0, buf, (u32)(n * VIRTIO_BLK_SECTOR));
	check_status(reqp, 1, VIRTIO_BLK_S_OK);
	pr("probe: blk-flush: wrote %lu sectors at 0\n", n);
	one_req(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	check_status(reqp, 1, VIRTIO_BLK_S_OK);
	pr("probe: blk-flush: flush status OK (used len %u)\n", reqs[0].used_len);
	pattern(2, buf, 0, n);
	one_req(VIRTIO_BLK_T_IN, 0, buf, (u32)(n * VIRTIO_BLK_SECTOR));
	check_status(reqp, 1, VIRTIO_BLK_S_OK);
	pattern(1, buf, 0, n);
	pr("probe: blk-flush: read back and verified; %lu interrupts\n", v.vq[0].irqs);
	if (!v.vq[0].by_irq)
		test_fail("no completion was signalled by an MSI-X interrupt");
	blk_pass();
}

noreturn void test_blk_id(void)
{
	blk_open(0, 1);
	u64 buf = heap_alloc(4096, 4096);
	memset(phys(buf), 0, 32);
	one_req(VIRTIO_BLK_T_GET_ID, 0, buf, 20);
	if (reqs[0].status == VIRTIO_BLK_S_UNSUPP)
		test_fail("GET_ID: status UNSUPP");
	check_status(reqp, 1, VIRTIO_BLK_S_OK);
	char serial[21];
	memcpy(serial, phys(buf), 20);
	serial[20] = 0;
	pr("probe: blk-id: serial '%s'\n", serial);
	char want[64];
	if (cmdline_get("blk_serial", want, sizeof(want))) {
		if (strlen(want) > 20)
			want[20] = 0;
		if (strcmp(serial, want))
			test_fail("serial '%s', blk_serial= expects '%s'", serial, want);
	}
	blk_pass();
}

noreturn void test_blk_ro(void)
{
	blk_open(F(VIRTIO_BLK_F_RO), 1);
	if (!(v.features & F(VIRTIO_BLK_F_RO)))
		test_fail("VIRTIO_BLK_F_RO not offered");
	u64 n = capacity < 8 ? capacity : 8, len = n * VIRTIO_BLK_SECTOR;
	u64 before = heap_alloc(len, 4096), buf = heap_alloc(len, 4096), after = heap_alloc(len, 4096);
	one_req(VIRTIO_BLK_T_IN, 0, before, (u32)len);
	check_status(reqp, 1, VIRTIO_BLK_S_OK);
	pr("probe: blk-ro: read of %lu sectors at 0: OK\n", n);
	pattern(0, buf, 0, n);
	one_req(VIRTIO_BLK_T_OUT, 0, buf, (u32)len);
	if (reqs[0].status != VIRTIO_BLK_S_IOERR)
		test_fail("write to the read-only disk completed with status %u, expected %u (IOERR)",
			  reqs[0].status, VIRTIO_BLK_S_IOERR);
	pr("probe: blk-ro: write rejected with VIRTIO_BLK_S_IOERR\n");
	one_req(VIRTIO_BLK_T_IN, 0, after, (u32)len);
	check_status(reqp, 1, VIRTIO_BLK_S_OK);
	if (memcmp(phys(before), phys(after), len))
		test_fail("disk contents changed after the rejected write");
	pr("probe: blk-ro: contents unchanged; %lu interrupts\n", v.vq[0].irqs);
	if (!v.vq[0].by_irq)
		test_fail("no completion was signalled by an MSI-X interrupt");
	blk_pass();
}

noreturn void test_blk_mq(void)
{
	blk_open(F(VIRTIO_BLK_F_MQ), 1);	/* one queue first, to read num_queues */
	if (!(v.features & F(VIRTIO_BLK_F_MQ)))
		test_fail("VIRTIO_BLK_F_MQ not offered");
	u16 nq = virtio_cfg16(&v, CFG(num_queues));
	pr("probe: blk-mq: device config num_queues %u, common config num_queues %u\n", nq, v.num_queues);
	u64 want;
	char s[32];
	if (cmdline_get("blk_queues", s, sizeof(s))) {
		if (!parse_u64(s, &want))
			test_fail("bad value '%s' for blk_queues", s);
		if (want != nq)
			test_fail("num_queues %u, blk_queues= expects %lu", nq, want);
	}
	if (nq < 2)
		test_fail("num_queues %u: fewer than 2", nq);
	if (nq > VIRTIO_MAX_QUEUES) {
		pr("probe: blk-mq: using the first %d of %u queues\n", VIRTIO_MAX_QUEUES, nq);
		nq = VIRTIO_MAX_QUEUES;
	}
	virtio_start(&v, F(VIRTIO_BLK_F_MQ) | F(VIRTIO_BLK_F_SIZE_MAX) | F(VIRTIO_BLK_F_SEG_MAX), nq);
	whole_disk("blk-mq");
	blk_pass();
}

/* The host kills the device's backend while the probe waits: the device must report
   DEVICE_NEEDS_RESET (0x40) in its status, as virtio says a failed device does. */
noreturn void test_blk_backend_death(void)
{
	blk_open(0, 1);
	u64 buf = heap_alloc(VIRTIO_BLK_SECTOR, 4096);
	one_req(VIRTIO_BLK_T_IN, 0, buf, VIRTIO_BLK_SECTOR);
	check_status(reqp, 1, VIRTIO_BLK_S_OK);
	pr("probe: blk: device working; waiting for it to fail (kill its backend now)\n");
	u64 deadline = rdtsc() + 20 * tsc_hz();
	while (!(virtio_status(&v) & 0x40)) {
		if (rdtsc() > deadline)
			test_fail("status never showed DEVICE_NEEDS_RESET (status 0x%x)", virtio_status(&v));
		__asm__ volatile("sti; hlt; cli");
	}
	pr("probe: blk: device status 0x%x: DEVICE_NEEDS_RESET\n", virtio_status(&v));
	blk_pass();
}

/* One QD1 request that must complete with OK; returns how long it took in ms. */
static u64 timed_req(u32 type, u64 sector, u64 buf, u32 len)
{
	u64 t0 = rdtsc();
	one_req(type, sector, buf, len);
	check_status(reqp, 1, VIRTIO_BLK_S_OK);
	return (rdtsc() - t0) * 1000 / tsc_hz();
}

/* blk_qd requests of one type at once, to chunks k0.. (each chunk's buffer at buf + i *
   req_bytes); every one must complete with OK, in any order. Returns the ms they took. */
static u64 timed_batch(u32 type, u64 k0, u64 nchunks, u64 buf, u64 qd)
{
	u64 t0 = rdtsc(), n = req_bytes / VIRTIO_BLK_SECTOR;
	for (u64 i = 0; i < qd; i++)
		mkreq((int)i, type, (k0 + i) % nchunks * n, buf + i * req_bytes, req_bytes, 0);
	run_reqs(reqp, (int)qd);
	check_status(reqp, (int)qd, VIRTIO_BLK_S_OK);
	return (rdtsc() - t0) * 1000 / tsc_hz();
}

/* One round at depth qd > 1: qd chunks written at once with new salts, then read back at once
   and verified (the backend may complete them in any order; across its restart, the inflight
   region must leave none lost and none done against a reused head). Returns the longest ms. */
static u64 reconnect_round_qd(u64 k0, u64 nchunks, u64 buf, u64 qd, u64 *salts)
{
	u64 n = req_bytes / VIRTIO_BLK_SECTOR, ms, longest;
	for (u64 i = 0; i < qd; i++) {
		u64 k = (k0 + i) % nchunks;
		salt = salt * 6364136223846793005ULL + 1442695040888963407ULL;
		salts[k] = salt;
		pattern(0, buf + i * req_bytes, k * n, n);
	}
	longest = timed_batch(VIRTIO_BLK_T_OUT, k0, nchunks, buf, qd);
	for (u64 i = 0; i < qd; i++)
		pattern(2, buf + i * req_bytes, (k0 + i) % nchunks * n, n);
	ms = timed_batch(VIRTIO_BLK_T_IN, k0, nchunks, buf, qd);
	for (u64 i = 0; i < qd; i++) {
		salt = salts[(k0 + i) % nchunks];
		pattern(1, buf + i * req_bytes, (k0 + i) % nchunks * n, n);
	}
	return ms > longest ? ms : longest;
}

/* Between two rounds (nothing in flight): the driver resets the device and sets it up again
   from fresh rings, as Linux's virtio-blk does on a reset or a resume. */
static void blk_setup_again(u64 n)
{
	virtio_start(&v, F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_SIZE_MAX) | F(VIRTIO_BLK_F_SEG_MAX) |
		     F(VIRTIO_BLK_F_BLK_SIZE), 1);
	pr("probe: blk-reconnect: device reset %lu, set up again\n", n);
}

/* The host restarts the device's backend while this runs: writes of a pattern that changes
   every round, each read back and verified, for blk_secs= seconds (default 8), blk_qd=
   requests at a time (default 1; at most 16), the device reset and set up again blk_resets=
   times (default 0, at most 8) at even intervals; then every chunk is read and verified once
   more. No request may fail or get lost. */
noreturn void test_blk_reconnect(void)
{
	blk_open(F(VIRTIO_BLK_F_FLUSH), 1);
	u64 secs = 8, longest = 0, rounds = 0, flushes = 0, qd = 1, resets = 0, done = 0;
	char s[32];
	if (cmdline_get("blk_secs", s, sizeof(s)) && !parse_u64(s, &secs))
		test_fail("bad value '%s' for blk_secs", s);
	if (cmdline_get("blk_qd", s, sizeof(s)) && (!parse_u64(s, &qd) || qd < 1 || qd > 16))
		test_fail("bad value '%s' for blk_qd (1 to 16)", s);
	if (cmdline_get("blk_resets", s, sizeof(s)) && (!parse_u64(s, &resets) || resets > 8))
		test_fail("bad value '%s' for blk_resets (0 to 8)", s);
	u64 nchunks = capacity * VIRTIO_BLK_SECTOR / req_bytes, n = req_bytes / VIRTIO_BLK_SECTOR;
	if (nchunks > 64)
		nchunks = 64;
	if (!nchunks)
		test_fail("the disk is smaller than one %u-byte request", req_bytes);
	if (qd > nchunks)
		test_fail("blk_qd=%lu is more than the disk's %lu chunks", qd, nchunks);
	u64 buf = heap_alloc(req_bytes * qd, 4096), salts[64];
	pr("probe: blk-reconnect: running for %lu s over %lu chunks of %u bytes, %lu at a time "
	   "(restart the backend now)\n", secs, nchunks, req_bytes, qd);
	u64 start = rdtsc(), slice = secs * tsc_hz() / (resets + 1);
	for (u64 deadline = start + secs * tsc_hz(); rdtsc() < deadline; rounds++) {
		u64 k = rounds % nchunks, ms;
		if (done < resets && rdtsc() - start >= (done + 1) * slice)
			blk_setup_again(++done);
		if (qd > 1) {
			ms = reconnect_round_qd(rounds * qd % nchunks, nchunks, buf, qd, salts);
			longest = ms > longest ? ms : longest;
			continue;
		}
		salt = salt * 6364136223846793005ULL + 1442695040888963407ULL;
		salts[k] = salt;
		pattern(0, buf, k * n, n);
		ms = timed_req(VIRTIO_BLK_T_OUT, k * n, buf, req_bytes);
		longest = ms > longest ? ms : longest;
		if ((v.features & F(VIRTIO_BLK_F_FLUSH)) && rounds % 16 == 15) {
			ms = timed_req(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
			longest = ms > longest ? ms : longest;
			flushes++;
		}
		pattern(2, buf, k * n, n);
		ms = timed_req(VIRTIO_BLK_T_IN, k * n, buf, req_bytes);
		longest = ms > longest ? ms : longest;
		pattern(1, buf, k * n, n);
	}
	for (u64 k = 0; k < nchunks && k < rounds * qd; k++) {
		salt = salts[k];
		pattern(2, buf, k * n, n);
		timed_req(VIRTIO_BLK_T_IN, k * n, buf, req_bytes);
		pattern(1, buf, k * n, n);
	}
	pr("probe: blk-reconnect: %lu rounds (%lu flushes), longest request %lu ms, every chunk verified "
	   "again; %lu interrupts\n", rounds, flushes, longest, v.vq[0].irqs);
	blk_pass();
}

/* Slot of a modern virtio-blk function on bus 0, or -1: vendor and device ID reads only, as a
   hotplug-aware driver without ACPI would rescan (quietly: this runs in a polling loop). */
static int blk_slot(void)
{
	for (u8 dev = 1; dev < 32; dev++) {
		struct pci_dev d = { .bus = 0, .dev = dev, .fn = 0 };
		if (pci_read32(&d, 0) == (0x1042u << 16 | VIRTIO_VENDOR))
			return dev;
	}
	return -1;
}

/* hotplug-blk: the VM boots without a disk; the host adds one to the running VM (cellvm-remote
   add-disk, after the "waiting" line); the probe polls bus 0 until it appears (30 s), writes
   and verifies the whole disk through it, then waits for the host to remove it (the "to go"
   line, then cellvm-remote remove-device) until its slot reads empty. */
noreturn void test_blk_hotplug(void)
{
	u64 deadline;
	int slot;

	if (blk_slot() >= 0)
		test_fail("a virtio-blk device is present before the host added one");
	pr("probe: hotplug-blk: waiting for a virtio-blk device\n");
	deadline = rdtsc() + tsc_hz() * 30;
	while ((slot = blk_slot()) < 0) {
		if (rdtsc() > deadline)
			test_fail("no virtio-blk device appeared within 30 s");
		delay_us(10000);
	}
	pr("probe: hotplug-blk: a virtio-blk device appeared in slot %d\n", slot);
	blk_open(0, 1);
	whole_disk("hotplug-blk");
	/* The driver lets the device go (reset, interrupts off), as before an eject; the host then
	   removes it (remove-device; with --hotplug-surprise at once) and its slot must read as
	   empty (all ones) again. */
	virtio_reset(&v);
	virtio_irq_stop();
	pr("probe: hotplug-blk: waiting for the device in slot %d to go\n", slot);
	deadline = rdtsc() + tsc_hz() * 30;
	while (blk_slot() == slot) {
		if (rdtsc() > deadline)
			test_fail("the device in slot %d was not removed within 30 s", slot);
		delay_us(10000);
	}
	pr("probe: hotplug-blk: slot %d is empty again\n", slot);
	test_pass();
}
