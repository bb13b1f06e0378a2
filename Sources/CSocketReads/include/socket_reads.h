#ifndef COURIER_SOCKET_READS_H
#define COURIER_SOCKET_READS_H

#include <stddef.h>

/* Buffered reads of one socket, for libmosquitto.
 *
 * libmosquitto reads each packet with a `read` for its type, one for each byte of its length
 * and one for its body: about seven system calls for each request Courier answers, the
 * largest single cost of its network thread. It has no hook for its socket reads, so this
 * file defines `read` itself; the dynamic linker binds libmosquitto's calls to it ahead of
 * libc's. Every call that is not for the socket a thread is servicing goes straight to the
 * kernel, as libc's would.
 *
 * A thread that services a socket passes a buffer to `courier_socket_reads_begin`; until
 * `courier_socket_reads_end`, its reads of that socket take what one `read` of up to 64 KiB
 * brought in. The buffer must be empty when the thread ends the pass: nothing else may read
 * the socket in between. */

typedef struct courier_socket_reads courier_socket_reads;

/* A buffer for one thread's passes; free it with `courier_socket_reads_destroy`. */
courier_socket_reads *courier_socket_reads_create(void);
void courier_socket_reads_destroy(courier_socket_reads *reads);

/* Buffers the calling thread's reads of `fd` in `reads`, refilling it at most `refills` times
 * from the kernel: after that, a read of `fd` that finds the buffer empty fails with EAGAIN,
 * as if the socket were drained, so one busy socket cannot keep the thread to itself. */
void courier_socket_reads_begin(courier_socket_reads *reads, int fd, unsigned refills);

/* Bytes read from the kernel and not yet taken. */
size_t courier_socket_reads_pending(const courier_socket_reads *reads);

/* Ends the calling thread's pass; drops what is still buffered (none, if the pass read it all). */
void courier_socket_reads_end(courier_socket_reads *reads);

#endif
