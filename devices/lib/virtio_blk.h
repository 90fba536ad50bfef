/* virtio_blk.h: the virtio-blk wire format (virtio 1.2 §5.2): request types, status, features, layouts. */
#ifndef CELLVM_VIRTIO_BLK_H
#define CELLVM_VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#define VIRTIO_BLK_SECTOR 512u
#define VIRTIO_BLK_ID_BYTES 20u

/* Request types (struct virtio_blk_hdr.type). */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

/* The status byte the device writes last. */
#define VIRTIO_BLK_S_OK      0
#define VIRTIO_BLK_S_IOERR   1
#define VIRTIO_BLK_S_UNSUPP  2

/* Feature bits. */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* The flag of struct virtio_blk_range for write-zeroes. */
#define VIRTIO_BLK_WZ_UNMAP 1u

/* The device-readable header that starts every request. */
struct virtio_blk_hdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};

/* One segment of a discard or write-zeroes request. */
struct virtio_blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* The device configuration space, little-endian. */
struct virtio_blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback, unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap, unused1[3];
	uint32_t max_secure_erase_sectors, max_secure_erase_seg, secure_erase_sector_alignment;
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_blk_hdr) == 16, "virtio-blk request header");
_Static_assert(sizeof(struct virtio_blk_range) == 16, "virtio-blk range segment");
_Static_assert(sizeof(struct virtio_blk_config) == 72, "virtio-blk config layout");
_Static_assert(offsetof(struct virtio_blk_config, num_queues) == 34, "virtio-blk num_queues offset");

#endif
