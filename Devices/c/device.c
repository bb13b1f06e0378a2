/*
 * A Courier device in C over libmosquitto: one MQTT 5 request and its reply, or (with -c) one
 * command and its answer.
 *
 *   cc -o device device.c -lmosquitto
 *   ./device [-h host] [-p port] [-d device-id] [-o operation] [-m payload]
 *   ./device [-h host] [-p port] [-d device-id] -c command
 *
 * A request goes to devices/{id}/requests/{operation} with Response Topic
 * devices/{id}/replies/c and its own Correlation Data; the device waits for the reply with that
 * Correlation Data, prints "status payload" and exits 0 on status 200.
 *
 * With -c it subscribes to devices/{id}/commands/{command}, waits for one command, answers it
 * on the command's Response Topic with the command's Correlation Data, user property status=200
 * and the command's payload, prints "command payload" and exits 0 once the broker has the answer.
 */
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct device {
    const char *command; /* -c: answer this command instead of sending a request */
    char command_topic[256];
    char request_topic[256];
    char reply_topic[256];
    char correlation[32];
    const char *payload;
    int done;
    int status;
};

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags, const mosquitto_property *props) {
    struct device *device = obj;
    (void)flags;
    (void)props;
    if (rc != 0) {
        fprintf(stderr, "connect refused: %s\n", mosquitto_reason_string(rc));
        device->done = 1;
        return;
    }
    mosquitto_subscribe_v5(mosq, NULL, device->command ? device->command_topic : device->reply_topic, 1, 0, NULL);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int count, const int *granted, const mosquitto_property *props) {
    struct device *device = obj;
    mosquitto_property *request = NULL;
    (void)mid;
    (void)count;
    (void)granted;
    (void)props;
    if (device->command) return; /* it waits for its command */
    /* A fresh property list for the request: response topic and correlation data. */
    mosquitto_property_add_string(&request, MQTT_PROP_RESPONSE_TOPIC, device->reply_topic);
    mosquitto_property_add_binary(&request, MQTT_PROP_CORRELATION_DATA, device->correlation, (uint16_t)strlen(device->correlation));
    mosquitto_publish_v5(mosq, NULL, device->request_topic, (int)strlen(device->payload), device->payload, 1, false, request);
    mosquitto_property_free_all(&request);
}

/* Answers a command like a worker answers the bridge: the Response Topic, the same Correlation
 * Data, user property status. */
static void answer_command(struct mosquitto *mosq, struct device *device, const struct mosquitto_message *message, const mosquitto_property *props) {
    char *response_topic = NULL;
    void *correlation = NULL;
    uint16_t length = 0;
    mosquitto_property *answer = NULL;

    if (!mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &response_topic, false)
        || !mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &correlation, &length, false)) {
        fprintf(stderr, "a command without Response Topic or Correlation Data on %s\n", message->topic);
        free(response_topic);
        return;
    }
    mosquitto_property_add_binary(&answer, MQTT_PROP_CORRELATION_DATA, correlation, length);
    mosquitto_property_add_string_pair(&answer, MQTT_PROP_USER_PROPERTY, "status", "200");
    mosquitto_publish_v5(mosq, NULL, response_topic, message->payloadlen, message->payload, 1, false, answer);
    mosquitto_property_free_all(&answer);
    free(response_topic);
    free(correlation);
    printf("%s %.*s\n", device->command, message->payloadlen, (const char *)message->payload);
    device->status = 200;
}

/* The broker has the answer: done. */
static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason, const mosquitto_property *props) {
    struct device *device = obj;
    (void)mosq;
    (void)mid;
    (void)props;
    if (device->command && device->status == 200) {
        if (reason >= 128) device->status = reason;
        device->done = 1;
    }
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *message, const mosquitto_property *props) {
    struct device *device = obj;
    if (device->command) {
        if (device->status == 0) answer_command(mosq, device, message, props);
        return;
    }
    void *correlation = NULL;
    uint16_t length = 0;
    char *name = NULL, *value = NULL;
    const mosquitto_property *p;

    if (!mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &correlation, &length, false)) return;
    int ours = length == strlen(device->correlation) && memcmp(correlation, device->correlation, length) == 0;
    free(correlation);
    if (!ours) return;  /* not the reply to our request */

    for (p = props; p; p = mosquitto_property_next(p)) {
        if (mosquitto_property_identifier(p) != MQTT_PROP_USER_PROPERTY) continue;
        if (mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, false)) {
            if (strcmp(name, "status") == 0) device->status = atoi(value);
            free(name);
            free(value);
        }
    }
    printf("%d %.*s\n", device->status, message->payloadlen, (const char *)message->payload);
    device->done = 1;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *id = "c-device-1", *operation = "echo";
    int port = 1883, option;
    struct device device = {.payload = "hello from C", .status = 0};

    while ((option = getopt(argc, argv, "h:p:d:o:m:c:")) != -1) {
        switch (option) {
        case 'h': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'd': id = optarg; break;
        case 'o': operation = optarg; break;
        case 'm': device.payload = optarg; break;
        case 'c': device.command = optarg; break;
        default: return 2;
        }
    }
    snprintf(device.request_topic, sizeof device.request_topic, "devices/%s/requests/%s", id, operation);
    snprintf(device.reply_topic, sizeof device.reply_topic, "devices/%s/replies/c", id);
    snprintf(device.correlation, sizeof device.correlation, "c-%ld", (long)getpid());
    if (device.command) snprintf(device.command_topic, sizeof device.command_topic, "devices/%s/commands/%s", id, device.command);

    mosquitto_lib_init();
    struct mosquitto *mosq = mosquitto_new(NULL, true, &device);
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_v5_callback_set(mosq, on_connect);
    mosquitto_subscribe_v5_callback_set(mosq, on_subscribe);
    mosquitto_message_v5_callback_set(mosq, on_message);
    mosquitto_publish_v5_callback_set(mosq, on_publish);
    if (mosquitto_connect_bind_v5(mosq, host, port, 30, NULL, NULL) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "cannot connect to %s:%d\n", host, port);
        return 1;
    }
    time_t deadline = time(NULL) + 10;
    while (!device.done && time(NULL) < deadline) {
        if (mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS) break;
    }
    mosquitto_disconnect_v5(mosq, 0, NULL);
    mosquitto_destroy(mosq);
    mosquitto_lib_cleanup();
    if (!device.done) fprintf(stderr, device.command ? "no command within 10 s\n" : "no reply within 10 s\n");
    return device.status == 200 ? 0 : 1;
}
