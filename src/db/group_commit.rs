//! Group commit: the writes of concurrent callers (consultations from the API and the form,
//! IMAP mail) are gathered for a moment and run in ONE write transaction, a savepoint each
//! (none for an item alone: the transaction is its own),
//! so that one commit (one WAL fsync on SQLite) pays for many. Each caller gets its own
//! result, and only once the group is committed:
//! - an item that fails rolls back its own savepoint and gets its own error; the others go on;
//! - a group that cannot begin or commit fails every item in it: none is answered as stored.
//!
//! Committer threads (started on first use) share the one queue, each committing the group
//! it took on a pooled connection of its own: one on SQLite (it has one writer), several on
//! PostgreSQL, where each statement is a network round trip and connections write in
//! parallel. Other processes and instances have theirs, and meet as writers do today
//! (SQLite's busy timeout, PostgreSQL's row locks).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::connection::TransactionManager;
use tokio::sync::oneshot;

use super::{DbConn, DbError, DbTarget, Pool, PooledConn, write_tx};

/// The most items in one group: a bound on how long the first of them waits for the commit.
const MAX_ITEMS: usize = 64;
/// How long a group waits for more work after the first item. Zero: a group is whatever
/// queued while the previous one committed, which under load is every waiting caller, and
/// costs a lone caller nothing.
const LINGER: Duration = Duration::ZERO;

/// How long a committer keeps its connection with nothing to commit: work that comes one
/// item at a time (a pipe's mail after mail, the delivery's outcomes) would otherwise check
/// it out of the pool, and have it tested, for every item.
const KEEP_CONNECTION: Duration = Duration::from_millis(500);

type Tm = <DbConn as Connection>::TransactionManager;

pub struct GroupCommit {
    pool: Pool,
    committers: usize,
    queue: OnceLock<Sender<Box<dyn Job>>>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    groups: AtomicU64,
    items: AtomicU64,
}

/// How many committers for this database: one on SQLite; on PostgreSQL half the pool (at
/// least 2, never more than the pool), so that the other half stays for readers and the
/// workers.
pub fn committers_for(url: &str, pool_size: u32) -> usize {
    match DbTarget::parse(url) {
        Ok(DbTarget::Postgres(_)) => (pool_size as usize / 2).max(2).min(pool_size as usize),
        _ => 1,
    }
}

impl GroupCommit {
    pub fn new(pool: Pool, committers: usize) -> Self {
        Self {
            pool,
            committers: committers.max(1),
            queue: OnceLock::new(),
            counts: Arc::default(),
        }
    }

    /// Queues `work` for the next group, to run under a savepoint of its own in the group's
    /// transaction. It must not open a transaction of its own other than through
    /// [`write_tx`], which nests as a savepoint.
    pub fn enqueue<T, E, F>(&self, work: F) -> Pending<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.enqueue_ordered(String::new(), work)
    }

    /// [`enqueue`](Self::enqueue), run in its group in the order of `key` (unkeyed items
    /// first, in their order): work that writes rows other groups may write too (a new
    /// consulter's address) takes their locks in one order in every group, so that two
    /// PostgreSQL committers never wait for each other in a circle (a deadlock fails both
    /// groups' every item).
    pub fn enqueue_ordered<T, E, F>(&self, key: String, work: F) -> Pending<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.send(key, true, work)
    }

    /// A worker's bookkeeping (the delivery's outcomes): committed with a group like any
    /// item, but not counted in [`counts`](Self::counts), which says what callers brought.
    pub fn enqueue_bookkeeping<T, E, F>(&self, work: F) -> Pending<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.send(String::new(), false, work)
    }

    fn send<T, E, F>(&self, key: String, counted: bool, work: F) -> Pending<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let item = Box::new(Item {
            key,
            counted,
            work: Some(work),
            outcome: None,
            reply,
        });
        // A committer that is gone drops the item, and with it the reply: the caller hears
        // "unavailable" from `Pending`.
        let _ = self.queue().send(item);
        Pending(answer)
    }

    /// Groups run so far (committed or not) with a caller's item in them, and the callers'
    /// items (bookkeeping not counted).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.counts.groups.load(Ordering::Relaxed),
            self.counts.items.load(Ordering::Relaxed),
        )
    }

    /// How many committer threads share the queue.
    pub fn committers(&self) -> usize {
        self.committers
    }

    fn queue(&self) -> &Sender<Box<dyn Job>> {
        self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::channel();
            let jobs = Arc::new(Mutex::new(jobs));
            for _ in 0..self.committers {
                let committer = Committer {
                    pool: self.pool.clone(),
                    counts: self.counts.clone(),
                    // With every connection of the pool a committer's, none is kept idle:
                    // the readers and workers need one back.
                    keeps: self.pool.max_size() as usize > self.committers,
                };
                let jobs = jobs.clone();
                // Should no thread start, `jobs` is dropped with the closures and every
                // caller is answered "unavailable" (503, try again) rather than left waiting.
                if let Err(e) = std::thread::Builder::new()
                    .name("group-commit".into())
                    .spawn(move || committer.run(&jobs))
                {
                    tracing::error!(error = %e, "a group committer could not start");
                }
            }
            queue
        })
    }
}

/// A caller's answer, once its group is committed (or has failed).
pub struct Pending<T, E>(oneshot::Receiver<Result<T, E>>);

impl<T, E: From<DbError>> Pending<T, E> {
    pub async fn wait(self) -> Result<T, E> {
        self.0.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// For a caller on a thread of its own (never on an async runtime's thread).
    pub fn wait_blocking(self) -> Result<T, E> {
        self.0.blocking_recv().unwrap_or_else(|_| Err(stopped()))
    }
}

/// The item was dropped unanswered: its work panicked, or the committer is gone.
fn stopped<E: From<DbError>>() -> E {
    E::from(DbError::Unavailable(
        "the write was not done (group committer stopped)".into(),
    ))
}

trait Job: Send {
    fn key(&self) -> &str;
    /// Counted in [`GroupCommit::counts`] (a caller's item, not a worker's bookkeeping).
    fn counted(&self) -> bool;
    /// Runs the work; `false` when it failed and its savepoint is to be rolled back.
    fn run(&mut self, conn: &mut DbConn) -> bool;
    /// Answers the caller: the work's own result if the group committed, or its own error.
    fn finish(self: Box<Self>, group: Result<(), &DbError>);
}

struct Item<F, T, E> {
    key: String,
    counted: bool,
    work: Option<F>,
    outcome: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<F, T, E> Job for Item<F, T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E> + Send,
    T: Send,
    E: From<DbError> + Send,
{
    fn key(&self) -> &str {
        &self.key
    }

    fn counted(&self) -> bool {
        self.counted
    }

    fn run(&mut self, conn: &mut DbConn) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let outcome = work(conn);
        let done = outcome.is_ok();
        self.outcome = Some(outcome);
        done
    }

    fn finish(self: Box<Self>, group: Result<(), &DbError>) {
        let answer = match (self.outcome, group) {
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)), Err(e)) => Err(E::from(DbError::Unavailable(format!(
                "not stored, the group commit failed: {e}"
            )))),
            // Never ran: no connection, or the transaction could not begin.
            (None, Err(e)) => Err(E::from(DbError::Unavailable(format!("not stored: {e}")))),
            // Ran but never finished (it panicked): dropped, the caller hears "unavailable".
            (None, Ok(())) => return,
        };
        // A caller that stopped waiting (its client went away) needs no answer.
        let _ = self.reply.send(answer);
    }
}

struct Committer {
    pool: Pool,
    counts: Arc<Counts>,
    /// Whether a connection is kept for [`KEEP_CONNECTION`] after a group.
    keeps: bool,
}

impl Committer {
    fn run(self, jobs: &Mutex<Receiver<Box<dyn Job>>>) {
        // The queue is locked only to take a group, never while committing it: the other
        // committers take the next ones meanwhile. A poisoned lock (a panic while gathering,
        // which runs no work) still holds a sound receiver.
        let take = || {
            let jobs = jobs.lock().unwrap_or_else(|p| p.into_inner());
            jobs.recv().ok().map(|first| gather(first, &jobs))
        };
        // With a connection in hand the queue is only taken when free: waiting for another
        // committer, itself waiting for work, would keep the connection idle for as long.
        let take_while_kept = || {
            let jobs = match jobs.try_lock() {
                Ok(jobs) => jobs,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return None,
            };
            let wait = if self.keeps {
                KEEP_CONNECTION
            } else {
                Duration::ZERO
            };
            jobs.recv_timeout(wait)
                .ok()
                .map(|first| gather(first, &jobs))
        };
        while let Some(group) = take() {
            // The connection is kept while work keeps coming (no pool check-out per group),
            // and given back once none came for a moment, or after a group that failed.
            let mut conn = None;
            let mut next = Some(group);
            while let Some(group) = next.take() {
                if !self.commit(&mut conn, group) {
                    conn = None;
                }
                next = take_while_kept();
            }
        }
    }

    /// Whether the group was committed.
    fn commit(&self, conn: &mut Option<PooledConn>, mut group: Vec<Box<dyn Job>>) -> bool {
        let result = match conn {
            Some(c) => Ok(c),
            None => self
                .pool
                .get()
                .map(|c| conn.insert(c))
                .map_err(DbError::from),
        }
        .and_then(|conn| match group.as_mut_slice() {
            // Alone, an item needs no savepoint: the transaction is its own, rolled back
            // if it fails (which is the group succeeding at storing nothing).
            [job] => match write_tx(conn, |conn| {
                if guarded(conn, job) {
                    Ok(())
                } else {
                    Err(DbError::Query(diesel::result::Error::RollbackTransaction))
                }
            }) {
                Err(DbError::Query(diesel::result::Error::RollbackTransaction)) => Ok(()),
                other => other,
            },
            group => write_tx(conn, |conn| {
                group.iter_mut().try_for_each(|job| savepoint(conn, job))
            }),
        });
        let counted = group.iter().filter(|job| job.counted()).count() as u64;
        if counted > 0 {
            self.counts.groups.fetch_add(1, Ordering::Relaxed);
            self.counts.items.fetch_add(counted, Ordering::Relaxed);
        }
        if let Err(e) = &result {
            tracing::warn!(
                error = %crate::domain::redact::addresses(&e.to_string()),
                items = group.len(),
                "a group commit failed; nothing of it is stored"
            );
        }
        for job in group {
            job.finish(result.as_ref().map(|_| ()));
        }
        result.is_ok()
    }
}

/// The first item and whatever else is waiting, up to [`MAX_ITEMS`] and [`LINGER`].
fn gather(first: Box<dyn Job>, jobs: &Receiver<Box<dyn Job>>) -> Vec<Box<dyn Job>> {
    let mut group = vec![first];
    let until = Instant::now() + LINGER;
    while group.len() < MAX_ITEMS {
        match jobs.try_recv() {
            Ok(job) => group.push(job),
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match jobs.recv_timeout(left) {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
        }
    }
    // Stable: unkeyed items keep their order, and so do items of one key.
    group.sort_by(|a, b| a.key().cmp(b.key()));
    group
}

/// One item under a savepoint of its own. An error here (a savepoint that cannot be made,
/// released or rolled back) means the transaction itself is broken: the group fails.
fn savepoint(conn: &mut DbConn, job: &mut Box<dyn Job>) -> Result<(), DbError> {
    Tm::begin_transaction(conn)?;
    if guarded(conn, job) {
        Tm::commit_transaction(conn)?;
    } else {
        Tm::rollback_transaction(conn)?;
    }
    Ok(())
}

/// Runs the item; whether it succeeded. A panicking item is an item that failed; the others
/// are not to be lost with it.
fn guarded(conn: &mut DbConn, job: &mut Box<dyn Job>) -> bool {
    catch_unwind(AssertUnwindSafe(|| job.run(conn))).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::committers_for;

    #[test]
    fn one_committer_on_sqlite_and_half_the_pool_at_least_two_on_postgres() {
        assert_eq!(committers_for("sqlite:///tmp/m.db", 8), 1);
        assert_eq!(committers_for("postgres://u@127.0.0.1/m", 8), 4);
        assert_eq!(committers_for("postgres://u@127.0.0.1/m", 3), 2);
        assert_eq!(committers_for("postgres://u@127.0.0.1/m", 1), 1);
    }
}
