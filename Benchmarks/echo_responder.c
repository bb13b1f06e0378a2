/*
 * echo_responder.c: the limit any request/reply responder can reach, for `courier-bench bridge`.
 *
 * One MQTT 5 client of libmosquitto subscribes to devices/+/requests/# at QoS 1 and republishes
 * every request's payload to its Response Topic with its Correlation Data, QoS 1, and the user
 * property status=200 that Courier's replies carry (so the simulator checks both alike). No
 * store, no state. Prints "READY" on stdout once subscribed; on SIGTERM or SIGINT it stops and
 * prints how many requests it answered on stderr.
 *
 * courier-bench builds it at run time:  cc -O2 -o echo_responder echo_responder.c -lmosquitto
 * Usage: echo_responder HOST PORT
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

static volatile sig_atomic_t stopping;
static unsigned long long answered, refused;

static void on_signal(int signal_number) { (void)signal_number; stopping = 1; }

static void on_connect(struct mosquitto *client, void *context, int code, int flags, const mosquitto_property *properties)
{
	(void)context; (void)flags; (void)properties;
	if(code != 0){
		fprintf(stderr, "echo_responder: connection refused: %s\n", mosquitto_reason_string(code));
		stopping = 1;
		return;
	}
	mosquitto_subscribe_v5(client, NULL, "devices/+/requests/#", 1, 0, NULL);
}

static void on_subscribe(struct mosquitto *client, void *context, int mid, int count, const int *granted, const mosquitto_property *properties)
{
	(void)client; (void)context; (void)mid; (void)properties;
	if(count < 1 || granted[0] > 1){
		fprintf(stderr, "echo_responder: subscription refused\n");
		stopping = 1;
		return;
	}
	printf("READY\n");
	fflush(stdout);
}

/* Runs inside mosquitto_loop_read: the reply is queued, and written by the main loop. */
static void on_message(struct mosquitto *client, void *context, const struct mosquitto_message *request, const mosquitto_property *properties)
{
	(void)context;
	char *response_topic = NULL;
	void *correlation = NULL;
	uint16_t correlation_length = 0;
	if(!mosquitto_property_read_string(properties, MQTT_PROP_RESPONSE_TOPIC, &response_topic, false)) return;
	mosquitto_property *reply = NULL;
	if(mosquitto_property_read_binary(properties, MQTT_PROP_CORRELATION_DATA, &correlation, &correlation_length, false)){
		mosquitto_property_add_binary(&reply, MQTT_PROP_CORRELATION_DATA, correlation, correlation_length);
	}
	mosquitto_property_add_string_pair(&reply, MQTT_PROP_USER_PROPERTY, "status", "200");
	if(mosquitto_publish_v5(client, NULL, response_topic, request->payloadlen, request->payload, 1, false, reply) == MOSQ_ERR_SUCCESS){
		answered++;
	}else{
		refused++;
	}
	mosquitto_property_free_all(&reply);
	free(response_topic);
	free(correlation);
}

int main(int argc, char **argv)
{
	if(argc != 3){
		fprintf(stderr, "usage: echo_responder HOST PORT\n");
		return 2;
	}
	struct sigaction action = { .sa_handler = on_signal };
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);
	signal(SIGPIPE, SIG_IGN);

	mosquitto_lib_init();
	char client_id[64];
	snprintf(client_id, sizeof client_id, "bench-echo-%ld", (long)getpid());
	struct mosquitto *client = mosquitto_new(client_id, true, NULL);
	if(!client){
		fprintf(stderr, "echo_responder: mosquitto_new failed\n");
		return 1;
	}
	mosquitto_int_option(client, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(client, MOSQ_OPT_TCP_NODELAY, 1);
	/* As Courier's clients: libmosquitto's default, 20 requests in flight, would throttle it. */
	mosquitto_int_option(client, MOSQ_OPT_RECEIVE_MAXIMUM, 1024);
	mosquitto_connect_v5_callback_set(client, on_connect);
	mosquitto_subscribe_v5_callback_set(client, on_subscribe);
	mosquitto_message_v5_callback_set(client, on_message);
	int code = mosquitto_connect_bind_v5(client, argv[1], atoi(argv[2]), 60, NULL, NULL);
	if(code != MOSQ_ERR_SUCCESS){
		fprintf(stderr, "echo_responder: cannot connect to %s:%s: %s\n", argv[1], argv[2], mosquitto_strerror(code));
		return 1;
	}

	/* One thread: read everything the socket holds (libmosquitto reads a packet per call), then
	 * write the queued replies and PUBACKs in one go; keep-alive once a second. */
	time_t last_misc = time(NULL);
	while(!stopping){
		int socket = mosquitto_socket(client);
		if(socket < 0){
			fprintf(stderr, "echo_responder: disconnected\n");
			return 1;
		}
		struct pollfd watched = { .fd = socket, .events = POLLIN | (mosquitto_want_write(client) ? POLLOUT : 0) };
		if(poll(&watched, 1, 100) < 0 && errno != EINTR) break;
		if(watched.revents & (POLLIN | POLLERR | POLLHUP)){
			int pending = 0;
			do{
				if(mosquitto_loop_read(client, 1) != MOSQ_ERR_SUCCESS) break;
			}while(ioctl(socket, FIONREAD, &pending) == 0 && pending > 0);
		}
		if(mosquitto_want_write(client)) mosquitto_loop_write(client, 1);
		if(time(NULL) != last_misc){
			last_misc = time(NULL);
			mosquitto_loop_misc(client);
		}
	}
	fprintf(stderr, "echo_responder: answered %llu requests, %llu replies refused by libmosquitto\n", answered, refused);
	mosquitto_disconnect_v5(client, 0, NULL);
	mosquitto_destroy(client);
	mosquitto_lib_cleanup();
	return 0;
}
