import CourierCore
import PostgresNIO

extension PostgresStore {
    /// The schema, one migration per version, with ``SQLiteStore``'s version names and
    /// changes. Migrations are append-only: a released one is never edited.
    static let migrations: [(version: String, statements: [String])] = [
        ("v1", schemaV1), ("v2", schemaV2), ("v3", schemaV3), ("v4", schemaV4), ("shared-v1", sharedV1), ("v5", schemaV5),
    ]

    /// Applies the versions the database does not have yet, in one transaction. An advisory
    /// lock makes bridges that start together take turns; the versions applied are rows of
    /// `schema_migrations`.
    static func migrate(_ session: Session) throws {
        try session.transaction {
            try session.query("SELECT pg_advisory_xact_lock(\(migrationLock))")
            try session.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            let applied = Set(try session.query("SELECT version FROM schema_migrations").map { try $0.decode(String.self) })
            let unknown = applied.subtracting(migrations.map(\.version))
            guard unknown.isEmpty else { throw PostgresStoreError.unknownSchemaVersions(unknown.sorted()) }
            for (version, statements) in migrations where !applied.contains(version) {
                for statement in statements {
                    try session.query(PostgresQuery(unsafeSQL: statement))
                }
                try session.query("INSERT INTO schema_migrations (version, applied_at) VALUES (\(version), \(unixMillis()))")
            }
        }
    }

    /// The advisory lock key of migrations: "courier" in ASCII.
    private static let migrationLock: Int64 = 0x63_6f_75_72_69_65_72

    /// Version 1, as SQLite's.
    ///
    /// - `requests`: a column per `RequestRecord` field. Binary fields are BYTEA, user property
    ///   lists JSON text (byte for byte as SQLite keeps them), enums their raw string,
    ///   timestamps BIGINT unix milliseconds. Ids, devices, operations and identities compare
    ///   byte-wise (`COLLATE "C"`), as in SQLite, so that pages and timers come in the same
    ///   order whatever the database's locale.
    /// - Indexes: identity (unique where present: duplicate suppression), `(state, wake_at)`,
    ///   `(device, state)`, `(received_at, id)` (newest-first keyset paging), and the partial
    ///   ones of finished records (purge) and undelivered final replies (republishing).
    /// - Pending counts: `device_pending` and the one-row `pending_total`, kept exact by a
    ///   trigger on `requests`, so quota checks are lookups instead of counts. The trigger
    ///   changes `pending_total` before `device_pending`, and intake locks `pending_total`
    ///   before reading either: every transaction that changes a count takes that row's lock
    ///   first, which makes concurrent quota checks exact and their locks deadlock-free.
    private static let schemaV1: [String] = {
        let pending = RequestColumns.pendingSQL
        return [
            """
            CREATE TABLE requests (
                id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
                device TEXT COLLATE "C" NOT NULL,
                operation TEXT COLLATE "C" NOT NULL,
                device_protocol TEXT NOT NULL,
                correlation_data BYTEA,
                request_id TEXT,
                identity TEXT COLLATE "C",
                response_topic TEXT,
                qos INTEGER NOT NULL,
                payload BYTEA NOT NULL,
                content_type TEXT,
                payload_format_indicator INTEGER,
                user_properties TEXT NOT NULL DEFAULT '[]',
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                received_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                deadline BIGINT NOT NULL,
                wake_at BIGINT,
                reply_status INTEGER,
                reply_code TEXT,
                reply_payload BYTEA,
                reply_content_type TEXT,
                reply_user_properties TEXT NOT NULL DEFAULT '[]',
                delivered_at BIGINT,
                reason TEXT
            )
            """,
            "CREATE UNIQUE INDEX requests_identity ON requests (identity) WHERE identity IS NOT NULL",
            "CREATE INDEX requests_state_wake ON requests (state, wake_at)",
            "CREATE INDEX requests_device_state ON requests (device, state)",
            "CREATE INDEX requests_received ON requests (received_at, id)",
            "CREATE INDEX requests_finished ON requests (updated_at) WHERE state NOT IN \(pending)",
            """
            CREATE INDEX requests_undelivered ON requests (updated_at, id)
            WHERE state NOT IN \(pending) AND reply_status IS NOT NULL
                AND delivered_at IS NULL AND response_topic IS NOT NULL
            """,
            """
            CREATE TABLE device_pending (
                device TEXT COLLATE "C" NOT NULL PRIMARY KEY,
                count BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE pending_total (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                count BIGINT NOT NULL
            )
            """,
            "INSERT INTO pending_total (id, count) VALUES (1, 0)",
            """
            CREATE FUNCTION requests_pending_counts() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                was_pending boolean := TG_OP <> 'INSERT' AND OLD.state IN \(pending);
                is_pending boolean := TG_OP <> 'DELETE' AND NEW.state IN \(pending);
                moved boolean := TG_OP = 'UPDATE' AND NEW.device IS DISTINCT FROM OLD.device;
            BEGIN
                IF was_pending AND (NOT is_pending OR moved) THEN
                    UPDATE pending_total SET count = count - 1 WHERE id = 1;
                    UPDATE device_pending SET count = count - 1 WHERE device = OLD.device;
                    DELETE FROM device_pending WHERE device = OLD.device AND count <= 0;
                END IF;
                IF is_pending AND (NOT was_pending OR moved) THEN
                    UPDATE pending_total SET count = count + 1 WHERE id = 1;
                    INSERT INTO device_pending (device, count) VALUES (NEW.device, 1)
                        ON CONFLICT (device) DO UPDATE SET count = device_pending.count + 1;
                END IF;
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER requests_pending_counts
            AFTER INSERT OR DELETE OR UPDATE OF state, device ON requests
            FOR EACH ROW EXECUTE FUNCTION requests_pending_counts()
            """,
        ]
    }()

    /// Version 2, as SQLite's: a partial index of pending records' timers replaces
    /// `(state, wake_at)`, `(device, received_at, id)` replaces `(device, state)`, and dead
    /// letters get a partial index in listing order.
    private static let schemaV2: [String] = [
        "DROP INDEX requests_state_wake",
        "CREATE INDEX requests_timers ON requests (wake_at) WHERE state IN \(RequestColumns.pendingSQL)",
        "DROP INDEX requests_device_state",
        "CREATE INDEX requests_device ON requests (device, received_at, id)",
        "CREATE INDEX requests_dead_letters ON requests (received_at, id) WHERE state IN ('rejected', 'failed')",
    ]

    /// Version 3, as SQLite's: undelivered final replies include those to MQTT 3.1.1 devices.
    private static let schemaV3: [String] = [
        "DROP INDEX requests_undelivered",
        "CREATE INDEX requests_undelivered ON requests (updated_at, id) WHERE \(undeliveredCondition)",
    ]

    /// Version 4, as SQLite's: dead letters whose identity the purge still has to clear.
    private static let schemaV4: [String] = [
        "CREATE INDEX requests_dead_letter_identities ON requests (updated_at) WHERE \(deadLetterIdentityCondition)"
    ]

    /// Version 5, as SQLite's: a record's `kind`.
    private static let schemaV5: [String] = ["ALTER TABLE requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'request'"]

    /// The shared store's own first version (SQLite, with one bridge, has no need of it): each
    /// request's `owner`, the bridge that works it, and `bridge_leases`, one row per live
    /// bridge. The timer index leads with the owner, since each bridge reads only its own
    /// timers; `requests_owned` finds what a lapsed bridge owned. Requests stored before this
    /// version have no owner until a bridge takes them over.
    private static let sharedV1: [String] = [
        "ALTER TABLE requests ADD COLUMN owner TEXT COLLATE \"C\"",
        "DROP INDEX requests_timers",
        "CREATE INDEX requests_timers ON requests (owner, wake_at) WHERE state IN \(RequestColumns.pendingSQL)",
        "CREATE INDEX requests_owned ON requests (owner) WHERE state IN \(RequestColumns.pendingSQL) OR \(undeliveredCondition)",
        """
        CREATE TABLE bridge_leases (
            bridge_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
            expires_at BIGINT NOT NULL,
            renewed_at BIGINT NOT NULL
        )
        """,
    ]

    /// The `WHERE` of `requests_dead_letter_identities`, repeated by the purge.
    static let deadLetterIdentityCondition = "state IN ('rejected', 'failed') AND identity IS NOT NULL"

    /// Final replies still to be published: the `WHERE` of `requests_undelivered`, repeated by
    /// `undelivered(limit:)`.
    static let undeliveredCondition = """
        state NOT IN \(RequestColumns.pendingSQL) AND reply_status IS NOT NULL \
        AND delivered_at IS NULL AND (response_topic IS NOT NULL OR device_protocol = 'mqtt311')
        """
}
