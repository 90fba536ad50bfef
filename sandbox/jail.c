/* jail.c: jail_enter(), the one linear privilege drop every jailed cellvm process goes through. */
#define _GNU_SOURCE
#include "jail.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

/* Where the empty root is mounted before pivot_root; any directory every host has. */
#define JAIL_MOUNTPOINT "/tmp"

struct jail_spec jail_spec_default(const char *role)
{
	return (struct jail_spec){
		.role = role, .keep_fds = { STDERR_FILENO }, .nkeep = 1,
		.uid = JAIL_NOBODY, .gid = JAIL_NOBODY, .nofile = 64, .nproc = 64,
	};
}

int jail_keep_fd(struct jail_spec *s, int fd)
{
	if (fd < 0)
		return -EBADF;
	for (unsigned i = 0; i < s->nkeep; i++)
		if (s->keep_fds[i] == fd)
			return 0;
	if (s->nkeep >= JAIL_MAX_FDS)
		return -E2BIG;
	s->keep_fds[s->nkeep++] = fd;
	return 0;
}

static bool kept(const struct jail_spec *s, int fd)
{
	for (unsigned i = 0; i < s->nkeep; i++)
		if (s->keep_fds[i] == fd)
			return true;
	return false;
}

/* 0-2 not kept become /dev/null (so no later fd takes their number); every fd above 2 not
 * kept is closed. */
static int close_other_fds(const struct jail_spec *s)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), lo = 3;

	if (null < 0)
		return -errno;
	for (int fd = 0; fd <= 2; fd++)
		if (!kept(s, fd) && fd != null && dup2(null, fd) < 0)
			return -errno;
	for (;;) {
		int next = -1;

		for (unsigned i = 0; i < s->nkeep; i++) /* the smallest kept fd >= lo */
			if (s->keep_fds[i] >= lo && (next < 0 || s->keep_fds[i] < next))
				next = s->keep_fds[i];
		if (next < 0)
			return close_range((unsigned)lo, ~0u, 0) < 0 ? -errno : 0;
		if (next > lo && close_range((unsigned)lo, (unsigned)next - 1, 0) < 0)
			return -errno;
		lo = next + 1;
	}
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		err = -errno;
	close(fd);
	return err;
}

/* Started unprivileged: a user namespace in which the caller is s->uid/s->gid. */
/* After unshare(CLONE_NEWUSER): the caller becomes s->uid/s->gid inside. */
static int map_userns(const struct jail_spec *s, uid_t uid, gid_t gid)
{
	char map[64];
	int rc;

	/* An unprivileged process must give up setgroups() before it may write a gid_map. */
	rc = write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "%u %u 1\n", s->uid, uid);
	if (!rc)
		rc = write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "%u %u 1\n", s->gid, gid);
	return rc ? rc : write_file("/proc/self/gid_map", map);
}

/* A detached copy of bind_dir's mount, taken before the tmpfs covers JAIL_MOUNTPOINT (which
 * may hold bind_dir); -1 when there is none to take. */
static int clone_bind_dir(const char *bind_dir)
{
	return bind_dir ? open_tree(AT_FDCWD, bind_dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) : -1;
}

/* The clone at JAIL_BIND_PATH in the new root (still at JAIL_MOUNTPOINT). */
static int attach_bind_dir(int tree)
{
	const char *at = JAIL_MOUNTPOINT JAIL_BIND_PATH;
	int rc = 0;

	if (mkdir(at, 0555) < 0 || move_mount(tree, "", AT_FDCWD, at, MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
	    /* read-write, but no device, set-id or executable file */
	    mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		rc = -errno;
	close(tree);
	return rc;
}

/* A read-only, empty tmpfs becomes "/" (with bind_dir, if any); the host's tree is detached. */
static int pivot_to_empty_root(const char *bind_dir)
{
	int tree = -1, rc;

	/* Private first: nothing below may propagate back to the host's mount table. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	/* The host's directory is reachable only until the pivot: cloned now. */
	if (bind_dir && (tree = clone_bind_dir(bind_dir)) < 0)
		return -errno;
	if (mount("cellvm-jail", JAIL_MOUNTPOINT, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=4,mode=0555") < 0 || chdir(JAIL_MOUNTPOINT) < 0) {
		rc = -errno;
		if (tree >= 0)
			close(tree);
		return rc;
	}
	if (tree >= 0 && (rc = attach_bind_dir(tree)))
		return rc;
	/* pivot_root(".", "."): the old root ends up stacked on "/", then is detached. */
	if (syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		  MS_NOEXEC, NULL) < 0)
		return -errno;
	return 0;
}

/* Only ever lowers: soft = hard = min(v, current hard). */
static int lower_limit(int res, rlim_t v)
{
	struct rlimit cur;

	if (getrlimit(res, &cur) < 0)
		return -errno;
	if (cur.rlim_max != RLIM_INFINITY && cur.rlim_max < v)
		v = cur.rlim_max;
	return setrlimit(res, &(struct rlimit){ v, v }) < 0 ? -errno : 0;
}

static int set_rlimits(const struct jail_spec *s)
{
	int rc = lower_limit(RLIMIT_CORE, 0);

	if (!rc)
		rc = lower_limit(RLIMIT_NOFILE, s->nofile);
	return rc ? rc : lower_limit(RLIMIT_NPROC, s->nproc);
}

/* Every capability set emptied; as root, also setgroups/setresgid/setresuid to s->uid. */
/* Unprivileged without a user namespace: the caller's ids stay, and there is nothing to drop
 * but to check (no capability; the bounding set needs CAP_SETPCAP to change, and
 * no_new_privs keeps exec from using it). */
static int check_unprivileged(void)
{
	capng_get_caps_process();
	return capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE ? 0 : -EPERM;
}

static int drop_identity(const struct jail_spec *s, bool as_root, bool no_userns)
{
	uid_t ru, eu, su;
	int rc;

	if (no_userns)
		return check_unprivileged();
	capng_clear(CAPNG_SELECT_ALL);
	if (as_root)
		rc = capng_change_id((int)s->uid, (int)s->gid, CAPNG_DROP_SUPP_GRP |
				     CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT);
	else /* the user namespace already made us s->uid */
		rc = capng_apply(CAPNG_SELECT_ALL);
	if (rc)
		return -EPERM;
	/* Check, do not trust: the kernel's view of what is left. */
	capng_get_caps_process();
	if (getresuid(&ru, &eu, &su) < 0 || ru != s->uid || eu != s->uid || su != s->uid ||
	    getgid() != s->gid || (as_root && getgroups(0, NULL) != 0) ||
	    capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE ||
	    capng_have_capabilities(CAPNG_SELECT_BOUNDS) != CAPNG_NONE)
		return -EPERM;
	return 0;
}

#define STEP(name, expr)                         \
	do {                                     \
		r->step = (name);                \
		if ((rc = (expr)) < 0)           \
			return rc;               \
	} while (0)

static int check_spec(const struct jail_spec *s)
{
	if (!s->role || s->nkeep > JAIL_MAX_FDS || !s->nofile || !s->nproc ||
	    s->uid == 0 || s->gid == 0)
		return -EINVAL;
	return 0;
}

static int sys0(long rc)
{
	return rc < 0 ? -errno : 0;
}

/* Refuse mappings that are, or later become, executable (kernel 6.3+; older: skipped). */
static int set_mdwe(void)
{
	if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

static int landlock_layer(const struct jail_spec *s, struct jail_result *r)
{
	int rc = landlock_deny_all();

	if (rc == -EOPNOTSUPP && !s->strict) {
		r->no_landlock = true; /* the caller warns once, naming the layer */
		return 0;
	}
	return rc;
}

/*
 * An unprivileged start needs a user namespace for the namespaces and the empty root. Where
 * the host allows none (user.max_user_namespaces = 0, a distribution switch), those layers
 * are skipped and r->no_userns tells the caller to warn; with s->strict it is an error.
 */
static int user_namespace(const struct jail_spec *s, struct jail_result *r)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int rc;

	r->step = "user namespace";
	if (unshare(CLONE_NEWUSER) < 0) {
		rc = -errno;
		if (s->strict || (rc != -EPERM && rc != -ENOSPC && rc != -EUSERS && rc != -EINVAL))
			return rc;
		r->no_userns = true;
		return 0;
	}
	return map_userns(s, uid, gid);
}

/*
 * The order, and why (docs/sandbox.md has the same list):
 *  1. fds: first, so nothing the caller forgot reaches the namespaces or the waiter.
 *  2. user namespace (unprivileged start only): before the other namespaces, which need
 *     CAP_SYS_ADMIN in it and are then owned by it; before the pivot, since the maps are
 *     written through /proc/self.
 *  3. mount, pid, ipc, uts, cgroup, net namespaces: before the mounts (which must happen in
 *     our own mount namespace) and while capabilities are still held.
 *  4. pivot_root into an empty read-only tmpfs: needs CAP_SYS_ADMIN (before the drop) and
 *     must precede Landlock, which forbids mount and pivot_root.
 *  5. rlimits: before the uid change, so RLIMIT_NPROC is in force when the uid switches.
 *  6. identity and capabilities (all five sets): after every step that needs a capability.
 *  7. not dumpable: after the uid change, which resets it.
 *  8. no_new_privs: required by Landlock and seccomp for an unprivileged process.
 *  9. MDWE (refuse write+exec or exec gain), where the kernel has it (6.3+).
 * 10. Landlock: needs no_new_privs; before the fork, so the waiter and the worker share
 *     one domain (the waiter may signal the worker; nothing outside may be signalled).
 * 11. fork into the pid namespace: the worker is its init; the parent becomes the waiter.
 * 12. seccomp, last: an earlier filter would have to allow unshare, mount, capset,
 *     setresuid and the rest of the steps above. The waiter loads its own, smaller filter.
 */
int jail_enter(const struct jail_spec *s, struct jail_result *r)
{
	bool as_root = geteuid() == 0;
	int rc;

	*r = (struct jail_result){ 0 };
	STEP("spec", check_spec(s));
#if defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer's exit-time check needs ptrace and /proc: run it now, once, instead. */
	__lsan_do_leak_check();
#endif
	STEP("fds", close_other_fds(s));
	if (!as_root && (rc = user_namespace(s, r)) < 0)
		return rc;
	if (!r->no_userns) {
		STEP("namespaces", sys0(unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP |
						(s->no_pid_ns ? 0 : CLONE_NEWPID) |
						(s->share_net ? 0 : CLONE_NEWNET))));
		STEP("pivot_root", pivot_to_empty_root(s->bind_dir));
	}
	STEP("rlimits", set_rlimits(s));
	STEP("identity and capabilities", drop_identity(s, as_root, r->no_userns));
	STEP("dumpable", sys0(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)));
	STEP("no_new_privs", sys0(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)));
	STEP("mdwe", set_mdwe());
	STEP("landlock", landlock_layer(s, r));
	if (!s->no_pid_ns && !r->no_userns) {
		STEP("pid namespace", jail_fork_worker(s, r));
		if (rc == JAIL_WAITER)
			return JAIL_WAITER; /* the waiter loaded its own filter and waited */
	}
	if (!s->no_seccomp)
		STEP("seccomp", seccomp_load_role(s, s->rules, s->rules_arg));
	r->step = NULL;
	return 0;
}
