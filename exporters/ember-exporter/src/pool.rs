//! A fixed-size pool of threads for blocking collector work.
//!
//! The pool never grows: a job that blocks forever holds one thread forever, and the
//! [`Scheduler`](crate::Scheduler) makes sure a collector has at most one job in the
//! pool at a time, so stuck collectors cannot take more threads than there are
//! collectors. Threads are not joined on drop, since a stuck one would never return;
//! idle ones exit once the pool is dropped.

use std::collections::VecDeque;
use std::sync::Arc;

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
    threads: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads)
            .finish()
    }
}

impl Pool {
    /// Starts `threads` worker threads (at least one).
    pub(crate) fn new(threads: usize) -> Result<Pool, Error> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared::default());
        for i in 0..threads {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("ember-collector-{i}"))
                .spawn(move || worker(&shared))
                .map_err(Error::Thread)?;
        }
        Ok(Pool { shared, threads })
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
