use std::net::{IpAddr, Ipv6Addr};

use crate::settings::PasswordOptions;
use crate::store::RequestStats;

/// Reset requests are counted over the last hour.
pub const WINDOW_SECONDS: i64 = 3600;

/// The key a client address is counted under by the per-IP limits. An IPv6
/// client usually holds a whole /64 and can pick any address in it, so it
/// counts as its /64; an IPv4-mapped IPv6 address counts as its IPv4 address.
pub fn limit_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::MAX >> 64);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
    }
}

/// Magento's rule: at most N accepted requests per hour, and at least M minutes
/// since the last one, for each counted key (IP, email). 0 turns a rule off.
pub fn allows(stats: &RequestStats, now: i64, options: &PasswordOptions) -> bool {
    let max = options.max_requests_per_hour;
    let gap = options.min_minutes_between_requests * 60;
    [
        (stats.ip_count, stats.ip_latest),
        (stats.email_count, stats.email_latest),
    ]
    .into_iter()
    .all(|(count, latest)| {
        let under_hourly = max == 0 || count < max;
        let spaced = gap == 0 || latest.is_none_or(|t| now - t >= gap);
        under_hourly && spaced
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> String {
        limit_key(ip.parse().unwrap())
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("::1"), "::/64");
    }

    #[test]
    fn hourly_and_interval_limits() {
        let options = PasswordOptions::default();
        let fresh = RequestStats::default();
        assert!(allows(&fresh, 10_000, &options));
        let recent = RequestStats {
            email_count: 1,
            email_latest: Some(10_000 - 599),
            ..fresh
        };
        assert!(!allows(&recent, 10_000, &options));
        let spaced = RequestStats {
            email_count: 4,
            email_latest: Some(10_000 - 600),
            ..fresh
        };
        assert!(allows(&spaced, 10_000, &options));
        let full = RequestStats {
            ip_count: 5,
            ip_latest: Some(1),
            ..fresh
        };
        assert!(!allows(&full, 10_000, &options));
        let off = PasswordOptions {
            max_requests_per_hour: 0,
            min_minutes_between_requests: 0,
            ..options
        };
        assert!(allows(&full, 10_000, &off));
    }
}
