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
//! Two lanes share the budget. **Writes** (guest messages, new conversations) go first: while a
//! write waits, no read is granted beyond the read floor. **Reads** (polls, history, loads) may
//! fill only [`READ_SHARE`] of the window, so a burst of reads can never leave a guest's message
//! waiting for the window to slide; and writes always leave [`READ_FLOOR`] of it to reads, so a
//! burst of new conversations cannot stop the polls that bring staff replies. Within a lane, waiters queue on a fair (FIFO) mutex, so callers are
//! served in arrival order. A caller that cannot wait for ever (a guest's HTTP request) uses
//! [`Limiter::acquire_by`] with a deadline.
//!
//! In cluster mode ([`Limiter::shared`]) a slot this instance's log grants must also be granted
//! by the token's [`SharedBudget`] in Redis, which counts every instance's requests with the
//! same rules; a 429 pauses the token there for all. While Redis cannot be reached, nothing is
//! granted (the cluster's spending cannot be counted, so none is spent): guests' requests answer
//! "busy, try again" at their deadline, polls wait.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use tokio::time::Instant;

/// Which queue a call waits in: `Write` (guest messages and new conversations: first served,
/// the whole budget but the reads' floor) or `Read` (everything else: after waiting writes, at
/// most [`READ_SHARE`] of the budget). Defined with the cluster's budget, which counts the same
/// lanes in Redis.
pub use crate::cluster::budget::Lane;
use crate::cluster::budget::{SharedBudget, Take};

/// The share of the budget reads may fill; the rest is always left for writes. With the default
/// 160 requests per 30 s, reads get 120 and 40 stay free for guests' messages.
pub const READ_SHARE: f64 = 0.75;

/// The share of the budget always left to reads: the once-a-second polls and the resolved checks
/// of a token take 33 requests per 30 s; with the default 160, reads keep 40.
pub const READ_FLOOR: f64 = 0.25;

#[derive(Debug)]
pub struct Limiter {
    capacity: usize,
    read_capacity: usize,
    read_floor: usize,
    window: Duration,
    /// Held by the one waiter of each lane whose turn it is, across its sleeps: FIFO fairness.
    write_turn: tokio::sync::Mutex<()>,
    read_turn: tokio::sync::Mutex<()>,
    /// Writes waiting for a slot; reads yield to them.
    writers_waiting: AtomicUsize,
    /// Cluster mode: writes the cluster's budget refused and that still wait. Only these make
    /// the other instances' reads yield (every write asks while it is in `acquire`; counting
    /// those made reads beyond the floor yield all the time under steady traffic, and the polls
    /// that bring staff replies fell behind).
    refused_writes: AtomicUsize,
    /// Short critical sections only; never held across an await.
    state: std::sync::Mutex<State>,
    /// Signalled when an in-flight request completes (its slot gets an expiry).
    completed: tokio::sync::Notify,
    /// Cluster mode: the token's budget in Redis, and the slots it left at the last answer.
    shared: Option<SharedBudget>,
    shared_free: AtomicUsize,
}

#[derive(Debug)]
struct State {
    /// One entry per request in the window: its id, when it completed and its lane. `None` while
    /// the request is in flight: Mews counts it from when it *arrived*, which we only bound by when
    /// its answer came back, so a slot expires one window after completion — never earlier than
    /// Mews frees it.
    slots: Vec<(u64, Option<Instant>, Lane)>,
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
    /// Cluster mode: the slot's member in Redis, marked complete when the permit is dropped.
    shared: Option<(Lane, String)>,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut st = self.limiter.state();
        let now = Instant::now();
        if let Some(slot) = st.slots.iter_mut().find(|(id, _, _)| *id == self.id) {
            slot.1 = Some(now);
        }
        drop(st);
        if let (Some((lane, member)), Some(budget)) = (self.shared.take(), self.limiter.shared.clone())
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            // Not awaited by the caller: if it is lost, the slot still frees one in-flight time later.
            rt.spawn(async move {
                if let Err(e) = budget.complete(lane, &member, crate::cluster::now_ms()).await {
                    tracing::debug!(error = %e, "could not mark a budget slot complete");
                }
            });
        }
        self.limiter.completed.notify_waiters();
    }
}

/// A slot this instance's log granted while the cluster's budget is asked: given back when
/// dropped (refused, or the wait abandoned); forgotten once the cluster granted it.
struct LocalSlot<'a> {
    limiter: &'a Limiter,
    id: u64,
}

impl Drop for LocalSlot<'_> {
    fn drop(&mut self) {
        self.limiter.unslot(self.id);
    }
}

/// Counts one waiter in `count` for as long as it exists (a waiting write in `writers_waiting`,
/// a write the cluster refused in `refused_writes`); `wake_last` is notified when the last one
/// goes (reads wait for the waiting writes).
struct Counted<'a> {
    count: &'a AtomicUsize,
    wake_last: Option<&'a tokio::sync::Notify>,
}

impl<'a> Counted<'a> {
    fn new(count: &'a AtomicUsize, wake_last: Option<&'a tokio::sync::Notify>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self { count, wake_last }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(wake) = self.wake_last
        {
            wake.notify_waiters();
        }
    }
}

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The longest pause a `Retry-After` can impose. Mews's window is 30 s; a longer value is honoured
/// up to this, so that a malformed or hostile header (`18446744073709551615` seconds overflowed the
/// clock and killed the batching task) never stops a token for longer than a few minutes.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// In cluster mode, how long a refused caller waits at most before asking Redis again (slots of
/// other instances free without a signal here).
const SHARED_RECHECK_MS: u64 = 100;

impl Limiter {
    pub fn new(capacity: usize, window: Duration) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            read_capacity: ((capacity as f64 * READ_SHARE).floor() as usize).max(1),
            read_floor: (capacity as f64 * READ_FLOOR).floor() as usize,
            window,
            write_turn: tokio::sync::Mutex::new(()),
            read_turn: tokio::sync::Mutex::new(()),
            writers_waiting: AtomicUsize::new(0),
            refused_writes: AtomicUsize::new(0),
            state: std::sync::Mutex::new(State {
                slots: Vec::new(),
                next_id: 0,
                blocked_until: None,
                backoff: MIN_BACKOFF,
            }),
            completed: tokio::sync::Notify::new(),
            shared: None,
            shared_free: AtomicUsize::new(usize::MAX),
        }
    }

    /// A limiter whose slots the cluster's budget in Redis must also grant (see the module docs).
    pub fn shared(capacity: usize, window: Duration, budget: SharedBudget) -> Self {
        Self { shared: Some(budget), ..Self::new(capacity, window) }
    }

    /// The read-lane share and the reads' floor of a budget of `capacity` (the cluster's budget
    /// uses the same numbers).
    pub fn lanes(capacity: usize) -> (usize, usize, usize) {
        let l = Self::new(capacity, Duration::from_secs(1));
        (l.capacity, l.read_capacity, l.read_floor)
    }

    /// The configured number of requests per window.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until one more request of `lane` fits in the budget; hold the permit until its
    /// answer is in.
    pub async fn acquire(&self, lane: Lane) -> Permit<'_> {
        let _waiting = (lane == Lane::Write).then(|| Counted::new(&self.writers_waiting, Some(&self.completed)));
        // Set once the cluster refused this write; counted in `refused_writes` until it ends.
        let mut refused: Option<Counted<'_>> = None;
        let _turn = match lane {
            Lane::Write => self.write_turn.lock().await,
            Lane::Read => self.read_turn.lock().await,
        };
        loop {
            // Register for completions before looking, so none is missed while we sleep.
            let completed = self.completed.notified();
            let mut granted = None;
            let wake = {
                let mut st = self.state();
                let now = Instant::now();
                let window = self.window;
                st.slots.retain(|(_, at, _)| at.is_none_or(|t| now.duration_since(t) < window));
                let reads = st.slots.iter().filter(|(_, _, l)| *l == Lane::Read).count();
                let limit = match lane {
                    // Writes leave the reads' floor free.
                    Lane::Write => self.capacity - self.read_floor.saturating_sub(reads),
                    Lane::Read => self.read_capacity,
                };
                let used = match lane {
                    Lane::Write => st.slots.len(),
                    Lane::Read => st.slots.len().max(reads),
                };
                let writes_first =
                    lane == Lane::Read && reads >= self.read_floor && self.writers_waiting.load(Ordering::Acquire) > 0;
                match st.blocked_until {
                    Some(until) if until > now => Some(until),
                    _ if writes_first => None,
                    _ => {
                        st.blocked_until = None;
                        let below_floor =
                            lane == Lane::Read && reads < self.read_floor && st.slots.len() < self.capacity;
                        if used < limit || below_floor {
                            let id = st.next_id;
                            st.next_id += 1;
                            st.slots.push((id, None, lane));
                            if self.shared.is_none() {
                                return Permit { limiter: self, id, shared: None };
                            }
                            granted = Some(id);
                            None
                        } else {
                            // Full: the earliest completed slot frees first; if all are in flight,
                            // wait for one to complete.
                            st.slots.iter().filter_map(|(_, at, _)| *at).min().map(|t| t + window)
                        }
                    }
                }
            };
            let wake = match (granted, &self.shared) {
                (Some(id), Some(budget)) => {
                    // The local slot is given back unless the cluster grants it — also when this
                    // wait is abandoned while Redis answers (a guest's deadline): a slot left
                    // "in flight" here would never expire.
                    let slot = LocalSlot { limiter: self, id };
                    let writes_waiting = self.refused_writes.load(Ordering::Acquire) > 0;
                    let answer = budget.take(lane, writes_waiting, crate::cluster::now_ms()).await;
                    if let Ok(Take::Granted { free, writers, .. } | Take::Wait { free, writers, .. }) = &answer {
                        // Instances with writes waiting share what is left: each paces its
                        // batches by its share (`free`), or they would spend it together.
                        self.shared_free.store(*free / (*writers).max(1), Ordering::Relaxed);
                    }
                    match answer {
                        Ok(Take::Granted { member, .. }) => {
                            std::mem::forget(slot);
                            return Permit { limiter: self, id, shared: Some((lane, member)) };
                        }
                        Ok(Take::Wait { ms, .. }) => {
                            drop(slot);
                            if lane == Lane::Write && refused.is_none() {
                                refused = Some(Counted::new(&self.refused_writes, None));
                            }
                            // Other instances' slots free without telling us: look again soon.
                            Some(Instant::now() + Duration::from_millis(ms.min(SHARED_RECHECK_MS)))
                        }
                        Err(e) => {
                            drop(slot);
                            tracing::warn!(error = %e, "the cluster's budget is unreachable: not calling Mews");
                            Some(Instant::now() + Duration::from_millis(500))
                        }
                    }
                }
                _ => wake,
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

    /// Takes back a slot the cluster's budget refused.
    fn unslot(&self, id: u64) {
        // No wake-up for the other waiters: they look again on their own (at most
        // `SHARED_RECHECK_MS` later); waking them here made two lanes wake each other without end.
        self.state().slots.retain(|(i, _, _)| *i != id);
    }

    /// Like [`Limiter::acquire`], but gives up at `deadline` (`None`: the caller should answer
    /// "busy, try again" rather than keep a guest waiting).
    pub async fn acquire_by(&self, lane: Lane, deadline: Instant) -> Option<Permit<'_>> {
        tokio::time::timeout_at(deadline, self.acquire(lane)).await.ok()
    }

    /// When a read asked now would likely be served: the end of a pause, or when the oldest
    /// slot of a full window frees (for `Retry-After` answers).
    pub fn read_eta(&self) -> Duration {
        let st = self.state();
        let now = Instant::now();
        if let Some(until) = st.blocked_until.filter(|u| *u > now) {
            return until - now;
        }
        let oldest = st.slots.iter().filter_map(|(_, at, _)| *at).min();
        match oldest {
            Some(t) if st.slots.len() >= self.read_capacity => (t + self.window).saturating_duration_since(now),
            _ => Duration::from_secs(1),
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
        drop(st);
        if let Some(budget) = self.shared.clone() {
            let now = crate::cluster::now_ms();
            let until_ms = now + pause.as_millis() as i64;
            tokio::spawn(async move {
                if let Err(e) = budget.block_until(until_ms, now).await {
                    tracing::warn!(error = %e, "could not share a 429 pause with the cluster");
                }
            });
        }
    }

    /// A request succeeded: the exponential backoff starts over.
    pub fn relieve(&self) {
        self.state().backoff = MIN_BACKOFF;
    }

    /// Slots the write lane could take now (in cluster mode, this instance's share of what the
    /// cluster's budget last said was left).
    pub fn free(&self) -> usize {
        let (used, reads) = {
            let st = self.state();
            let now = Instant::now();
            let live: Vec<Lane> = st
                .slots
                .iter()
                .filter(|(_, at, _)| at.is_none_or(|t| now.duration_since(t) < self.window))
                .map(|(_, _, l)| *l)
                .collect();
            (live.len(), live.iter().filter(|l| **l == Lane::Read).count())
        };
        // What writes may fill: the budget less the part of the reads' floor reads have not used.
        let limit = self.capacity - self.read_floor.saturating_sub(reads);
        limit.saturating_sub(used).min(self.shared_free.load(Ordering::Relaxed))
    }

    /// The length of the sliding window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Requests in flight or recorded in the current window (for metrics).
    pub fn used(&self) -> usize {
        let st = self.state();
        let now = Instant::now();
        st.slots.iter().filter(|(_, at, _)| at.is_none_or(|t| now.duration_since(t) < self.window)).count()
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
            let _permit = l.acquire(Lane::Write).await;
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
        drop(l.acquire(Lane::Write).await);
        assert!(start.elapsed() >= Duration::from_secs(3));
        let t1 = tokio::time::Instant::now();
        l.penalize(None);
        drop(l.acquire(Lane::Write).await);
        let first = t1.elapsed();
        let t2 = tokio::time::Instant::now();
        l.penalize(None);
        drop(l.acquire(Lane::Write).await);
        assert!(t2.elapsed() >= first * 2, "{first:?} then {:?}", t2.elapsed());
        l.relieve();
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_expires_one_window_after_its_answer_not_after_its_start() {
        let l = Limiter::new(1, Duration::from_secs(10));
        let start = tokio::time::Instant::now();
        let permit = l.acquire(Lane::Write).await;
        // The request takes 4 s to answer.
        tokio::time::sleep(Duration::from_secs(4)).await;
        drop(permit);
        drop(l.acquire(Lane::Write).await);
        assert!(start.elapsed() >= Duration::from_secs(14), "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn reads_fill_at_most_their_share_and_a_waiting_write_goes_first() {
        let l = std::sync::Arc::new(Limiter::new(4, Duration::from_secs(10)));
        // Reads stop at 3 of 4: the fourth read waits for the window, a write still gets a slot.
        for _ in 0..3 {
            drop(l.acquire(Lane::Read).await);
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        assert!(l.acquire_by(Lane::Read, deadline).await.is_none(), "reads are held at their share");
        let t0 = Instant::now();
        drop(l.acquire(Lane::Write).await);
        assert!(t0.elapsed() < Duration::from_millis(10), "the reserved slot serves the write at once");
        // Now full: a read queued before a write is still served after it.
        let read = {
            let l = l.clone();
            tokio::spawn(async move {
                drop(l.acquire(Lane::Read).await);
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let write = {
            let l = l.clone();
            tokio::spawn(async move {
                drop(l.acquire(Lane::Write).await);
                Instant::now()
            })
        };
        let (read_at, write_at) = (read.await.unwrap(), write.await.unwrap());
        assert!(write_at <= read_at, "write at {write_at:?}, read at {read_at:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_writes_leaves_the_read_floor_so_polls_go_on() {
        let l = std::sync::Arc::new(Limiter::new(8, Duration::from_secs(10)));
        // Eight writes at once (new conversations): six go now, two wait for the window.
        let writes: Vec<_> = (0..8)
            .map(|_| {
                let l = l.clone();
                tokio::spawn(async move {
                    drop(l.acquire(Lane::Write).await);
                    Instant::now()
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(5)).await;
        // The polls still get their two slots at once, although writes are waiting.
        let t0 = Instant::now();
        drop(l.acquire(Lane::Read).await);
        drop(l.acquire(Lane::Read).await);
        assert!(t0.elapsed() < Duration::from_millis(10), "{:?}", t0.elapsed());
        let mut done = Vec::new();
        for w in writes {
            done.push(w.await.unwrap().duration_since(t0));
        }
        let at_once = done.iter().filter(|d| **d < Duration::from_secs(1)).count();
        assert_eq!(at_once, 6, "{done:?}");
    }

    /// Cluster mode against a real Redis (real time: Redis's answers are real I/O). A guest's
    /// wait given up while Redis has not answered yet must not leave this instance's slot behind
    /// (each left slot counted as in flight for ever, until nothing more was sent).
    #[tokio::test]
    async fn a_wait_given_up_while_redis_answers_leaves_no_slot_behind() {
        let (mut redis, cluster) = crate::cluster::tests_support::cluster("giveup:").await;
        let budget = SharedBudget::new(&cluster, "tok", Limiter::lanes(10), 30_000, 10_000);
        let limiter = Limiter::shared(10, Duration::from_secs(30), budget);
        redis.freeze(); // accepts the call, answers nothing
        for _ in 0..12 {
            let deadline = Instant::now() + Duration::from_millis(30);
            assert!(limiter.acquire_by(Lane::Write, deadline).await.is_none(), "nothing granted without Redis");
        }
        assert_eq!(limiter.used(), 0, "no slot left behind by the abandoned waits");
        redis.thaw();
        let deadline = Instant::now() + Duration::from_secs(10);
        let permit = limiter.acquire_by(Lane::Write, deadline).await;
        assert!(permit.is_some(), "granted again once Redis answers");
        assert_eq!(limiter.used(), 1);
    }
}
