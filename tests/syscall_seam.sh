#!/bin/sh
# SPDX-License-Identifier: MIT
#
# syscall_seam.sh - every system call of the engine goes through the I/O
# table (logkeep_io.h): no object file of the libraries but io_posix.c's
# may reference a file, clock, thread or randomness call of the C library.
#
# Usage: syscall_seam.sh LIBRARY.a...   (run by meson test, suite io)
# Method: `nm` lists each member's undefined symbols; any from the list
# below outside io_posix.c.o fails the test, naming the file and symbol.
set -u

calls='open open64 openat openat64 creat creat64 close read write pread
pread64 pwrite pwrite64 readv writev lseek lseek64 fsync fdatasync sync
syncfs rename renameat renameat2 unlink unlinkat mkdir mkdirat rmdir
opendir fdopendir readdir readdir64 closedir scandir fcntl fcntl64 flock
lockf ioctl stat stat64 fstat fstat64 lstat lstat64 fstatat fstatat64
statx truncate truncate64 ftruncate ftruncate64 fallocate fallocate64
posix_fallocate posix_fallocate64 mmap mmap64 munmap msync
clock_gettime clock_gettime64 gettimeofday time clock nanosleep
clock_nanosleep usleep sleep pthread_create pthread_join pthread_detach
pthread_cond_timedwait getrandom getentropy rand random srand srandom
arc4random fopen fopen64 fdopen fclose fread fwrite getenv system popen
fork execve getpid dup dup2 dup3 pipe pipe2 socket'

command -v nm >/dev/null 2>&1 || { echo 'nm not found: skipped'; exit 77; }

found=$(for lib in "$@"; do
	nm -A -u "$lib" | while IFS= read -r line; do
		sym=${line##* }
		member=${line%%: *}
		member=${member##*:}
		case "$member" in
		*io_posix.c.o) continue ;;
		esac
		for c in $calls; do
			[ "$sym" = "$c" ] &&
				echo "$lib: $member calls $sym outside io_posix.c"
		done
	done
done)
if [ -n "$found" ]; then
	echo "$found"
	exit 1
fi
echo "ok: only io_posix.c makes system calls"
