/* broker_hotplug.c: the sealed broker's checks on spawns and connects for devices hot-added through the API. */
#define _GNU_SOURCE
#include "broker_hotplug.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

enum arg_kind { A_FLAG, A_VALUE, A_UID, A_GID, A_DISK, A_NEW_SOCKET };

struct arg_rule {
	const char *name;
	enum arg_kind kind;
};

struct binary_rules {
	const char *binary;
	struct arg_rule args[10];
};

/* Exactly what disk.c, net.c and vsock.c pass (backend.c adds --socket-fd, --uid, --gid). */
static const struct binary_rules rules[] = {
	{ "cellvm-blk", { { "--socket-fd", A_VALUE }, { "--uid", A_UID }, { "--gid", A_GID },
			  { "--path", A_DISK }, { "--num-queues", A_VALUE }, { "--readonly", A_FLAG },
			  { "--direct", A_FLAG }, { "--serial", A_VALUE }, { "--verbose", A_FLAG } } },
	{ "cellvm-net", { { "--socket-fd", A_VALUE }, { "--uid", A_UID }, { "--gid", A_GID },
			  { "--tap-fd", A_VALUE }, { "--num-queues", A_VALUE }, { "--mac", A_VALUE },
			  { "--verbose", A_FLAG } } },
	{ "cellvm-vsock", { { "--socket-fd", A_VALUE }, { "--uid", A_UID }, { "--gid", A_GID },
			    { "--cid", A_VALUE }, { "--uds-path", A_NEW_SOCKET }, { "--verbose", A_FLAG } } },
};

int hp_policy_set(struct hp_policy *p, const char *dir, const char *const *argv, unsigned argc)
{
	*p = (struct hp_policy){ 0 };
	if (dir[0] && !realpath(dir, p->dir))
		return -errno;
	if (argc == 2 && strlen(argv[0]) < sizeof(p->uid) && strlen(argv[1]) < sizeof(p->gid)) {
		p->has_id = true;
		snprintf(p->uid, sizeof(p->uid), "%s", argv[0]);
		snprintf(p->gid, sizeof(p->gid), "%s", argv[1]);
	} else if (argc) {
		return -EINVAL;
	}
	p->on = true;
	log_info("hotplug: after the seal the broker serves device adds (paths under %s)",
		 p->dir[0] ? p->dir : "nothing: no --jail hotplug-dir=");
	return 0;
}

static bool under_dir(const struct hp_policy *p, const char *canon)
{
	size_t n = strlen(p->dir);

	return n && !strncmp(canon, p->dir, n) && (canon[n] == '/' || (n == 1 && canon[1]));
}

static int refuse(const char *what, const char *value, const char *why)
{
	log_error("refused hotplug %s %s: %s", what, value, why);
	return -EPERM;
}

/* A disk: resolved under dir, a regular file or a block device. */
static int check_disk(const struct hp_policy *p, const char *path, char *canon)
{
	struct stat st;

	if (!realpath(path, canon))
		return refuse("disk", path, strerror(errno));
	if (!under_dir(p, canon))
		return refuse("disk", canon, "not under --jail hotplug-dir=");
	if (stat(canon, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		return refuse("disk", canon, "not a regular file or block device");
	return 0;
}

/* A socket the backend creates: its directory resolved under dir, a plain last name. */
static int check_new_socket(const struct hp_policy *p, const char *path, char *canon)
{
	char dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	const char *name = basename(base);
	if (!name[0] || !strcmp(name, ".") || !strcmp(name, "..") || !realpath(dirname(dir), real))
		return refuse("socket", path, "not a usable path");
	if (snprintf(canon, PATH_MAX, "%s/%s", real, name) >= PATH_MAX)
		return refuse("socket", path, "too long");
	if (!under_dir(p, canon))
		return refuse("socket", canon, "not under --jail hotplug-dir=");
	return 0;
}

static int check_value(const struct hp_policy *p, enum arg_kind k, const char **val, char *buf)
{
	int rc = 0;

	if (k == A_UID || k == A_GID) {
		if (!p->has_id || strcmp(*val, k == A_UID ? p->uid : p->gid))
			return refuse("identity", *val, "not the VM's");
	} else if (k == A_DISK) {
		rc = check_disk(p, *val, buf);
	} else if (k == A_NEW_SOCKET) {
		rc = check_new_socket(p, *val, buf);
	}
	if (rc == 0 && (k == A_DISK || k == A_NEW_SOCKET))
		*val = buf;
	return rc;
}

static const struct arg_rule *find_rule(const struct binary_rules *b, const char *arg)
{
	for (size_t i = 0; i < sizeof(b->args) / sizeof(b->args[0]) && b->args[i].name; i++)
		if (!strcmp(b->args[i].name, arg))
			return &b->args[i];
	return NULL;
}

int hp_check_spawn(const struct hp_policy *p, const char *binary, const char **argv, char *bufs)
{
	const struct binary_rules *b = NULL;
	unsigned int npaths = 0;

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (!strcmp(rules[i].binary, binary))
			b = &rules[i];
	if (!b)
		return refuse("spawn", binary, "not a backend");
	for (unsigned int i = 0; argv[i]; i++) {
		const struct arg_rule *r = find_rule(b, argv[i]);

		if (!r) /* also --path=X and abbreviations, which getopt_long would take */
			return refuse("spawn argument", argv[i], "not one cellvm passes");
		if (r->kind == A_FLAG)
			continue;
		if (!argv[++i])
			return refuse("spawn argument", r->name, "without its value");
		if (npaths == 2 && (r->kind == A_DISK || r->kind == A_NEW_SOCKET))
			return refuse("spawn argument", r->name, "given too often");
		if (check_value(p, r->kind, &argv[i], bufs + PATH_MAX * npaths) < 0)
			return -EPERM;
		npaths += r->kind == A_DISK || r->kind == A_NEW_SOCKET;
	}
	log_warn("hotplug: spawn %s (a device added to the running VM)", binary);
	return 0;
}

int hp_check_connect(const struct hp_policy *p, const char *path, char *canon)
{
	struct stat st;

	if (!realpath(path, canon))
		return refuse("connect", path, strerror(errno));
	if (!under_dir(p, canon))
		return refuse("connect", canon, "not under --jail hotplug-dir=");
	if (stat(canon, &st) < 0 || !S_ISSOCK(st.st_mode))
		return refuse("connect", canon, "not a socket");
	log_warn("hotplug: connect %s (a device added to the running VM)", canon);
	return 0;
}
