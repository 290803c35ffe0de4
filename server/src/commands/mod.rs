pub mod check;
pub mod schedule;
pub mod schema;
