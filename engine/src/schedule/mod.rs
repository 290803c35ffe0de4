//! The scheduler: dates of every item from durations, dependencies, constraints and the
//! plan's working-day calendar (critical path method).

pub mod calendar;
pub mod cpm;

pub use calendar::{Day, WorkCalendar, date_of, day_of};
pub use cpm::{Driver, ItemSchedule, Options, Schedule, schedule};
