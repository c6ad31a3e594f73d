//! Password checks on a few threads of their own. An argon2 check takes 19 MiB for its run:
//! unbounded, a flood of wrong passwords took the server to gigabytes (issue 10). Here at
//! most one check per thread runs; a caller waits a short while for a free thread and is
//! otherwise told to come back. Fixed threads also keep the allocator from holding a 19 MiB
//! block in the arena of every thread that ever checked a password.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::passwords;

/// A check of `password` against a stored hash, or (with no hash) a new hash of it.
struct Job {
    password: String,
    hash: Option<String>,
    answer: mpsc::SyncSender<Answer>,
}

enum Answer {
    Checked(bool),
    Hashed(Option<String>),
}

pub struct PasswordChecker {
    capacity: usize,
    /// Checks admitted and not yet answered.
    admitted: Mutex<usize>,
    freed: Condvar,
    /// The threads' queue, made with them at the first check: a command such as `ingest`,
    /// started once per mail, never checks a password and should not start threads for it.
    jobs: OnceLock<Mutex<mpsc::Sender<Job>>>,
}

impl PasswordChecker {
    /// `threads` checks at once (0: one per CPU core).
    pub fn new(threads: usize) -> Self {
        let capacity = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        Self {
            capacity,
            admitted: Mutex::new(0),
            freed: Condvar::new(),
            jobs: OnceLock::new(),
        }
    }

    fn start(capacity: usize) -> Mutex<mpsc::Sender<Job>> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..capacity {
            let rx = rx.clone();
            // The threads end when the checker (the sender) is dropped.
            let _ = std::thread::Builder::new()
                .name(format!("password-check-{i}"))
                .spawn(move || {
                    // Taken at the first check, not at start: most servers check few.
                    let mut memory: Option<passwords::CheckMemory> = None;
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let answer = match &job.hash {
                            Some(hash) => Answer::Checked(passwords::verify_with(
                                &job.password,
                                hash,
                                memory.get_or_insert_with(Default::default),
                            )),
                            None => Answer::Hashed(passwords::hash_secret(&job.password).ok()),
                        };
                        let _ = job.answer.send(answer);
                    }
                });
        }
        Mutex::new(tx)
    }

    /// Whether `password` matches `hash`; `None` when no thread came free within `wait`.
    pub fn verify(&self, password: &str, hash: &str, wait: Duration) -> Option<bool> {
        match self.run(password, Some(hash), wait)? {
            Answer::Checked(ok) => Some(ok),
            Answer::Hashed(_) => Some(false),
        }
    }

    /// An argon2id hash of `secret` (a consulter's passphrase), made on the same bounded
    /// threads; `None` when no thread came free within `wait` or it could not be made.
    pub fn hash(&self, secret: &str, wait: Duration) -> Option<String> {
        match self.run(secret, None, wait)? {
            Answer::Hashed(hash) => hash,
            Answer::Checked(_) => None,
        }
    }

    fn run(&self, password: &str, hash: Option<&str>, wait: Duration) -> Option<Answer> {
        let deadline = Instant::now() + wait;
        {
            let mut admitted = self.admitted.lock().unwrap_or_else(|p| p.into_inner());
            while *admitted >= self.capacity {
                let left = deadline.checked_duration_since(Instant::now())?;
                let (guard, _) = self
                    .freed
                    .wait_timeout(admitted, left)
                    .unwrap_or_else(|p| p.into_inner());
                admitted = guard;
            }
            *admitted += 1;
        }
        let (answer, answered) = mpsc::sync_channel(1);
        let sent = self
            .jobs
            .get_or_init(|| Self::start(self.capacity))
            .lock()
            .map(|jobs| {
                jobs.send(Job {
                    password: password.to_string(),
                    hash: hash.map(str::to_string),
                    answer,
                })
                .is_ok()
            })
            .unwrap_or(false);
        let fallback = || match hash {
            Some(_) => Answer::Checked(false),
            None => Answer::Hashed(None),
        };
        let answer = if sent {
            answered.recv().unwrap_or_else(|_| fallback())
        } else {
            fallback()
        };
        *self.admitted.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        self.freed.notify_one();
        Some(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_beyond_the_threads_wait_then_give_up() {
        let hash = passwords::hash("a long test password").unwrap();
        let checker = Arc::new(PasswordChecker::new(1));
        assert_eq!(
            checker.verify("a long test password", &hash, Duration::ZERO),
            Some(true)
        );
        assert_eq!(checker.verify("wrong", &hash, Duration::ZERO), Some(false));
        let made = checker.hash("合言葉はひまわり", Duration::ZERO).unwrap();
        assert!(made.starts_with("$argon2id$"));
        assert_eq!(
            checker.verify("合言葉はひまわり", &made, Duration::ZERO),
            Some(true)
        );
        // Hold the one thread with a slow stream of checks; a caller that cannot wait is
        // turned away rather than queued without end.
        let busy = {
            let (checker, hash) = (checker.clone(), hash.clone());
            std::thread::spawn(move || {
                for _ in 0..20 {
                    checker.verify("wrong", &hash, Duration::from_secs(5));
                }
            })
        };
        let mut refused = 0;
        for _ in 0..200 {
            if checker.verify("wrong", &hash, Duration::ZERO).is_none() {
                refused += 1;
            }
        }
        busy.join().unwrap();
        assert!(
            refused > 0,
            "a caller that found the thread busy was refused"
        );
    }
}
