//! Where "now" comes from: the system clock in service, a hand-set one in tests, so that
//! deadlines and alerts are tested without sleeping.

use std::sync::Mutex;

use chrono::{DateTime, Duration, SubsecRound, Utc};

pub trait TimeSource: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemTime;

impl TimeSource for SystemTime {
    /// Cut to microseconds, the precision both databases keep, so a stored time reads back equal.
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that moves only when told to.
pub struct FakeTime(Mutex<DateTime<Utc>>);

impl FakeTime {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl TimeSource for FakeTime {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
