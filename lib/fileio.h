/* Careful file access: no symlinks, permission checks, atomic writes. */
#ifndef EPH_FILEIO_H
#define EPH_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* Checks for file_read_all. */
#define FILE_CHECK_TRUSTED 0x1 /* refuse if writable by group/other */
#define FILE_CHECK_SECRET 0x2 /* refuse if readable by group/other */

/* Flags for file_write_atomic. */
#define FILE_NO_REPLACE 0x1 /* EPH_ERR_EXISTS when path exists */

/*
 * Read a whole regular file (O_NOFOLLOW|O_CLOEXEC) of at most max bytes,
 * appending to out. A symbolic link (errno ELOOP) or anything but a
 * regular file (errno EINVAL: a FIFO, socket or device) is refused
 * without blocking; directories on the path may be symbolic links. With
 * checks, the file must also be owned by the caller or root. EPH_ERR_IO
 * (errno set), EPH_ERR_PERM, EPH_ERR_TOOLARGE.
 */
int file_read_all(const char *path, size_t max, unsigned checks, struct buf *out);

/*
 * Write d to path through a temporary file in the same directory,
 * fsync, then rename (or link, with FILE_NO_REPLACE) into place, so a
 * reader sees the old file or the new one, never half of one.
 */
int file_write_atomic(const char *path, const void *d, size_t n, mode_t mode, unsigned flags);

#endif
