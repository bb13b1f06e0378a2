#define _GNU_SOURCE
#include "socket_reads.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { capacity = 64 * 1024 };

struct courier_socket_reads {
    int fd;
    unsigned refills;
    size_t start;
    size_t end;
    unsigned char bytes[capacity];
};

/* The pass the calling thread is in, if any. */
static __thread courier_socket_reads *current;

/* libc's `read` without going through ours: the system call itself. */
static ssize_t kernel_read(int fd, void *buffer, size_t count) {
    return syscall(SYS_read, fd, buffer, count);
}

ssize_t read(int fd, void *buffer, size_t count) {
    courier_socket_reads *reads = current;
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
    if (current == reads) current = NULL;
    free(reads);
}

void courier_socket_reads_begin(courier_socket_reads *reads, int fd, unsigned refills) {
    reads->fd = fd;
    reads->refills = refills;
    reads->start = 0;
    reads->end = 0;
    current = reads;
}

size_t courier_socket_reads_pending(const courier_socket_reads *reads) {
    return reads->end - reads->start;
}

void courier_socket_reads_end(courier_socket_reads *reads) {
    current = NULL;
    reads->fd = -1;
    reads->start = 0;
    reads->end = 0;
}
