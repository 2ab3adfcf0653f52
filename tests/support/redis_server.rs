//! A `redis-server` of a test's own: on a free loopback port, no persistence, in a temporary
//! directory, stopped (SIGKILL) when dropped — or, for a server held in a `static` (never
//! dropped), when the test process exits.
//!
//! Where `redis-server` is not installed, [`RedisServer::start`] prints a loud SKIPPED line and
//! returns `None` — unless `TWAT_CACHE_REQUIRE_SERVERS` is set (`.ci/run` sets it and installs
//! the server), where a missing server fails the test instead of passing it unrun.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// The pids of the servers running now, killed at process exit (see [`kill_live_servers`]).
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Kills the servers still running when the process exits: statics are never dropped, and a
/// server a test binary kept in one outlived the run (found as stray servers after CI).
extern "C" fn kill_live_servers() {
    let live = LIVE.lock().map(|l| l.clone()).unwrap_or_default();
    for pid in live {
        // SAFETY: signals our own children; SIGCONT first, since a stopped one ignores SIGKILL
        // until continued.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGCONT);
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
}

fn track(pid: u32, running: bool) {
    static AT_EXIT: Once = Once::new();
    // SAFETY: registers a plain function without captures, once.
    AT_EXIT.call_once(|| unsafe {
        libc::atexit(kill_live_servers);
    });
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    live.retain(|&p| p != pid);
    if running {
        live.push(pid);
    }
}

/// A running test server.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    /// `--requirepass`: clients must authenticate (see [`RedisServer::start_with_password`]).
    password: Option<String>,
}

impl RedisServer {
    /// Starts a server for `test`, or says why not (see the module docs).
    pub fn start(test: &str) -> Option<Self> {
        Self::start_with(test, None)
    }

    /// [`RedisServer::start`] with `--requirepass password`: [`RedisServer::url`] then carries
    /// the password (`redis://:<password>@127.0.0.1:<port>`).
    pub fn start_with_password(test: &str, password: &str) -> Option<Self> {
        Self::start_with(test, Some(password.to_string()))
    }

    fn start_with(test: &str, password: Option<String>) -> Option<Self> {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            let required = std::env::var_os("TWAT_CACHE_REQUIRE_SERVERS").is_some();
            assert!(
                !required,
                "{test}: redis-server is not installed and TWAT_CACHE_REQUIRE_SERVERS is set"
            );
            eprintln!("=== SKIPPED {test}: redis-server is not installed ===");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self {
            child: None,
            port,
            dir: tempfile::tempdir().expect("a temp dir"),
            password,
        };
        server.restart();
        Some(server)
    }

    /// `redis://127.0.0.1:<port>` (`redis://:<password>@127.0.0.1:<port>` for a server started
    /// with a password).
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Kills the server at once (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            track(child.id(), false);
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers, as with a
    /// server stalled by a long command or a network that drops packets.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = self.child.as_ref().expect("a running server").id();
        // SAFETY: signals our own child process.
        let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
        assert_eq!(rc, 0, "signal {signal} to redis-server");
    }

    /// Starts the server again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(
                self.password
                    .as_deref()
                    .map(|password| ["--requirepass", password])
                    .into_iter()
                    .flatten(),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        track(child.id(), true);
        self.child = Some(child);
        let start = Instant::now();
        while !self.answers() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server on port {} never answered PING",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if let Some(password) = &self.password {
            let mut ok = [0u8; 5];
            let auth = format!("AUTH {password}\r\n");
            if stream.write_all(auth.as_bytes()).is_err()
                || stream.read_exact(&mut ok).is_err()
                || &ok != b"+OK\r\n"
            {
                return false;
            }
        }
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// A plain connection, for planting values and reading TTLs.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("a connection to the test server")
    }

    /// Every key matching `pattern`.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(pattern)
            .query(&mut self.connection())
            .expect("KEYS")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.resume(); // a stopped process cannot act on SIGKILL until continued
        }
        self.kill();
    }
}
