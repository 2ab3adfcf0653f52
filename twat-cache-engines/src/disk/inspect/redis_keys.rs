//! Inspecting and clearing the caches on a Redis server (feature `redis`): every key
//! `twat-cache:<folder>:<function>:<namespace>:{<id>}`, found with `SCAN` (never `KEYS`), read
//! header-first (`GETRANGE`), removed with `UNLINK`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{
    CacheReport, CacheState, EntryReport, Freed, InspectError, NamespaceReport, StoreKind,
};
use crate::disk::record;
use crate::disk::redis_pattern::literal;
use crate::disk::redis_url::RedisUrl;

/// The server's caches, by folder and function; a server that does not answer is an error.
pub fn scan(url: &str) -> Result<Vec<CacheReport>, InspectError> {
    let (mut connection, server) = connect(url)?;
    let now = super::now();
    // (folder, function) → namespace → report
    let mut found: BTreeMap<(String, String), BTreeMap<String, NamespaceReport>> = BTreeMap::new();
    for_each_page(&mut connection, "twat-cache:*", &mut |connection, keys| {
        let entries: Vec<(&String, Parts)> = keys
            .iter()
            .filter_map(|k| Some((k, Parts::of(k)?)))
            .collect();
        let mut pipe = redis::pipe();
        for (key, _) in &entries {
            pipe.cmd("STRLEN").arg(*key);
            pipe.cmd("GETRANGE")
                .arg(*key)
                .arg(0)
                .arg(record::HEADER_LEN - 1);
        }
        let replies: Vec<(u64, Vec<u8>)> = pipe.query(connection)?;
        for ((_, parts), (bytes, header)) in entries.into_iter().zip(replies) {
            let namespaces = found.entry((parts.folder, parts.function)).or_default();
            let report = namespaces
                .entry(parts.namespace.clone())
                .or_insert_with(|| NamespaceReport {
                    id: parts.namespace,
                    ..NamespaceReport::default()
                });
            match record::peek(&header) {
                Some(header) => report.count(&header, bytes, now),
                None if bytes > 0 => report.damaged += 1,
                None => {} // expired or removed since the SCAN
            }
        }
        Ok(())
    })
    .map_err(|e| failed(&server, e))?;
    Ok(found
        .into_iter()
        .map(|((folder, function), namespaces)| {
            let mut namespaces: Vec<NamespaceReport> = namespaces.into_values().collect();
            // Redis keeps no "opened" marks: the namespace written last is taken as current.
            namespaces.sort_by_key(|n| std::cmp::Reverse(n.newest));
            if let Some(first) = namespaces.first_mut() {
                first.current = true;
            }
            CacheReport {
                folder,
                name: function.replace('.', "::"),
                store: StoreKind::Redis,
                path: PathBuf::from(format!("redis://{server}")),
                state: CacheState::Ok,
                namespaces,
                url: Some(RedisUrl::new(url)),
            }
        })
        .collect())
}

/// Up to `limit` entries of `cache`, current namespace first.
pub(super) fn entries(
    cache: &CacheReport,
    url: &str,
    limit: usize,
) -> Result<Vec<EntryReport>, InspectError> {
    let (mut connection, server) = connect(url)?;
    let mut shown = Vec::new();
    for namespace in &cache.namespaces {
        let pattern = format!("{}:{}:{{*}}", prefix(cache), literal(&namespace.id));
        for_each_page(&mut connection, &pattern, &mut |connection, keys| {
            for key in keys {
                if shown.len() >= limit {
                    break;
                }
                let stored: Option<Vec<u8>> = redis::cmd("GET").arg(key).query(connection)?;
                if let Some(entry) = stored.and_then(|s| {
                    let len = s.len() as u64;
                    super::describe(&s, len, &namespace.id)
                }) {
                    shown.push(entry);
                }
            }
            Ok(())
        })
        .map_err(|e| failed(&server, e))?;
    }
    Ok(shown)
}

/// Removes every key of `cache` (entries and locks, every namespace).
pub(super) fn clear(cache: &CacheReport, url: &str) -> Result<Freed, InspectError> {
    let (mut connection, server) = connect(url)?;
    let pattern = format!("{}:*", prefix(cache));
    for_each_page(&mut connection, &pattern, &mut |connection, keys| {
        let _: u64 = redis::cmd("UNLINK").arg(keys).query(connection)?;
        Ok(())
    })
    .map_err(|e| failed(&server, e))?;
    Ok(Freed::everything_of(cache))
}

/// `twat-cache:<folder>:<function>` of a cache found by [`scan`], as a `SCAN MATCH` pattern
/// that matches these names only (a folder may be named `*`).
fn prefix(cache: &CacheReport) -> String {
    format!(
        "twat-cache:{}:{}",
        literal(&cache.folder),
        literal(&crate::disk::paths::function_dir(&cache.name))
    )
}

/// The parts of an entry key; `None` for locks and keys of another layout.
struct Parts {
    folder: String,
    function: String,
    namespace: String,
}

impl Parts {
    fn of(key: &str) -> Option<Self> {
        let rest = key.strip_prefix("twat-cache:")?;
        let (head, id) = rest.rsplit_once(":{")?;
        if !id.ends_with('}') || id.len() != 65 {
            return None;
        }
        let mut parts = head.splitn(3, ':');
        let (folder, function, namespace) = (parts.next()?, parts.next()?, parts.next()?);
        if namespace.contains(':') {
            return None; // `…:<namespace>:lock:{id}`
        }
        Some(Self {
            folder: folder.into(),
            function: function.into(),
            namespace: namespace.into(),
        })
    }
}

fn connect(url: &str) -> Result<(redis::Connection, String), InspectError> {
    let client = redis::Client::open(url)
        .map_err(|e| InspectError::BadServer(format!("not a Redis URL ({e})")))?;
    let server = client.get_connection_info().addr().to_string();
    let connection = client
        .get_connection_with_timeout(std::time::Duration::from_secs(2))
        .map_err(|e| InspectError::BadServer(format!("Redis at {server} does not answer: {e}")))?;
    Ok((connection, server))
}

fn failed(server: &str, e: redis::RedisError) -> InspectError {
    InspectError::Failed(format!("Redis at {server}: {e}"))
}

/// Visits the keys matching `pattern`, a `SCAN` page at a time.
fn for_each_page(
    connection: &mut redis::Connection,
    pattern: &str,
    visit: &mut dyn FnMut(&mut redis::Connection, &[String]) -> redis::RedisResult<()>,
) -> redis::RedisResult<()> {
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .cursor_arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(connection)?;
        if !keys.is_empty() {
            visit(connection, &keys)?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

#[cfg(test)]
mod tests {
    use super::Parts;

    #[test]
    fn entry_keys_are_told_from_locks() {
        let id = "a".repeat(64);
        let entry = format!("twat-cache:geo:app.geocode:0123456789abcdef:{{{id}}}");
        let parts = Parts::of(&entry).unwrap();
        assert_eq!(
            (
                parts.folder.as_str(),
                parts.function.as_str(),
                parts.namespace.as_str()
            ),
            ("geo", "app.geocode", "0123456789abcdef")
        );
        let lock = format!("twat-cache:geo:app.geocode:0123456789abcdef:lock:{{{id}}}");
        assert!(Parts::of(&lock).is_none());
        assert!(Parts::of("twat-cache:geo:{x}").is_none());
    }
}
