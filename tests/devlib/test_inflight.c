/* test_inflight.c: devices/lib/inflight.c: marking on pop, clearing on publication, a successor's recovery (counter order, last batch) and hostile regions. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../devices/lib/inflight.h"
#include "../../devices/lib/virtqueue.h"
#include "log.h"
#include "logcap.h"

#define RAM_GPA   0x10000ull
#define RAM_SIZE  (1u << 20)
#define QNUM      8u
#define AVAIL_OFF 0x1000u
#define USED_OFF  0x2000u
#define DATA_OFF  0x10000u

static uint8_t *ram;
static struct guest_mem mem;
static struct virtq vq;
static struct virtq_elem elem;
static struct inflight_queue *r;
static FILE *log_file;

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	r = aligned_alloc(64, inflight_queue_bytes(QNUM));
	cr_assert(ram && r);
	memset(ram, 0, RAM_SIZE);
	memset(r, 0, inflight_queue_bytes(QNUM));
	inflight_format(r, 1, QNUM);
	mem = (struct guest_mem){ .nregions = 1 };
	mem.regions[0] = (struct guest_region){ .gpa = RAM_GPA, .size = RAM_SIZE, .hva = ram };
	memset(&vq, 0, sizeof(vq));
	virtq_setup(&vq, QNUM, ram, ram + AVAIL_OFF, ram + USED_OFF, 0);
	log_file = logcap_start();
	cr_assert_not_null(log_file);
}

static void teardown(void)
{
	logcap_stop(log_file);
	free(r);
	free(ram);
}

static const char *logged(void)
{
	return logcap_text(log_file);
}

static uint16_t *avail(void) { return (uint16_t *)(ram + AVAIL_OFF); }
static uint16_t *used_idx(void) { return (uint16_t *)(ram + USED_OFF + 2); }

/* Posts head as a one-buffer chain (16 bytes of data). */
static void post(uint16_t head)
{
	struct virtq_desc_raw *d = (struct virtq_desc_raw *)ram + head;

	*d = (struct virtq_desc_raw){ RAM_GPA + DATA_OFF + head * 16u, 16, 2, 0 };
	avail()[2 + avail()[1] % QNUM] = head;
	avail()[1]++;
}

static void flag(uint16_t head, uint64_t counter)
{
	r->desc[head].inflight = 1;
	r->desc[head].counter = counter;
}

static uint16_t pop_head(void)
{
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 1);
	return elem.head;
}

TestSuite(inflight, .init = setup, .fini = teardown);

Test(inflight, pop_flags_with_counters)
{
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	post(3);
	post(5);
	pop_head();
	pop_head();
	cr_assert(r->desc[3].inflight == 1 && r->desc[3].counter == 0);
	cr_assert(r->desc[5].inflight == 1 && r->desc[5].counter == 1);
}

Test(inflight, flag_cleared_only_once_published)
{
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	post(3);
	post(5);
	pop_head();
	pop_head();
	cr_assert_eq(virtq_fill(&vq, 5, 1), 0);
	cr_assert(r->desc[5].inflight == 1 && r->last_batch_head == 5);
	virtq_flush(&vq);
	cr_assert(r->desc[5].inflight == 0 && r->used_idx == 1 && *used_idx() == 1);
	cr_assert_eq(r->desc[3].inflight, 1);
}

Test(inflight, push_n_clears_its_batch)
{
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	post(1);
	post(2);
	pop_head();
	pop_head();
	cr_assert_eq(virtq_push_n(&vq, (uint16_t[]){ 2, 1 }, (uint32_t[]){ 1, 1 }, 2), 0);
	cr_assert(r->desc[1].inflight == 0 && r->desc[2].inflight == 0 && r->used_idx == 2);
}

Test(inflight, unpop_unflags)
{
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	post(4);
	pop_head();
	virtq_unpop(&vq, 4);
	cr_assert_eq(r->desc[4].inflight, 0);
	cr_assert(pop_head() == 4 && r->desc[4].counter == 0);
}

Test(inflight, resubmits_in_counter_order_then_new_entries)
{
	post(2);
	post(6);
	post(1);
	flag(2, 9);
	flag(6, 4);
	flag(1, 7);
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	post(4);
	cr_assert_eq(pop_head(), 6);
	cr_assert_eq(pop_head(), 1);
	cr_assert_eq(pop_head(), 2);
	cr_assert_eq(pop_head(), 4);
	cr_assert_eq(r->desc[4].counter, 10);
	cr_assert_eq(virtq_inflight(&vq), 4);
}

Test(inflight, resubmission_counts_as_pending)
{
	post(2);
	flag(2, 0);
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	cr_assert(virtq_avail_pending(&vq));
	cr_assert_eq(virtq_inflight(&vq), 0); /* not popped yet: nothing to wait for */
}

Test(inflight, resubmitted_head_posted_again_breaks)
{
	post(2);
	flag(2, 0);
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	post(2);
	pop_head();
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), -EIO);
	cr_assert_not_null(strstr(logged(), "head posted twice"));
}

Test(inflight, unpop_of_resubmitted_requeues_it)
{
	post(2);
	flag(2, 0);
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	pop_head();
	virtq_unpop(&vq, 2);
	cr_assert_eq(r->desc[2].inflight, 1);
	cr_assert_eq(pop_head(), 2);
}

Test(inflight, last_batch_published_before_a_crash_is_not_resubmitted)
{
	post(2);
	post(6);
	flag(2, 0);
	flag(6, 1);
	r->desc[2].next = 0;
	r->last_batch_head = 2;
	*used_idx() = 1; /* 2 was published, its flag not yet cleared */
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	cr_assert_eq(r->desc[2].inflight, 0);
	cr_assert_eq(r->used_idx, 1);
	cr_assert_eq(pop_head(), 6);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), 0);
}

Test(inflight, resubmitted_chain_is_checked_again)
{
	post(2);
	flag(2, 0);
	((struct virtq_desc_raw *)ram)[2].addr = 0x1; /* now outside guest memory */
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	cr_assert_eq(virtq_pop(&vq, &mem, &elem), -EIO);
	cr_assert_not_null(strstr(logged(), "outside guest memory"));
}

Test(inflight, zeroed_region_is_formatted)
{
	memset(r, 0, inflight_queue_bytes(QNUM));
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	cr_assert(r->version == INFLIGHT_VERSION && r->desc_num == QNUM);
}

Test(inflight, huge_distinct_counters_are_fine)
{
	post(1);
	post(2);
	flag(1, UINT64_MAX - 1);
	flag(2, UINT64_MAX - 2);
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), 0);
	cr_assert_eq(pop_head(), 2);
	cr_assert_eq(pop_head(), 1);
}

/* Each garbage region: the queue is broken, with the reason logged. */
static void expect_refused(const char *why)
{
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM), -EIO);
	cr_assert(vq.broken);
	cr_assert_null(vq.ifl.r);
	cr_assert_not_null(strstr(logged(), why), "log: %s", logged());
}

Test(inflight, bad_version) { r->version = 2; expect_refused("unknown version"); }
Test(inflight, bad_features) { r->features = 4; expect_refused("unknown features"); }
Test(inflight, bad_desc_num) { r->desc_num = 4; expect_refused("desc_num"); }
Test(inflight, bad_flag) { r->desc[3].inflight = 0xff; expect_refused("neither 0 nor 1"); }
Test(inflight, batch_too_far) { r->used_idx = 100; expect_refused("behind the ring"); }

Test(inflight, batch_head_out_of_range)
{
	r->used_idx = 0xffff;
	r->last_batch_head = QNUM;
	expect_refused("last batch lists head");
}

Test(inflight, shared_counter)
{
	post(1);
	post(2);
	flag(1, 3);
	flag(2, 3);
	expect_refused("share the counter");
}

Test(inflight, counter_at_limit) { post(1); flag(1, UINT64_MAX); expect_refused("at its limit"); }
Test(inflight, more_than_posted) { post(1); flag(1, 0); flag(2, 1); expect_refused("more heads"); }

Test(inflight, head_beyond_queue_size)
{
	struct inflight_queue *big = aligned_alloc(64, inflight_queue_bytes(2 * QNUM));

	memset(big, 0, inflight_queue_bytes(2 * QNUM));
	inflight_format(big, 1, 2 * QNUM);
	big->desc[QNUM + 1].inflight = 1;
	cr_assert_eq(virtq_inflight_start(&vq, big, 2 * QNUM), -EIO);
	cr_assert_not_null(strstr(logged(), "beyond the queue size"));
	free(big);
}

Test(inflight, queue_larger_than_region)
{
	cr_assert_eq(virtq_inflight_start(&vq, r, QNUM / 2), -EIO);
	cr_assert_not_null(strstr(logged(), "queue larger than its inflight region"));
}
