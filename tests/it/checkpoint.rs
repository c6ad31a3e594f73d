//! SQLite's WAL copied back into the database by a thread of its own (`db::checkpoint`), so
//! that the one writer (the group committer, bulk `ingest`) only commits; without one, the
//! writer checkpoints as SQLite would. PostgreSQL checkpoints itself.

use std::time::Duration;

use madoguchi::db::checkpoint::Checkpointer;
use madoguchi::db::{self, quarantine};
use madoguchi::timesource::TimeSource;

use crate::both_backends;
use crate::support::{Backend, TestDb, eventually, test_settings};

both_backends!(
    the_wal_is_copied_back_beside_the_writer_not_by_it,
    a_bulk_writer_checkpoints_only_past_64_mib_and_holds_a_batch_in_its_cache,
);

/// Commits about `mib` MiB (1,000 WAL pages are 4 MiB) in one transaction.
fn write_mib(pool: &db::Pool, mib: usize) {
    let mut conn = pool.get().unwrap();
    let now = madoguchi::timesource::SystemTime.now();
    let raw = vec![b'x'; 64 * 1024];
    db::write_tx(&mut conn, |conn| {
        for _ in 0..mib * 16 {
            quarantine::put(conn, &raw, "test", "bulk", now)?;
        }
        Ok::<_, db::DbError>(())
    })
    .unwrap();
}

fn file_mib(db: &TestDb) -> u64 {
    std::fs::metadata(db.dir.join("madoguchi.db")).map_or(0, |m| m.len()) >> 20
}

fn the_wal_is_copied_back_beside_the_writer_not_by_it(backend: Backend) {
    let db = TestDb::new(backend);
    let settings = test_settings(&db);
    let pool = db::connect(&settings.database).unwrap();
    let checkpoints = Checkpointer::start(&pool, &settings.database.url);
    if backend == Backend::Postgres {
        assert!(checkpoints.is_none(), "PostgreSQL checkpoints itself");
        return;
    }
    let checkpoints = checkpoints.expect("a checkpointer for SQLite");
    let before = file_mib(&db);

    // 12 MiB: past the 1,000 pages at which a checkpoint is due, short of the writer's own.
    write_mib(&pool, 12);
    let copied = eventually(Duration::from_secs(10), || {
        (checkpoints.done() >= 1 && file_mib(&db) >= before + 12).then_some(())
    });
    assert!(
        copied.is_some(),
        "the checkpointer copied the WAL back: {} checkpoints, {} MiB",
        checkpoints.done(),
        file_mib(&db)
    );

    // Without a checkpointer the writer copies it itself, before its commit returns.
    drop(checkpoints);
    let before = file_mib(&db);
    write_mib(&pool, 12);
    assert!(
        file_mib(&db) >= before + 12,
        "the writer checkpointed: {before} MiB then {} MiB",
        file_mib(&db)
    );
}

#[derive(diesel::QueryableByName)]
struct CacheSize {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    cache_size: i64,
}

/// Bulk `ingest` (`checkpoint::for_bulk_writing`): a batch's pages stay in the cache, and the
/// WAL is copied back at 16,000 pages (62.5 MiB), not at SQLite's 1,000; with `synchronous =
/// normal` (the WAL synced at checkpoints only) as often as for any writer.
fn a_bulk_writer_checkpoints_only_past_64_mib_and_holds_a_batch_in_its_cache(backend: Backend) {
    use diesel::RunQueryDsl;
    use madoguchi::config::SqliteSynchronous;
    let db = TestDb::new(backend);
    let mut settings = test_settings(&db);
    // The tests' own default is normal (see below); bulk ingest's is full.
    settings.database.sqlite_synchronous = SqliteSynchronous::Full;
    let pool = db::connect(&settings.database).unwrap();
    let mut conn = pool.get().unwrap();
    db::checkpoint::for_bulk_writing(&mut conn).expect("nothing to refuse");
    let db::DbConn::Sqlite(sqlite) = &mut *conn else {
        // PostgreSQL has nothing of the kind to set; the connection still writes.
        drop(conn);
        write_mib(&pool, 1);
        return;
    };
    let cache = diesel::sql_query("PRAGMA cache_size")
        .get_result::<CacheSize>(sqlite)
        .unwrap();
    assert_eq!(cache.cache_size, -65536, "a page cache of 64 MiB");
    drop(conn);

    // 48 MiB (over 12,000 pages): a checkpoint would be due for any other writer (the test
    // above) after the first 4 MiB; not for this one, short of 16,000 pages.
    let before = file_mib(&db);
    write_mib(&pool, 12);
    write_mib(&pool, 36);
    assert!(
        file_mib(&db) < before + 12,
        "the WAL kept its 48 MiB: file {before} MiB then {} MiB",
        file_mib(&db)
    );
    // Past 16,000 pages (68 MiB, over 17,000) the writer copies it back itself.
    write_mib(&pool, 20);
    assert!(
        file_mib(&db) >= before + 64,
        "the writer checkpointed past 16,000 pages: file {before} MiB then {} MiB",
        file_mib(&db)
    );

    // With `synchronous = normal` the bulk writer checkpoints as any writer does.
    let db = TestDb::new(backend);
    let mut settings = test_settings(&db);
    settings.database.sqlite_synchronous = SqliteSynchronous::Normal;
    let pool = db::connect(&settings.database).unwrap();
    db::checkpoint::for_bulk_writing(&mut pool.get().unwrap()).unwrap();
    let before = file_mib(&db);
    write_mib(&pool, 12);
    assert!(
        file_mib(&db) >= before + 12,
        "with synchronous = normal, checkpointed at once: file {before} MiB then {} MiB",
        file_mib(&db)
    );
}
