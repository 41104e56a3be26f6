/*
 * A user's Unix group names through NSS (files, LDAP, SSSD alike), for
 * the "%group" references of the policy. The only part of libephpolicy
 * that asks the system anything; evaluation itself takes the result.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "err.h"
#include "policy.h"

/* NSS entry buffers grow to this at most (huge LDAP groups stay bounded). */
#define NSS_BUF_MAX (4u * 1024u * 1024u)
/* Linux NGROUPS_MAX. */
#define NSS_GROUPS_MAX 65536

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* getpwnam_r with a growing buffer. *pw points into *buf on success. */
static int
lookup_user(const char *user, struct passwd *pwd, char **buf)
{
	struct passwd *res = NULL;
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = hint > 0 && hint < 65536 ? (size_t)hint : 16384;
	char *b;
	int e;

	for (;;) {
		if ((b = realloc(*buf, len)) == NULL)
			return EPH_ERR_NOMEM;
		*buf = b;
		e = getpwnam_r(user, pwd, b, len, &res);
		if (e == ERANGE && len < NSS_BUF_MAX) {
			len *= 2;
			continue;
		}
		break;
	}
	if (e == 0 && res == NULL)
		return EPH_ERR_NOTFOUND;
	/* glibc reports "no such user" from some backends as these. */
	if (e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
		return EPH_ERR_NOTFOUND;
	if (e != 0) {
		errno = e;
		return EPH_ERR_IO;
	}
	return EPH_OK;
}

/* The group's name; EPH_ERR_NOTFOUND for a gid without one. */
static int
group_name(gid_t gid, char **buf, size_t *len, char **name)
{
	struct group grp, *res = NULL;
	char *b;
	int e;

	for (;;) {
		e = getgrgid_r(gid, &grp, *buf, *len, &res);
		if (e == ERANGE && *len < NSS_BUF_MAX) {
			if ((b = realloc(*buf, *len * 2)) == NULL)
				return EPH_ERR_NOMEM;
			*buf = b;
			*len *= 2;
			continue;
		}
		break;
	}
	if (e == 0 && res == NULL)
		return EPH_ERR_NOTFOUND;
	if (e != 0) {
		errno = e;
		return EPH_ERR_IO;
	}
	if ((*name = strdup(grp.gr_name)) == NULL)
		return EPH_ERR_NOMEM;
	return EPH_OK;
}

int
policy_identity_resolve(const char *name, char **canon, uid_t *uid)
{
	struct passwd pwd;
	char *pwbuf = NULL;
	int r;

	if (canon != NULL)
		*canon = NULL;
	if (name == NULL || canon == NULL || uid == NULL)
		return EPH_ERR_INVAL;
	if (policy_identity_problem(name) != NULL)
		return EPH_ERR_INVAL;
	if ((r = lookup_user(name, &pwd, &pwbuf)) != EPH_OK)
		goto out;
	/* What NSS calls the account must itself fit in a key id. */
	r = EPH_ERR_INVAL;
	if (pwd.pw_name == NULL || policy_identity_problem(pwd.pw_name) != NULL)
		goto out;
	r = EPH_ERR_NOMEM;
	if ((*canon = strdup(pwd.pw_name)) == NULL)
		goto out;
	*uid = pwd.pw_uid;
	r = EPH_OK;
out:
	free(pwbuf);
	return r;
}

int
policy_unix_groups(const char *user, char ***groups, size_t *n)
{
	struct passwd pwd;
	char *pwbuf = NULL, *grbuf = NULL, **names = NULL;
	gid_t *gids = NULL, *g;
	int ngids = 64, want, i, r;
	size_t nnames = 0, grlen = 16384, j, k;

	if (groups != NULL)
		*groups = NULL;
	if (n != NULL)
		*n = 0;
	if (user == NULL || *user == '\0' || groups == NULL || n == NULL)
		return EPH_ERR_INVAL;
	if ((r = lookup_user(user, &pwd, &pwbuf)) != EPH_OK)
		goto out;
	for (;;) {
		r = EPH_ERR_NOMEM;
		if ((g = reallocarray(gids, (size_t)ngids, sizeof(*gids))) == NULL)
			goto out;
		gids = g;
		want = ngids;
		if (getgrouplist(user, pwd.pw_gid, gids, &want) >= 0) {
			ngids = want;
			break;
		}
		/* want now holds the count needed (glibc); grow at least. */
		r = EPH_ERR_TOOLARGE;
		if (ngids >= NSS_GROUPS_MAX)
			goto out;
		ngids = want > ngids ? want : ngids * 2;
		if (ngids > NSS_GROUPS_MAX)
			ngids = NSS_GROUPS_MAX;
	}
	r = EPH_ERR_NOMEM;
	if ((grbuf = malloc(grlen)) == NULL ||
	    (names = calloc((size_t)ngids + 1, sizeof(*names))) == NULL)
		goto out;
	for (i = 0; i < ngids; i++) {
		r = group_name(gids[i], &grbuf, &grlen, &names[nnames]);
		/* A gid without a name cannot match a "%name"; sshd skips it too. */
		if (r == EPH_ERR_NOTFOUND)
			continue;
		if (r != EPH_OK)
			goto out;
		nnames++;
	}
	/* Sorted and unique, so that the result is deterministic. */
	qsort(names, nnames, sizeof(*names), cmp_str);
	for (j = k = 0; j < nnames; j++) {
		if (k > 0 && strcmp(names[k - 1], names[j]) == 0) {
			free(names[j]);
			names[j] = NULL;
			continue;
		}
		names[k++] = names[j];
		if (k - 1 != j)
			names[j] = NULL;
	}
	nnames = k;
	*groups = names;
	*n = nnames;
	names = NULL;
	r = EPH_OK;
out:
	if (names != NULL)
		policy_strv_free(names, nnames);
	free(gids);
	free(pwbuf);
	free(grbuf);
	return r;
}

void
policy_strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
