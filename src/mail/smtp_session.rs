//! One SMTP connection for a batch of mails, through lettre's low-level client
//! (`SmtpConnection`): lettre connects, upgrades to TLS and authenticates; the transaction is
//! ours, so that a message and its closing `CRLF.CRLF` leave in ONE write. lettre 0.11.23
//! writes the terminator on its own and never sets TCP_NODELAY: Nagle then holds it until the
//! server's delayed ACK, 40 ms a mail (BENCHMARKS.md, "Delivery 20 mails/s").

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::Error;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{
    ClientId, Extension, MailBodyParameter, MailParameter, ServerInfo,
};

use crate::config::{SmtpSettings, SmtpTls};

/// A mail not handed over, and whether trying again could help.
#[derive(Debug)]
pub struct SendError {
    /// The server refused for good (5xx): retrying cannot help.
    pub permanent: bool,
    pub message: String,
}

/// How to reach the server, prepared once per worker.
pub struct SmtpClient {
    host: String,
    port: u16,
    tls: Tls,
    timeout: Duration,
    credentials: Option<Credentials>,
    hello: ClientId,
}

enum Tls {
    None,
    /// Required, never opportunistic: no credentials or mail go out in plain text.
    Starttls(TlsParameters),
    /// TLS from the first byte (port 465).
    Wrapper(TlsParameters),
}

impl SmtpClient {
    pub fn new(s: &SmtpSettings) -> Result<Self, String> {
        let params = || TlsParameters::new(s.host.clone()).map_err(|e| e.to_string());
        let tls = match s.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Starttls(params()?),
            SmtpTls::Tls => Tls::Wrapper(params()?),
        };
        Ok(Self {
            host: s.host.clone(),
            port: s.port,
            tls,
            timeout: Duration::from_secs(s.timeout_seconds),
            credentials: (!s.username.is_empty())
                .then(|| Credentials::new(s.username.clone(), s.password.clone())),
            hello: ClientId::default(),
        })
    }

    /// A session that connects at its first mail and says QUIT when dropped.
    pub fn session(&self) -> Session<'_> {
        Session {
            client: self,
            conn: None,
            carried: 0,
        }
    }

    fn connect(&self) -> Result<SmtpConnection, Error> {
        let wrapper = match &self.tls {
            Tls::Wrapper(p) => Some(p),
            Tls::None | Tls::Starttls(_) => None,
        };
        let mut conn = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            wrapper,
            None,
        )?;
        let ready = match &self.tls {
            Tls::Starttls(p) => conn.starttls(p, &self.hello),
            Tls::None | Tls::Wrapper(_) => Ok(()),
        }
        .and_then(|()| match &self.credentials {
            Some(c) => conn.auth(DEFAULT_MECHANISMS, c).map(drop),
            None => Ok(()),
        });
        match ready {
            Ok(()) => Ok(conn),
            Err(e) => {
                conn.abort();
                Err(e)
            }
        }
    }
}

/// The connection of one batch: opened at the first mail, reused for the next ones (a
/// finished transaction needs no RSET before the next MAIL), replaced after a broken one.
pub struct Session<'a> {
    client: &'a SmtpClient,
    conn: Option<SmtpConnection>,
    /// Mails this connection carried: a used one failing at MAIL is worth one fresh try.
    carried: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Connect,
    /// MAIL FROM: nothing of this mail was taken yet.
    Mail,
    Later,
}

enum Failed {
    Smtp(Step, Error),
    /// The message needs an extension the server does not offer.
    Unsendable(&'static str),
}

impl Session<'_> {
    pub fn send(&mut self, envelope: &Envelope, raw: &[u8]) -> Result<(), SendError> {
        let reused = self.conn.is_some() && self.carried > 0;
        let outcome = match self.try_send(envelope, raw) {
            // A server may close a connection it has served a while (421, or just the socket):
            // nothing of this mail was taken, so once more on a fresh connection.
            Err(Failed::Smtp(Step::Mail, e)) if reused && !e.is_permanent() => {
                self.drop_connection();
                self.try_send(envelope, raw)
            }
            outcome => outcome,
        };
        outcome.map_err(|failed| match failed {
            Failed::Smtp(_, e) => SendError {
                permanent: e.is_permanent(),
                message: e.to_string(),
            },
            Failed::Unsendable(why) => SendError {
                permanent: false,
                message: why.to_string(),
            },
        })
    }

    fn try_send(&mut self, envelope: &Envelope, raw: &[u8]) -> Result<(), Failed> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let conn = self
                    .client
                    .connect()
                    .map_err(|e| Failed::Smtp(Step::Connect, e))?;
                self.carried = 0;
                self.conn.insert(conn)
            }
        };
        let parameters = mail_parameters(conn.server_info(), envelope, raw)?;
        match transaction(conn, envelope, parameters, raw) {
            Ok(()) => {
                self.carried += 1;
                Ok(())
            }
            Err((step, e)) => {
                // A reply the server gave leaves the connection usable once the transaction is
                // reset; a network error, a timeout or a garbled reply does not.
                if e.status().is_none() || conn.command(Rset).is_err() {
                    self.drop_connection();
                }
                Err(Failed::Smtp(step, e))
            }
        }
    }

    fn drop_connection(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.abort();
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = conn.quit();
        }
    }
}

/// MAIL FROM, RCPT TO, DATA, then the message and its terminator in one write.
fn transaction(
    conn: &mut SmtpConnection,
    envelope: &Envelope,
    parameters: Vec<MailParameter>,
    raw: &[u8],
) -> Result<(), (Step, Error)> {
    conn.command(Mail::new(envelope.from().cloned(), parameters))
        .map_err(|e| (Step::Mail, e))?;
    let later = |e| (Step::Later, e);
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), vec![])).map_err(later)?;
    }
    conn.command(Data).map_err(later)?;
    match std::str::from_utf8(raw) {
        // `command` writes what it is given in one write, then reads the reply.
        Ok(text) => conn.command(DataBody(text)),
        // Never so for the mails we compose: lettre's own writer, right but 40 ms slower.
        Err(_) => conn.message(&crlf_only(raw)),
    }
    .map(drop)
    .map_err(later)
}

/// The parameters lettre's own `send` would give MAIL FROM, with the same refusals.
fn mail_parameters(
    server: &ServerInfo,
    envelope: &Envelope,
    raw: &[u8],
) -> Result<Vec<MailParameter>, Failed> {
    let mut parameters = Vec::new();
    let mut addresses = envelope.from().into_iter().chain(envelope.to());
    if addresses.any(|a| !AsRef::<str>::as_ref(a).is_ascii()) {
        if !server.supports_feature(Extension::SmtpUtfEight) {
            return Err(Failed::Unsendable(
                "the envelope has non-ASCII addresses but the server does not offer SMTPUTF8",
            ));
        }
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !raw.is_ascii() {
        if !server.supports_feature(Extension::EightBitMime) {
            return Err(Failed::Unsendable(
                "the message is not ASCII but the server does not offer 8BITMIME",
            ));
        }
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    Ok(parameters)
}

/// A message as DATA carries it (RFC 5321 4.5.2): every line break CRLF (a bare LF or CR
/// becomes one), a '.' starting a line doubled, then `CRLF.CRLF` — the first CRLF of which
/// the server takes as the end of the last line, as with lettre's writer.
struct DataBody<'a>(&'a str);

impl fmt::Display for DataBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        wire_pieces(self.0.as_bytes(), true, |piece| match piece {
            // Ranges end only next to ASCII bytes, so they are char boundaries.
            Piece::Text(r) => f.write_str(&self.0[r]),
            Piece::Crlf => f.write_str("\r\n"),
            Piece::Dot => f.write_str("."),
        })?;
        f.write_str("\r\n.\r\n")
    }
}

/// Line breaks made CRLF, nothing stuffed: for lettre's `message`, which stuffs itself.
fn crlf_only(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    let _ = wire_pieces(raw, false, |piece| {
        match piece {
            Piece::Text(r) => out.extend_from_slice(&raw[r]),
            Piece::Crlf => out.extend_from_slice(b"\r\n"),
            Piece::Dot => out.push(b'.'),
        }
        Ok::<(), ()>(())
    });
    out
}

enum Piece {
    Text(Range<usize>),
    Crlf,
    Dot,
}

/// Walks `raw` once, giving runs of its own bytes and what goes between them on the wire.
fn wire_pieces<E>(
    raw: &[u8],
    stuff: bool,
    mut emit: impl FnMut(Piece) -> Result<(), E>,
) -> Result<(), E> {
    let (mut start, mut i, mut line_start) = (0, 0, true);
    while i < raw.len() {
        match raw[i] {
            b'\r' | b'\n' => {
                emit(Piece::Text(start..i))?;
                emit(Piece::Crlf)?;
                i += if raw[i..].starts_with(b"\r\n") { 2 } else { 1 };
                start = i;
                line_start = true;
                continue;
            }
            // The extra dot goes before this one, which stays in the next run.
            b'.' if line_start && stuff => {
                emit(Piece::Text(start..i))?;
                emit(Piece::Dot)?;
                start = i;
            }
            _ => {}
        }
        line_start = false;
        i += 1;
    }
    emit(Piece::Text(start..raw.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(text: &str) -> String {
        DataBody(text).to_string()
    }

    /// What a server keeps (RFC 5321 4.5.2): a line's leading dot dropped, up to `CRLF.CRLF`.
    fn unstuffed(wire: &str) -> String {
        let body = wire.strip_suffix("\r\n.\r\n").expect("the terminator");
        body.split("\r\n")
            .map(|line| line.strip_prefix('.').unwrap_or(line))
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    #[test]
    fn lines_starting_with_a_dot_are_stuffed_and_the_terminator_ends_the_same_write() {
        let text = ".\r\n..two\r\n.hidden\r\nmid.dle.\r\n\r\n.\r\nend.";
        assert_eq!(
            wire(text),
            "..\r\n...two\r\n..hidden\r\nmid.dle.\r\n\r\n..\r\nend.\r\n.\r\n"
        );
        assert_eq!(unstuffed(&wire(text)), text, "the server gets it back");
        assert_eq!(wire(""), "\r\n.\r\n");
        assert_eq!(wire("."), "..\r\n.\r\n");
        assert_eq!(
            unstuffed(&wire("Subject: x\r\n\r\nbody\r\n")),
            "Subject: x\r\n\r\nbody\r\n"
        );
        assert_eq!(wire("日本語\r\n.本文"), "日本語\r\n..本文\r\n.\r\n");
    }

    #[test]
    fn bare_line_feeds_and_returns_become_crlf_and_start_a_line() {
        assert_eq!(wire("a\n.b\nc"), "a\r\n..b\r\nc\r\n.\r\n");
        assert_eq!(wire("a\r.b"), "a\r\n..b\r\n.\r\n");
        assert_eq!(wire("a\r\r\nb"), "a\r\n\r\nb\r\n.\r\n");
        assert_eq!(wire("a\n\r\n.\n"), "a\r\n\r\n..\r\n\r\n.\r\n");
        // No bare LF can smuggle a terminator through.
        assert_eq!(
            wire("x\n.\nMAIL FROM:<e@x>"),
            "x\r\n..\r\nMAIL FROM:<e@x>\r\n.\r\n"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_get_crlf_only_for_lettre_to_stuff() {
        assert_eq!(crlf_only(b"a\n.\xff\r\nb"), b"a\r\n.\xff\r\nb");
    }
}
