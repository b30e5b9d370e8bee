//! A sliding-window request budget for one Mews `AccessToken`.
//!
//! Mews allows 200 requests per `AccessToken` in a 30 s window that slides from the first request
//! of a burst, shared by everything the integration does for that hotel, and blocks integrations
//! that keep ignoring 429s. We keep a log of our own send times and never let more than
//! `capacity` (by default 80 % of 200) fall inside any 30 s span, so in normal operation Mews
//! never has a reason to answer 429. If it still does (another integration sharing the token, a
//! changed limit), [`Limiter::penalize`] stops all traffic for the `Retry-After` time, or for an
//! exponentially growing pause when Mews sent none.
//!
//! Waiters queue on a fair (FIFO) mutex, so callers are served in arrival order.

use std::{collections::VecDeque, time::Duration};

use tokio::time::Instant;

#[derive(Debug)]
pub struct Limiter {
    capacity: usize,
    window: Duration,
    /// Held by the one waiter whose turn it is, across its sleeps: FIFO fairness.
    turn: tokio::sync::Mutex<()>,
    /// Short critical sections only; never held across an await.
    state: std::sync::Mutex<State>,
}

#[derive(Debug)]
struct State {
    sent: VecDeque<Instant>,
    blocked_until: Option<Instant>,
    backoff: Duration,
}

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl Limiter {
    pub fn new(capacity: usize, window: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            window,
            turn: tokio::sync::Mutex::new(()),
            state: std::sync::Mutex::new(State { sent: VecDeque::new(), blocked_until: None, backoff: MIN_BACKOFF }),
        }
    }

    /// The configured number of requests per window.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until one more request fits in the budget, then records it.
    pub async fn acquire(&self) {
        let _turn = self.turn.lock().await;
        loop {
            let wake = {
                let mut st = self.state();
                let now = Instant::now();
                while st.sent.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                    st.sent.pop_front();
                }
                match st.blocked_until {
                    Some(until) if until > now => until,
                    _ => {
                        st.blocked_until = None;
                        if st.sent.len() < self.capacity {
                            st.sent.push_back(now);
                            return;
                        }
                        *st.sent.front().expect("non-empty at capacity") + self.window
                    }
                }
            };
            tokio::time::sleep_until(wake).await;
        }
    }

    /// Mews answered 429: pause everything for `retry_after`, or back off exponentially.
    pub fn penalize(&self, retry_after: Option<Duration>) {
        let mut st = self.state();
        let pause = match retry_after {
            Some(d) => d.max(Duration::from_millis(100)),
            None => {
                let d = st.backoff;
                st.backoff = (st.backoff * 2).min(MAX_BACKOFF);
                d
            }
        };
        let until = Instant::now() + pause;
        st.blocked_until = Some(st.blocked_until.map_or(until, |u| u.max(until)));
    }

    /// A request succeeded: the exponential backoff starts over.
    pub fn relieve(&self) {
        self.state().backoff = MIN_BACKOFF;
    }

    /// Requests recorded in the current window (for metrics).
    pub fn used(&self) -> usize {
        let st = self.state();
        let now = Instant::now();
        st.sent.iter().filter(|t| now.duration_since(**t) < self.window).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_capacity_in_any_window() {
        let l = Limiter::new(5, Duration::from_secs(10));
        let start = tokio::time::Instant::now();
        let mut times = vec![];
        for _ in 0..12 {
            l.acquire().await;
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().filter(|u| **u < *t + Duration::from_secs(10)).count();
            assert!(in_window <= 5, "{in_window} requests within 10 s from {t:?}: {times:?}");
        }
        assert!(times[11] >= Duration::from_secs(20), "{times:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn penalty_pauses_and_backs_off_exponentially_without_retry_after() {
        let l = Limiter::new(100, Duration::from_secs(30));
        let start = tokio::time::Instant::now();
        l.penalize(Some(Duration::from_secs(3)));
        l.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(3));
        let t1 = tokio::time::Instant::now();
        l.penalize(None);
        l.acquire().await;
        let first = t1.elapsed();
        let t2 = tokio::time::Instant::now();
        l.penalize(None);
        l.acquire().await;
        assert!(t2.elapsed() >= first * 2, "{first:?} then {:?}", t2.elapsed());
        l.relieve();
    }
}
