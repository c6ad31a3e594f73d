//! The MTA pipe's short way in: `madoguchi ingest` of one mail hands it to a running `serve`
//! over a local socket, and `serve` stores it in the group commit the form and IMAP intake
//! share, answering only once it is committed. A process per mail then costs little more than
//! its own start: no database to open, no schema to read, no statements to prepare, no commit
//! of its own. With no server listening, `ingest` stores the mail itself, as before.
//!
//! One exchange per connection, in plain lines:
//!
//! ```text
//! ingest → serve:  madoguchi-ingest/1 <database id> <length>\n<length bytes of mail>
//! serve → ingest:  taken <outcome>\n | tempfail <reason>\n | elsewhere\n | refused <reason>\n
//! ```
//!
//! The database id is a digest of `database.url`, so an `ingest` never hands mail to a server
//! of another database (it hears `elsewhere` and stores the mail itself). Nothing is lost on
//! any path: a server that stops mid-way has either committed the mail (the retry is a
//! duplicate) or not (the retry stores it).

pub mod listen;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest;

use crate::config::Settings;
use crate::db::DbTarget;

const PROTOCOL: &str = "madoguchi-ingest/1";

/// A header line is this long at most (the protocol word, 32 hex digits, a length).
const MAX_HEADER: u64 = 128;

/// How long `ingest` waits for the answer: a group commit takes milliseconds, but a server
/// under a flood, or a database briefly locked, may take longer. Past it, the MTA tries again.
const ANSWER_WAIT: Duration = Duration::from_secs(120);

/// The socket `serve` listens on and `ingest` hands mail to, if any.
pub fn socket_path(settings: &Settings) -> Option<PathBuf> {
    let intake = &settings.intake;
    if !intake.handoff {
        return None;
    }
    if !intake.handoff_socket.is_empty() {
        return Some(PathBuf::from(&intake.handoff_socket));
    }
    match DbTarget::parse(&settings.database.url) {
        Ok(DbTarget::Sqlite(file)) => {
            let mut name = file.into_os_string();
            name.push("-intake.sock");
            Some(PathBuf::from(name))
        }
        _ => None,
    }
}

/// Names the database without saying it (a URL may carry a password).
pub fn database_id(url: &str) -> String {
    let digest = sha2::Sha256::digest(url.as_bytes());
    crate::random::hex(&digest[..16])
}

/// What became of a mail handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handed {
    /// Stored by the server: the outcome's word (`opened`, `joined`, …).
    Taken(String),
    /// The server could not store it now, in its words; the MTA should try again (exit 75).
    TryAgain(String),
    /// No server took it (none listens, another database, or it stopped mid-way):
    /// `ingest` stores the mail itself.
    StoreItYourself,
}

/// Hands one mail to the server listening at `socket`, if one does.
pub fn hand_over(socket: &Path, database_url: &str, raw: &[u8]) -> Handed {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return Handed::StoreItYourself;
    };
    if !served_by_our_own_user(&stream) {
        // Whoever else listens there would be handed a consultation, and could answer
        // "taken" for a mail it then drops.
        tracing::warn!(socket = %socket.display(), "the hand-off socket is served by another user; storing the mail here");
        return Handed::StoreItYourself;
    }
    let header = format!("{PROTOCOL} {} {}\n", database_id(database_url), raw.len());
    let sent = stream
        .set_write_timeout(Some(ANSWER_WAIT))
        .and_then(|()| stream.set_read_timeout(Some(ANSWER_WAIT)))
        .and_then(|()| stream.write_all(header.as_bytes()))
        .and_then(|()| stream.write_all(raw))
        .and_then(|()| stream.flush());
    if sent.is_err() {
        return Handed::StoreItYourself;
    }
    let mut line = Vec::new();
    let read = BufReader::new(std::io::Read::take(&stream, 1024)).read_until(b'\n', &mut line);
    match read {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Handed::TryAgain(format!(
                "not stored, try again: the running madoguchi did not answer within {} s",
                ANSWER_WAIT.as_secs()
            ))
        }
        Err(_) => Handed::StoreItYourself,
        Ok(_) => answer_of(&line),
    }
}

/// Whether the process at the other end runs as our own user (the kernel says, SO_PEERCRED).
fn served_by_our_own_user(stream: &UnixStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut peer = libc::ucred {
        pid: 0,
        uid: u32::MAX,
        gid: u32::MAX,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the descriptor is the open socket borrowed here, and `peer` is a `ucred` whose
    // size is passed in `len`, as SO_PEERCRED writes.
    let read = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut peer).cast(),
            &mut len,
        )
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    read == 0 && peer.uid == unsafe { libc::geteuid() }
}

/// Reads the server's one line; anything unexpected leaves the mail to `ingest` itself.
fn answer_of(line: &[u8]) -> Handed {
    let Some(line) = std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.strip_suffix('\n'))
    else {
        return Handed::StoreItYourself;
    };
    match line.split_once(' ') {
        Some(("taken", word)) if crate::intake::Outcome::WORDS.contains(&word) => {
            Handed::Taken(word.to_string())
        }
        Some(("tempfail", reason)) => Handed::TryAgain(reason.to_string()),
        _ => Handed::StoreItYourself,
    }
}

/// A request's header, as the server reads it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub database: &'a str,
    pub length: u64,
}

pub(crate) fn parse_header(line: &str) -> Option<Header<'_>> {
    let mut words = line.strip_suffix('\n')?.split(' ');
    let (protocol, database, length) = (words.next()?, words.next()?, words.next()?);
    if protocol != PROTOCOL || words.next().is_some() {
        return None;
    }
    if database.len() != 32 || !database.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // Digits only: no sign, no spaces, no "0x".
    if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Header {
        database,
        length: length.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_lies_beside_the_sqlite_file_unless_named_and_postgres_names_one() {
        let mut s = Settings::defaults().unwrap();
        s.database.url = "sqlite://data/m.db".into();
        assert_eq!(
            socket_path(&s),
            Some(PathBuf::from("data/m.db-intake.sock"))
        );
        s.database.url = "postgres://u@h/db".into();
        assert_eq!(socket_path(&s), None);
        s.intake.handoff_socket = "/run/madoguchi/intake.sock".into();
        assert_eq!(
            socket_path(&s),
            Some(PathBuf::from("/run/madoguchi/intake.sock"))
        );
        s.intake.handoff = false;
        assert_eq!(socket_path(&s), None);
    }

    #[test]
    fn the_database_id_is_a_digest_that_tells_databases_apart() {
        let a = database_id("postgres://u:secret@h/a");
        assert_eq!(a.len(), 32);
        assert!(!a.contains("secret"));
        assert_eq!(a, database_id("postgres://u:secret@h/a"));
        assert_ne!(a, database_id("postgres://u:secret@h/b"));
    }

    #[test]
    fn headers_are_read_strictly() {
        let id = database_id("sqlite://m.db");
        let good = format!("{PROTOCOL} {id} 1234\n");
        assert_eq!(
            parse_header(&good),
            Some(Header {
                database: &id,
                length: 1234
            })
        );
        for bad in [
            format!("{PROTOCOL} {id} 1234"),
            format!("{PROTOCOL} {id} -1\n"),
            format!("{PROTOCOL} {id} +1\n"),
            format!("{PROTOCOL} {id} \n"),
            format!("{PROTOCOL} {id} 1 2\n"),
            format!("{PROTOCOL} {id}  1\n"),
            format!("{PROTOCOL} {} 1\n", &id[..31]),
            format!("{PROTOCOL} {}g 1\n", &id[..31]),
            format!("madoguchi-ingest/2 {id} 1\n"),
            format!("{PROTOCOL} {id} 99999999999999999999999\n"),
            "\n".to_string(),
        ] {
            assert_eq!(parse_header(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_a_known_outcome_or_a_tempfail_is_believed() {
        assert_eq!(answer_of(b"taken opened\n"), Handed::Taken("opened".into()));
        assert_eq!(
            answer_of(b"taken duplicate\n"),
            Handed::Taken("duplicate".into())
        );
        assert_eq!(
            answer_of(b"tempfail database is locked\n"),
            Handed::TryAgain("database is locked".into())
        );
        for other in [
            &b"taken opened"[..],
            b"taken stolen\n",
            b"elsewhere\n",
            b"refused too large\n",
            b"",
            b"\xff\n",
        ] {
            assert_eq!(answer_of(other), Handed::StoreItYourself, "{other:?}");
        }
    }
}
