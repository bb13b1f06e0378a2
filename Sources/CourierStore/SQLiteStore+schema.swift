import CourierCore
import GRDB

extension SQLiteStore {
    /// The store's schema, one registered migration per version. Migrations are append-only: a
    /// released migration is never edited, changes go into a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            for statement in schemaV1 {
                try db.execute(sql: statement)
            }
        }
        migrator.registerMigration("v2") { db in
            for statement in schemaV2 {
                try db.execute(sql: statement)
            }
        }
        migrator.registerMigration("v3") { db in
            for statement in schemaV3 {
                try db.execute(sql: statement)
            }
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: schemaV4)
        }
        migrator.registerMigration("v5") { db in
            try db.execute(sql: schemaV5)
        }
        migrator.registerMigration("v6") { db in
            for statement in schemaV6 {
                try db.execute(sql: statement)
            }
        }
        migrator.registerMigration("v7") { db in
            for statement in schemaV7 {
                try db.execute(sql: statement)
            }
        }
        migrator.registerMigration("v8", migrate: migrateV8)
        return migrator
    }

    /// Version 1.
    ///
    /// - `requests`: a column per `RequestRecord` field. Binary fields are BLOBs, user property
    ///   lists JSON text, enums their raw string, timestamps INTEGER unix milliseconds.
    /// - Indexes: identity (unique where present: duplicate suppression), `(state, wakeAt)`
    ///   (timers), `(device, state)`, `(receivedAt, id)` (newest-first keyset paging), plus two
    ///   partial indexes: finished records by `updatedAt` (purge) and undelivered final replies
    ///   (republish after a restart), which stay tiny.
    /// - Pending counts: `device_pending` (one row per device with pending requests) and the
    ///   one-row `pending_total`, kept exact by triggers on `requests`, so quota checks are O(1)
    ///   lookups instead of counts over the table. A request is pending while its state is
    ///   `received` or `dispatched`; a device's row is deleted when its count drops to 0.
    private static let schemaV1: [String] = {
        let pending = RequestState.pendingSQL
        return [
            """
            CREATE TABLE requests (
                id TEXT NOT NULL PRIMARY KEY,
                device TEXT NOT NULL,
                operation TEXT NOT NULL,
                deviceProtocol TEXT NOT NULL,
                correlationData BLOB,
                requestId TEXT,
                identity TEXT,
                responseTopic TEXT,
                qos INTEGER NOT NULL,
                payload BLOB NOT NULL,
                contentType TEXT,
                payloadFormatIndicator INTEGER,
                userProperties TEXT NOT NULL DEFAULT '[]',
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                receivedAt INTEGER NOT NULL,
                updatedAt INTEGER NOT NULL,
                deadline INTEGER NOT NULL,
                wakeAt INTEGER,
                replyStatus INTEGER,
                replyCode TEXT,
                replyPayload BLOB,
                replyContentType TEXT,
                replyUserProperties TEXT NOT NULL DEFAULT '[]',
                deliveredAt INTEGER,
                reason TEXT
            )
            """,
            "CREATE UNIQUE INDEX requests_identity ON requests (identity) WHERE identity IS NOT NULL",
            "CREATE INDEX requests_state_wake ON requests (state, wakeAt)",
            "CREATE INDEX requests_device_state ON requests (device, state)",
            "CREATE INDEX requests_received ON requests (receivedAt, id)",
            "CREATE INDEX requests_finished ON requests (updatedAt) WHERE state NOT IN \(pending)",
            """
            CREATE INDEX requests_undelivered ON requests (updatedAt, id)
            WHERE state NOT IN \(pending) AND replyStatus IS NOT NULL
                AND deliveredAt IS NULL AND responseTopic IS NOT NULL
            """,

            """
            CREATE TABLE device_pending (
                device TEXT NOT NULL PRIMARY KEY,
                count INTEGER NOT NULL
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE pending_total (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                count INTEGER NOT NULL
            )
            """,
            "INSERT INTO pending_total (id, count) VALUES (1, 0)",

            """
            CREATE TRIGGER requests_pending_insert AFTER INSERT ON requests
            WHEN NEW.state IN \(pending)
            BEGIN
                \(enterPending)
            END
            """,
            """
            CREATE TRIGGER requests_pending_delete AFTER DELETE ON requests
            WHEN OLD.state IN \(pending)
            BEGIN
                \(leavePending)
            END
            """,
            """
            CREATE TRIGGER requests_pending_leave AFTER UPDATE OF state, device ON requests
            WHEN OLD.state IN \(pending)
                AND (NEW.state NOT IN \(pending) OR NEW.device IS NOT OLD.device)
            BEGIN
                \(leavePending)
            END
            """,
            """
            CREATE TRIGGER requests_pending_enter AFTER UPDATE OF state, device ON requests
            WHEN NEW.state IN \(pending)
                AND (OLD.state NOT IN \(pending) OR NEW.device IS NOT OLD.device)
            BEGIN
                \(enterPending)
            END
            """,
        ]
    }()

    /// Version 2: indexes that a request's own transitions touch less.
    ///
    /// - Timers: a partial index on `wakeAt` of pending records replaces `(state, wakeAt)`, so
    ///   a record enters it at intake and leaves it when it ends, and is not touched after.
    /// - By device: `(device, receivedAt, id)` replaces `(device, state)`: listing a device's
    ///   requests newest first reads it in order, and no state change touches it.
    /// - Dead letters: a partial index in listing order, so listing them does not scan every
    ///   request. Its list is in `RequestState.allCases` order, as `deadLetters` spells it:
    ///   SQLite uses a partial index only for a query term that matches it.
    private static let schemaV2: [String] = [
        "DROP INDEX requests_state_wake",
        "CREATE INDEX requests_timers ON requests (wakeAt) WHERE state IN \(RequestState.pendingSQL)",
        "DROP INDEX requests_device_state",
        "CREATE INDEX requests_device ON requests (device, receivedAt, id)",
        "CREATE INDEX requests_dead_letters ON requests (receivedAt, id) WHERE state IN ('rejected', 'failed')",
    ]

    /// Trigger body: `NEW` became pending.
    private static let enterPending = """
        INSERT INTO device_pending (device, count) VALUES (NEW.device, 1)
            ON CONFLICT (device) DO UPDATE SET count = count + 1;
        UPDATE pending_total SET count = count + 1;
        """

    /// Trigger body: `OLD` stopped being pending.
    private static let leavePending = """
        UPDATE device_pending SET count = count - 1 WHERE device = OLD.device;
        DELETE FROM device_pending WHERE device = OLD.device AND count <= 0;
        UPDATE pending_total SET count = count - 1;
        """

    /// Version 3: undelivered final replies include those to MQTT 3.1.1 devices, which have a
    /// reply topic of the convention instead of a Response Topic.
    private static let schemaV3: [String] = [
        "DROP INDEX requests_undelivered",
        "CREATE INDEX requests_undelivered ON requests (updatedAt, id) WHERE \(undeliveredCondition)",
    ]

    /// Version 4: dead letters outlive `retention` (they are kept for `deadLetterRetention`) but
    /// stop answering duplicates at it, when the purge clears their identity. This partial
    /// index holds just those still to be cleared, so the purge finds them without reading
    /// every dead letter kept.
    /// Version 5: a record's `kind`, a device's request or a command to a device.
    private static let schemaV5 = "ALTER TABLE requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'request'"

    /// Version 6: the pending counts move into the process that writes the store
    /// (``PendingCounts``): the counter tables and the four triggers that kept them cost five
    /// statements on each request's way in and out.
    private static let schemaV6: [String] = [
        "DROP TRIGGER requests_pending_insert",
        "DROP TRIGGER requests_pending_delete",
        "DROP TRIGGER requests_pending_leave",
        "DROP TRIGGER requests_pending_enter",
        "DROP TABLE device_pending",
        "DROP TABLE pending_total",
    ]

    /// Version 7: writes go to the intake journal first (``IntakeJournal``); the number of the
    /// last journal segment applied to this file is kept with what it applied.
    private static let schemaV7: [String] = [
        "CREATE TABLE journal_applied (id INTEGER PRIMARY KEY CHECK (id = 1), segment INTEGER NOT NULL)",
        "INSERT INTO journal_applied (id, segment) VALUES (1, 0)",
    ]

    /// Version 8: identities are indexed by their ``IdentityHash``, in a column of its own,
    /// instead of by their text; lookups compare both. The index is no longer unique: the
    /// store's one writer finds duplicates before it writes (``StoreTransaction``).
    private static func migrateV8(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE requests ADD COLUMN identityHash INTEGER")
        let hash = DatabaseFunction("courier_identity_hash", argumentCount: 1, pure: true) { values in
            String.fromDatabaseValue(values[0]).map(IdentityHash.of)
        }
        db.add(function: hash)
        defer { db.remove(function: hash) }
        try db.execute(sql: "UPDATE requests SET identityHash = courier_identity_hash(identity) WHERE identity IS NOT NULL")
        try db.execute(sql: "DROP INDEX requests_identity")
        try db.execute(sql: "CREATE INDEX requests_identity_hash ON requests (identityHash) WHERE identityHash IS NOT NULL")
    }

    private static let schemaV4 = """
        CREATE INDEX requests_dead_letter_identities ON requests (updatedAt)
        WHERE \(deadLetterIdentityCondition)
        """

    /// The `WHERE` of `requests_dead_letter_identities`, repeated verbatim by the purge.
    static let deadLetterIdentityCondition = "state IN ('rejected', 'failed') AND identity IS NOT NULL"

    /// Final replies still to be published: the `WHERE` of the `requests_undelivered` partial
    /// index, repeated verbatim by `undelivered(limit:)` so SQLite can use the index.
    static let undeliveredCondition = """
        state NOT IN \(RequestState.pendingSQL) AND replyStatus IS NOT NULL \
        AND deliveredAt IS NULL AND (responseTopic IS NOT NULL OR deviceProtocol = 'mqtt311')
        """
}
