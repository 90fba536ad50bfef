/* cgroup.h: a cgroup per VM (memory, pids, cpu limits) with a child group per process; v2 or v1. */
#ifndef CELLVM_CGROUP_H
#define CELLVM_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CGROUP_MAX_HIER 3     /* v1: memory, pids, cpu; v2: one */
#define CGROUP_NAME_MAX 64

struct cgroup_limits {
	uint64_t memory_max;      /* bytes, 0: no limit */
	uint64_t pids_max;        /* tasks (threads count), 0: no limit */
	uint64_t cpu_pct;         /* percent of one CPU (200: two CPUs), 0: no limit */
};

/* The VM's group in each hierarchy: <root>/cellvm/<name>; its processes live in child
 * groups (vmm, blk-1, ...), as cgroup v2 requires of a group with controllers. */
struct cgroup_vm {
	unsigned nhier;
	bool v2;
	char dir[CGROUP_MAX_HIER][PATH_MAX];
	unsigned nchildren;
	char children[32][24];
};

/* True for names made of [A-Za-z0-9._-], 1 to 64 characters, not "." or "..". */
bool cgroup_name_ok(const char *name);
/* Creates the groups, writes the limits, makes the "vmm" child and opens its cgroup.procs in
 * each hierarchy (vmm_fds, *n; the caller moves the VMM with cgroup_move and closes them).
 * Returns 0 or -errno (EACCES, EROFS: no write access to the cgroup file system). */
int cgroup_vm_create(struct cgroup_vm *cg, const char *name, const struct cgroup_limits *lim,
		     int *vmm_fds, unsigned *n) __attribute__((warn_unused_result));
/* Writes pid into each cgroup.procs fd. On cgroup v1 the first migration after a quiet spell
 * waits for an RCU grace period (about 10 ms here): callers keep it off the VMM's path. */
int cgroup_move(const int *procs_fds, unsigned n, pid_t pid) __attribute__((warn_unused_result));
/* Makes the child group `label` and opens its cgroup.procs in each hierarchy (fds[], *n):
 * a child process joins by writing "0" to each before exec. Returns 0 or -errno. */
int cgroup_child_open(struct cgroup_vm *cg, const char *label, int *fds, unsigned *n)
	__attribute__((warn_unused_result));
/* Removes the child groups and the VM's group (once their processes have exited). */
void cgroup_vm_remove(struct cgroup_vm *cg);

#endif
