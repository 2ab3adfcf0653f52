//! `foo_prime(args…, value)` and `foo_refresh(args…)` on every attribute, sync and async.
#![deny(warnings)]

use twat_cache::{Tier, bcache, fcache, mcache, ucache};
use twat_cache_tests::{Calls, isolated_cache_root};

static M: Calls = Calls::new();
static B: Calls = Calls::new();
static F: Calls = Calls::new();
static U: Calls = Calls::new();

#[mcache]
fn m(x: u32) -> Result<u32, String> {
    M.hit();
    if x == 0 {
        Err("zero".into())
    } else {
        Ok(x * 10 + M.get() as u32 * 1000)
    }
}

#[bcache(folder = "prime-b")]
fn b(x: u32) -> Result<u32, String> {
    B.hit();
    if x == 0 {
        Err("zero".into())
    } else {
        Ok(x * 10 + B.get() as u32 * 1000)
    }
}

#[fcache(folder = "prime-f")]
fn f(x: u32) -> Result<u32, String> {
    F.hit();
    if x == 0 {
        Err("zero".into())
    } else {
        Ok(x * 10 + F.get() as u32 * 1000)
    }
}

#[ucache(folder = "prime-u")]
fn u(x: u32) -> Result<u32, String> {
    U.hit();
    if x == 0 {
        Err("zero".into())
    } else {
        Ok(x * 10 + U.get() as u32 * 1000)
    }
}

/// The same checks for each attribute: `call` is the cached function, `prime`/`refresh` its
/// companions, `runs` its body counter. Values carry the run number (×1000), so a stale value
/// is told apart from a fresh one.
fn check(
    call: fn(u32) -> Result<u32, String>,
    prime: fn(u32, Result<u32, String>),
    refresh: fn(u32) -> Result<u32, String>,
    runs: &Calls,
) {
    prime(7, Ok(42));
    assert_eq!(call(7), Ok(42), "a primed value is a hit");
    assert_eq!(runs.get(), 0, "priming never runs the body");
    prime(7, Err("ignored".into()));
    assert_eq!(
        call(7),
        Ok(42),
        "priming an Err stores nothing and keeps the entry"
    );
    prime(7, Ok(43));
    assert_eq!(call(7), Ok(43), "priming replaces an entry");

    let fresh = refresh(7).unwrap();
    assert_eq!(runs.get(), 1, "refresh runs the body although 7 is cached");
    assert_eq!(fresh, 70 + 1000);
    assert_eq!(call(7), Ok(fresh), "and stores its result");
    assert_eq!(runs.get(), 1);
    assert!(refresh(0).is_err());
    assert!(call(0).is_err());
    assert_eq!(runs.get(), 3, "an Err is never stored by refresh either");
}

#[test]
fn prime_and_refresh_on_every_attribute() {
    isolated_cache_root();
    check(m, m_prime, m_refresh, &M);
    check(b, b_prime, b_refresh, &B);
    check(f, f_prime, f_refresh, &F);
    check(u, u_prime, u_refresh, &U);
}

static BIG: Calls = Calls::new();

#[ucache(folder = "prime-big")]
fn big(n: u8) -> Vec<u8> {
    BIG.hit();
    vec![n; 64 << 10]
}

/// A large value replacing a small one in `#[ucache]` must not leave the small memory copy.
#[test]
fn a_large_refresh_replaces_the_memory_copy() {
    isolated_cache_root();
    big_prime(1, vec![9; 10]);
    assert_eq!(big(1), vec![9; 10]);
    assert_eq!(big_cache().tier(Tier::Memory).unwrap().len, 1);
    assert_eq!(big_refresh(1).len(), 64 << 10);
    assert_eq!(big(1).len(), 64 << 10, "the old memory copy is gone");
    assert_eq!(BIG.get(), 1);
}

static ASYNC: Calls = Calls::new();

#[ucache(folder = "prime-async")]
async fn fetch(id: u64) -> Option<String> {
    ASYNC.hit();
    (id > 0).then(|| format!("#{id} run {}", ASYNC.get()))
}

struct Repo {
    id: u64,
}

static METHOD: Calls = Calls::new();

impl Repo {
    #[mcache(key = (self.id, value))]
    fn lookup(&self, value: u32) -> u64 {
        METHOD.hit();
        self.id * 100 + u64::from(value)
    }
}

#[test]
fn async_and_method_companions() {
    isolated_cache_root();
    futures::executor::block_on(async {
        fetch_prime(1, Some("primed".into()));
        assert_eq!(fetch(1).await.as_deref(), Some("primed"));
        fetch_prime(2, None);
        assert_eq!(ASYNC.get(), 0);
        assert_eq!(fetch_refresh(1).await.as_deref(), Some("#1 run 1"));
        assert_eq!(fetch(1).await.as_deref(), Some("#1 run 1"));
    });
    let repo = Repo { id: 3 };
    repo.lookup_prime(5, 1);
    assert_eq!(repo.lookup(5), 1, "an argument named `value` still works");
    assert_eq!(repo.lookup_refresh(5), 305);
    assert_eq!(repo.lookup(5), 305);
    assert_eq!(METHOD.get(), 1);
}
