//! The IMAP poller inside `serve`: takes new mail from one mailbox through the intake path.
//! The database commit comes before `\Seen`, and the last UID taken is kept in the database,
//! so nothing is lost or stored twice across restarts and lost connections.

mod connect;

use std::time::Duration;

use actix_web::web;
use async_imap::Session;
use async_imap::extensions::idle::IdleResponse;
use futures_util::TryStreamExt;
use tokio::sync::watch;

use crate::config::ImapTls;
use crate::db::{DbError, imap_state as db, leader};
use crate::intake::Outcome;
use crate::intake::mail::{self, TakeError};
use crate::state::AppState;

/// Messages fetched per round trip: a backlog is taken in slices, not held in memory at once.
const BATCH: usize = 50;
const MAX_BACKOFF: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub enum ImapError {
    Imap(async_imap::error::Error),
    Io(std::io::Error),
    Intake(String),
    /// The server's certificate did not verify; why, without names or addresses.
    Certificate(String),
    /// TLS could not be set up or was broken off.
    Tls(String),
    /// The server announced LOGINDISABLED on a plain connection.
    PlaintextRefused,
    /// The server did not greet, upgrade or sign in within the time allowed.
    Timeout,
}

impl std::fmt::Display for ImapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Imap(e) => write!(f, "IMAP: {e}"),
            Self::Io(e) => write!(f, "connection: {e}"),
            Self::Intake(e) => write!(f, "{e}"),
            Self::Certificate(why) => write!(f, "the server's certificate does not verify: {why}"),
            Self::Tls(e) => write!(f, "TLS: {e}"),
            Self::PlaintextRefused => write!(
                f,
                "the server refuses sign-in without TLS; set imap.tls to \"starttls\" or \"tls\""
            ),
            Self::Timeout => write!(f, "the server did not answer in time"),
        }
    }
}

impl From<async_imap::error::Error> for ImapError {
    fn from(e: async_imap::error::Error) -> Self {
        Self::Imap(e)
    }
}

impl From<std::io::Error> for ImapError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<DbError> for ImapError {
    fn from(e: DbError) -> Self {
        Self::Intake(e.to_string())
    }
}

/// How often a standby instance tries to take the poller over, and how often the leader
/// makes sure its lock is still held: a dead leader is replaced within this and a sign-in.
const LEADERSHIP_CHECK: Duration = Duration::from_secs(10);

/// Polls until `shutdown` turns true, reconnecting with backoff after any failure. With
/// several instances on one PostgreSQL only the one holding the poller's advisory lock polls,
/// so one mailbox is never read by two at once; the others stand by to take over.
pub async fn run(state: web::Data<AppState>, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        let Some(lease) = lead(&state, &mut shutdown).await else {
            break;
        };
        tracing::info!("this instance polls the IMAP mailbox");
        let lease = std::sync::Arc::new(std::sync::Mutex::new(lease));
        let mut backoff = Duration::from_secs(1);
        while !*shutdown.borrow() {
            let result = tokio::select! {
                r = session(&state, &mut shutdown) => Some(r),
                () = lost(lease.clone()) => None,
            };
            match result {
                None => {
                    tracing::warn!("the IMAP poller's lock was lost; standing by");
                    break;
                }
                Some(Ok(())) => backoff = Duration::from_secs(1),
                Some(Err(e)) => {
                    tracing::warn!(
                        error = %crate::domain::redact::addresses(&e.to_string()),
                        retry_in = ?backoff,
                        "IMAP polling failed; reconnecting"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
    tracing::info!("IMAP polling stopped");
}

/// Waits until this instance leads the polling, or `None` at shutdown.
async fn lead(
    state: &web::Data<AppState>,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<leader::Lease> {
    let mut standing_by = false;
    while !*shutdown.borrow() {
        let url = state.settings.database.url.clone();
        match web::block(move || leader::try_lead(&url, leader::IMAP_POLLER)).await {
            Ok(Ok(Some(lease))) => return Some(lease),
            Ok(Ok(None)) => {
                if !standing_by {
                    tracing::info!("another instance polls the IMAP mailbox; standing by");
                    standing_by = true;
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot ask who polls IMAP; trying again"),
            Err(e) => tracing::warn!(error = %e, "cannot ask who polls IMAP; trying again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(LEADERSHIP_CHECK) => {}
            _ = shutdown.changed() => {}
        }
    }
    None
}

/// Returns once the lock is no longer held (its connection broke), checking now and then.
async fn lost(lease: std::sync::Arc<std::sync::Mutex<leader::Lease>>) {
    loop {
        tokio::time::sleep(LEADERSHIP_CHECK).await;
        let lease = lease.clone();
        let held = web::block(move || {
            lease
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .still_held()
        })
        .await
        .unwrap_or(true);
        if !held {
            return;
        }
    }
}

async fn session(
    state: &web::Data<AppState>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), ImapError> {
    let cfg = &state.settings.imap;
    match cfg.tls {
        ImapTls::None => match signed_in(shutdown, connect::plain(cfg)).await? {
            Some(session) => poll(state, shutdown, session).await,
            None => Ok(()),
        },
        ImapTls::Starttls | ImapTls::Tls => match signed_in(shutdown, connect::tls(cfg)).await? {
            Some(session) => poll(state, shutdown, session).await,
            None => Ok(()),
        },
    }
}

/// Signing in is abandoned at shutdown (no mail is in hand yet), so a server that stalls the
/// handshake does not hold the service up.
async fn signed_in<T>(
    shutdown: &mut watch::Receiver<bool>,
    signing_in: impl std::future::Future<Output = Result<T, ImapError>>,
) -> Result<Option<T>, ImapError> {
    let stop = async {
        if shutdown.wait_for(|stop| *stop).await.is_err() {
            // Nobody left to ask for a stop: sign in for as long as it takes.
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        session = signing_in => session.map(Some),
        () = stop => Ok(None),
    }
}

/// What a session runs over: a plain or a TLS stream.
trait Stream:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug + 'static
{
}
impl<S> Stream for S where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + std::fmt::Debug + 'static
{
}

/// Takes new mail, then waits for more (IDLE or a pause), until shutdown.
async fn poll<S: Stream>(
    state: &web::Data<AppState>,
    shutdown: &mut watch::Receiver<bool>,
    mut session: Session<S>,
) -> Result<(), ImapError> {
    let cfg = &state.settings.imap;
    let can_idle = session.capabilities().await?.has_str("IDLE");
    let wait = Duration::from_secs(cfg.poll_seconds.max(1));
    loop {
        let mailbox = session.select(&cfg.mailbox).await?;
        let uidvalidity = i64::from(mailbox.uid_validity.unwrap_or(0));
        take_new(state, &mut session, uidvalidity).await?;
        if *shutdown.borrow() {
            session.logout().await?;
            return Ok(());
        }
        if can_idle {
            let mut idle = session.idle();
            idle.init().await?;
            let (wait_for_news, _stop) = idle.wait_with_timeout(wait);
            tokio::select! {
                news = wait_for_news => {
                    if let IdleResponse::NewData(_) = news? {
                        tracing::debug!("IMAP server announced new mail");
                    }
                }
                _ = shutdown.changed() => {}
            }
            session = idle.done().await?;
        } else {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// A message as fetched: whole, or only its size when it is over the limit.
enum Fetched {
    Whole(Vec<u8>),
    TooLarge(u32),
}

/// A fetched message made ready for its transaction.
enum Taken {
    Whole(Box<(Vec<u8>, mail::Prepared)>),
    TooLarge(u32),
}

/// Takes every message above the last UID taken, oldest first.
async fn take_new<S: Stream>(
    state: &web::Data<AppState>,
    session: &mut Session<S>,
    uidvalidity: i64,
) -> Result<(), ImapError> {
    let mailbox = state.settings.imap.mailbox.clone();
    let st = state.clone();
    let mb = mailbox.clone();
    let position = web::block(move || {
        let mut conn = st.pool.get().map_err(DbError::from)?;
        db::imap_position(&mut conn, &mb)
    })
    .await
    .map_err(|e| ImapError::Intake(e.to_string()))??;
    // A new UIDVALIDITY means the server renumbered the mailbox: start again from the
    // beginning; mail taken before is recognised by its Message-ID.
    let last_uid = match position {
        Some((validity, last)) if validity == uidvalidity => last,
        _ => 0,
    };
    let mut uids: Vec<u32> = session
        .uid_search(format!("UID {}:*", last_uid + 1))
        .await?
        .into_iter()
        .filter(|uid| i64::from(*uid) > last_uid)
        .collect();
    uids.sort_unstable();
    let max = state.settings.intake.max_message_bytes;
    for chunk in uids.chunks(BATCH) {
        let set: Vec<String> = chunk.iter().map(u32::to_string).collect();
        // Sizes first: a mail over intake.max_message_bytes is never fetched into memory.
        let oversized: Vec<(u32, u32)> = session
            .uid_fetch(set.join(","), "(UID RFC822.SIZE)")
            .await?
            .try_filter_map(|f| async move {
                Ok(f.uid.zip(f.size).filter(|(_, size)| u64::from(*size) > max))
            })
            .try_collect()
            .await?;
        let wanted: Vec<String> = chunk
            .iter()
            .filter(|uid| !oversized.iter().any(|(big, _)| big == *uid))
            .map(u32::to_string)
            .collect();
        let mut fetched: Vec<(u32, Fetched)> = if wanted.is_empty() {
            Vec::new()
        } else {
            session
                .uid_fetch(wanted.join(","), "(UID BODY.PEEK[])")
                .await?
                .try_filter_map(|f| async move {
                    Ok(f.uid.zip(f.body().map(|b| Fetched::Whole(b.to_vec()))))
                })
                .try_collect()
                .await?
        };
        fetched.extend(
            oversized
                .iter()
                .map(|&(uid, size)| (uid, Fetched::TooLarge(size))),
        );
        fetched.sort_unstable_by_key(|(uid, _)| *uid);
        for (uid, item) in fetched {
            let st = state.clone();
            let mb = mailbox.clone();
            let too_large = matches!(item, Fetched::TooLarge(_));
            let item = match item {
                Fetched::Whole(raw) => Taken::Whole(Box::new(
                    mail::prepare_async(state, raw)
                        .await
                        .map_err(|e| ImapError::Intake(e.to_string()))?,
                )),
                Fetched::TooLarge(size) => Taken::TooLarge(size),
            };
            let key = match &item {
                Taken::Whole(whole) => whole.1.order_key(),
                Taken::TooLarge(_) => String::new(),
            };
            // In the group commit public intake shares, the position with the mail.
            let outcome = state
                .commits
                .enqueue_ordered(key, move |conn| {
                    let outcome = match item {
                        Taken::Whole(whole) => {
                            let (raw, prepared) = *whole;
                            mail::take_prepared(&st, conn, &raw, prepared, "imap")?
                        }
                        Taken::TooLarge(size) => {
                            mail::too_large(&st, conn, "imap", &mb, uid, u64::from(size))?
                        }
                    };
                    db::set_imap_position(conn, &mb, uidvalidity, i64::from(uid), st.time.now())?;
                    Ok::<Outcome, TakeError>(outcome)
                })
                .wait()
                .await
                .map_err(|e| ImapError::Intake(e.to_string()))?;
            // Committed before the server hears of it: a crash here means the mail is
            // fetched again and recognised as a duplicate, never lost. The delivery worker
            // is woken again now that the acknowledgement is committed.
            outcome.record(state, "imap");
            if matches!(
                outcome,
                Outcome::Opened {
                    acknowledged: true,
                    ..
                }
            ) {
                state.waker.wake();
            }
            // The mail itself is logged above; the UID says where in the mailbox.
            tracing::debug!(uid, "IMAP mail stored");
            if too_large {
                // Left unseen in the mailbox, where a person can still read it.
                continue;
            }
            session
                .uid_store(uid.to_string(), "+FLAGS.SILENT (\\Seen)")
                .await?
                .try_collect::<Vec<_>>()
                .await?;
        }
    }
    Ok(())
}
