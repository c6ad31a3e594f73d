//! Progress of long work (bulk `ingest`, export, retention) for a person at a terminal; a
//! pipe or a log file gets none of it.

use std::io::{IsTerminal, Write};

/// A line on stderr rewritten in place, only when a person watches it.
pub(super) struct Progress {
    on: bool,
    label: &'static str,
    shown: bool,
}

impl Progress {
    pub(super) fn new(label: &'static str) -> Self {
        Self {
            on: std::io::stderr().is_terminal(),
            label,
            shown: false,
        }
    }

    /// Whether a person watches it (stderr is a terminal).
    pub(super) fn watched(&self) -> bool {
        self.on
    }

    pub(super) fn tell(&mut self, done: usize, total: usize) {
        if self.on {
            eprint!("\r{} {done}/{total}", self.label);
            let _ = std::io::stderr().flush();
            self.shown = true;
        }
    }

    pub(super) fn end(&mut self) {
        if self.shown {
            eprintln!();
            self.shown = false;
        }
    }
}
