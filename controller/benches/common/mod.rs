//! What the HTTP benches share: CPU time by thread, the machine's load, percentiles.

#![allow(dead_code)] // each bench uses its own part

use std::collections::BTreeMap;
use std::time::Duration;

/// CPU time (user + system) in a /proc stat file (clock ticks of 1/100 s on Linux).
pub(crate) fn cpu_of(stat: &str) -> Duration {
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of proc(5) (utime, stime) are 12th and 13th after the name.
    let ticks: u64 = [11usize, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// CPU time of this process so far.
pub(crate) fn cpu_time() -> Duration {
    cpu_of(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// The machine's load average over 1, 5 and 15 minutes: the machine is shared, so every figure
/// is printed with it.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What each thread has used, by thread id: sampled while a run goes, so threads that end
/// with it keep their last figure.
#[derive(Debug, Default, Clone)]
pub(crate) struct ThreadCpu(BTreeMap<String, (String, Duration)>);

impl ThreadCpu {
    /// Takes every thread's figure now.
    pub(crate) fn sample(&mut self) {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return;
        };
        for task in tasks.flatten() {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            let id = task.file_name().to_string_lossy().into_owned();
            self.0.insert(id, (name.trim().to_owned(), cpu_of(&stat)));
        }
    }

    /// CPU time by the first of `sides` whose prefixes match a thread's name; the last side
    /// takes the threads no prefix matches.
    pub(crate) fn by_side<'a>(&self, sides: &[(&'a str, &[&str])]) -> Vec<(&'a str, Duration)> {
        let mut totals: Vec<(&str, Duration)> = sides
            .iter()
            .map(|(side, _)| (*side, Duration::ZERO))
            .collect();
        for (name, cpu) in self.0.values() {
            let side = sides
                .iter()
                .position(|(_, prefixes)| prefixes.iter().any(|p| name.starts_with(p)))
                .unwrap_or(sides.len() - 1);
            totals[side].1 += *cpu;
        }
        totals
    }

    /// The CPU each thread used since `before`.
    pub(crate) fn since(&self, before: &ThreadCpu) -> ThreadCpu {
        ThreadCpu(
            self.0
                .iter()
                .map(|(id, (name, cpu))| {
                    let earlier = before.0.get(id).map_or(Duration::ZERO, |(_, c)| *c);
                    (id.clone(), (name.clone(), cpu.saturating_sub(earlier)))
                })
                .collect(),
        )
    }
}

/// Latencies in microseconds, summarised.
#[derive(Debug, Default, Clone)]
pub(crate) struct Latencies(pub(crate) Vec<u64>);

impl Latencies {
    /// The `q` quantile (0..=1), nearest rank; 0 when empty.
    pub(crate) fn quantile(&mut self, q: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        self.0.sort_unstable();
        let rank = ((q * self.0.len() as f64).ceil() as usize).clamp(1, self.0.len());
        self.0[rank - 1]
    }

    /// p50, p99, max as milliseconds with two decimals.
    pub(crate) fn summary(&mut self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        format!(
            "{:.2} ms | {:.2} ms | {:.2} ms",
            ms(self.quantile(0.5)),
            ms(self.quantile(0.99)),
            ms(self.quantile(1.0))
        )
    }
}
