//! Proxy configuration: one typed struct, read from a TOML file and overridden by environment
//! variables. Secrets (Mews tokens, the session key, the webhook token) are never in the file
//! itself: the file names an environment variable or a file that holds them, and they are kept as
//! [`SecretString`] so they never reach `Debug` output or logs.
//!
//! See `proxy/lobby.example.toml` for a documented example and the README for the reference.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use jiff::{Timestamp, civil::Time, tz::TimeZone};
use secrecy::SecretString;
use serde::Deserialize;

use crate::{
    client_ip::{ClientAddressConfig, ForwardedHeader},
    error::ConfigError,
    guard::GuestLimits,
    server::ServerLimits,
    session::{PreviousSecret, SessionSettings},
};

/// The shortest webhook token accepted: it is the only credential of the webhook endpoint.
pub const MIN_WEBHOOK_TOKEN_CHARS: usize = 24;

/// Everything the proxy needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where `lobby` listens (`LOBBY_LISTEN`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// `json` or `pretty` logs (`LOBBY_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Key that signs guest session credentials (`LOBBY_SESSION_SECRET`, ≥ 32 bytes). Every
    /// instance must share it so a guest's session works on any of them and after restarts.
    pub session_secret: SecretString,
    /// Shared secret Mews puts in the webhook URL as `?Token=` (`LOBBY_WEBHOOK_TOKEN`).
    pub webhook_token: SecretString,
    /// `Client` value sent to Mews (a unique name + version, as certification asks).
    pub client_name: String,
    /// Timeout of one upstream call.
    pub upstream_timeout: Duration,
    /// Share of the Mews budget (200 requests / 30 s per AccessToken) Lobby allows itself.
    pub budget_share: f64,
    /// The embedded database file that makes sends and starts exactly-once across restarts
    /// (`LOBBY_STORE_PATH`; default `lobby-data/lobby.redb`, created on first start). One
    /// `lobby` process per file: a second one on the same file refuses to start.
    pub store_path: PathBuf,
    /// Cluster mode (`redis_url` or `LOBBY_REDIS_URL`): the store, the Mews budget of each token,
    /// the poller lease and the fan-out of new messages live in this Redis, shared by every
    /// instance; `store_path` is then unused. `None`: one instance on its embedded store.
    pub redis: Option<RedisConfig>,
    /// Per-session and per-IP limits on guest writes.
    pub guest_limits: GuestLimits,
    /// The properties (hotels) this proxy serves, by id.
    pub properties: BTreeMap<String, PropertyConfig>,
    /// Connection and time limits (`[server]`).
    pub server: ServerLimits,
    /// `trusted_proxies` and `client_ip_header`: how the client's address is found.
    pub client_addresses: ClientAddressConfig,
    /// Session lifetime and previous secrets (`[session]`).
    pub session: SessionSettings,
}

/// Where the cluster's shared state lives.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://[:password@]host:port/[db]`; a secret (it may carry a password).
    pub url: SecretString,
    /// Prefix of every key and channel (`redis_prefix`, default `lobby:`), so several
    /// deployments can share one Redis.
    pub prefix: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// One hotel.
#[derive(Clone, Debug)]
pub struct PropertyConfig {
    pub id: String,
    /// Display name shown in the widget.
    pub name: String,
    /// Mews platform address, e.g. `https://api.mews.com`.
    pub mews_url: String,
    pub client_token: SecretString,
    pub access_token: SecretString,
    /// The Mews enterprise id, used to route `MessageAdded` webhooks to this property.
    pub enterprise_id: Option<String>,
    /// Origins allowed to embed the widget (CORS), e.g. `https://www.grand-hotel.example`.
    pub allowed_origins: Vec<String>,
    pub greeting: String,
    pub locale: String,
    pub color: String,
    pub away_message: String,
    pub reply_minutes: u32,
    /// The hotel's own contact, shown by the widget when the chat cannot be reached (`""`: none).
    pub phone: String,
    pub email: String,
    pub hours: OpeningHours,
    /// "Find my booking" (`booking_lookup`, `enterprise_timezone`).
    pub booking: BookingSettings,
}

/// "Find my booking" for one property (`crate::identify`).
#[derive(Clone, Debug)]
pub struct BookingSettings {
    /// `booking_lookup = false` turns the feature off (answers `404`).
    pub enabled: bool,
    /// The enterprise's time zone, for stay dates (`enterprise_timezone`; default `timezone`,
    /// else UTC): none of the lookups gives it.
    pub timezone: TimeZone,
}

impl Default for BookingSettings {
    fn default() -> Self {
        Self { enabled: true, timezone: TimeZone::UTC }
    }
}

/// Opening hours in the hotel's time zone. A day without an entry is closed; no hours at all
/// means always open (a front desk staffed around the clock).
#[derive(Clone, Debug)]
pub struct OpeningHours {
    pub tz: TimeZone,
    /// Index 0 = Monday.
    pub days: [Option<(Time, Time)>; 7],
    pub always_open: bool,
}

impl OpeningHours {
    pub fn always() -> Self {
        Self { tz: TimeZone::UTC, days: [None; 7], always_open: true }
    }

    pub fn is_open(&self, now: Timestamp) -> bool {
        if self.always_open {
            return true;
        }
        let local = now.to_zoned(self.tz.clone());
        let day = local.weekday().to_monday_zero_offset() as usize;
        match self.days[day] {
            Some((from, to)) => {
                let t = local.time();
                if from <= to { from <= t && t < to } else { t >= from || t < to }
            }
            None => false,
        }
    }
}

// ---- the file format ------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    log_format: Option<LogFormat>,
    session_secret: Option<SecretSource>,
    webhook_token: Option<SecretSource>,
    client_name: Option<String>,
    upstream_timeout_secs: Option<u64>,
    budget_share: Option<f64>,
    store_path: Option<PathBuf>,
    redis_url: Option<PlainOrSecret>,
    redis_prefix: Option<String>,
    #[serde(default)]
    guest_limits: GuestLimits,
    #[serde(default)]
    properties: BTreeMap<String, FileProperty>,
    #[serde(default)]
    server: ServerLimits,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default)]
    client_ip_header: ForwardedHeader,
    #[serde(default)]
    session: FileSession,
}

/// `[session]`: lifetime and the previous secrets still accepted while rotating.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSession {
    lifetime_days: Option<u32>,
    #[serde(default)]
    previous: Vec<FilePreviousSecret>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePreviousSecret {
    secret: SecretSource,
    /// RFC 3339, e.g. `2027-01-31T00:00:00Z`.
    accept_until: Timestamp,
}

/// A value given in place (`"redis://127.0.0.1:6379/"`) or, when it holds a password, as a
/// secret source.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum PlainOrSecret {
    Plain(String),
    Secret(SecretSource),
}

impl PlainOrSecret {
    fn read(&self, what: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<SecretString, ConfigError> {
        match self {
            Self::Plain(v) => Ok(SecretString::from(v.clone())),
            Self::Secret(s) => s.read(what, env),
        }
    }
}

/// Where a secret comes from: `{ env = "NAME" }` or `{ file = "/run/secrets/x" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretSource {
    env: Option<String>,
    file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProperty {
    name: String,
    mews_url: String,
    client_token: SecretSource,
    access_token: SecretSource,
    enterprise_id: Option<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    greeting: Option<String>,
    locale: Option<String>,
    color: Option<String>,
    away_message: Option<String>,
    reply_minutes: Option<u32>,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    timezone: Option<String>,
    /// "Find my booking" on (default) or off.
    booking_lookup: Option<bool>,
    /// IANA zone of the Mews enterprise, for stay dates (default: `timezone`, else UTC).
    enterprise_timezone: Option<String>,
    /// `mon = "08:00-20:00"`, … ; `"closed"` or absent for closed days; no table = always open.
    hours: Option<BTreeMap<String, String>>,
}

impl SecretSource {
    fn read(&self, what: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<SecretString, ConfigError> {
        let value = match (&self.env, &self.file) {
            (Some(var), None) => env(var)
                .ok_or_else(|| ConfigError::Invalid(format!("{what}: environment variable {var} is not set")))?,
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| ConfigError::Invalid(format!("{what}: cannot read {path}: {e}")))?
                .trim()
                .to_owned(),
            _ => {
                return Err(ConfigError::Invalid(format!("{what}: give exactly one of `env` or `file`")));
            }
        };
        if value.is_empty() {
            return Err(ConfigError::Invalid(format!("{what} is empty")));
        }
        Ok(SecretString::from(value))
    }
}

impl Config {
    /// Reads `LOBBY_CONFIG` (a TOML file) if set, then applies `LOBBY_*` overrides from the
    /// process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let env = |k: &str| std::env::var(k).ok();
        let text = match env("LOBBY_CONFIG") {
            Some(path) => Some(
                std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid(format!("cannot read {path}: {e}")))?,
            ),
            None => None,
        };
        Self::parse(text.as_deref(), &env)
    }

    /// Reads a config file (tests and tools).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Invalid(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(Some(&text), &|k| std::env::var(k).ok())
    }

    /// Parses a TOML document with an environment lookup (injectable for tests).
    pub fn parse(toml_text: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file: FileConfig = match toml_text {
            Some(t) => toml::from_str(t).map_err(|e| ConfigError::Invalid(e.to_string()))?,
            None => FileConfig::default(),
        };
        let listen = match env("LOBBY_LISTEN") {
            Some(v) => v.parse().map_err(|e| ConfigError::Invalid(format!("LOBBY_LISTEN: {e}")))?,
            None => file.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        };
        let log_format = match env("LOBBY_LOG_FORMAT").as_deref() {
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => {
                return Err(ConfigError::Invalid(format!("LOBBY_LOG_FORMAT: `{other}` is not json or pretty")));
            }
            None => file.log_format.unwrap_or(LogFormat::Pretty),
        };
        let secret = |var: &str, src: &Option<SecretSource>, what: &str| -> Result<SecretString, ConfigError> {
            match (env(var), src) {
                (Some(v), _) if !v.is_empty() => Ok(SecretString::from(v)),
                (_, Some(src)) => src.read(what, env),
                _ => Err(ConfigError::Invalid(format!("{what} is required: set {var}"))),
            }
        };
        let session_secret = secret("LOBBY_SESSION_SECRET", &file.session_secret, "session_secret")?;
        {
            use secrecy::ExposeSecret;
            if session_secret.expose_secret().len() < 32 {
                return Err(ConfigError::Invalid("session_secret must be at least 32 bytes".into()));
            }
        }
        let webhook_token = secret("LOBBY_WEBHOOK_TOKEN", &file.webhook_token, "webhook_token")?;
        {
            use secrecy::ExposeSecret;
            if webhook_token.expose_secret().chars().count() < MIN_WEBHOOK_TOKEN_CHARS {
                return Err(ConfigError::Invalid(format!(
                    "webhook_token must be at least {MIN_WEBHOOK_TOKEN_CHARS} characters (e.g. `openssl rand -hex 24`)"
                )));
            }
        }
        file.server.validate().map_err(ConfigError::Invalid)?;
        file.guest_limits.validate().map_err(ConfigError::Invalid)?;
        let client_addresses = ClientAddressConfig {
            trusted_proxies: ClientAddressConfig::parse_trusted(&file.trusted_proxies).map_err(ConfigError::Invalid)?,
            header: file.client_ip_header,
        };
        let lifetime_days = file.session.lifetime_days.unwrap_or(90);
        if lifetime_days == 0 {
            return Err(ConfigError::Invalid("session.lifetime_days must be at least 1".into()));
        }
        let mut previous = Vec::new();
        for (i, p) in file.session.previous.iter().enumerate() {
            let secret = p.secret.read(&format!("session.previous[{i}].secret"), env)?;
            previous.push(PreviousSecret { secret, accept_until: p.accept_until });
        }
        let session =
            SessionSettings { lifetime: jiff::SignedDuration::from_hours(24 * i64::from(lifetime_days)), previous };
        let redis = match env("LOBBY_REDIS_URL").filter(|v| !v.is_empty()) {
            Some(v) => Some(SecretString::from(v)),
            None => file.redis_url.as_ref().map(|s| s.read("redis_url", env)).transpose()?,
        }
        .map(|url| RedisConfig { url, prefix: file.redis_prefix.clone().unwrap_or_else(|| "lobby:".into()) });
        if let Some(r) = &redis {
            use secrecy::ExposeSecret;
            let u = r.url.expose_secret();
            if !(u.starts_with("redis://") || u.starts_with("rediss://") || u.starts_with("redis+unix://")) {
                return Err(ConfigError::Invalid(
                    "redis_url must start with redis://, rediss:// or redis+unix://".into(),
                ));
            }
        }
        let budget_share = file.budget_share.unwrap_or(0.8);
        if !(0.05..=1.0).contains(&budget_share) {
            return Err(ConfigError::Invalid("budget_share must be between 0.05 and 1.0".into()));
        }
        let mut properties = BTreeMap::new();
        for (id, p) in file.properties {
            properties.insert(id.clone(), p.into_config(id, env)?);
        }
        Ok(Self {
            listen,
            log_format,
            session_secret,
            webhook_token,
            client_name: file.client_name.unwrap_or_else(|| format!("Lobby {}", env!("CARGO_PKG_VERSION"))),
            upstream_timeout: Duration::from_secs(file.upstream_timeout_secs.unwrap_or(30)),
            budget_share,
            store_path: env("LOBBY_STORE_PATH")
                .map(PathBuf::from)
                .or(file.store_path)
                .unwrap_or_else(|| PathBuf::from("lobby-data/lobby.redb")),
            redis,
            guest_limits: file.guest_limits,
            properties,
            server: file.server,
            client_addresses,
            session,
        })
    }
}

fn valid_property_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_hours(tz: Option<String>, hours: Option<BTreeMap<String, String>>) -> Result<OpeningHours, ConfigError> {
    let Some(hours) = hours else {
        return Ok(OpeningHours::always());
    };
    let tz_name = tz.unwrap_or_else(|| "UTC".into());
    let tz = TimeZone::get(&tz_name).map_err(|e| ConfigError::Invalid(format!("timezone `{tz_name}`: {e}")))?;
    let mut days = [None; 7];
    for (day, span) in hours {
        let idx = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .position(|d| *d == day)
            .ok_or_else(|| ConfigError::Invalid(format!("hours: unknown day `{day}` (use mon..sun)")))?;
        if span == "closed" {
            continue;
        }
        let (a, b) = span
            .split_once('-')
            .ok_or_else(|| ConfigError::Invalid(format!("hours.{day}: `{span}` is not HH:MM-HH:MM")))?;
        let parse =
            |s: &str| s.trim().parse::<Time>().map_err(|e| ConfigError::Invalid(format!("hours.{day}: `{s}`: {e}")));
        days[idx] = Some((parse(a)?, parse(b)?));
    }
    Ok(OpeningHours { tz, days, always_open: false })
}

impl FileProperty {
    fn into_config(self, id: String, env: &dyn Fn(&str) -> Option<String>) -> Result<PropertyConfig, ConfigError> {
        if !valid_property_id(&id) {
            return Err(ConfigError::Invalid(format!("property id `{id}`: use lowercase letters, digits and '-'")));
        }
        let color = self.color.unwrap_or_else(|| "#1f6f5c".into());
        if !valid_color(&color) {
            return Err(ConfigError::Invalid(format!("properties.{id}.color: `{color}` is not #rrggbb")));
        }
        let mews_url = self.mews_url.trim_end_matches('/').to_owned();
        if !(mews_url.starts_with("https://") || mews_url.starts_with("http://")) {
            return Err(ConfigError::Invalid(format!("properties.{id}.mews_url must be an http(s) URL")));
        }
        for o in &self.allowed_origins {
            if o.ends_with('/') || !(o.starts_with("https://") || o.starts_with("http://")) {
                return Err(ConfigError::Invalid(format!(
                    "properties.{id}.allowed_origins: `{o}` is not an origin like https://www.hotel.example"
                )));
            }
        }
        Ok(PropertyConfig {
            client_token: self.client_token.read(&format!("properties.{id}.client_token"), env)?,
            access_token: self.access_token.read(&format!("properties.{id}.access_token"), env)?,
            greeting: self.greeting.unwrap_or_else(|| format!("Hello! Ask {} anything.", self.name)),
            locale: self.locale.unwrap_or_else(|| "en".into()),
            away_message: self.away_message.unwrap_or_else(|| {
                "We are away right now. Leave a message and we will reply as soon as we are back.".into()
            }),
            reply_minutes: self.reply_minutes.unwrap_or(10),
            phone: self.phone,
            email: self.email,
            booking: {
                let name = self.enterprise_timezone.or_else(|| self.timezone.clone()).unwrap_or_else(|| "UTC".into());
                let timezone = TimeZone::get(&name)
                    .map_err(|e| ConfigError::Invalid(format!("properties.{id}.enterprise_timezone `{name}`: {e}")))?;
                BookingSettings { enabled: self.booking_lookup.unwrap_or(true), timezone }
            },
            hours: parse_hours(self.timezone, self.hours)?,
            name: self.name,
            mews_url,
            enterprise_id: self.enterprise_id,
            allowed_origins: self.allowed_origins,
            color,
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "LOBBY_SESSION_SECRET" => Some("x".repeat(40)),
            "LOBBY_WEBHOOK_TOKEN" => Some("hook-".repeat(5)),
            "GH_CLIENT" => Some("client".into()),
            "GH_ACCESS" => Some("access".into()),
            _ => None,
        }
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../lobby.example.toml");
        let env = |k: &str| env(k).or_else(|| k.ends_with("_TOKEN").then(|| "t".repeat(32)));
        let c = Config::parse(Some(text), &env).expect("example config parses");
        assert!(!c.properties.is_empty());
        assert_eq!(c.server, ServerLimits::default(), "the example shows the defaults");
        assert_eq!(c.client_addresses.trusted_proxies.len(), 2);
    }

    #[test]
    fn a_short_webhook_token_or_a_bad_proxy_address_is_a_config_error() {
        let short = |k: &str| if k == "LOBBY_WEBHOOK_TOKEN" { Some("x".repeat(23)) } else { env(k) };
        let err = Config::parse(None, &short).unwrap_err().to_string();
        assert!(err.contains("webhook_token must be at least 24"), "{err}");
        let err = Config::parse(Some("trusted_proxies = ['10.0.0.0/33']"), &env).unwrap_err().to_string();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        let err = Config::parse(Some("[server]\nrequest_timeout_secs = 0"), &env).unwrap_err().to_string();
        assert!(err.contains("request_timeout_secs"), "{err}");
    }

    #[test]
    fn session_rotation_and_lifetime_are_read() {
        let text = r#"
            trusted_proxies = ["10.1.2.3", "2001:db8::/48"]
            client_ip_header = "forwarded"
            [session]
            lifetime_days = 7
            [[session.previous]]
            secret = { env = "GH_ACCESS" }
            accept_until = "2027-01-31T00:00:00Z"
        "#;
        let c = Config::parse(Some(text), &env).unwrap();
        assert_eq!(c.session.lifetime, jiff::SignedDuration::from_hours(24 * 7));
        assert_eq!(c.session.previous[0].accept_until, "2027-01-31T00:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(c.client_addresses.header, ForwardedHeader::Forwarded);
        assert_eq!(c.client_addresses.trusted_proxies[0].to_string(), "10.1.2.3/32");
    }

    #[test]
    fn tokens_come_from_env_and_never_debug_print() {
        let text = r#"
            [properties.grand-hotel]
            name = "Grand Hotel"
            mews_url = "https://api.mews-demo.com/"
            client_token = { env = "GH_CLIENT" }
            access_token = { env = "GH_ACCESS" }
            allowed_origins = ["https://grand.example"]
        "#;
        let c = Config::parse(Some(text), &env).unwrap();
        let p = &c.properties["grand-hotel"];
        assert_eq!(p.mews_url, "https://api.mews-demo.com");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("\"access\"") && !dbg.contains("\"client\""), "{dbg}");
        assert!(!dbg.contains(&"x".repeat(40)));
    }

    #[test]
    fn missing_token_env_is_a_clear_error() {
        let text = r#"
            [properties.grand-hotel]
            name = "Grand Hotel"
            mews_url = "https://api.mews-demo.com"
            client_token = { env = "NOPE" }
            access_token = { env = "GH_ACCESS" }
        "#;
        let err = Config::parse(Some(text), &env).unwrap_err().to_string();
        assert!(err.contains("NOPE"), "{err}");
    }

    #[test]
    fn bad_origin_and_colour_are_rejected() {
        let base = |extra: &str| {
            format!(
                "[properties.h]\nname='H'\nmews_url='https://x'\nclient_token={{env='GH_CLIENT'}}\naccess_token={{env='GH_ACCESS'}}\n{extra}"
            )
        };
        assert!(Config::parse(Some(&base("allowed_origins=['https://a.example/']")), &env).is_err());
        assert!(Config::parse(Some(&base("color='red'")), &env).is_err());
        assert!(Config::parse(Some(&base("")), &env).is_ok());
    }

    #[test]
    fn opening_hours_follow_the_hotel_time_zone() {
        let mut h = BTreeMap::new();
        h.insert("mon".to_string(), "08:00-20:00".to_string());
        let hours = parse_hours(Some("Europe/Prague".into()), Some(h)).unwrap();
        // Monday 2026-11-23 07:30 UTC = 08:30 in Prague (CET, UTC+1).
        assert!(hours.is_open("2026-11-23T07:30:00Z".parse().unwrap()));
        assert!(!hours.is_open("2026-11-23T06:30:00Z".parse().unwrap()));
        // Tuesday has no entry: closed.
        assert!(!hours.is_open("2026-11-24T10:00:00Z".parse().unwrap()));
    }
}
