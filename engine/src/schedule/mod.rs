//! The scheduler: dates of every item from durations, dependencies, constraints and the
//! plan's working-day calendar (critical path method).

mod calendar;
mod cpm;
pub mod export;
pub mod query;
pub mod svg;

pub use calendar::{Day, WorkCalendar, date_of, day_of};
pub use cpm::{
    Driver, IndicatorValue, ItemSchedule, Move, Options, Schedule, WhatIf, schedule, what_if,
};
