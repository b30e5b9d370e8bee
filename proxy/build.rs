//! Embeds the loader (`public/lobby.js`) and the built widget (`dist/`, from `trunk build`) into
//! the `lobby` binary, each with brotli and gzip versions compressed once here at build time.
//!
//! The loader is the only un-hashed entry point a host page references; it learns the hashed
//! widget file names through the `"__LOBBY_ASSETS__"` token, replaced below by
//! `["/widget/lobby-widget-HASH", "/widget/lobby-HASH.css"]`. When `dist/` has
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
            if e.path().is_file() && name != "index.html" {
                files.push((name, fs::read(e.path()).unwrap()));
            }
        }
    }
    files.sort();
    let find = |pred: &dyn Fn(&str) -> bool| files.iter().map(|(n, _)| n.as_str()).find(|n| pred(n)).map(str::to_owned);
    let js = find(&|n| n.starts_with("lobby-widget") && n.ends_with(".js"));
    let wasm = find(&|n| n.ends_with(".wasm"));
    let css = find(&|n| n.ends_with(".css"));
    // `[stem, css]`: the glue is `stem + ".js"`, the module `stem + "_bg.wasm"` (wasm-bindgen's
    // naming); the short form keeps the loader under its 2 KB brotli budget.
    let manifest = match (&js, &wasm) {
        (Some(js), Some(wasm)) => {
            let stem = js.trim_end_matches(".js");
            assert_eq!(wasm, &format!("{stem}_bg.wasm"), "dist/: the wasm file is not named after the JS glue");
            format!(r#"["/widget/{stem}",{}]"#, css.as_ref().map_or("0".to_owned(), |c| format!("\"/widget/{c}\"")))
        }
        _ => "null".to_owned(),
    };
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
    for (name, bytes) in &files {
        // Trunk puts a content hash in every file name it emits (filehash = true).
        emit(&format!("/widget/{name}"), bytes, true);
    }
    table.push_str("];\n");
    let _ = writeln!(table, "pub const WIDGET_BUILT: bool = {};", js.is_some() && wasm.is_some());
    fs::write(out.join("assets.rs"), table).unwrap();
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
