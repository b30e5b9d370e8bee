//! The loader and widget files embedded at build time (see `build.rs`), served with the best
//! encoding the browser accepts (brotli, gzip, identity). Hashed widget files are immutable
//! for a year; the loader, the one un-hashed entry point, is cached for five minutes so a new
//! widget version reaches host pages quickly.

/// One embedded file in three encodings.
#[derive(Debug)]
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub immutable: bool,
    pub raw: &'static [u8],
    pub br: &'static [u8],
    pub gz: &'static [u8],
}

mod embedded {
    use super::Asset;
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// The set of files the proxy serves.
#[derive(Clone, Debug)]
pub struct Assets {
    files: &'static [Asset],
}

impl Assets {
    /// What this binary was built with.
    pub fn embedded() -> Self {
        Self { files: embedded::EMBEDDED }
    }

    /// Whether `dist/` was present at build time.
    pub fn widget_built(&self) -> bool {
        embedded::WIDGET_BUILT
    }

    pub fn get(&self, path: &str) -> Option<&'static Asset> {
        self.files.iter().find(|a| a.path == path)
    }

    pub fn all(&self) -> &'static [Asset] {
        self.files
    }
}
