//! Reading the attribute's options (`maxsize = 100, ttl = "10m", …`) into [`Options`].
//!
//! Every problem is pushed to the accumulator with the span of the token the user wrote, so one
//! compile reports all of them.

use darling::Error;
use darling::ast::NestedMeta;
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Lit, Meta};

use crate::units;

/// Which attribute is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Mcache,
    Bcache,
    Fcache,
    Ucache,
}

/// Options every attribute accepts.
const COMMON: &[&str] = &[
    "maxsize",
    "max_bytes",
    "ttl",
    "refresh",
    "policy",
    "key",
    "name",
    "cache_none",
    "single_flight",
];
/// Options that only disk-backed attributes accept.
const DISK_ONLY: &[&str] = &["folder", "version", "compress"];
/// Options that only `#[ucache]` accepts.
const UCACHE_ONLY: &[&str] = &["disk_max_bytes", "backend"];

/// Second tiers `backend = "…"` accepts.
pub const BACKENDS: &[&str] = &["disk", "redis"];

/// Eviction policies `policy = "…"` accepts (kept in sync with `twat_cache_engines::Policy`).
pub const POLICIES: &[&str] = &["lru", "fifo", "lfu", "tinylfu"];

impl Kind {
    pub fn attr_name(self) -> &'static str {
        match self {
            Kind::Mcache => "mcache",
            Kind::Bcache => "bcache",
            Kind::Fcache => "fcache",
            Kind::Ucache => "ucache",
        }
    }

    /// Whether entries go to disk (and so need `Serialize` keys and values).
    pub fn is_disk(self) -> bool {
        !matches!(self, Kind::Mcache)
    }

    /// Whether a memory tier holds entries (and so needs `Hash` keys and `Clone` values, and
    /// takes the `max_bytes` weigher).
    pub fn has_memory(self) -> bool {
        matches!(self, Kind::Mcache | Kind::Ucache)
    }

    /// The suffix of this attribute's functions in `twat_cache::__private` (`lookup_disk`, …).
    pub fn runtime_suffix(self) -> &'static str {
        match self {
            Kind::Mcache => "",
            Kind::Bcache | Kind::Fcache => "_disk",
            Kind::Ucache => "_tiered",
        }
    }

    fn valid_options(self) -> Vec<&'static str> {
        match self {
            Kind::Mcache => COMMON.to_vec(),
            Kind::Bcache | Kind::Fcache => [COMMON, DISK_ONLY].concat(),
            Kind::Ucache => [COMMON, DISK_ONLY, UCACHE_ONLY].concat(),
        }
    }

    /// Why an option of another attribute does not apply here.
    fn why_not(self, option: &str) -> &'static str {
        if DISK_ONLY.contains(&option) {
            "memory caches keep nothing on disk"
        } else if option == "disk_max_bytes" {
            "only #[ucache] has a disk tier behind its memory tier; bound this cache with `max_bytes`"
        } else if UCACHE_ONLY.contains(&option) {
            "only #[ucache] has a pluggable second tier"
        } else {
            "it belongs to another attribute"
        }
    }
}

/// A value and the span of the token it came from.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// The options as written, each with its span.
#[derive(Default)]
pub struct Options {
    pub maxsize: Option<Spanned<u64>>,
    pub max_bytes: Option<Spanned<u64>>,
    pub ttl_nanos: Option<Spanned<u64>>,
    pub refresh: Option<Spanned<bool>>,
    pub policy: Option<Spanned<String>>,
    pub key: Option<Expr>,
    pub name: Option<Spanned<String>>,
    pub cache_none: Option<Spanned<bool>>,
    pub single_flight: Option<Spanned<bool>>,
    pub folder: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
    pub compress: Option<Spanned<bool>>,
    pub disk_max_bytes: Option<Spanned<u64>>,
    pub backend: Option<Spanned<String>>,
}

pub fn parse(kind: Kind, args: TokenStream, errors: &mut darling::error::Accumulator) -> Options {
    let mut options = Options::default();
    let items = match NestedMeta::parse_meta_list(args) {
        Ok(items) => items,
        Err(e) => {
            errors.push(Error::from(e));
            return options;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    for item in items {
        let meta = match item {
            NestedMeta::Meta(meta) => meta,
            other => {
                errors.push(
                    Error::custom(format!(
                        "expected `option = value`; valid options for #[{}]: {}",
                        kind.attr_name(),
                        kind.valid_options().join(", ")
                    ))
                    .with_span(&other),
                );
                continue;
            }
        };
        let path = meta.path();
        let name = path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_else(|| quote::quote!(#path).to_string());
        if !check_name(kind, &name, path, errors) {
            continue;
        }
        if seen.contains(&name) {
            errors.push(Error::custom(format!("`{name}` is given twice")).with_span(path));
            continue;
        }
        seen.push(name.clone());
        let value = match meta {
            Meta::NameValue(nv) => nv.value,
            Meta::Path(ref p) if is_flag(&name) => {
                // A bare flag (`refresh`) means `refresh = true`.
                Expr::Lit(ExprLit {
                    attrs: Vec::new(),
                    lit: Lit::Bool(syn::LitBool::new(true, p.span())),
                })
            }
            other => {
                errors.push(
                    Error::custom(format!("`{name}` needs a value: {}", example(&name)))
                        .with_span(&other),
                );
                continue;
            }
        };
        read_value(&mut options, &name, value, errors);
    }
    options
}

fn is_flag(name: &str) -> bool {
    matches!(
        name,
        "refresh" | "cache_none" | "single_flight" | "compress"
    )
}

fn example(name: &str) -> &'static str {
    match name {
        "maxsize" => "a positive integer, e.g. `maxsize = 1000`",
        "max_bytes" => "a size, e.g. `max_bytes = \"512MiB\"` or `max_bytes = 1048576`",
        "disk_max_bytes" => {
            "a size, e.g. `disk_max_bytes = \"10GiB\"` or `disk_max_bytes = 1048576`"
        }
        "backend" => "`backend = \"disk\"` (the default) or `backend = \"redis\"`",
        "ttl" => {
            "a duration, e.g. `ttl = \"250ms\"`, `\"90s\"`, `\"10m\"`, `\"1h\"`, `\"1d\"` or an integer number of seconds"
        }
        "policy" => "one of \"lru\", \"fifo\", \"lfu\", \"tinylfu\", e.g. `policy = \"lru\"`",
        "key" => "an expression over the arguments, e.g. `key = (user.id, page)`",
        "folder" => "a folder name of letters, digits, `.`, `_` or `-`, e.g. `folder = \"geo\"`",
        "version" => "a non-empty string, e.g. `version = \"2\"`",
        "name" => "a non-empty string, e.g. `name = \"users\"`",
        _ => "`true` or `false`",
    }
}

/// Whether `name` is an option of this attribute; reports unknown and misplaced ones.
fn check_name(
    kind: Kind,
    name: &str,
    path: &syn::Path,
    errors: &mut darling::error::Accumulator,
) -> bool {
    let valid = kind.valid_options();
    if valid.contains(&name) {
        return true;
    }
    let list = valid.join(", ");
    let attr = kind.attr_name();
    let message = if DISK_ONLY.contains(&name) || UCACHE_ONLY.contains(&name) {
        format!(
            "`{name}` does not apply to #[{attr}]: {}; valid options for #[{attr}]: {list}",
            kind.why_not(name)
        )
    } else {
        let suggestion = valid
            .iter()
            .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, candidate)| format!(" did you mean `{candidate}`?"))
            .unwrap_or_default();
        format!("unknown option `{name}` for #[{attr}];{suggestion} valid options: {list}")
    };
    errors.push(Error::custom(message).with_span(path));
    false
}

fn read_value(
    options: &mut Options,
    name: &str,
    value: Expr,
    errors: &mut darling::error::Accumulator,
) {
    let span = value.span();
    let wrong = |errors: &mut darling::error::Accumulator, detail: String| {
        errors.push(Error::custom(detail).with_span(&value));
    };
    match name {
        "maxsize" => match positive_int(&value) {
            Ok(n) => options.maxsize = Some(Spanned { value: n, span }),
            Err(e) => wrong(errors, format!("`maxsize` {e}; expected {}", example(name))),
        },
        "max_bytes" | "disk_max_bytes" => {
            let parsed = match &value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => units::parse_size_bytes(&s.value()),
                _ => positive_int(&value),
            };
            match parsed {
                Ok(0) => wrong(errors, format!("`{name}` must be greater than 0")),
                Ok(n) => {
                    let slot = if name == "max_bytes" {
                        &mut options.max_bytes
                    } else {
                        &mut options.disk_max_bytes
                    };
                    *slot = Some(Spanned { value: n, span });
                }
                Err(e) => wrong(errors, format!("`{name}`: {e}; expected {}", example(name))),
            }
        }
        "backend" => match string(&value) {
            Some(b) if b == "disk" => options.backend = Some(Spanned { value: b, span }),
            Some(b) if b == "redis" => wrong(
                errors,
                "`backend = \"redis\"` needs the `redis` feature of twat-cache, which this build does not have: enable it with `twat-cache = { version = \"…\", features = [\"redis\"] }`".into(),
            ),
            Some(b) => wrong(
                errors,
                format!(
                    "unknown backend \"{b}\"; expected {} (one of {})",
                    example(name),
                    BACKENDS.join(", ")
                ),
            ),
            None => wrong(errors, format!("`backend` expects {}", example(name))),
        },
        "ttl" => {
            let parsed = match &value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => units::parse_duration_nanos(&s.value()),
                _ => positive_int(&value).and_then(|secs| {
                    secs.checked_mul(1_000_000_000)
                        .ok_or_else(|| "is too long".to_string())
                }),
            };
            match parsed {
                Ok(0) => wrong(errors, "`ttl` must be longer than 0".into()),
                Ok(n) => options.ttl_nanos = Some(Spanned { value: n, span }),
                Err(e) => wrong(errors, format!("`ttl`: {e}; expected {}", example(name))),
            }
        }
        "policy" => match string(&value) {
            Some(p) if POLICIES.contains(&p.to_ascii_lowercase().as_str()) => {
                options.policy = Some(Spanned {
                    value: p.to_ascii_lowercase(),
                    span,
                })
            }
            Some(p) => {
                let close = POLICIES
                    .iter()
                    .find(|c| strsim::jaro_winkler(&p, c) > 0.8)
                    .map(|c| format!(" did you mean \"{c}\"?"))
                    .unwrap_or_default();
                wrong(
                    errors,
                    format!("unknown policy \"{p}\";{close} expected {}", example(name)),
                )
            }
            None => wrong(errors, format!("`policy` expects {}", example(name))),
        },
        "key" => options.key = Some(value),
        "name" => match string(&value) {
            Some(s) if !s.trim().is_empty() => options.name = Some(Spanned { value: s, span }),
            _ => wrong(errors, format!("`name` expects {}", example(name))),
        },
        "folder" => match string(&value) {
            Some(f) if is_folder_name(&f) => options.folder = Some(Spanned { value: f, span }),
            Some(f) => wrong(
                errors,
                format!(
                    "`folder = \"{f}\"` is not a plain sub-folder name; expected {}",
                    example(name)
                ),
            ),
            None => wrong(errors, format!("`folder` expects {}", example(name))),
        },
        "version" => match string(&value) {
            Some(v) if !v.trim().is_empty() => options.version = Some(Spanned { value: v, span }),
            _ => wrong(errors, format!("`version` expects {}", example(name))),
        },
        "refresh" | "cache_none" | "single_flight" | "compress" => match boolean(&value) {
            Some(b) => {
                let slot = match name {
                    "refresh" => &mut options.refresh,
                    "cache_none" => &mut options.cache_none,
                    "compress" => &mut options.compress,
                    _ => &mut options.single_flight,
                };
                *slot = Some(Spanned { value: b, span });
            }
            None => wrong(errors, format!("`{name}` expects `true` or `false`")),
        },
        _ => unreachable!("check_name admits only known options"),
    }
}

/// `[A-Za-z0-9._-]+`, and not `.` or `..` (which would leave the cache root).
fn is_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn positive_int(value: &Expr) -> Result<u64, String> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => match int.base10_parse::<u64>() {
            Ok(0) => Err("must be greater than 0".into()),
            Ok(n) => Ok(n),
            Err(_) => Err("is not a valid integer".into()),
        },
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => Err("must be positive".into()),
        _ => Err("expects an integer literal".into()),
    }
}

fn string(value: &Expr) -> Option<String> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    }
}

fn boolean(value: &Expr) -> Option<bool> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Some(b.value),
        _ => None,
    }
}
