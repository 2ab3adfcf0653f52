//! Single-flight: concurrent misses of one key run the computation once.
//!
//! The first caller to miss registers a [`Flight`] for the key and becomes its leader; later callers
//! find the flight and wait (blocking on a condvar, or as a future registering its waker — no
//! executor is assumed). When the leader finishes — by storing a value, by returning an uncacheable
//! result, by panicking or by being cancelled — its guard marks the flight done with its
//! [`Outcome`] and wakes everyone. After [`Outcome::Stored`] waiters look the key up again (and
//! hit); after [`Outcome::Abandoned`] (a panic, a cancellation) they look again and one of them
//! leads the retry; after [`Outcome::NotStored`] each runs its own computation at once, in
//! parallel — queueing them behind one another would make N callers of an uncacheable result
//! take N times as long.
//!
//! A thread never blocks on a flight it leads itself, nor on any flight while it is a rayon
//! worker: a rayon thread waiting in a nested `par_iter` steals other tasks, and a stolen call of
//! a key whose leader needs that very thread's unfinished work (or the leader itself) would
//! wait forever. Such a call computes on its own instead (async waiters are futures, which never
//! block a thread).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;

use parking_lot::{Condvar, Mutex};

/// How a leader finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A value was stored: waiters will find it.
    Stored,
    /// The leader's result is not stored (uncacheable, too large, or invalidated meanwhile):
    /// waiters compute their own, at once.
    NotStored,
    /// The leader gave up (a panic, a cancelled future): waiters retry, one of them leading.
    Abandoned,
}

/// One in-progress computation that others may wait for.
pub(crate) struct Flight {
    state: Mutex<FlightState>,
    finished: Condvar,
    leader: ThreadId,
}

#[derive(Default)]
struct FlightState {
    outcome: Option<Outcome>,
    wakers: Vec<Waker>,
}

impl Flight {
    fn new() -> Self {
        Self {
            state: Mutex::default(),
            finished: Condvar::new(),
            leader: std::thread::current().id(),
        }
    }

    /// Whether the calling thread may block until this flight lands: not if it leads the
    /// flight itself, nor if it is a rayon worker (see the module docs).
    pub fn may_block_current_thread(&self) -> bool {
        self.leader != std::thread::current().id() && rayon_core::current_thread_index().is_none()
    }

    /// Blocks the calling thread until the leader is done.
    pub fn wait(&self) -> Outcome {
        let mut state = self.state.lock();
        loop {
            if let Some(outcome) = state.outcome {
                return outcome;
            }
            self.finished.wait(&mut state);
        }
    }

    /// Resolves when the leader is done.
    pub fn wait_async(self: Arc<Self>) -> FlightWait {
        FlightWait { flight: self }
    }

    /// Marks the flight done and wakes every waiter, sync and async.
    fn finish(&self, outcome: Outcome) {
        let wakers = {
            let mut state = self.state.lock();
            state.outcome = Some(outcome);
            std::mem::take(&mut state.wakers)
        };
        self.finished.notify_all();
        for waker in wakers {
            waker.wake();
        }
    }
}

/// Future returned by [`Flight::wait_async`].
pub(crate) struct FlightWait {
    flight: Arc<Flight>,
}

impl Future for FlightWait {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut state = self.flight.state.lock();
        if let Some(outcome) = state.outcome {
            return Poll::Ready(outcome);
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// The single-flight loop every engine runs after a miss, written once. `attempt` looks the
/// key up and joins its flight: `Ok` with a hit or with a vacant entry this caller now leads, or
/// `Err` with the flight of the caller already computing it. `alone` makes a vacant entry this
/// caller fills without a flight (after a leader that stored nothing, or where blocking is not
/// allowed; see the module docs).
#[cold]
#[inline(never)]
pub(crate) fn settle<E>(
    mut attempt: impl FnMut() -> Result<E, Arc<Flight>>,
    alone: impl FnOnce() -> E,
) -> E {
    loop {
        match attempt() {
            Ok(entry) => return entry,
            Err(flight) => {
                if !flight.may_block_current_thread() || flight.wait() == Outcome::NotStored {
                    return alone();
                }
            }
        }
    }
}

/// [`settle`] for async callers: waiting is a future, never a blocked thread.
pub(crate) async fn settle_async<E>(
    mut attempt: impl FnMut() -> Result<E, Arc<Flight>>,
    alone: impl FnOnce() -> E,
) -> E {
    loop {
        match attempt() {
            Ok(entry) => return entry,
            Err(flight) => {
                if flight.wait_async().await == Outcome::NotStored {
                    return alone();
                }
            }
        }
    }
}

/// The flights of one shard, keyed by key hash.
///
/// Keying by the 64-bit hash alone means two different keys that collide share a flight: the
/// second waits needlessly, then looks its own key up again (with full key comparison) and leads.
/// That costs a wait, never a wrong value, and saves an owned-key clone per miss.
#[derive(Default)]
pub(crate) struct FlightTable {
    flights: Mutex<Vec<(u64, Arc<Flight>)>>,
}

/// What a caller that missed should do next.
pub(crate) enum Join {
    /// Nobody computes this key: the caller leads and must call [`FlightTable::land`] when done.
    Lead(Arc<Flight>),
    /// Someone else computes it: wait on the flight, then look up again.
    Wait(Arc<Flight>),
}

impl FlightTable {
    /// Joins the flight for `hash`, or starts one.
    pub fn join(&self, hash: u64) -> Join {
        let mut flights = self.flights.lock();
        if let Some((_, flight)) = flights.iter().find(|(h, _)| *h == hash) {
            return Join::Wait(flight.clone());
        }
        let flight = Arc::new(Flight::new());
        flights.push((hash, flight.clone()));
        Join::Lead(flight)
    }

    /// Removes a finished flight and wakes its waiters.
    pub fn land(&self, flight: &Arc<Flight>, outcome: Outcome) {
        self.flights.lock().retain(|(_, f)| !Arc::ptr_eq(f, flight));
        flight.finish(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_wake_when_leader_lands() {
        let table = FlightTable::default();
        let Join::Lead(flight) = table.join(1) else {
            panic!("first caller must lead")
        };
        let Join::Wait(waiting) = table.join(1) else {
            panic!("second caller must wait")
        };
        assert!(
            !flight.may_block_current_thread(),
            "the leader's own thread"
        );
        let t = std::thread::spawn(move || {
            assert!(waiting.may_block_current_thread());
            waiting.wait()
        });
        table.land(&flight, Outcome::Abandoned);
        assert_eq!(t.join().unwrap(), Outcome::Abandoned);
        assert!(matches!(table.join(1), Join::Lead(_)));
    }

    #[test]
    fn async_waiter_resolves() {
        let table = FlightTable::default();
        let Join::Lead(flight) = table.join(9) else {
            panic!()
        };
        let Join::Wait(w) = table.join(9) else {
            panic!()
        };
        let fut = w.wait_async();
        let t = std::thread::spawn(move || futures::executor::block_on(fut));
        std::thread::sleep(std::time::Duration::from_millis(10));
        table.land(&flight, Outcome::Stored);
        assert_eq!(t.join().unwrap(), Outcome::Stored);
    }
}
