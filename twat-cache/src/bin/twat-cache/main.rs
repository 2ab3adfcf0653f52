//! `twat-cache`: see, measure, inspect and clean the caches under a cache root.
//!
//! ```text
//! twat-cache dir | list | stats [NAME] | inspect NAME | clear [NAME | --all] [--yes]
//!            | prune [NAME] [--max-bytes SIZE] [--dry-run]      [--root DIR] [--json]
//! ```
//!
//! NAME is a folder under the root (`geo`) or one cache of it (`geo/app::geocode`). Problems
//! with what the user asked for (a bad root, an unknown NAME, a bad SIZE) are one line on
//! stderr and exit code 2, with nothing deleted; a cache that cannot be changed (a sled
//! database another process holds) is reported, the others are still done, and the exit code
//! is 1.

mod render;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use twat_cache::disk::inspect::{self, CacheReport, InspectError, PruneOptions};

/// The command line. `--help` opens with what the command does (its own `about`, not the
/// library's description from Cargo.toml, which a bare `about` would take).
#[derive(Parser)]
#[command(
    name = "twat-cache",
    version,
    about = "See, measure, inspect and clean the caches under the cache root.",
    long_about = "See, measure, inspect and clean the caches under the cache root.\n\n\
        Lists every cache twat-cache keeps there (#[bcache] sled trees, #[fcache] and \
        #[ucache] file stores, and with --redis the keys on a Redis server) with their \
        entries, sizes, ages and stale namespaces; shows a few entries of one; clears them; \
        and prunes expired entries, stale namespaces and dead writers' temporary files."
)]
struct Cli {
    /// The cache root (default: `TWAT_CACHE_DIR`, else the platform cache dir + `twat-cache`).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Print JSON (a stable schema; see the README) instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Also the caches on this Redis server (`redis://host:port`; list, stats, inspect and
    /// clear; Redis drops expired keys itself, so prune leaves it alone).
    #[cfg(feature = "redis")]
    #[arg(long, global = true, value_name = "URL")]
    redis: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the cache root.
    Dir,
    /// Every cache: entries, size, ages, expired entries, stale namespaces.
    List,
    /// The same numbers summed, for every cache or for NAME.
    Stats {
        /// A folder (`geo`) or one cache (`geo/app::geocode`).
        name: Option<String>,
    },
    /// A few entries of NAME: key, size, age, expiry, compression.
    Inspect {
        /// A folder (`geo`) or one cache (`geo/app::geocode`).
        name: String,
        /// How many entries to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Remove every entry of NAME, or of every cache with --all.
    Clear {
        /// A folder (`geo`) or one cache (`geo/app::geocode`).
        name: Option<String>,
        /// Every cache under the root.
        #[arg(long, conflicts_with = "name")]
        all: bool,
        /// Do not ask (it asks only when run on a terminal).
        #[arg(long, short)]
        yes: bool,
    },
    /// Remove expired entries, stale namespaces and dead writers' temporary files, then the
    /// least recently used entries down to --max-bytes.
    Prune {
        /// A folder (`geo`) or one cache (`geo/app::geocode`); default: every cache.
        name: Option<String>,
        /// Keep at most this much (`500MiB`, `2GB`, bytes).
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_bytes: Option<u64>,
        /// Show what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| format!("`{text}` is not a size ({e}); e.g. 500MiB, 2GB, 1048576"))
}

/// How a command ended, beyond success.
enum Failure {
    /// What the user asked for is wrong: exit 2, nothing was changed.
    Usage(String),
    /// Some caches could not be changed: exit 1.
    Partial(String),
}

impl From<InspectError> for Failure {
    fn from(e: InspectError) -> Self {
        match e {
            InspectError::InUse(_) | InspectError::Failed(_) => Failure::Partial(e.to_string()),
            _ => Failure::Usage(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("twat-cache: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Partial(message)) => {
            eprintln!("twat-cache: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let root = cli.root.clone().unwrap_or_else(twat_cache::cache_root);
    let out = render::Output { json: cli.json };
    if let Command::Dir = cli.command {
        out.dir(&root);
        return Ok(());
    }
    #[allow(unused_mut)]
    let mut caches = inspect::scan_root(&root)?;
    #[cfg(feature = "redis")]
    if let Some(url) = &cli.redis {
        caches.extend(inspect::redis_keys::scan(url)?);
    }
    match &cli.command {
        Command::Dir => unreachable!("handled above"),
        Command::List => out.list(&root, &caches),
        Command::Stats { name } => {
            let selected = select(&caches, name.as_deref())?;
            out.stats(&root, name.as_deref(), &selected);
        }
        Command::Inspect { name, limit } => {
            let selected = select(&caches, Some(name))?;
            let mut shown = Vec::new();
            for cache in &selected {
                shown.push((*cache, inspect::entries(cache, *limit)?));
            }
            out.inspect(&shown);
        }
        Command::Clear { name, all, yes } => {
            let selected = match (name, all) {
                (Some(name), _) => select(&caches, Some(name))?,
                (None, true) => caches.iter().collect(),
                (None, false) => {
                    return Err(Failure::Usage(
                        "say what to clear: a NAME (`geo`, `geo/app::geocode`) or --all".into(),
                    ));
                }
            };
            if !*yes && !confirm(&selected)? {
                eprintln!("nothing removed");
                return Ok(());
            }
            clear(&out, &selected)?;
        }
        Command::Prune {
            name,
            max_bytes,
            dry_run,
        } => {
            let selected = select(&caches, name.as_deref())?;
            let bar = render::spinner("pruning");
            let options = PruneOptions {
                max_bytes: *max_bytes,
                dry_run: *dry_run,
            };
            let freed = inspect::prune(&selected, options, &|n| bar.inc(n))?;
            bar.finish_and_clear();
            let skipped: Vec<&&CacheReport> = selected
                .iter()
                .filter(|c| c.state != inspect::CacheState::Ok)
                .collect();
            out.pruned(&freed, *dry_run, &skipped);
            if !skipped.is_empty() {
                return Err(Failure::Partial(format!(
                    "{} cache(s) left alone (in use or unreadable)",
                    skipped.len()
                )));
            }
        }
    }
    Ok(())
}

/// The caches `name` selects (all without a name); an unknown name is a usage error.
fn select<'a>(
    caches: &'a [CacheReport],
    name: Option<&str>,
) -> Result<Vec<&'a CacheReport>, Failure> {
    let Some(name) = name else {
        return Ok(caches.iter().collect());
    };
    let selected = inspect::select(caches, name);
    if selected.is_empty() {
        return Err(Failure::Usage(format!(
            "no cache named `{name}` (a folder under the root, or folder/<module::function>; see `twat-cache list`)"
        )));
    }
    Ok(selected)
}

/// Asks on a terminal; without one, never asks (scripts pass --yes or run unattended).
fn confirm(selected: &[&CacheReport]) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Ok(true);
    }
    let entries: u64 = selected.iter().map(|c| c.entries()).sum();
    let bytes: u64 = selected.iter().map(|c| c.bytes()).sum();
    eprint!(
        "remove {entries} entries ({}) from {} cache(s)? [y/N] ",
        render::size(bytes),
        selected.len()
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::Usage(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn clear(out: &render::Output, selected: &[&CacheReport]) -> Result<(), Failure> {
    let bar = render::progress(selected.len() as u64, "clearing");
    let mut cleared = Vec::new();
    let mut refused = Vec::new();
    for cache in selected {
        match inspect::clear(cache) {
            Ok(freed) => cleared.push((*cache, freed)),
            Err(e) => refused.push(format!("{}/{}: {e}", cache.folder, cache.name)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.cleared(&cleared);
    if refused.is_empty() {
        Ok(())
    } else {
        Err(Failure::Partial(refused.join("\ntwat-cache: ")))
    }
}
