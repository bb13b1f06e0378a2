import ArgumentParser
import CourierCore
import CourierHTTP
import Foundation

/// `courier requests`: list, show and cancel requests through the bridge's HTTP API.
struct RequestsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requests",
        abstract: "List, show and cancel requests (through the bridge's HTTP API).",
        subcommands: [List.self, Show.self, Cancel.self]
    )

    /// `courier requests list`: one page, newest first.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List requests, newest first.")

        @OptionGroup var options: APIOptions

        @Option(help: "Only requests in this state (\(RequestState.allCases.map(\.rawValue).joined(separator: ", "))).")
        var state: String?

        @Option(help: "Only this device's requests.")
        var device: String?

        @Option(help: "Only requests for this operation.")
        var operation: String?

        @Option(help: "Page size, 1 to 1000.")
        var limit: Int = 50

        @Option(help: "Continue after this cursor (printed under a full page).")
        var cursor: String?

        @Flag(help: "Print the API's JSON.")
        var json = false

        func validate() throws {
            if let state, RequestState(rawValue: state) == nil {
                throw ValidationError("--state must be one of \(RequestState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
        }

        func run() async throws {
            let answer = try await options.client().expect(
                [200], "GET", "/v1/requests",
                query: [("state", state), ("device", device), ("operation", operation), ("limit", "\(limit)"), ("cursor", cursor)]
            )
            if json {
                print(Output.prettyJSON(answer.body))
                return
            }
            let page: RequestPage = try answer.decode()
            guard !page.requests.isEmpty else {
                print("no requests")
                return
            }
            let rows = page.requests.map { request in
                [
                    request.id, request.device, request.operation, request.state.rawValue, "\(request.attempts)",
                    request.replyStatus.map(String.init) ?? "-", Output.time(request.receivedAt),
                ]
            }
            print(Output.table(["ID", "DEVICE", "OPERATION", "STATE", "ATTEMPTS", "STATUS", "RECEIVED"], rows))
            if let next = page.next { print("\nmore: add --cursor \(next)") }
        }
    }

    /// `courier requests show ID`: the status, and the result once final.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one request's status and, once final, its result.")

        @OptionGroup var options: APIOptions

        @Argument(help: "The request id.")
        var id: String

        @Flag(help: "Print the API's status JSON.")
        var json = false

        func run() async throws {
            let client = try options.client()
            let answer = try await client.expect([200], "GET", "/v1/requests/\(APIClient.segment(id))")
            if json {
                print(Output.prettyJSON(answer.body))
                return
            }
            let status: RequestStatus = try answer.decode()
            var pairs: [(String, String)] = [
                ("id", status.id),
                ("device", status.device),
                ("operation", status.operation),
                ("state", status.state.rawValue),
                ("attempts", "\(status.attempts)"),
                ("received", Output.time(status.receivedAt)),
                ("updated", Output.time(status.updatedAt)),
                ("deadline", Output.time(status.deadline)),
                ("reply", status.replyStatus.map { "\($0) \(status.replyCode ?? "")" } ?? "-"),
                ("delivered", Output.time(status.deliveredAt)),
            ]
            if let reason = status.reason { pairs.append(("reason", reason)) }
            if status.state.isFinal {
                let result = try await client.send("GET", "/v1/requests/\(APIClient.segment(id))/result")
                pairs.append(("content type", result.header("content-type") ?? "-"))
                pairs.append(("result", Self.preview(result.body)))
            }
            print(Output.fields(pairs))
        }

        /// The payload as text when it is short UTF-8, else its size.
        static func preview(_ payload: Data) -> String {
            guard !payload.isEmpty else { return "(empty)" }
            guard payload.count <= 2048, let text = String(data: payload, encoding: .utf8),
                !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" && $0 != "\r" })
            else { return "(\(payload.count) bytes)" }
            return text
        }
    }

    /// `courier requests cancel ID`: the device gets 410.
    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a pending request; the device is answered 410.")

        @OptionGroup var options: APIOptions

        @Argument(help: "The request id.")
        var id: String

        @Flag(help: "Print the API's status JSON of the cancelled request.")
        var json = false

        func run() async throws {
            let answer = try await options.client().expect([200], "DELETE", "/v1/requests/\(APIClient.segment(id))")
            if json {
                print(Output.prettyJSON(answer.body))
                return
            }
            let status: RequestStatus = try answer.decode()
            print("cancelled \(status.id) (device \(status.device), \(status.operation)); the device is answered 410")
        }
    }
}
