//! Cluster mode, failures (issue 12): three real `lobby` processes on one real Redis, guests'
//! requests spread round-robin over them (`lobby_e2e::cluster`). The token's sender (the instance
//! that sends every instance's messages) killed with SIGKILL in the middle of sends, and Redis
//! restarted (append-only file on) during traffic: what guests saw acknowledged is in Mews once,
//! what they retried (on the next instance, with the same `client_id`, as the widget's outbox
//! does) ends up once, in order, and staff replies keep reaching every guest. The timed ones
//! (load, a killed lease holder, Redis unreachable for 10 s, a burst) are in
//! `timed/proxy_cluster.rs`; the side-by-side figures are `lobby-bench cluster`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use lobby_e2e::{
    cluster::{Attempts, ClusterGuest, ClusterStack, assert_once_in_order, tally},
    eventually,
};
use serde_json::json;

const EXE: &str = env!("CARGO_BIN_EXE_lobby-proc");

/// Each guest sends `count` messages `"{prefix} {k}"` in order (the next once the last is
/// acknowledged, `pace` apart), every attempt on the next instance. Returns the guests' tasks.
fn outboxes(
    guests: &[ClusterGuest],
    prefix: &str,
    count: usize,
    pace: Duration,
    attempts: &Attempts,
) -> Vec<tokio::task::JoinHandle<Vec<lobby_e2e::cluster::Acked>>> {
    guests
        .iter()
        .map(|g| {
            let (g, attempts, prefix) = (g.clone(), attempts.clone(), prefix.to_owned());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for k in 0..count {
                    let (id, text) = (format!("{prefix}-{k}"), format!("{prefix} {k}"));
                    let sent = g.send(&id, &text, &attempts, Duration::from_secs(90)).await;
                    acked.push(sent.unwrap_or_else(|e| panic!("{e}")));
                    tokio::time::sleep(pace).await;
                }
                acked
            })
        })
        .collect()
}

fn texts(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|k| format!("{prefix} {k}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_send_loses_nothing_and_doubles_nothing() {
    let mut cs = ClusterStack::start(EXE, 3).await;
    let (guests, _) = cs.start_guests(12, "Kill guest").await;
    let threads = cs.threads_of(&guests).await;

    // The worst moment: a guest's message reaches an instance that queues it for the token's
    // sender (the poller's lease holder); Mews commits the sender's `messages/add`, whose answer
    // then stalls; the sender is killed before it learns the message id. Meanwhile the other
    // guests send through all three.
    let holder = cs.holder(Duration::from_secs(10)).await;
    let via = (holder + 1) % 3;
    cs.sim()
        .fault(json!({"operation": "messages/add", "kind": {"type": "commit_then_stall", "ms": 30000}, "next": 1}))
        .await;
    let first = guests[0].clone();
    let in_flight = tokio::spawn(async move { first.send_once(via, "c-stalled", "Is the pool heated?").await });
    eventually(Duration::from_secs(10), "Mews to commit the stalled send", || async {
        cs.sim().staff_texts(&threads[0]).await.iter().any(|t| t == "Is the pool heated?").then_some(())
    })
    .await;
    let attempts = Attempts::default();
    let others = outboxes(&guests[1..], "msg", 8, Duration::from_millis(150), &attempts);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let killed_at = Instant::now();
    cs.kill(holder);
    let _ = in_flight.await;

    // Guest 0's widget retries its message (next instance, same client id).
    let retried = guests[0].send("c-stalled", "Is the pool heated?", &attempts, Duration::from_secs(60)).await.unwrap();
    println!(
        "the send committed by the killed sender (instance {holder}, queued by instance {via}), retried on the others: \
         acknowledged {:.2} s after the kill ({} retries)",
        killed_at.elapsed().as_secs_f64(),
        retried.retries
    );
    let mut acked = 0;
    for o in others {
        acked += o.await.unwrap().len();
    }
    let during = tally(&attempts.lock().unwrap(), Some(killed_at), None);
    println!("{acked} other messages acknowledged; attempts from the kill on, by outcome: {during:?}");

    let mut sent = vec![vec!["Is the pool heated?".to_owned()]];
    sent.extend((1..guests.len()).map(|_| texts("msg", 8)));
    assert_once_in_order(&cs.sim(), &threads, &sent).await;
    let in_mews = cs.sim().messages(&threads[0]).await;
    assert!(
        in_mews.iter().any(|m| m.id == retried.message.id),
        "the retry is answered with the message Mews committed"
    );
    cs.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_during_traffic_loses_nothing_doubles_nothing_and_replies_keep_flowing() {
    restart_during_traffic(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_back_3_s_later_during_traffic_loses_nothing_and_doubles_nothing() {
    restart_during_traffic(true).await;
}

/// Guests send and staff reply while Redis restarts: gracefully (`SHUTDOWN`, then a start on the
/// same files), or, with `crash`, killed with SIGKILL and started again 3 s later (what an
/// acknowledged write left in the append-only file is all that survives).
async fn restart_during_traffic(crash: bool) {
    let mut cs = ClusterStack::start(EXE, 3).await;
    let (guests, _) = cs.start_guests(12, "Restart guest").await;
    let threads = cs.threads_of(&guests).await;
    let mut screens = Vec::new();
    for g in &guests {
        screens.push(g.watch().await);
    }

    // Staff answer round-robin every 200 ms all along; guests send 8 messages each, 1.5 s apart
    // (inside the per-conversation limit; a rate that leaves the polls their share of the budget,
    // see the load test for more).
    let stop = Arc::new(AtomicBool::new(false));
    let staff = {
        let (sim, threads, stop) = (cs.sim(), threads.clone(), stop.clone());
        tokio::spawn(async move {
            let mut posted = Vec::new();
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                let g = k % threads.len();
                let text = format!("reply {k}");
                sim.staff_reply(&threads[g], &text).await;
                posted.push((g, text, Instant::now()));
                k += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            posted
        })
    };
    let attempts = Attempts::default();
    let sends = outboxes(&guests, "msg", 8, Duration::from_millis(1500), &attempts);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let restart_at = Instant::now();
    if crash {
        cs.kill_redis();
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    cs.restart_redis();
    let back_at = Instant::now();
    let away = back_at - restart_at;
    let mut acked = 0;
    for s in sends {
        acked += s.await.unwrap().len();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let posted = staff.await.unwrap();

    // Every reply on its guest's screen.
    let shown = |g: usize, text: &str| screens[g].0.lock().unwrap().first_shown.get(text).copied();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && posted.iter().any(|(g, t, _)| shown(*g, t).is_none()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let missing: Vec<&String> = posted.iter().filter(|(g, t, _)| shown(*g, t).is_none()).map(|(_, t, _)| t).collect();
    let after: Vec<u128> = posted
        .iter()
        .filter(|(_, _, at)| *at >= back_at)
        .filter_map(|(g, t, at)| Some(shown(*g, t)?.saturating_duration_since(*at).as_millis()))
        .collect();
    let mut arrivals: Vec<Instant> = posted.iter().filter_map(|(g, t, _)| shown(*g, t)).collect();
    arrivals.sort();
    let gap = arrivals.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default();
    let first_after = posted
        .iter()
        .filter(|(_, _, at)| *at >= back_at)
        .filter_map(|(g, t, _)| shown(*g, t))
        .min()
        .map(|t| t.saturating_duration_since(back_at));
    let reconnects: usize = screens.iter().map(|s| s.0.lock().unwrap().reconnects).sum();
    let doubled = screens
        .iter()
        .map(|s| s.0.lock().unwrap().on_stream.iter().filter(|(t, n)| t.starts_with("reply ") && **n > 1).count())
        .sum::<usize>();
    let all = attempts.lock().unwrap().clone();
    println!(
        "Redis {} and back after {:.2} s; {acked} messages acknowledged; attempts while it was away: {:?}; all attempts \
         after: {:?}",
        if crash {
            "killed (SIGKILL), started again 3 s later on its append-only file,"
        } else {
            "restarted (SHUTDOWN, start)"
        },
        away.as_secs_f64(),
        tally(&all, Some(restart_at), Some(back_at)),
        tally(&all, Some(back_at), None)
    );
    println!(
        "staff replies: {} posted, {} shown; the longest gap between two replies shown: {:.2} s; first reply posted after \
         Redis came back shown {:.2} s after; replies posted after it came back: max {} ms; streams reopened: {reconnects}; \
         replies on a stream twice: {doubled}",
        posted.len(),
        posted.len() - missing.len(),
        gap.as_secs_f64(),
        first_after.map_or(f64::NAN, |d: Duration| d.as_secs_f64()),
        after.iter().max().copied().unwrap_or_default()
    );
    assert!(missing.is_empty(), "replies never shown: {missing:?}");
    assert_eq!(doubled, 0, "a reply came twice on a stream");
    let sent: Vec<Vec<String>> = guests.iter().map(|_| texts("msg", 8)).collect();
    assert_once_in_order(&cs.sim(), &threads, &sent).await;
    // Replies flow again once Redis is back: the first one posted after reaches its guest within
    // 10 s. (The later ones can stall for another reason, with or without a restart: the same
    // traffic without one stalls them up to 13 s, as the polls wait for budget the sends and the
    // per-instance thread loads took; the load test asserts that part.)
    let first_after = first_after.expect("a reply posted after Redis came back was shown");
    assert!(first_after <= Duration::from_secs(10), "replies flowed again only {first_after:?} after Redis came back");
    for (_, t) in screens {
        t.abort();
    }
    cs.stop().await;
}
