#ifndef COURIER_CMOSQUITTO_SHIM_H
#define COURIER_CMOSQUITTO_SHIM_H

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

/* epoll for the MQTT event loop. `struct epoll_event` is packed on x86-64 and not elsewhere,
 * which Swift cannot import faithfully, so events cross into Swift as two plain arrays. */

static inline int courier_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

static inline int courier_eventfd(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

static inline int courier_epoll_ctl(int epfd, int operation, int fd, uint32_t events, uint64_t token) {
    struct epoll_event event = { .events = events, .data = { .u64 = token } };
    return epoll_ctl(epfd, operation, fd, &event);
}

/* epoll_wait into `events` and `tokens`, each of `capacity` entries; returns the count or -1. */
static inline int courier_epoll_wait(int epfd, uint32_t *events, uint64_t *tokens, int capacity, int timeout) {
    struct epoll_event ready[capacity];
    int count = epoll_wait(epfd, ready, capacity, timeout);
    for (int i = 0; i < count; i++) {
        events[i] = ready[i].events;
        tokens[i] = ready[i].data.u64;
    }
    return count;
}

#endif
