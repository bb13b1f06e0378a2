#ifndef COURIER_CMOSQUITTO_SHIM_H
#define COURIER_CMOSQUITTO_SHIM_H

#include <mosquitto.h>
#include <mqtt_protocol.h>

#endif
