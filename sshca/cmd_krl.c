/* sshca krl: write the Key Revocation List that sshd's RevokedKeys reads,
 * and query one as ssh-keygen -Q does. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cert.h"
#include "err.h"
#include "fileio.h"
#include "key.h"
#include "krl.h"
#include "sshca.h"
#include "util.h"

/* Query mode follows ssh-keygen -Q and grep: 0 none revoked, 1 some
 * revoked, 2 could not tell. */
#define KRL_QUERY_REVOKED 1
#define KRL_QUERY_ERROR 2

static int cmd_krl(const struct sshca_cmd *self, int argc, char **argv);

const struct sshca_cmd sshca_cmd_krl = {"krl", cmd_krl,
    "(--key CAKEY | --any-ca) [--serial N|A-B]... [--key-id ID]...\n"
    "                 [--krl-version N] [--comment TEXT] [--update] -o FILE\n"
    "       sshca krl --query FILE CERT.pub...",
    "write a key revocation list for sshd's RevokedKeys, or query one",
    "  -k, --key CAKEY        CA whose certificates are revoked: its private key\n"
    "                         or its .pub file\n"
    "      --any-ca           revoke the serials / key ids below for any CA\n"
    "      --serial N|A-B     revoke a serial or an inclusive range (repeatable)\n"
    "      --key-id ID        revoke certificates with this key id (repeatable)\n"
    "      --krl-version N    version number stored in the KRL (default 0, or\n"
    "                         the existing one with --update)\n"
    "  -C, --comment TEXT     comment stored in the KRL\n"
    "  -u, --update           add to the existing KRL in FILE instead of\n"
    "                         starting an empty one\n"
    "  -o, --output FILE      KRL to write (atomically, mode 0644)\n"
    "  -Q, --query FILE       print \"CERT.pub: ok\" or \"CERT.pub: REVOKED\" for\n"
    "                         each certificate or key; exit 1 if any is revoked,\n"
    "                         2 on errors\n"};

enum {
	OPT_ANY_CA = 256,
	OPT_SERIAL,
	OPT_KEY_ID,
	OPT_KRL_VERSION,
};

/* One revocation, kept in command-line order until the CA is known. */
struct krl_entry {
	int is_key_id;
	const char *arg;
};

struct krl_args {
	const char *ca_path;
	int any_ca;
	struct krl_entry *entries;
	size_t nentries;
	const char *version;
	const char *comment;
	int update;
	const char *output;
	const char *query;
};

/* "N" or "A-B", both ends at least 1 (serial 0 cannot be revoked). */
static int
parse_serial_spec(const char *s, uint64_t *lo, uint64_t *hi)
{
	const char *dash = strchr(s, '-');
	char *first;
	int r;

	if (dash == NULL) {
		if (parse_u64(s, lo) != EPH_OK)
			return EPH_ERR_FORMAT;
		*hi = *lo;
	} else {
		if ((first = strndup(s, (size_t)(dash - s))) == NULL)
			return EPH_ERR_NOMEM;
		r = parse_u64(first, lo);
		free(first);
		if (r != EPH_OK || parse_u64(dash + 1, hi) != EPH_OK)
			return EPH_ERR_FORMAT;
	}
	if (*lo == 0 || *lo > *hi)
		return EPH_ERR_RANGE;
	return EPH_OK;
}

/*
 * The first key or certificate line of a file; exactly one of *c / *k is
 * set. ssh-keygen -Q takes plain keys too, so this does.
 */
static int
load_key_or_cert(const char *path, struct cert **c, struct key **k, char **comment)
{
	char *text = NULL, *line, *next, *type = NULL;
	int r, is_cert = 0;

	*c = NULL;
	*k = NULL;
	*comment = NULL;
	if ((r = sshca_read_text(path, &text)) != EPH_OK)
		goto out;
	r = EPH_ERR_NOTFOUND;
	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line += strspn(line, " \t");
		if (*line == '\0' || *line == '#' || *line == '\r')
			continue;
		if ((type = strndup(line, strcspn(line, " \t"))) == NULL) {
			r = EPH_ERR_NOMEM;
			goto out;
		}
		if (key_type_from_name(type, &is_cert) == KEY_UNSPEC) {
			r = EPH_ERR_KEYTYPE;
			goto out;
		}
		if (is_cert)
			r = cert_parse_line(line, c, comment);
		else
			r = key_parse_public_line(line, k, comment);
		goto out;
	}
out:
	free(type);
	free(text);
	return r;
}

static int
krl_query(const struct sshca_cmd *self, const char *krl_path, int argc, char **argv)
{
	struct krl *krl = NULL;
	struct cert *c = NULL;
	struct key *k = NULL;
	char *comment = NULL;
	int i, r, ret = KRL_QUERY_ERROR, revoked = 0, failed = 0;

	if ((r = krl_load(krl_path, &krl)) != EPH_OK) {
		sshca_fail(self, "cannot load KRL %s: %s", krl_path, sshca_strerror(r));
		goto out;
	}
	for (i = 0; i < argc; i++) {
		cert_free(c);
		key_free(k);
		free(comment);
		if ((r = load_key_or_cert(argv[i], &c, &k, &comment)) != EPH_OK) {
			sshca_fail(self, "cannot load key or certificate %s: %s", argv[i],
			    sshca_strerror(r));
			failed = 1;
			continue;
		}
		r = c != NULL ? krl_check_cert(krl, c) : krl_check_key(krl, k);
		if (r != EPH_OK && r != EPH_ERR_REVOKED) {
			sshca_fail(self, "checking %s: %s", argv[i], sshca_strerror(r));
			failed = 1;
			continue;
		}
		printf("%s%s%s%s: %s\n", argv[i], comment != NULL && *comment != '\0' ? " (" : "",
		    comment != NULL ? comment : "", comment != NULL && *comment != '\0' ? ")" : "",
		    r == EPH_ERR_REVOKED ? "REVOKED" : "ok");
		if (r == EPH_ERR_REVOKED)
			revoked = 1;
	}
	if (failed)
		goto out;
	ret = revoked ? KRL_QUERY_REVOKED : SSHCA_EXIT_OK;
out:
	cert_free(c);
	key_free(k);
	free(comment);
	krl_free(krl);
	return ret;
}

static int
krl_build(const struct sshca_cmd *self, const struct krl_args *a)
{
	struct krl *krl = NULL;
	struct key *ca = NULL;
	struct buf out;
	const char *what = "";
	uint64_t version = 0, lo, hi;
	size_t i, nserials = 0, nids = 0;
	time_t now;
	int r, ret = SSHCA_EXIT_USAGE;

	buf_init(&out);
	/* Every usage problem before touching a file. */
	if (a->version != NULL &&
	    sshca_opt_u64(self, "--krl-version", a->version, 0, UINT64_MAX, &version) != 0)
		goto out;
	for (i = 0; i < a->nentries; i++) {
		if (a->entries[i].is_key_id) {
			if (*a->entries[i].arg == '\0') {
				sshca_usage_error(self, "--key-id is empty");
				goto out;
			}
			continue;
		}
		if ((r = parse_serial_spec(a->entries[i].arg, &lo, &hi)) != EPH_OK) {
			sshca_usage_error(self, "--serial '%s': %s", a->entries[i].arg,
			    r != EPH_ERR_RANGE ? "not a serial or a range A-B"
			        : lo == 0      ? "serial 0 cannot be revoked (serials start at 1)"
			                       : "a range A-B needs A <= B");
			goto out;
		}
	}
	if (a->comment != NULL && strchr(a->comment, '\n') != NULL) {
		sshca_usage_error(self, "--comment has a newline");
		goto out;
	}

	ret = SSHCA_EXIT_FAIL;
	if (a->ca_path != NULL &&
	    (r = sshca_load_public_or_private(a->ca_path, &ca, &what)) != EPH_OK) {
		sshca_fail(self, "%s %s: %s", what, a->ca_path, sshca_strerror(r));
		goto out;
	}
	if (a->update) {
		if ((r = krl_load(a->output, &krl)) != EPH_OK) {
			sshca_fail(
			    self, "cannot load KRL %s to update: %s", a->output, sshca_strerror(r));
			goto out;
		}
	} else if ((r = krl_new(&krl)) != EPH_OK) {
		sshca_fail(self, "making KRL: %s", sshca_strerror(r));
		goto out;
	}
	for (i = 0; i < a->nentries; i++) {
		if (a->entries[i].is_key_id) {
			r = krl_add_key_id(krl, ca, a->entries[i].arg);
			nids++;
		} else {
			/* Validated above. */
			parse_serial_spec(a->entries[i].arg, &lo, &hi);
			r = lo == hi ? krl_add_serial(krl, ca, lo)
			             : krl_add_serial_range(krl, ca, lo, hi);
			nserials++;
		}
		if (r != EPH_OK) {
			sshca_fail(self, "revoking %s %s: %s",
			    a->entries[i].is_key_id ? "key id" : "serial", a->entries[i].arg,
			    sshca_strerror(r));
			goto out;
		}
	}
	if (a->version != NULL)
		krl_set_version(krl, version);
	if (a->comment != NULL && (r = krl_set_comment(krl, a->comment)) != EPH_OK) {
		sshca_fail(self, "setting comment: %s", sshca_strerror(r));
		goto out;
	}
	if ((now = time(NULL)) == (time_t)-1) {
		sshca_fail(self, "the system clock is unusable");
		goto out;
	}
	krl_set_generated_date(krl, (uint64_t)now);
	if ((r = krl_serialize(krl, &out)) != EPH_OK) {
		sshca_fail(self, "encoding KRL: %s", sshca_strerror(r));
		goto out;
	}
	if ((r = file_write_atomic(a->output, out.d, out.len, 0644, 0)) != EPH_OK) {
		sshca_fail(self, "writing %s: %s", a->output, sshca_strerror(r));
		goto out;
	}
	fprintf(stderr, "%s KRL %s (version %llu): %zu serial and %zu key id entries %s\n",
	    a->update ? "Updated" : "Wrote", a->output, (unsigned long long)krl_version(krl),
	    nserials, nids, ca != NULL ? "for one CA" : "for any CA");
	ret = SSHCA_EXIT_OK;
out:
	krl_free(krl);
	key_free(ca);
	buf_free(&out);
	return ret;
}

static int
cmd_krl(const struct sshca_cmd *self, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"any-ca", no_argument, NULL, OPT_ANY_CA},
	    {"serial", required_argument, NULL, OPT_SERIAL},
	    {"key-id", required_argument, NULL, OPT_KEY_ID},
	    {"krl-version", required_argument, NULL, OPT_KRL_VERSION},
	    {"comment", required_argument, NULL, 'C'},
	    {"update", no_argument, NULL, 'u'},
	    {"output", required_argument, NULL, 'o'},
	    {"query", required_argument, NULL, 'Q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct krl_args a;
	const char **once;
	const char *once_name = NULL;
	int c, ret = SSHCA_EXIT_USAGE;

	memset(&a, 0, sizeof(a));
	if ((a.entries = calloc((size_t)argc + 1, sizeof(*a.entries))) == NULL) {
		ret = sshca_fail(self, "out of memory");
		goto out;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:C:uo:Q:h", longopts, NULL)) != -1) {
		once = NULL;
		switch (c) {
		case 'k': once = &a.ca_path, once_name = "--key"; break;
		case OPT_ANY_CA: a.any_ca = 1; break;
		case OPT_SERIAL:
		case OPT_KEY_ID:
			a.entries[a.nentries].is_key_id = c == OPT_KEY_ID;
			a.entries[a.nentries++].arg = optarg;
			break;
		case OPT_KRL_VERSION: once = &a.version, once_name = "--krl-version"; break;
		case 'C': once = &a.comment, once_name = "--comment"; break;
		case 'u': a.update = 1; break;
		case 'o': once = &a.output, once_name = "--output"; break;
		case 'Q': once = &a.query, once_name = "--query"; break;
		case 'h': ret = sshca_help(self); goto out;
		default: ret = sshca_bad_option(self, c, argv); goto out;
		}
		if (once != NULL &&
		    (ret = sshca_opt_once(self, once, once_name, optarg)) != SSHCA_EXIT_OK)
			goto out;
	}
	argc -= optind;
	argv += optind;

	if (a.query != NULL) {
		if (a.ca_path != NULL || a.any_ca || a.nentries != 0 || a.version != NULL ||
		    a.comment != NULL || a.update || a.output != NULL) {
			ret = sshca_usage_error(self, "--query takes no other options");
			goto out;
		}
		if (argc == 0) {
			ret = sshca_usage_error(self, "--query needs at least one CERT.pub");
			goto out;
		}
		ret = krl_query(self, a.query, argc, argv);
		goto out;
	}
	if (argc != 0) {
		ret = sshca_usage_error(self, "unexpected argument '%s'", argv[0]);
		goto out;
	}
	if (a.output == NULL) {
		ret = sshca_usage_error(self, "-o FILE is required");
		goto out;
	}
	if (a.any_ca == (a.ca_path != NULL)) {
		ret = sshca_usage_error(self, "give exactly one of --key CAKEY and --any-ca");
		goto out;
	}
	ret = krl_build(self, &a);
out:
	free(a.entries);
	return ret;
}
