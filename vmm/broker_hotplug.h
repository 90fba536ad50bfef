/* broker_hotplug.h: what the sealed broker still serves for a device added to a running VM. */
#ifndef CELLVM_BROKER_HOTPLUG_H
#define CELLVM_BROKER_HOTPLUG_H

#include <limits.h>
#include <stdbool.h>

/*
 * Set once, before the seal, by a VMM started with --api-socket (the API is the only source of
 * hotplug) unless --jail hotplug=off or strict. After the seal the broker serves, beyond
 * repeats, only what adding a device needs, each request checked here and logged:
 *   spawn    one of the fixed backends with exactly its known options (no other argument);
 *            --uid/--gid only the VM's; cellvm-blk's --path a regular file or block device
 *            and cellvm-vsock's --uds-path a socket to be, both resolved (symlinks, "..")
 *            under dir; the backend gets the resolved path
 *   connect  a socket resolved under dir (an external vhost-user backend)
 *   open-tap a tap that does not exist yet (IFF_TUN_EXCL): never another VM's
 *   open-device the fixed vhost list, as before the seal
 * Never: open or create of any other file, a second policy, anything else.
 */
struct hp_policy {
	bool on;
	char dir[PATH_MAX];     /* resolved; "" = no path is allowed after the seal */
	bool has_id;
	char uid[16], gid[16];  /* the VM's identity, as the backends get it (--uid/--gid) */
};

/* From OP_HOTPLUG: dir (may be ""), then argv = { uid, gid } or none. 0 or -errno. */
int hp_policy_set(struct hp_policy *p, const char *dir, const char *const *argv, unsigned argc);
/* A spawn after the seal: 0 (argv's path values now point at resolved copies in bufs, two
 * PATH_MAX buffers) or -EPERM with a log line saying why. */
int hp_check_spawn(const struct hp_policy *p, const char *binary, const char **argv, char *bufs);
/* A connect after the seal: 0 with the resolved path in canon (PATH_MAX), or -EPERM. */
int hp_check_connect(const struct hp_policy *p, const char *path, char *canon);

#endif
