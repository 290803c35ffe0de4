pub mod check;
pub mod diff;
pub mod fmt;
pub mod new;
pub mod rules;
pub mod schedule;
pub mod schema;
pub mod serve;
