//! The widget's languages: every locale file (`widget/locales/<code>.json`) has exactly the keys
//! the widget's code uses (`widget/src/keys.rs`, included here as it is), each translated with the
//! same placeholders; and in a real headless Chromium against the real stack, a right-to-left
//! (Hebrew) and a CJK (Japanese) guest get their language, fetched only for them, with 0 axe-core
//! violations, and a screenshot each.

use std::{collections::BTreeMap, time::Duration};

use lobby_e2e::{
    Ports, Stack,
    browser::{Browser, Launch},
    repo_root, screenshot_path,
};

#[allow(dead_code)]
#[path = "../../widget/src/keys.rs"]
mod keys;

fn locale(code: &str) -> BTreeMap<String, String> {
    let path = repo_root().join("widget/locales").join(format!("{code}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not a flat JSON object of strings: {e}", path.display()))
}

fn placeholders(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.match_indices('{').filter_map(|(i, _)| s[i..].find('}').map(|j| &s[i..=i + j])).collect();
    v.sort();
    v
}

#[test]
fn every_locale_has_every_key_the_code_uses() {
    let files: Vec<String> = std::fs::read_dir(repo_root().join("widget/locales"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".json").to_owned())
        .collect();
    let mut codes = keys::CODES.to_vec();
    codes.sort();
    let mut found = files.clone();
    found.sort();
    assert_eq!(found, codes, "one file per supported language, no other");
    for required in ["ja", "zh", "ko", "pl", "pt", "ru", "tr", "sv", "uk", "el", "hu", "he"] {
        assert!(codes.contains(&required), "{required} missing");
    }
    assert!(codes.len() >= 20, "{} languages", codes.len());

    let en = locale("en");
    let mut problems = Vec::new();
    for code in keys::CODES {
        let strings = locale(code);
        for (i, key) in keys::NAMES.iter().enumerate() {
            match strings.get(*key) {
                None => problems.push(format!("{code}: `{key}` missing")),
                Some(s) if s.trim().is_empty() => problems.push(format!("{code}: `{key}` empty")),
                Some(s) if placeholders(s) != placeholders(&en[*key]) => problems.push(format!(
                    "{code}: `{key}` placeholders {:?}, English {:?}",
                    placeholders(s),
                    placeholders(&en[*key])
                )),
                Some(_) => {}
            }
            assert_eq!(i, keys::NAMES.iter().position(|k| k == key).unwrap(), "`{key}` named twice in keys.rs");
        }
        for key in strings.keys() {
            if !keys::NAMES.contains(&key.as_str()) {
                problems.push(format!("{code}: `{key}` is not a key of the widget (widget/src/keys.rs)"));
            }
        }
        if code != "en" {
            let same = keys::NAMES.iter().filter(|k| strings.get(**k) == en.get(**k)).count();
            // A few words are the same in some languages ("Message", "Chat").
            if same > 3 {
                problems.push(format!("{code}: {same} strings identical to English"));
            }
        }
    }
    assert!(problems.is_empty(), "locale files:\n{}", problems.join("\n"));
}

/// A guest whose browser speaks `lang`: the panel in that language and direction, only that
/// locale file fetched, axe-core clean in every state, and a screenshot.
async fn guest_in(
    stack: &Stack,
    lang: &str,
    dir: &str,
    name: &str,
    topic: &str,
    first: &str,
    reply: &str,
) -> Vec<String> {
    let browser =
        Browser::launch_with(Launch { width: 1280, height: 860, lang: lang.into(), ..Launch::default() }).await;
    browser.client.goto(&stack.demo_page()).await.unwrap();
    let mut found = Vec::new();
    for v in browser.axe().await {
        found.push(format!("{lang} launcher: {v}"));
    }
    browser.widget("lobby-launcher").await.click().await.unwrap();
    let expected = serde_json::from_str::<BTreeMap<String, String>>(
        &std::fs::read_to_string(repo_root().join(format!("widget/locales/{lang}.json"))).unwrap(),
    )
    .unwrap();
    let start = expected["start"].clone();
    browser
        .wait_js(
            Duration::from_secs(15),
            &format!("r.querySelector('[data-testid=lobby-start]').textContent == {start:?}"),
        )
        .await;
    let attrs = browser.shadow_js("(p => [p.lang, p.dir])(r.querySelector('[data-testid=lobby-panel]'))").await;
    assert_eq!(attrs, serde_json::json!([lang, dir]));
    let fetched: Vec<String> = serde_json::from_value(
        browser
            .js("return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.endsWith('.json'))")
            .await,
    )
    .unwrap();
    assert_eq!(fetched.len(), 1, "one locale file: {fetched:?}");
    assert!(fetched[0].ends_with(&format!(".{lang}.json")), "{fetched:?}");

    browser.widget("lobby-start").await.click().await.unwrap(); // empty: the field errors show
    browser.wait_js(Duration::from_secs(5), "r.querySelector('[aria-invalid=true]')").await;
    let need_name = browser.shadow_js("r.querySelector('.lobby-error').textContent").await;
    assert_eq!(need_name, expected["need_name"].as_str());
    for v in browser.axe().await {
        found.push(format!("{lang} start form with errors: {v}"));
    }
    browser.submit_start_form(name, topic, first).await;
    let thread = stack.sim().thread_of(name).await;
    stack.sim().staff_reply(&thread, reply).await;
    browser.wait_js(Duration::from_secs(15), "r.querySelector('[data-author=hotel]')").await;
    let you = browser.shadow_js("r.querySelector('[data-author=guest] .lobby-who').textContent").await;
    assert_eq!(you, expected["you"].as_str());
    for v in browser.axe().await {
        found.push(format!("{lang} conversation: {v}"));
    }
    browser.settled_screenshot(&screenshot_path(&format!("widget-{lang}.png"))).await;
    browser.close().await;
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hebrew_and_japanese_guests_get_their_language_with_no_axe_violations() {
    let stack = Stack::start(Ports::any()).await;
    let mut found = guest_in(
        &stack,
        "he",
        "rtl",
        "נועה לוי",
        "צ'ק-אין מוקדם",
        "שלום, אפשר לעשות צ'ק-אין בשעה 11?",
        "בוודאי! החדר יהיה מוכן בשעה 11.",
    )
    .await;
    found.extend(
        guest_in(
            &stack,
            "ja",
            "ltr",
            "佐藤 花子",
            "朝食",
            "朝食は何時までですか？",
            "朝食は10時30分までご利用いただけます。",
        )
        .await,
    );
    assert!(found.is_empty(), "axe-core violations:\n{}", found.join("\n"));
    stack.stop().await;
}
