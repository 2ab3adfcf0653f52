//! twat-cache inside an HTTP service: `cargo run --release --example service`.
//!
//! A small axum service on 127.0.0.1 (an ephemeral port) with three endpoints:
//!
//! - `GET /users/{id}` — a profile rendered from an in-process table: `#[mcache]`.
//! - `GET /weather/{city}` — a slow, flaky upstream (20 ms; one call in 8 answers 503): `#[ucache]`
//!   with `ttl` and `cache_if`, so a 503 is passed on but never stored, and the next request
//!   asks again. `?cache=off` calls the same function uncached (`…_uncached`), for comparison.
//! - `GET /caches` — `twat_cache::registry()` as JSON (feature `serde`).
//!
//! Then it loads itself: a fixed number of requests from 16 concurrent clients over keep-alive
//! connections, cities and users drawn with a skewed (Zipf-like) popularity, and prints requests,
//! hit ratios and p50/p99 latency, cached against uncached. It finishes by itself. The cache root
//! is a temporary directory, so runs start cold and leave nothing behind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use twat_cache::{Tier, mcache, registry, ucache};

/// Requests per load run, and how many clients send them at once.
const REQUESTS: usize = 4_000;
const CLIENTS: usize = 16;
/// Distinct cities and users the clients ask for.
const CITIES: u64 = 200;
const USERS: u64 = 1_000;

// ---------------------------------------------------------------------------------------------
// The cached functions

/// What the weather upstream answered.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Forecast {
    status: u16,
    city: String,
    celsius: i32,
}

/// Upstream calls so far (every eighth fails).
static UPSTREAM_CALLS: AtomicU64 = AtomicU64::new(0);

/// The slow upstream: 20 ms per call; one call in 8 is a 503. Cached for 10 minutes, but only
/// when it succeeded: a 503 reaches the client once and is asked again next time.
#[ucache(folder = "service-example", ttl = "10m", cache_if = |f| f.status < 500)]
async fn forecast(city: &str) -> Forecast {
    let call = UPSTREAM_CALLS.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let status = if call % 8 == 7 { 503 } else { 200 };
    let celsius = city.bytes().map(i32::from).sum::<i32>() % 35;
    Forecast {
        status,
        city: city.to_string(),
        celsius,
    }
}

/// A user's profile, rendered from the table (the kind of work a service repeats per request).
#[derive(Clone, Serialize)]
struct Profile {
    id: u64,
    name: String,
    badges: Vec<String>,
}

#[mcache(maxsize = 10_000)]
fn profile(id: u64) -> Option<Profile> {
    (id < USERS).then(|| {
        // Stand-in for the query and templating a real profile costs: ~0.1 ms of CPU work.
        let mut draw = Draw(id);
        let score = (0..40_000).fold(0u64, |acc, _| acc ^ std::hint::black_box(draw.next()));
        let badges = (1..=40)
            .filter(|n| (score >> (n % 64)) & 1 == 1 || (id * 7 + n).is_multiple_of(9))
            .map(|n| format!("badge-{n:03}"))
            .collect();
        Profile {
            id,
            name: format!("user-{id:05}"),
            badges,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The service

#[derive(Deserialize)]
struct CacheParam {
    cache: Option<String>,
}

impl CacheParam {
    fn off(&self) -> bool {
        self.cache.as_deref() == Some("off")
    }
}

async fn weather(Path(city): Path<String>, Query(param): Query<CacheParam>) -> Response {
    let forecast = if param.off() {
        forecast_uncached(&city).await
    } else {
        forecast(&city).await
    };
    let status = StatusCode::from_u16(forecast.status).unwrap_or(StatusCode::BAD_GATEWAY);
    (status, Json(forecast)).into_response()
}

async fn user(Path(id): Path<u64>, Query(param): Query<CacheParam>) -> Response {
    let found = if param.off() {
        profile_uncached(id)
    } else {
        profile(id)
    };
    match found {
        Some(profile) => Json(profile).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn caches() -> Json<Vec<twat_cache::CacheInfo>> {
    Json(registry())
}

fn app() -> Router {
    Router::new()
        .route("/weather/{city}", get(weather))
        .route("/users/{id}", get(user))
        .route("/caches", get(caches))
}

// ---------------------------------------------------------------------------------------------
// The load

/// A small deterministic generator (SplitMix64), so every run asks the same questions.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Skewed choice in `0..n`: the square of a uniform draw favours small indices, like
    /// popular cities and active users.
    fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u) * n as f64) as u64
    }
}

/// What one load run saw.
struct Run {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

impl Run {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }
}

/// Sends `REQUESTS` requests for paths made by `path` from `CLIENTS` concurrent clients.
async fn load(base: &str, path: fn(&mut Draw) -> String) -> Run {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let started = Instant::now();
    let mut clients = Vec::new();
    for id in 0..CLIENTS {
        let client = client.clone();
        let base = base.to_string();
        clients.push(tokio::spawn(async move {
            let mut draw = Draw(id as u64 + 1);
            let mut latencies = Vec::with_capacity(REQUESTS / CLIENTS);
            let mut errors = 0;
            for _ in 0..REQUESTS / CLIENTS {
                let uri = format!("{base}{}", path(&mut draw));
                let sent = Instant::now();
                let status = match client.get(uri.parse().expect("a valid URI")).await {
                    Ok(response) => {
                        let status = response.status();
                        // Read the whole body: a response is served when it has arrived.
                        let _ = response.into_body().collect().await;
                        status
                    }
                    Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
                };
                latencies.push(sent.elapsed());
                if status.is_server_error() {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut run = Run {
        latencies: Vec::with_capacity(REQUESTS),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for client in clients {
        let (latencies, errors) = client.await.expect("a client task");
        run.latencies.extend(latencies);
        run.errors += errors;
    }
    run.elapsed = started.elapsed();
    run
}

fn weather_path(draw: &mut Draw) -> String {
    format!("/weather/city-{}", draw.skewed(CITIES))
}

fn weather_path_uncached(draw: &mut Draw) -> String {
    format!("{}?cache=off", weather_path(draw))
}

fn user_path(draw: &mut Draw) -> String {
    format!("/users/{}", draw.skewed(USERS))
}

fn user_path_uncached(draw: &mut Draw) -> String {
    format!("{}?cache=off", user_path(draw))
}

fn print_row(what: &str, run: &Run, hit_ratio: Option<f64>) {
    let hits = hit_ratio.map_or("-".to_string(), |r| format!("{:.1}%", r * 100.0));
    println!(
        "{what:<22} {:>8} {:>8.0} {:>8} {:>10.3} {:>10.3} {:>6}",
        run.latencies.len(),
        run.latencies.len() as f64 / run.elapsed.as_secs_f64(),
        hits,
        run.percentile(0.50).as_secs_f64() * 1e3,
        run.percentile(0.99).as_secs_f64() * 1e3,
        run.errors,
    );
}

fn stats_of(name_ends_with: &str) -> twat_cache::CacheInfo {
    registry()
        .into_iter()
        .find(|info| info.name.ends_with(name_ends_with))
        .expect("the cache is registered")
}

#[tokio::main]
async fn main() {
    let root = tempfile::tempdir().expect("a temporary cache root");
    // SAFETY: set before any cache is used and before other threads read the environment
    // (the runtime's workers only run the tasks spawned below).
    unsafe { std::env::set_var("TWAT_CACHE_DIR", root.path()) };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("its address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app())
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .expect("the service runs");
    });
    println!("service on {base}; {REQUESTS} requests per run from {CLIENTS} clients\n");
    println!(
        "{:<22} {:>8} {:>8} {:>8} {:>10} {:>10} {:>6}",
        "endpoint", "requests", "req/s", "hits", "p50 ms", "p99 ms", "5xx"
    );

    // Each cached endpoint twice: from a cold cache (the first request of a key waits for the
    // body, and its concurrent duplicates wait for that one call), then warm.
    let uncached = load(&base, weather_path_uncached).await;
    print_row("/weather uncached", &uncached, None);
    let calls_before = UPSTREAM_CALLS.load(Ordering::Relaxed);
    let cold = load(&base, weather_path).await;
    print_row(
        "/weather cold cache",
        &cold,
        Some(stats_of("::forecast").stats.hit_ratio()),
    );
    let upstream_cold = UPSTREAM_CALLS.load(Ordering::Relaxed) - calls_before;
    let hits_before = stats_of("::forecast").stats;
    let warm = load(&base, weather_path).await;
    let weather = stats_of("::forecast");
    print_row(
        "/weather warm cache",
        &warm,
        Some(hit_ratio_since(&hits_before, &weather.stats)),
    );
    let upstream_warm = UPSTREAM_CALLS.load(Ordering::Relaxed) - calls_before - upstream_cold;

    let users_uncached = load(&base, user_path_uncached).await;
    print_row("/users uncached", &users_uncached, None);
    let users_cold = load(&base, user_path).await;
    print_row(
        "/users cold cache",
        &users_cold,
        Some(stats_of("::profile").stats.hit_ratio()),
    );
    let hits_before = stats_of("::profile").stats;
    let users_warm = load(&base, user_path).await;
    let users = stats_of("::profile").stats;
    print_row(
        "/users warm cache",
        &users_warm,
        Some(hit_ratio_since(&hits_before, &users)),
    );

    println!(
        "\n/weather (#[ucache], ttl, cache_if): {upstream_cold} upstream calls for the first \
         {REQUESTS} requests, {upstream_warm} for the next {REQUESTS}; the {} + {} 503s were \
         passed on and never stored.\nWarm cache against uncached: /weather p50 {:.0}x and p99 \
         {:.0}x faster, /users p50 {:.1}x and p99 {:.1}x.",
        cold.errors,
        warm.errors,
        ratio(uncached.percentile(0.5), warm.percentile(0.5)),
        ratio(uncached.percentile(0.99), warm.percentile(0.99)),
        ratio(users_uncached.percentile(0.5), users_warm.percentile(0.5)),
        ratio(users_uncached.percentile(0.99), users_warm.percentile(0.99)),
    );
    for tier in &weather.tiers {
        let name = match tier.tier {
            Tier::Memory => "memory",
            Tier::Disk => "disk",
        };
        println!(
            "  {name} tier: {} hits, {} misses, {} entries",
            tier.stats.hits, tier.stats.misses, tier.stats.len
        );
    }

    // The registry endpoint, as a dashboard would read it.
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .get(format!("{base}/caches").parse().expect("a valid URI"))
        .await
        .expect("GET /caches");
    let body = response.into_body().collect().await.expect("its body");
    let listed: serde_json::Value =
        serde_json::from_slice(&body.to_bytes()).expect("JSON from /caches");
    let names: Vec<&str> = listed
        .as_array()
        .map(|caches| caches.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    println!(
        "\nGET /caches lists {} caches: {}",
        names.len(),
        names.join(", ")
    );

    let _ = stop.send(());
    server.await.expect("the service stops");
}

/// The hit ratio of the lookups made between two snapshots of a cache's counters.
fn hit_ratio_since(before: &twat_cache::CacheStats, after: &twat_cache::CacheStats) -> f64 {
    let hits = after.hits - before.hits;
    let lookups = hits + after.misses - before.misses;
    hits as f64 / lookups.max(1) as f64
}

fn ratio(slow: Duration, fast: Duration) -> f64 {
    slow.as_secs_f64() / fast.as_secs_f64().max(1e-9)
}
