/* test_virtqueue.c: devices/lib/virtqueue.c: address bounds, virtq_pop/push checks, notify arithmetic. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../devices/lib/virtqueue.h"
#include "log.h"
#include "logcap.h"

#define RAM_GPA   0x10000ull
#define RAM_UVA   0x7f0000000000ull
#define RAM_SIZE  (1u << 20)
#define QNUM      8u
#define DESC_OFF  0x0000u
#define AVAIL_OFF 0x1000u
#define USED_OFF  0x2000u
#define TABLE_OFF 0x3000u   /* indirect tables */
#define DATA_OFF  0x10000u  /* data buffers */
#define F_NEXT     1
#define F_WRITE    2
#define F_INDIRECT 4

static uint8_t *ram;
static struct guest_mem mem;
static struct virtq vq;
static struct virtq_elem elem;
static FILE *log_file;

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	cr_assert_not_null(ram);
	memset(ram, 0, RAM_SIZE);
	mem = (struct guest_mem){ .nregions = 1 };
	mem.regions[0] = (struct guest_region){ .gpa = RAM_GPA, .size = RAM_SIZE,
						.uaddr = RAM_UVA, .hva = ram };
	memset(&vq, 0, sizeof(vq));
	virtq_setup(&vq, QNUM, ram + DESC_OFF, ram + AVAIL_OFF, ram + USED_OFF, 0);
	log_file = logcap_start();
	cr_assert_not_null(log_file);
}

static void teardown(void)
{
	logcap_stop(log_file);
	free(ram);
}

/* The log lines written so far (the reason a queue was marked broken). */
static const char *logged(void)
{
	return logcap_text(log_file);
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static struct virtq_desc_raw *desc(unsigned i)
{
	return (struct virtq_desc_raw *)(ram + DESC_OFF) + i;
}

static struct virtq_desc_raw *table(unsigned i)
{
	return (struct virtq_desc_raw *)(ram + TABLE_OFF) + i;
}

static uint16_t *avail(void)
{
	return (uint16_t *)(ram + AVAIL_OFF);
}

static uint16_t used_idx(void)
{
	return *(uint16_t *)(ram + USED_OFF + 2);
}

static void set_desc(struct virtq_desc_raw *d, uint64_t gpa, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	*d = (struct virtq_desc_raw){ gpa, len, flags, next };
}

/* Puts head in the next avail slot and publishes it. */
static void post(uint16_t head)
{
	uint16_t idx = avail()[1];

	avail()[2 + idx % QNUM] = head;
	avail()[1] = (uint16_t)(idx + 1);
}

/* A blk-like chain at descriptors first..first+2: 16-byte header, 512-byte data, status. */
static void blk_chain(unsigned first, bool data_writable)
{
	set_desc(desc(first), RAM_GPA + DATA_OFF, 16, F_NEXT, (uint16_t)(first + 1));
	set_desc(desc(first + 1), RAM_GPA + DATA_OFF + 0x1000, 512,
		 F_NEXT | (data_writable ? F_WRITE : 0), (uint16_t)(first + 2));
	set_desc(desc(first + 2), RAM_GPA + DATA_OFF + 16, 1, F_WRITE, 0);
}

static void expect_broken(const char *why)
{
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), -EIO);
	cr_assert(vq.broken);
	cr_assert_not_null(strstr(logged(), why), "log lacks '%s': %s", why, logged());
}

TestSuite(gpa, .init = setup, .fini = teardown);
TestSuite(pop, .init = setup, .fini = teardown);
TestSuite(push, .init = setup, .fini = teardown);
TestSuite(notify, .init = setup, .fini = teardown);

Test(gpa, region_edges)
{
	cr_assert_eq(gpa_to_hva(&mem, RAM_GPA, 1), ram);
	cr_assert_eq(gpa_to_hva(&mem, RAM_GPA, RAM_SIZE), ram);
	cr_assert_eq(gpa_to_hva(&mem, RAM_GPA + RAM_SIZE - 1, 1), ram + RAM_SIZE - 1);
	cr_assert_null(gpa_to_hva(&mem, RAM_GPA, RAM_SIZE + 1));
	cr_assert_null(gpa_to_hva(&mem, RAM_GPA - 1, 1));
	cr_assert_null(gpa_to_hva(&mem, RAM_GPA - 1, 2));
	cr_assert_null(gpa_to_hva(&mem, RAM_GPA + RAM_SIZE, 1));
	cr_assert_null(gpa_to_hva(&mem, RAM_GPA + RAM_SIZE - 4, 8));
}

Test(gpa, len_zero_is_one_byte)
{
	cr_assert_eq(gpa_to_hva(&mem, RAM_GPA + RAM_SIZE - 1, 0), ram + RAM_SIZE - 1);
	cr_assert_null(gpa_to_hva(&mem, RAM_GPA + RAM_SIZE, 0));
	cr_assert_null(gpa_to_hva(&mem, 0, 0));
}

Test(gpa, overflow_wraps_are_refused)
{
	cr_assert_null(gpa_to_hva(&mem, RAM_GPA, UINT64_MAX));
	cr_assert_null(gpa_to_hva(&mem, UINT64_MAX, 2));
	cr_assert_null(gpa_to_hva(&mem, RAM_GPA + 16, UINT64_MAX - 15));
	/* A region that ends at the top of the address space. */
	mem.regions[0].gpa = UINT64_MAX - RAM_SIZE + 1;
	cr_assert_eq(gpa_to_hva(&mem, UINT64_MAX, 1), ram + RAM_SIZE - 1);
	cr_assert_eq(gpa_to_hva(&mem, UINT64_MAX, 0), ram + RAM_SIZE - 1);
	cr_assert_null(gpa_to_hva(&mem, UINT64_MAX, 2));
	cr_assert_null(gpa_to_hva(&mem, 0, 1));
}

Test(gpa, a_range_across_two_regions_is_refused)
{
	mem.nregions = 2;
	mem.regions[0].size = RAM_SIZE / 2;
	mem.regions[1] = (struct guest_region){ .gpa = RAM_GPA + RAM_SIZE / 2, .size = RAM_SIZE / 2,
						.uaddr = 0x1000, .hva = ram + RAM_SIZE / 2 };
	cr_assert_eq(gpa_to_hva(&mem, RAM_GPA + RAM_SIZE / 2, 8), ram + RAM_SIZE / 2);
	cr_assert_eq(gpa_to_hva(&mem, RAM_GPA + RAM_SIZE / 2 - 8, 8), ram + RAM_SIZE / 2 - 8);
	cr_assert_null(gpa_to_hva(&mem, RAM_GPA + RAM_SIZE / 2 - 8, 16));
	/* Regions past nregions are not looked at. */
	mem.nregions = 1;
	cr_assert_null(gpa_to_hva(&mem, RAM_GPA + RAM_SIZE / 2, 8));
}

Test(gpa, uva_uses_the_frontend_addresses)
{
	cr_assert_eq(uva_to_hva(&mem, RAM_UVA + 0x20, 8), ram + 0x20);
	cr_assert_eq(uva_to_hva(&mem, RAM_UVA + RAM_SIZE - 1, 0), ram + RAM_SIZE - 1);
	cr_assert_null(uva_to_hva(&mem, RAM_UVA + RAM_SIZE - 1, 2));
	cr_assert_null(uva_to_hva(&mem, RAM_UVA - 1, 1));
	cr_assert_null(uva_to_hva(&mem, RAM_GPA, 8));
	cr_assert_null(gpa_to_hva(&mem, RAM_UVA, 8));
	cr_assert_null(uva_to_hva(&mem, RAM_UVA, UINT64_MAX));
}

Test(pop, empty_ring_gives_nothing)
{
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 0);
	cr_assert_not(virtq_avail_pending(&vq));
	cr_assert_not(vq.broken);
}

Test(pop, simple_chain)
{
	blk_chain(0, true);
	post(0);
	cr_assert(virtq_avail_pending(&vq));
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(elem.head, 0);
	cr_assert_eq(elem.out_num, 1);
	cr_assert_eq(elem.in_num, 2);
	cr_assert_eq(elem.out_len, 16);
	cr_assert_eq(elem.in_len, 513);
	cr_assert_eq(elem.iov[0].iov_base, ram + DATA_OFF);
	cr_assert_eq(elem.iov[1].iov_base, ram + DATA_OFF + 0x1000);
	cr_assert_eq(elem.iov[1].iov_len, 512);
	cr_assert_eq(elem.iov[2].iov_base, ram + DATA_OFF + 16);
	cr_assert_eq(vq.last_avail, 1);
	cr_assert_eq(virtq_inflight(&vq), 1);
	cr_assert_not(virtq_avail_pending(&vq));
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 0);
}

Test(pop, zero_length_descriptors_are_skipped)
{
	set_desc(desc(0), RAM_GPA, 16, F_NEXT, 1);
	set_desc(desc(1), 0xdead0000, 0, F_NEXT, 2);   /* outside memory, but empty */
	set_desc(desc(2), RAM_GPA + 16, 1, F_WRITE, 0);
	post(0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(elem.out_num + elem.in_num, 2);
}

Test(pop, a_chain_as_long_as_the_queue)
{
	for (unsigned i = 0; i < QNUM; i++)
		set_desc(desc(i), RAM_GPA + DATA_OFF + i * 64, 64,
			 i + 1 < QNUM ? F_NEXT : F_WRITE, (uint16_t)(i + 1));
	post(0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(elem.out_num, QNUM - 1);
	cr_assert_eq(elem.in_num, 1);
}

Test(pop, loop_breaks_the_queue_and_latches)
{
	set_desc(desc(0), RAM_GPA, 16, F_NEXT, 1);
	set_desc(desc(1), RAM_GPA, 16, F_NEXT, 0);
	post(0);
	expect_broken("loops or is longer than the queue");
	cr_assert_eq(vq.last_avail, 0);
	cr_assert_eq(virtq_inflight(&vq), 0);
	/* Latched: a good chain afterwards is refused and nothing more is logged. */
	blk_chain(2, true);
	post(2);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), -EIO);
	cr_assert_eq(count_lines(logged()), 1);
	cr_assert_not(virtq_avail_pending(&vq));
}

Test(pop, self_loop)
{
	set_desc(desc(3), RAM_GPA, 16, F_NEXT, 3);
	post(3);
	expect_broken("loops or is longer than the queue");
}

Test(pop, readable_after_writable)
{
	set_desc(desc(0), RAM_GPA, 16, F_WRITE | F_NEXT, 1);
	set_desc(desc(1), RAM_GPA + 16, 16, 0, 0);
	post(0);
	expect_broken("device-readable descriptor after a writable one");
}

Test(pop, next_out_of_range)
{
	set_desc(desc(0), RAM_GPA, 16, F_NEXT, QNUM);
	post(0);
	expect_broken("descriptor next out of range");
}

Test(pop, buffer_outside_memory)
{
	set_desc(desc(0), RAM_GPA + RAM_SIZE - 8, 16, 0, 0);
	post(0);
	expect_broken("buffer outside guest memory");
}

Test(pop, head_out_of_range)
{
	post(QNUM);
	expect_broken("avail ring head out of range");
}

Test(pop, avail_idx_too_far_ahead)
{
	avail()[1] = QNUM + 1;
	expect_broken("more than the queue size ahead");
}

Test(pop, avail_idx_exactly_a_queue_ahead_is_fine)
{
	for (unsigned i = 0; i < QNUM; i++) {
		set_desc(desc(i), RAM_GPA + DATA_OFF + i * 16, 16, F_WRITE, 0);
		post((uint16_t)i);
	}
	for (unsigned i = 0; i < QNUM; i++) {
		cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
		cr_assert_eq(elem.head, i);
	}
	cr_assert_eq(virtq_inflight(&vq), QNUM);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 0);
}

Test(pop, double_post_of_an_inflight_head)
{
	blk_chain(0, true);
	post(0);
	post(0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	expect_broken("head posted twice while in flight");
	cr_assert_eq(vq.last_avail, 1);
	cr_assert_eq(virtq_inflight(&vq), 1);
}

Test(pop, a_head_may_be_reposted_after_push)
{
	blk_chain(0, true);
	post(0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(virtq_push(&vq, 0, 513), 0);
	post(0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(elem.head, 0);
}

Test(pop, avail_idx_wraps)
{
	*(uint16_t *)(ram + USED_OFF + 2) = 0xfffe;
	virtq_setup(&vq, QNUM, ram + DESC_OFF, ram + AVAIL_OFF, ram + USED_OFF, 0xfffe);
	avail()[1] = 0xfffe;
	cr_assert_eq(vq.used_idx, 0xfffe);
	for (unsigned i = 0; i < 3; i++) {
		set_desc(desc(i), RAM_GPA + DATA_OFF, 16, F_WRITE, 0);
		post((uint16_t)i);
	}
	cr_assert_eq(avail()[1], 1);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
		cr_assert_eq(elem.head, i);
		cr_assert_eq(virtq_push(&vq, (uint16_t)i, 16), 0);
	}
	cr_assert_eq(vq.last_avail, 1);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 0);
}

static void indirect_table(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		set_desc(table(i), RAM_GPA + DATA_OFF + i * 64, 64,
			 (i ? F_WRITE : 0) | (i + 1 < n ? F_NEXT : 0), (uint16_t)(i + 1));
	set_desc(desc(0), RAM_GPA + TABLE_OFF, n * 16, F_INDIRECT, 0);
	post(0);
}

Test(pop, indirect)
{
	vq.indirect = true;
	indirect_table(4);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(elem.out_num, 1);
	cr_assert_eq(elem.in_num, 3);
	cr_assert_eq(elem.iov[3].iov_base, ram + DATA_OFF + 3 * 64);
	cr_assert_eq(virtq_inflight(&vq), 1);
}

Test(pop, indirect_not_negotiated)
{
	indirect_table(2);
	expect_broken("bad indirect descriptor");
}

Test(pop, indirect_len_not_a_multiple_of_16)
{
	vq.indirect = true;
	indirect_table(2);
	desc(0)->len = 24;
	expect_broken("bad indirect descriptor");
}

Test(pop, indirect_table_too_big)
{
	vq.indirect = true;
	indirect_table(2);
	desc(0)->len = (VIRTQ_INDIRECT_MAX + 1) * 16;
	expect_broken("bad indirect descriptor");
}

Test(pop, indirect_with_next)
{
	vq.indirect = true;
	indirect_table(2);
	desc(0)->flags |= F_NEXT;
	desc(0)->next = 1;
	expect_broken("indirect descriptor inside a chain");
}

Test(pop, indirect_table_outside_memory)
{
	vq.indirect = true;
	indirect_table(2);
	desc(0)->addr = RAM_GPA + RAM_SIZE - 16;
	expect_broken("indirect table outside guest memory");
}

Test(pop, indirect_inside_a_chain)
{
	vq.indirect = true;
	indirect_table(2);
	set_desc(desc(1), RAM_GPA + TABLE_OFF, 32, F_INDIRECT, 0);
	set_desc(desc(0), RAM_GPA, 16, F_NEXT, 1);
	expect_broken("indirect descriptor inside a chain");
}

Test(pop, nested_indirect)
{
	vq.indirect = true;
	indirect_table(2);
	set_desc(table(1), RAM_GPA + TABLE_OFF, 32, F_INDIRECT, 0);
	expect_broken("nested indirect descriptor");
}

Test(pop, indirect_loop)
{
	vq.indirect = true;
	indirect_table(3);
	table(2)->flags |= F_NEXT;
	table(2)->next = 1;
	expect_broken("loop in indirect table");
}

Test(pop, indirect_next_past_the_table)
{
	vq.indirect = true;
	indirect_table(2);
	table(1)->flags |= F_NEXT;
	table(1)->next = 2;
	expect_broken("indirect next out of range");
}

Test(pop, more_buffers_than_the_iovec)
{
	vq.indirect = true;
	for (unsigned i = 0; i < VIRTQ_INDIRECT_MAX; i++)
		set_desc(table(i), RAM_GPA + DATA_OFF, 8, F_NEXT, (uint16_t)(i + 1));
	table(VIRTQ_INDIRECT_MAX - 1)->flags = 0;
	set_desc(desc(0), RAM_GPA + TABLE_OFF, VIRTQ_INDIRECT_MAX * 16, F_INDIRECT, 0);
	post(0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(elem.out_num, VIRTQ_IOV_MAX);
}

Test(push, writes_the_used_ring)
{
	blk_chain(4, true);
	post(4);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(virtq_push(&vq, 4, 513), 0);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(*(uint32_t *)(ram + USED_OFF + 4), 4);
	cr_assert_eq(*(uint32_t *)(ram + USED_OFF + 8), 513);
	cr_assert_eq(virtq_inflight(&vq), 0);
}

Test(push, refuses_a_head_not_in_flight)
{
	cr_assert_eq(virtq_push(&vq, 0, 1), -EIO);
	cr_assert_eq(virtq_push(&vq, QNUM, 1), -EIO);
	cr_assert_eq(virtq_push(&vq, 0xffff, 1), -EIO);
	cr_assert_eq(used_idx(), 0);
	blk_chain(0, true);
	post(0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(virtq_push(&vq, 0, 1), 0);
	cr_assert_eq(virtq_push(&vq, 0, 1), -EIO);
	cr_assert_eq(used_idx(), 1);
}

Test(push, on_a_broken_queue_only_forgets_the_head)
{
	blk_chain(0, true);
	post(0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	virtq_mark_broken(&vq, "test", 0);
	cr_assert_eq(virtq_push(&vq, 0, 1), -EIO);
	cr_assert_eq(virtq_inflight(&vq), 0);
	cr_assert_eq(used_idx(), 0);
}

Test(push, setup_resumes_from_the_used_idx_in_memory)
{
	*(uint16_t *)(ram + USED_OFF + 2) = 5;
	virtq_setup(&vq, QNUM, ram + DESC_OFF, ram + AVAIL_OFF, ram + USED_OFF, 5);
	avail()[1] = 5;
	blk_chain(0, true);
	post(0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(virtq_push(&vq, 0, 9), 0);
	cr_assert_eq(used_idx(), 6);
	cr_assert_eq(*(uint32_t *)(ram + USED_OFF + 4 + 5 * 8), 0);
	cr_assert_eq(*(uint32_t *)(ram + USED_OFF + 8 + 5 * 8), 9);
}

Test(notify, without_event_idx_follows_the_flag)
{
	cr_assert(virtq_should_notify(&vq));
	avail()[0] = 1; /* VRING_AVAIL_F_NO_INTERRUPT */
	cr_assert_not(virtq_should_notify(&vq));
}

/* Sets the driver's used_event and what was signalled, then asks. */
static bool need(uint16_t old, uint16_t now, uint16_t event)
{
	vq.event_idx = true;
	vq.signalled_used = old;
	vq.signalled_valid = true;
	vq.used_idx = now;
	avail()[2 + QNUM] = event;
	return virtq_should_notify(&vq);
}

Test(notify, event_idx_arithmetic)
{
	cr_assert(need(5, 6, 5));
	cr_assert_not(need(5, 6, 6));
	cr_assert_not(need(5, 6, 4));
	cr_assert(need(5, 9, 8));
	cr_assert_not(need(5, 9, 9));
	cr_assert_not(need(5, 5, 4)); /* nothing pushed */
	cr_assert_eq(vq.signalled_used, 5);
}

Test(notify, event_idx_wrap)
{
	cr_assert(need(0xffff, 1, 0xffff));
	cr_assert(need(0xffff, 1, 0));
	cr_assert_not(need(0xffff, 1, 1));
	cr_assert_not(need(0xffff, 1, 0xfffe));
	cr_assert(need(0xfff0, 0x10, 0xfffa));
	cr_assert_not(need(0xfff0, 0x10, 0x10));
}

Test(notify, event_idx_first_time_always)
{
	vq.event_idx = true;
	avail()[2 + QNUM] = 0x1234;
	avail()[0] = 1; /* the flag is ignored under EVENT_IDX */
	cr_assert(virtq_should_notify(&vq));
	cr_assert(vq.signalled_valid);
	cr_assert_not(virtq_should_notify(&vq)); /* nothing pushed since */
}

Test(notify, arm_kick_publishes_avail_event)
{
	uint16_t *avail_event = (uint16_t *)(ram + USED_OFF + 4 + QNUM * 8);

	virtq_arm_kick(&vq);
	cr_assert_eq(*avail_event, 0);
	vq.event_idx = true;
	blk_chain(0, true);
	post(0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	virtq_arm_kick(&vq);
	cr_assert_eq(*avail_event, 1);
}

/* The driver's side of EVENT_IDX: kick when avail_event lies in [old, new). */
static bool driver_kicks(uint16_t event, uint16_t old, uint16_t new_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

Test(notify, suppress_kick_silences_the_driver_until_armed)
{
	uint16_t *avail_event = (uint16_t *)(ram + USED_OFF + 4 + QNUM * 8);

	vq.event_idx = true;
	vq.last_avail = 0; /* wraps: avail_event becomes 0xffff */
	virtq_suppress_kick(&vq);
	cr_assert_eq(*avail_event, 0xffff);
	for (uint16_t n = 1; n <= QNUM; n++)
		cr_assert_not(driver_kicks(*avail_event, 0, n));
	virtq_arm_kick(&vq);
	cr_assert(driver_kicks(*avail_event, 0, 1));
	vq.event_idx = false;
	*avail_event = 7;
	virtq_suppress_kick(&vq); /* without EVENT_IDX it leaves the ring alone */
	cr_assert_eq(*avail_event, 7);
}

/* Two blk chains popped: heads 0 and 3. */
static void pop_two(void)
{
	blk_chain(0, true);
	blk_chain(3, true);
	post(0);
	post(3);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
}

Test(push, fill_is_published_by_flush_only)
{
	pop_two();
	cr_assert_eq(virtq_fill(&vq, 3, 7), 0);
	cr_assert_eq(virtq_fill(&vq, 0, 9), 0);
	cr_assert_eq(used_idx(), 0);
	cr_assert_eq(*(uint32_t *)(ram + USED_OFF + 4), 3);
	cr_assert_eq(*(uint32_t *)(ram + USED_OFF + 4 + 8), 0);
	cr_assert_eq(*(uint32_t *)(ram + USED_OFF + 8 + 8), 9);
	cr_assert_eq(virtq_inflight(&vq), 0);
	virtq_flush(&vq);
	cr_assert_eq(used_idx(), 2);
	*(uint16_t *)(ram + USED_OFF + 2) = 77; /* nothing new: flush stores nothing */
	virtq_flush(&vq);
	cr_assert_eq(used_idx(), 77);
}

Test(push, push_and_notify_publish_earlier_fills)
{
	pop_two();
	cr_assert_eq(virtq_fill(&vq, 0, 1), 0);
	cr_assert_eq(virtq_push(&vq, 3, 1), 0);
	cr_assert_eq(used_idx(), 2);
	blk_chain(0, true);
	post(0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(virtq_fill(&vq, 0, 1), 0);
	cr_assert_eq(used_idx(), 2);
	cr_assert(virtq_should_notify(&vq));
	cr_assert_eq(used_idx(), 3);
}

Test(push, fill_refuses_what_push_refuses)
{
	cr_assert_eq(virtq_fill(&vq, 0, 1), -EIO);
	cr_assert_eq(virtq_fill(&vq, QNUM, 1), -EIO);
	pop_two();
	virtq_mark_broken(&vq, "test", 0);
	cr_assert_eq(virtq_fill(&vq, 0, 1), -EIO);
	virtq_flush(&vq);
	cr_assert_eq(used_idx(), 0);
	cr_assert_eq(virtq_inflight(&vq), 1);
}

Test(pop, inflight_count_follows_pop_push_unpop)
{
	uint16_t heads[3] = { 0, 3, 0 };
	uint32_t lens[3] = { 1, 1, 1 };

	pop_two();
	cr_assert_eq(virtq_inflight(&vq), 2);
	virtq_unpop(&vq, 3);
	cr_assert_eq(virtq_inflight(&vq), 1);
	virtq_unpop(&vq, 3); /* not in flight: nothing */
	cr_assert_eq(virtq_inflight(&vq), 1);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(virtq_inflight(&vq), 2);
	cr_assert_eq(virtq_push_n(&vq, heads, lens, 3), -EIO); /* head 0 listed twice */
	cr_assert_eq(virtq_inflight(&vq), 2);
	cr_assert_eq(used_idx(), 0);
	cr_assert_eq(virtq_push_n(&vq, heads, lens, 2), 0);
	cr_assert_eq(used_idx(), 2);
	cr_assert_eq(virtq_inflight(&vq), 0);
	cr_assert_eq(virtq_push(&vq, 0, 1), -EIO);
	cr_assert_eq(virtq_inflight(&vq), 0);
}

Test(pop, a_reused_elem_starts_empty)
{
	blk_chain(0, true);
	post(0);
	elem.out_num = 5;
	elem.in_num = 7;
	elem.out_len = elem.in_len = 1234;
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	cr_assert_eq(elem.out_num, 1);
	cr_assert_eq(elem.in_num, 2);
	cr_assert_eq(elem.out_len, 16);
	cr_assert_eq(elem.in_len, 513);
}

Test(pop, prefetch_is_harmless)
{
	struct virtq empty = { 0 };

	virtq_prefetch(&empty);
	virtq_prefetch(&vq);
	pop_two();
	virtq_prefetch(&vq);
	cr_assert_eq(virtq_inflight(&vq), 2);
}
