//! The scheduler: dates of every item from durations, dependencies, constraints and the
//! plan's working-day calendar (critical path method).

mod calendar;
mod cpm;
pub mod export;
pub mod query;
pub mod svg;
pub mod timeline;

pub use calendar::{Day, WorkCalendar, date_of, day_of};
pub use cpm::{
    Driver, IndicatorValue, ItemSchedule, Move, Options, Schedule, WhatIf, schedule, what_if,
};
pub use export::Format;
pub use timeline::{Filter, FilterError, Matcher, Timeline, timeline};
