/* sshca inspect: show a certificate the way ssh-keygen -L does, plus the
 * decoded grant@ephssh extension and the outcome of the signature check. */
#include "config.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "err.h"
#include "grant.h"
#include "key.h"
#include "sshca.h"

#define INDENT1 "        "
#define INDENT2 "                "

static int cmd_inspect(const struct sshca_cmd *self, int argc, char **argv);

const struct sshca_cmd sshca_cmd_inspect = {"inspect", cmd_inspect, "[--ca CA.pub] CERT.pub...",
    "show certificates like ssh-keygen -L, with the grant@ephssh details",
    "      --ca FILE          also require each certificate to be signed by\n"
    "                         this CA (its .pub file or private key)\n"};

enum {
	OPT_CA = 256,
};

/* Extensions ssh-keygen -L prints by name alone. */
static const char *const flag_extensions[] = {
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
    "no-touch-required",
};

/*
 * Length of the well-formed UTF-8 sequence at p (n bytes left) and its
 * code point; 0 when there is none: a stray or truncated byte, an
 * overlong form, a surrogate or a code point past U+10FFFF (RFC 3629).
 */
static size_t
utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t v, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2, v = p[0] & 0x1fu, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3, v = p[0] & 0x0fu, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4, v = p[0] & 0x07u, min = 0x10000;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/*
 * Certificate text comes from whoever made the file: keep terminal
 * control codes out of the output. C0, DEL and C1 (U+0080..U+009F, whose
 * U+009B is a terminal's CSI) are written as \xNN per byte, as is any
 * byte that is not part of well-formed UTF-8; other UTF-8 is kept.
 */
static void
print_safe(const void *d, size_t n)
{
	const unsigned char *p = d;
	size_t i, j, len;
	uint32_t cp;

	for (i = 0; i < n; i += len) {
		if ((len = utf8_seq(p + i, n - i, &cp)) == 0) {
			printf("\\x%02x", p[i]);
			len = 1;
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			for (j = 0; j < len; j++)
				printf("\\x%02x", p[i + j]);
		} else
			fwrite(p + i, 1, len, stdout);
	}
}

static void
print_safe_str(const char *s)
{
	print_safe(s, strlen(s));
}

static void
print_hex(const uint8_t *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", d[i]);
}

static int
is_flag_extension(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(flag_extensions) / sizeof(flag_extensions[0]); i++) {
		if (strcmp(name, flag_extensions[i]) == 0)
			return 1;
	}
	return 0;
}

static void
show_options(const struct cert_opt *opts, size_t n, int critical)
{
	const uint8_t *v;
	size_t i, vlen;

	for (i = 0; i < n; i++) {
		printf(INDENT2);
		print_safe_str(opts[i].name);
		if (!critical && is_flag_extension(opts[i].name) && opts[i].len == 0) {
			putchar('\n');
		} else if (critical &&
		    (strcmp(opts[i].name, CERT_OPT_FORCE_COMMAND) == 0 ||
		        strcmp(opts[i].name, CERT_OPT_SOURCE_ADDRESS) == 0) &&
		    cert_opt_value(&opts[i], &v, &vlen) == EPH_OK) {
			putchar(' ');
			print_safe(v, vlen);
			putchar('\n');
		} else if (critical && strcmp(opts[i].name, CERT_OPT_VERIFY_REQUIRED) == 0 &&
		    opts[i].len == 0) {
			putchar('\n');
		} else if (opts[i].len > 0) {
			printf(" UNKNOWN OPTION: ");
			print_hex(opts[i].data, opts[i].len);
			printf(" (len %zu)\n", opts[i].len);
		} else
			printf(" UNKNOWN FLAG OPTION\n");
	}
}

/* The grant@ephssh block; EPH_OK when absent or well formed. */
static int
show_grant(const struct cert *c)
{
	const struct cert_opt *o;
	const uint8_t *v;
	size_t vlen, i;
	struct grant g;
	int r;

	memset(&g, 0, sizeof(g));
	if ((o = cert_find_extension(c, GRANT_EXTENSION)) == NULL)
		return EPH_OK;
	printf(INDENT1 "Grant (%s):", GRANT_EXTENSION);
	if ((r = cert_opt_value(o, &v, &vlen)) != EPH_OK ||
	    (r = grant_decode(v, vlen, &g)) != EPH_OK) {
		printf(" INVALID (%s)\n", sshca_strerror(r));
		goto out;
	}
	printf("\n" INDENT2 "ID: ");
	print_safe_str(g.id);
	printf("\n" INDENT2 "Task: ");
	print_safe_str(g.task);
	printf("\n" INDENT2 "Requester: ");
	print_safe_str(g.requester);
	printf("\n" INDENT2 "Login as: ");
	print_safe_str(g.login_as);
	printf("\n" INDENT2 "Approvers: ");
	if (g.napprovers == 0)
		printf("(none)");
	for (i = 0; i < g.napprovers; i++) {
		printf("%s", i == 0 ? "" : ", ");
		print_safe_str(g.approvers[i]);
	}
	printf("\n" INDENT2 "Reason digest: ");
	if (g.has_reason_digest) {
		printf("SHA256:");
		print_hex(g.reason_digest, sizeof(g.reason_digest));
	} else
		printf("(none)");
	printf("\n" INDENT2 "Max logins: ");
	if (g.max_logins == 0)
		printf("unlimited\n");
	else
		printf("%u\n", (unsigned)g.max_logins);
	r = EPH_OK;
out:
	grant_clear(&g);
	return r;
}

/* One certificate, in ssh-keygen -L's layout, then our additions. */
static int
show_cert(const struct sshca_cmd *self, const char *path, unsigned long lnum, const struct cert *c,
    const struct key *ca)
{
	char *key_fp = NULL, *ca_fp = NULL, valid[160];
	size_t i;
	int r, ret = SSHCA_EXIT_FAIL;

	if ((r = key_fingerprint(c->key, &key_fp)) != EPH_OK ||
	    (r = key_fingerprint(c->signature_key, &ca_fp)) != EPH_OK) {
		sshca_fail(self, "%s:%lu: fingerprint: %s", path, lnum, sshca_strerror(r));
		goto out;
	}
	sshca_format_validity(c, valid, sizeof(valid));

	if (lnum == 1)
		printf("%s:\n", path);
	else
		printf("%s:%lu:\n", path, lnum);
	printf(INDENT1 "Type: %s %s certificate\n", key_cert_type_name(c->key->type),
	    c->type == CERT_TYPE_USER       ? "user"
	        : c->type == CERT_TYPE_HOST ? "host"
	                                    : "unknown");
	printf(INDENT1 "Public key: %s-CERT %s\n", sshca_key_shortname(c->key->type), key_fp);
	printf(INDENT1 "Signing CA: %s %s (using %s)\n",
	    sshca_key_shortname(c->signature_key->type), ca_fp, c->sig_alg);
	printf(INDENT1 "Key ID: \"");
	print_safe_str(c->key_id);
	printf("\"\n");
	printf(INDENT1 "Serial: %llu\n", (unsigned long long)c->serial);
	printf(INDENT1 "Valid: %s\n", valid);
	printf(INDENT1 "Principals: ");
	if (c->nprincipals == 0)
		printf("(none)\n");
	else {
		for (i = 0; i < c->nprincipals; i++) {
			printf("\n" INDENT2);
			print_safe_str(c->principals[i]);
		}
		printf("\n");
	}
	printf(INDENT1 "Critical Options: ");
	if (c->ncritical == 0)
		printf("(none)\n");
	else {
		printf("\n");
		show_options(c->critical, c->ncritical, 1);
	}
	printf(INDENT1 "Extensions: ");
	if (c->nextensions == 0)
		printf("(none)\n");
	else {
		printf("\n");
		show_options(c->extensions, c->nextensions, 0);
	}
	/* ssh-keygen -L stops here; what follows is ours. */
	if ((r = show_grant(c)) != EPH_OK) {
		sshca_fail(self, "%s:%lu: bad %s extension: %s", path, lnum, GRANT_EXTENSION,
		    sshca_strerror(r));
		goto out;
	}
	printf(INDENT1 "Signature: good (made by the Signing CA above)\n");
	if (ca != NULL) {
		if ((r = cert_check_ca(c, ca)) != EPH_OK) {
			printf(INDENT1 "Trusted CA: NO\n");
			sshca_fail(self, "%s:%lu: not signed by the --ca key: %s", path, lnum,
			    sshca_strerror(r));
			goto out;
		}
		printf(INDENT1 "Trusted CA: yes (--ca)\n");
	}
	ret = SSHCA_EXIT_OK;
out:
	free(key_fp);
	free(ca_fp);
	return ret;
}

/* Every certificate line of a file, as ssh-keygen -L reads it. */
static int
inspect_file(const struct sshca_cmd *self, const char *path, const struct key *ca)
{
	struct cert *c = NULL;
	char *text = NULL, *line, *next;
	unsigned long lnum = 0;
	int r, ret = SSHCA_EXIT_FAIL, found = 0, failed = 0;

	if ((r = sshca_read_text(path, &text)) != EPH_OK) {
		sshca_fail(self, "cannot read %s: %s", path, sshca_strerror(r));
		goto out;
	}
	for (line = text; line != NULL; line = next) {
		lnum++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line += strspn(line, " \t");
		if (*line == '\0' || *line == '#' || *line == '\r')
			continue;
		cert_free(c);
		c = NULL;
		if ((r = cert_parse_line(line, &c, NULL)) != EPH_OK) {
			if (r == EPH_ERR_CERTTYPE)
				sshca_fail(
				    self, "%s:%lu: a plain key, not a certificate", path, lnum);
			else
				sshca_fail(self, "%s:%lu: not a valid certificate: %s", path, lnum,
				    sshca_strerror(r));
			failed = 1;
			continue;
		}
		found = 1;
		if (show_cert(self, path, lnum, c, ca) != SSHCA_EXIT_OK)
			failed = 1;
	}
	if (!found && !failed) {
		sshca_fail(self, "%s: no certificate found", path);
		goto out;
	}
	if (failed)
		goto out;
	ret = SSHCA_EXIT_OK;
out:
	cert_free(c);
	free(text);
	return ret;
}

static int
cmd_inspect(const struct sshca_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"ca", required_argument, NULL, OPT_CA},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *ca_path = NULL, *what = "";
	struct key *ca = NULL;
	int c, i, r, ret = SSHCA_EXIT_USAGE, failed = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CA:
			if (ca_path != NULL) {
				ret = sshca_usage_error(self, "--ca given twice");
				goto out;
			}
			ca_path = optarg;
			break;
		case 'h': ret = sshca_help(self); goto out;
		default: ret = sshca_bad_option(self, c, argv); goto out;
		}
	}
	if (optind >= argc) {
		ret = sshca_usage_error(self, "CERT.pub is required");
		goto out;
	}
	ret = SSHCA_EXIT_FAIL;
	if (ca_path != NULL && (r = sshca_load_public_or_private(ca_path, &ca, &what)) != EPH_OK) {
		sshca_fail(self, "%s %s: %s", what, ca_path, sshca_strerror(r));
		goto out;
	}
	for (i = optind; i < argc; i++) {
		/* Keep going: show every good certificate, then fail. */
		if (inspect_file(self, argv[i], ca) != SSHCA_EXIT_OK)
			failed = 1;
	}
	if (failed)
		goto out;
	ret = SSHCA_EXIT_OK;
out:
	key_free(ca);
	return ret;
}
