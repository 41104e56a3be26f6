/* Text for the EPH_ERR_* codes. */
#include "config.h"

#include "err.h"

const char *
eph_strerror(int err)
{
	switch (err) {
	case EPH_OK: return "success";
	case EPH_ERR_NOMEM: return "out of memory";
	case EPH_ERR_INVAL: return "invalid argument";
	case EPH_ERR_TRUNCATED: return "data ends early (truncated)";
	case EPH_ERR_TOOLARGE: return "length exceeds its limit";
	case EPH_ERR_FORMAT: return "malformed data";
	case EPH_ERR_TRAILING: return "unexpected data after the end";
	case EPH_ERR_KEYTYPE: return "unknown or unsupported key type";
	case EPH_ERR_SIGNATURE: return "signature does not verify";
	case EPH_ERR_CRYPTO: return "cryptographic library failure";
	case EPH_ERR_IO: return "system I/O error";
	case EPH_ERR_PERM: return "unsafe file ownership or permissions";
	case EPH_ERR_EXISTS: return "file already exists";
	case EPH_ERR_NOTFOUND: return "not found";
	case EPH_ERR_EXPIRED: return "certificate has expired";
	case EPH_ERR_NOTYETVALID: return "certificate is not yet valid";
	case EPH_ERR_PRINCIPAL: return "principal not listed in certificate";
	case EPH_ERR_REVOKED: return "revoked";
	case EPH_ERR_UNSORTED: return "entries are not in sorted order";
	case EPH_ERR_DUPLICATE: return "duplicate entry";
	case EPH_ERR_UNKNOWN_OPTION: return "unknown critical option";
	case EPH_ERR_CERTTYPE: return "wrong certificate type";
	case EPH_ERR_CA_MISMATCH: return "not signed by a trusted CA key";
	case EPH_ERR_RANGE: return "number out of range";
	case EPH_ERR_AGENT: return "ssh-agent refused or failed";
	case EPH_ERR_WEAKKEY: return "key too small or algorithm not allowed";
	case EPH_ERR_CONFLICT: return "not in the expected state (changed concurrently)";
	case EPH_ERR_STORE: return "database failure";
	case EPH_ERR_STORE_FULL: return "database is full or read-only";
	case EPH_ERR_BUSY: return "database is locked by another process";
	case EPH_ERR_TAMPERED: return "audit log has been tampered with";
	case EPH_ERR_LIMIT: return "over a limit";
	case EPH_ERR_FORBIDDEN: return "permission denied";
	case EPH_ERR_UNAUTHENTICATED: return "authentication required";
	}
	return "unknown error";
}
