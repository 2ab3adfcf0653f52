//! Running blocking storage calls off the executor: [`unblock`] hands a job to a few dedicated
//! threads and returns a future of its result, which any executor can poll (no runtime is
//! assumed or started). Used for stores on a server, whose round trips an `async fn` must not
//! spend blocking an executor thread (a current-thread runtime would stop serving its timers).
//!
//! A job keeps running if its future is dropped; its result is then dropped on the worker.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

/// Worker threads. Jobs are short (each bounded by the store's timeout); more callers queue.
const WORKERS: usize = 4;

type Job = Box<dyn FnOnce() + Send>;

/// Runs `job` on a worker thread; resolves to its result.
pub(crate) fn unblock<T, F>(job: F) -> Unblocked<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        waker: None,
    }));
    let filled = slot.clone();
    let run: Job = Box::new(move || {
        let value = job();
        let waker = {
            let mut slot = filled.lock().unwrap_or_else(|e| e.into_inner());
            slot.value = Some(value);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    });
    if queue().send(run).is_err() {
        unreachable!("the workers hold the receiver for the life of the process");
    }
    Unblocked { slot }
}

/// Runs `job` on a worker thread without waiting for it — at once, on this thread, if this
/// is a worker already (its caller is off the executor, and a second hop would only let the
/// job finish after the job that handed it over).
pub(crate) fn detach(job: impl FnOnce() + Send + 'static) {
    if ON_WORKER.get() {
        job();
    } else {
        drop(unblock(job)); // a dropped future's job still runs (see the module docs)
    }
}

thread_local! {
    /// Whether this thread is one of the workers.
    static ON_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// The future of [`unblock`].
pub(crate) struct Unblocked<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Future for Unblocked<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match slot.value.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// The job queue, with its workers started on first use.
fn queue() -> &'static Sender<Job> {
    static QUEUE: OnceLock<Sender<Job>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..WORKERS {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("twat-cache-io-{i}"))
                .spawn(move || work(&receiver))
                .expect("a storage worker thread starts");
        }
        sender
    })
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    ON_WORKER.set(true);
    loop {
        let job = {
            let receiver = receiver.lock().unwrap_or_else(|e| e.into_inner());
            receiver.recv()
        };
        match job {
            // A panicking job must not take the worker with it: its future never resolves,
            // as a panic in the caller's own thread would not have returned either.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unblock;

    #[test]
    fn jobs_run_off_the_calling_thread_and_resolve_under_any_executor() {
        let caller = std::thread::current().id();
        let (value, worker) =
            futures::executor::block_on(unblock(move || (6 * 7, std::thread::current().id())));
        assert_eq!(value, 42);
        assert_ne!(worker, caller);
        let many = futures::executor::block_on(futures::future::join_all(
            (0..32).map(|i| unblock(move || i * 2)),
        ));
        assert_eq!(many, (0..32).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_detached_job_runs_on_a_worker_and_a_worker_runs_its_own_at_once() {
        let caller = std::thread::current().id();
        let (sender, receiver) = std::sync::mpsc::channel();
        super::detach(move || {
            let worker = std::thread::current().id();
            let (inner, ran) = std::sync::mpsc::channel();
            super::detach(move || inner.send(std::thread::current().id()).unwrap());
            // Already run: on this worker, before `detach` returned.
            sender.send((worker, ran.try_recv().ok())).unwrap();
        });
        let (worker, inner) = receiver.recv().unwrap();
        assert_ne!(worker, caller);
        assert_eq!(inner, Some(worker));
    }
}
