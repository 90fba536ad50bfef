/* policy.c: the VMM's jail: its spec, its process-wide seccomp rules, and each thread role's. */
#define _GNU_SOURCE
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <stdlib.h>
#include <unistd.h>

#include "../sandbox/jail.h"

/* A syscall a role may make, with the reason (printed by --print-jail). */
struct rule {
	int nr;
	const char *why;
};

/* An ioctl request a role may make on any fd (the fds are KVM's: system, VM, vCPU). */
struct ioctl_rule {
	unsigned long req;
	const char *name;
};

#define RULE(name, why) { SCMP_SYS(name), why }
#define IOC(name) { name, #name }

/* Every thread of the VMM: the base (sandbox/seccomp_base.c) plus these. */
static const struct rule common_rules[] = {
	RULE(futex, "pthread mutexes and condition variables"),
	RULE(exit, "a thread ends"),
	RULE(set_robust_list, "glibc, at thread start"),
	RULE(rseq, "glibc, at thread start"),
	RULE(poll, "vhost-user replies with a timeout"),
	RULE(sendmsg, "vhost-user requests (with fds), broker requests"),
	RULE(recvmsg, "vhost-user replies (GET_INFLIGHT_FD's with the region's fd), broker "
		 "replies, API requests (with fds)"),
	RULE(recvfrom, "vhost-user reply payloads"),
	RULE(epoll_ctl, "watch and unwatch fds in the event loops"),
	RULE(eventfd2, "ioeventfds and irqfds for virtio queues"),
	RULE(newfstatat, "fstat of an open fd (AT_EMPTY_PATH only; no path is reachable)"),
	RULE(getrandom, "glibc malloc"),
	RULE(getuid, "log lines"),
	RULE(clock_gettime, "the ACPI PM timer a vCPU reads, timeouts (the vDSO falls back to the "
		       "system call when the host clocksource has no vDSO mode, as under TCG)"),
};

/* The main thread (the event loop, VM creation) adds these; new threads inherit them and
 * then narrow them with their role's filter. */
static const struct rule main_rules[] = {
	RULE(epoll_wait, "the main event loop"),
	RULE(epoll_pwait, "the main event loop (some glibc builds)"),
	RULE(epoll_create1, "event loops"),
	RULE(signalfd4, "SIGTERM/SIGINT/SIGHUP as events"),
	RULE(memfd_create, "guest RAM, shareable with device backends"),
	RULE(ftruncate, "sizing guest RAM"),
	RULE(pread64, "reading the kernel and initramfs from fds the broker opened"),
	RULE(socketpair, "the vhost-user socket of each device backend"),
	RULE(wait4, "reaping device backends (the VMM is their subreaper)"),
	RULE(clock_nanosleep, "waiting for a backend to exit"),
	RULE(nanosleep, "waiting for a backend to exit"),
	RULE(rt_sigaction, "SIGUSR1 for vCPU kicks"),
	RULE(sysinfo, "glibc qsort"),
	RULE(sched_getaffinity, "glibc, sizing thread stacks"),
	RULE(accept4, "the API socket"),
	RULE(sendto, "API responses"),
	RULE(timerfd_create, "retrying an external vhost-user backend that hung up"),
	RULE(timerfd_settime, "retrying an external vhost-user backend that hung up"),
};

static const struct rule api_rules[] = {
	RULE(epoll_wait, "the API thread's event loop"),
	RULE(epoll_pwait, "the API thread's event loop (some glibc builds)"),
	RULE(accept4, "API connections"),
	RULE(sendto, "API responses"),
};

/* KVM: what the main thread needs to build a VM. */
static const struct ioctl_rule main_ioctls[] = {
	IOC(KVM_GET_API_VERSION), IOC(KVM_CHECK_EXTENSION), IOC(KVM_CREATE_VM),
	IOC(KVM_GET_VCPU_MMAP_SIZE), IOC(KVM_GET_SUPPORTED_CPUID), IOC(KVM_GET_MSR_INDEX_LIST),
	IOC(KVM_SET_TSS_ADDR), IOC(KVM_SET_IDENTITY_MAP_ADDR), IOC(KVM_SET_USER_MEMORY_REGION),
	IOC(KVM_CREATE_IRQCHIP), IOC(KVM_CREATE_PIT2), IOC(KVM_GET_IRQCHIP), IOC(KVM_SET_IRQCHIP),
	IOC(KVM_CREATE_VCPU), IOC(KVM_SET_CPUID2), IOC(KVM_SET_MSRS), IOC(KVM_SET_FPU),
	IOC(KVM_GET_LAPIC), IOC(KVM_SET_LAPIC), IOC(KVM_GET_SREGS), IOC(KVM_SET_SREGS),
	IOC(KVM_SET_REGS), IOC(TCGETS), IOC(TCSETS),
	IOC(TUNGETIFF), /* --net fd=N, API net fds: checking that the caller's fd is a tap queue */
	IOC(TUNSETVNETHDRSZ), /* --net ...,vhost=on: the tap does the 12-byte virtio-net header */
	IOC(KVM_SIGNAL_MSI),  /* vm.nmi: an NMI to each vCPU */
};

/* The kernel's vhost (--net ...,vhost=on, --vsock ...,vhost=on), on the fds the broker opened:
 * the main thread creates the device (SET_OWNER, GET_FEATURES, SET_GUEST_CID) and serves the
 * net control queue (VQ_PAIRS_SET: NET_SET_BACKEND); a vCPU thread activates the rings when
 * its MMIO write sets DRIVER_OK, or stops them on a reset (the rest, and TUNSETOFFLOAD for the
 * offloads the driver accepted). Both roles get the whole set. */
static const struct ioctl_rule vhost_ioctls[] = {
	IOC(VHOST_SET_OWNER), IOC(VHOST_GET_FEATURES), IOC(VHOST_SET_FEATURES),
	IOC(VHOST_SET_MEM_TABLE), IOC(VHOST_SET_VRING_NUM), IOC(VHOST_SET_VRING_ADDR),
	IOC(VHOST_SET_VRING_BASE), IOC(VHOST_GET_VRING_BASE), IOC(VHOST_SET_VRING_KICK),
	IOC(VHOST_SET_VRING_CALL), IOC(VHOST_SET_VRING_ERR), IOC(VHOST_NET_SET_BACKEND),
	IOC(VHOST_VSOCK_SET_GUEST_CID), IOC(VHOST_VSOCK_SET_RUNNING), IOC(TUNSETOFFLOAD),
	IOC(TUNSETQUEUE), /* a pair the driver stops using leaves the tap's steering (and rejoins) */
};

/* KVM: what a vCPU thread needs: run, report, and the MMIO-driven interrupt plumbing. The
 * main thread (whose filter is the process-wide one, which includes this list) uses the last
 * three too: building a device, and for device hotplug removing one from a running VM
 * (KVM_IOEVENTFD and KVM_IRQFD with their DEASSIGN flags, KVM_SET_GSI_ROUTING without its
 * MSI routes); nothing new for either role. */
static const struct ioctl_rule vcpu_ioctls[] = {
	IOC(KVM_RUN), IOC(KVM_GET_REGS), IOC(KVM_GET_SREGS), IOC(KVM_IRQ_LINE),
	IOC(KVM_SET_GSI_ROUTING), IOC(KVM_IRQFD), IOC(KVM_IOEVENTFD),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int add_rules(scmp_filter_ctx ctx, const struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r[i].nr, 0);
		if (rc)
			return rc;
	}
	return 0;
}

static int add_ioctls(scmp_filter_ctx ctx, const struct ioctl_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					  SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)r[i].req));
		if (rc)
			return rc;
	}
	return 0;
}

/* Threads only: clone with CLONE_THREAD; clone3 (whose flags seccomp cannot read) answers
 * ENOSYS, so glibc falls back to clone. fcntl: flags and close-on-exec only. */
static int add_arg_rules(scmp_filter_ctx ctx, bool may_clone)
{
	int rc = 0;

	if (may_clone) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
		if (!rc)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
					      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	}
	for (int cmd = F_GETFD; !rc && cmd <= F_SETFL; cmd++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				      SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)cmd));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				      SCMP_A1(SCMP_CMP_EQ, F_DUPFD_CLOEXEC));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()),
				      SCMP_A2(SCMP_CMP_EQ, SIGUSR1));
	/* A thread names itself ("vcpu N"), and narrows its own filter (stacking only). */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				      SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(seccomp), 2,
				      SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER),
				      SCMP_A1(SCMP_CMP_EQ, 0));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2,
				      SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A2(SCMP_CMP_EQ, 0));
	return rc;
}

/* The process-wide filter: the union of what every thread needs. */
static int vmm_rules(void *scmp_ctx, const void *arg)
{
	scmp_filter_ctx ctx = scmp_ctx;
	int rc = add_rules(ctx, common_rules, N(common_rules));

	if (!rc)
		rc = add_rules(ctx, main_rules, N(main_rules));
	if (!rc)
		rc = add_ioctls(ctx, main_ioctls, N(main_ioctls));
	if (!rc)
		rc = add_ioctls(ctx, vcpu_ioctls, N(vcpu_ioctls));
	if (!rc)
		rc = add_ioctls(ctx, vhost_ioctls, N(vhost_ioctls));
	return rc ? rc : add_arg_rules(ctx, true);
}

static int vcpu_thread_rules(void *scmp_ctx, const void *arg)
{
	scmp_filter_ctx ctx = scmp_ctx;
	/* Kicking another vCPU (tgkill SIGUSR1 to this process) is in add_arg_rules. */
	int rc = add_rules(ctx, common_rules, N(common_rules));

	if (!rc)
		rc = add_ioctls(ctx, vcpu_ioctls, N(vcpu_ioctls));
	if (!rc)
		rc = add_ioctls(ctx, vhost_ioctls, N(vhost_ioctls));
	return rc ? rc : add_arg_rules(ctx, false);
}

static int api_thread_rules(void *scmp_ctx, const void *arg)
{
	scmp_filter_ctx ctx = scmp_ctx;
	int rc = add_rules(ctx, common_rules, N(common_rules));

	if (!rc)
		rc = add_rules(ctx, api_rules, N(api_rules));
	return rc ? rc : add_arg_rules(ctx, false);
}

/* The owner of the process's jail state: written once before any thread exists. */
static struct {
	bool jailed;
	enum seccomp_cli seccomp;
	bool has_identity;      /* started as root with --jail uid= or uid_range= */
	uint32_t uid, gid;
} state;

void vmm_policy_set_identity(uint32_t uid, uint32_t gid)
{
	state.has_identity = true;
	state.uid = uid;
	state.gid = gid;
}

bool vmm_policy_identity(uint32_t *uid, uint32_t *gid)
{
	*uid = state.uid;
	*gid = state.gid;
	return state.has_identity;
}

static enum jail_seccomp_mode seccomp_mode(enum seccomp_cli c)
{
	return c == SECCOMP_CLI_LOG ? JAIL_SECCOMP_LOG : JAIL_SECCOMP_KILL;
}

int vmm_jail_spec(struct jail_spec *s, const struct jail_config *jc, const int *fds, unsigned n)
{
	*s = jail_spec_default("vmm");
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0 && jail_keep_fd(s, fds[i]) < 0)
			return -E2BIG;
	for (int fd = 0; fd <= 1; fd++) /* the serial console's stdin and stdout */
		if (jail_keep_fd(s, fd) < 0)
			return -E2BIG;
	s->no_pid_ns = true;   /* Kata finds the vCPU threads under the pid it started */
	s->strict = jc->mode == JAIL_STRICT;
	if (state.has_identity) {
		s->uid = state.uid;
		s->gid = state.gid;
	}
	/* vCPU fds (up to 254), eventfds per queue and vector, API connections, memory. */
	s->nofile = 4096;
	/* RLIMIT_NPROC counts every task of the uid: vCPU threads, the API thread, and the
	 * backends when they share the uid (65534 by default). Cloning new processes is
	 * refused by seccomp anyway. */
	s->nproc = 1024;
	s->seccomp_mode = seccomp_mode(jc->seccomp);
	s->no_seccomp = jc->seccomp == SECCOMP_CLI_FALSE;
	s->rules = vmm_rules;
	return 0;
}

void vmm_policy_set_jailed(const struct jail_config *jc)
{
	state.jailed = true;
	state.seccomp = jc->seccomp;
}

int vmm_policy_thread(enum vmm_thread_role role)
{
	if (!state.jailed || state.seccomp == SECCOMP_CLI_FALSE)
		return 0;
	return jail_thread_filter(seccomp_mode(state.seccomp),
				  role == VMM_THREAD_VCPU ? vcpu_thread_rules : api_thread_rules, NULL);
}

static void print_rules(FILE *out, const char *indent, const struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, r[i].nr); /* malloc'd */

		fprintf(out, "%s%-18s %s\n", indent, name ? name : "?", r[i].why);
		free(name);
	}
}

static void print_ioctls(FILE *out, const struct ioctl_rule *r, size_t n)
{
	fprintf(out, "      ioctl, request one of:");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s", i % 4 ? " " : "\n        ", r[i].name);
	fprintf(out, "\n");
}

static void print_vmm(FILE *out, const struct jail_config *jc)
{
	bool root = geteuid() == 0;

	fprintf(out, "process cellvm (the VMM: main thread, \"vcpu N\" threads, \"api\" thread)\n");
	if (jc->mode == JAIL_OFF) {
		fprintf(out, "  NOT JAILED (--jail off)\n");
		return;
	}
	fprintf(out, "  identity: %s uid %u gid %u; every capability set empty; no_new_privs; not dumpable\n",
		root ? "setresuid/setresgid to" : "a user namespace maps the caller to",
		jc->uid_set ? jc->uid : 65534u, jc->gid_set ? jc->gid : jc->uid_set ? jc->uid : 65534u);
	if (jc->id_first)
		fprintf(out, "    (uid_range=%u-%u: the first id no running cellvm holds, for uid and gid, "
			"held by a lock in /run/cellvm/ids; the VM's backends get the same id)\n",
			jc->id_first, jc->id_last);
	fprintf(out, "  namespaces: mount (pivot_root into an empty read-only tmpfs), ipc, uts, cgroup, net;\n"
		"    no pid namespace (Kata finds the vCPU threads under the pid it started)\n");
	fprintf(out, "  rlimits: core 0, nofile 4096, nproc 1024; MDWE; Landlock: no file access%s\n",
		jc->mode == JAIL_STRICT ? " (required: strict)" : " (warn if missing)");
	fprintf(out, "  fds: stdin, stdout, stderr, /dev/kvm, the broker socket, the API socket, the log file,\n"
		"    the caller's tap queues (--net fd=); later: guest RAM memfds, VM and vCPU fds, eventfds,\n"
		"    backend sockets, tap queues sent with API requests (no host path is opened)\n");
	if (jc->seccomp == SECCOMP_CLI_FALSE) {
		fprintf(out, "  seccomp: OFF (--seccomp false)\n");
		return;
	}
	fprintf(out, "  seccomp (%s; base allowlist in sandbox/seccomp_base.c plus):\n",
		jc->seccomp == SECCOMP_CLI_LOG ? "log" : "kill the process");
	fprintf(out, "    every thread:\n");
	print_rules(out, "      ", common_rules, N(common_rules));
	fprintf(out, "      fcntl F_GETFD..F_SETFL, F_DUPFD_CLOEXEC; tgkill SIGUSR1 to itself; prlimit64 read-only\n");
	fprintf(out, "    main thread (threads inherit it, then narrow it):\n");
	print_rules(out, "      ", main_rules, N(main_rules));
	fprintf(out, "      clone with CLONE_THREAD only (clone3: ENOSYS)\n");
	print_ioctls(out, main_ioctls, N(main_ioctls));
	fprintf(out, "    main and vcpu N threads: the kernel's vhost (activation runs on a vCPU thread)\n");
	print_ioctls(out, vhost_ioctls, N(vhost_ioctls));
	fprintf(out, "    vcpu N threads: every-thread rules plus\n");
	print_ioctls(out, vcpu_ioctls, N(vcpu_ioctls));
	fprintf(out, "    api thread: every-thread rules plus\n");
	print_rules(out, "      ", api_rules, N(api_rules));
}

/* What the sealed broker still serves for devices hot-added through the API. */
static void print_hotplug(FILE *out, const struct vm_config *cfg)
{
	if (!cfg->api_socket || cfg->jail.hotplug_off || cfg->jail.mode == JAIL_STRICT) {
		fprintf(out, "  hotplug: off (%s): sealed means sealed\n", !cfg->api_socket ? "no --api-socket" :
			cfg->jail.hotplug_off ? "--jail hotplug=off" : "--jail strict");
		return;
	}
	fprintf(out, "  hotplug: after the seal also device adds: the fixed backends with exactly their options,\n"
		"    disks and sockets resolved under %s, new taps only, the vhost devices\n",
		cfg->jail.hotplug_dir[0] ? cfg->jail.hotplug_dir : "(no --jail hotplug-dir=: no path)");
}

static void print_id(FILE *out, const struct jail_config *jc)
{
	if (jc->uid_set || jc->id_first)
		fprintf(out, "  identity: the VM's (see the VMM above), passed as --uid/--gid\n");
}

static void print_net_vsock(FILE *out, const struct vm_config *cfg)
{
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		const struct net_config *n = &cfg->nets[i];

		if (n->vhost_user) {
			fprintf(out, "process (external) vhost-user-net backend at %s: not started by cellvm\n",
				n->socket);
			continue;
		}
		if (n->vhost) {
			fprintf(out, "no process for %s%s: the kernel's vhost-net (the broker opens\n"
				"  /dev/vhost-net; the VMM holds it and the tap queues)\n",
				n->tap ? "tap " : "caller's tap fds", n->tap ? n->tap : "");
			continue;
		}
		fprintf(out, "process cellvm-net for %s%s: jailed by itself, policy in devices/net/policy.c\n"
			"  (pid namespace with a waiter, empty root, its own empty net namespace, uid 65534,\n"
			"   no caps; holds only the tap queue fds, which the broker opened; read/write on\n"
			"   them and TUNSETOFFLOAD, no socket())\n", n->tap ? "tap " : "caller's tap fds",
			n->tap ? n->tap : "");
		print_id(out, &cfg->jail);
	}
	if (cfg->vsock.enabled && cfg->vsock.vhost) {
		fprintf(out, "no process for vsock cid %llu: the kernel's vhost-vsock (the broker opens\n"
			"  /dev/vhost-vsock)\n", (unsigned long long)cfg->vsock.cid);
	} else if (cfg->vsock.enabled) {
		fprintf(out, "process cellvm-vsock for %s: jailed by itself, policy in devices/vsock/policy.c\n"
			"  (pid namespace with a waiter, empty root but the socket's directory at /bind,\n"
			"   empty net namespace, uid 65534, no caps; socket() AF_UNIX stream only)\n",
			cfg->vsock.socket);
		print_id(out, &cfg->jail);
	}
}

static void print_devices(FILE *out, const struct vm_config *cfg)
{
	print_net_vsock(out, cfg);
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];

		if (d->vhost_user)
			fprintf(out, "process (external) vhost-user backend at %s: not started by cellvm\n",
				d->socket);
		else
			fprintf(out, "process cellvm-blk for %s: jailed by itself, policy in devices/blk/policy.c\n"
				"  (pid namespace with a waiter, empty root, net namespace, uid 65534, no caps,\n"
				"   seccomp per fd; the disk fd and io_uring are opened before the jail)\n",
				d->path);
		if (!d->vhost_user)
			print_id(out, &cfg->jail);
	}
}

void vmm_policy_print(FILE *out, const struct vm_config *cfg)
{
	print_vmm(out, &cfg->jail);
	if (cfg->jail.mode != JAIL_OFF)
		fprintf(out, "process cellvm-broker (started before the jail; holds no KVM fd and no guest memory):\n"
			"  opens boot files read-only, creates the serial file, connects vhost-user sockets,\n"
			"  opens taps and /dev/vhost-net, /dev/vhost-vsock (only those), and starts the backends\n"
			"  named in the configuration; once the guest runs it serves only\n"
			"  repeats of those requests (docs/sandbox.md)\n");
	if (cfg->jail.mode != JAIL_OFF)
		print_hotplug(out, cfg);
	print_devices(out, cfg);
}
