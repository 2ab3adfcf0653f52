//! Single-flight: concurrent misses of one key run the computation once.
//!
//! The first caller to miss registers a [`Flight`] for the key and becomes its leader; later callers
//! find the flight and wait (blocking on a condvar, or as a future registering its waker — no
//! executor is assumed). When the leader finishes — by storing a value, by returning an uncacheable
//! result, by panicking or by being cancelled — its guard marks the flight done and wakes everyone;
//! waiters then look the key up again and, if nothing was stored, one of them leads the next try.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::{Condvar, Mutex};

/// One in-progress computation that others may wait for.
#[derive(Default)]
pub(crate) struct Flight {
    state: Mutex<FlightState>,
    finished: Condvar,
}

#[derive(Default)]
struct FlightState {
    done: bool,
    wakers: Vec<Waker>,
}

impl Flight {
    /// Blocks the calling thread until the leader is done.
    pub fn wait(&self) {
        let mut state = self.state.lock();
        while !state.done {
            self.finished.wait(&mut state);
        }
    }

    /// Resolves when the leader is done.
    pub fn wait_async(self: Arc<Self>) -> FlightWait {
        FlightWait { flight: self }
    }

    /// Marks the flight done and wakes every waiter, sync and async.
    pub fn finish(&self) {
        let wakers = {
            let mut state = self.state.lock();
            state.done = true;
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
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.flight.state.lock();
        if state.done {
            return Poll::Ready(());
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
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
        let flight = Arc::new(Flight::default());
        flights.push((hash, flight.clone()));
        Join::Lead(flight)
    }

    /// Removes a finished flight and wakes its waiters.
    pub fn land(&self, flight: &Arc<Flight>) {
        self.flights.lock().retain(|(_, f)| !Arc::ptr_eq(f, flight));
        flight.finish();
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
        let t = std::thread::spawn(move || waiting.wait());
        table.land(&flight);
        t.join().unwrap();
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
        table.land(&flight);
        t.join().unwrap();
    }
}
