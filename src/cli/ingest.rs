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

/// Mails per transaction for `ingest FILE...`: one commit (and its wait for the disk) pays
/// for many. 256 stored about a tenth faster than 64 once preparing ran on two threads.
const INGEST_BATCH: usize = 256;

/// The first batch's bound; each next one twice the last, up to [`INGEST_BATCH`]. Storing
/// waits for the first batch to be prepared: 32 mails are ready in a few milliseconds, 256
/// in a few tens, a tenth of a 1,000-file run.
const FIRST_BATCH: usize = 32;

/// And at most this many bytes of mail a batch, whatever their number: two batches are in
/// memory at once, and a mail may be as large as `intake.max_message_bytes`.
const INGEST_BATCH_BYTES: u64 = 32 << 20;

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

/// The file's size, if it can be known now (one that cannot is reported when read).
fn check_size(path: &Path, max: u64) -> Result<u64, IngestError> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    if size > max {
        return Err(IngestError::TooLarge(path.display().to_string()));
    }
    Ok(size)
}

/// The files of each batch, in order: [`FIRST_BATCH`] of them at first, twice as many in
/// each next batch up to [`INGEST_BATCH`], and at most [`INGEST_BATCH_BYTES`] together (a
/// larger file is a batch of its own).
fn batches(sizes: &[u64]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    let mut bound = FIRST_BATCH;
    for (i, &size) in sizes.iter().enumerate() {
        let full = i - start == bound || bytes.saturating_add(size) > INGEST_BATCH_BYTES;
        if i > start && full {
            out.push(start..i);
            (start, bytes) = (i, 0);
            bound = (bound * 2).min(INGEST_BATCH);
        }
        bytes = bytes.saturating_add(size);
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
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
    let sizes = files
        .iter()
        .map(|path| check_size(path, max))
        .collect::<Result<Vec<_>, _>>()?;
    let batches = batches(&sizes);
    // Only a matter of speed: without it, each batch is stored all the same.
    if let Err(e) = db::checkpoint::for_bulk_writing(conn) {
        tracing::warn!(error = %e, "bulk ingest goes on with the usual page cache");
    }
    let mut progress = Progress::new("ingested");
    // A second thread reads and prepares (parses, triages) the next batch while this one
    // stores the last: the parse and the urgent check need no database, and the commit's
    // wait for the disk is spent on them.
    let taken = std::thread::scope(|scope| {
        // Handed over, not queued: two batches in memory at most (see INGEST_BATCH_BYTES).
        let (handed, prepared) = mpsc::sync_channel(0);
        let reader = std::thread::Builder::new()
            .name("ingest-prepare".into())
            .spawn_scoped(scope, move || {
                for range in batches {
                    let batch = prepare_batch(state, &files[range]);
                    let failed = batch.is_err();
                    if handed.send(batch).is_err() || failed {
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
    // Preparing is most of a mail's work (the urgent check alone a third), more than storing
    // it: half the batch is prepared on a third thread, so that both cores stay busy.
    let (first, second) = raws.split_at(raws.len() / 2);
    let prepare = |part: &[Vec<u8>]| -> Vec<mail::Prepared> {
        part.iter()
            .map(|raw| mail::prepare(state, raw, now))
            .collect()
    };
    let prepared = std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("ingest-prepare-2".into())
            .spawn_scoped(scope, || prepare(second));
        let mut prepared = prepare(first);
        match helper {
            Ok(helper) => match helper.join() {
                Ok(rest) => prepared.extend(rest),
                Err(panic) => std::panic::resume_unwind(panic),
            },
            // No thread to be had: this one prepares the rest too.
            Err(_) => prepared.extend(prepare(second)),
        }
        prepared
    });
    Ok((raws, prepared))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_grow_from_32_to_256_mails_and_hold_up_to_32_mib() {
        assert!(batches(&[]).is_empty());
        assert_eq!(batches(&[10; 3]), vec![0..3]);
        assert_eq!(
            batches(&[10; 1000]),
            vec![
                0..32,
                32..96,
                96..224,
                224..480,
                480..736,
                736..992,
                992..1000
            ]
        );
        let mib = 1 << 20;
        // 20 + 10 fit, 5 more would not; a file past the bound is a batch of its own.
        assert_eq!(
            batches(&[20 * mib, 10 * mib, 5 * mib, 40 * mib, 1]),
            vec![0..2, 2..3, 3..4, 4..5]
        );
        assert_eq!(batches(&[0, 40 * mib]), vec![0..1, 1..2]);
    }
}
