//! Embeds the loader (`public/lobby.js`) and the built widget (`dist/`, from `widget/build.sh`) into
//! the `lobby` binary, each with brotli and gzip versions compressed once here at build time.
//!
//! The loader is the only un-hashed entry point a host page references; it learns the hashed
//! widget file names through the `"__LOBBY_ASSETS__"` token, replaced below by the stem
//! `"/widget/HASH"`: the build's three files are served as `HASH.js`, `HASH_bg.wasm` and `HASH.css`,
//! and its locale files (`dist/locale.<code>.json`) as `HASH.<code>.json`, HASH being 12 hex
//! digits of a hash of all of them. When `dist/` has
//! not been built yet the proxy still compiles, and `/lobby.js` then reports that the widget is
//! missing (run `make widget`).

use std::{
    env,
    fmt::Write as _,
    fs,
    io::Write,
    path::{Path, PathBuf},
};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("..");
    let dist = root.join("dist");
    let loader = root.join("public/lobby.js");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-changed={}", loader.display());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if let Ok(entries) = fs::read_dir(&dist) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // wasm-bindgen's `snippets/` (inline JS of a dependency) would need serving beside the glue.
            assert!(e.path().is_file(), "dist/{name}: the widget build is expected to be flat files");
            if name != "index.html" {
                files.push((name, fs::read(e.path()).unwrap()));
            }
        }
    }
    files.sort();
    let find = |pred: &dyn Fn(&str) -> bool| files.iter().find(|(n, _)| pred(n)).cloned();
    let js = find(&|n| n.starts_with("lobby-widget") && n.ends_with(".js"));
    let wasm = find(&|n| n.ends_with(".wasm"));
    let css = find(&|n| n.ends_with(".css"));
    // The three files are served under one stem named by a hash of all their bytes, so the loader
    // carries a single short name (its 2 KB brotli budget) and a change to any file renames all.
    // The widget's strings, one flat JSON file per language (`locale.<code>.json`), served as
    // `<stem>.<code>.json` and fetched by the widget only for the language in use.
    let locales: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter_map(|(n, b)| Some((n.strip_prefix("locale.")?.strip_suffix(".json")?.to_owned(), b.clone())))
        .collect();
    let widget = match (js, wasm, css) {
        (Some(js), Some(wasm), Some(css)) => {
            let mut parts: Vec<&[u8]> = vec![&js.1, &wasm.1, &css.1];
            for (code, bytes) in &locales {
                parts.push(code.as_bytes());
                parts.push(bytes);
            }
            let stem = format!("/widget/{:012x}", fnv1a(&parts) >> 16);
            let mut files =
                vec![(format!("{stem}.js"), js.1), (format!("{stem}_bg.wasm"), wasm.1), (format!("{stem}.css"), css.1)];
            files.extend(locales.iter().map(|(code, bytes)| (format!("{stem}.{code}.json"), bytes.clone())));
            Some((stem, files))
        }
        _ => None,
    };
    let manifest = widget.as_ref().map_or("null".to_owned(), |(stem, _)| format!("{stem:?}"));
    let loader_src = fs::read_to_string(&loader)
        .unwrap_or_else(|_| "console.error('Lobby: public/lobby.js missing at build time')".into());
    let loader_src = loader_src.replace("\"__LOBBY_ASSETS__\"", &manifest);

    let mut table = String::from("pub static EMBEDDED: &[Asset] = &[\n");
    let mut emit = |url: &str, bytes: &[u8], immutable: bool| {
        let stem = url.trim_start_matches('/').replace(['/', '.'], "_");
        let raw = out.join(format!("{stem}.raw"));
        fs::write(&raw, bytes).unwrap();
        let br = out.join(format!("{stem}.br"));
        let mut w = brotli::CompressorWriter::new(Vec::new(), 4096, 11, 22);
        w.write_all(bytes).unwrap();
        fs::write(&br, w.into_inner()).unwrap();
        let gz = out.join(format!("{stem}.gz"));
        let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        g.write_all(bytes).unwrap();
        fs::write(&gz, g.finish().unwrap()).unwrap();
        let _ = writeln!(
            table,
            "    Asset {{ path: {url:?}, content_type: {ct:?}, immutable: {immutable}, raw: include_bytes!({raw:?}), br: include_bytes!({br:?}), gz: include_bytes!({gz:?}) }},",
            ct = content_type(url),
            raw = raw.display().to_string(),
            br = br.display().to_string(),
            gz = gz.display().to_string(),
        );
    };
    emit("/lobby.js", loader_src.as_bytes(), false);
    for (url, bytes) in widget.as_ref().map_or(&[][..], |(_, f)| f) {
        emit(url, bytes, true);
    }
    table.push_str("];\n");
    let _ = writeln!(table, "pub const WIDGET_BUILT: bool = {};", widget.is_some());
    fs::write(out.join("assets.rs"), table).unwrap();
}

/// FNV-1a (64 bit) over several byte strings: a content hash for file names, not for security.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn content_type(path: &str) -> &'static str {
    match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("mp3") => "audio/mpeg",
        Some("ogg") => "audio/ogg",
        _ => "application/octet-stream",
    }
}
