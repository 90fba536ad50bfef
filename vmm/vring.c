/* vring.c: a split virtqueue the VMM serves itself: rings translated once, every descriptor
 * copied before it is checked, chains bounded, readable bytes copied out once. */
#include "vring.h"

#include <errno.h>
#include <string.h>

#define DESC_F_NEXT     1
#define DESC_F_WRITE    2
#define DESC_F_INDIRECT 4
#define DESC_SIZE       16
#define INDIRECT_MAX    256 /* entries one indirect table may hold */

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static uint16_t ld16(const volatile uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void st16(volatile uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void st32(volatile uint8_t *p, uint32_t v)
{
	st16(p, (uint16_t)v);
	st16(p + 2, (uint16_t)(v >> 16));
}

static struct desc load_desc(const volatile uint8_t *p)
{
	struct desc d;
	uint8_t b[DESC_SIZE];

	for (unsigned int i = 0; i < DESC_SIZE; i++)
		b[i] = p[i];
	memcpy(&d.addr, b, 8);
	memcpy(&d.len, b + 8, 4);
	memcpy(&d.flags, b + 12, 2);
	memcpy(&d.next, b + 14, 2);
	return d;
}

int vring_setup(struct vring *r, const struct guest_mem *mem, uint16_t num, uint64_t desc,
		uint64_t avail, uint64_t used, uint64_t features)
{
	vring_reset(r);
	if (num == 0 || (num & (num - 1)))
		return -EINVAL;
	r->desc = gpa_to_hva(mem, desc, (uint64_t)DESC_SIZE * num);
	r->avail = gpa_to_hva(mem, avail, 6 + 2ULL * num);
	r->used = gpa_to_hva(mem, used, 6 + 8ULL * num);
	if (!r->desc || !r->avail || !r->used) {
		vring_reset(r);
		return -EFAULT;
	}
	r->mem = mem;
	r->num = num;
	r->indirect = features & VRING_F_INDIRECT_DESC;
	r->event_idx = features & VRING_F_EVENT_IDX;
	return 0;
}

void vring_reset(struct vring *r)
{
	*r = (struct vring){ 0 };
}

/* Adds one descriptor's buffer to the chain: readable ones are copied, writable ones kept. */
static int add_buffer(struct vring *r, struct vring_chain *c, const struct desc *d, const char **why)
{
	uint8_t *h = gpa_to_hva(r->mem, d->addr, d->len);

	if (!h) {
		*why = "a descriptor's buffer is outside guest RAM";
		return -EIO;
	}
	if (d->flags & DESC_F_WRITE) {
		if (c->nseg == VRING_SEGS_MAX) {
			*why = "too many device-writable descriptors";
			return -EIO;
		}
		c->seg[c->nseg].hva = h;
		c->seg[c->nseg++].len = d->len;
		c->out_cap += d->len;
		return 0;
	}
	if (c->nseg) {
		*why = "a device-readable descriptor follows a writable one";
		return -EIO;
	}
	size_t n = d->len < VRING_IN_MAX - c->in_len ? d->len : VRING_IN_MAX - c->in_len;
	memcpy(c->in + c->in_len, h, n);
	c->in_len += n;
	c->in_total += d->len;
	return 0;
}

/* Walks a chain in a descriptor table of tsize entries from index i; at most tsize steps. */
static int walk(struct vring *r, struct vring_chain *c, const volatile uint8_t *table, uint32_t tsize,
		uint16_t i, bool nested, const char **why)
{
	for (uint32_t steps = 0;; steps++) {
		if (i >= tsize || steps >= tsize) {
			*why = i >= tsize ? "descriptor index out of range" : "descriptor chain loops";
			return -EIO;
		}
		struct desc d = load_desc(table + (size_t)i * DESC_SIZE);
		if (d.flags & DESC_F_INDIRECT) {
			if (nested || !r->indirect || (d.flags & DESC_F_NEXT) || d.len == 0 ||
			    d.len % DESC_SIZE || d.len / DESC_SIZE > INDIRECT_MAX) {
				*why = "bad indirect descriptor";
				return -EIO;
			}
			const volatile uint8_t *t = gpa_to_hva(r->mem, d.addr, d.len);
			if (!t) {
				*why = "indirect table outside guest RAM";
				return -EIO;
			}
			return walk(r, c, t, d.len / DESC_SIZE, 0, true, why);
		}
		if (add_buffer(r, c, &d, why) < 0)
			return -EIO;
		if (!(d.flags & DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

int vring_pop(struct vring *r, struct vring_chain *c, const char **why)
{
	*why = "";
	if (r->broken || !r->num) {
		*why = "queue not usable";
		return -EIO;
	}
	uint16_t idx = ld16(r->avail + 2);
	if ((uint16_t)(idx - r->last_avail) > r->num) {
		*why = "avail index moved by more than the queue size";
		r->broken = true;
		return -EIO;
	}
	if (idx == r->last_avail)
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE); /* the index before the entries it covers */
	uint16_t head = ld16(r->avail + 4 + 2u * (r->last_avail & (r->num - 1)));
	c->head = head;
	c->in_total = c->out_cap = 0;
	c->in_len = 0;
	c->nseg = 0;
	if (walk(r, c, r->desc, r->num, head, false, why) < 0) {
		r->broken = true;
		return -EIO;
	}
	r->last_avail++;
	return 1;
}

void vring_push(struct vring *r, const struct vring_chain *c, const uint8_t *reply, uint32_t len)
{
	uint32_t done = 0;

	for (unsigned int i = 0; i < c->nseg && done < len; i++) {
		uint32_t n = c->seg[i].len < len - done ? c->seg[i].len : len - done;
		memcpy(c->seg[i].hva, reply + done, n);
		done += n;
	}
	volatile uint8_t *e = r->used + 4 + 8u * (r->used_idx & (r->num - 1));
	st32(e, c->head);
	st32(e + 4, done);
	r->used_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE); /* the entry before the index */
	st16(r->used + 2, r->used_idx);
}

void vring_arm(struct vring *r)
{
	if (!r->event_idx || !r->num)
		return;
	st16(r->used + 4 + 8u * r->num, r->last_avail);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* then the caller looks at avail idx again */
}
