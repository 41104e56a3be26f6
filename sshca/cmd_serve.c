/* sshca serve: run the CA daemon (ca/serve.c) in the foreground, or
 * detached with a pid file. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "caconf.h"
#include "serve.h"
#include "sshca.h"

static int cmd_serve(const struct sshca_cmd *self, int argc, char **argv);

const struct sshca_cmd sshca_cmd_serve = {"serve", cmd_serve,
    "[-f CACONF] [--daemon] [--pid-file FILE] [--pam-service NAME]",
    "run the CA daemon: requests, approvals, issuance, revocation, the KRL",
    "  -f, --config CACONF    the CA configuration (default\n"
    "                         " CACONF_DEFAULT_PATH ")\n"
    "  -d, --daemon           detach into the background once ready (the\n"
    "                         command exits 0 then, 1 when startup fails)\n"
    "  -p, --pid-file FILE    write the daemon's pid here, locked (default\n"
    "                         " SERVE_DEFAULT_PID_FILE " with --daemon)\n"
    "      --pam-service NAME the PAM service of POST /v1/login (default\n"
    "                         sshca; for tests with a private service file)\n"
    "Signals: SIGHUP reloads the policy (a broken one keeps the old);\n"
    "SIGTERM or SIGINT finish requests in flight and exit 0.\n"};

static int
cmd_serve(const struct sshca_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'f'},
	    {"daemon", no_argument, NULL, 'd'},
	    {"pid-file", required_argument, NULL, 'p'},
	    {"pam-service", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct serve_opts o;
	const char *config = NULL;
	int c, r;

	memset(&o, 0, sizeof(o));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":f:dp:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if ((r = sshca_opt_once(self, &config, "-f", optarg)) != SSHCA_EXIT_OK)
				return r;
			break;
		case 'd': o.daemonize = 1; break;
		case 'p':
			if ((r = sshca_opt_once(self, &o.pid_file, "--pid-file", optarg)) !=
			    SSHCA_EXIT_OK)
				return r;
			break;
		case 'P':
			if ((r = sshca_opt_once(self, &o.pam_service, "--pam-service", optarg)) !=
			    SSHCA_EXIT_OK)
				return r;
			/* A file name under /etc/pam.d, nothing that walks out of it. */
			if (optarg[0] == '\0' || optarg[0] == '.' ||
			    strspn(optarg,
			        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			        "0123456789._-") != strlen(optarg))
				return sshca_usage_error(
				    self, "--pam-service: '%s' is not a PAM service name", optarg);
			break;
		case 'h': return sshca_help(self);
		default: return sshca_bad_option(self, c, argv);
		}
	}
	if (optind < argc)
		return sshca_usage_error(self, "unexpected argument '%s'", argv[optind]);
	return serve_run(config != NULL ? config : CACONF_DEFAULT_PATH, &o) == 0 ? SSHCA_EXIT_OK
	                                                                         : SSHCA_EXIT_FAIL;
}
