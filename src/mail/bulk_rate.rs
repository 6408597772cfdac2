//! The pace of bulk mail: at most BULK_MAIL_PER_MINUTE messages of bulk jobs
//! leave this instance per minute, so a 100,000-customer reset does not flood
//! the SMTP relay. Single requests' mail is never held back.

use std::time::Duration;

use tokio::time::Instant;

pub struct BulkRate {
    interval: Duration,
    next: Instant,
}

impl BulkRate {
    pub fn per_minute(messages: u32) -> BulkRate {
        BulkRate {
            interval: Duration::from_secs(60) / messages.max(1),
            next: Instant::now(),
        }
    }

    /// Whether a bulk message may go now.
    pub fn allows(&self) -> bool {
        Instant::now() >= self.next
    }

    /// A bulk message went: the next may go one interval later.
    pub fn sent_one(&mut self) {
        self.next = Instant::now() + self.interval;
    }

    /// How long to wait before bulk mail may go again (zero when it may now).
    pub fn wait(&self) -> Duration {
        self.next.saturating_duration_since(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_interval() {
        let mut rate = BulkRate::per_minute(60);
        assert!(rate.allows());
        rate.sent_one();
        assert!(!rate.allows());
        assert!(rate.wait() > Duration::from_millis(900));
        assert!(rate.wait() <= Duration::from_secs(1));
        // Zero would divide by zero: it means one a minute.
        assert_eq!(BulkRate::per_minute(0).interval, Duration::from_secs(60));
    }
}
