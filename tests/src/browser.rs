//! A real headless Chromium, driven over WebDriver (chromedriver, spawned per browser), with
//! helpers to reach into the widget's Shadow DOM the way WebDriver allows (`shadow_root()`), so
//! clicks and typing are real input events.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::json;

pub struct Browser {
    pub client: Client,
    driver: Child,
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
        let port = free_port();
        let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
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
            ],
        });
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
                Ok(client) => return Self { client, driver },
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

    /// Saves a PNG screenshot of the viewport.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
