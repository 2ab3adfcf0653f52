//! The Redis backend (feature `redis`): one Redis key per entry, shared by every process and
//! machine that reaches the server.
//!
//! ```text
//! twat-cache:<folder>:<function>:<namespace>:{<entry id, 64 hex>}        the entry's record
//! twat-cache:<folder>:<function>:<namespace>:lock:{<entry id, 64 hex>}   its computation lock
//! ```
//!
//! The `{…}` hash tag puts an entry and its lock in one Redis Cluster slot, so every script
//! here touches one slot. Values are the same checked records as on disk (`record.rs`): a
//! foreign, damaged or colliding value reads as a miss. A record's deadline becomes the key's
//! `PX`, so Redis drops expired entries itself; size bounds are Redis's own `maxmemory` policy
//! (`allkeys-lru` suits a cache).
//!
//! Calls use a small pool of plain connections with connect, read and write timeouts, so no
//! call waits on a dead server longer than [`RedisLocation::timeout`]; a server that does not
//! answer is [`StoreError::Unavailable`], which takes the cache off Redis until a retry
//! succeeds. Errors name the server by address only: a URL's credentials never reach a log.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::backend::{Backend, EntryId, EntryLock, LockOutcome, PruneReport, PruneRequest, Stored};
use super::error::StoreError;
use super::file_store::{FileLocation, FileStore};
use super::hex;
use super::paths::{FunctionStore, function_dir, namespace_dir};
use super::record;
use super::redis_url::redacted;

/// The server URL unless `TWAT_CACHE_REDIS_URL` says otherwise.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// How long a call may wait for the server unless the location says otherwise.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// Connections kept for reuse.
const POOL: usize = 8;

/// How long a computation lock lives without its holder: a process that dies while computing
/// delays the others by at most this much.
pub const REDIS_LOCK_TTL: Duration = Duration::from_secs(30);

/// Where a [`RedisStore`] keeps one function's entries.
///
/// ```
/// use std::path::PathBuf;
/// use twat_cache::disk::paths::FunctionStore;
/// use twat_cache::disk::RedisStore;
///
/// let at = RedisStore::location_for(PathBuf::from("/c/geo"), "app::geocode", "version:2");
/// assert!(at.prefix.starts_with("twat-cache:geo:app.geocode:"));
/// ```
#[derive(Clone)]
pub struct RedisLocation {
    /// The server, e.g. `redis://127.0.0.1:6379` (credentials allowed; never logged).
    pub url: String,
    /// `twat-cache:<folder>:<function>:<namespace>`.
    pub prefix: String,
    /// The most a call waits for the server.
    pub timeout: Duration,
    /// How the location is named in messages: `redis://<host:port>/<prefix>`.
    pub display: PathBuf,
}

impl RedisLocation {
    /// `prefix` on the server at `url`.
    pub fn new(url: &str, prefix: String) -> Self {
        let server = redis::Client::open(url)
            .map(|c| c.get_connection_info().addr().to_string())
            .unwrap_or_else(|_| "<invalid redis URL>".into());
        Self {
            url: url.to_string(),
            display: PathBuf::from(format!("redis://{server}/{prefix}")),
            prefix,
            timeout: DEFAULT_REDIS_TIMEOUT,
        }
    }
}

/// The URL redacted (see `redis_url.rs`): a `Debug` must not show a password.
impl std::fmt::Debug for RedisLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLocation")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("display", &self.display)
            .finish()
    }
}

impl FunctionStore for RedisStore {
    /// `twat-cache:<folder>:<function>:<namespace>` on the server named by
    /// `TWAT_CACHE_REDIS_URL` (default [`DEFAULT_REDIS_URL`]).
    fn location_for(folder: PathBuf, function: &str, namespace: &str) -> Self::Location {
        let url =
            std::env::var("TWAT_CACHE_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_string());
        let folder = folder
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(
            "twat-cache:{folder}:{}:{}",
            function_dir(function),
            namespace_dir(namespace)
        );
        RedisLocation::new(&url, prefix)
    }

    /// The files `#[ucache]` keeps its disk tier in (`<folder>/<function>/<namespace>/`):
    /// while Redis is away, this machine's processes share entries there.
    fn local_fallback(folder: PathBuf, function: &str, namespace: &str) -> Option<FileLocation> {
        Some(FileStore::location_for(folder, function, namespace))
    }
}

/// Entries in Redis; use it as the second tier of `#[ucache(backend = "redis")]` or as
/// `DiskCache<RedisStore, V>`.
pub struct RedisStore {
    client: redis::Client,
    /// Shared with the lock releases, which run when a computation's lock is dropped.
    pool: Arc<Mutex<Vec<redis::Connection>>>,
    location: RedisLocation,
    /// `host:port`, for messages.
    server: String,
}

/// Stores a record, with the key's expiry from the record's deadline; returns the length of
/// the value it replaced (0: none).
const PUT: &str = r"
local old = redis.call('STRLEN', KEYS[1])
if ARGV[2] == '0' then redis.call('SET', KEYS[1], ARGV[1])
else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return old";

/// The value, if it is at most `ARGV[1]` bytes long; its length if longer (it never leaves
/// the server); nil if there is none. One round trip, checked and read atomically.
const GET_BOUNDED: &str = r"
local len = redis.call('STRLEN', KEYS[1])
if len > tonumber(ARGV[1]) then return len end
return redis.call('GET', KEYS[1])";

/// Stores `ARGV[2]` only if the value is still `ARGV[1]`.
const REPLACE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '0' then redis.call('SET', KEYS[1], ARGV[2])
else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1";

/// Removes a key; returns the length of what it removed (0: nothing).
const REMOVE: &str = r"
local old = redis.call('STRLEN', KEYS[1])
if old > 0 then redis.call('UNLINK', KEYS[1]) end
return old";

/// Deletes a lock only if it still holds our token.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

impl RedisStore {
    fn key(&self, id: &EntryId) -> String {
        format!("{}:{{{}}}", self.location.prefix, hex(id))
    }

    fn lock_key(&self, id: &EntryId) -> String {
        format!("{}:lock:{{{}}}", self.location.prefix, hex(id))
    }

    /// Runs `op` on a pooled connection (a new one if none is free); a connection that failed
    /// is not returned to the pool.
    fn with<T>(
        &self,
        op: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        #[cfg(feature = "fault-injection")]
        if let Err(e) = crate::fault::check(crate::fault::Op::Redis, &self.location.display) {
            // An injected fault is a server that stopped answering.
            return Err(StoreError::Unavailable {
                server: self.server.clone(),
                reason: e.to_string(),
            });
        }
        let pooled = self.pool.lock().pop();
        let mut connection = match pooled {
            Some(c) => c,
            None => self.connect()?,
        };
        match op(&mut connection) {
            Ok(value) => {
                let mut pool = self.pool.lock();
                if pool.len() < POOL {
                    pool.push(connection);
                }
                Ok(value)
            }
            Err(e) => {
                let error = self.error(e);
                if error.is_unavailable() {
                    // The other pooled connections went with the server (a restart, a
                    // network break): drop them all, or each would fail once more on return.
                    self.pool.lock().clear();
                }
                Err(error)
            }
        }
    }

    fn connect(&self) -> Result<redis::Connection, StoreError> {
        let timeout = Some(self.location.timeout);
        let connection = self
            .client
            .get_connection_with_timeout(self.location.timeout)
            .map_err(|e| self.error(e))?;
        connection
            .set_read_timeout(timeout)
            .and_then(|()| connection.set_write_timeout(timeout))
            .map_err(|e| self.error(e))?;
        Ok(connection)
    }

    /// A Redis error as a store error: a server that does not answer is `Unavailable`.
    fn error(&self, e: redis::RedisError) -> StoreError {
        let unavailable = e.is_io_error()
            || e.is_timeout()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.is_unrecoverable_error();
        // The error's text never holds the URL; the server is named by address only.
        let reason = e.to_string();
        if unavailable {
            StoreError::Unavailable {
                server: self.server.clone(),
                reason,
            }
        } else {
            StoreError::Redis {
                server: self.server.clone(),
                reason,
            }
        }
    }

    /// Milliseconds until the record's deadline, for `PX` (`0`: it has none).
    fn expiry_ms(bytes: &[u8]) -> u64 {
        let Some(header) = record::peek(bytes) else {
            return 0;
        };
        if header.expires == 0 {
            return 0;
        }
        let now = crate::Clock::system().unix_nanos();
        (header.expires.saturating_sub(now) / 1_000_000).max(1)
    }

    /// Entry keys of this namespace, `COUNT` at a time, until `visit` says stop.
    fn scan_keys(&self, visit: &mut dyn FnMut(EntryId, String) -> bool) -> Result<(), StoreError> {
        self.scan_pages(&mut |page| {
            for key in page {
                if let Some(id) = parse_key(&key)
                    && !visit(id, key)
                {
                    return Ok(false);
                }
            }
            Ok(true)
        })
    }

    /// Pages of this namespace's entry keys (`SCAN MATCH`, never `KEYS`), until `visit` says
    /// stop.
    fn scan_pages(
        &self,
        visit: &mut dyn FnMut(Vec<String>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let pattern = format!(
            "{}:{{*}}",
            super::redis_pattern::literal(&self.location.prefix)
        );
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = self.with(|c| {
                redis::cmd("SCAN")
                    .cursor_arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(500)
                    .query(c)
            })?;
            if !keys.is_empty() && !visit(keys)? {
                return Ok(());
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

impl Backend for RedisStore {
    type Location = RedisLocation;

    /// Counts are kept by SCANs of the namespace (keys only), on open and on an explicit
    /// sweep; Redis drops expired keys itself.
    const PRUNES: bool = true;

    const LOCAL: bool = false;

    /// Redis bounds itself (`maxmemory`, with an eviction policy such as `allkeys-lru`) and
    /// expires keys by their `PX`: inserts never scan the namespace, whatever `max_bytes` says.
    const BOUNDS_ITSELF: bool = true;

    fn open(location: &RedisLocation) -> Result<Self, StoreError> {
        let client = redis::Client::open(location.url.as_str()).map_err(|e| StoreError::Redis {
            server: "<invalid redis URL>".into(),
            reason: e.to_string(),
        })?;
        let server = client.get_connection_info().addr().to_string();
        let store = Self {
            client,
            pool: Arc::default(),
            location: location.clone(),
            server,
        };
        // Answering now, or the cache stays in memory and tries again later.
        let _: String = store.with(|c| redis::cmd("PING").query(c))?;
        Ok(store)
    }

    fn folder(location: &RedisLocation) -> &Path {
        &location.display
    }

    /// The value if it is at most `max_len` bytes: its size is checked on the server, so a
    /// larger one is never fetched, and is a miss here — not damage: a cache with a larger
    /// bound (on another machine) wrote it, and it stays for that one.
    fn get(&self, id: &EntryId, max_len: u64) -> Result<Option<Stored>, StoreError> {
        let key = self.key(id);
        // EVAL, not EVALSHA: one round trip, never a second one to load the script.
        let found: redis::Value = self.with(|c| {
            redis::cmd("EVAL")
                .arg(GET_BOUNDED)
                .arg(1)
                .arg(&key)
                .arg(max_len)
                .query(c)
        })?;
        match found {
            redis::Value::BulkString(bytes) => Ok(Some(Stored::Owned(bytes))),
            redis::Value::Nil | redis::Value::Int(_) => Ok(None),
            other => Err(StoreError::Redis {
                server: self.server.clone(),
                reason: format!("unexpected reply to a read: {other:?}"),
            }),
        }
    }

    fn put(&self, id: &EntryId, bytes: &[u8]) -> Result<Option<u64>, StoreError> {
        let key = self.key(id);
        let px = Self::expiry_ms(bytes);
        let script = redis::Script::new(PUT);
        let old: u64 = self.with(|c| script.key(&key).arg(bytes).arg(px).invoke(c))?;
        Ok((old > 0).then_some(old))
    }

    fn replace(&self, id: &EntryId, expected: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        let key = self.key(id);
        let px = Self::expiry_ms(new);
        let script = redis::Script::new(REPLACE);
        let done: u64 = self.with(|c| script.key(&key).arg(expected).arg(new).arg(px).invoke(c))?;
        Ok(done == 1)
    }

    fn remove(&self, id: &EntryId) -> Result<Option<u64>, StoreError> {
        let key = self.key(id);
        let script = redis::Script::new(REMOVE);
        let old: u64 = self.with(|c| script.key(&key).invoke(c))?;
        Ok((old > 0).then_some(old))
    }

    fn for_each(&self, visit: &mut dyn FnMut(EntryId, &[u8])) -> Result<(), StoreError> {
        self.sample(0, &mut |id, bytes| {
            visit(id, bytes);
            true
        })
    }

    fn sample(
        &self,
        _seed: u64,
        visit: &mut dyn FnMut(EntryId, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let mut failed = None;
        self.scan_keys(&mut |id, key| {
            match self.with(|c| redis::cmd("GET").arg(&key).query::<Option<Vec<u8>>>(c)) {
                Ok(Some(bytes)) => visit(id, &bytes),
                Ok(None) => true, // expired or removed meanwhile
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// `SET lock NX PX` with a random token; waits, polling with backoff, while another
    /// process holds it. A holder that dies releases it when its `PX` runs out.
    fn lock_entry(&self, id: &EntryId, wait: Duration) -> LockOutcome {
        let key = self.lock_key(id);
        let token = format!("{:016x}{:016x}", rand_u64(), rand_u64());
        let ttl_ms = REDIS_LOCK_TTL.as_millis() as u64;
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(5);
        let mut contended = false;
        loop {
            let taken: Result<Option<String>, StoreError> = self.with(|c| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .query(c)
            });
            match taken {
                Ok(Some(_)) => {
                    let (client, pool) = (self.client.clone(), self.pool.clone());
                    let timeout = self.location.timeout;
                    let release = move || {
                        // A pooled connection if there is one (no connect per computation).
                        let pooled = pool.lock().pop();
                        let connection = pooled.or_else(|| {
                            let c = client.get_connection_with_timeout(timeout).ok()?;
                            c.set_read_timeout(Some(timeout)).ok()?;
                            c.set_write_timeout(Some(timeout)).ok()?;
                            Some(c)
                        });
                        if let Some(mut c) = connection {
                            let released: redis::RedisResult<u64> = redis::Script::new(RELEASE)
                                .key(&key)
                                .arg(&token)
                                .invoke(&mut c);
                            let mut pool = pool.lock();
                            if released.is_ok() && pool.len() < POOL {
                                pool.push(c);
                            }
                        }
                    };
                    return LockOutcome::Acquired {
                        lock: EntryLock::on_release(Box::new(release)),
                        contended,
                    };
                }
                Ok(None) => contended = true,
                // The server is gone: compute without the lock (the cache is leaving Redis).
                Err(_) => {
                    return LockOutcome::Acquired {
                        lock: EntryLock::none(),
                        contended,
                    };
                }
            }
            if Instant::now() + pause > deadline {
                return LockOutcome::TimedOut;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// `UNLINK`s this namespace's entries a page of `SCAN` at a time.
    fn clear_location(&self) -> Result<bool, StoreError> {
        self.scan_pages(&mut |page| {
            let _: u64 = self.with(|c| redis::cmd("UNLINK").arg(&page).query(c))?;
            Ok(true)
        })?;
        Ok(true)
    }

    /// Counts this namespace's keys (no values are read, no bytes counted: Redis bounds the
    /// size itself with `maxmemory`).
    fn prune(&self, request: &PruneRequest<'_>) -> Result<PruneReport, StoreError> {
        let mut report = PruneReport::default();
        self.scan_keys(&mut |id, _| {
            report.len += 1;
            (request.counted)(&id, 0);
            true
        })?;
        Ok(report)
    }
}

/// The entry id of an entry key (`…:{<64 hex>}`); `None` for a lock or anything else.
fn parse_key(key: &str) -> Option<EntryId> {
    let inner = key.strip_suffix('}')?.rsplit_once(":{")?;
    if inner.0.ends_with(":lock") {
        return None;
    }
    let hex = inner.1;
    if hex.len() != 64 {
        return None;
    }
    let mut id = [0u8; 32];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(id)
}

/// A random-enough token for a lock (not a secret: it only tells our lock from another's).
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_id_in_a_hash_tag_and_locks_are_not_entries() {
        let id = [0xab; 32];
        let at = RedisLocation::new(
            "redis://user:secret@127.0.0.1:6390",
            "twat-cache:f:g:n".into(),
        );
        assert!(
            !at.display.to_string_lossy().contains("secret"),
            "{:?}",
            at.display
        );
        let entry = format!("{}:{{{}}}", at.prefix, hex(&id));
        let lock = format!("{}:lock:{{{}}}", at.prefix, hex(&id));
        assert_eq!(parse_key(&entry), Some(id));
        assert_eq!(parse_key(&lock), None);
        assert_eq!(parse_key("twat-cache:f:g:n:{xyz}"), None);
    }
}
