//! A guest's side of the widget API without a browser: plain HTTP and a streaming SSE reader, so
//! proxy behaviour (replay, restarts, faults, load) can be checked precisely and quickly.

use std::time::Duration;

use lobby_protocol::{ChatMessage, History, NewMessage, StartConversation, Started};

/// One server-sent event as the browser would parse it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// A guest with a session, talking to the proxy like the widget does.
#[derive(Clone)]
pub struct Guest {
    pub proxy: String,
    pub origin: String,
    pub session: String,
    pub http: reqwest::Client,
}

impl Guest {
    /// Starts a conversation on `property` from `origin`.
    pub async fn start(
        proxy: &str,
        origin: &str,
        property: &str,
        name: &str,
        first: Option<(&str, &str)>,
    ) -> (Self, Started) {
        let key = uuid::Uuid::new_v4().to_string();
        let first = first.map(|(id, text)| NewMessage { client_id: id.into(), text: text.into() });
        let body = Self::start_body(&key, name, first);
        let resp = Self::start_raw(&reqwest::Client::new(), proxy, origin, property, &body).await.unwrap();
        Self::started(proxy, origin, resp).await
    }

    /// What the widget sends to start a conversation with start key `key`.
    pub fn start_body(key: &str, name: &str, first: Option<NewMessage>) -> StartConversation {
        StartConversation {
            key: Some(key.into()),
            name: name.into(),
            topic: "Question".into(),
            email: None,
            reservation: None,
            message: first,
        }
    }

    /// `POST …/conversations` as is (a test may time it out or expect an error).
    pub async fn start_raw(
        http: &reqwest::Client,
        proxy: &str,
        origin: &str,
        property: &str,
        body: &StartConversation,
    ) -> reqwest::Result<reqwest::Response> {
        http.post(format!("{proxy}/v1/properties/{property}/conversations"))
            .header("origin", origin)
            .json(body)
            .send()
            .await
    }

    /// The guest behind a successful start answer.
    pub async fn started(proxy: &str, origin: &str, resp: reqwest::Response) -> (Self, Started) {
        assert!(resp.status().is_success(), "start answered {}: {}", resp.status(), resp.text().await.unwrap());
        let started: Started = resp.json().await.unwrap();
        let http = reqwest::Client::new();
        (Self { proxy: proxy.into(), origin: origin.into(), session: started.session.clone(), http }, started)
    }

    /// Starts a conversation as the widget does under load: a `503 busy` or `429` with
    /// `Retry-After` is retried after that pause with the same start key (the start goes on in
    /// the proxy and the retry joins it). Returns the guest and how many retries it took.
    pub async fn start_retrying(proxy: &str, origin: &str, property: &str, name: &str) -> (Self, Started, u32) {
        let body = Self::start_body(&uuid::Uuid::new_v4().to_string(), name, None);
        let http = reqwest::Client::new();
        let mut retries = 0;
        loop {
            let resp = Self::start_raw(&http, proxy, origin, property, &body).await.unwrap();
            match retry_after(&resp) {
                Some(pause) if retries < 100 => {
                    retries += 1;
                    tokio::time::sleep(pause).await;
                }
                _ => {
                    let (guest, started) = Self::started(proxy, origin, resp).await;
                    return (guest, started, retries);
                }
            }
        }
    }

    /// Sends as the widget's outbox does: a `503 busy` or `429` with `Retry-After` is retried
    /// after that pause with the same `client_id`, and so is a request that got no answer (a
    /// pooled keep-alive connection the proxy closed as it was reused: the proxy closes idle
    /// connections after `header_read_timeout_secs`, 10 s). Returns how many retries it took;
    /// panics on any other failure.
    pub async fn send_retrying(&self, client_id: &str, text: &str) -> u32 {
        let mut retries = 0;
        loop {
            let sent = self
                .http
                .post(format!("{}/v1/conversation/messages", self.proxy))
                .header("origin", &self.origin)
                .bearer_auth(&self.session)
                .json(&NewMessage { client_id: client_id.into(), text: text.into() })
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(_) if retries < 100 => {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                Err(e) => panic!("send {client_id}: {e}"),
            };
            match retry_after(&resp) {
                Some(pause) if retries < 100 => {
                    retries += 1;
                    tokio::time::sleep(pause).await;
                }
                _ => {
                    let status = resp.status();
                    assert!(status.is_success(), "send failed: {status} {}", resp.text().await.unwrap_or_default());
                    return retries;
                }
            }
        }
    }

    pub async fn send_raw(&self, client_id: &str, text: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/conversation/messages", self.proxy))
            .header("origin", &self.origin)
            .bearer_auth(&self.session)
            .json(&NewMessage { client_id: client_id.into(), text: text.into() })
            .send()
            .await
            .unwrap()
    }

    pub async fn send(&self, client_id: &str, text: &str) -> ChatMessage {
        let resp = self.send_raw(client_id, text).await;
        assert!(resp.status().is_success(), "send answered {}", resp.status());
        resp.json().await.unwrap()
    }

    pub async fn history(&self) -> History {
        let resp = self
            .http
            .get(format!("{}/v1/conversation/messages", self.proxy))
            .header("origin", &self.origin)
            .bearer_auth(&self.session)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "history answered {}", resp.status());
        resp.json().await.unwrap()
    }

    /// Opens the SSE stream, optionally resuming after `last_event_id` (header, as browsers do).
    pub async fn events(&self, last_event_id: Option<&str>) -> SseStream {
        let mut req = self
            .http
            .get(format!("{}/v1/conversation/events?session={}", self.proxy, self.session))
            .header("origin", &self.origin)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "events stream");
        SseStream { resp, buf: String::new() }
    }

    /// Opens the SSE stream as the widget does when it recreates its `EventSource` (the last
    /// event id in the query), or says why it could not (proxy down, an error status).
    pub async fn try_events_after(&self, last_event_id: &str) -> Result<SseStream, String> {
        let resp = self
            .http
            .get(format!(
                "{}/v1/conversation/events?session={}&last_event_id={}",
                self.proxy,
                self.session,
                encode(last_event_id)
            ))
            .header("origin", &self.origin)
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status() != 200 {
            return Err(format!("events stream answered {}", resp.status()));
        }
        Ok(SseStream { resp, buf: String::new() })
    }

    /// `GET /v1/conversation/messages?after=EVENT_ID`: the widget's sync when its stream opens.
    pub async fn try_after(&self, event_id: &str) -> Result<History, String> {
        let resp = self
            .http
            .get(format!("{}/v1/conversation/messages?after={}", self.proxy, encode(event_id)))
            .header("origin", &self.origin)
            .bearer_auth(&self.session)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("history after answered {}", resp.status()));
        }
        resp.json().await.map_err(|e| e.to_string())
    }
}

/// Percent-encodes a query value (all but unreserved characters).
pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The pause a `503` or `429` answer asks for (`Retry-After` seconds, 1 s if absent).
pub fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    if resp.status() != 503 && resp.status() != 429 {
        return None;
    }
    let secs = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).unwrap_or(1);
    Some(Duration::from_secs(secs.max(1)))
}

/// An open SSE response being read incrementally.
pub struct SseStream {
    resp: reqwest::Response,
    buf: String,
}

impl SseStream {
    /// Reads the events of an SSE response the caller opened (and checked) itself.
    pub fn new(resp: reqwest::Response) -> Self {
        Self { resp, buf: String::new() }
    }

    /// The next event (comments and keep-alives skipped), or `None` on timeout or end of stream.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(pos) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..pos + 2).collect();
                let mut ev = SseEvent { event: "message".into(), ..Default::default() };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        ev.event = v.trim().into();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("id:") {
                        ev.id = Some(v.trim().into());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !ev.data.is_empty() {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if any {
                    return Some(ev);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await.ok()?.ok()??;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Waits for the next `message` event and parses it.
    pub async fn next_message(&mut self, timeout: Duration) -> Option<(Option<String>, ChatMessage)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let ev = self.next(left).await?;
            if ev.event == "message" {
                return Some((ev.id, serde_json::from_str(&ev.data).expect("message event is JSON")));
            }
        }
    }
}
