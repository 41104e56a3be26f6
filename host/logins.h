/*
 * The durable per-host count of logins per certificate serial, which
 * enforces a grant's max_logins across sessions, reboots and crashes:
 *   state_dir/logins          root, mode 0700 (made on first use)
 *   state_dir/logins/SERIAL   one file per serial, mode 0600: the count
 *                             as 20 decimal digits and '\n'
 * The file keeps one size, so an update is one pwrite over the old
 * value, locked with flock and fsync'd before the login is allowed: a
 * crash after the write counts the login, a crash before it allowed
 * nothing.
 */
#ifndef EPH_LOGINS_H
#define EPH_LOGINS_H

#include <stdint.h>

#define LOGINS_SUBDIR "logins"

/*
 * Count one more login of serial when fewer than max were counted
 * (*count: the count after it); EPH_ERR_RANGE (and *count the count
 * found) when max were already used. EPH_ERR_PERM for a directory
 * writable by group/other or not owned by root or us, a link, a file of
 * another owner or with other links; EPH_ERR_FORMAT for a file that
 * does not parse (refuse: never reset a count); EPH_ERR_IO.
 */
int logins_take(const char *state_dir, uint64_t serial, uint32_t max, uint64_t *count);

#endif
