//! Idempotent guest messages: the widget generates one `client_id` per message and reuses it on
//! every retry (after a timeout, offline, a reload). The first request with a given
//! (thread, `client_id`) sends the message; concurrent and later duplicates wait for and return
//! the same result, so the message reaches Mews once. A failed send leaves no record, so the
//! widget's next retry tries again. Exactly-once towards Mews below this level is the
//! scheduler's job (`mews::scheduler`).
//!
//! Records live in this instance's memory for a day. A retry that lands on a *different*
//! instance before the first one answered could still send twice; sticky sessions or a shared
//! store close that gap (noted in the README).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use lobby_protocol::ChatMessage;
use tokio::{sync::OnceCell, time::Instant};

use super::hub::{Thread, to_chat};
use crate::mews::{client::MewsError, scheduler::Upstream};

const KEEP: Duration = Duration::from_secs(24 * 3600);

type Cell = Arc<OnceCell<ChatMessage>>;

#[derive(Default)]
pub struct Outbox {
    cells: Mutex<HashMap<(String, String), (Instant, Cell)>>,
}

impl Outbox {
    pub async fn send(
        &self,
        upstream: &Upstream,
        thread: &Thread,
        client_id: &str,
        text: &str,
    ) -> Result<ChatMessage, MewsError> {
        let cell = {
            let mut map = self.cells.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > 10_000 {
                map.retain(|_, (at, _)| at.elapsed() < KEEP);
            }
            map.entry((thread.id.clone(), client_id.to_owned()))
                .or_insert_with(|| (Instant::now(), Arc::new(OnceCell::new())))
                .1
                .clone()
        };
        thread.touch();
        cell.get_or_try_init(|| async {
            let m = upstream.add_message(&thread.id, text).await?;
            thread.remember_client_id(&m.id, client_id);
            thread.publish(std::slice::from_ref(&m));
            Ok(to_chat(&m, Some(client_id.to_owned())))
        })
        .await
        .cloned()
    }
}
