//! The server's clock. Deadlines and call windows are computed in each plan's time zone from
//! this clock; a trial run (or a test) may start it at another instant, after which it
//! advances in real time.

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset: SignedDuration,
}

impl Clock {
    /// A clock that reads `start` now and then advances with real time.
    pub fn starting_at(start: Timestamp) -> Clock {
        Clock {
            offset: start.duration_since(Timestamp::now()),
        }
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::now()
            .checked_add(self.offset)
            .unwrap_or_else(|_| Timestamp::now())
    }
}

/// A timestamp as stored and sent: RFC 3339, UTC, microseconds (sorts as text).
pub fn stamp(t: Timestamp) -> String {
    format!("{t:.6}")
}
