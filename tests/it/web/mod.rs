//! The web pages in a real browser, against `metroplan serve` as a process: the journeys of
//! the public, applicants, staff and the administrator. Every page visited is checked as a
//! person gets it (axe-core, [`checks`]), saved as screenshots at 1366 and 390 px and as HTML
//! under `target/web/`, and the HTML is checked by the Nu HTML Checker (`vnu-jar`, installed by
//! `npm ci --prefix tests/web`).

mod browser;
mod checks;
mod journey;
mod oidc;
mod people;

pub use browser::user;
