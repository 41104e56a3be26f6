/* Error codes shared by every ephssh library: negative EPH_ERR_*, 0 is OK. */
#ifndef EPH_ERR_H
#define EPH_ERR_H

enum {
	EPH_OK = 0,
	EPH_ERR_NOMEM = -1, /* out of memory */
	EPH_ERR_INVAL = -2, /* invalid argument */
	EPH_ERR_TRUNCATED = -3, /* input ends early */
	EPH_ERR_TOOLARGE = -4, /* length over its limit */
	EPH_ERR_FORMAT = -5, /* malformed encoding */
	EPH_ERR_TRAILING = -6, /* unexpected data after the end */
	EPH_ERR_KEYTYPE = -7, /* unknown or unsupported key type */
	EPH_ERR_SIGNATURE = -8, /* signature does not verify */
	EPH_ERR_CRYPTO = -9, /* libcrypto failure */
	EPH_ERR_IO = -10, /* system I/O error (errno kept) */
	EPH_ERR_PERM = -11, /* unsafe ownership or permissions */
	EPH_ERR_EXISTS = -12, /* file already exists */
	EPH_ERR_NOTFOUND = -13, /* no such item */
	EPH_ERR_EXPIRED = -14, /* certificate has expired */
	EPH_ERR_NOTYETVALID = -15, /* certificate not yet valid */
	EPH_ERR_PRINCIPAL = -16, /* principal not in certificate */
	EPH_ERR_REVOKED = -17, /* revoked by the KRL */
	EPH_ERR_UNSORTED = -18, /* options out of order */
	EPH_ERR_DUPLICATE = -19, /* duplicate entry */
	EPH_ERR_UNKNOWN_OPTION = -20, /* unknown critical option */
	EPH_ERR_CERTTYPE = -21, /* wrong certificate type */
	EPH_ERR_CA_MISMATCH = -22, /* signed by a CA we do not trust */
	EPH_ERR_RANGE = -23, /* number out of range */
	EPH_ERR_AGENT = -24, /* ssh-agent refused or failed */
	EPH_ERR_WEAKKEY = -25, /* key too small or algorithm refused */
	EPH_ERR_CONFLICT = -26, /* not in the expected state (compare-and-set lost) */
	EPH_ERR_STORE = -27, /* database failure */
	EPH_ERR_STORE_FULL = -28, /* database full or read-only */
	EPH_ERR_BUSY = -29, /* database locked by another process */
	EPH_ERR_TAMPERED = -30, /* audit chain broken */
	EPH_ERR_LIMIT = -31, /* over a per-requester rate or count limit (HTTP 429) */
	EPH_ERR_FORBIDDEN = -32, /* the caller may not do this (HTTP 403) */
	EPH_ERR_UNAUTHENTICATED = -33, /* no valid credentials (HTTP 401) */
};

/* Human-readable text for an EPH_ERR_* code; never NULL. */
const char *eph_strerror(int err);

#endif
