/* sshca init and sshca pubkey: make the CA key pair, and print the CA
 * public key line that hosts put in TrustedUserCAKeys. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "key.h"
#include "sshca.h"

#define COMMENT_MAX 256

static int cmd_init(const struct sshca_cmd *self, int argc, char **argv);
static int cmd_pubkey(const struct sshca_cmd *self, int argc, char **argv);

const struct sshca_cmd sshca_cmd_init = {"init", cmd_init,
    "--key FILE [--type TYPE] [--bits N] [--comment TEXT]",
    "make a new CA key pair: FILE (PKCS#8, mode 0600) and FILE.pub",
    "  -k, --key FILE         private key to create; FILE.pub gets the public key\n"
    "  -t, --type TYPE        ed25519 (default), ecdsa, ecdsa-p384, ecdsa-p521, rsa\n"
    "  -b, --bits N           RSA modulus size (2048 to 16384, default 3072)\n"
    "  -C, --comment TEXT     comment in FILE.pub (default ephssh-ca@HOST)\n"};

const struct sshca_cmd sshca_cmd_pubkey = {"pubkey", cmd_pubkey, "--key FILE [--comment TEXT]",
    "print the CA public key line for sshd's TrustedUserCAKeys",
    "  -k, --key FILE         CA private key (or its .pub file)\n"
    "  -C, --comment TEXT     comment to print (default: the one in FILE.pub)\n"};

/* A comment ends up on one line of a .pub file: no control bytes. */
static int
comment_ok(const char *s)
{
	const unsigned char *p;

	if (strlen(s) > COMMENT_MAX)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	}
	return 1;
}

/* Fails when path exists (or cannot be checked), so nothing is made. */
static int
refuse_existing(const struct sshca_cmd *self, const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return sshca_fail(self, "%s already exists; refusing to overwrite it", path);
	if (errno != ENOENT)
		return sshca_fail(self, "%s: %s", path, strerror(errno));
	return SSHCA_EXIT_OK;
}

static int
cmd_init(const struct sshca_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"type", required_argument, NULL, 't'},
	    {"bits", required_argument, NULL, 'b'},
	    {"comment", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL, *type_str = "ed25519";
	char *comment = NULL, *pub_path = NULL, *line = NULL, *fp = NULL;
	char *text = NULL, host[256];
	struct key *k = NULL;
	enum key_type type;
	uint64_t bits = 0;
	int c, r, ret = SSHCA_EXIT_USAGE, wrote_private = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:t:b:C:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': path = optarg; break;
		case 't': type_str = optarg; break;
		case 'b':
			if (sshca_opt_u64(self, "--bits", optarg, KEY_RSA_MIN_GEN_BITS,
			        KEY_RSA_MAX_BITS, &bits) != 0)
				goto out;
			break;
		case 'C':
			free(comment);
			if ((comment = strdup(optarg)) == NULL) {
				ret = sshca_fail(self, "out of memory");
				goto out;
			}
			break;
		case 'h': ret = sshca_help(self); goto out;
		default: ret = sshca_bad_option(self, c, argv); goto out;
		}
	}
	if (optind < argc) {
		ret = sshca_usage_error(self, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (path == NULL) {
		ret = sshca_usage_error(self, "--key FILE is required");
		goto out;
	}
	if ((type = key_type_from_string(type_str)) == KEY_UNSPEC) {
		ret = sshca_usage_error(self,
		    "--type: unknown key type '%s' (ed25519, ecdsa, ecdsa-p384, ecdsa-p521, rsa)",
		    type_str);
		goto out;
	}
	if (bits != 0 && type != KEY_RSA) {
		ret = sshca_usage_error(self, "--bits applies only to --type rsa");
		goto out;
	}
	if (comment == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		if (asprintf(&comment, "ephssh-ca@%s", host) == -1) {
			comment = NULL;
			ret = sshca_fail(self, "out of memory");
			goto out;
		}
	}
	if (!comment_ok(comment)) {
		ret = sshca_usage_error(
		    self, "--comment: control characters or more than %d bytes", COMMENT_MAX);
		goto out;
	}

	ret = SSHCA_EXIT_FAIL;
	if (asprintf(&pub_path, "%s.pub", path) == -1) {
		pub_path = NULL;
		sshca_fail(self, "out of memory");
		goto out;
	}
	/* Check both names first: a slow RSA generation should not end in
	 * "exists", and a private key must not be left without its .pub. */
	if (refuse_existing(self, path) != 0 || refuse_existing(self, pub_path) != 0)
		goto out;
	if ((r = key_generate(type, (unsigned)bits, &k)) != EPH_OK) {
		sshca_fail(self, "generating %s key: %s", type_str, sshca_strerror(r));
		goto out;
	}
	if ((r = key_save_private(k, path)) != EPH_OK) {
		if (r == EPH_ERR_EXISTS)
			sshca_fail(self, "%s already exists; refusing to overwrite it", path);
		else
			sshca_fail(self, "writing private key %s: %s", path, sshca_strerror(r));
		goto out;
	}
	wrote_private = 1;
	if ((r = key_format_public_line(k, comment, &line)) != EPH_OK) {
		sshca_fail(self, "formatting public key: %s", sshca_strerror(r));
		goto out;
	}
	if (asprintf(&text, "%s\n", line) == -1) {
		text = NULL;
		sshca_fail(self, "out of memory");
		goto out;
	}
	if ((r = file_write_atomic(pub_path, text, strlen(text), 0644, FILE_NO_REPLACE)) !=
	    EPH_OK) {
		sshca_fail(self, "writing public key %s: %s", pub_path,
		    r == EPH_ERR_EXISTS ? "file already exists" : sshca_strerror(r));
		goto out;
	}
	if ((r = key_fingerprint(k, &fp)) != EPH_OK) {
		sshca_fail(self, "fingerprint: %s", sshca_strerror(r));
		goto out;
	}
	printf("CA private key saved in %s\n", path);
	printf("CA public key saved in %s\n", pub_path);
	printf("%u %s %s (%s)\n", sshca_key_display_bits(k), fp, comment,
	    sshca_key_shortname(k->type));
	wrote_private = 0;
	ret = SSHCA_EXIT_OK;
out:
	/* Half a key pair would make the next init refuse; take ours back. */
	if (wrote_private)
		unlink(path);
	key_free(k);
	free(comment);
	free(pub_path);
	free(line);
	free(text);
	free(fp);
	return ret;
}

static int
cmd_pubkey(const struct sshca_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"comment", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL, *what = "";
	char *comment = NULL, *pub_path = NULL, *line = NULL;
	struct key *k = NULL, *pk = NULL;
	size_t len;
	int c, r, ret = SSHCA_EXIT_USAGE;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:C:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': path = optarg; break;
		case 'C':
			free(comment);
			if ((comment = strdup(optarg)) == NULL) {
				ret = sshca_fail(self, "out of memory");
				goto out;
			}
			break;
		case 'h': ret = sshca_help(self); goto out;
		default: ret = sshca_bad_option(self, c, argv); goto out;
		}
	}
	if (optind < argc) {
		ret = sshca_usage_error(self, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (path == NULL) {
		ret = sshca_usage_error(self, "--key FILE is required");
		goto out;
	}
	if (comment != NULL && !comment_ok(comment)) {
		ret = sshca_usage_error(
		    self, "--comment: control characters or more than %d bytes", COMMENT_MAX);
		goto out;
	}

	ret = SSHCA_EXIT_FAIL;
	if ((r = sshca_load_public_or_private(path, &k, &what)) != EPH_OK) {
		sshca_fail(self, "%s %s: %s", what, path, sshca_strerror(r));
		goto out;
	}
	/* PKCS#8 holds no comment: borrow FILE.pub's when it is this key. */
	len = strlen(path);
	if (comment == NULL) {
		if (len >= 4 && strcmp(path + len - 4, ".pub") == 0)
			pub_path = strdup(path);
		else if (asprintf(&pub_path, "%s.pub", path) == -1)
			pub_path = NULL;
		if (pub_path == NULL) {
			sshca_fail(self, "out of memory");
			goto out;
		}
		if (key_load_public(pub_path, &pk, &comment) != EPH_OK ||
		    !key_equal_public(pk, k) || (comment != NULL && !comment_ok(comment))) {
			free(comment);
			comment = NULL;
		}
	}
	if ((r = key_format_public_line(
	         k, comment != NULL && *comment != '\0' ? comment : NULL, &line)) != EPH_OK) {
		sshca_fail(self, "formatting public key: %s", sshca_strerror(r));
		goto out;
	}
	printf("%s\n", line);
	ret = SSHCA_EXIT_OK;
out:
	key_free(k);
	key_free(pk);
	free(comment);
	free(pub_path);
	free(line);
	return ret;
}
