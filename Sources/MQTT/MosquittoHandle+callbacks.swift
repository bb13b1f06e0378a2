internal import CMosquitto
import Foundation

extension MosquittoHandle {
    /// Routes libmosquitto's callbacks to this object through the `obj` pointer given to
    /// `mosquitto_new`; no global map is involved.
    func installCallbacks(_ mosq: OpaquePointer) {
        mosquitto_connect_v5_callback_set(mosq) { mosq, obj, code, _, _ in
            guard let mosq else { return }
            MosquittoHandle.from(obj).didConnect(mosq, code: code)
        }
        mosquitto_disconnect_v5_callback_set(mosq) { _, obj, code, _ in
            MosquittoHandle.from(obj).didDisconnect(code: code)
        }
        mosquitto_publish_v5_callback_set(mosq) { _, obj, mid, reason, _ in
            MosquittoHandle.from(obj).didPublish(mid: mid, reason: reason)
        }
        mosquitto_subscribe_v5_callback_set(mosq) { _, obj, mid, count, granted, _ in
            let first = count > 0 ? granted?.pointee ?? 0x80 : 0x80
            MosquittoHandle.from(obj).didSubscribe(mid: mid, granted: first)
        }
        // libmosquitto formats a log line for every packet once a log callback is set.
        if logger.logLevel <= .trace {
            mosquitto_log_callback_set(mosq) { _, obj, _, text in
                guard let text else { return }
                MosquittoHandle.from(obj).logger.trace("\(String(cString: text))")
            }
        }
        mosquitto_message_v5_callback_set(mosq) { _, obj, message, properties in
            guard let message = message?.pointee else { return }
            // Everything is copied: libmosquitto frees the message after this returns.
            let copy = MQTTMessage(
                topic: String(cString: message.topic),
                payload: message.payloadlen > 0 ? Data(bytes: message.payload, count: Int(message.payloadlen)) : Data(),
                qos: message.qos > 0 ? .atLeastOnce : .atMostOnce,
                retain: message.retain,
                properties: MQTTProperties(copying: properties)
            )
            MosquittoHandle.from(obj).didReceive(copy)
        }
    }

    /// The handle behind a callback's `obj` pointer. Unretained: the reference taken in
    /// `start()` keeps it alive until after `mosquitto_destroy`.
    static func from(_ obj: UnsafeMutableRawPointer?) -> MosquittoHandle {
        Unmanaged<MosquittoHandle>.fromOpaque(obj!).takeUnretainedValue()
    }
}
