//! End-to-end tests of metroplan live in `it/`: they run the `metroplan` binary on the
//! plan directories of the repository and read `../shared` (the founding document).
