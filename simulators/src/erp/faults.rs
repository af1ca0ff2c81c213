//! The receiver's faults: what a real ERP endpoint does to a sender on a bad day, drawn per
//! request from a seeded generator so a run repeats exactly with the same seed.
//!
//! Each kind exercises one branch of the sender's contract (SPEC §6): 500 and 429 are retried
//! with back-off, 503 carries `Retry-After` which the sender must honour, a slow answer tests
//! the sender's timeout, a reset before the commit must be retried, and a reset after the
//! commit is the hard one: the document *was* accepted, the sender does not know, and its retry
//! (same key, same body) must get the replayed answer, not a second acceptance.

use std::collections::VecDeque;

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// 500 Internal Server Error, nothing stored.
    InternalError,
    /// 503 Service Unavailable with `Retry-After`, nothing stored.
    Unavailable,
    /// 429 Too Many Requests, nothing stored.
    TooManyRequests,
    /// The answer comes after the configured delay (the request is then handled normally).
    Slow,
    /// The connection is reset before anything is stored.
    ResetBeforeCommit,
    /// The document is handled (and stored, when valid), then the connection is reset
    /// instead of answering.
    ResetAfterCommit,
}

impl FaultKind {
    /// Every kind, in the order of the rate table.
    pub const ALL: [FaultKind; 6] = [
        FaultKind::InternalError,
        FaultKind::Unavailable,
        FaultKind::TooManyRequests,
        FaultKind::Slow,
        FaultKind::ResetBeforeCommit,
        FaultKind::ResetAfterCommit,
    ];

    /// The kind's name in status output and `--fault-script`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::InternalError => "500",
            FaultKind::Unavailable => "503",
            FaultKind::TooManyRequests => "429",
            FaultKind::Slow => "slow",
            FaultKind::ResetBeforeCommit => "reset-before-commit",
            FaultKind::ResetAfterCommit => "reset-after-commit",
        }
    }

    /// The kind named `name` (see [`FaultKind::name`]).
    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// How often each fault is drawn: `none`, `default` or `heavy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultProfile {
    /// No faults.
    None,
    /// About one request in six faulted (2–3 % per kind): a receiver having an ordinary day.
    Default,
    /// About one request in two faulted (8 % per kind): a receiver in trouble.
    Heavy,
}

impl FaultProfile {
    /// The profile named `name`.
    pub fn from_name(name: &str) -> Option<FaultProfile> {
        match name {
            "none" => Some(FaultProfile::None),
            "default" => Some(FaultProfile::Default),
            "heavy" => Some(FaultProfile::Heavy),
            _ => None,
        }
    }

    /// The probability of each kind, in [`FaultKind::ALL`] order.
    fn rates(self) -> [f64; 6] {
        match self {
            FaultProfile::None => [0.0; 6],
            FaultProfile::Default => [0.03, 0.03, 0.03, 0.03, 0.02, 0.02],
            FaultProfile::Heavy => [0.08; 6],
        }
    }
}

/// The per-request fault draw: a script first (for tests that need one exact sequence), then
/// the profile's rates from a seeded xorshift64* stream (as the camera and the twin draw).
#[derive(Debug, Clone)]
pub struct Faults {
    rates: [f64; 6],
    state: u64,
    script: VecDeque<Option<FaultKind>>,
}

impl Faults {
    /// Draws from `profile` with `seed`; the same seed gives the same sequence.
    pub fn new(profile: FaultProfile, seed: u64) -> Self {
        Faults {
            rates: profile.rates(),
            // xorshift has one fixed point, 0; `| 1` keeps every seed off it.
            state: seed | 1,
            script: VecDeque::new(),
        }
    }

    /// Plays `script` first, one entry per request (`None`: no fault), then the profile.
    pub fn with_script(mut self, script: impl IntoIterator<Item = Option<FaultKind>>) -> Self {
        self.script.extend(script);
        self
    }

    /// The fault for the next request, if any.
    pub fn draw(&mut self) -> Option<FaultKind> {
        if let Some(scripted) = self.script.pop_front() {
            return scripted;
        }
        if self.rates.iter().all(|rate| *rate == 0.0) {
            return None;
        }
        let draw = self.next_unit();
        let mut edge = 0.0;
        for (kind, rate) in FaultKind::ALL.into_iter().zip(self.rates) {
            edge += rate;
            if draw < edge {
                return Some(kind);
            }
        }
        None
    }

    /// xorshift64*: a repeatable draw in [0, 1).
    fn next_unit(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(profile: FaultProfile, seed: u64, n: usize) -> Vec<Option<FaultKind>> {
        let mut faults = Faults::new(profile, seed);
        (0..n).map(|_| faults.draw()).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        assert_eq!(
            sequence(FaultProfile::Heavy, 7, 200),
            sequence(FaultProfile::Heavy, 7, 200)
        );
        assert_ne!(
            sequence(FaultProfile::Heavy, 7, 200),
            sequence(FaultProfile::Heavy, 8, 200)
        );
    }

    #[test]
    fn the_profiles_draw_at_their_rates() {
        let n = 20_000;
        let faulted = |profile| {
            sequence(profile, 3, n)
                .iter()
                .filter(|fault| fault.is_some())
                .count() as f64
                / n as f64
        };
        assert_eq!(faulted(FaultProfile::None), 0.0);
        let default = faulted(FaultProfile::Default);
        assert!((0.14..0.18).contains(&default), "{default}");
        let heavy = faulted(FaultProfile::Heavy);
        assert!((0.45..0.51).contains(&heavy), "{heavy}");
        let drawn = sequence(FaultProfile::Heavy, 3, 1_000);
        for kind in FaultKind::ALL {
            assert!(drawn.contains(&Some(kind)), "{kind:?} never drawn");
        }
    }

    #[test]
    fn a_script_plays_first() {
        let mut faults = Faults::new(FaultProfile::None, 1).with_script([
            Some(FaultKind::Slow),
            None,
            Some(FaultKind::Unavailable),
        ]);
        assert_eq!(faults.draw(), Some(FaultKind::Slow));
        assert_eq!(faults.draw(), None);
        assert_eq!(faults.draw(), Some(FaultKind::Unavailable));
        assert_eq!(faults.draw(), None);
    }

    #[test]
    fn names_round_trip() {
        for kind in FaultKind::ALL {
            assert_eq!(FaultKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(FaultProfile::from_name("heavy"), Some(FaultProfile::Heavy));
        assert_eq!(FaultProfile::from_name("light"), None);
    }
}
