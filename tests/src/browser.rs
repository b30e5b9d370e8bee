//! A real headless Chromium, driven over WebDriver (chromedriver, spawned per browser), with
//! helpers to reach into the widget's Shadow DOM the way WebDriver allows (`shadow_root()`), so
//! clicks and typing are real input events.

use std::{
    net::TcpListener,
    os::unix::process::CommandExt,
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::json;

pub struct Browser {
    pub client: Client,
    driver: Child,
    port: u16,
}

/// How to launch Chromium (see [`Browser::launch_with`]).
#[derive(Clone, Debug)]
pub struct Launch {
    pub width: u32,
    pub height: u32,
    /// Emulate a phone (touch, mobile user agent, device pixel ratio 2).
    pub mobile: bool,
    /// `prefers-color-scheme: dark`.
    pub dark: bool,
    /// The browser's language (`navigator.languages`), e.g. `de-DE`.
    pub lang: String,
}

impl Default for Launch {
    fn default() -> Self {
        Self { width: 1280, height: 900, mobile: false, dark: false, lang: "en-US".into() }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Launches Chromium with a desktop window.
    pub async fn launch() -> Self {
        Self::launch_sized(1280, 900, false).await
    }

    /// Launches Chromium with a given window size, optionally emulating a phone (touch, mobile UA).
    pub async fn launch_sized(width: u32, height: u32, mobile: bool) -> Self {
        Self::launch_with(Launch { width, height, mobile, ..Launch::default() }).await
    }

    /// Launches Chromium with the given options.
    pub async fn launch_with(opts: Launch) -> Self {
        let Launch { width, height, mobile, dark, lang } = opts;
        let port = free_port();
        let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that dropping the browser (a failed test) ends Chromium too.
            .process_group(0)
            .spawn()
            .expect("chromedriver must be installed (make test installs it)");
        let mut chrome = json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--hide-scrollbars", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required",
                format!("--window-size={width},{height}"),
                format!("--lang={lang}"),
            ],
            "prefs": { "intl.accept_languages": lang },
        });
        if dark {
            chrome["args"].as_array_mut().unwrap().push(json!("--force-dark-mode"));
        }
        if mobile {
            chrome["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "touch": true, "mobile": true },
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36",
            });
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), chrome);
        let url = format!("http://127.0.0.1:{port}");
        let mut last_err = None;
        for _ in 0..50 {
            match ClientBuilder::rustls().expect("rustls").capabilities(caps.clone()).connect(&url).await {
                Ok(client) => {
                    let browser = Self { client, driver, port };
                    if dark {
                        browser.emulate_dark().await;
                    }
                    return browser;
                }
                Err(e) => {
                    last_err = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("could not start a WebDriver session: {last_err:?}");
    }

    /// Waits for an element (by `data-testid`) inside the widget's shadow root.
    pub async fn widget(&self, testid: &str) -> Element {
        self.widget_css(&format!("[data-testid='{testid}']")).await
    }

    /// Waits for an element matching `css` inside the widget's shadow root (10 s).
    pub async fn widget_css(&self, css: &str) -> Element {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(e) = self.try_widget_css(css).await {
                return e;
            }
            assert!(tokio::time::Instant::now() < deadline, "no element `{css}` in the widget's shadow root");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element matching `css` in the widget's shadow root, if any right now.
    pub async fn try_widget_css(&self, css: &str) -> Option<Element> {
        let host = self.client.find(Locator::Css("lobby-chat")).await.ok()?;
        let root = host.shadow_root().await.ok()?;
        root.find(Locator::Css(css)).await.ok()
    }

    /// All elements matching `css` in the widget's shadow root right now.
    pub async fn widget_all(&self, css: &str) -> Vec<Element> {
        let Ok(host) = self.client.find(Locator::Css("lobby-chat")).await else { return vec![] };
        let Ok(root) = host.shadow_root().await else { return vec![] };
        root.find_all(Locator::Css(css)).await.unwrap_or_default()
    }

    /// Texts of the messages shown, as `(author, status, text)`.
    pub async fn messages(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for e in self.widget_all("[data-testid='lobby-message']").await {
            let author = e.attr("data-author").await.ok().flatten().unwrap_or_default();
            let status = e.attr("data-status").await.ok().flatten().unwrap_or_default();
            let text = e.text().await.unwrap_or_default();
            out.push((author, status, text));
        }
        out
    }

    /// Saves a PNG screenshot of the viewport once the fonts are loaded and the entry animation
    /// has settled (400 ms): the pictures the README shows.
    pub async fn settled_screenshot(&self, path: &std::path::Path) {
        let settle =
            "const done = arguments[arguments.length - 1]; document.fonts.ready.then(() => setTimeout(done, 400));";
        self.client.execute_async(settle, vec![]).await.unwrap();
        self.screenshot(path).await;
    }

    /// Saves a PNG screenshot of the viewport.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    /// A WebDriver command of this session sent as plain HTTP (for chromedriver's extensions).
    pub async fn raw(&self, method: reqwest::Method, path: &str, body: serde_json::Value) -> serde_json::Value {
        let sid = self.client.session_id().await.unwrap().expect("a session");
        let resp = reqwest::Client::new()
            .request(method, format!("http://127.0.0.1:{}/session/{sid}{path}", self.port))
            .json(&body)
            .send()
            .await
            .expect("chromedriver answers");
        let status = resp.status();
        let v: serde_json::Value = resp.json().await.unwrap_or_default();
        assert!(status.is_success(), "{path} answered {status}: {v}");
        v["value"].clone()
    }

    /// A Chrome DevTools Protocol command on the current tab.
    pub async fn cdp(&self, cmd: &str, params: serde_json::Value) -> serde_json::Value {
        self.raw(reqwest::Method::POST, "/goog/cdp/execute", json!({ "cmd": cmd, "params": params })).await
    }

    /// `prefers-color-scheme: dark` in the current tab.
    pub async fn emulate_dark(&self) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] }),
        )
        .await;
    }

    /// Cuts (or restores) the current tab's network, as a guest losing connectivity would.
    pub async fn set_offline(&self, offline: bool) {
        self.cdp("Network.enable", json!({})).await;
        self.cdp(
            "Network.emulateNetworkConditions",
            json!({ "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 }),
        )
        .await;
    }

    /// Runs `source` in every document of the current tab before the page's own scripts.
    pub async fn on_new_document(&self, source: &str) {
        self.cdp("Page.addScriptToEvaluateOnNewDocument", json!({ "source": source })).await;
    }

    /// Runs a script body (`return …`) in the page.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Evaluates `expr` with `r` bound to the widget's shadow root.
    pub async fn shadow_js(&self, expr: &str) -> serde_json::Value {
        self.js(&format!("const r = document.querySelector('lobby-chat').shadowRoot; return ({expr});")).await
    }

    /// Waits until `expr` (with `r` = the widget's shadow root) is truthy; returns its value.
    pub async fn wait_js(&self, timeout: Duration, expr: &str) -> serde_json::Value {
        let script = format!(
            "const r = document.querySelector('lobby-chat')?.shadowRoot; if (!r) return null; return ({expr});"
        );
        crate::eventually(timeout, expr, || async {
            let v = self.client.execute(&script, vec![]).await.ok()?;
            let truthy = match &v {
                serde_json::Value::Null => false,
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
                serde_json::Value::String(s) => !s.is_empty(),
                _ => true,
            };
            truthy.then_some(v)
        })
        .await
    }

    /// Texts of the staff replies shown, in order.
    pub async fn hotel_texts(&self) -> Vec<String> {
        let v = self
            .shadow_js("[...r.querySelectorAll('[data-testid=lobby-message][data-author=hotel] .lobby-text')].map(e => e.textContent)")
            .await;
        serde_json::from_value(v).unwrap_or_default()
    }

    /// Texts of the guest's messages shown, in order.
    pub async fn guest_texts(&self) -> Vec<String> {
        let v = self
            .shadow_js("[...r.querySelectorAll('[data-testid=lobby-message][data-author=guest] .lobby-text')].map(e => e.textContent)")
            .await;
        serde_json::from_value(v).unwrap_or_default()
    }

    /// Opens the panel with the launcher, fills the start form and waits until the first message
    /// is shown as sent.
    pub async fn start_conversation(&self, name: &str, topic: &str, first: &str) {
        self.widget("lobby-launcher").await.click().await.unwrap();
        self.submit_start_form(name, topic, first).await;
    }

    /// In the open panel: fills the start form, submits it and waits until the first message is
    /// shown as sent.
    pub async fn submit_start_form(&self, name: &str, topic: &str, first: &str) {
        self.widget("lobby-name").await.send_keys(name).await.unwrap();
        self.widget("lobby-topic").await.send_keys(topic).await.unwrap();
        self.widget("lobby-first-message").await.send_keys(first).await.unwrap();
        self.widget("lobby-start").await.click().await.unwrap();
        self.wait_js(
            Duration::from_secs(15),
            "r.querySelector('[data-testid=lobby-message][data-author=guest][data-status=sent]')",
        )
        .await;
    }

    /// Presses keys with real key events: plain text, or `\u{e004}` (Tab), `\u{e007}` (Enter),
    /// `\u{e00c}` (Escape); `shift` holds Shift around the whole sequence.
    pub async fn keys(&self, text: &str, shift: bool) {
        let mut acts = Vec::new();
        if shift {
            acts.push(json!({ "type": "keyDown", "value": "\u{e008}" }));
        }
        for ch in text.chars() {
            acts.push(json!({ "type": "keyDown", "value": ch.to_string() }));
            acts.push(json!({ "type": "keyUp", "value": ch.to_string() }));
        }
        if shift {
            acts.push(json!({ "type": "keyUp", "value": "\u{e008}" }));
        }
        self.raw(
            reqwest::Method::POST,
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "kb", "actions": acts }] }),
        )
        .await;
    }

    /// The `data-testid` (or class) of the focused element in the widget.
    pub async fn focused(&self) -> String {
        self.shadow_js("(r.activeElement && (r.activeElement.dataset.testid || r.activeElement.className)) || ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs axe-core (installed by `scripts/setup.sh` into `.tools/`) on the widget and returns
    /// its violations as `id impact: targets` lines.
    pub async fn axe(&self) -> Vec<String> {
        let path = crate::repo_root().join(".tools/node_modules/axe-core/axe.min.js");
        let src =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", path.display()));
        self.js(&format!("if (!window.axe) {{ {src}\n }} return 1;")).await;
        let v = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run({ include: [['lobby-chat']] }, { resultTypes: ['violations'] })
                   .then(r => done(r.violations.map(v => v.id + ' ' + v.impact + ': ' +
                     v.nodes.map(n => JSON.stringify(n.target) + ' ' + n.failureSummary).slice(0, 3).join(' | '))))
                   .catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .expect("axe ran");
        serde_json::from_value(v).unwrap_or_default()
    }

    /// Ends the WebDriver session (Chromium quits); dropping then stops chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.driver.id())]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
