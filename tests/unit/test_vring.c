/* test_vring.c: the VMM-side split ring (vring.c) on hostile chains, and virtio-net's control commands. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "vring.h"

#define RAM    (1u << 20)
#define DESC   0x1000u
#define AVAIL  0x2000u
#define USED   0x3000u
#define BUF    0x10000u
#define QSIZE  16
#define NEXT 1
#define WRITE 2
#define INDIRECT 4

struct fixture {
	struct guest_mem mem;
	uint8_t *ram;
	struct vring r;
	struct vring_chain c;
	uint16_t avail_idx;
};

static struct fixture *fx;

static void setup(void)
{
	fx = calloc(1, sizeof(*fx));
	fx->ram = calloc(1, RAM);
	fx->mem = (struct guest_mem){ .fd = -1, .ram_size = RAM, .nr_regions = 1 };
	fx->mem.regions[0] = (struct guest_region){ .gpa = 0, .size = RAM, .hva = fx->ram };
}

static void teardown(void)
{
	free(fx->ram);
	free(fx);
}

static void start(uint64_t features)
{
	cr_assert_eq(vring_setup(&fx->r, &fx->mem, QSIZE, DESC, AVAIL, USED, features), 0);
}

static void desc(uint32_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = fx->ram + table + 16u * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void publish(uint16_t head)
{
	memcpy(fx->ram + AVAIL + 4 + 2 * (fx->avail_idx % QSIZE), &head, 2);
	fx->avail_idx++;
	memcpy(fx->ram + AVAIL + 2, &fx->avail_idx, 2);
}

static int pop(void)
{
	const char *why;
	return vring_pop(&fx->r, &fx->c, &why);
}

TestSuite(vring, .init = setup, .fini = teardown);

Test(vring, empty_ring_pops_nothing)
{
	start(0);
	cr_assert_eq(pop(), 0);
}

Test(vring, header_data_ack_chain_round_trip)
{
	start(0);
	memcpy(fx->ram + BUF, "\x04\x00", 2);
	memcpy(fx->ram + BUF + 0x100, "\x02\x00", 2);
	fx->ram[BUF + 0x200] = 0xee;
	desc(DESC, 0, BUF, 2, NEXT, 5);
	desc(DESC, 5, BUF + 0x100, 2, NEXT, 9);
	desc(DESC, 9, BUF + 0x200, 1, WRITE, 0);
	publish(0);
	cr_assert_eq(pop(), 1);
	cr_assert_eq(fx->c.in_len, 4);
	cr_assert_eq(fx->c.in_total, 4);
	cr_assert_eq(fx->c.out_cap, 1);
	cr_assert_eq(memcmp(fx->c.in, "\x04\x00\x02\x00", 4), 0);
	vring_push(&fx->r, &fx->c, (const uint8_t *)"\x00", 1);
	uint16_t used_idx;
	uint32_t id, len;
	memcpy(&used_idx, fx->ram + USED + 2, 2);
	memcpy(&id, fx->ram + USED + 4, 4);
	memcpy(&len, fx->ram + USED + 8, 4);
	cr_assert_eq(used_idx, 1);
	cr_assert_eq(id, 0);
	cr_assert_eq(len, 1);
	cr_assert_eq(fx->ram[BUF + 0x200], 0);
	cr_assert_eq(pop(), 0);
}

Test(vring, descriptor_loop_breaks_the_ring)
{
	start(0);
	desc(DESC, 0, BUF, 2, NEXT, 1);
	desc(DESC, 1, BUF, 2, NEXT, 0);
	publish(0);
	cr_assert_eq(pop(), -EIO);
	cr_assert(fx->r.broken);
	cr_assert_eq(pop(), -EIO, "a broken ring stays broken");
}

Test(vring, head_out_of_range_breaks_the_ring)
{
	start(0);
	publish(QSIZE);
	cr_assert_eq(pop(), -EIO);
}

Test(vring, next_out_of_range_breaks_the_ring)
{
	start(0);
	desc(DESC, 0, BUF, 2, NEXT, 0xffff);
	publish(0);
	cr_assert_eq(pop(), -EIO);
}

Test(vring, buffer_outside_ram_breaks_the_ring)
{
	start(0);
	desc(DESC, 0, RAM - 1, 2, 0, 0);
	publish(0);
	cr_assert_eq(pop(), -EIO);
}

Test(vring, huge_length_breaks_the_ring)
{
	start(0);
	desc(DESC, 0, BUF, 0xffffffffu, 0, 0);
	publish(0);
	cr_assert_eq(pop(), -EIO);
}

Test(vring, readable_after_writable_breaks_the_ring)
{
	start(0);
	desc(DESC, 0, BUF, 1, WRITE | NEXT, 1);
	desc(DESC, 1, BUF, 2, 0, 0);
	publish(0);
	cr_assert_eq(pop(), -EIO);
}

Test(vring, avail_index_jump_breaks_the_ring)
{
	start(0);
	uint16_t idx = QSIZE + 1;
	memcpy(fx->ram + AVAIL + 2, &idx, 2);
	cr_assert_eq(pop(), -EIO);
}

Test(vring, rings_outside_ram_are_refused)
{
	cr_assert_eq(vring_setup(&fx->r, &fx->mem, QSIZE, RAM - 8, AVAIL, USED, 0), -EFAULT);
	cr_assert_eq(vring_setup(&fx->r, &fx->mem, 3, DESC, AVAIL, USED, 0), -EINVAL);
}

Test(vring, readable_bytes_beyond_the_copy_limit_are_counted)
{
	start(0);
	desc(DESC, 0, BUF, VRING_IN_MAX + 100, 0, 0);
	publish(0);
	cr_assert_eq(pop(), 1);
	cr_assert_eq(fx->c.in_len, VRING_IN_MAX);
	cr_assert_eq(fx->c.in_total, VRING_IN_MAX + 100);
}

Test(vring, indirect_only_when_negotiated)
{
	desc(0x4000, 0, BUF, 2, NEXT, 1);
	desc(0x4000, 1, BUF + 0x200, 1, WRITE, 0);
	desc(DESC, 0, 0x4000, 32, INDIRECT, 0);
	start(0);
	publish(0);
	cr_assert_eq(pop(), -EIO);
	fx->avail_idx = 0;
	start(VRING_F_INDIRECT_DESC);
	publish(0);
	cr_assert_eq(pop(), 1);
	cr_assert_eq(fx->c.in_len, 2);
	cr_assert_eq(fx->c.out_cap, 1);
}

Test(vring, nested_or_chained_indirect_breaks_the_ring)
{
	desc(0x4000, 0, 0x5000, 16, INDIRECT, 0);
	desc(DESC, 0, 0x4000, 16, INDIRECT, 0);
	start(VRING_F_INDIRECT_DESC);
	publish(0);
	cr_assert_eq(pop(), -EIO);
	fx->avail_idx = 0;
	desc(DESC, 0, 0x4000, 16, INDIRECT | NEXT, 1);
	start(VRING_F_INDIRECT_DESC);
	publish(0);
	cr_assert_eq(pop(), -EIO);
}

Test(vring, event_idx_publishes_avail_event)
{
	start(VRING_F_EVENT_IDX);
	desc(DESC, 0, BUF, 2, 0, 0);
	publish(0);
	cr_assert_eq(pop(), 1);
	vring_arm(&fx->r);
	uint16_t ev;
	memcpy(&ev, fx->ram + USED + 4 + 8 * QSIZE, 2);
	cr_assert_eq(ev, 1);
}

/* ---- net_ctrl_command ---- */

static unsigned int pairs_set;

static int record_pairs(void *opaque, unsigned int n)
{
	pairs_set = n;
	return 0;
}

static uint8_t cmd(const void *bytes, size_t len, size_t total, uint64_t features)
{
	static struct vring_chain c;
	memcpy(c.in, bytes, len);
	c.in_len = len;
	c.in_total = total;
	pairs_set = 0;
	return net_ctrl_command(&c, features, 2, record_pairs, NULL);
}

#define MQ (1ULL << 22)

Test(net_ctrl, vq_pairs_set_in_range_is_applied)
{
	cr_assert_eq(cmd("\x04\x00\x02\x00", 4, 4, MQ), 0);
	cr_assert_eq(pairs_set, 2);
	cr_assert_eq(cmd("\x04\x00\x01\x00", 4, 4, MQ), 0);
	cr_assert_eq(pairs_set, 1);
}

Test(net_ctrl, bad_commands_are_refused_and_not_applied)
{
	cr_assert_eq(cmd("\x04\x00\x00\x00", 4, 4, MQ), 1, "0 pairs");
	cr_assert_eq(cmd("\x04\x00\x03\x00", 4, 4, MQ), 1, "more than max");
	cr_assert_eq(cmd("\x04\x00\x02", 3, 3, MQ), 1, "short data");
	cr_assert_eq(cmd("\x04\x00\x02\x00\x00", 5, 5, MQ), 1, "long data");
	cr_assert_eq(cmd("\x04\x00\x02\x00", 4, 9000, MQ), 1, "truncated copy");
	cr_assert_eq(cmd("\x04\x00\x02\x00", 4, 4, 0), 1, "MQ not negotiated");
	cr_assert_eq(cmd("\x04\x01\x02\x00", 4, 4, MQ), 1, "RSS config not offered");
	cr_assert_eq(cmd("\x00\x00\x01", 3, 3, MQ), 1, "RX mode not offered");
	cr_assert_eq(cmd("\x04", 1, 1, MQ), 1, "no command byte");
	cr_assert_eq(pairs_set, 0);
}
