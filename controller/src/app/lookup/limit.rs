//! The public lookup's rate limit per client: the generic cell rate algorithm (GCRA, ITU-T
//! I.371 §4.4.2, "virtual scheduling"), one theoretical arrival time per client, so a client
//! may send `burst` lookups at once and then `per_second` a second.
//!
//! A client is its IPv4 address, or the /64 of its IPv6 address (one subscriber's network:
//! RFC 6177 assigns at least a /64 per site, so a single host can change addresses within it
//! at will). At most [`MAX_CLIENTS`] are tracked; clients whose allowance is back to full are
//! forgotten first, so the memory stays bounded under a flood of addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Clients tracked at most.
pub const MAX_CLIENTS: usize = 100_000;

/// A per-client rate limit.
#[derive(Debug)]
pub struct RateLimiter {
    /// Time between lookups at the steady rate, and the burst's tolerance; `None`: no limit.
    cell: Option<(Duration, Duration)>,
    clients: Mutex<HashMap<IpAddr, Instant>>,
}

impl RateLimiter {
    /// `per_second` lookups a second per client after a `burst`; `per_second` 0: no limit.
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        let cell = (per_second > 0).then(|| {
            let interval = Duration::from_secs(1) / per_second;
            (interval, interval * burst.saturating_sub(1))
        });
        RateLimiter {
            cell,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one lookup of `client` at `now`, or says how long until it would be taken.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let Some((interval, tolerance)) = self.cell else {
            return Ok(());
        };
        let key = client_key(client);
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&key) {
            // Forget clients whose allowance is full again: they are as if never seen.
            clients.retain(|_, arrival| *arrival > now);
            if clients.len() >= MAX_CLIENTS {
                // Every tracked client is inside its burst: a new one is let through untracked
                // rather than growing the table.
                return Ok(());
            }
        }
        let arrival = clients.get(&key).copied().unwrap_or(now).max(now);
        let ahead = arrival - now;
        if ahead > tolerance {
            return Err(ahead - tolerance);
        }
        clients.insert(key, arrival + interval);
        Ok(())
    }
}

/// IPv4 as is; IPv6 by its /64 (an IPv4-mapped address as the IPv4 one).
fn client_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate_per_client() {
        let limiter = RateLimiter::new(10, 3);
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().expect("an address");
        let b: IpAddr = "192.0.2.2".parse().expect("an address");
        for _ in 0..3 {
            assert_eq!(limiter.check(a, t0), Ok(()));
        }
        let wait = limiter.check(a, t0).expect_err("the burst is spent");
        assert_eq!(wait, Duration::from_millis(100));
        assert_eq!(
            limiter.check(b, t0),
            Ok(()),
            "another client is not held up"
        );
        assert_eq!(limiter.check(a, t0 + Duration::from_millis(100)), Ok(()));
        assert!(limiter.check(a, t0 + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn ipv6_clients_are_their_64_and_zero_means_no_limit() {
        let limiter = RateLimiter::new(1, 1);
        let t0 = Instant::now();
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("an address");
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("an address");
        assert_eq!(limiter.check(one, t0), Ok(()));
        assert!(limiter.check(same_64, t0).is_err());
        let off = RateLimiter::new(0, 0);
        for _ in 0..1000 {
            assert_eq!(off.check(one, t0), Ok(()));
        }
    }
}
