/* broker.h: the VMM's one unjailed helper: opens host paths and starts device backends on request. */
#ifndef CELLVM_BROKER_H
#define CELLVM_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define BROKER_MAX_ARGS 32
#define BROKER_MAX_FDS  9

/*
 * The jailed VMM cannot open a host path by name. Before it jails itself, cellvm forks the
 * broker: a process that holds no KVM fd and no guest memory, and answers requests
 * over a SOCK_SEQPACKET pair: open a boot file read-only, create a serial log file, connect
 * to a vhost-user socket, open a tap or a kernel vhost device, start a device backend (cellvm-blk, ...) from a fixed list.
 * Backends are started with CLONE_PARENT, so they are the VMM's children (it reaps them).
 * broker_seal() is sent before the first vCPU runs: from then on the broker serves only
 * requests identical to ones it served before (a reboot reloads the same kernel and
 * restarts the same backends), so a VMM taken over by its guest gains nothing from it.
 * Without a broker (--jail off) each call does the same work in-process.
 *
 * The connection is owned by broker.c: set once by broker_start() before any thread
 * exists, used under a lock.
 */
int broker_start(char *err, size_t errlen) __attribute__((warn_unused_result));
void broker_stop(void);
bool broker_running(void);
/* Returns the broker's socket (for the jail's keep list), or -1. */
int broker_fd(void);

/* Each returns an fd (close-on-exec) or -errno. */
int broker_open_read(const char *path);
int broker_open_log(const char *path);   /* O_WRONLY|O_CREAT|O_TRUNC, 0600 */
int broker_connect(const char *path);
/* A device node from a fixed list (/dev/vhost-net, /dev/vhost-vsock), read-write; -EPERM for
 * any other path. */
int broker_open_dev(const char *path);
/* queues fds of tap `name` (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, multi-queue for several; made if
 * missing) in fds[]. Returns queues or -errno. */
int broker_open_tap(const char *name, unsigned queues, int *fds);
/* Starts binary (a name from the fixed list) with argv[1..] = args; fds become 3, 4, ...
 * Returns the pid, or -errno (with a log line). */
pid_t broker_spawn(const char *binary, const char *const *args, const int *fds, unsigned nfds);
/* Asks for the VM's cgroup (cellvm/<name>) with these limits, the VMM moved into it;
 * backends started later get child groups. Before the seal only. The broker works on it
 * while the VMM jails itself: broker_cgroup_result() waits for its answer (0 or -errno). */
struct cgroup_limits;
int broker_cgroup_start(const char *name, const struct cgroup_limits *lim);
int broker_cgroup_result(void);
/* SIGKILL to a backend the broker started (the jailed VMM may not signal it itself). */
int broker_kill(pid_t pid);
/* Removes path (a socket) once the VMM has exited: the jailed VMM cannot unlink. */
int broker_unlink_at_exit(const char *path);
/* Before the seal, once: after it the broker also serves device adds (broker_hotplug.h): spawns
 * of the fixed backends whose paths lie under dir (NULL or "": no path), connects under dir,
 * new taps, the vhost devices; uid/gid: the VM's identity the backends must get (has_id).
 * 0 or -errno (-ENOENT: dir does not exist). */
int broker_allow_hotplug(const char *dir, bool has_id, uint32_t uid, uint32_t gid);
/* The guest is about to run: only repeats of earlier requests are served from now on. */
void broker_seal(void);

#endif
