//! The soak (issue 17, point 6): 30 minutes (BENCH_SOAK_SECONDS) of mixed load on the real
//! `madoguchi serve` over a PostgreSQL cluster of its own — the /consult form, POST
//! /api/v1/consultations, `madoguchi ingest FILE` processes, IMAP deliveries into a Dovecot
//! mailbox serve polls, staff signing in, reading the queue and tickets and replying — with
//! serve killed by SIGKILL at half time and PostgreSQL restarted a little later. Then every
//! acknowledged consultation, mail and reply is looked for, and serve's memory is summed up.
//! Prints one table; exits 1 when something was lost, more than 2 were doubled, or memory
//! grew past its bound. The driver is `tests/it/soak/driver.rs`, which CI runs for 25 s.
//!
//!     scripts/bench soak                          # 30 minutes
//!     BENCH_SOAK_SECONDS=300 scripts/bench soak   # 5 minutes
//!     BENCH_SOAK_RATE=2 scripts/bench soak        # twice the load

#[path = "../tests/it/soak/driver.rs"]
mod driver;

fn main() {
    let plan = driver::Plan::bench();
    let report = driver::run(&plan);
    report.print();
    if !report.problems().is_empty() {
        std::process::exit(1);
    }
}
