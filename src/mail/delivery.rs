//! The outbox worker: claims due mail, hands it to the transport, and records the outcome.
//! With `smtp_session` (one connection a batch), the only code that talks to an SMTP server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use lettre::address::Envelope;

pub use super::smtp_session::SendError;
use super::smtp_session::{Session, SmtpClient};
use crate::config::{MailTransport, SmtpSettings};
use crate::db::group_commit::GroupCommit;
use crate::db::{self, Pool, from_db, outbox};
use crate::domain::redact;
use crate::domain::vocabulary::OutboxId;
use crate::signal::{Shutdown, Waker};
use crate::timesource::TimeSource;

/// How mail leaves: an SMTP server, or `.eml` files in a folder (the default, so a fresh
/// install never reaches out to a mail server).
pub enum Transport {
    Smtp(Box<SmtpClient>),
    File(PathBuf),
}

impl Transport {
    pub fn from_settings(s: &SmtpSettings) -> Result<Self, String> {
        if s.transport == MailTransport::File {
            return Ok(Self::File(PathBuf::from(&s.file_dir)));
        }
        Ok(Self::Smtp(Box::new(SmtpClient::new(s)?)))
    }

    /// The way out for one batch: for SMTP one connection, opened at the first mail and
    /// closed with QUIT when the batch is dropped.
    pub fn batch(&self) -> Batch<'_> {
        match self {
            Self::Smtp(client) => Batch::Smtp(Box::new(client.session())),
            Self::File(dir) => Batch::File(dir),
        }
    }
}

pub enum Batch<'a> {
    /// Boxed: a live connection is large, and the file variant a pointer.
    Smtp(Box<Session<'a>>),
    File(&'a Path),
}

impl Batch<'_> {
    pub fn send(&mut self, from: &str, to: &str, raw: &[u8], name: &str) -> Result<(), SendError> {
        match self {
            Self::Smtp(session) => {
                let envelope = Envelope::new(
                    Some(from.parse().map_err(|_| permanent("bad sender address"))?),
                    vec![
                        super::mailer::wire_address(to)
                            .ok_or_else(|| permanent("bad recipient address"))?,
                    ],
                )
                .map_err(|e| permanent(&e.to_string()))?;
                session.send(&envelope, raw)
            }
            Self::File(dir) => write_eml(dir, name, raw).map_err(|e| SendError {
                permanent: false,
                message: format!("cannot write mail file: {e}"),
            }),
        }
    }
}

fn permanent(message: &str) -> SendError {
    SendError {
        permanent: true,
        message: message.to_string(),
    }
}

/// Written beside, then renamed, so a reader never sees half a mail.
fn write_eml(dir: &Path, name: &str, raw: &[u8]) -> std::io::Result<()> {
    crate::private_files::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    // A disk that fills midway leaves no half-written file behind to take the space.
    crate::private_files::write(&tmp, raw).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    std::fs::rename(tmp, dir.join(format!("{name}.eml")))
}

/// What to do after a failed try: when to try again, or to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    At(DateTime<Utc>),
    GiveUp,
}

/// Exponential backoff: the n-th retry waits `base × 2^(n-1)`; past `give_up_after` from the
/// mail's creation there is no further try.
pub fn plan_retry(
    failures_before: i32,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    base: Duration,
    give_up_after: Duration,
) -> Retry {
    let exponent = failures_before.clamp(0, 20) as u32;
    let wait = base * 2i32.pow(exponent);
    let next = now + wait;
    if next > created_at + give_up_after {
        Retry::GiveUp
    } else {
        Retry::At(next)
    }
}

/// The worker's longest sleep: mail queued by another instance is seen at least this often.
const POLL: StdDuration = StdDuration::from_secs(5);
const BATCH: i64 = 20;

/// A mail's outcome, on its way to the database.
type Recording = crate::db::group_commit::Pending<(), db::DbError>;

pub struct DeliveryWorker {
    pub pool: Pool,
    /// Where each outcome is recorded: the group commit the intake shares.
    pub commits: Arc<GroupCommit>,
    pub transport: Transport,
    pub settings: SmtpSettings,
    pub from: String,
    pub id: String,
    pub time: Arc<dyn TimeSource>,
    pub waker: Arc<Waker>,
    pub shutdown: Shutdown,
}

impl DeliveryWorker {
    /// Runs until `shutdown` is set. The mail in flight is finished; claimed mail not yet tried
    /// is released for others.
    pub fn run(self) {
        while !self.shutdown.is_triggered() {
            match self.round() {
                Ok(0) => self.waker.wait(self.idle_wait()),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "mail delivery: database error; retrying shortly");
                    self.waker.wait(StdDuration::from_secs(1));
                }
            }
        }
        tracing::info!(worker = %self.id, "mail delivery stopped");
    }

    /// One claim-and-send pass over one SMTP connection; returns how many mails were tried.
    pub fn round(&self) -> Result<usize, db::DbError> {
        let mut conn = self.pool.get()?;
        let now = self.time.now();
        let lease_until = now + outbox::lease(self.settings.timeout_seconds);
        let claimed = outbox::claim_due(&mut conn, &self.id, now, lease_until, BATCH)?;
        let mut tried = 0;
        let mut batch = self.transport.batch();
        // A mail's outcome is committed while the next one is sent, and waited for after it:
        // a crash may send again the mail just sent besides the one in hand, never more.
        let mut recording: Option<Recording> = None;
        for (i, mail) in claimed.iter().enumerate() {
            if self.shutdown.is_triggered() {
                let rest: Vec<OutboxId> = claimed[i..].iter().map(|m| m.id).collect();
                outbox::release(&mut conn, &rest, &self.id)?;
                break;
            }
            let this = self.deliver(&mut batch, mail);
            if let Some(last) = recording.replace(this) {
                last.wait_blocking()?;
            }
            tried += 1;
        }
        if let Some(last) = recording {
            last.wait_blocking()?;
        }
        Ok(tried)
    }

    /// Sends one mail; its outcome is on its way to the database.
    fn deliver(&self, batch: &mut Batch<'_>, mail: &outbox::ClaimedMail) -> Recording {
        let name = format!("{}-{}", self.time.now().format("%Y%m%dT%H%M%S"), mail.id);
        let outcome = batch.send(&self.from, &mail.to_address, &mail.raw, &name);
        let now = self.time.now();
        // Servers often quote the recipient in their answers; the log must not.
        let logged = |e: &SendError| redact::addresses(&e.message);
        match outcome {
            Ok(()) => {
                let (id, by) = (mail.id, self.id.clone());
                tracing::info!(
                    outbox_id = mail.id.0,
                    attempts = mail.attempts + 1,
                    "mail sent"
                );
                self.record(move |conn| outbox::mark_sent(conn, id, &by, now))
            }
            Err(e) if e.permanent => {
                let (id, by, why) = (mail.id, self.id.clone(), e.message.clone());
                tracing::warn!(outbox_id = mail.id.0, error = %logged(&e), "mail refused for good");
                self.record(move |conn| outbox::mark_failed(conn, id, &by, &why))
            }
            Err(e) => {
                let plan = plan_retry(
                    mail.attempts,
                    from_db(mail.created_at),
                    now,
                    Duration::seconds(
                        i64::try_from(self.settings.retry_base_seconds).unwrap_or(30),
                    ),
                    Duration::hours(i64::try_from(self.settings.give_up_after_hours).unwrap_or(72)),
                );
                match plan {
                    Retry::At(at) => {
                        let (id, by, why) = (mail.id, self.id.clone(), e.message.clone());
                        tracing::info!(outbox_id = mail.id.0, error = %logged(&e), retry_at = %at, "mail delivery failed; will retry");
                        self.record(move |conn| outbox::mark_retry(conn, id, &by, at, &why))
                    }
                    Retry::GiveUp => {
                        let why =
                            format!("gave up after {} tries: {}", mail.attempts + 1, e.message);
                        let (id, by) = (mail.id, self.id.clone());
                        tracing::warn!(outbox_id = mail.id.0, error = %logged(&e), "mail delivery given up");
                        self.record(move |conn| outbox::mark_failed(conn, id, &by, &why))
                    }
                }
            }
        }
    }

    /// Records an outcome in the group commit: the process then has one writer, so delivery
    /// neither waits for the intake's write lock nor pays a commit of its own per mail.
    fn record(
        &self,
        what: impl FnOnce(&mut db::DbConn) -> Result<(), db::DbError> + Send + 'static,
    ) -> Recording {
        self.commits.enqueue_bookkeeping(what)
    }

    fn idle_wait(&self) -> StdDuration {
        let next = self
            .pool
            .get()
            .ok()
            .and_then(|mut c| outbox::next_due(&mut c).ok().flatten());
        match next {
            Some(at) => (at - self.time.now())
                .to_std()
                .unwrap_or(StdDuration::ZERO)
                .clamp(StdDuration::from_millis(50), POLL),
            None => POLL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn backoff_doubles_then_gives_up() {
        let created = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let base = Duration::seconds(30);
        let limit = Duration::hours(72);
        assert_eq!(
            plan_retry(0, created, created, base, limit),
            Retry::At(created + Duration::seconds(30))
        );
        assert_eq!(
            plan_retry(3, created, created, base, limit),
            Retry::At(created + Duration::seconds(240))
        );
        let late = created + Duration::hours(71);
        assert_eq!(plan_retry(10, created, late, base, limit), Retry::GiveUp);
        // A huge failure count must neither overflow nor panic.
        assert_eq!(
            plan_retry(i32::MAX, created, created, base, limit),
            Retry::GiveUp
        );
    }
}
