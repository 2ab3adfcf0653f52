//! `#[mcache]` on free functions: counters of body executions prove what is cached.
#![deny(warnings)]

use std::sync::Arc;

use twat_cache::{CacheKind, mcache, registry};
use twat_cache_tests::Calls;

static SQUARE_CALLS: Calls = Calls::new();

/// Squares its input (doc comments stay on the function).
#[mcache]
fn square(x: u64) -> u64 {
    SQUARE_CALLS.hit();
    x * x
}

#[test]
fn repeated_calls_run_the_body_once_and_count_exactly() {
    assert_eq!(square(12), 144);
    assert_eq!(square(12), 144);
    assert_eq!(square(13), 169);
    assert_eq!(square(12), 144);
    assert_eq!(SQUARE_CALLS.get(), 2);
    let stats = square_cache().stats();
    assert_eq!((stats.hits, stats.misses, stats.inserts), (2, 2, 2));
    assert_eq!(stats.len, 2);
    assert_eq!(square_cache().len(), 2);
    assert!((stats.hit_ratio() - 0.5).abs() < 1e-9);
}

static PARSE_CALLS: Calls = Calls::new();

#[mcache(maxsize = 100)]
fn parse_number(text: &str, radix: u32) -> Result<i64, String> {
    PARSE_CALLS.hit();
    i64::from_str_radix(text, radix).map_err(|e| e.to_string())
}

#[test]
fn result_caches_only_ok() {
    assert_eq!(parse_number("ff", 16), Ok(255));
    assert_eq!(parse_number("ff", 16), Ok(255));
    assert_eq!(PARSE_CALLS.get(), 1);
    assert!(parse_number("zz", 10).is_err());
    assert!(parse_number("zz", 10).is_err());
    assert_eq!(PARSE_CALLS.get(), 3, "errors are never cached");
    assert_eq!(parse_number("ff", 10).map_err(|_| ()), Err(()));
    assert_eq!(parse_number_cache().len(), 1);
}

static FIND_CALLS: Calls = Calls::new();

#[mcache]
fn find_user(id: u32) -> Option<String> {
    FIND_CALLS.hit();
    id.is_multiple_of(2).then(|| format!("user{id}"))
}

static FIND_NONE_CALLS: Calls = Calls::new();

#[mcache(cache_none = true)]
fn find_user_caching_none(id: u32) -> Option<String> {
    FIND_NONE_CALLS.hit();
    id.is_multiple_of(2).then(|| format!("user{id}"))
}

#[test]
fn option_caches_some_and_none_only_with_cache_none() {
    assert_eq!(find_user(2).as_deref(), Some("user2"));
    assert_eq!(find_user(2).as_deref(), Some("user2"));
    assert_eq!(find_user(3), None);
    assert_eq!(find_user(3), None);
    assert_eq!(FIND_CALLS.get(), 3, "None is not cached by default");

    assert_eq!(find_user_caching_none(3), None);
    assert_eq!(find_user_caching_none(3), None);
    assert_eq!(find_user_caching_none(4).as_deref(), Some("user4"));
    assert_eq!(find_user_caching_none(4).as_deref(), Some("user4"));
    assert_eq!(FIND_NONE_CALLS.get(), 2, "cache_none caches None too");
}

static COMPANION_CALLS: Calls = Calls::new();

#[mcache]
pub fn greet(name: &str, excited: bool) -> Arc<String> {
    COMPANION_CALLS.hit();
    Arc::new(format!("hello {name}{}", if excited { "!" } else { "" }))
}

#[test]
fn companions_uncached_invalidate_and_handle() {
    assert_eq!(*greet("ann", true), "hello ann!");
    assert_eq!(*greet_uncached("ann", true), "hello ann!");
    assert_eq!(COMPANION_CALLS.get(), 2, "_uncached always runs the body");
    assert_eq!(greet_cache().len(), 1, "_uncached never writes");

    assert!(greet_invalidate("ann", true));
    assert!(!greet_invalidate("ann", true), "already gone");
    assert!(!greet_invalidate("bob", false), "never cached");
    greet("ann", true);
    assert_eq!(COMPANION_CALLS.get(), 3, "invalidated entry is recomputed");

    let handle = greet_cache();
    assert_eq!(handle.name(), concat!(module_path!(), "::greet"));
    assert_eq!(handle.kind(), CacheKind::Mcache);
    handle.clear();
    assert_eq!(handle.len(), 0);
    greet("ann", true);
    assert_eq!(COMPANION_CALLS.get(), 4);
}

#[mcache(name = "custom-name")]
fn named(x: u8) -> u8 {
    x
}

#[test]
fn name_option_and_registry() {
    named(1);
    named(1);
    assert_eq!(named_cache().name(), "custom-name");
    let info = registry()
        .into_iter()
        .find(|c| c.name == "custom-name")
        .expect("used caches are registered");
    assert_eq!(info.kind, CacheKind::Mcache);
    assert_eq!(info.folder, None);
    assert_eq!((info.stats.hits, info.stats.misses), (1, 1));
}

static FIB_CALLS: Calls = Calls::new();

#[mcache]
fn fib(n: u32) -> u128 {
    FIB_CALLS.hit();
    if n < 2 {
        n as u128
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

#[test]
fn recursive_fib_90_is_correct_and_computes_each_n_once() {
    assert_eq!(fib(90), 2_880_067_194_370_816_120);
    assert_eq!(
        FIB_CALLS.get(),
        91,
        "each n computed once: no lock held while the body runs"
    );
    assert_eq!(fib(90), 2_880_067_194_370_816_120);
    assert_eq!(FIB_CALLS.get(), 91);
}

static PANIC_CALLS: Calls = Calls::new();

#[mcache]
fn may_panic(x: i32) -> i32 {
    PANIC_CALLS.hit();
    if x < 0 {
        panic!("negative input {x}");
    }
    x
}

#[test]
fn panics_propagate_unchanged_and_leave_no_entry() {
    let err = std::panic::catch_unwind(|| may_panic(-1)).expect_err("the panic propagates");
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some("negative input -1")
    );
    assert_eq!(may_panic_cache().len(), 0);
    assert!(std::panic::catch_unwind(|| may_panic(-1)).is_err());
    assert_eq!(PANIC_CALLS.get(), 2, "a panicked call is not cached");
    assert_eq!(may_panic(5), 5);
}

static MANY_CALLS: Calls = Calls::new();

#[allow(clippy::too_many_arguments)]
#[mcache]
fn twelve(
    a: u8,
    b: u16,
    c: u32,
    d: u64,
    e: i8,
    f: i16,
    g: &str,
    h: &[u8],
    i: String,
    j: Vec<u32>,
    k: (u8, u8),
    l: &std::path::Path,
) -> String {
    MANY_CALLS.hit();
    format!("{a}{b}{c}{d}{e}{f}{g}{h:?}{i}{j:?}{k:?}{}", l.display())
}

static ZERO_CALLS: Calls = Calls::new();

#[mcache]
fn zero_args() -> u32 {
    ZERO_CALLS.hit();
    7
}

#[test]
fn arities_zero_to_twelve_with_borrowed_args() {
    let path = std::path::Path::new("/tmp/x");
    let run = || {
        twelve(
            1,
            2,
            3,
            4,
            5,
            6,
            "g",
            &[1, 2],
            "i".into(),
            vec![9],
            (1, 2),
            path,
        )
    };
    let first = run();
    assert_eq!(run(), first);
    assert_eq!(MANY_CALLS.get(), 1);
    twelve(
        1,
        2,
        3,
        4,
        5,
        6,
        "g",
        &[1, 3],
        "i".into(),
        vec![9],
        (1, 2),
        path,
    );
    assert_eq!(
        MANY_CALLS.get(),
        2,
        "any differing argument is a different key"
    );

    assert_eq!(zero_args(), 7);
    assert_eq!(zero_args(), 7);
    assert_eq!(ZERO_CALLS.get(), 1);
}

static KEY_CALLS: Calls = Calls::new();

pub struct Request {
    pub user: u64,
    pub trace_id: u64,
}

#[mcache(key = (req.user, page))]
fn render(req: &Request, page: u32) -> String {
    KEY_CALLS.hit();
    format!("user {} page {page} (trace {})", req.user, req.trace_id)
}

#[test]
fn custom_key_ignores_other_fields() {
    let a = render(
        &Request {
            user: 1,
            trace_id: 10,
        },
        2,
    );
    let b = render(
        &Request {
            user: 1,
            trace_id: 99,
        },
        2,
    );
    assert_eq!(a, b, "trace_id is not part of the key");
    assert_eq!(KEY_CALLS.get(), 1);
    render(
        &Request {
            user: 2,
            trace_id: 10,
        },
        2,
    );
    assert_eq!(KEY_CALLS.get(), 2);
    assert!(render_invalidate(
        &Request {
            user: 1,
            trace_id: 0
        },
        2
    ));
}

static GENERIC_CALLS: Calls = Calls::new();

#[mcache(key = value.to_string())]
fn describe<T: std::fmt::Display>(value: T) -> String {
    GENERIC_CALLS.hit();
    format!("<{value}>")
}

#[test]
fn generic_function_with_key() {
    assert_eq!(describe(5u8), "<5>");
    assert_eq!(describe(5u8), "<5>");
    assert_eq!(
        describe("5"),
        "<5>",
        "same key, same stored type: shared entry"
    );
    assert_eq!(GENERIC_CALLS.get(), 1);
}

static PATTERN_CALLS: Calls = Calls::new();

#[mcache]
fn sum_pair((a, b): (u32, u32), mut scale: u32) -> u32 {
    PATTERN_CALLS.hit();
    scale += 0;
    (a + b) * scale
}

#[test]
fn destructuring_and_mut_parameters() {
    assert_eq!(sum_pair((1, 2), 3), 9);
    assert_eq!(sum_pair((1, 2), 3), 9);
    assert_eq!(sum_pair((2, 1), 3), 9);
    assert_eq!(PATTERN_CALLS.get(), 2);
}

mod nested {
    use twat_cache::mcache;

    #[mcache(maxsize = 10)]
    pub(crate) fn visible_in_crate(x: u32) -> u32 {
        x + 1
    }
}

#[test]
fn any_module_any_visibility() {
    assert_eq!(nested::visible_in_crate(1), 2);
    assert_eq!(
        nested::visible_in_crate_cache().name(),
        concat!(module_path!(), "::nested::visible_in_crate")
    );
    assert_eq!(nested::visible_in_crate_uncached(1), 2);
}

#[must_use]
#[inline]
#[mcache]
fn with_attrs(x: u32) -> u32 {
    x
}

#[test]
fn other_attributes_keep_working() {
    let _ = with_attrs(1);
}

#[mcache(single_flight = false, policy = "lru", maxsize = 2)]
fn options_compile(x: u32) -> u32 {
    x
}

#[test]
fn options_are_accepted() {
    for i in 0..10 {
        options_compile(i);
        assert!(options_compile_cache().len() <= 2);
    }
}

#[test]
fn closures_in_body_and_early_return() {
    #[mcache]
    fn early(x: i32) -> i32 {
        if x > 10 {
            return 10;
        }
        let add = |y: i32| y + 1;
        add(x)
    }
    assert_eq!(early(50), 10);
    assert_eq!(early(50), 10);
    assert_eq!(early(1), 2);
    assert_eq!(early_cache().name(), concat!(module_path!(), "::early"));
}

#[mcache]
fn question_mark(text: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = text.parse()?;
    Ok(n * 2)
}

#[test]
fn question_mark_in_body() {
    assert_eq!(question_mark("21"), Ok(42));
    assert!(question_mark("x").is_err());
}

static ECHO_CALLS: Calls = Calls::new();

#[mcache(key = format!("{value:?}"))]
fn echo<T: std::fmt::Debug + Clone + Send + Sync + 'static>(value: T) -> T {
    ECHO_CALLS.hit();
    value
}

#[test]
fn generic_function_with_several_value_types_keeps_them_apart() {
    assert_eq!(echo(5u8), 5u8);
    assert_eq!(echo(5u8), 5u8);
    assert_eq!(echo(String::from("x")), "x");
    assert_eq!(echo(String::from("x")), "x");
    // Same key text "5" for a u8 and an i64: separate engines, never a value of the wrong type.
    assert_eq!(echo(5i64), 5i64);
    assert_eq!(echo(5i64), 5i64);
    assert_eq!(ECHO_CALLS.get(), 3, "each instantiation computed once");
    assert_eq!(
        echo_cache().len(),
        3,
        "the handle sums every instantiation's engine"
    );
    assert!(echo_invalidate(5i64));
    assert_eq!(echo_cache().len(), 2);
    assert_eq!(echo_cache().stats().hits, 3);
}
