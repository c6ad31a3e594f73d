//! How the background workers are told things: a [`Waker`] says "there is mail to send", the
//! [`Shutdown`] token says "stop". `startup` owns the one token and hands it to every worker
//! (mail delivery, alerts, IMAP polling).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// Wakes an idle worker when there is work, instead of leaving it to its next poll.
#[derive(Default)]
pub struct Waker {
    pending: Mutex<bool>,
    cv: Condvar,
}

impl Waker {
    pub fn wake(&self) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_all();
    }

    /// Sleeps until woken or until `timeout`, and takes the wake-up.
    pub fn wait(&self, timeout: Duration) {
        let guard = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .cv
            .wait_timeout_while(guard, timeout, |pending| !*pending)
            .unwrap_or_else(|p| p.into_inner());
        *guard = false;
    }
}

/// One token for every background worker: triggered once, seen by all, at once.
#[derive(Clone)]
pub struct Shutdown(Arc<Inner>);

struct Inner {
    stopped: AtomicBool,
    /// For workers on their own threads.
    sleep: (Mutex<()>, Condvar),
    /// For workers on the async runtime.
    watch: watch::Sender<bool>,
    /// Wakers of workers that sleep on them, woken too so that they notice.
    wakers: Mutex<Vec<Arc<Waker>>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self(Arc::new(Inner {
            stopped: AtomicBool::new(false),
            sleep: (Mutex::new(()), Condvar::new()),
            watch: watch::Sender::new(false),
            wakers: Mutex::new(Vec::new()),
        }))
    }
}

impl Shutdown {
    /// `waker` is woken too at shutdown: its worker sleeps on it, not on this token.
    pub fn also_wake(&self, waker: Arc<Waker>) {
        self.0
            .wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(waker);
    }

    pub fn trigger(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        {
            // Taken so that a sleeper between its check and its wait cannot miss the notice.
            let _held = self.0.sleep.0.lock().unwrap_or_else(|p| p.into_inner());
            self.0.sleep.1.notify_all();
        }
        self.0.watch.send_replace(true);
        for waker in self
            .0
            .wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            waker.wake();
        }
    }

    pub fn is_triggered(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Sleeps up to `time`, less when shutdown comes first.
    pub fn sleep(&self, time: Duration) {
        let guard = self.0.sleep.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .0
            .sleep
            .1
            .wait_timeout_while(guard, time, |_| !self.is_triggered())
            .unwrap_or_else(|p| p.into_inner());
    }

    /// For an async worker: turns `true` at shutdown.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.0.watch.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn waker_returns_early_when_woken() {
        let w = Arc::new(Waker::default());
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            let start = Instant::now();
            w2.wait(Duration::from_secs(30));
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(50));
        w.wake();
        assert!(t.join().unwrap() < Duration::from_secs(5));
    }

    #[test]
    fn one_trigger_reaches_sleepers_wakers_and_subscribers() {
        let shutdown = Shutdown::default();
        let waker = Arc::new(Waker::default());
        shutdown.also_wake(waker.clone());
        let early = shutdown.subscribe();
        let (s, w) = (shutdown.clone(), waker.clone());
        let sleeper = std::thread::spawn(move || {
            let start = Instant::now();
            s.sleep(Duration::from_secs(30));
            start.elapsed()
        });
        let waiter = std::thread::spawn(move || {
            let start = Instant::now();
            w.wait(Duration::from_secs(30));
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        assert!(sleeper.join().unwrap() < Duration::from_secs(5));
        assert!(waiter.join().unwrap() < Duration::from_secs(5));
        assert!(shutdown.is_triggered());
        assert!(*early.borrow());
        assert!(
            *shutdown.subscribe().borrow(),
            "a late subscriber sees it too"
        );
        let start = Instant::now();
        shutdown.sleep(Duration::from_secs(30));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "no sleep after shutdown"
        );
    }
}
