//! Mail arriving: an MTA pipe (`madoguchi ingest FILE`) and a mail server delivering into the
//! IMAP mailbox serve polls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dovecot::Dovecot;
use super::load::{BODIES, Kinds, Rng, SUBJECTS, Shared, Stats, pause};

/// A mail as it arrives: a first consultation, or (one in four, once there are some) a
/// follow-up from an API consulter with the reference in its subject, which must join that
/// consultation. Its Message-ID, and the reference it must join.
fn a_mail(shared: &Shared, kind: &'static str, rng: &mut Rng) -> (Vec<u8>, String, Option<String>) {
    let marker = shared.marker(kind);
    let message_id = format!("{marker}@mail.example.jp");
    let earlier = {
        let ledger = shared.ledger.lock().unwrap();
        let apis: Vec<_> = ledger
            .consultations
            .iter()
            .filter(|c| c.0 == "api")
            .collect();
        (rng.below(4) == 0 && !apis.is_empty())
            .then(|| apis[rng.below(apis.len())])
            .map(|c| (c.2.clone(), c.3.clone()))
    };
    let (from, subject, joins) = match earlier {
        Some((reference, email)) => (
            email,
            format!("Re: {marker} ご返信ありがとうございます [#{reference}]"),
            Some(reference),
        ),
        None => (
            format!("{marker}@example.jp"),
            format!("{marker} {}", SUBJECTS[rng.below(SUBJECTS.len())]),
            None,
        ),
    };
    let raw = format!(
        "From: =?UTF-8?B?{name}?= <{from}>\r\nTo: soudan@example.org\r\n\
         Subject: =?UTF-8?B?{subject}?=\r\nDate: Wed, 02 Dec 2026 10:00:00 +0900\r\n\
         Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {body}\r\n",
        name = super::base64("鈴木 次郎".as_bytes()),
        subject = super::base64(subject.as_bytes()),
        body = super::base64(BODIES[rng.below(BODIES.len())].as_bytes()),
    );
    (raw.into_bytes(), message_id, joins)
}

/// An MTA handing each mail to `madoguchi ingest FILE`, as a Postfix pipe does; exit 75 is
/// tried again.
pub fn ingest(shared: Arc<Shared>, beat: Duration, seed: u64) -> Kinds {
    let mut rng = Rng::new(seed);
    let (mut new, mut follow) = (Stats::default(), Stats::default());
    while !shared.stopping() {
        let began = Instant::now();
        let (raw, message_id, joins) = a_mail(&shared, "ingest", &mut rng);
        let file = shared.mail_dir.join(&message_id);
        std::fs::write(&file, &raw).expect("a mail file");
        let stats = if joins.is_some() {
            &mut follow
        } else {
            &mut new
        };
        stats.attempted += 1;
        loop {
            let out = std::process::Command::new(&shared.bin)
                .arg("ingest")
                .arg(&file)
                .envs(shared.env.iter().map(|(k, v)| (k, v)))
                .env("MADOGUCHI_LOG__LEVEL", "warn")
                .output()
                .expect("madoguchi ingest runs");
            match out.status.code() {
                Some(0) => {
                    stats.acknowledged += 1;
                    stats.latencies.push(began.elapsed());
                    let mut ledger = shared.ledger.lock().unwrap();
                    ledger.mails.push(("ingest", message_id, joins));
                }
                Some(75) => {
                    stats.try_again += 1;
                    stats.failures_at.push(shared.secs());
                    if !shared.given_up() {
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                    stats.given_up += 1;
                }
                code => stats.unexpected(format!(
                    "ingest exit {code:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                )),
            }
            break;
        }
        let _ = std::fs::remove_file(&file);
        pause(&shared, began, beat);
    }
    BTreeMap::from([("ingest", new), ("follow-up by ingest", follow)])
}

/// A mail server delivering into the mailbox `serve` polls.
pub fn imap(shared: Arc<Shared>, mailbox: Arc<Dovecot>, beat: Duration, seed: u64) -> Kinds {
    let mut rng = Rng::new(seed);
    let (mut new, mut follow) = (Stats::default(), Stats::default());
    while !shared.stopping() {
        let began = Instant::now();
        let (raw, message_id, joins) = a_mail(&shared, "imap", &mut rng);
        let stats = if joins.is_some() {
            &mut follow
        } else {
            &mut new
        };
        stats.attempted += 1;
        // The mailbox is never taken down: APPEND answered OK is the acknowledgement.
        mailbox.append(&raw);
        stats.acknowledged += 1;
        stats.latencies.push(began.elapsed());
        shared
            .ledger
            .lock()
            .unwrap()
            .mails
            .push(("imap", message_id, joins));
        pause(&shared, began, beat);
    }
    BTreeMap::from([("imap", new), ("follow-up by imap", follow)])
}
