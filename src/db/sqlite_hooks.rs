//! The busy handler every SQLite connection of the process gets as SQLite opens it, its WAL
//! hook (`checkpoint`), and the process's SQLite settings (no per-connection mutex, no
//! memory count).
//!
//! SQLite's own (`busy_timeout`) sleeps 1, 2, 5, 10 … up to 100 ms a try, so a process that
//! finds the write lock held by the one-millisecond transactions of other `ingest` processes
//! sleeps far longer than it waits: with four at once, half the CPU stood idle. Here a waiter
//! tries again after 100 µs, later every millisecond, for as long as `busy_timeout` was.
//!
//! Tried and not kept: keeping the WAL file between processes (`SQLITE_FCNTL_PERSIST_WAL`) or
//! skipping the checkpoint at close (`SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`) would each save an
//! fsync or two per process, but the next process to open the file alone does not trust the
//! WAL index and reads the whole WAL to rebuild it, and the WAL then grew without end.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::sync::Once;
use std::time::Duration;

use libsqlite3_sys as ffi;

/// How long a writer waits for another process's write lock before it gives up (SQLite's
/// `SQLITE_BUSY`: a command exits 75, and the MTA tries again later).
const BUSY_FOR: Duration = Duration::from_secs(15);
/// Retries this many times every 100 µs, then every millisecond.
const SHORT_TRIES: u32 = 200;

/// How long to sleep before try `tries + 1`, or `None` to give up: 100 µs for the first
/// tries, then a millisecond, until the sleeps add up to `BUSY_FOR`.
fn wait_before(tries: c_int) -> Option<Duration> {
    let tries = u32::try_from(tries).unwrap_or(0);
    let slept = Duration::from_micros(100) * tries.min(SHORT_TRIES)
        + Duration::from_millis(1) * tries.saturating_sub(SHORT_TRIES);
    (slept < BUSY_FOR).then_some(if tries < SHORT_TRIES {
        Duration::from_micros(100)
    } else {
        Duration::from_millis(1)
    })
}

/// Asked by SQLite, while another connection holds the lock, whether to try again (1) or give
/// up (0, and the statement fails with `SQLITE_BUSY`).
unsafe extern "C" fn retry_soon(_arg: *mut c_void, tries: c_int) -> c_int {
    if OPENING.get() {
        return 0;
    }
    match wait_before(tries) {
        Some(pause) => {
            std::thread::sleep(pause);
            1
        }
        None => 0,
    }
}

/// Run by SQLite for every connection it opens in this process (`sqlite3_auto_extension`).
unsafe extern "C" fn on_open(
    db: *mut ffi::sqlite3,
    _error: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: SQLite passes the connection it is opening, valid for this call; the handler
    // lives as long as the process and uses no argument.
    unsafe {
        ffi::sqlite3_busy_handler(db, Some(retry_soon), std::ptr::null_mut());
    }
    JUST_OPENED.set(db);
    ffi::SQLITE_OK
}

/// Gives the connection this thread has just opened its WAL hook (`checkpoint`). Not done in
/// `on_open`: SQLite sets its own autocheckpoint (a WAL hook too) after the open hooks ran.
/// To be called right after a connection was opened successfully on this thread.
pub(super) fn hook_just_opened() {
    let db = JUST_OPENED.replace(std::ptr::null_mut());
    if !db.is_null() {
        // SAFETY: set by `on_open` for the connection this thread opened last, which the
        // caller has just seen open, and which no other thread has yet.
        unsafe { super::checkpoint::hook(db) }
    }
}

thread_local! {
    /// Set while this thread sets a connection up (`opening`).
    static OPENING: Cell<bool> = const { Cell::new(false) };
    /// The connection `on_open` saw last on this thread, until `hook_just_opened` takes it.
    static JUST_OPENED: Cell<*mut ffi::sqlite3> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs `f` (opening a connection and its pragmas) with no retrying: a file another process
/// holds locked at start is reported at once, as before, not after the pool's own timeout.
pub(super) fn opening<T>(f: impl FnOnce() -> T) -> T {
    /// Clears the mark however `f` ends, a panic included, so the thread's later connections
    /// wait as they should.
    struct Opened;
    impl Drop for Opened {
        fn drop(&mut self) {
            OPENING.set(false);
            JUST_OPENED.set(std::ptr::null_mut());
        }
    }
    OPENING.set(true);
    // Only a connection opened within `f` is hooked, never one an earlier, failed open left.
    JUST_OPENED.set(std::ptr::null_mut());
    let _opened = Opened;
    f()
}

/// Registers the hook once, before the first connection of the process is opened.
pub(super) fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: both settings are taken only before SQLite initialises (which
        // `sqlite3_auto_extension` does next); later they answer SQLITE_MISUSE and change
        // nothing. The entry point has the signature SQLite calls it with, and lives as long
        // as the process.
        unsafe {
            // No mutex on each connection: a diesel connection is used by one thread at a
            // time (it is Send, not Sync), so SQLite's locking of it on every call (5 % of a
            // report's time) bought nothing. Each thread still has a connection of its own.
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MULTITHREAD);
            // No count of memory in use, which took a global mutex on every allocation.
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int);
            ffi::sqlite3_auto_extension(Some(on_open));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_opened_after_registering_have_no_mutex_of_their_own() {
        register();
        let mut db: *mut ffi::sqlite3 = std::ptr::null_mut();
        // SAFETY: a private in-memory database, opened, asked and closed on this thread.
        unsafe {
            let opened = ffi::sqlite3_open_v2(
                c":memory:".as_ptr(),
                &mut db,
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE,
                std::ptr::null(),
            );
            assert_eq!(opened, ffi::SQLITE_OK);
            let mutex = ffi::sqlite3_db_mutex(db);
            ffi::sqlite3_close(db);
            assert!(mutex.is_null(), "SQLite still locks each connection");
        }
    }

    #[test]
    fn a_waiter_tries_again_within_a_millisecond_and_gives_up_after_fifteen_seconds() {
        let mut slept = Duration::ZERO;
        let mut tries = 0;
        while let Some(pause) = wait_before(tries) {
            assert!(pause <= Duration::from_millis(1), "try {tries}: {pause:?}");
            slept += pause;
            tries += 1;
        }
        assert_eq!(slept, BUSY_FOR);
        assert_eq!(wait_before(tries + 1), None);
        assert_eq!(wait_before(c_int::MAX), None);
        // The first 20 ms go in steps of 100 µs: a lock held for 1 ms costs a waiter ~1 ms.
        assert_eq!(wait_before(0), Some(Duration::from_micros(100)));
        assert_eq!(wait_before(199), Some(Duration::from_micros(100)));
    }
}
