//! SQLite's checkpoint (copying the WAL back into the database file) on a thread of its own,
//! for `serve`.
//!
//! SQLite checkpoints in the connection that commits, once the WAL holds 1,000 pages: that
//! writer then reads every page back from the WAL, writes it into the database and fsyncs it,
//! while the commits behind it wait (the group commit has one committer on SQLite). Bulk
//! `ingest` does without: its two threads already keep both cores busy, and a third measured
//! slower. Here each connection's commit only asks ([`wal_pages`], its WAL hook); a
//! checkpointer thread copies in the background (PASSIVE: it never blocks a writer or a
//! reader), on a connection of the pool. A checkpointer that falls behind, or a database no
//! checkpointer looks after (a one-mail `ingest`, another process), is checkpointed by the
//! committing connection as SQLite would, and one that lets the WAL reach
//! [`WRITER_CHECKPOINTS_AT`] is too: the WAL never grows without end.
//!
//! Bulk `ingest` writes batches of a few thousand pages: it checkpoints only at
//! [`WRITER_CHECKPOINTS_AT`], so that an index page written by every batch is copied back once
//! for several of them, and holds a batch in its page cache ([`for_bulk_writing`]). Only with
//! `synchronous = full`: with `normal` the WAL is synced at a checkpoint only, so fewer
//! checkpoints would leave more commits unsynced.

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;

use diesel::RunQueryDsl;
use diesel::sql_types::Text;
use libsqlite3_sys as ffi;

use super::{DbConn, DbTarget, Pool};

/// WAL pages after which a checkpoint is due: SQLite's own default.
const DUE_AT: c_int = 1000;
/// WAL pages (64 MiB) after which the committing connection checkpoints itself even when a
/// checkpointer looks after the file.
pub const WRITER_CHECKPOINTS_AT: c_int = 16_000;

/// How long the checkpointer waits for a connection of the pool before it leaves this
/// checkpoint to the next commit's asking.
const GET_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// One per database file this process opened, for as long as it runs (never removed, so the
/// WAL hooks' pointers to it stay valid).
#[derive(Default)]
struct File {
    /// Checkpointers looking after this file.
    keepers: AtomicUsize,
    /// A bulk writer works on this file: the writer checkpoints at
    /// [`WRITER_CHECKPOINTS_AT`] only, and no checkpointer is asked before (for the rest of
    /// the process: only `ingest` sets it).
    bulk: AtomicBool,
    due: Mutex<bool>,
    wake: Condvar,
}

fn files() -> &'static Mutex<HashMap<Vec<u8>, &'static File>> {
    static FILES: OnceLock<Mutex<HashMap<Vec<u8>, &'static File>>> = OnceLock::new();
    FILES.get_or_init(Mutex::default)
}

fn file(name: &[u8]) -> &'static File {
    let mut files = files().lock().unwrap_or_else(|p| p.into_inner());
    files
        .entry(name.to_vec())
        .or_insert_with(|| Box::leak(Box::default()))
}

/// Gives the connection just opened its WAL hook (replacing SQLite's autocheckpoint, which
/// is also a WAL hook).
///
/// # Safety
/// `db` is an open connection, used by no other thread during this call.
pub(super) unsafe fn hook(db: *mut ffi::sqlite3) {
    // SAFETY: `db` is open (the caller's promise); "main" is its database.
    let name = unsafe { ffi::sqlite3_db_filename(db, c"main".as_ptr()) };
    if name.is_null() {
        return;
    }
    // SAFETY: SQLite's file name, valid while the connection is open; copied here.
    let name = unsafe { CStr::from_ptr(name) }.to_bytes();
    if name.is_empty() {
        // In memory or temporary: no WAL to look after.
        return;
    }
    let file: *const File = file(name);
    // SAFETY: the hook's argument is a `File` that lives as long as the process.
    unsafe {
        ffi::sqlite3_wal_hook(db, Some(wal_pages), file.cast_mut().cast());
    }
}

/// Called by SQLite after each commit with the pages now in the WAL.
unsafe extern "C" fn wal_pages(
    file: *mut c_void,
    db: *mut ffi::sqlite3,
    name: *const c_char,
    pages: c_int,
) -> c_int {
    if pages < DUE_AT {
        return ffi::SQLITE_OK;
    }
    // SAFETY: the argument given in `hook`, a `File` never freed.
    let file = unsafe { &*file.cast::<File>() };
    if pages < WRITER_CHECKPOINTS_AT && file.bulk.load(Ordering::Relaxed) {
        return ffi::SQLITE_OK;
    }
    if pages < WRITER_CHECKPOINTS_AT && file.keepers.load(Ordering::Relaxed) > 0 {
        *file.due.lock().unwrap_or_else(|p| p.into_inner()) = true;
        file.wake.notify_one();
        return ffi::SQLITE_OK;
    }
    // SAFETY: the connection and database name SQLite called the hook with. As SQLite's own
    // autocheckpoint does: PASSIVE, and a busy result is no error of the commit.
    unsafe {
        ffi::sqlite3_wal_checkpoint(db, name);
    }
    ffi::SQLITE_OK
}

/// Checkpoints one SQLite database in the background until dropped.
pub struct Checkpointer {
    file: &'static File,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

#[derive(diesel::QueryableByName)]
struct DatabaseFile {
    #[diesel(sql_type = Text)]
    file: String,
}

/// Page cache of a bulk writer, in KiB: a batch's pages (up to 256 mails or 32 MiB of mail,
/// `cli::ingest`) fit, so none is written to the WAL before the commit and read back to be
/// written again (SQLite's cache spill, with its default 2 MiB: a tenth of bulk ingest's
/// storing).
const BULK_CACHE_KIB: u32 = 64 * 1024;

#[derive(diesel::QueryableByName)]
struct Synchronous {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    synchronous: i32,
}

/// Readies `conn` for bulk writing, for as long as this process runs: a page cache of
/// [`BULK_CACHE_KIB`], and, where every commit is synced (`synchronous` full or extra), its
/// database file checkpointed at [`WRITER_CHECKPOINTS_AT`] pages only (the WAL then grows to
/// that and one batch). Nothing to do on PostgreSQL.
pub fn for_bulk_writing(conn: &mut DbConn) -> Result<(), super::DbError> {
    let DbConn::Sqlite(sqlite) = conn else {
        return Ok(());
    };
    diesel::connection::SimpleConnection::batch_execute(
        sqlite,
        &format!("PRAGMA cache_size = -{BULK_CACHE_KIB}"),
    )?;
    // 2 is FULL, 3 EXTRA; with NORMAL the WAL is synced at checkpoints only.
    let synced = diesel::sql_query("PRAGMA synchronous")
        .get_result::<Synchronous>(sqlite)?
        .synchronous
        >= 2;
    if synced {
        let name = main_file(sqlite)?;
        if !name.is_empty() {
            file(name.as_bytes()).bulk.store(true, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// The database file's name as SQLite gives it to the WAL hook ("" in memory).
fn main_file(sqlite: &mut diesel::SqliteConnection) -> diesel::QueryResult<String> {
    diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .get_result::<DatabaseFile>(sqlite)
        .map(|f| f.file)
}

impl Checkpointer {
    /// For a SQLite pool (none for PostgreSQL, which checkpoints itself, nor when the thread
    /// cannot start: the writers then checkpoint as SQLite does).
    pub fn start(pool: &Pool, url: &str) -> Option<Self> {
        if !matches!(DbTarget::parse(url), Ok(DbTarget::Sqlite(_))) {
            return None;
        }
        // The name as SQLite gives it to the WAL hook.
        let mut conn = pool.get().ok()?;
        let DbConn::Sqlite(sqlite) = &mut *conn else {
            return None;
        };
        let name = main_file(sqlite).ok()?;
        drop(conn);
        let file = file(name.as_bytes());
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let thread = {
            let (pool, stop, done) = (pool.clone(), stop.clone(), done.clone());
            std::thread::Builder::new()
                .name("sqlite-checkpoint".into())
                .spawn(move || run(file, &pool, &stop, &done))
                .map_err(|e| tracing::warn!(error = %e, "no background checkpoint"))
                .ok()?
        };
        file.keepers.fetch_add(1, Ordering::Relaxed);
        Some(Self {
            file,
            stop,
            done,
            thread: Some(thread),
        })
    }

    /// Checkpoints run so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

fn run(file: &File, pool: &Pool, stop: &AtomicBool, done: &AtomicU64) {
    loop {
        {
            let mut due = file.due.lock().unwrap_or_else(|p| p.into_inner());
            while !*due && !stop.load(Ordering::Relaxed) {
                due = file.wake.wait(due).unwrap_or_else(|p| p.into_inner());
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
            *due = false;
        }
        // A failure (the pool exhausted, the disk full) leaves the WAL as it is: the next
        // commit asks again, and past `WRITER_CHECKPOINTS_AT` the writer does it.
        // Briefly: a stop waits for this thread (at the end of `serve`).
        let copied = pool.get_timeout(GET_WAIT).ok().is_some_and(|mut conn| {
            diesel::connection::SimpleConnection::batch_execute(
                &mut *conn,
                "PRAGMA wal_checkpoint(PASSIVE)",
            )
            .is_ok()
        });
        if copied {
            done.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Without another keeper, the writers checkpoint themselves again from now on.
        self.file.keepers.fetch_sub(1, Ordering::Relaxed);
        self.stop.store(true, Ordering::Relaxed);
        {
            let _due = self.file.due.lock().unwrap_or_else(|p| p.into_inner());
            self.file.wake.notify_all();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
