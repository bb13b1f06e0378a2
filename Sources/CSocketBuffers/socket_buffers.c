#define _GNU_SOURCE
#include "socket_buffers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { capacity = 64 * 1024 };

/* MARK: Reads */

struct courier_socket_reads {
    int fd;
    unsigned refills;
    size_t start;
    size_t end;
    unsigned char bytes[capacity];
};

/* The pass the calling thread is in, if any. */
static __thread courier_socket_reads *current_reads;

/* libc's `read` without going through ours: the system call itself. */
static ssize_t kernel_read(int fd, void *buffer, size_t count) {
    return syscall(SYS_read, fd, buffer, count);
}

ssize_t read(int fd, void *buffer, size_t count) {
    courier_socket_reads *reads = current_reads;
    if (reads == NULL || fd != reads->fd || count == 0) return kernel_read(fd, buffer, count);
    if (reads->start == reads->end) {
        if (reads->refills == 0) {
            errno = EAGAIN;
            return -1;
        }
        reads->refills--;
        ssize_t got = kernel_read(fd, reads->bytes, capacity);
        if (got <= 0) return got;
        reads->start = 0;
        reads->end = (size_t)got;
    }
    size_t taken = reads->end - reads->start;
    if (taken > count) taken = count;
    memcpy(buffer, reads->bytes + reads->start, taken);
    reads->start += taken;
    return (ssize_t)taken;
}

courier_socket_reads *courier_socket_reads_create(void) {
    courier_socket_reads *reads = calloc(1, sizeof *reads);
    if (reads != NULL) reads->fd = -1;
    return reads;
}

void courier_socket_reads_destroy(courier_socket_reads *reads) {
    if (current_reads == reads) current_reads = NULL;
    free(reads);
}

void courier_socket_reads_begin(courier_socket_reads *reads, int fd, unsigned refills) {
    reads->fd = fd;
    reads->refills = refills;
    reads->start = 0;
    reads->end = 0;
    current_reads = reads;
}

size_t courier_socket_reads_pending(const courier_socket_reads *reads) {
    return reads->end - reads->start;
}

void courier_socket_reads_end(courier_socket_reads *reads) {
    current_reads = NULL;
    reads->fd = -1;
    reads->start = 0;
    reads->end = 0;
}

/* MARK: Writes */

struct courier_socket_writes {
    int fd;
    /* The errno of a failed send in this pass, or 0. */
    int error;
    /* Gathered bytes not yet sent: [start, end). */
    size_t start;
    size_t end;
    unsigned char bytes[capacity];
};

/* The writes the calling thread gathers, if any. */
static __thread courier_socket_writes *current_writes;

/* libc's `write` without going through ours: the system call itself. */
static ssize_t kernel_write(int fd, const void *buffer, size_t count) {
    return syscall(SYS_write, fd, buffer, count);
}

/* Sends what is gathered; nonzero when all of it went. */
static int send_gathered(courier_socket_writes *writes) {
    while (writes->start < writes->end) {
        ssize_t sent = send(writes->fd, writes->bytes + writes->start, writes->end - writes->start, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) writes->error = errno;
            return 0;
        }
        writes->start += (size_t)sent;
    }
    writes->start = 0;
    writes->end = 0;
    return 1;
}

ssize_t write(int fd, const void *buffer, size_t count) {
    courier_socket_writes *writes = current_writes;
    if (writes == NULL || fd != writes->fd || count == 0) return kernel_write(fd, buffer, count);
    if (writes->error == 0 && count > capacity - writes->end) {
        /* No room: what is gathered goes first, then a write larger than the buffer itself. */
        if (send_gathered(writes) && count > capacity) return send(fd, buffer, count, MSG_NOSIGNAL);
    }
    if (writes->error != 0) {
        errno = writes->error;
        return -1;
    }
    if (count > capacity - writes->end) {
        /* What was gathered did not all go: the kernel's buffer is full. */
        errno = EAGAIN;
        return -1;
    }
    memcpy(writes->bytes + writes->end, buffer, count);
    writes->end += count;
    return (ssize_t)count;
}

courier_socket_writes *courier_socket_writes_create(void) {
    courier_socket_writes *writes = calloc(1, sizeof *writes);
    if (writes != NULL) writes->fd = -1;
    return writes;
}

void courier_socket_writes_destroy(courier_socket_writes *writes) {
    if (current_writes == writes) current_writes = NULL;
    free(writes);
}

void courier_socket_writes_begin(courier_socket_writes *writes, int fd) {
    writes->fd = fd;
    writes->error = 0;
    writes->start = 0;
    writes->end = 0;
    current_writes = writes;
}

long courier_socket_writes_end(courier_socket_writes *writes) {
    current_writes = NULL;
    if (writes->error == 0) send_gathered(writes);
    writes->fd = -1;
    if (writes->error != 0) {
        errno = writes->error;
        writes->start = 0;
        writes->end = 0;
        return -1;
    }
    return (long)(writes->end - writes->start);
}

const unsigned char *courier_socket_writes_unsent(const courier_socket_writes *writes) {
    return writes->bytes + writes->start;
}

/* MARK: Close */

/* libmosquitto closes its socket right after writing a DISCONNECT, and on an error, inside a
 * pass: what was gathered is sent first (best effort), and the pass lets the descriptor go,
 * whose number the kernel may give to another file at once. */
int close(int fd) {
    courier_socket_writes *writes = current_writes;
    if (writes != NULL && fd == writes->fd) {
        int saved = errno;
        if (writes->error == 0) send_gathered(writes);
        errno = saved;
        writes->fd = -1;
        writes->start = 0;
        writes->end = 0;
    }
    courier_socket_reads *reads = current_reads;
    if (reads != NULL && fd == reads->fd) {
        reads->fd = -1;
        reads->start = 0;
        reads->end = 0;
    }
    return (int)syscall(SYS_close, fd);
}
