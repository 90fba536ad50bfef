/* main.c: cellvm's entry point: parse the command line, build the VM, run it, map the outcome to an exit code. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "audit.h"
#include "config.h"
#include "exit_codes.h"
#include "log.h"
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

static int run_vmm(const struct vm_config *cfg)
{
	struct api_server *api = NULL;
	struct vmm vmm;
	char err[512] = "";
	int status;

	if (vmm_init(&vmm, err, sizeof(err)) < 0) {
		log_error("%s", err);
		status = EXIT_VMM_ERROR;
	} else if (cfg->api_socket && !(api = api_server_start(&vmm, cfg->api_socket, err,
								sizeof(err)))) {
		log_error("%s", err);
		status = EXIT_USAGE;
	} else if ((status = create_and_boot(&vmm, cfg)) == 0) {
		status = vmm_run(&vmm);
	}
	vmm_stop_calls(&vmm);
	api_server_stop(api);
	vmm_destroy(&vmm);
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
	status = run_vmm(&cfg);
	if (audit_check(&fds) > 0 && status == 0)
		status = EXIT_VMM_ERROR;
	if (logf)
		fclose(logf);
	config_free(&cfg);
	return status;
}
