//! A sliding one-hour window per client address, for the public intake. It lives in memory:
//! with several instances behind one address each instance counts its own share.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

pub struct RateLimiter {
    per_window: u32,
    window: Duration,
    hits: Mutex<HashMap<IpAddr, VecDeque<DateTime<Utc>>>>,
}

impl RateLimiter {
    /// `per_window` of 0 means no limit.
    pub fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `addr` may make one more request now; if so, counts it.
    pub fn try_acquire(&self, addr: IpAddr, now: DateTime<Utc>) -> bool {
        if self.per_window == 0 {
            return true;
        }
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        // Forget idle addresses now and then so the map cannot grow without bound.
        if hits.len() > 10_000 {
            let cutoff = now - self.window;
            hits.retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        }
        let queue = hits.entry(addr).or_default();
        while queue.front().is_some_and(|t| *t <= now - self.window) {
            queue.pop_front();
        }
        if queue.len() >= self.per_window as usize {
            return false;
        }
        queue.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn limits_per_address_within_the_window() {
        let l = RateLimiter::new(2, Duration::hours(1));
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.try_acquire(a, t));
        assert!(l.try_acquire(a, t + Duration::minutes(1)));
        assert!(!l.try_acquire(a, t + Duration::minutes(2)));
        assert!(
            l.try_acquire(b, t + Duration::minutes(2)),
            "others are not affected"
        );
        assert!(!l.try_acquire(a, t + Duration::minutes(59)));
        assert!(
            l.try_acquire(a, t + Duration::minutes(60)),
            "the first hit left the window"
        );
    }

    #[test]
    fn zero_means_no_limit() {
        let l = RateLimiter::new(0, Duration::hours(1));
        let a: IpAddr = "::1".parse().unwrap();
        assert!((0..1000).all(|_| l.try_acquire(a, Utc::now())));
    }
}
