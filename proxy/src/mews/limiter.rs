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

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Limiter {
    capacity: usize,
    window: Duration,
    /// Held by the one waiter whose turn it is, across its sleeps: FIFO fairness.
    turn: tokio::sync::Mutex<()>,
    /// Short critical sections only; never held across an await.
    state: std::sync::Mutex<State>,
    /// Signalled when an in-flight request completes (its slot gets an expiry).
    completed: tokio::sync::Notify,
}

#[derive(Debug)]
struct State {
    /// One entry per request in the window. `None` while the request is in flight: Mews counts it
    /// from when it *arrived*, which we only bound by when its answer came back, so a slot
    /// expires one window after completion — never earlier than Mews frees it.
    slots: Vec<(u64, Option<Instant>)>,
    next_id: u64,
    blocked_until: Option<Instant>,
    backoff: Duration,
}

/// A granted request. Dropping it (when the answer arrived or the call failed) starts the
/// slot's expiry.
#[derive(Debug)]
pub struct Permit<'a> {
    limiter: &'a Limiter,
    id: u64,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut st = self.limiter.state();
        let now = Instant::now();
        if let Some(slot) = st.slots.iter_mut().find(|(id, _)| *id == self.id) {
            slot.1 = Some(now);
        }
        drop(st);
        self.limiter.completed.notify_waiters();
    }
}

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The longest pause a `Retry-After` can impose. Mews's window is 30 s; a longer value is honoured
/// up to this, so that a malformed or hostile header (`18446744073709551615` seconds overflowed the
/// clock and killed the batching task) never stops a token for longer than a few minutes.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

impl Limiter {
    pub fn new(capacity: usize, window: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            window,
            turn: tokio::sync::Mutex::new(()),
            state: std::sync::Mutex::new(State {
                slots: Vec::new(),
                next_id: 0,
                blocked_until: None,
                backoff: MIN_BACKOFF,
            }),
            completed: tokio::sync::Notify::new(),
        }
    }

    /// The configured number of requests per window.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until one more request fits in the budget; hold the permit until its answer is in.
    pub async fn acquire(&self) -> Permit<'_> {
        let _turn = self.turn.lock().await;
        loop {
            // Register for completions before looking, so none is missed while we sleep.
            let completed = self.completed.notified();
            let wake = {
                let mut st = self.state();
                let now = Instant::now();
                let window = self.window;
                st.slots.retain(|(_, at)| at.is_none_or(|t| now.duration_since(t) < window));
                match st.blocked_until {
                    Some(until) if until > now => Some(until),
                    _ => {
                        st.blocked_until = None;
                        if st.slots.len() < self.capacity {
                            let id = st.next_id;
                            st.next_id += 1;
                            st.slots.push((id, None));
                            return Permit { limiter: self, id };
                        }
                        // Full: the earliest completed slot frees first; if all are in flight,
                        // wait for one to complete.
                        st.slots.iter().filter_map(|(_, at)| *at).min().map(|t| t + window)
                    }
                }
            };
            match wake {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = completed => {}
                    }
                }
                None => completed.await,
            }
        }
    }

    /// Mews answered 429: pause everything for `retry_after`, or back off exponentially.
    pub fn penalize(&self, retry_after: Option<Duration>) {
        let mut st = self.state();
        let pause = match retry_after {
            Some(d) => d.clamp(Duration::from_millis(100), MAX_RETRY_AFTER),
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

    /// Requests in flight or recorded in the current window (for metrics).
    pub fn used(&self) -> usize {
        let st = self.state();
        let now = Instant::now();
        st.slots.iter().filter(|(_, at)| at.is_none_or(|t| now.duration_since(t) < self.window)).count()
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
            let _permit = l.acquire().await;
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
        drop(l.acquire().await);
        assert!(start.elapsed() >= Duration::from_secs(3));
        let t1 = tokio::time::Instant::now();
        l.penalize(None);
        drop(l.acquire().await);
        let first = t1.elapsed();
        let t2 = tokio::time::Instant::now();
        l.penalize(None);
        drop(l.acquire().await);
        assert!(t2.elapsed() >= first * 2, "{first:?} then {:?}", t2.elapsed());
        l.relieve();
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_expires_one_window_after_its_answer_not_after_its_start() {
        let l = Limiter::new(1, Duration::from_secs(10));
        let start = tokio::time::Instant::now();
        let permit = l.acquire().await;
        // The request takes 4 s to answer.
        tokio::time::sleep(Duration::from_secs(4)).await;
        drop(permit);
        drop(l.acquire().await);
        assert!(start.elapsed() >= Duration::from_secs(14), "{:?}", start.elapsed());
    }
}
