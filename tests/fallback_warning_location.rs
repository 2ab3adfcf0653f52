//! The fallback warning names where the cache storage is in a field called `location` (a
//! Redis tier's is a URL, not a folder), and a Redis password never appears in it (issue 24,
//! item 10). No server is needed: the cache points at a port nothing listens on.
#![deny(warnings)]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use twat_cache::RedisCache;

const PASSWORD: &str = "pw-Lq4vT9-never-shown";

#[test]
fn the_fallback_warning_names_a_redis_tier_by_location_without_its_password() {
    // Port 1 on loopback: refused at once, so the cache falls back and warns.
    let url = format!("redis://user:{PASSWORD}@127.0.0.1:1");
    let ((), events) = events_during(|| {
        let cache: RedisCache<u64> =
            RedisCache::builder(&url, "twat-cache:geo:app.geocode:0123456789abcdef")
                .timeout(Duration::from_millis(200))
                .build();
        cache.insert(&1u64, &1);
        assert_eq!(cache.get(&1u64), Some(1), "answers from its fallback");
        assert!(cache.is_fallback());
    });
    let warning = events
        .iter()
        .find(|e| e.contains("failed"))
        .unwrap_or_else(|| panic!("no fallback warning among {events:?}"));
    assert!(
        warning.contains("location=redis://127.0.0.1:1/"),
        "the warning names the Redis tier as its location: {warning}"
    );
    assert!(
        !warning.contains("folder="),
        "a URL is not a folder: {warning}"
    );
    assert!(
        !warning.contains(PASSWORD),
        "the warning shows the password: {warning}"
    );
}

/// The events emitted on this thread while `f` runs, as text.
fn events_during<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let out = tracing::subscriber::with_default(Recorder(events.clone()), f);
    let events = events.lock().unwrap().clone();
    (out, events)
}

/// A subscriber that writes every event's fields down (`name=value `).
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
