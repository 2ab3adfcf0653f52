//! `#[mcache]` on methods, associated functions and `async fn`.
#![deny(warnings)]

use twat_cache::mcache;
use twat_cache_tests::Calls;

static AREA_CALLS: Calls = Calls::new();
static ORIGIN_CALLS: Calls = Calls::new();
static SCALE_CALLS: Calls = Calls::new();

pub struct Circle {
    pub id: u64,
    pub radius: f64,
}

impl Circle {
    /// Area, cached per circle id and precision.
    #[mcache(key = (self.id, digits))]
    pub fn area(&self, digits: u32) -> String {
        AREA_CALLS.hit();
        format!(
            "{:.*}",
            digits as usize,
            std::f64::consts::PI * self.radius * self.radius
        )
    }

    /// An associated function that never mentions `Self`.
    #[mcache]
    pub fn scale(factor: u32, value: u32) -> u32 {
        SCALE_CALLS.hit();
        factor * value
    }

    /// An associated constructor.
    #[mcache]
    pub fn unit(id: u64) -> Circle2 {
        ORIGIN_CALLS.hit();
        Circle2 { id }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Circle2 {
    pub id: u64,
}

#[test]
fn method_with_key_and_companions() {
    let c = Circle { id: 1, radius: 2.0 };
    assert_eq!(c.area(2), "12.57");
    assert_eq!(c.area(2), "12.57");
    assert_eq!(AREA_CALLS.get(), 1);
    assert_eq!(Circle::area_uncached(&c, 2), "12.57");
    assert_eq!(AREA_CALLS.get(), 2);
    assert_eq!(
        Circle::area_cache().name(),
        concat!(module_path!(), "::Circle::area")
    );
    assert_eq!(Circle::area_cache().len(), 1);
    assert!(c.area_invalidate(2));
    assert!(!c.area_invalidate(2));
}

#[test]
fn associated_functions() {
    assert_eq!(Circle::scale(3, 4), 12);
    assert_eq!(Circle::scale(3, 4), 12);
    assert_eq!(SCALE_CALLS.get(), 1);
    assert_eq!(
        Circle::scale_cache().name(),
        concat!(module_path!(), "::Circle::scale")
    );
    assert!(Circle::scale_invalidate(3, 4));

    assert_eq!(Circle::unit(7), Circle2 { id: 7 });
    assert_eq!(Circle::unit(7), Circle2 { id: 7 });
    assert_eq!(ORIGIN_CALLS.get(), 1);
}

static ASYNC_CALLS: Calls = Calls::new();

#[mcache(maxsize = 16)]
async fn fetch(id: u64, label: &str) -> Result<String, String> {
    ASYNC_CALLS.hit();
    if id == 0 {
        return Err("no user 0".into());
    }
    Ok(format!("{label}{id}"))
}

struct Client {
    base: String,
}

static ASYNC_METHOD_CALLS: Calls = Calls::new();

impl Client {
    #[mcache(key = (self.base.clone(), path.to_string()))]
    async fn get(&self, path: &str) -> String {
        ASYNC_METHOD_CALLS.hit();
        format!("{}/{}", self.base, path)
    }
}

#[test]
fn async_fns_without_any_particular_runtime() {
    futures::executor::block_on(async {
        assert_eq!(fetch(1, "u").await, Ok("u1".to_string()));
        assert_eq!(fetch(1, "u").await, Ok("u1".to_string()));
        assert_eq!(ASYNC_CALLS.get(), 1);
        assert!(fetch(0, "u").await.is_err());
        assert!(fetch(0, "u").await.is_err());
        assert_eq!(ASYNC_CALLS.get(), 3);
        assert_eq!(fetch_uncached(1, "u").await, Ok("u1".to_string()));
        assert!(fetch_invalidate(1, "u"), "invalidate is a plain sync fn");

        let client = Client {
            base: "http://x".into(),
        };
        assert_eq!(client.get("a").await, "http://x/a");
        assert_eq!(client.get("a").await, "http://x/a");
        assert_eq!(ASYNC_METHOD_CALLS.get(), 1);
        assert_eq!(
            Client::get_cache().name(),
            concat!(module_path!(), "::Client::get")
        );
    });
}

fn assert_send<T: Send>(_: &T) {}

#[mcache]
async fn fetch_for_send_check(id: u64, label: &str) -> Result<String, String> {
    Ok(format!("{label}{id}"))
}

#[test]
fn async_wrapper_future_is_send() {
    let fut = fetch_for_send_check(5, "s");
    assert_send(&fut);
    assert_eq!(futures::executor::block_on(fut), Ok("s5".into()));
}
