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

static void fill(const struct span *sp)
{
	for (u64 a = sp->start; a < sp->end; a += 8)
		*(volatile u64 *)a = pattern(a);
}

static void verify(const struct span *sp)
{
	for (u64 a = sp->start; a < sp->end; a += 8) {
		u64 v = *(volatile u64 *)a;
		if (v != pattern(a))
			test_fail("mismatch at 0x%lx: wrote 0x%lx, read 0x%lx", a, pattern(a), v);
	}
}

/* Runs at CPL3: writes every span, then reads everything back. */
static void user_memory(void *arg)
{
	(void)arg;
	u64 bytes = 0;
	for (int i = 0; i < nspans; i++) {
		pr("probe: memory: writing [0x%lx-0x%lx)\n", spans[i].start, spans[i].end);
		fill(&spans[i]);
		bytes += spans[i].end - spans[i].start;
	}
	for (int i = 0; i < nspans; i++)
		verify(&spans[i]);
	pr("probe: memory: %lu MiB checked at CPL%u\n", bytes >> 20, read_cs() & 3);
	test_pass();
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
	collect_spans();
	run_user(user_memory, NULL);
}
