/* Where a disk's cache and replica live: one directory per disk id. */
#ifndef HAVEN_REPLDIR_H
#define HAVEN_REPLDIR_H

#include <stdint.h>

/* base/<lower-case hex of "<machine_id>:<disk>">, malloc'd. */
char	*repl_disk_dir(const char *base, const char *machine_id,
	    const char *disk);
/* Same from a disk id "<machine_id>:<disk>". */
char	*repl_dir_of(const char *base, const char *disk_id);
/* The number the seal binds records to (AAD): XXH64 of the disk id. */
uint64_t repl_disk_number(const char *disk_id);

#endif
