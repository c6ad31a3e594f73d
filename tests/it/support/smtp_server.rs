//! A real, in-process SMTP server for integration tests (std only, no async).
//!
//! It listens on 127.0.0.1 with one thread for `accept` and one per connection, speaks the
//! ESMTP subset lettre needs (EHLO/HELO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT),
//! records every accepted message byte for byte, and can be scripted to fail, stall or go down.

// Included with `mod smtp_server;` from several test binaries, each using only part of the API.
#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Longest command line we buffer (RFC 5321 says 512, but tests may send 1000+ bytes).
const MAX_COMMAND: usize = 64 * 1024;
/// Advertised extensions: lettre sends BODY=8BITMIME / SMTPUTF8 only if we offer them.
const EHLO_REPLY: &str =
    "250-localhost\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN";
/// How long `restart()` keeps retrying to bind the old port.
const REBIND_FOR: Duration = Duration::from_secs(5);

/// One message the server accepted (answered 250 at the end of DATA).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Reverse-path from `MAIL FROM:<...>`, without brackets; "" for the null sender.
    pub from: String,
    /// Forward-paths from each accepted `RCPT TO:<...>`, in order.
    pub to: Vec<String>,
    /// The message exactly as sent, after dot-unstuffing, without the final CRLF.CRLF.
    pub data: Vec<u8>,
    /// Username given in AUTH on this connection, if any.
    pub auth_user: Option<String>,
    /// Reads from the socket it took from the 354 to the end of DATA: 1 when the client wrote
    /// the message and its terminator at once (a small mail, on loopback).
    pub data_reads: usize,
    /// Which connection (0, 1, ... in order of accepting) carried it.
    pub connection: usize,
}

/// Where a scripted fault answers instead of the normal reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The reply to `MAIL FROM`.
    Mail,
    /// The reply to every `RCPT TO` of the transaction.
    Rcpt,
    /// The reply after the message body (end of DATA); the 354 still goes out.
    Data,
}

#[derive(Clone, Debug)]
struct Fault {
    stage: Stage,
    reply: String,
    remaining: usize,
}

#[derive(Default)]
struct State {
    mails: Vec<ReceivedMail>,
    faults: VecDeque<Fault>,
    data_delay: Duration,
    running: bool,
    /// Connections accepted so far.
    accepted: usize,
    /// A clone of each live connection's socket, so `stop()` can shut it down and join it.
    conns: Vec<(TcpStream, JoinHandle<()>)>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when a mail is recorded and when the server stops.
    cond: Condvar,
}

impl Shared {
    /// A panicking test thread must not turn every later call into a second panic.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The test server. Every method takes `&self`, so it can be shared between threads.
pub struct TestSmtpServer {
    shared: Arc<Shared>,
    port: u16,
    /// The accept thread while listening; the mutex also serialises `stop()` and `restart()`.
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl TestSmtpServer {
    /// Binds 127.0.0.1 on a free port and starts serving. Panics if no port can be bound.
    pub fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        let (shared, acceptor) = (Arc::default(), Mutex::default());
        let server = TestSmtpServer {
            shared,
            port,
            acceptor,
        };
        server.listen(&mut server.acceptor(), listener);
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// All messages accepted so far (across connections, stops and restarts).
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.lock().mails.clone()
    }

    /// How many connections the server accepted (across stops and restarts).
    pub fn connections(&self) -> usize {
        self.shared.lock().accepted
    }

    /// Blocks until at least `n` messages were accepted or `timeout` passed; returns them all.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let st = self.shared.lock();
        let (st, _) = (self.shared.cond)
            .wait_timeout_while(st, timeout, |s| s.mails.len() < n)
            .unwrap_or_else(PoisonError::into_inner);
        st.mails.clone()
    }

    /// The next `n` transactions get `"{code} {text}"` at `stage` and are not recorded,
    /// e.g. `fail_next(1, Stage::Data, 451, "4.3.0 try later")`. A transaction claims its
    /// fault at MAIL FROM, so one abandoned with RSET still uses it up. Calls queue up in order.
    pub fn fail_next(&self, n: usize, stage: Stage, code: u16, text: &str) {
        if n > 0 {
            let reply = format!("{code} {text}");
            let fault = Fault {
                stage,
                reply,
                remaining: n,
            };
            self.shared.lock().faults.push_back(fault);
        }
    }

    /// Delays the reply at the end of DATA. The message is recorded *before* the delay (as a
    /// real MTA commits before answering), so a test can `wait_for` it and then kill the
    /// client inside the "delivered but not yet acknowledged" window.
    pub fn set_delay_before_data_reply(&self, delay: Duration) {
        self.shared.lock().data_delay = delay;
    }

    /// Server "down": closes the listener (connects are refused) and drops every connection,
    /// including one waiting in the DATA delay. Returns once all server threads have exited.
    /// Recorded mails and pending faults are kept. No-op if already stopped.
    pub fn stop(&self) {
        let mut acceptor = self.acceptor();
        let Some(handle) = acceptor.take() else {
            return;
        };
        let conns = {
            let mut st = self.shared.lock();
            st.running = false;
            std::mem::take(&mut st.conns)
        };
        self.shared.cond.notify_all(); // wakes sessions sleeping in the DATA delay
        for (stream, _) in &conns {
            let _ = stream.shutdown(Shutdown::Both); // unblocks their reads and writes
        }
        // std cannot interrupt a blocking accept(): connect once so it returns, sees
        // !running and drops the listener. Any other client arriving works just as well.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        let _ = handle.join();
        for (_, handle) in conns {
            let _ = handle.join();
        }
    }

    /// Listens again on the same port after `stop()`. std sets SO_REUSEADDR on Unix, so
    /// TIME_WAIT sockets do not block the bind; we still retry briefly in case the kernel is
    /// slow to release it. Panics if the port stays taken. No-op if running.
    pub fn restart(&self) {
        let mut acceptor = self.acceptor();
        if acceptor.is_some() {
            return;
        }
        let deadline = Instant::now() + REBIND_FOR;
        let listener = loop {
            match TcpListener::bind((Ipv4Addr::LOCALHOST, self.port)) {
                Ok(listener) => break listener,
                Err(e) if Instant::now() >= deadline => {
                    panic!("restart: cannot bind 127.0.0.1:{} again: {e}", self.port)
                }
                Err(_) => thread::sleep(Duration::from_millis(20)),
            }
        };
        self.listen(&mut acceptor, listener);
    }

    fn acceptor(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.acceptor.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn listen(&self, acceptor: &mut Option<JoinHandle<()>>, listener: TcpListener) {
        self.shared.lock().running = true;
        let shared = Arc::clone(&self.shared);
        *acceptor = Some(thread::spawn(move || accept_loop(listener, shared)));
    }
}

impl Drop for TestSmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        // Registering under the lock, after checking `running`, means stop() either sees
        // this connection in `conns` or we see !running: no session can escape shutdown.
        let mut st = shared.lock();
        if !st.running {
            return; // drops the listener: further connects are refused
        }
        let Ok(stream) = conn else {
            drop(st);
            thread::sleep(Duration::from_millis(10)); // e.g. EMFILE: don't spin
            continue;
        };
        let Ok(handle_copy) = stream.try_clone() else {
            continue;
        };
        let sh = Arc::clone(&shared);
        let number = st.accepted;
        st.accepted += 1;
        let handle = thread::spawn(move || serve(stream, &sh, number));
        st.conns.retain(|(_, h)| !h.is_finished());
        st.conns.push((handle_copy, handle));
    }
}

fn serve(stream: TcpStream, shared: &Shared, number: usize) {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        r: BufReader::new(Counted {
            stream: &stream,
            reads: 0,
        }),
        w: &stream,
        number,
    };
    // An error only means the peer left or stop() shut the socket: the session just ends.
    let _ = conn.session(shared);
    let _ = stream.shutdown(Shutdown::Both);
}

struct Conn<'a> {
    r: BufReader<Counted<'a>>,
    w: &'a TcpStream,
    number: usize,
}

/// The socket, counting its reads: how a client's writes arrived.
struct Counted<'a> {
    stream: &'a TcpStream,
    reads: usize,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        let mut stream = self.stream;
        stream.read(buf)
    }
}

/// The mail being built by MAIL/RCPT, and the scripted fault it claimed, if any.
type Transaction = (ReceivedMail, Option<Fault>);

impl Conn<'_> {
    fn reply(&mut self, text: &str) -> io::Result<()> {
        self.w.write_all(format!("{text}\r\n").as_bytes())
    }

    /// One line including its line ending, or `None` if longer than `max` (read whole, then
    /// refused: a test client is trusted not to flood us). EOF is an error, which ends the
    /// session wherever it happens.
    fn line(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        let mut buf = Vec::new();
        if self.r.read_until(b'\n', &mut buf)? == 0 || !buf.ends_with(b"\n") {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok((buf.len() <= max).then_some(buf))
    }

    fn session(&mut self, shared: &Shared) -> io::Result<()> {
        self.reply("220 localhost ESMTP madoguchi test server")?;
        let (mut greeted, mut auth_user, mut tx) = (false, None, None::<Transaction>);
        loop {
            let Some(raw) = self.line(MAX_COMMAND)? else {
                self.reply("500 5.5.6 Line too long")?;
                continue;
            };
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\r', '\n']);
            let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
            let (verb, arg) = (verb.to_ascii_uppercase(), arg.trim());
            let hello = matches!(verb.as_str(), "EHLO" | "HELO") && !arg.is_empty();
            if hello || verb == "RSET" {
                tx = None; // both abort a transaction in progress (RFC 5321 4.1.4)
            }
            greeted |= hello;
            let reply: Cow<str> = match verb.as_str() {
                "EHLO" | "HELO" if arg.is_empty() => "501 5.5.4 Domain required".into(),
                "EHLO" => EHLO_REPLY.into(),
                "HELO" => "250 localhost".into(),
                "NOOP" | "RSET" => "250 2.0.0 OK".into(),
                "QUIT" => return self.reply("221 2.0.0 Bye"),
                "AUTH" | "MAIL" if !greeted => "503 5.5.1 Send EHLO first".into(),
                "AUTH" if auth_user.is_some() || tx.is_some() => "503 5.5.1 Bad sequence".into(),
                "AUTH" => match self.auth(arg)? {
                    Ok(user) => {
                        auth_user = Some(user);
                        "235 2.7.0 Authentication successful".into()
                    }
                    Err(reply) => reply.into(),
                },
                "MAIL" if tx.is_some() => "503 5.5.1 Nested MAIL command".into(),
                "MAIL" => match parse_path(arg, "FROM:") {
                    None => "501 5.5.4 Syntax: MAIL FROM:<address>".into(),
                    Some(from) => match claim_fault(shared) {
                        Some(f) if f.stage == Stage::Mail => f.reply.into(),
                        fault => {
                            let auth_user = auth_user.clone();
                            let mail = ReceivedMail {
                                from,
                                auth_user,
                                ..Default::default()
                            };
                            tx = Some((mail, fault));
                            "250 2.1.0 OK".into()
                        }
                    },
                },
                "RCPT" => match (&mut tx, parse_path(arg, "TO:").filter(|to| !to.is_empty())) {
                    (None, _) => "503 5.5.1 Need MAIL first".into(),
                    (Some(_), None) => "501 5.5.4 Syntax: RCPT TO:<address>".into(),
                    (Some((_, Some(f))), _) if f.stage == Stage::Rcpt => f.reply.clone().into(),
                    (Some((mail, _)), Some(to)) => {
                        mail.to.push(to);
                        "250 2.1.5 OK".into()
                    }
                },
                "DATA" if !arg.is_empty() => "501 5.5.4 DATA takes no argument".into(),
                "DATA" => match tx.take() {
                    None => "503 5.5.1 Need MAIL first".into(),
                    Some(t) if t.0.to.is_empty() => {
                        tx = Some(t);
                        "554 5.5.1 No valid recipients".into()
                    }
                    Some(t) => self.data(shared, t)?.into(),
                },
                "" => "500 5.5.2 Empty command".into(),
                _ => "500 5.5.2 Command not recognized".into(),
            };
            self.reply(&reply)?;
        }
    }

    /// Reads the body and records it (unless faulted), then waits the scripted delay; returns
    /// the final reply.
    fn data(&mut self, shared: &Shared, (mut mail, fault): Transaction) -> io::Result<String> {
        self.reply("354 End data with <CR><LF>.<CR><LF>")?;
        // Nothing of DATA is buffered yet: the client waits for the 354.
        let reads_before = self.r.get_ref().reads;
        // Like lettre's encoder, only a line after CRLF (or the first) is dot-stuffed or can be
        // the terminator, so a '.' after a bare LF is data and bytes survive exactly.
        let mut at_line_start = true;
        loop {
            let line = self.line(usize::MAX)?.unwrap_or_default();
            if at_line_start && line == b".\r\n" {
                break;
            }
            let stuffed = usize::from(at_line_start && line.starts_with(b"."));
            mail.data.extend_from_slice(&line[stuffed..]);
            at_line_start = line.ends_with(b"\r\n");
        }
        mail.data_reads = self.r.get_ref().reads - reads_before;
        mail.connection = self.number;
        if mail.data.ends_with(b"\r\n") {
            mail.data.truncate(mail.data.len() - 2); // that CRLF is the first half of CRLF.CRLF
        }
        let reply = match fault {
            Some(f) if f.stage == Stage::Data => f.reply,
            _ => {
                shared.lock().mails.push(mail);
                shared.cond.notify_all();
                "250 2.0.0 OK queued".to_string()
            }
        };
        // Sleep on the condvar rather than thread::sleep so stop() cuts the delay short.
        let st = shared.lock();
        let delay = st.data_delay;
        let (st, _) = (shared.cond)
            .wait_timeout_while(st, delay, |s| s.running)
            .unwrap_or_else(PoisonError::into_inner);
        match st.running {
            true => Ok(reply),
            false => Err(io::ErrorKind::ConnectionAborted.into()), // "crashed" before replying
        }
    }

    /// Runs AUTH PLAIN or LOGIN, with or without an initial response. Any credentials pass;
    /// returns the username, or the error reply to send.
    fn auth(&mut self, arg: &str) -> io::Result<Result<String, &'static str>> {
        let (mechanism, initial) = match arg.split_once(' ') {
            Some((m, i)) => (m, Some(i.trim().to_string())),
            None => (arg, None),
        };
        let user = match mechanism.to_ascii_uppercase().as_str() {
            // authzid NUL authcid NUL password
            "PLAIN" => self.sasl_step("", initial)?.and_then(|resp| {
                let parts: Vec<&[u8]> = resp.split(|&b| b == 0).collect();
                (parts.len() == 3).then(|| parts[1].to_vec())
            }),
            // The prompts are base64 "Username:" and "Password:", the strings lettre expects.
            "LOGIN" => match self.sasl_step("VXNlcm5hbWU6", initial)? {
                Some(user) => self.sasl_step("UGFzc3dvcmQ6", None)?.map(|_| user),
                None => None,
            },
            _ => return Ok(Err("504 5.5.4 Unrecognized authentication type")),
        };
        let user = user.map(|u| String::from_utf8_lossy(&u).into_owned());
        Ok(user.ok_or("501 5.5.2 Invalid or cancelled AUTH response"))
    }

    /// One SASL exchange: use `given` or send `334 prompt` and read the answer. `None` if the
    /// client cancelled ("*"), sent a too-long line or invalid base64.
    fn sasl_step(&mut self, prompt: &str, given: Option<String>) -> io::Result<Option<Vec<u8>>> {
        let answer = match given {
            Some(answer) => answer,
            None => {
                self.reply(&format!("334 {prompt}"))?;
                match self.line(MAX_COMMAND)? {
                    Some(line) => String::from_utf8_lossy(&line).trim().to_string(),
                    None => return Ok(None),
                }
            }
        };
        Ok(match answer.as_str() {
            "*" => None,
            "=" => Some(Vec::new()), // RFC 4954: an empty initial response
            b64 => base64_decode(b64),
        })
    }
}

/// Takes the next scripted fault, if any, for a transaction starting now.
fn claim_fault(shared: &Shared) -> Option<Fault> {
    let mut st = shared.lock();
    let front = st.faults.front_mut()?;
    front.remaining -= 1;
    let fault = front.clone();
    if front.remaining == 0 {
        st.faults.pop_front();
    }
    Some(fault)
}

/// `FROM:<a@b> BODY=8BITMIME` -> `a@b` (parameters are accepted and ignored).
fn parse_path(arg: &str, keyword: &str) -> Option<String> {
    if !arg.get(..keyword.len())?.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let inner = arg[keyword.len()..].trim_start().strip_prefix('<')?;
    Some(inner[..inner.find('>')?].to_string())
}

/// Standard base64 with optional padding; `None` on any other character.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        acc = (acc << 6) | ALPHABET.iter().position(|&a| a == c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
