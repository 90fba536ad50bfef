/* memory.c: the memory test: check the RAM size in the memory map, then write and verify all free RAM at CPL3. */
#include "probe.h"

#define E820_RAM 1

struct span {
	u64 start, end;
};
static struct span spans[MAX_MEM_RANGES];
static int nspans;

static u64 pattern(u64 a)
{
	return ~a ^ (a << 32) ^ 0x5a5a000000000000ULL;
}

static void check_size(u64 expect)
{
	u64 sum = 0, low = 0, top = 0;
	for (int i = 0; i < bi.nmem; i++) {
		const struct mem_range *m = &bi.mem[i];
		if (m->type != E820_RAM)
			continue;
		sum += m->size;
		low += m->addr < 4 * GiB ? m->size : 0;
		top = m->addr + m->size > top ? m->addr + m->size : top;
	}
	pr("probe: memory: %lu bytes (%lu MiB) usable RAM, top 0x%lx, expected %lu MiB\n", sum, sum >> 20, top,
	   expect >> 20);
	if (sum > expect || sum + MiB < expect)
		test_fail("usable RAM is 0x%lx bytes, expected 0x%lx minus at most 1 MiB", sum, expect);
	u64 allowed = top > 4 * GiB ? 4 * GiB + (expect - low) : expect;
	if (top > allowed)
		test_fail("RAM ends at 0x%lx, above the expected top 0x%lx", top, allowed);
}

static void collect_spans(void)
{
	u64 floor = ((u64)_end + 0xfff) & ~0xfffULL;
	if (floor < MiB)
		floor = MiB;
	for (int i = 0; i < bi.nmem; i++) {
		const struct mem_range *m = &bi.mem[i];
		u64 s = m->addr > floor ? m->addr : floor;
		u64 e = (m->addr + m->size) & ~7ULL;
		s = (s + 7) & ~7ULL;
		if (m->type == E820_RAM && s < e)
			spans[nspans++] = (struct span){ s, e };
	}
}

struct mem_job {
	u64 bytes, bad_addr, bad_val, stride;
	int bad, cpl;
};
static struct mem_job job;

static void fill(const struct span *sp, u64 stride)
{
	for (u64 a = sp->start; a < sp->end; a += stride)
		*(volatile u64 *)a = pattern(a);
}

static int verify(const struct span *sp, struct mem_job *j)
{
	for (u64 a = sp->start; a < sp->end; a += j->stride) {
		u64 v = *(volatile u64 *)a;
		if (v != pattern(a)) {
			j->bad = 1;
			j->bad_addr = a;
			j->bad_val = v;
			return 0;
		}
	}
	return 1;
}

/* Runs at CPL3: writes every span, then reads everything back; no I/O here. */
static void user_memory(void *arg)
{
	struct mem_job *j = arg;
	j->cpl = read_cs() & 3;
	for (int i = 0; i < nspans; i++) {
		fill(&spans[i], j->stride);
		j->bytes += spans[i].end - spans[i].start;
	}
	for (int i = 0; i < nspans; i++)
		if (!verify(&spans[i], j))
			return;
}

noreturn void test_memory(void)
{
	u64 expect;
	if (bi.nmem == 0)
		test_fail("no memory map");
	if (param_size("expect_mem", &expect))
		check_size(expect);
	else
		pr("probe: memory: no expect_mem=, size check skipped\n");
	/* stride=BYTES (default 8, every word) samples huge RAM sizes where the host's
	 * first-touch cost per page would make a full pass take minutes. */
	if (!param_size("stride", &job.stride) || job.stride < 8 || (job.stride & 7))
		job.stride = 8;
	collect_spans();
	for (int i = 0; i < nspans; i++)
		pr("probe: memory: testing [0x%lx-0x%lx)\n", spans[i].start, spans[i].end);
	run_user(user_memory, &job);
	if (job.bad)
		test_fail("mismatch at 0x%lx: wrote 0x%lx, read 0x%lx", job.bad_addr, pattern(job.bad_addr),
			  job.bad_val);
	if (job.cpl != 3)
		test_fail("pattern loop ran at CPL%d, not CPL3", job.cpl);
	pr("probe: memory: %lu MiB written and verified at CPL%d, every %lu bytes\n", job.bytes >> 20,
	   job.cpl, job.stride);
	test_pass();
}
