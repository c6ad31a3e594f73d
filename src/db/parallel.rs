//! Reads split over several connections at once, for the reports that read a million rows:
//! a supervisor waits on one request, and on a machine of two cores one connection used half
//! of it. The parts are runs of neighbouring items (months, id ranges), so each connection
//! walks its own stretch of an index. Each part is a read of its own: the parts do not share
//! one snapshot, which a report of counts over a year can bear (a write that lands meanwhile
//! is counted, or not, as if the report had been asked a moment earlier or later).

use std::time::Duration;

use super::{DbConn, DbError, Pool};

/// At most this many connections at once, the caller's among them.
const MOST: usize = 4;

/// How long a part waits for a connection of its own before it is read on the caller's.
const WAIT: Duration = Duration::from_millis(50);

/// How many parts a read is split into here: one per core, at most [`MOST`].
pub fn ways() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MOST)
}

/// `read` over `items` cut into `ways` runs of neighbours, in their order: the first run on
/// `conn`, each other on a connection of the pool at the same time. A part that finds no
/// connection free (the pool busy, or a command's pool of one) is read on `conn` after the
/// first, so the answer never depends on how busy the pool is.
pub fn split_read<I, T, F>(
    pool: &Pool,
    conn: &mut DbConn,
    items: &[I],
    ways: usize,
    read: F,
) -> Result<Vec<T>, DbError>
where
    I: Sync,
    T: Send,
    F: Fn(&mut DbConn, &[I]) -> Result<T, DbError> + Sync,
{
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let size = items.len().div_ceil(ways.max(1));
    let parts: Vec<&[I]> = items.chunks(size).collect();
    if parts.len() == 1 {
        return Ok(vec![read(conn, parts[0])?]);
    }
    let read = &read;
    std::thread::scope(|scope| {
        let others: Vec<_> = parts[1..]
            .iter()
            .map(|&part| {
                scope.spawn(move || match pool.get_timeout(WAIT) {
                    Ok(mut own) => Some(read(&mut own, part)),
                    Err(_) => None,
                })
            })
            .collect();
        let mut out = vec![read(conn, parts[0])];
        for (handle, &part) in others.into_iter().zip(&parts[1..]) {
            let done = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            out.push(done.unwrap_or_else(|| read(conn, part)));
        }
        out.into_iter().collect()
    })
}
