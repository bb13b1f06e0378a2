import ArgumentParser
import CourierBridge
import CourierCore
import CourierHTTP
import Foundation

/// `courier deadletters`: list and replay dead letters through the bridge's HTTP API.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deadletters",
        abstract: "List and replay dead letters: requests that failed or were rejected.",
        subcommands: [List.self, Replay.self]
    )

    /// `courier deadletters list`: one page, newest first.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters, newest first.")

        @OptionGroup var options: APIOptions

        @Option(help: "Page size, 1 to 1000.")
        var limit: Int = 50

        @Option(help: "Continue after this cursor (printed under a full page).")
        var cursor: String?

        @Flag(help: "Print the API's JSON (payloads in base64).")
        var json = false

        func validate() throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
        }

        func run() async throws {
            let answer = try await options.client().expect([200], "GET", "/v1/deadletters", query: [("limit", "\(limit)"), ("cursor", cursor)])
            if json {
                print(Output.prettyJSON(answer.body))
                return
            }
            let page: DeadLetterPage = try answer.decode()
            guard !page.deadLetters.isEmpty else {
                print("no dead letters")
                return
            }
            let rows = page.deadLetters.map { letter in
                [
                    letter.id, letter.device, letter.operation, letter.state, letter.reason, "\(letter.attempts)",
                    Output.time(letter.receivedAt),
                ]
            }
            print(Output.table(["ID", "DEVICE", "OPERATION", "STATE", "REASON", "ATTEMPTS", "RECEIVED"], rows))
            if let next = page.next { print("\nmore: add --cursor \(next)") }
        }
    }

    /// `courier deadletters replay ID`: runs it again as a new request.
    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replay a dead letter as a new request with a fresh deadline.")

        @OptionGroup var options: APIOptions

        @Argument(help: "The dead letter's request id.")
        var id: String

        @Flag(help: "Print the API's status JSON of the new request.")
        var json = false

        func run() async throws {
            let answer = try await options.client().expect([202], "POST", "/v1/deadletters/\(APIClient.segment(id))/replay")
            if json {
                print(Output.prettyJSON(answer.body))
                return
            }
            let status: RequestStatus = try answer.decode()
            print("replayed \(id) as \(status.id); follow it with: courier requests show \(status.id)")
        }
    }
}
