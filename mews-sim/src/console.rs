//! The staff console: server-rendered HTML standing in for the Mews Operations messaging inbox, so
//! a person (or a browser test) can play the hotel: see guest threads newest first, search them,
//! open one (which marks it read), reply as staff (`Enterprise`) and resolve or reopen it.
//!
//! Plain HTML forms with POST-then-redirect, a little CSS and a tiny inline auto-refresh script; no
//! JavaScript framework. Every piece of stored text is HTML-escaped, so guest text such as
//! `<script>` shows as text. Key elements carry `data-testid` attributes for browser tests:
//! `thread-list`, `thread-row`, `unread-badge`, `search-input`, `message`, `reply-text`,
//! `send-button`, `resolve-button`.

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use mews_wire::SenderKind;
use serde::Deserialize;

use crate::{
    admin::{self, AdminThread},
    state::AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(inbox))
        .route("/threads/{id}", get(thread_page))
        .route("/threads/{id}/reply", post(reply))
        .route("/threads/{id}/resolve", post(resolve))
}

const STYLE: &str = r#"
:root { --ink:#1f2933; --muted:#6b7785; --line:#e3e8ee; --accent:#2f6fed; --bg:#f6f8fa; --guest:#ffffff; --staff:#e8f0fe; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
header { background:#17324d; color:#fff; padding:.8rem 1.5rem; display:flex; align-items:center; gap:1rem; }
header a { color:#fff; text-decoration:none; font-weight:600; }
header .sub { color:#b8c7d9; font-size:.85rem; }
main { max-width:900px; margin:1.5rem auto; padding:0 1rem; }
form.search { display:flex; gap:.5rem; margin-bottom:1rem; }
input[type=search] { flex:1; padding:.55rem .75rem; border:1px solid var(--line); border-radius:8px; font:inherit; }
button { padding:.55rem 1rem; border:0; border-radius:8px; background:var(--accent); color:#fff; font:inherit; cursor:pointer; }
button.secondary { background:#fff; color:var(--ink); border:1px solid var(--line); }
ul.threads { list-style:none; margin:0; padding:0; background:#fff; border:1px solid var(--line); border-radius:10px; overflow:hidden; }
ul.threads li + li { border-top:1px solid var(--line); }
ul.threads a { display:grid; grid-template-columns:1fr auto; gap:.2rem 1rem; padding:.8rem 1rem; color:inherit; text-decoration:none; }
ul.threads a:hover { background:#f0f4fa; }
.guest { font-weight:600; }
.unread .guest::before { content:""; display:inline-block; width:.55rem; height:.55rem; border-radius:50%; background:var(--accent); margin-right:.45rem; }
.badge { font-size:.75rem; padding:.1rem .45rem; border-radius:999px; background:var(--accent); color:#fff; }
.resolved-tag { font-size:.75rem; padding:.1rem .45rem; border-radius:999px; background:#dfe7df; color:#2d5a2d; }
.meta { color:var(--muted); font-size:.85rem; }
.preview { grid-column:1 / -1; color:var(--muted); white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.empty { padding:2rem; text-align:center; color:var(--muted); background:#fff; border:1px dashed var(--line); border-radius:10px; }
.bubbles { display:flex; flex-direction:column; gap:.6rem; margin:1rem 0; }
.bubble { max-width:75%; padding:.6rem .85rem; border-radius:12px; border:1px solid var(--line); white-space:pre-wrap; overflow-wrap:anywhere; }
.bubble.Application { align-self:flex-start; background:var(--guest); }
.bubble.Enterprise { align-self:flex-end; background:var(--staff); border-color:#cddcf9; }
.bubble .meta { display:block; margin-top:.25rem; }
textarea { width:100%; min-height:5rem; padding:.6rem .75rem; border:1px solid var(--line); border-radius:8px; font:inherit; resize:vertical; }
.actions { display:flex; gap:.5rem; justify-content:space-between; margin-top:.5rem; }
.error { color:#b42318; }
h1 { font-size:1.3rem; margin:.2rem 0; }
.stay { grid-column:1 / -1; display:inline-block; font-size:.85rem; padding:.15rem .5rem; border-radius:6px; background:#fff4d6; color:#5c4300; }
"#;

/// Reloads the page every few seconds unless the user is typing a reply.
const REFRESH: &str = r#"<script>
setInterval(function () {
  var t = document.querySelector('textarea');
  if (t && (t.value.trim() !== '' || document.activeElement === t)) return;
  var s = document.querySelector('input[type=search]');
  if (s && document.activeElement === s) return;
  location.reload();
}, 5000);
</script>"#;

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · mews-sim</title><style>{STYLE}</style></head><body>\
         <header><a href=\"/\">Mews inbox (simulated)</a><span class=\"sub\">staff console of mews-sim</span></header>\
         <main>{body}</main>{REFRESH}</body></html>",
        title = text(title),
    ))
}

/// `2026-03-14T21:05:12Z` → `2026-03-14 21:05 UTC`.
fn short_time(utc: &str) -> String {
    match (utc.get(..10), utc.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t} UTC"),
        _ => utc.to_string(),
    }
}

#[derive(Deserialize, Default)]
struct InboxQuery {
    #[serde(default)]
    q: String,
}

fn matches(t: &AdminThread, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    q.is_empty() || t.original_sender.to_lowercase().contains(&q) || t.subject.to_lowercase().contains(&q)
}

async fn inbox(State(state): State<AppState>, Query(query): Query<InboxQuery>) -> Html<String> {
    let threads: Vec<AdminThread> =
        admin::threads_newest_first(&state).into_iter().filter(|t| matches(t, &query.q)).collect();
    let unread = threads.iter().filter(|t| t.unread).count();
    let mut body = format!(
        "<h1>Guest messages</h1><p class=\"meta\">{} thread(s), {unread} unread</p>\
         <form class=\"search\" method=\"get\" action=\"/\">\
         <input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"Search guest name or subject\" data-testid=\"search-input\">\
         <button type=\"submit\" data-testid=\"search-button\">Search</button></form>",
        threads.len(),
        attr(&query.q),
    );
    if threads.is_empty() {
        body.push_str("<div class=\"empty\" data-testid=\"thread-list-empty\">No threads yet.</div>");
    } else {
        body.push_str("<ul class=\"threads\" data-testid=\"thread-list\">");
        for t in &threads {
            let badges = format!(
                "{}{}",
                if t.unread { "<span class=\"badge\" data-testid=\"unread-badge\">new</span> " } else { "" },
                if t.is_resolved { "<span class=\"resolved-tag\">resolved</span>" } else { "" },
            );
            body.push_str(&format!(
                "<li class=\"{cls}\"><a href=\"/threads/{id}\" data-testid=\"thread-row\" data-thread-id=\"{id}\" \
                 data-unread=\"{unread}\">\
                 <span><span class=\"guest\">{guest}</span> · {subject}</span>\
                 <span class=\"meta\">{badges} {time}</span>\
                 <span class=\"preview\">{last} <span class=\"meta\">({count} messages · {enterprise} · {client})</span></span>\
                 {stay}</a></li>",
                stay = stay_line(t),
                cls = if t.unread { "unread" } else { "" },
                id = attr(&t.id),
                unread = t.unread,
                guest = text(&t.original_sender),
                subject = text(&t.subject),
                time = text(&short_time(&t.updated_utc)),
                last = text(t.last_message.as_deref().unwrap_or("(no messages yet)")),
                count = t.message_count,
                enterprise = text(t.enterprise_name.as_deref().unwrap_or(&t.enterprise_id)),
                client = text(t.client_token_name.as_deref().unwrap_or("?")),
            ));
        }
        body.push_str("</ul>");
    }
    page("Inbox", &body)
}

/// The linked stay, as Mews Operations shows a reservation: number, guest, room, dates, state.
fn stay_line(t: &AdminThread) -> String {
    let Some(s) = &t.linked_stay else { return String::new() };
    format!(
        "<span class=\"stay\" data-testid=\"linked-stay\">Stay {number}{channel} · {guest} · room {room} · \
         {arrival} → {departure} · {state}</span>",
        number = text(&s.number),
        channel = s.channel_number.as_deref().map(|c| format!(" (channel {})", text(c))).unwrap_or_default(),
        guest = text(&s.guest),
        room = text(s.room.as_deref().unwrap_or("not assigned")),
        arrival = text(&s.arrival),
        departure = text(&s.departure),
        state = text(&s.state),
    )
}

#[derive(Deserialize, Default)]
struct ThreadQuery {
    #[serde(default)]
    error: Option<String>,
}

fn not_found_page(id: &str) -> Response {
    let body = format!(
        "<h1>Thread not found</h1><p>No thread <code>{}</code>. <a href=\"/\">Back to the inbox</a></p>",
        text(id)
    );
    (StatusCode::NOT_FOUND, page("Not found", &body)).into_response()
}

async fn thread_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ThreadQuery>,
) -> Response {
    let (thread, messages) = {
        let mut store = state.store();
        if store.thread(&id).is_none() {
            drop(store);
            return not_found_page(&id);
        }
        store.mark_read(&id);
        let messages: Vec<_> = store.messages_of(&id).cloned().collect();
        let thread = store.thread(&id).map(|t| admin::admin_thread(&state, &store, t));
        (thread, messages)
    };
    let Some(t) = thread else { return not_found_page(&id) };
    let mut body = format!(
        "<p><a href=\"/\" data-testid=\"back-link\">← Inbox</a></p>\
         <h1 data-testid=\"thread-subject\">{subject}</h1>\
         <p class=\"meta\">From <strong data-testid=\"thread-guest\">{guest}</strong> · {enterprise} · via {client} · \
         started {created}{resolved}</p>{stay}<div class=\"bubbles\" data-testid=\"messages\">",
        stay = stay_line(&t),
        subject = text(&t.subject),
        guest = text(&t.original_sender),
        enterprise = text(t.enterprise_name.as_deref().unwrap_or(&t.enterprise_id)),
        client = text(t.client_token_name.as_deref().unwrap_or("?")),
        created = text(&short_time(&t.created_utc)),
        resolved = if t.is_resolved { " · <span class=\"resolved-tag\">resolved</span>" } else { "" },
    );
    if messages.is_empty() {
        body.push_str("<div class=\"empty\">No messages yet.</div>");
    }
    for m in &messages {
        let (kind, who) = match m.sender {
            SenderKind::Application => ("Application", text(&t.original_sender).into_owned()),
            SenderKind::Enterprise => ("Enterprise", "Staff".to_string()),
        };
        body.push_str(&format!(
            "<div class=\"bubble {kind}\" data-testid=\"message\" data-sender=\"{kind}\" data-message-id=\"{id}\">{msg}\
             <span class=\"meta\">{who} · {time}</span></div>",
            id = attr(&m.id),
            msg = text(&m.text),
            time = text(&short_time(&mews_wire::format_utc(m.created_utc))),
        ));
    }
    body.push_str("</div>");
    if query.error.as_deref() == Some("empty") {
        body.push_str("<p class=\"error\" data-testid=\"reply-error\">A reply cannot be empty.</p>");
    }
    let id_attr = attr(&t.id);
    body.push_str(&format!(
        "<form method=\"post\" action=\"/threads/{id_attr}/reply\">\
         <textarea name=\"text\" placeholder=\"Reply to the guest…\" data-testid=\"reply-text\" required></textarea>\
         <div class=\"actions\"><button type=\"submit\" data-testid=\"send-button\">Send reply</button></div></form>\
         <form method=\"post\" action=\"/threads/{id_attr}/resolve\" class=\"actions\">\
         <input type=\"hidden\" name=\"resolved\" value=\"{next}\">\
         <button type=\"submit\" class=\"secondary\" data-testid=\"resolve-button\" data-resolved=\"{now}\">{label}</button></form>",
        next = !t.is_resolved,
        now = t.is_resolved,
        label = if t.is_resolved { "Reopen thread" } else { "Mark resolved" },
    ));
    page(&t.subject, &body).into_response()
}

#[derive(Deserialize)]
struct ReplyForm {
    #[serde(default)]
    text: String,
}

async fn reply(State(state): State<AppState>, Path(id): Path<String>, Form(form): Form<ReplyForm>) -> Response {
    if state.store().thread(&id).is_none() {
        return not_found_page(&id);
    }
    let target = format!("/threads/{id}");
    if form.text.trim().is_empty() {
        return Redirect::to(&format!("{target}?error=empty")).into_response();
    }
    match admin::staff_reply(&state, &id, &form.text) {
        Ok(_) => Redirect::to(&target).into_response(),
        Err(_) => not_found_page(&id),
    }
}

#[derive(Deserialize)]
struct ResolveForm {
    resolved: bool,
}

async fn resolve(State(state): State<AppState>, Path(id): Path<String>, Form(form): Form<ResolveForm>) -> Response {
    match admin::set_resolved(&state, &id, form.resolved) {
        Ok(_) => Redirect::to(&format!("/threads/{id}")).into_response(),
        Err(_) => not_found_page(&id),
    }
}
