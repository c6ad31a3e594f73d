//! `madoguchi retention run` and `madoguchi export`: progress on a terminal (stderr), quiet in
//! a pipe; the result on stdout. Exit 0 done, 64 a folder that is not empty, 73 a file that
//! cannot be written, 75 the database unavailable (run again: it goes on where it stopped).

use std::path::Path;
use std::process::ExitCode;

use super::progress::Progress;
use super::{EX_TEMPFAIL, EX_UNAVAILABLE, EX_USAGE, db_exit, fail};
use crate::desk::DeskError;
use crate::desk::export::{self, ExportError};
use crate::desk::retention;
use crate::state::AppState;

pub const EX_CANTCREAT: u8 = 73;

fn desk_exit(e: &DeskError) -> u8 {
    match e {
        DeskError::Db(e) => db_exit(e),
        _ => EX_UNAVAILABLE,
    }
}

pub fn retention(state: Result<AppState, ExitCode>, dry_run: bool) -> ExitCode {
    let state = match state {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut conn = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(EX_TEMPFAIL, &crate::db::DbError::from(e)),
    };
    let years = state.settings.retention.erase_after_years;
    let mut progress = Progress::new("erased");
    let result = if dry_run {
        retention::plan(&state, &mut conn)
    } else {
        retention::run(&state, &mut conn, &mut |d, t| progress.tell(d, t))
    };
    progress.end();
    match result {
        Ok(None) => {
            println!("retention is off (retention.erase_after_years = 0): nothing erased");
            ExitCode::SUCCESS
        }
        Ok(Some(c)) if dry_run => {
            println!(
                "dry run, nothing changed: would erase {} tickets closed more than {years} years ago \
                 (and the address of {} consulters, every ticket of theirs gone), {} quarantined \
                 mails; {} kept by a legal hold; {} waiting for mail to go out first",
                c.tickets, c.consulters, c.quarantine, c.held, c.deferred
            );
            ExitCode::SUCCESS
        }
        Ok(Some(c)) => {
            println!(
                "erased {} tickets closed more than {years} years ago, {} consulters, {} \
                 quarantined mails, {} mail files; {} kept by a legal hold; {} left for a later \
                 run (mail still to go out)",
                c.tickets, c.consulters, c.quarantine, c.mail_files, c.held, c.deferred
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(desk_exit(&e), &e),
    }
}

pub fn export(state: Result<AppState, ExitCode>, out: &Path, force: bool) -> ExitCode {
    let state = match state {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut conn = match state.pool.get() {
        Ok(c) => c,
        Err(e) => return fail(EX_TEMPFAIL, &crate::db::DbError::from(e)),
    };
    let mut progress = Progress::new("exported");
    let result = export::export(&state, &mut conn, out, force, &mut |d, t| {
        progress.tell(d, t)
    });
    progress.end();
    match result {
        Ok(w) => {
            println!(
                "exported {} tickets, {} messages ({} as .eml), {} attachments into {}",
                w.tickets,
                w.messages,
                w.eml,
                w.attachments,
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e @ ExportError::NotEmpty(_)) => fail(EX_USAGE, &e),
        Err(e @ ExportError::Write(..)) => fail(EX_CANTCREAT, &e),
        Err(ExportError::Desk(e)) => fail(desk_exit(&e), &e),
    }
}
