import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `courier-bench`: performance figures, printed with the command that produced them.
///
/// Each benchmark is a subcommand in its own file. To add one, write an `AsyncParsableCommand`
/// that pulls in ``BrokerOptions`` with `@OptionGroup`, prints through ``BenchReport``, and list
/// it in `subcommands` below.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "courier-bench",
        abstract: "Courier benchmarks. Figures vary on a shared machine: compare ratios from one run.",
        subcommands: [
            MQTTBenchmark.self,
            BridgeBenchmark.self,
            StoreBenchmark.self,
            PendingBenchmark.self,
            SoakBenchmark.self,
            StormBenchmark.self,
            SchedulingBenchmark.self,
            DispatchBenchmark.self,
        ]
    )

    /// Ignores SIGPIPE first: a reader that goes away (`| head`) would otherwise kill the
    /// benchmark before it stops the brokers and daemons it started, leaving them running.
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        await main(nil)
    }
}
