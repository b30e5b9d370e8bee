//! How the proxy serves the loader and widget: precompressed encodings, cache rules, CORS for
//! the cross-origin module import, and the operational endpoints.

use lobby_e2e::{Ports, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_precompressed_cached_right_and_ops_endpoints_answer() {
    let stack = Stack::start(Ports::any()).await;
    let http = reqwest::Client::builder().no_brotli().no_gzip().build().unwrap();
    let assets = lobby_proxy::assets::Assets::embedded();

    let loader =
        http.get(format!("{}/lobby.js", stack.proxy_url)).header("accept-encoding", "br, gzip").send().await.unwrap();
    assert_eq!(loader.status(), 200);
    assert_eq!(loader.headers()["content-encoding"], "br");
    assert_eq!(loader.headers()["cache-control"], "public, max-age=300");
    let etag = loader.headers()["etag"].to_str().unwrap().to_owned();
    let br = loader.bytes().await.unwrap();
    assert_eq!(br.as_ref(), assets.get("/lobby.js").unwrap().br);
    let again = http.get(format!("{}/lobby.js", stack.proxy_url)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let plain = http.get(format!("{}/lobby.js", stack.proxy_url)).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let text = plain.text().await.unwrap();
    assert!(!text.contains("__LOBBY_ASSETS__"), "the loader knows the hashed widget files");

    let wasm = assets.all().iter().find(|a| a.path.ends_with(".wasm")).expect("the widget is built into the proxy");
    let stem = wasm.path.trim_end_matches("_bg.wasm");
    assert!(text.contains(&format!("\"{stem}\"")), "the loader names the widget files ({stem})");
    assert!(assets.get(&format!("{stem}.js")).is_some(), "the glue is the stem + .js");
    assert!(assets.get(&format!("{stem}.css")).is_some(), "the stylesheet is the stem + .css");
    // The widget's strings: one file per language, same stem (English is also built into the wasm).
    let locales: Vec<_> = assets.all().iter().filter(|a| a.path.ends_with(".json")).collect();
    assert!(locales.iter().all(|a| a.path.starts_with(&format!("{stem}."))), "locale files share the stem");
    assert!(assets.get(&format!("{stem}.he.json")).is_some(), "a locale is the stem + .<code>.json");
    assert_eq!(
        assets.all().len(),
        4 + locales.len(),
        "the loader, the widget's three files, its locales, nothing else"
    );
    assert!(locales.len() >= 20, "{} locale files", locales.len());
    let he =
        http.get(format!("{}{stem}.he.json", stack.proxy_url)).header("accept-encoding", "br").send().await.unwrap();
    assert_eq!(he.headers()["content-encoding"], "br", "precompressed");
    assert_eq!(he.headers()["content-type"], "application/json");
    assert_eq!(he.headers()["cache-control"], "public, max-age=31536000, immutable");
    let resp =
        http.get(format!("{}{}", stack.proxy_url, wasm.path)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert_eq!(resp.headers()["content-type"], "application/wasm");
    assert_eq!(resp.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(wasm.br.len() < wasm.gz.len() && wasm.gz.len() < wasm.raw.len());

    let missing = http.get(format!("{}/widget/nope.js", stack.proxy_url)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(http.get(format!("{}/healthz", stack.proxy_url)).send().await.unwrap().text().await.unwrap(), "ok");
    assert_eq!(http.get(format!("{}/readyz", stack.proxy_url)).send().await.unwrap().status(), 200);
    let metrics = http.get(format!("{}/metrics", stack.proxy_url)).send().await.unwrap().text().await.unwrap();
    for name in [
        "lobby_upstream_requests_total{operation=\"messages/add\"}",
        "lobby_upstream_429_total",
        "lobby_queue_depth",
        "lobby_live_threads",
        "lobby_sse_connections",
        "lobby_reply_latency_seconds_bucket",
        "lobby_upstream_budget_capacity{property=\"grand-hotel\"} 160",
    ] {
        assert!(metrics.contains(name), "metrics lack {name}");
    }
    stack.stop().await;
}
