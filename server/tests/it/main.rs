//! The server's integration tests: the router driven in process (`oneshot`) on a real SQLite
//! file, or on PostgreSQL when `METROPLAN_TEST_DATABASE_URL` is set (each test gets its own
//! database). Tests that need a real listening server or several processes are in `tests/`.

mod access;
mod audit_checkpoints;
mod audit_trail;
mod confirmations;
mod decision_page;
mod demo;
mod diagram;
mod envelope;
mod errors;
mod final_report_page;
mod findings;
mod form_page;
mod identity;
mod inbox_page;
mod invariants;
mod letters;
mod matrix;
mod migrate;
mod notifications;
mod oidc;
mod oidc_provider;
mod openapi;
mod page_matrix;
mod pdf;
mod plan_roles;
mod publication;
mod reload;
mod revocation;
mod rules_limits;
mod scdl;
mod second_plan;
mod site;
mod smtp_tls;
mod sql;
mod support;
mod time;
mod timeline;
mod timeline_page;
mod web;
mod workflow;
