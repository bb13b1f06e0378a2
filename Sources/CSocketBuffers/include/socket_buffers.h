#ifndef COURIER_SOCKET_BUFFERS_H
#define COURIER_SOCKET_BUFFERS_H

#include <stddef.h>

/* Buffered reads and writes of one socket, for libmosquitto.
 *
 * libmosquitto reads each packet with a `read` for its type, one for each byte of its length
 * and one for its body, and writes each packet with a `write` of its own: about nine system
 * calls for each request Courier answers, the largest single cost of its network thread. It
 * has no hook for its socket I/O, so this module defines `read`, `write` and `close` itself;
 * the dynamic linker binds libmosquitto's calls to them ahead of libc's. Every call that is
 * not for the socket a thread is servicing goes straight to the kernel, as libc's would.
 *
 * A thread that services a socket passes a buffer to a `begin` function; until the matching
 * `end`, its reads of that socket take what one `read` of up to 64 KiB brought in, and its
 * writes gather into one `send`. Nothing else may read or write the socket in between. Closing
 * the socket in a pass (libmosquitto does, right after writing a DISCONNECT) sends what was
 * gathered first and ends the pass for it. */

typedef struct courier_socket_reads courier_socket_reads;
typedef struct courier_socket_writes courier_socket_writes;

/* Reads. */

/* A buffer for one thread's reads; free it with `courier_socket_reads_destroy`. */
courier_socket_reads *courier_socket_reads_create(void);
void courier_socket_reads_destroy(courier_socket_reads *reads);

/* Buffers the calling thread's reads of `fd` in `reads`, refilling it at most `refills` times
 * from the kernel: after that, a read of `fd` that finds the buffer empty fails with EAGAIN,
 * as if the socket were drained, so one busy socket cannot keep the thread to itself. */
void courier_socket_reads_begin(courier_socket_reads *reads, int fd, unsigned refills);

/* Bytes read from the kernel and not yet taken. */
size_t courier_socket_reads_pending(const courier_socket_reads *reads);

/* Ends the calling thread's reads; drops what is still buffered (none, if the pass took it
 * all: the caller must, as nothing else may read those bytes). */
void courier_socket_reads_end(courier_socket_reads *reads);

/* Writes. */

/* A buffer for one thread's writes; free it with `courier_socket_writes_destroy`. */
courier_socket_writes *courier_socket_writes_create(void);
void courier_socket_writes_destroy(courier_socket_writes *writes);

/* Gathers the calling thread's writes of `fd` in `writes` (64 KiB; a fuller buffer is sent on
 * the way). A write that finds the kernel's buffer full fails with EAGAIN, as libc's would;
 * one after a failed send fails with that send's error. */
void courier_socket_writes_begin(courier_socket_writes *writes, int fd);

/* Sends what was gathered and ends the calling thread's writes. Returns 0 when all of it went;
 * otherwise the number of bytes the kernel did not take (its buffer is full), which stay in
 * `writes` at `courier_socket_writes_unsent` until the next `begin`; or -1 with `errno` when
 * the socket failed. */
long courier_socket_writes_end(courier_socket_writes *writes);

/* The bytes the last `end` could not send. */
const unsigned char *courier_socket_writes_unsent(const courier_socket_writes *writes);

#endif
