//! A small pool of threads for blocking collector work.
//!
//! A job that blocks forever holds one thread forever. The
//! [`Scheduler`](crate::Scheduler) makes sure a collector has at most one job in the
//! pool at a time, and grows the pool by one thread per stuck collector
//! ([`Pool::grow_to`]), so the others keep their threads while stuck collectors take at
//! most one thread each. The pool never shrinks. Threads are not joined on drop, since a
//! stuck one would never return; idle ones exit once the pool is dropped.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::{Condvar, Mutex};

use crate::Error;

/// A unit of work for the pool.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// The thread pool; dropping it lets idle threads exit.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    threads: AtomicUsize,
    /// Serialises growth so that two scrapes do not both add the same thread.
    grow: Mutex<()>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads())
            .finish()
    }
}

impl Pool {
    /// Starts `threads` worker threads (at least one).
    pub(crate) fn new(threads: usize) -> Result<Pool, Error> {
        let pool = Pool {
            shared: Arc::new(Shared::default()),
            threads: AtomicUsize::new(0),
            grow: Mutex::new(()),
        };
        pool.grow_to(threads.max(1))?;
        Ok(pool)
    }

    /// The number of threads started.
    pub(crate) fn threads(&self) -> usize {
        self.threads.load(Ordering::Acquire)
    }

    /// Starts threads until there are at least `threads`.
    pub(crate) fn grow_to(&self, threads: usize) -> Result<(), Error> {
        let _one_at_a_time = self.grow.lock();
        while self.threads() < threads {
            let i = self.threads();
            let shared = Arc::clone(&self.shared);
            std::thread::Builder::new()
                .name(format!("ember-collector-{i}"))
                .spawn(move || worker(&shared))
                .map_err(Error::Thread)?;
            self.threads.store(i + 1, Ordering::Release);
        }
        Ok(())
    }

    /// Queues all `jobs` under one lock and wakes the threads once.
    pub(crate) fn execute_all(&self, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        let n = jobs.len();
        self.shared.queue.lock().jobs.extend(jobs);
        if n == 1 {
            self.shared.ready.notify_one();
        } else {
            self.shared.ready.notify_all();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.queue.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

fn worker(shared: &Shared) {
    loop {
        let job = {
            let mut q = shared.queue.lock();
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    break job;
                }
                if q.closed {
                    return;
                }
                shared.ready.wait(&mut q);
            }
        };
        job();
    }
}
