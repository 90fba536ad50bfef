/* ids.c: a per-VM uid/gid claimed from a configured range, held by a lock for the VM's life. */
#include "ids.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int make_lock_dir(void)
{
	if (mkdir("/run/cellvm", 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(IDS_LOCK_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int ids_claim(uint32_t first, uint32_t last, uint32_t *id)
{
	int rc = make_lock_dir();

	if (rc < 0)
		return rc;
	for (uint64_t n = first; n <= last; n++) {
		char path[64];
		int fd;

		snprintf(path, sizeof(path), IDS_LOCK_DIR "/%llu", (unsigned long long)n);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			*id = (uint32_t)n;
			return fd;
		}
		close(fd);
	}
	return -EBUSY;
}
