/* virtqueue.c: split-virtqueue pop/push over guest memory, every guest address checked. */
#include "virtqueue.h"

#include <errno.h>
#include <string.h>

#include "inflight.h"
#include "log.h"

#define DESC_F_NEXT     1
#define DESC_F_WRITE    2
#define DESC_F_INDIRECT 4
#define AVAIL_F_NO_INTERRUPT 1

static void *range_to_hva(const struct guest_mem *mem, uint64_t addr, uint64_t len, bool user)
{
	uint64_t last;

	if (len == 0)
		len = 1;
	if (__builtin_add_overflow(addr, len - 1, &last))
		return NULL;
	for (unsigned i = 0; i < mem->nregions && i < GUEST_MEM_MAX_REGIONS; i++) {
		const struct guest_region *r = &mem->regions[i];
		uint64_t base = user ? r->uaddr : r->gpa;

		/* r->size >= 1 and base + size - 1 cannot wrap: checked at SET_MEM_TABLE. */
		if (addr >= base && last <= base + (r->size - 1))
			return r->hva + (addr - base);
	}
	return NULL;
}

void *gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return range_to_hva(mem, gpa, len, false);
}

void *uva_to_hva(const struct guest_mem *mem, uint64_t uva, uint64_t len)
{
	return range_to_hva(mem, uva, len, true);
}

void virtq_setup(struct virtq *vq, uint16_t num, void *desc, void *avail, void *used,
		 uint16_t base)
{
	vq->num = num;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->last_avail = base;
	vq->used_idx = used ? __atomic_load_n((uint16_t *)(vq->used + 2), __ATOMIC_ACQUIRE) : base;
	vq->signalled_valid = false;
	vq->unpublished = false;
	vq->broken = false;
	memset(vq->inflight, 0, sizeof(vq->inflight));
	vq->ninflight = 0;
	vq->ifl.nbatch = 0;
	for (unsigned i = vq->ifl.next; i < vq->ifl.nresubmit; i++)
		vq->inflight[vq->ifl.resubmit[i] / 64] |= 1ULL << (vq->ifl.resubmit[i] % 64);
}

void virtq_mark_broken(struct virtq *vq, const char *why, unsigned long long detail)
{
	if (vq->broken)
		return;
	vq->broken = true;
	log_error("queue %u broken: %s %#llx; no further requests are processed on it",
		  vq->index, why, detail);
}

bool virtq_avail_pending(const struct virtq *vq)
{
	return vq->num && vq->avail && !vq->broken &&
	       (vq->ifl.next < vq->ifl.nresubmit ||
		__atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE) != vq->last_avail);
}

unsigned virtq_inflight(const struct virtq *vq)
{
	return vq->ninflight;
}

/* Adds one descriptor's buffer to elem; readable buffers may not follow writable ones. */
static int elem_add(struct virtq *vq, const struct guest_mem *mem, struct virtq_elem *elem,
		    const struct virtq_desc_raw *d)
{
	bool writable = d->flags & DESC_F_WRITE;
	void *hva;

	if (!writable && elem->in_num) {
		virtq_mark_broken(vq, "device-readable descriptor after a writable one", d->addr);
		return -EIO;
	}
	if (d->len == 0)
		return 0;
	if (elem->out_num + elem->in_num >= VIRTQ_IOV_MAX) {
		virtq_mark_broken(vq, "chain has more buffers than the iovec holds", VIRTQ_IOV_MAX);
		return -EIO;
	}
	hva = gpa_to_hva(mem, d->addr, d->len);
	if (!hva) {
		virtq_mark_broken(vq, "buffer outside guest memory at gpa", d->addr);
		return -EIO;
	}
	elem->iov[elem->out_num + elem->in_num] = (struct iovec){ hva, d->len };
	if (writable) {
		elem->in_num++;
		elem->in_len += d->len;
	} else {
		elem->out_num++;
		elem->out_len += d->len;
	}
	return 0;
}

/* Walks an indirect table: its own bound (the table size), no nesting. */
static int walk_indirect(struct virtq *vq, const struct guest_mem *mem, struct virtq_elem *elem,
			 const struct virtq_desc_raw *ind)
{
	const uint8_t *table;
	unsigned n = ind->len / sizeof(struct virtq_desc_raw);
	unsigned i = 0;

	if (!vq->indirect || (ind->flags & DESC_F_NEXT) || ind->len == 0 ||
	    ind->len % sizeof(struct virtq_desc_raw) || n > VIRTQ_INDIRECT_MAX) {
		virtq_mark_broken(vq, "bad indirect descriptor, len", ind->len);
		return -EIO;
	}
	table = gpa_to_hva(mem, ind->addr, ind->len);
	if (!table) {
		virtq_mark_broken(vq, "indirect table outside guest memory at gpa", ind->addr);
		return -EIO;
	}
	for (unsigned ttl = 0;; ttl++) {
		struct virtq_desc_raw d;

		if (ttl >= n) {
			virtq_mark_broken(vq, "loop in indirect table of entries", n);
			return -EIO;
		}
		memcpy(&d, table + (size_t)i * sizeof(d), sizeof(d)); /* copied once */
		if (d.flags & DESC_F_INDIRECT) {
			virtq_mark_broken(vq, "nested indirect descriptor", i);
			return -EIO;
		}
		if (elem_add(vq, mem, elem, &d))
			return -EIO;
		if (!(d.flags & DESC_F_NEXT))
			return 0;
		if (d.next >= n) {
			virtq_mark_broken(vq, "indirect next out of range", d.next);
			return -EIO;
		}
		i = d.next;
	}
}

static int walk_chain(struct virtq *vq, const struct guest_mem *mem, struct virtq_elem *elem,
		      uint16_t head)
{
	uint16_t i = head;

	for (unsigned ttl = 0;; ttl++) {
		struct virtq_desc_raw d;

		if (ttl >= vq->num) {
			virtq_mark_broken(vq, "descriptor chain loops or is longer than the queue",
					  vq->num);
			return -EIO;
		}
		memcpy(&d, &vq->desc[i], sizeof(d)); /* copied once, then validated */
		if (d.flags & DESC_F_INDIRECT) {
			if (ttl != 0 || (d.flags & DESC_F_NEXT)) {
				virtq_mark_broken(vq, "indirect descriptor inside a chain", i);
				return -EIO;
			}
			return walk_indirect(vq, mem, elem, &d);
		}
		if (elem_add(vq, mem, elem, &d))
			return -EIO;
		if (!(d.flags & DESC_F_NEXT))
			return 0;
		if (d.next >= vq->num) {
			virtq_mark_broken(vq, "descriptor next out of range", d.next);
			return -EIO;
		}
		i = d.next;
	}
}

static void elem_reset(struct virtq_elem *elem, uint16_t head)
{
	/* Not the whole struct: zeroing its 4 KiB iovec cost as much as a 4 KiB payload copy;
	 * iov[] entries are written before they are counted. */
	elem->head = head;
	elem->out_num = elem->in_num = 0;
	elem->out_len = elem->in_len = 0;
}

/* A predecessor's in-flight head (already in the bitmap), its chain checked afresh. */
static int pop_resubmit(struct virtq *vq, const struct guest_mem *mem, struct virtq_elem *elem)
{
	uint16_t head = vq->ifl.resubmit[vq->ifl.next];

	elem_reset(elem, head);
	if (walk_chain(vq, mem, elem, head))
		return -EIO;
	vq->ifl.next++;
	vq->ifl.last_resubmitted = true;
	vq->ninflight++;
	return 1;
}

int virtq_pop(struct virtq *vq, const struct guest_mem *mem, struct virtq_elem *elem)
{
	uint16_t avail_idx, head;

	if (vq->broken)
		return -EIO;
	if (!vq->num || !vq->desc)
		return 0;
	if (vq->ifl.next < vq->ifl.nresubmit)
		return pop_resubmit(vq, mem, elem);
	avail_idx = __atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE);
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num) {
		virtq_mark_broken(vq, "avail idx more than the queue size ahead, idx", avail_idx);
		return -EIO;
	}
	if (avail_idx == vq->last_avail)
		return 0;
	head = __atomic_load_n(&vq->avail[2 + (vq->last_avail & (vq->num - 1))], __ATOMIC_RELAXED);
	if (head >= vq->num) {
		virtq_mark_broken(vq, "avail ring head out of range", head);
		return -EIO;
	}
	if (vq->inflight[head / 64] & (1ULL << (head % 64))) {
		virtq_mark_broken(vq, "head posted twice while in flight", head);
		return -EIO;
	}
	elem_reset(elem, head);
	if (walk_chain(vq, mem, elem, head))
		return -EIO;
	vq->ifl.last_resubmitted = false;
	inflight_popped(vq, head);
	vq->inflight[head / 64] |= 1ULL << (head % 64);
	vq->ninflight++;
	vq->last_avail++;
	return 1;
}

int virtq_fill(struct virtq *vq, uint16_t head, uint32_t len)
{
	uint8_t *slot;

	if (head >= vq->num || !(vq->inflight[head / 64] & (1ULL << (head % 64))))
		return -EIO;
	vq->inflight[head / 64] &= ~(1ULL << (head % 64));
	vq->ninflight--;
	if (vq->broken)
		return -EIO;
	slot = vq->used + 4 + (size_t)(vq->used_idx & (vq->num - 1)) * 8;
	__atomic_store_n((uint32_t *)slot, (uint32_t)head, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(slot + 4), len, __ATOMIC_RELAXED);
	inflight_filled(vq, head);
	vq->used_idx++;
	vq->unpublished = true;
	vq->last_head = head;
	return 0;
}

void virtq_flush(struct virtq *vq)
{
	if (!vq->unpublished)
		return;
	vq->unpublished = false;
	/* The elements must be visible before the index that publishes them. */
	__atomic_store_n((uint16_t *)(vq->used + 2), vq->used_idx, __ATOMIC_RELEASE);
	inflight_published(vq);
}

int virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	int rc = virtq_fill(vq, head, len);

	if (rc == 0)
		virtq_flush(vq);
	return rc;
}

int virtq_push_n(struct virtq *vq, const uint16_t *heads, const uint32_t *lens, unsigned n)
{
	uint64_t left[VIRTQ_MAX_SIZE / 64];

	/* Each head in flight, and listed once: checked on a copy, so a refusal changes nothing. */
	memcpy(left, vq->inflight, sizeof(left));
	for (unsigned i = 0; i < n; i++) {
		if (heads[i] >= vq->num || !(left[heads[i] / 64] & (1ULL << (heads[i] % 64))))
			return -EIO;
		left[heads[i] / 64] &= ~(1ULL << (heads[i] % 64));
	}
	memcpy(vq->inflight, left, sizeof(left));
	vq->ninflight -= n;
	if (vq->broken)
		return -EIO;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *slot = vq->used + 4 + (size_t)((uint16_t)(vq->used_idx + i) & (vq->num - 1)) * 8;

		__atomic_store_n((uint32_t *)slot, (uint32_t)heads[i], __ATOMIC_RELAXED);
		__atomic_store_n((uint32_t *)(slot + 4), lens[i], __ATOMIC_RELAXED);
		inflight_filled(vq, heads[i]);
	}
	vq->used_idx = (uint16_t)(vq->used_idx + n);
	vq->unpublished = true;
	virtq_flush(vq); /* with any filled before them */
	return 0;
}

void virtq_prefetch(const struct virtq *vq)
{
	uint16_t m;

	if (!vq->num || !vq->desc || !vq->avail || !vq->used)
		return;
	m = (uint16_t)(vq->num - 1);
	__builtin_prefetch(&vq->avail[2 + (vq->last_avail & m)], 0);
	__builtin_prefetch(&vq->desc[vq->last_head & m], 0);
	__builtin_prefetch(&vq->avail[2 + vq->num], 0);
	__builtin_prefetch(vq->used + 4 + (size_t)(vq->used_idx & m) * 8, 1);
}

void virtq_unpop(struct virtq *vq, uint16_t head)
{
	if (head >= vq->num || !(vq->inflight[head / 64] & (1ULL << (head % 64))))
		return;
	vq->ninflight--;
	if (vq->ifl.last_resubmitted && vq->ifl.resubmit[vq->ifl.next - 1] == head) {
		vq->ifl.last_resubmitted = false;
		vq->ifl.next--; /* back to the resubmission queue, still in the bitmap */
		return;
	}
	vq->inflight[head / 64] &= ~(1ULL << (head % 64));
	inflight_unpopped(vq, head);
	vq->last_avail--;
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx, event;
	bool valid = vq->signalled_valid;

	virtq_flush(vq); /* the driver is told only about what it can see */
	/* Our used idx store must be ordered before reading the driver's suppression. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (!vq->event_idx)
		return !(__atomic_load_n(&vq->avail[0], __ATOMIC_RELAXED) & AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	event = __atomic_load_n(&vq->avail[2 + vq->num], __ATOMIC_RELAXED);
	/* vring_need_event: notify if event lies in (old, now]. */
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void virtq_arm_kick(struct virtq *vq)
{
	if (!vq->event_idx || !vq->used)
		return;
	__atomic_store_n((uint16_t *)(vq->used + 4 + (size_t)vq->num * 8), vq->last_avail,
			 __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void virtq_suppress_kick(struct virtq *vq)
{
	if (!vq->event_idx || !vq->used)
		return;
	/* vring_need_event(last - 1, new, last) is false for every new. */
	__atomic_store_n((uint16_t *)(vq->used + 4 + (size_t)vq->num * 8),
			 (uint16_t)(vq->last_avail - 1), __ATOMIC_RELAXED);
}

/* Used by each device to take a request's payload out of a chain past its header. */
unsigned iov_slice(const struct iovec *iov, unsigned n, size_t skip, size_t len,
		   struct iovec *out)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		out[k++] = (struct iovec){ (uint8_t *)iov[i].iov_base + skip, l };
		len -= l;
		skip = 0;
	}
	return k;
}
