//! Configuration: the one typed [`Config`] the simulator runs from.
//!
//! It is built from three layers, later ones winning: [`Config::default`] (the public Mews demo
//! setup), an optional TOML file (`--config FILE`), then command-line flags. The file can also *add*
//! enterprises, client applications and access tokens (e.g. a portfolio token) to the demo ones.
//! Everything the admin API can change at run time (`PUT /admin/config`) starts from here.

use std::{net::SocketAddr, path::Path, str::FromStr, time::Duration};

use mews_wire::{demo, limits};
use serde::{Deserialize, Serialize};

/// Default request-body cap: 1 MiB. Bigger bodies get `413`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default webhook batch cap (Mews says "in the order of hundreds").
pub const DEFAULT_WEBHOOK_BATCH_CAP: usize = 100;
/// Default number of delivery attempts before a webhook request is discarded.
pub const DEFAULT_WEBHOOK_MAX_ATTEMPTS: u32 = 5;
/// Mews' documented receiver deadline.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Default seed: fixed, so ids and random faults are reproducible run to run.
pub const DEFAULT_SEED: u64 = 0x4D45_5753;

/// How long after an event its General Webhook request is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookLag {
    /// Within ~100 ms (tests and demos).
    Instant,
    /// Uniformly 2–5 minutes, drawn from the seeded generator (what Mews documents as typical).
    Realistic,
    /// Exactly this long.
    Fixed(Duration),
}

impl FromStr for WebhookLag {
    type Err = ConfigError;

    /// `instant`, `realistic`, or a number of seconds (fractions allowed, e.g. `2.5`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "instant" => Ok(Self::Instant),
            "realistic" => Ok(Self::Realistic),
            other => other
                .parse::<f64>()
                .ok()
                .filter(|secs| secs.is_finite() && *secs >= 0.0)
                .map(|secs| Self::Fixed(Duration::from_secs_f64(secs)))
                .ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "webhook lag `{other}`: expected instant, realistic or a number of seconds"
                    ))
                }),
        }
    }
}

impl std::fmt::Display for WebhookLag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Instant => f.write_str("instant"),
            Self::Realistic => f.write_str("realistic"),
            Self::Fixed(d) => write!(f, "{}", d.as_secs_f64()),
        }
    }
}

impl Serialize for WebhookLag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for WebhookLag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Secs(f64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
            Raw::Secs(n) => n.to_string().parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A property (Mews "enterprise").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseConfig {
    pub id: String,
    pub name: String,
}

/// An `AccessToken`: one connection of a client application to one enterprise, or to several for a
/// portfolio token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenConfig {
    /// Shown in logs instead of the token itself.
    pub name: String,
    pub token: String,
    pub enterprise_ids: Vec<String>,
}

/// A partner application, identified by its `ClientToken`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    pub name: String,
    pub client_token: String,
    /// This client's General Webhook URL; falls back to [`Config::webhook_url`].
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub access_tokens: Vec<AccessTokenConfig>,
}

/// Everything the simulator needs to run. `Default` is the demo setup: the public demo tokens and
/// both demo enterprises, the real 200/30 s rate limit, instant webhooks and no webhook URL.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where the binary listens (the library takes a bound listener instead).
    pub listen: SocketAddr,
    /// Requests allowed per `AccessToken` within [`Config::rate_limit_window`].
    pub rate_limit_requests: u32,
    /// The sliding rate-limit window.
    pub rate_limit_window: Duration,
    /// Delay between an event and its webhook request.
    pub webhook_lag: WebhookLag,
    /// General Webhook URL for every client that has none of its own.
    pub webhook_url: Option<String>,
    /// How long a receiver may take to answer (Mews: 5 s).
    pub webhook_timeout: Duration,
    /// Attempts per webhook request before it is discarded.
    pub webhook_max_attempts: u32,
    /// Delay before re-sending a failed webhook request. `None` = by lag mode: 1 s for
    /// `Instant`, 3 min for `Realistic`, the lag itself (at least 100 ms) for `Fixed`.
    pub webhook_retry_delay: Option<Duration>,
    /// Maximum events per webhook request.
    pub webhook_batch_cap: usize,
    /// Maximum Connector API request body, in bytes.
    pub max_body_bytes: usize,
    /// Seed for ids, realistic lags and fractional faults.
    pub seed: u64,
    pub enterprises: Vec<EnterpriseConfig>,
    pub clients: Vec<ClientConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            rate_limit_requests: limits::RATE_LIMIT_REQUESTS,
            rate_limit_window: Duration::from_secs(limits::RATE_LIMIT_WINDOW_SECS),
            webhook_lag: WebhookLag::Instant,
            webhook_url: None,
            webhook_timeout: DEFAULT_WEBHOOK_TIMEOUT,
            webhook_max_attempts: DEFAULT_WEBHOOK_MAX_ATTEMPTS,
            webhook_retry_delay: None,
            webhook_batch_cap: DEFAULT_WEBHOOK_BATCH_CAP,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            seed: DEFAULT_SEED,
            enterprises: demo_enterprises(),
            clients: demo_clients(),
        }
    }
}

/// The two public demo enterprises.
pub fn demo_enterprises() -> Vec<EnterpriseConfig> {
    vec![
        EnterpriseConfig { id: demo::GROSS_ID.into(), name: demo::GROSS_NAME.into() },
        EnterpriseConfig { id: demo::NET_ID.into(), name: demo::NET_NAME.into() },
    ]
}

/// The four public demo token sets, plus the getting-started pair (Net enterprise).
pub fn demo_clients() -> Vec<ClientConfig> {
    demo::TOKEN_SETS
        .iter()
        .map(|(name, client_token, gross, net)| {
            let mut access_tokens = vec![
                AccessTokenConfig {
                    name: format!("{name} / Gross"),
                    token: (*gross).into(),
                    enterprise_ids: vec![demo::GROSS_ID.into()],
                },
                AccessTokenConfig {
                    name: format!("{name} / Net"),
                    token: (*net).into(),
                    enterprise_ids: vec![demo::NET_ID.into()],
                },
            ];
            if *client_token == demo::GETTING_STARTED.0 {
                access_tokens.push(AccessTokenConfig {
                    name: format!("{name} / Net (getting started)"),
                    token: demo::GETTING_STARTED.1.into(),
                    enterprise_ids: vec![demo::NET_ID.into()],
                });
            }
            ClientConfig {
                name: (*name).into(),
                client_token: (*client_token).into(),
                webhook_url: None,
                access_tokens,
            }
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--help` was asked for; the payload is the usage text.
    #[error("{0}")]
    Help(String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot parse config file {path}: {source}")]
    Parse { path: String, source: Box<toml::de::Error> },
}

/// Command-line usage, printed by `--help`.
pub const USAGE: &str = "\
mews-sim: a local Mews Connector API simulator (customer messaging)

USAGE:
    mews-sim [--listen ADDR] [--webhook-url URL] [--webhook-lag instant|realistic|SECS]
             [--rate-limit N/SECS] [--config FILE] [--seed N]

OPTIONS:
    --listen ADDR          address to listen on (default 127.0.0.1:8090)
    --webhook-url URL      General Webhook URL for every client token without its own
    --webhook-lag LAG      instant (default), realistic (2-5 min) or a number of seconds
    --rate-limit N/SECS    requests per AccessToken per sliding window (default 200/30)
    --config FILE          TOML file (see README); flags override it
    --seed N               seed for ids, realistic lags and random faults
    -h, --help             this text
";

/// The TOML file: every field optional; enterprises and clients are added to the demo ones.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    /// `"N/SECS"`, e.g. `"200/30"`.
    pub rate_limit: Option<String>,
    pub webhook_lag: Option<WebhookLag>,
    pub webhook_url: Option<String>,
    pub webhook_timeout_secs: Option<f64>,
    pub webhook_max_attempts: Option<u32>,
    pub webhook_retry_delay_secs: Option<f64>,
    pub webhook_batch_cap: Option<usize>,
    pub max_body_bytes: Option<usize>,
    pub seed: Option<u64>,
    /// `false` drops the demo enterprises and tokens (default `true`).
    pub include_demo: Option<bool>,
    #[serde(default)]
    pub enterprises: Vec<EnterpriseConfig>,
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
}

/// Parses `N/SECS` (e.g. `200/30`).
pub fn parse_rate_limit(s: &str) -> Result<(u32, Duration), ConfigError> {
    let bad = || ConfigError::Invalid(format!("rate limit `{s}`: expected N/SECS, e.g. 200/30"));
    let (n, secs) = s.split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let secs: f64 = secs.trim().parse().map_err(|_| bad())?;
    if n == 0 || !secs.is_finite() || secs <= 0.0 {
        return Err(bad());
    }
    Ok((n, Duration::from_secs_f64(secs)))
}

fn secs(name: &str, v: f64) -> Result<Duration, ConfigError> {
    if v.is_finite() && v >= 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(ConfigError::Invalid(format!("{name} must be a non-negative number of seconds")))
    }
}

impl Config {
    /// Builds the configuration from command-line arguments (without the program name) and the
    /// TOML file named by `--config`, if any. Flags override the file.
    pub fn from_args_and_file<I, S>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        let mut flags: Vec<(String, String)> = Vec::new();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            if arg == "-h" || arg == "--help" {
                return Err(ConfigError::Help(USAGE.to_string()));
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            if !matches!(
                name.as_str(),
                "--listen" | "--webhook-url" | "--webhook-lag" | "--rate-limit" | "--config" | "--seed"
            ) {
                return Err(ConfigError::Invalid(format!("unknown argument `{arg}` (try --help)")));
            }
            let value = match inline {
                Some(v) => v,
                None => it.next().ok_or_else(|| ConfigError::Invalid(format!("{name} needs a value")))?,
            };
            flags.push((name, value));
        }

        let mut config = match flags.iter().rev().find(|(n, _)| n == "--config") {
            Some((_, path)) => Self::from_file(Path::new(path))?,
            None => Self::default(),
        };
        for (name, value) in flags {
            match name.as_str() {
                "--listen" => {
                    config.listen = value
                        .parse()
                        .map_err(|_| ConfigError::Invalid(format!("--listen `{value}`: expected HOST:PORT")))?
                }
                "--webhook-url" => config.webhook_url = Some(value),
                "--webhook-lag" => config.webhook_lag = value.parse()?,
                "--rate-limit" => (config.rate_limit_requests, config.rate_limit_window) = parse_rate_limit(&value)?,
                "--seed" => {
                    config.seed = value
                        .parse()
                        .map_err(|_| ConfigError::Invalid(format!("--seed `{value}`: expected an integer")))?
                }
                _ => {} // --config, handled above
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Reads a TOML file on top of the defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let file: FileConfig = toml::from_str(&text)
            .map_err(|source| ConfigError::Parse { path: path.display().to_string(), source: Box::new(source) })?;
        Self::default().with_file(file)
    }

    /// Applies a parsed file on top of `self`.
    pub fn with_file(mut self, file: FileConfig) -> Result<Self, ConfigError> {
        if file.include_demo == Some(false) {
            self.enterprises.clear();
            self.clients.clear();
        }
        if let Some(v) = file.listen {
            self.listen = v;
        }
        if let Some(v) = file.rate_limit {
            (self.rate_limit_requests, self.rate_limit_window) = parse_rate_limit(&v)?;
        }
        if let Some(v) = file.webhook_lag {
            self.webhook_lag = v;
        }
        if let Some(v) = file.webhook_url {
            self.webhook_url = Some(v);
        }
        if let Some(v) = file.webhook_timeout_secs {
            self.webhook_timeout = secs("webhook_timeout_secs", v)?;
        }
        if let Some(v) = file.webhook_max_attempts {
            self.webhook_max_attempts = v;
        }
        if let Some(v) = file.webhook_retry_delay_secs {
            self.webhook_retry_delay = Some(secs("webhook_retry_delay_secs", v)?);
        }
        if let Some(v) = file.webhook_batch_cap {
            self.webhook_batch_cap = v;
        }
        if let Some(v) = file.max_body_bytes {
            self.max_body_bytes = v;
        }
        if let Some(v) = file.seed {
            self.seed = v;
        }
        for e in file.enterprises {
            match self.enterprises.iter_mut().find(|x| x.id == e.id) {
                Some(existing) => *existing = e,
                None => self.enterprises.push(e),
            }
        }
        for c in file.clients {
            match self.clients.iter_mut().find(|x| x.client_token == c.client_token) {
                Some(existing) => {
                    existing.name = c.name;
                    if c.webhook_url.is_some() {
                        existing.webhook_url = c.webhook_url;
                    }
                    existing.access_tokens.extend(c.access_tokens);
                }
                None => self.clients.push(c),
            }
        }
        self.validate()?;
        Ok(self)
    }

    /// Checks internal consistency: tokens unique, enterprises known, caps positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.rate_limit_requests == 0 || self.rate_limit_window.is_zero() {
            return invalid("rate limit must be at least 1 request per non-zero window".into());
        }
        if self.webhook_max_attempts == 0 {
            return invalid("webhook_max_attempts must be at least 1".into());
        }
        if self.webhook_batch_cap == 0 {
            return invalid("webhook_batch_cap must be at least 1".into());
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.clients {
            if !seen.insert(&c.client_token) {
                return invalid(format!("client token of `{}` is used twice", c.name));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.clients {
            for t in &c.access_tokens {
                if !seen.insert(&t.token) {
                    return invalid(format!("access token `{}` is used twice", t.name));
                }
                if t.enterprise_ids.is_empty() {
                    return invalid(format!("access token `{}` covers no enterprise", t.name));
                }
                for e in &t.enterprise_ids {
                    if !self.enterprises.iter().any(|x| &x.id == e) {
                        return invalid(format!("access token `{}` names unknown enterprise `{e}`", t.name));
                    }
                }
            }
        }
        Ok(())
    }

    /// The retry delay actually used (see [`Config::webhook_retry_delay`]).
    pub fn effective_retry_delay(&self) -> Duration {
        retry_delay_for(self.webhook_retry_delay, self.webhook_lag)
    }
}

pub(crate) fn retry_delay_for(explicit: Option<Duration>, lag: WebhookLag) -> Duration {
    explicit.unwrap_or(match lag {
        WebhookLag::Instant => Duration::from_secs(1),
        WebhookLag::Realistic => Duration::from_secs(180),
        WebhookLag::Fixed(d) => d.max(Duration::from_millis(100)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_demo_setup() {
        let c = Config::default();
        assert_eq!(c.rate_limit_requests, 200);
        assert_eq!(c.rate_limit_window, Duration::from_secs(30));
        assert_eq!(c.webhook_lag, WebhookLag::Instant);
        assert_eq!(c.webhook_url, None);
        assert_eq!(c.enterprises.len(), 2);
        assert_eq!(c.clients.len(), 4);
        assert_eq!(c.clients.iter().map(|c| c.access_tokens.len()).sum::<usize>(), 9);
        c.validate().unwrap();
    }

    #[test]
    fn flags_are_parsed() {
        let c = Config::from_args_and_file([
            "--listen",
            "127.0.0.1:0",
            "--webhook-url=http://x/y?Token=s",
            "--webhook-lag",
            "2.5",
            "--rate-limit",
            "5/2",
            "--seed",
            "9",
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.webhook_url.as_deref(), Some("http://x/y?Token=s"));
        assert_eq!(c.webhook_lag, WebhookLag::Fixed(Duration::from_millis(2500)));
        assert_eq!((c.rate_limit_requests, c.rate_limit_window), (5, Duration::from_secs(2)));
        assert_eq!(c.seed, 9);
        assert!(matches!(Config::from_args_and_file(["--bogus"]), Err(ConfigError::Invalid(_))));
        assert!(matches!(Config::from_args_and_file(["--help"]), Err(ConfigError::Help(_))));
        assert!(Config::from_args_and_file(["--rate-limit", "0/5"]).is_err());
        assert_eq!("realistic".parse::<WebhookLag>().unwrap(), WebhookLag::Realistic);
    }

    #[test]
    fn file_adds_enterprises_and_a_portfolio_token() {
        let file: FileConfig = toml::from_str(
            r#"
            rate_limit = "10/1"
            webhook_lag = "realistic"
            [[enterprises]]
            id = "e3"
            name = "Third"
            [[clients]]
            name = "Portfolio app"
            client_token = "CT"
            webhook_url = "http://127.0.0.1:1/hook?Token=t"
            [[clients.access_tokens]]
            name = "all three"
            token = "AT"
            enterprise_ids = ["e3", "3fa5c4e9-1b2d-4e6f-8a90-0b1c2d3e4f50"]
            "#,
        )
        .unwrap();
        let c = Config::default().with_file(file).unwrap();
        assert_eq!(c.enterprises.len(), 3);
        assert_eq!(c.clients.len(), 5);
        assert_eq!(c.rate_limit_requests, 10);
        assert_eq!(c.webhook_lag, WebhookLag::Realistic);

        let bad: FileConfig = toml::from_str(
            r#"
            [[clients]]
            name = "x"
            client_token = "CT"
            [[clients.access_tokens]]
            name = "n"
            token = "AT"
            enterprise_ids = ["nope"]
            "#,
        )
        .unwrap();
        assert!(Config::default().with_file(bad).is_err());
    }
}
