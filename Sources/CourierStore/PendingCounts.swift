/// How many requests are pending (received or dispatched), per device and in all: what the
/// quota checks read.
///
/// The SQLite store keeps these counts in memory, in the one process that writes its file,
/// rather than counting rows or keeping counter rows up to date on every transition. Used as
/// changes too: a transaction gathers its own, with negative counts for requests that stopped
/// being pending, and they are added once it commits.
struct PendingCounts: Sendable, Equatable {
    private(set) var total = 0
    private var devices: [String: Int] = [:]

    /// `device`'s count; 0 for a device with none.
    subscript(device: String) -> Int { devices[device, default: 0] }

    /// Adds `delta` (negative when requests stopped being pending) to `device`'s count and to
    /// the total. A device whose count comes to 0 is forgotten, so the table holds only devices
    /// with pending requests (or, as changes, with a net change).
    mutating func add(_ delta: Int, device: String) {
        guard delta != 0 else { return }
        total += delta
        let count = devices[device, default: 0] + delta
        devices[device] = count == 0 ? nil : count
    }

    /// Adds every count of `changes`.
    mutating func add(_ changes: PendingCounts) {
        for (device, delta) in changes.devices {
            add(delta, device: device)
        }
    }
}
