//! Redis URLs where they can be seen. A URL may carry credentials (`redis://user:secret@host`,
//! `redis+unix:///run/redis.sock?pass=secret`), and they must never reach a log, an error or a
//! `Debug`: everything that shows a URL shows [`redacted`] instead.
#![cfg_attr(not(feature = "redis"), allow(dead_code))]

/// A server URL, credentials and all, kept for connecting; its `Debug` and `Display` show
/// only [`redacted`], so a struct holding one can derive `Debug` safely.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RedisUrl(String);

impl RedisUrl {
    pub(crate) fn new(url: &str) -> Self {
        Self(url.to_string())
    }

    /// The URL itself, to connect with (never to show).
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&redacted(&self.0), f)
    }
}

impl std::fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redacted(&self.0))
    }
}

/// `url` fit to be shown: `redis://<host:port>[/<db>]` (`rediss://` for TLS, `unix://<path>`
/// for a socket), with `***@` in place of any user name or password, or
/// `<invalid redis URL>`. Rebuilt from the parsed parts rather than cut out of the text, so no
/// spelling of a password (percent-encoded, in a query, holding `@` or `/`) can survive.
pub(crate) fn redacted(url: &str) -> String {
    #[cfg(feature = "redis")]
    if let Ok(client) = redis::Client::open(url) {
        let info = client.get_connection_info();
        let settings = info.redis_settings();
        let scheme = match info.addr() {
            redis::ConnectionAddr::TcpTls { .. } => "rediss",
            redis::ConnectionAddr::Unix(_) => "unix",
            _ => "redis", // TCP (the enum is non-exhaustive)
        };
        let credentials = if settings.username().is_some() || settings.password().is_some() {
            "***@"
        } else {
            ""
        };
        let db = match settings.db() {
            0 => String::new(),
            db => format!("/{db}"),
        };
        return format!("{scheme}://{credentials}{}{db}", info.addr());
    }
    let _ = url;
    "<invalid redis URL>".into()
}

#[cfg(all(test, feature = "redis"))]
mod tests {
    use super::{RedisUrl, redacted};

    #[test]
    fn credentials_never_show_however_they_are_spelled() {
        for (url, shown) in [
            ("redis://127.0.0.1:6390", "redis://127.0.0.1:6390"),
            (
                "redis://:secret@127.0.0.1:6390/2",
                "redis://***@127.0.0.1:6390/2",
            ),
            ("redis://admin:secret@h:1", "redis://***@h:1"),
            ("redis://:se%40cr%2Fet@h:1", "redis://***@h:1"),
            (
                "redis+unix:///run/r.sock?pass=secret",
                "unix://***@/run/r.sock",
            ),
            ("redis://:secret@h:notaport", "<invalid redis URL>"),
            ("secret", "<invalid redis URL>"),
        ] {
            assert_eq!(redacted(url), shown, "{url}");
        }
        let url = RedisUrl::new("redis://:secret@h:1");
        assert_eq!(
            format!("{url:?} {url}"),
            r#""redis://***@h:1" redis://***@h:1"#
        );
        assert_eq!(url.secret(), "redis://:secret@h:1");
    }
}
