//! The public description of a fund's algorithm.
