//! `madoguchi ingest`: raw mail from files, or one mail on stdin (an MTA pipe). One mail goes
//! to a running `serve` when one listens (`intake::handoff`); otherwise, and for many files,
//! this process stores the mail itself.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

use super::progress::Progress;
use super::{EX_DATAERR, EX_NOINPUT, EX_TEMPFAIL, fail, intake_at_hand};
use crate::config::Settings;
use crate::db;
use crate::intake::handoff::{self, Handed};
use crate::intake::{Outcome, mail};
use crate::state::AppState;

/// Mails per transaction for `ingest FILE...`: one commit pays for many.
const INGEST_BATCH: usize = 64;

pub(super) fn run(settings: Settings, files: &[PathBuf]) -> ExitCode {
    let max = settings.intake.max_message_bytes;
    let one = match files {
        [] => match read_stdin(max) {
            Ok(raw) => Some(raw),
            Err(code) => return code,
        },
        [path] => match read_file(path, max) {
            Ok(raw) => Some(raw),
            Err(e) => return ingest_failed(e, max),
        },
        _ => None,
    };
    if let (Some(raw), Some(socket)) = (&one, handoff::socket_path(&settings)) {
        match handoff::hand_over(&socket, &settings.database.url, raw) {
            Handed::Taken(word) => {
                println!("{word} 1");
                return ExitCode::SUCCESS;
            }
            // In the server's words, as `ingest` would say them itself.
            Handed::TryAgain(why) => return fail(EX_TEMPFAIL, &why),
            Handed::StoreItYourself => {}
        }
    }
    let (state, mut conn) = match intake_at_hand(settings) {
        Ok(at_hand) => at_hand,
        Err(code) => return code,
    };
    let outcomes = match one {
        Some(raw) => mail::take(&state, &mut conn, &raw, "ingest")
            .map(|o| vec![o])
            .map_err(IngestError::Take),
        None => ingest_files(&state, &mut conn, files),
    };
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(e) => return ingest_failed(e, max),
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for outcome in &outcomes {
        *counts.entry(outcome.as_str()).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("{}", summary.join(", "));
    ExitCode::SUCCESS
}

fn ingest_failed(e: IngestError, max: u64) -> ExitCode {
    match e {
        IngestError::Read(e) => fail(EX_NOINPUT, &e),
        IngestError::TooLarge(path) => fail(EX_DATAERR, &format!("{path}: {}", too_large(max))),
        // The MTA keeps the message and tries again; what was stored before stays stored.
        IngestError::Take(e) => fail(EX_TEMPFAIL, &e),
    }
}

fn read_stdin(max: u64) -> Result<Vec<u8>, ExitCode> {
    let mut raw = Vec::new();
    // Read no further than the limit: a mail of any size must not fill the memory.
    if let Err(e) = std::io::stdin()
        .lock()
        .take(max.saturating_add(1))
        .read_to_end(&mut raw)
    {
        return Err(fail(EX_NOINPUT, &format!("cannot read stdin: {e}")));
    }
    if raw.len() as u64 > max {
        return Err(fail(EX_DATAERR, &too_large(max)));
    }
    Ok(raw)
}

fn read_file(path: &Path, max: u64) -> Result<Vec<u8>, IngestError> {
    check_size(path, max)?;
    read(path)
}

fn check_size(path: &Path, max: u64) -> Result<(), IngestError> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() > max) {
        return Err(IngestError::TooLarge(path.display().to_string()));
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, IngestError> {
    std::fs::read(path)
        .map_err(|e| IngestError::Read(format!("cannot read {}: {e}", path.display())))
}

/// Said to the MTA, which returns the mail to its sender with these words.
fn too_large(max: u64) -> String {
    format!("the mail is larger than intake.max_message_bytes ({max} bytes) and was not taken")
}

enum IngestError {
    Read(String),
    /// A file over `intake.max_message_bytes`; nothing of its batch was taken.
    TooLarge(String),
    Take(mail::TakeError),
}

impl From<mail::TakeError> for IngestError {
    fn from(e: mail::TakeError) -> Self {
        Self::Take(e)
    }
}

fn ingest_files(
    state: &AppState,
    conn: &mut db::PooledConn,
    files: &[PathBuf],
) -> Result<Vec<Outcome>, IngestError> {
    let max = state.settings.intake.max_message_bytes;
    // Checked before anything is read or stored, so a rerun without the file takes the rest.
    for path in files {
        check_size(path, max)?;
    }
    let mut progress = Progress::new("ingested");
    // A second thread reads and prepares (parses, triages) the next batch while this one
    // stores the last: the parse and the urgent check need no database, and the commit's
    // wait for the disk is spent on them.
    let taken = std::thread::scope(|scope| {
        // Handed over, not queued: two batches in memory at most (each up to 64 mails).
        let (batches, prepared) = mpsc::sync_channel(0);
        let reader = std::thread::Builder::new()
            .name("ingest-prepare".into())
            .spawn_scoped(scope, move || {
                for chunk in files.chunks(INGEST_BATCH) {
                    let batch = prepare_batch(state, chunk);
                    let failed = batch.is_err();
                    if batches.send(batch).is_err() || failed {
                        break;
                    }
                }
            });
        // Without a second thread (none could start), nothing is read: said as a failure.
        if let Err(e) = reader {
            return Err(IngestError::Read(format!("cannot start reading: {e}")));
        }
        let mut outcomes = Vec::with_capacity(files.len());
        for batch in prepared {
            let (raws, prepared) = batch?;
            // A person watching the progress gets no line per mail on the terminal.
            let quietly = progress.watched();
            outcomes.extend(mail::take_batch_prepared(
                state, conn, &raws, prepared, "ingest", quietly,
            )?);
            progress.tell(outcomes.len(), files.len());
        }
        Ok(outcomes)
    });
    progress.end();
    taken
}

type Batch = (Vec<Vec<u8>>, Vec<mail::Prepared>);

fn prepare_batch(state: &AppState, chunk: &[PathBuf]) -> Result<Batch, IngestError> {
    let raws = chunk
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let now = state.time.now();
    let prepared = raws
        .iter()
        .map(|raw| mail::prepare(state, raw, now))
        .collect();
    Ok((raws, prepared))
}
