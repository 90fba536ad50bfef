/* ids.h: a per-VM uid/gid claimed from a configured range, held by a lock for the VM's life. */
#ifndef CELLVM_IDS_H
#define CELLVM_IDS_H

#include <stdint.h>

#define IDS_LOCK_DIR "/run/cellvm/ids"

/* Claims the first id in [first, last] no other running cellvm holds (a flock on
 * IDS_LOCK_DIR/<id>). Returns the lock fd (keep it open: closing it frees the id) with *id
 * set, or -errno: -EBUSY when every id in the range is taken. Root only. */
int ids_claim(uint32_t first, uint32_t last, uint32_t *id) __attribute__((warn_unused_result));

#endif
