/* selftest.c: cellvm --jail-selftest: one forbidden act from the jailed VMM's main, vCPU or API role. */
#define _GNU_SOURCE
#include "selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../sandbox/selftest.h"
#include "broker.h"
#include "kvm.h"
#include "policy.h"

static int rc_of(long r)
{
	return r < 0 ? -errno : 0;
}

/* RLIMIT_NOFILE: fcntl(F_DUPFD_CLOEXEC) is allowed, so the limit must stop it. */
static int act_nofile(const struct jail_act_ctx *a)
{
	for (int i = 0; i < 1 << 16; i++)
		if (fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0) < 0)
			return -errno;
	return 0;
}

/* Building a VM is the main thread's job: a vCPU or API thread is killed for it. */
static int act_create_vm(const struct jail_act_ctx *a)
{
	int fd = (int)ioctl(kvm_preopen_fd(), KVM_CREATE_VM, 0);

	if (fd >= 0)
		close(fd);
	return rc_of(fd);
}

static int act_memfd(const struct jail_act_ctx *a)
{
	int fd = memfd_create("selftest", MFD_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return rc_of(fd);
}

static int act_socketpair(const struct jail_act_ctx *a)
{
	int sv[2], rc = rc_of(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));

	if (rc == 0) {
		close(sv[0]);
		close(sv[1]);
	}
	return rc;
}

/* The broker opens only its fixed list of device nodes (the kernel's vhost). */
static int act_broker_dev_other(const struct jail_act_ctx *a)
{
	int fd = broker_open_dev("/dev/mem");

	if (fd >= 0)
		close(fd);
	return fd < 0 ? fd : 0;
}

/* After the seal, a device never requested before is refused, even one from the list. */
static int act_broker_dev_sealed(const struct jail_act_ctx *a)
{
	int fd;

	broker_seal();
	fd = broker_open_dev("/dev/vhost-vsock");
	if (fd >= 0)
		close(fd);
	return fd < 0 ? fd : 0;
}

/* The broker kills only backends it started: the VMM's parent is refused. */
static int act_broker_kill_other(const struct jail_act_ctx *a)
{
	return broker_kill(a->parent);
}

/* A backend the broker started, killed through it (the VMM may not signal it itself), then
 * reaped here: it must have died of SIGKILL. */
static int act_broker_kill_spawned(const struct jail_act_ctx *a)
{
	/* A backend that stays up (waiting for its frontend) until killed: cellvm-blk serving a
	 * file every host has, read-only. */
	const char *args[] = { "--socket-fd", "3", "--path", "/bin/sh", "--readonly", NULL };
	int sv[2], status = 0, rc;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = broker_spawn("cellvm-blk", args, &sv[1], 1);
	close(sv[1]);
	rc = pid < 0 ? pid : broker_kill(pid);
	if (pid > 0 && waitpid(pid, &status, 0) == pid && rc == 0)
		rc = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? -ECHILD : -EIO;
	close(sv[0]);
	return rc; /* -ECHILD ("refused" in the report) means: killed, as asked */
}

/* After the seal a backend not started before is refused. */
static int act_broker_spawn_sealed(const struct jail_act_ctx *a)
{
	const char *args[] = { "--help", NULL };
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	broker_seal();
	rc = broker_spawn("cellvm-blk", args, &sv[1], 1);
	close(sv[0]);
	close(sv[1]);
	return rc < 0 ? rc : 0;
}

/* ---- hotplug: what the broker still refuses after the seal (broker_hotplug.h) ---- */

/* As a VMM started with --api-socket and --jail hotplug-dir=/bin: hotplug allowed, then the
 * seal, then one spawn. A spawned backend is killed and reaped (0: it was started). */
static int hot_spawn(const char *binary, const char *const *args)
{
	int sv[2], rc = broker_allow_hotplug("/bin", false, 0, 0);
	pid_t pid;

	if (rc < 0)
		return rc;
	broker_seal();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = broker_spawn(binary, args, &sv[1], 1);
	close(sv[1]);
	if (pid > 0 && broker_kill(pid) == 0)
		waitpid(pid, NULL, 0);
	close(sv[0]);
	return pid < 0 ? pid : 0;
}

/* The control: a disk under the hotplug directory is served after the seal. */
static int act_hotplug_allowed(const struct jail_act_ctx *a)
{
	const char *args[] = { "--socket-fd", "3", "--path", "/bin/sh", "--readonly", NULL };
	return hot_spawn("cellvm-blk", args);
}

static int act_hotplug_shadow(const struct jail_act_ctx *a)
{
	const char *args[] = { "--socket-fd", "3", "--path", "/etc/shadow", "--readonly", NULL };
	return hot_spawn("cellvm-blk", args);
}

/* ".." and symlinks are resolved before the directory check. */
static int act_hotplug_dotdot(const struct jail_act_ctx *a)
{
	const char *args[] = { "--socket-fd", "3", "--path", "/bin/../../etc/shadow", NULL };
	return hot_spawn("cellvm-blk", args);
}

/* getopt_long would take --path=X (and abbreviations): only exact known options pass. */
static int act_hotplug_option(const struct jail_act_ctx *a)
{
	const char *args[] = { "--socket-fd", "3", "--path", "/bin/sh", "--path=/etc/shadow", NULL };
	return hot_spawn("cellvm-blk", args);
}

/* Another identity for the backend than the VM's. */
static int act_hotplug_uid(const struct jail_act_ctx *a)
{
	const char *args[] = { "--socket-fd", "3", "--uid", "0", "--path", "/bin/sh", NULL };
	return hot_spawn("cellvm-blk", args);
}

/* A binary outside the fixed list. */
static int act_hotplug_binary(const struct jail_act_ctx *a)
{
	const char *args[] = { "--help", NULL };
	return hot_spawn("cellvm", args);
}

/* Hotplug never opens a file by name: only backends do, on checked paths. */
static int act_hotplug_open(const struct jail_act_ctx *a)
{
	int fd, rc = broker_allow_hotplug("/", false, 0, 0);

	if (rc < 0)
		return rc;
	broker_seal();
	fd = broker_open_read("/etc/shadow");
	if (fd >= 0)
		close(fd);
	return fd < 0 ? fd : 0;
}

/* The policy is set once, before the seal: a taken-over VMM cannot widen it. */
static int act_hotplug_late(const struct jail_act_ctx *a)
{
	broker_seal();
	return broker_allow_hotplug("/", false, 0, 0);
}

static const struct jail_act vmm_acts[] = {
	{ "nofile-fcntl", act_nofile }, { "kvm-create-vm", act_create_vm },
	{ "memfd", act_memfd }, { "socketpair", act_socketpair },
	{ "broker-open-dev-other", act_broker_dev_other },
	{ "broker-open-dev-sealed", act_broker_dev_sealed },
	{ "broker-kill-other", act_broker_kill_other },
	{ "broker-kill-spawned", act_broker_kill_spawned },
	{ "broker-spawn-sealed", act_broker_spawn_sealed },
	{ "broker-hotplug-allowed", act_hotplug_allowed },
	{ "broker-hotplug-shadow", act_hotplug_shadow },
	{ "broker-hotplug-dotdot", act_hotplug_dotdot },
	{ "broker-hotplug-option", act_hotplug_option },
	{ "broker-hotplug-uid", act_hotplug_uid },
	{ "broker-hotplug-binary", act_hotplug_binary },
	{ "broker-hotplug-open", act_hotplug_open },
	{ "broker-hotplug-late", act_hotplug_late },
};
#define NACTS (sizeof(vmm_acts) / sizeof(vmm_acts[0]))

struct thread_act {
	const char *act;
	pid_t parent;
	enum vmm_thread_role role;
	int status;
};

static void *role_thread(void *arg)
{
	struct thread_act *t = arg;
	struct jail_act_ctx ctx = { .parent = t->parent };

	t->status = vmm_policy_thread(t->role) < 0 ? 3 :
		    jail_selftest_run(t->act, &ctx, vmm_acts, NACTS);
	return NULL;
}

static const char *strip_role(const char *act, enum vmm_thread_role *role, bool *threaded)
{
	*threaded = true;
	if (strncmp(act, "vcpu:", 5) == 0)
		return *role = VMM_THREAD_VCPU, act + 5;
	if (strncmp(act, "api:", 4) == 0)
		return *role = VMM_THREAD_API, act + 4;
	*threaded = false;
	return act;
}

bool vmm_selftest_known(const char *spec)
{
	enum vmm_thread_role role;
	bool threaded;

	return jail_selftest_known(strip_role(spec, &role, &threaded), vmm_acts, NACTS);
}

int vmm_selftest_run(const char *spec, pid_t parent)
{
	struct thread_act t = { .status = 2, .parent = parent };
	struct jail_act_ctx ctx = { .parent = parent };
	bool threaded;
	pthread_t th;

	t.act = strip_role(spec, &t.role, &threaded);
	if (!threaded)
		return jail_selftest_run(t.act, &ctx, vmm_acts, NACTS);
	if (pthread_create(&th, NULL, role_thread, &t) != 0)
		return 3;
	pthread_join(th, NULL);
	return t.status;
}
