/* disk.h: --disk: a virtio-blk PCI device and, for a file, the cellvm-blk process that serves it. */
#ifndef CELLVM_DISK_H
#define CELLVM_DISK_H

#include "config.h"
#include "virtio_pci.h"

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_BLK_CONFIG_LEN 60

struct vm;

/* Spawns (or connects to) the backend and adds the device. Returns NULL with a log line. */
struct virtio_pci *disk_create(struct vm *vm, const struct disk_config *d, unsigned int index);
/* Closes the device; a spawned backend sees the socket close, exits, and is reaped. */
void disk_destroy(struct virtio_pci *vp);

#endif
