//! The metroplan server: plans served over HTTP, grant applications run through their
//! workflow, stored in SQLite (default) or PostgreSQL. The binary (`main.rs`) is a thin
//! command line over this library; tests drive [`http::app`] directly and as a real process.

pub mod access;
pub mod accounts;
pub mod applicant_keys;
pub mod audit;
pub mod clock;
pub mod config;
pub mod confirmations;
pub mod demo;
pub mod documents;
pub mod error;
pub mod grants;
pub mod http;
pub mod listen;
pub mod metrics;
pub mod notify;
pub mod oidc;
pub mod pdf;
pub mod plans;
pub mod reload;
pub mod rules_guard;
pub mod service;
pub mod store;
pub mod tokens;
pub mod views;
pub mod web;

pub use http::{AppState, app};
