//! Runtimes on threads of their own. A line's tasks run on one worker thread apart from the
//! HTTP API, reports and uploads (the `run` command, [`line`]); the twin's side of
//! a simulated run on another (`commissioning`), as the machines it stands for are separate
//! from the controller.
//!
//! Why a line gets one worker: with two, each of a line's messages (a PLC poll, a camera
//! result, a store answer) wakes whichever worker is parked and the other steals the work,
//! and at 32 lines a runtime of one worker cost 4–8 % less CPU and decided twice as fast at
//! p99 (docs/performance.md, "Controller profile", sessions 23 and 24). The HTTP API, a
//! report or an upload then never delays a decision either: they run on the process's other
//! runtime.

use std::future::Future;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

/// The line's runtime: one worker thread, named `line`.
pub fn line() -> std::io::Result<OwnRuntime> {
    OwnRuntime::start("line", 1)
}

/// A multi-thread runtime of `workers` threads named `name`, shut down in the background
/// when dropped: it is dropped from async code (a run's end), where a blocking shutdown would
/// panic, and what still runs on it then is the run's leftovers.
#[derive(Debug)]
pub struct OwnRuntime(Option<Runtime>);

impl OwnRuntime {
    /// Starts the runtime's threads.
    pub fn start(name: &str, workers: usize) -> std::io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name(name)
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    /// Runs `future` on this runtime (on the current one only while it is being dropped).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.0 {
            Some(runtime) => runtime.spawn(future),
            None => tokio::spawn(future),
        }
    }

    /// A handle to spawn on it from elsewhere (`commissioning::Options::line_runtime`).
    pub fn handle(&self) -> Option<Handle> {
        self.0.as_ref().map(|runtime| runtime.handle().clone())
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lines_tasks_run_on_its_own_named_thread() {
        let line = line().expect("the line's runtime");
        let outer = Builder::new_current_thread()
            .build()
            .expect("the outer runtime");
        let name = outer.block_on(async {
            line.spawn(async { std::thread::current().name().map(str::to_owned) })
                .await
                .expect("the task ran")
        });
        assert_eq!(name.as_deref(), Some("line"));
        // Dropped from async code, as a run's end drops it: no panic.
        outer.block_on(async move { drop(line) });
    }
}
