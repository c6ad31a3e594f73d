//! The persistence layer: the only place with SQL, a file per table plus read views (`queue`,
//! `reports`). One connection enum serves SQLite and PostgreSQL; the backend is chosen by the
//! URL's scheme.

pub mod alerts_sent;
pub mod attachments;
pub mod audit;
pub mod case_values;
pub mod checkpoint;
pub mod clocks;
pub mod consulters;
pub mod drafts;
pub mod group_commit;
pub mod imap_state;
pub mod leader;
pub mod login_failures;
pub mod messages;
pub mod my_access;
pub mod my_reads;
pub mod my_sessions;
pub mod my_sign_in_failures;
mod native;
pub mod outbox;
pub mod parallel;
pub mod quarantine;
pub mod reviews;
pub mod schema;
pub mod sessions;
mod sqlite_hooks;
pub mod staff;
pub mod text_modules;
pub mod tickets;
pub mod triage_flags;
mod vocabulary;

// Read views over several tables, each in a fixed number of queries.
pub mod my_thread;
pub mod queue;
pub mod reports;
pub mod statistics;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::{DatabaseSettings, SqliteSynchronous};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<DbManager>;
/// The backend of [`DbConn`], for boxed queries.
pub type Backend = <DbConn as Connection>::Backend;
pub type PooledConn = r2d2::PooledConnection<DbManager>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had (database down, pool exhausted).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database.url \"{0}\" must start with sqlite:// or postgres://")]
    BadUrl(String),
    /// The SQLite file or its folder cannot be written (read-only, no permission): an
    /// operator has to act, waiting will not help.
    #[error("{0}")]
    NotWritable(String),
}

impl From<r2d2::PoolError> for DbError {
    fn from(e: r2d2::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl DbError {
    /// Whether the database itself is out of reach or cannot take writes just now (down, a
    /// lost connection, locked past the busy timeout, a full disk): worth trying again
    /// later. Any other failure belongs to what was being stored, and trying again would
    /// fail for ever.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind as Kind, Error as E};
        /// Words of SQLite and PostgreSQL for a database that cannot answer now.
        const TRANSIENT: &[&str] = &[
            "database is locked",
            "database table is locked",
            "disk i/o error",
            "database or disk is full",
            "unable to open database",
            "readonly database",
            "closed the connection",
            "no connection to the server",
            "terminating connection",
            "could not connect",
            "the database system is",
            "connection refused",
            "could not extend file",
            "no space left",
        ];
        match self {
            Self::Unavailable(_) | Self::Migration(_) => true,
            Self::BadUrl(_) | Self::NotWritable(_) => false,
            Self::Query(e) => match e {
                E::DatabaseError(Kind::ClosedConnection | Kind::SerializationFailure, _)
                | E::BrokenTransactionManager
                | E::RollbackErrorOnCommit { .. }
                | E::AlreadyInTransaction
                | E::NotInTransaction => true,
                E::DatabaseError(_, info) => {
                    let message = info.message().to_ascii_lowercase();
                    TRANSIENT.iter().any(|t| message.contains(t))
                }
                _ => false,
            },
        }
    }

    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Self::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// Where the data lives, parsed from `database.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbTarget {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DbTarget {
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            // sqlite:///abs keeps its leading slash; sqlite://rel is relative to the working folder.
            if path.is_empty() {
                return Err(DbError::BadUrl(url.into()));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.into()))
        } else {
            Err(DbError::BadUrl(url.into()))
        }
    }
}

/// Opens connections of the configured kind only: a Postgres URL that fails must never fall
/// through to creating an SQLite file of that name.
#[derive(Debug, Clone)]
pub struct DbManager {
    target: DbTarget,
    sqlite_synchronous: SqliteSynchronous,
}

impl ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match &self.target {
            DbTarget::Postgres(url) => PgConnection::establish(url)
                .map(DbConn::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            DbTarget::Sqlite(path) => {
                sqlite_hooks::register();
                // WAL lets readers work beside the one writer; the busy handler (set as SQLite
                // opens the file, `sqlite_hooks`) makes writers queue instead of failing, but
                // not while the connection is set up: a file locked at start is said at once.
                // Foreign keys are off by default in SQLite.
                // Statement journals (a savepoint per mail of a batch) in memory: no temporary
                // file made and removed in every write transaction.
                // Reads through a mapping of the file (up to SQLite's own 2 GB cap) instead of a
                // read() per page: a year's report reads millions of rows, and copying each page
                // out of the kernel was a tenth of its time (statistics at 1M: 1.35 s -> 1.16 s).
                // Writes still go through the WAL as before.
                let conn = sqlite_hooks::opening(|| {
                    let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                        .map_err(r2d2::Error::ConnectionError)?;
                    sqlite_hooks::hook_just_opened();
                    conn.batch_execute(&format!(
                        "PRAGMA journal_mode = WAL; \
                         PRAGMA foreign_keys = ON; PRAGMA synchronous = {}; \
                         PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 2147418112;",
                        self.sqlite_synchronous.as_str()
                    ))
                    .map_err(r2d2::Error::QueryError)?;
                    Ok::<_, r2d2::Error>(conn)
                })?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

/// Builds the pool and applies pending migrations; one connection is kept open and idle.
pub fn connect(settings: &DatabaseSettings) -> Result<Pool, DbError> {
    connect_keeping(settings, 1)
}

/// As [`connect`], for a command: connections are opened only when asked for, one at a
/// time. A pool that keeps one idle opens another in the background as soon as the first is
/// taken, and `ingest`, started once per mail, paid for three (each reading the schema).
pub fn connect_for_command(settings: &DatabaseSettings) -> Result<Pool, DbError> {
    connect_keeping(settings, 0)
}

fn connect_keeping(settings: &DatabaseSettings, idle: u32) -> Result<Pool, DbError> {
    let target = DbTarget::parse(&settings.url)?;
    if let DbTarget::Sqlite(path) = &target {
        prepare_sqlite_file(path)?;
    }
    let manager = DbManager {
        target: target.clone(),
        sqlite_synchronous: settings.sqlite_synchronous,
    };
    let pool = r2d2::Pool::builder()
        .max_size(settings.pool_size)
        // Open connections as needed: a one-shot `ingest` must not open (and contend on) all.
        .min_idle(Some(idle))
        .connection_timeout(Duration::from_secs(10))
        .build(manager);
    // The first connection's failure, in an operator's words; with no idle connection kept, it
    // is the first `get` that opens one.
    let start_error = |e: String| match &target {
        DbTarget::Sqlite(path) => sqlite_start_error(path, &e),
        DbTarget::Postgres(_) => DbError::Unavailable(e),
    };
    let pool = pool.map_err(|e| start_error(e.to_string()))?;
    let mut first = pool.get().map_err(|e| start_error(e.to_string()))?;
    run_migrations(&mut first)?;
    drop(first);
    Ok(pool)
}

/// Makes the SQLite file and its folder (0600 in 0700) and proves both writable before SQLite
/// opens them, so that a read-only disk or a file of another owner is said plainly at start.
fn prepare_sqlite_file(path: &std::path::Path) -> Result<(), DbError> {
    let why = |what: &std::path::Path, e: std::io::Error| {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ReadOnlyFilesystem | K::PermissionDenied => DbError::NotWritable(format!(
                "the SQLite database cannot be written: {} is read-only or not ours ({e}); \
                 database.url must name a file the service can write, in a folder it can write",
                what.display()
            )),
            _ => DbError::Unavailable(format!("cannot create {}: {e}", what.display())),
        }
    };
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        crate::private_files::create_dir_all(parent).map_err(|e| why(parent, e))?;
    }
    // Made 0600 before SQLite opens it: SQLite gives the WAL and SHM files its mode. Opened
    // for writing even when it exists, which is the writability check.
    crate::private_files::ensure_file(path).map_err(|e| why(path, e))
}

/// What SQLite said when no first connection could be had, in an operator's words.
fn sqlite_start_error(path: &std::path::Path, said: &str) -> DbError {
    if said.contains("locked") {
        DbError::Unavailable(format!(
            "the SQLite database {} is locked by another process; try again later",
            path.display()
        ))
    } else if said.contains("readonly") || said.contains("unable to open") {
        // Typically the folder: SQLite must create the -wal and -shm files beside the file.
        DbError::NotWritable(format!(
            "the SQLite database {} cannot be opened for writing ({said}); its folder must be \
             writable by the service",
            path.display()
        ))
    } else {
        DbError::Unavailable(said.to_string())
    }
}

pub fn run_migrations(conn: &mut DbConn) -> Result<(), DbError> {
    let applied = match conn {
        // The common case, read without the write lock: four `ingest` pipes starting together
        // must not queue behind each other only to find nothing to do.
        // Several processes may start at once on a new file (two `ingest` pipes for the first
        // mails): the write lock makes one migrate while the others wait, then find nothing
        // pending. Each migration's own transaction becomes a savepoint inside it.
        DbConn::Sqlite(c) => {
            if sqlite_up_to_date(c) {
                Ok(0)
            } else {
                c.immediate_transaction(|c| {
                    c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len())
                })
            }
        }
        DbConn::Postgres(c) => {
            // Several instances may start at once; one migrates while the others wait.
            c.batch_execute("SELECT pg_advisory_lock(7171001)")?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len());
            c.batch_execute("SELECT pg_advisory_unlock(7171001)")?;
            result
        }
    }
    .map_err(|e| DbError::Migration(e.to_string()))?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(())
}

/// Whether every embedded SQLite migration is recorded as applied; `false` for a new file (no
/// table yet) or anything unreadable, which then goes the careful way, under the write lock.
fn sqlite_up_to_date(c: &mut SqliteConnection) -> bool {
    use diesel::RunQueryDsl;
    use diesel::migration::MigrationSource;

    #[derive(diesel::QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let Ok(applied) =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load::<Applied>(c)
    else {
        return false;
    };
    let Ok(embedded) = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
    else {
        return false;
    };
    embedded.iter().all(|m| {
        let version = m.name().version().to_string();
        applied.iter().any(|a| a.version == version)
    })
}

/// SQLite has one writer per file. Writers of this process take turns here, in order, instead
/// of polling for the lock in the busy handler (`sqlite_hooks`), where the next to get it is
/// whoever tries first. Other processes on the same file still meet the busy handler.
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A write transaction. On SQLite it takes the write lock at BEGIN, so two writers queue on
/// the busy handler instead of one failing when it upgrades a read lock. Inside a transaction
/// already (a group commit's), it is a savepoint of it.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let status = <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn);
    if matches!(status.transaction_depth(), Ok(Some(_))) {
        return conn.transaction(f);
    }
    let _turn = match conn {
        DbConn::Sqlite(_) => Some(SQLITE_WRITER.lock().unwrap_or_else(|p| p.into_inner())),
        DbConn::Postgres(_) => None,
    };
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Whether the database answers at all.
pub fn ping(conn: &mut DbConn) -> Result<(), DbError> {
    Ok(conn.batch_execute("SELECT 1")?)
}

/// Times are stored as UTC without zone, cut to microseconds so both backends keep them alike.
pub fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.trunc_subsecs(6).naive_utc()
}

pub fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unreachable_database_is_worth_trying_again() {
        use diesel::result::{DatabaseErrorKind as Kind, Error as E};
        let db = |kind, message: &str| {
            DbError::Query(E::DatabaseError(kind, Box::new(message.to_string())))
        };
        for transient in [
            DbError::Unavailable("timed out waiting for connection".into()),
            db(
                Kind::ClosedConnection,
                "server closed the connection unexpectedly",
            ),
            db(Kind::Unknown, "database is locked"),
            db(Kind::Unknown, "database or disk is full"),
            db(
                Kind::Unknown,
                "FATAL: terminating connection due to administrator command",
            ),
            DbError::Query(E::BrokenTransactionManager),
        ] {
            assert!(transient.is_unavailable(), "{transient}");
        }
        for poison in [
            db(Kind::Unknown, "too many SQL variables"),
            db(
                Kind::Unknown,
                "invalid byte sequence for encoding \"UTF8\": 0x00",
            ),
            db(
                Kind::UnableToSendCommand,
                "number of parameters must be between 0 and 65535",
            ),
            db(Kind::CheckViolation, "CHECK constraint failed"),
            db(Kind::UniqueViolation, "duplicate key value"),
            DbError::Query(E::NotFound),
        ] {
            assert!(!poison.is_unavailable(), "{poison}");
        }
    }

    #[test]
    fn a_first_connection_refused_by_sqlite_is_named_for_the_operator() {
        let path = std::path::Path::new("/var/lib/madoguchi/m.db");
        let locked =
            sqlite_start_error(path, "timed out waiting for connection: database is locked");
        assert!(
            matches!(&locked, DbError::Unavailable(m) if m.contains("locked by another process"))
        );
        assert!(locked.is_unavailable(), "locked: try again later");
        for said in [
            "attempt to write a readonly database",
            "unable to open database file",
        ] {
            let e = sqlite_start_error(path, said);
            assert!(matches!(&e, DbError::NotWritable(m) if m.contains("/var/lib/madoguchi/m.db")));
            assert!(!e.is_unavailable(), "waiting will not help: {said}");
        }
        assert!(matches!(
            sqlite_start_error(path, "file is not a database"),
            DbError::Unavailable(_)
        ));
    }

    #[test]
    fn url_schemes_pick_the_backend() {
        assert_eq!(
            DbTarget::parse("sqlite://data/m.db").unwrap(),
            DbTarget::Sqlite("data/m.db".into())
        );
        assert_eq!(
            DbTarget::parse("sqlite:///var/lib/m.db").unwrap(),
            DbTarget::Sqlite("/var/lib/m.db".into())
        );
        assert!(matches!(
            DbTarget::parse("postgres://u@h:5432/d").unwrap(),
            DbTarget::Postgres(_)
        ));
        assert!(DbTarget::parse("mysql://x").is_err());
        assert!(DbTarget::parse("data/m.db").is_err());
        assert!(DbTarget::parse("sqlite://").is_err());
    }
}
