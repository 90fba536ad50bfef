/* main.c: cellvm's entry point: parse the command line, build the VM, run it, map the outcome to an exit code. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "../sandbox/jail.h"
#include "audit.h"
#include "broker.h"
#include "cgroup.h"
#include "ids.h"
#include "config.h"
#include "exit_codes.h"
#include "kvm.h"
#include "log.h"
#include "policy.h"
#include "selftest.h"
#include "vmm.h"

static FILE *open_log(const struct vm_config *cfg)
{
	FILE *f;

	if (!cfg->log_file)
		return NULL;
	f = fopen(cfg->log_file, "ae");
	if (!f)
		fprintf(stderr, "cellvm: --log-file %s: %s\n", cfg->log_file, strerror(errno));
	return f;
}

/* --kernel on the command line is vm.create followed by vm.boot. */
static int create_and_boot(struct vmm *vmm, const struct vm_config *cfg)
{
	char err[512] = "";
	int status = 0;

	if (!cfg->kernel)
		return 0;
	if (vmm_vm_create(vmm, cfg, NULL, NULL) == 0 &&
	    vmm_vm_boot(vmm, &status, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return status;
	}
	return 0;
}

/* The VM's cgroup (cellvm/<name>): a missing cgroup file system or no write access is a
 * warning (running without that layer), or an error with --jail strict. */
static void cgroup_name(const struct jail_config *jc, char *name, size_t len)
{
	snprintf(name, len, "%s", jc->cgroup);
	if (!name[0])
		snprintf(name, len, "vm-%d", (int)getpid());
}

static struct cgroup_limits cgroup_limits_of(const struct jail_config *jc)
{
	return (struct cgroup_limits){ jc->memory_max, jc->pids_max ?: 4096, jc->cpu_pct };
}

/* After the jail: the broker's answer to the cgroup request sent before it. */
static int joined_cgroup(const struct jail_config *jc, char *err, size_t errlen)
{
	struct cgroup_limits lim = cgroup_limits_of(jc);
	char name[80];
	int rc = broker_cgroup_result();

	cgroup_name(jc, name, sizeof(name));
	if (rc == 0) {
		log_info("jail: cgroup cellvm/%s (memory_max %llu, pids_max %llu, cpu_max %llu%%)", name,
			 (unsigned long long)lim.memory_max, (unsigned long long)lim.pids_max,
			 (unsigned long long)lim.cpu_pct);
		return 0;
	}
	if (rc == -EEXIST) {
		snprintf(err, errlen, "jail: cgroup cellvm/%s already exists (another VM's name?)", name);
		return EXIT_JAIL;
	}
	if (jc->mode == JAIL_STRICT) {
		snprintf(err, errlen, "jail: cgroups: %s (--jail strict refuses to run without them)",
			 strerror(-rc));
		return EXIT_JAIL;
	}
	log_warn("jail: cgroups: %s; running without that layer", strerror(-rc));
	return 0;
}

/* Hotplug needs the broker after the seal: only with the API (its only source), not with
 * --jail hotplug=off or strict (docs/sandbox.md, "Hotplug after the seal"). */
static bool hotplug_on(const struct vm_config *cfg)
{
	return cfg->api_socket && !cfg->jail.hotplug_off && cfg->jail.mode != JAIL_STRICT;
}

static int allow_hotplug(const struct vm_config *cfg, char *err, size_t errlen)
{
	uint32_t uid = 0, gid = 0;
	bool has_id = vmm_policy_identity(&uid, &gid);
	int rc;

	if (!hotplug_on(cfg))
		return 0;
	rc = broker_allow_hotplug(cfg->jail.hotplug_dir, has_id, uid, gid);
	if (rc == 0)
		return 0;
	snprintf(err, errlen, "--jail hotplug-dir=%s: %s", cfg->jail.hotplug_dir, strerror(-rc));
	return rc == -ENOENT || rc == -ENOTDIR ? EXIT_USAGE : EXIT_JAIL;
}

/* Before the jail: the broker (while the process is single-threaded and holds nothing),
 * /dev/kvm, and the API socket, which the jailed VMM could not open or bind. */
static int prepare_jail(const struct vm_config *cfg, struct api_server *api, char *err,
			size_t errlen)
{
	struct cgroup_limits lim;
	char name[80];
	int rc;

	if (broker_start(err, errlen) < 0)
		return EXIT_JAIL;
	rc = kvm_preopen("/dev/kvm");
	if (rc < 0) {
		snprintf(err, errlen, "/dev/kvm: %s", strerror(-rc));
		return EXIT_NO_KVM;
	}
	if (api && api_server_path(api)) {
		if (broker_unlink_at_exit(api_server_path(api)) < 0) {
			snprintf(err, errlen, "broker: cannot register the API socket for removal");
			return EXIT_JAIL;
		}
		api_server_leave_path(api);
	}
	if ((rc = allow_hotplug(cfg, err, errlen)))
		return rc;
	/* The broker makes the VM's cgroup while we jail ourselves (the answer: after). */
	cgroup_name(&cfg->jail, name, sizeof(name));
	lim = cgroup_limits_of(&cfg->jail);
	if (broker_cgroup_start(name, &lim) < 0) {
		snprintf(err, errlen, "broker: cannot ask for the VM's cgroup");
		return EXIT_JAIL;
	}
	return 0;
}

/* Started as root: the VM's uid/gid, given (--jail uid=,gid=) or claimed from uid_range
 * (the lock fd, kept open for the VM's life, is returned in *lock_fd). */
static int choose_identity(const struct jail_config *jc, int *lock_fd, char *err, size_t errlen)
{
	uint32_t id;

	*lock_fd = -1;
	if (geteuid() != 0)
		return 0; /* a user namespace maps the caller instead */
	if (jc->uid_set || jc->gid_set) {
		vmm_policy_set_identity(jc->uid_set ? jc->uid : 65534u,
					jc->gid_set ? jc->gid : jc->uid_set ? jc->uid : 65534u);
		return 0;
	}
	if (!jc->id_first)
		return 0;
	*lock_fd = ids_claim(jc->id_first, jc->id_last, &id);
	if (*lock_fd < 0) {
		snprintf(err, errlen, "jail: uid_range=%u-%u: %s", jc->id_first, jc->id_last,
			 *lock_fd == -EBUSY ? "every id is taken by a running VM" : strerror(-*lock_fd));
		return EXIT_JAIL;
	}
	vmm_policy_set_identity(id, id);
	log_info("jail: this VM's id is %u (from uid_range)", id);
	return 0;
}

static int enter_jail(const struct vm_config *cfg, struct api_server *api, FILE *logf,
		      char *err, size_t errlen)
{
	struct jail_spec spec;
	struct jail_result r;
	int fds[JAIL_MAX_FDS], n = 0, lock_fd, rc = choose_identity(&cfg->jail, &lock_fd, err, errlen);

	if (!rc)
		rc = prepare_jail(cfg, api, err, errlen);
	if (rc)
		return rc;
	if (lock_fd >= 0)
		fds[n++] = lock_fd; /* the id is ours while this fd is open: until we exit */
	fds[n++] = broker_fd();
	fds[n++] = kvm_preopen_fd();
	if (logf)
		fds[n++] = fileno(logf);
	if (api)
		n += api_server_fds(api, fds + n);
	/* --net fd=N: tap queues the caller opened, handed to cellvm-net at boot */
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		for (unsigned int q = 0; q < cfg->nets[i].nr_fds && n < JAIL_MAX_FDS - 3; q++)
			fds[n++] = cfg->nets[i].fds[q];
	if (vmm_jail_spec(&spec, &cfg->jail, fds, (unsigned)n) < 0) {
		snprintf(err, errlen, "jail: too many fds to keep");
		return EXIT_JAIL;
	}
	rc = jail_enter(&spec, &r);
	if (rc < 0) {
		snprintf(err, errlen, "jail: %s: %s (refusing to run half-jailed)", r.step ?: "?",
			 strerror(-rc));
		return EXIT_JAIL;
	}
	if (r.no_landlock)
		log_warn("jail: this kernel has no Landlock; running without that layer");
	if (r.no_userns)
		log_warn("jail: no user namespace for an unprivileged start; running without the "
			 "namespaces and the empty root");
	if ((rc = joined_cgroup(&cfg->jail, err, errlen)))
		return rc;
	vmm_policy_set_jailed(&cfg->jail);
	log_info("jail: entered (uid %u, seccomp %s)", (unsigned)getuid(),
		 cfg->jail.seccomp == SECCOMP_CLI_FALSE ? "off" :
		 cfg->jail.seccomp == SECCOMP_CLI_LOG ? "log" : "kill");
	return 0;
}

static int start_vmm(struct vmm *vmm, const struct vm_config *cfg, struct api_server **api,
		     FILE *logf, char *err, size_t errlen)
{
	int rc;

	if (cfg->api_socket && !(*api = api_server_open(vmm, cfg->api_socket, err, errlen)))
		return EXIT_USAGE;
	/* glibc sizes its malloc arenas by reading /sys on the first contended allocation;
	 * in the jail that open() is a seccomp kill, so fix the limit now. */
	mallopt(M_ARENA_MAX, 8);
	if (cfg->jail.mode != JAIL_OFF && (rc = enter_jail(cfg, *api, logf, err, errlen)))
		return rc;
	if (vmm_init(vmm, err, errlen) < 0)
		return EXIT_VMM_ERROR;
	vmm->hotplug_off = !hotplug_on(cfg) && cfg->jail.mode != JAIL_OFF;
	vmm->hotplug_surprise = cfg->hotplug_surprise;
	vmm->hotplug_dir = cfg->jail.hotplug_dir[0] ? cfg->jail.hotplug_dir : NULL;
	if (*api && api_server_run(*api, vmm, err, errlen) < 0)
		return EXIT_VMM_ERROR;
	return 0;
}

static int run_vmm(const struct vm_config *cfg, FILE *logf)
{
	pid_t parent = getppid(); /* before the jail, which does not allow asking */
	struct api_server *api = NULL;
	struct vmm vmm = { .signal_fd = -1, .call_fd = -1 }; /* safe to destroy before vmm_init */
	char err[512] = "";
	int status = start_vmm(&vmm, cfg, &api, logf, err, sizeof(err));

	if (status)
		log_error("%s", err);
	else if (cfg->jail.selftest)
		status = vmm_selftest_run(cfg->jail.selftest, parent);
	else if ((status = create_and_boot(&vmm, cfg)) == 0)
		status = vmm_run(&vmm);
	vmm_stop_calls(&vmm);
	api_server_stop(api);
	vmm_destroy(&vmm);
	broker_stop();
	kvm_preopen_close();
	return status;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	char err[512] = "";
	struct fd_audit fds;
	FILE *logf;
	int action, status;

	action = config_parse_args(&cfg, argc, argv, err, sizeof(err));
	if (action == CONFIG_RUN && cfg.jail.selftest && !vmm_selftest_known(cfg.jail.selftest)) {
		snprintf(err, sizeof(err), "--jail-selftest: unknown act '%s'", cfg.jail.selftest);
		action = -1;
	}
	if (action < 0 || (action == CONFIG_RUN && config_validate(&cfg, err, sizeof(err)) < 0)) {
		fprintf(stderr, "cellvm: %s\n", err);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	if (action == CONFIG_HELP || action == CONFIG_VERSION) {
		if (action == CONFIG_HELP)
			config_print_help(argv[0]);
		else
			printf("cellvm %s\n", CELLVM_VERSION);
		config_free(&cfg);
		return 0;
	}
	logf = open_log(&cfg);
	if (cfg.log_file && !logf) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	log_init("cellvm", (enum log_level)(LOG_WARN + (cfg.verbosity > 2 ? 2 : cfg.verbosity)), logf);
	audit_snapshot(&fds);
	if (cfg.jail.print) {
		vmm_policy_print(stdout, &cfg);
		status = 0;
	} else {
		status = run_vmm(&cfg, logf);
	}
	/* (a self-test's act may leave fds behind on purpose) */
	if (!cfg.jail.selftest && audit_check(&fds, cfg.jail.mode != JAIL_OFF) > 0 && status == 0)
		status = EXIT_VMM_ERROR;
	if (logf)
		fclose(logf);
	config_free(&cfg);
	return status;
}
