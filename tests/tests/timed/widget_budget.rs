//! What the widget costs a hotel page, measured in a real headless Chromium against the real
//! proxy: the loader's size, what is fetched and how much the main thread is blocked before the
//! guest shows interest, and what opening the chat costs. Prints every figure; asserts the loader's
//! 2,048 B brotli and the widget's 80 KB brotli on open.

use std::{io::Write, process::Command, time::Duration};

use lobby_e2e::{Ports, Stack, browser::Browser};

/// The widget's budget on open: wasm + js + css, brotli (issue 14: 80 KB = 81,920 B). Met: 81,478 B
/// with "Find my booking" (widget/README.md "Budgets"). A hard limit: a change that makes the widget
/// bigger fails here.
const WIDGET_BUDGET: usize = 81_920;

/// Size of `bytes` compressed with brotli -q 11 (the `brotli` tool `make test` installs).
fn brotli_len(bytes: &[u8]) -> usize {
    let mut child = Command::new("brotli")
        .args(["-c", "-q", "11"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("brotli must be installed (make test installs it)");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout.len()
}

async fn fetch(url: &str) -> Vec<u8> {
    let resp = reqwest::get(url).await.unwrap();
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget() {
    let stack = Stack::start(Ports::any()).await;
    let browser = Browser::launch().await;
    browser
        .on_new_document(
            // Long tasks page-wide, and the scripts Chromium names in long animation frames
            // (Long Animation Frames API): what the loader itself costs the main thread.
            "window.__lt = []; window.__scripts = []; try { new PerformanceObserver(l => l.getEntries().forEach(e => __lt.push(e.duration))).observe({ type: 'longtask', buffered: true }); new PerformanceObserver(l => l.getEntries().forEach(f => f.scripts.forEach(s => __scripts.push([s.sourceURL, s.invokerType, s.duration])))).observe({ type: 'long-animation-frame', buffered: true }); } catch (e) {}",
        )
        .await;
    // A guest's browser is already running when they open a hotel's page: let Chromium's own
    // start-up (GPU and network processes, first renderer) settle first, so that its work on
    // these 2 cores is not counted as the loader's. Every load is cold: no HTTP or code cache.
    browser.client.goto("about:blank").await.unwrap();
    browser.cdp("Network.enable", serde_json::json!({})).await;
    browser.cdp("Network.setCacheDisabled", serde_json::json!({ "cacheDisabled": true })).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The loader, as the proxy serves it.
    let loader = fetch(&format!("{}/lobby.js", stack.proxy_url)).await;
    let loader_br = brotli_len(&loader);
    println!("loader: {loader_br} B brotli ({} B raw)", loader.len());

    // Three cold loads of the page: the main-thread figures are wall-clock times on 2 shared
    // cores, so the loader's cost is the best of three (noise only ever adds time).
    let mut loader_blocking = Vec::new();
    for run in 1..=3 {
        browser.client.goto("about:blank").await.unwrap();
        browser.client.goto(&stack.demo_page()).await.unwrap();
        browser.widget("lobby-launcher").await;
        // Until the page has loaded and the browser had idle time, nothing more may happen.
        browser.wait_js(Duration::from_secs(10), "document.readyState == 'complete'").await;
        browser
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; requestIdleCallback(() => setTimeout(done, 500));",
                vec![],
            )
            .await
            .unwrap();
        let before: Vec<(String, f64)> = serde_json::from_value(
            browser
                .js(&format!(
                    "return performance.getEntriesByType('resource').filter(e => e.name.startsWith('{}')).map(e => [e.name, e.encodedBodySize])",
                    stack.proxy_url
                ))
                .await,
        )
        .unwrap();
        let long_tasks: Vec<f64> = serde_json::from_value(browser.js("return window.__lt").await).unwrap();
        let blocking = long_tasks.iter().fold(0.0_f64, |sum, d| sum + (d - 50.0).max(0.0));
        let scripts: Vec<(String, String, f64)> =
            serde_json::from_value(browser.js("return window.__scripts").await).unwrap();
        let ours: Vec<_> = scripts.into_iter().filter(|s| s.0.starts_with(&stack.proxy_url)).collect();
        loader_blocking.push(ours.iter().fold(0.0_f64, |sum, s| sum + (s.2 - 50.0).max(0.0)));
        let storage = browser.js("return [localStorage.length + sessionStorage.length, document.cookie]").await;
        println!("before interest (load {run}): {} request(s) to the proxy: {before:?}", before.len());
        println!(
            "before interest (load {run}), page-wide (the host page's own parsing and first render included): {} long task(s), {blocking:.0} ms blocking",
            long_tasks.len()
        );
        println!(
            "before interest (load {run}), the loader's tasks seen in long animation frames: {:?}; main-thread blocking caused by the loader: {:.0} ms",
            ours.iter().map(|s| format!("{} {:.0} ms", s.1, s.2)).collect::<Vec<_>>(),
            loader_blocking[run - 1]
        );
        println!("before interest (load {run}): storage keys and cookies {storage}");
        assert_eq!(before.len(), 1, "only the loader before interest: {before:?}");
        assert!(before[0].0.ends_with("/lobby.js"), "{before:?}");
        assert!(ours.iter().all(|s| s.0.ends_with("/lobby.js")), "only the loader runs before interest: {ours:?}");
        assert_eq!(storage, serde_json::json!([0, ""]), "nothing stored before consent");
    }
    let best = loader_blocking.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "main-thread blocking caused by the loader, best of 3 cold loads: {best:.0} ms (all: {loader_blocking:?})"
    );

    // Click → interactive (cold cache): the name field of the start form has focus.
    let ms = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const r = document.querySelector('lobby-chat').shadowRoot;
             const t0 = performance.now();
             r.querySelector('[data-testid=lobby-launcher]').click();
             (function poll() { const n = r.querySelector('[data-testid=lobby-name]');
               if (n && r.activeElement === n) done(performance.now() - t0); else requestAnimationFrame(poll); })();",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    println!("click to interactive (cold cache, loopback, name field focused): {ms:.0} ms");

    let widget: Vec<String> = serde_json::from_value(
        browser
            .js("return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/widget/'))")
            .await,
    )
    .unwrap();
    let mut total_br = 0;
    let mut parts = Vec::new();
    for url in &widget {
        let body = fetch(url).await;
        let br = brotli_len(&body);
        total_br += br;
        let kind = if url.ends_with(".wasm") {
            "wasm"
        } else if url.ends_with(".js") {
            "js"
        } else if url.ends_with(".css") {
            "css"
        } else {
            "other"
        };
        parts.push(format!("{kind} {br} B ({} B raw)", body.len()));
    }
    println!(
        "widget on open, brotli: {} = total {total_br} B (budget {WIDGET_BUDGET} B: {})",
        parts.join(" + "),
        if total_br <= WIDGET_BUDGET { "ok".to_owned() } else { format!("OVER by {} B", total_br - WIDGET_BUDGET) }
    );
    // A language other than English adds its own strings, fetched when it is chosen.
    let stem = widget.iter().find(|u| u.ends_with(".css")).expect("the stylesheet").trim_end_matches(".css");
    let locale = fetch(&format!("{stem}.ja.json")).await;
    println!(
        "a locale file (ja), brotli: {} B ({} B raw), fetched only for a Japanese guest",
        brotli_len(&locale),
        locale.len()
    );

    assert!(loader_br <= 2048, "loader {loader_br} B brotli > 2 KB");
    assert_eq!(best, 0.0, "the loader blocks the host page's main thread on every load: {loader_blocking:?}");
    assert_eq!(widget.len(), 3, "wasm, js and css fetched on open (English: no locale file): {widget:?}");
    assert!(total_br <= WIDGET_BUDGET, "widget on open {total_br} B brotli > 80 KB ({WIDGET_BUDGET} B)");
    browser.close().await;
    stack.stop().await;
}
