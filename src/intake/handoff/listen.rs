//! `serve`'s end of the hand-off: a socket of our own user's, one mail per connection, each
//! stored in the group commit and answered once it is committed.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, watch};

use super::{MAX_HEADER, database_id, parse_header};
use crate::intake::{Outcome, mail};
use crate::state::AppState;

/// Mails read at once; more wait in the socket's backlog (their `ingest` waits too). Each
/// holds at most `intake.max_message_bytes` in memory (25 MiB by default), so this bounds
/// what a flood of large mail can take; four at once already keep the one committer busy.
const AT_ONCE: usize = 16;
/// A request's header must arrive this soon after connecting, its mail this soon after that.
const HEADER_WAIT: Duration = Duration::from_secs(10);
const MAIL_WAIT: Duration = Duration::from_secs(60);
/// After a refusal, what is read (and dropped) so that the answer reaches its reader.
const DRAIN_BYTES: u64 = 64 * 1024;
const DRAIN_WAIT: Duration = Duration::from_millis(200);
/// At shutdown, mails in hand are answered for this long at most.
const FINISH_WAIT: Duration = Duration::from_secs(30);

/// A bound socket, not yet served.
pub struct Socket {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
    /// Our own user (the socket's owner): the only one whose mail is taken.
    owner: u32,
    /// The socket file's inode, so that stopping removes ours and never a successor's.
    inode: u64,
}

/// Binds at start, so the socket is there once `serve` says it serves. None when it cannot
/// be (logged with why): `ingest` then stores mail itself, as without a server.
pub fn bind(path: &Path) -> Option<Socket> {
    match try_bind(path) {
        Ok(socket) => Some(socket),
        Err(why) => {
            tracing::warn!(socket = %path.display(), "mail hand-off not offered: {why}; `ingest` stores mail itself");
            None
        }
    }
}

fn try_bind(path: &Path) -> Result<Socket, String> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err("a file that is not a socket is in the way".into());
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err("another madoguchi already listens there".into());
        }
        // Left by a server that stopped without removing it: nobody answers on it.
        std::fs::remove_file(path).map_err(|e| format!("cannot remove the old socket: {e}"))?;
    }
    let listener =
        std::os::unix::net::UnixListener::bind(path).map_err(|e| format!("cannot bind: {e}"))?;
    // Connecting needs write permission on the socket: none but our own user has it. The
    // peer check below covers the moment before this.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot make the socket private: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot listen: {e}"))?;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the socket: {e}"))?;
    Ok(Socket {
        listener,
        path: path.to_path_buf(),
        owner: meta.uid(),
        inode: meta.ino(),
    })
}

impl Socket {
    /// Takes mail until `stop`, then answers the mails in hand and removes the socket.
    pub async fn run(self, state: web::Data<AppState>, mut stop: watch::Receiver<bool>) {
        let Socket {
            listener,
            path,
            owner,
            inode,
        } = self;
        let listener = match UnixListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "mail hand-off not offered");
                return;
            }
        };
        let ours = Ours {
            owner,
            database: database_id(&state.settings.database.url).into(),
        };
        let slots = Arc::new(Semaphore::new(AT_ONCE));
        while !*stop.borrow() {
            let permit = tokio::select! {
                _ = stop.changed() => break,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let stream = tokio::select! {
                _ = stop.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors, most likely: wait a little rather than spin.
                        tracing::warn!(error = %e, "mail hand-off: cannot accept");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let (state, ours) = (state.clone(), ours.clone());
            actix_web::rt::spawn(async move {
                answer(&state, stream, &ours).await;
                drop(permit);
            });
        }
        drop(listener);
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.ino() == inode);
        if ours {
            let _ = std::fs::remove_file(&path);
        }
        let all = u32::try_from(AT_ONCE).unwrap_or(u32::MAX);
        if tokio::time::timeout(FINISH_WAIT, slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("mail hand-off: mails still in hand at shutdown");
        }
    }
}

/// What a request must come from, and name, to be taken.
#[derive(Clone)]
struct Ours {
    owner: u32,
    /// `database_id` of our `database.url`, made once.
    database: Arc<str>,
}

async fn answer(state: &web::Data<AppState>, mut stream: UnixStream, ours: &Ours) {
    let line = exchange(state, &mut stream, ours).await;
    // The one who asked may be gone; what was committed stays committed.
    let _ = stream.write_all(line.as_bytes()).await;
    let _ = stream.shutdown().await;
    // A refusal leaves bytes unread, and closing on unread bytes resets the connection, which
    // would throw the answer away before it is read: read a little more, briefly, first.
    let mut rest = (&mut stream).take(DRAIN_BYTES);
    let _ = tokio::time::timeout(
        DRAIN_WAIT,
        tokio::io::copy(&mut rest, &mut tokio::io::sink()),
    )
    .await;
}

/// Reads one request and stores its mail; the line to answer with.
async fn exchange(state: &web::Data<AppState>, stream: &mut UnixStream, ours: &Ours) -> String {
    if !stream.peer_cred().is_ok_and(|c| c.uid() == ours.owner) {
        tracing::warn!("mail hand-off refused a connection of another user");
        return "refused not your server\n".into();
    }
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let read = tokio::time::timeout(
        HEADER_WAIT,
        (&mut reader).take(MAX_HEADER).read_until(b'\n', &mut line),
    )
    .await;
    if !matches!(read, Ok(Ok(_))) {
        return "refused no request\n".into();
    }
    let Some(header) = std::str::from_utf8(&line).ok().and_then(parse_header) else {
        return "refused bad request\n".into();
    };
    if header.database != &*ours.database {
        return "elsewhere\n".into();
    }
    if header.length > state.settings.intake.max_message_bytes {
        return "refused too large\n".into();
    }
    // Grown as the bytes arrive, never sized by what the header claims.
    let mut raw = Vec::new();
    let read = tokio::time::timeout(
        MAIL_WAIT,
        (&mut reader).take(header.length).read_to_end(&mut raw),
    )
    .await;
    if !matches!(read, Ok(Ok(_))) || raw.len() as u64 != header.length {
        return "refused mail cut short\n".into();
    }
    let taken = match mail::prepare_async(state, raw).await {
        Ok((raw, prepared)) => {
            let st = state.clone();
            state
                .commits
                .enqueue_ordered(prepared.order_key(), move |conn| {
                    mail::take_prepared(&st, conn, &raw, prepared, "ingest")
                })
                .wait()
                .await
        }
        Err(e) => Err(e),
    };
    match taken {
        Ok(outcome) => {
            outcome.record(state, "ingest");
            if matches!(
                outcome,
                Outcome::Opened {
                    acknowledged: true,
                    ..
                }
            ) {
                // Its acknowledgement is committed: the delivery worker need not wait.
                state.waker.wake();
            }
            format!("taken {}\n", outcome.as_str())
        }
        Err(e) => format!("tempfail {}\n", e.to_string().replace(['\r', '\n'], " ")),
    }
}
