/* cgroup.c: a cgroup per VM (memory, pids, cpu limits) with a child group per process; v2 or v1. */
#define _GNU_SOURCE
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP2_MAGIC 0x63677270
#define CPU_PERIOD_US 100000ULL

static const char *const v1_controllers[CGROUP_MAX_HIER] = { "memory", "pids", "cpu" };

bool cgroup_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CGROUP_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(name[i] == '.' || name[i] == '_' || name[i] == '-' ||
		      (name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= 'A' && name[i] <= 'Z')))
			return false;
	return true;
}

static int write_file(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX + 64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		rc = -errno;
	close(fd);
	return rc;
}

static bool read_empty(const char *path)
{
	char buf[16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool empty = fd >= 0 && read(fd, buf, sizeof(buf)) == 0;

	if (fd >= 0)
		close(fd);
	return empty;
}

static int make_dir(const char *path)
{
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* v2: the controllers must be enabled on the way down from the root. */
static int v2_enable(const char *dir)
{
	int rc = write_file(dir, "cgroup.subtree_control", "+memory +pids +cpu");

	return rc == -EINVAL || rc == -ENOENT ? write_file(dir, "cgroup.subtree_control", "+memory +pids")
					      : rc;
}

static int find_hierarchies(struct cgroup_vm *cg, const char *name)
{
	struct statfs fs;

	cg->nhier = 0;
	if (statfs(CGROUP_ROOT, &fs) == 0 && fs.f_type == CGROUP2_MAGIC) {
		cg->v2 = true;
		snprintf(cg->dir[cg->nhier++], PATH_MAX, CGROUP_ROOT "/cellvm/%s", name);
		return 0;
	}
	for (unsigned i = 0; i < CGROUP_MAX_HIER; i++) {
		char root[64];

		snprintf(root, sizeof(root), CGROUP_ROOT "/%s", v1_controllers[i]);
		if (access(root, W_OK) == 0)
			snprintf(cg->dir[cg->nhier++], PATH_MAX, "%s/cellvm/%s", root, name);
	}
	return cg->nhier ? 0 : -EACCES;
}

static int write_u64(const char *dir, const char *file, uint64_t v)
{
	char text[64];

	snprintf(text, sizeof(text), "%" PRIu64, v);
	return write_file(dir, file, text);
}

/* Each limit goes to the hierarchy that has its file (v1) or to the one group (v2). */
static int write_limits(const struct cgroup_vm *cg, const struct cgroup_limits *lim)
{
	char cpu[64];
	int rc = 0;

	snprintf(cpu, sizeof(cpu), "%" PRIu64 " %llu", (uint64_t)(lim->cpu_pct * CPU_PERIOD_US / 100),
		 CPU_PERIOD_US);
	for (unsigned i = 0; i < cg->nhier && !rc; i++) {
		const char *d = cg->dir[i];

		if (lim->memory_max && (cg->v2 || strstr(d, "/memory/")))
			rc = write_u64(d, cg->v2 ? "memory.max" : "memory.limit_in_bytes", lim->memory_max);
		if (!rc && lim->pids_max && (cg->v2 || strstr(d, "/pids/")))
			rc = write_u64(d, "pids.max", lim->pids_max);
		if (!rc && lim->cpu_pct && cg->v2)
			rc = write_file(d, "cpu.max", cpu);
		if (!rc && lim->cpu_pct && !cg->v2 && strstr(d, "/cpu/"))
			rc = write_u64(d, "cpu.cfs_quota_us", (uint64_t)(lim->cpu_pct * CPU_PERIOD_US / 100));
	}
	return rc;
}

/* True when dir and its children hold no process: a group left by a VM whose broker was
 * killed before it could remove it (kill -9 of the process group). */
static bool stale(const char *dir)
{
	char path[PATH_MAX + 64];
	struct dirent *e;
	DIR *d = opendir(dir);
	bool empty = d != NULL;

	while (empty && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/cgroup.procs", dir, e->d_name);
		empty = read_empty(path);
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	return empty && read_empty(path);
}

/* Removes a stale group and its children; -EEXIST when it is not stale (a running VM's). */
static int reclaim(const char *dir)
{
	char path[PATH_MAX + 64];
	struct dirent *e;
	DIR *d;

	if (!stale(dir))
		return -EEXIST;
	d = opendir(dir);
	while (d && (e = readdir(d)))
		if (e->d_type == DT_DIR && e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			rmdir(path);
		}
	if (d)
		closedir(d);
	return rmdir(dir) < 0 ? -EEXIST : 0;
}

static int make_vm_dir(const char *dir)
{
	if (mkdir(dir, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	return reclaim(dir) ?: (mkdir(dir, 0755) < 0 ? -errno : 0);
}

/* On failure cg->nhier counts only the groups this call created: nothing else is removed
 * (an existing group of the same name belongs to another VM). */
static int create_dirs(struct cgroup_vm *cg)
{
	for (unsigned i = 0; i < cg->nhier; i++) {
		char parent[PATH_MAX];
		int rc;

		snprintf(parent, sizeof(parent), "%s", cg->dir[i]);
		*strrchr(parent, '/') = '\0';
		rc = make_dir(parent);
		if (!rc && cg->v2)
			rc = v2_enable(CGROUP_ROOT) ?: v2_enable(parent);
		if (!rc)
			rc = make_vm_dir(cg->dir[i]); /* EEXIST: a running VM has this name */
		if (rc) {
			cg->nhier = i;
			return rc;
		}
		if (cg->v2 && (rc = v2_enable(cg->dir[i]))) {
			cg->nhier = i + 1;
			return rc;
		}
	}
	return 0;
}

int cgroup_vm_create(struct cgroup_vm *cg, const char *name, const struct cgroup_limits *lim,
		     int *vmm_fds, unsigned *n)
{
	int rc;

	*cg = (struct cgroup_vm){ 0 };
	*n = 0;
	if (!cgroup_name_ok(name))
		return -EINVAL;
	rc = find_hierarchies(cg, name);
	if (!rc)
		rc = create_dirs(cg);
	if (!rc)
		rc = write_limits(cg, lim);
	if (!rc)
		rc = cgroup_child_open(cg, "vmm", vmm_fds, n);
	if (rc)
		cgroup_vm_remove(cg);
	return rc;
}

int cgroup_move(const int *procs_fds, unsigned n, pid_t pid)
{
	char text[32];

	snprintf(text, sizeof(text), "%d", (int)pid);
	for (unsigned i = 0; i < n; i++)
		if (write(procs_fds[i], text, strlen(text)) < 0)
			return -errno;
	return 0;
}

int cgroup_child_open(struct cgroup_vm *cg, const char *label, int *fds, unsigned *n)
{
	*n = 0;
	if (cg->nchildren >= sizeof(cg->children) / sizeof(cg->children[0]))
		return -ENOSPC;
	snprintf(cg->children[cg->nchildren++], sizeof(cg->children[0]), "%s", label);
	for (unsigned i = 0; i < cg->nhier; i++) {
		char path[PATH_MAX + 64];

		snprintf(path, sizeof(path), "%s/%s", cg->dir[i], label);
		if (make_dir(path) < 0)
			goto fail;
		strcat(path, "/cgroup.procs");
		fds[*n] = open(path, O_WRONLY | O_CLOEXEC);
		if (fds[*n] < 0)
			goto fail;
		(*n)++;
	}
	return 0;
fail:
	for (unsigned i = 0; i < *n; i++)
		close(fds[i]);
	*n = 0;
	return -errno;
}

/* rmdir, retrying while the last tasks finish exiting. */
static void remove_dir(const char *path)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 500 && rmdir(path) < 0 && errno == EBUSY; i++)
		nanosleep(&ms, NULL);
}

void cgroup_vm_remove(struct cgroup_vm *cg)
{
	for (unsigned i = 0; i < cg->nhier; i++) {
		for (unsigned c = 0; c < cg->nchildren; c++) {
			char path[PATH_MAX + 32];

			snprintf(path, sizeof(path), "%s/%s", cg->dir[i], cg->children[c]);
			remove_dir(path);
		}
		remove_dir(cg->dir[i]);
	}
	cg->nhier = cg->nchildren = 0;
}
